"""The carried PVE schema and the validator that speaks PVE's messages."""

import json

import pytest

from pvesim.schema import (
    ENDPOINT_ERROR_KEY,
    SCHEMA_FILE,
    find_endpoint,
    load_schema,
    parse_property_string,
    validate_request,
    validate_response,
)
from pvesim.schema.extract import USED_ENDPOINTS

NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)
MISSING = "property is missing and it is not optional"


# --- the committed file ---------------------------------------------------------------------


def test_schema_file_holds_exactly_the_used_endpoints():
    carried = {(method, e["path"]) for e in load_schema()["endpoints"] for method in e["info"]}
    assert carried == set(USED_ENDPOINTS)


def test_schema_file_is_written_deterministically_with_its_source():
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert "AGPL-3.0-or-later" in data["source"]["licence"]
    assert data["source"]["commit"] == "e5010dcea566a205770572cfbc5fe0af220d5077"
    paths = [e["path"] for e in data["endpoints"]]
    assert paths == sorted(paths)
    assert (SCHEMA_FILE.parent / "SOURCE.md").exists()


# --- find_endpoint --------------------------------------------------------------------------


def test_find_endpoint_maps_concrete_paths_to_templates():
    template, info = find_endpoint("PUT", "/nodes/pve1/qemu/101/resize")
    assert template == "/nodes/{node}/qemu/{vmid}/resize"
    assert info["name"] == "resize_vm"
    assert find_endpoint("get", "/api2/json/nodes/pve1/qemu/101/config")[0] == (
        "/nodes/{node}/qemu/{vmid}/config"
    )


def test_find_endpoint_prefers_literal_segments():
    assert find_endpoint("GET", "/nodes/pve1/qemu")[0] == "/nodes/{node}/qemu"
    assert find_endpoint("GET", "/nodes/pve1/status")[0] == "/nodes/{node}/status"


def test_find_endpoint_returns_none_for_unknown_path_or_method():
    assert find_endpoint("GET", "/nodes/pve1/qemu/101/resize") is None
    assert find_endpoint("PUT", "/nodes/pve1/qemu/101/resise") is None
    assert find_endpoint("GET", "/nodes/pve1/lxc") is None


@pytest.mark.parametrize(
    "path",
    [
        "/nodes/pve1/storage/local/content/local:backup/vzdump-qemu-101-2026_01_31-12_00_00.vma.zst",
        "/nodes/pve1/storage/local/content/local%3Abackup%2Fvzdump-qemu-101.vma.zst",
    ],
)
def test_volid_with_slash_fills_the_last_parameter(path):
    assert find_endpoint("DELETE", path)[0] == "/nodes/{node}/storage/{storage}/content/{volume}"


def test_upid_in_path():
    upid = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:panel@pve!panel:"
    assert find_endpoint("GET", f"/nodes/pve1/tasks/{upid}/status")[0] == (
        "/nodes/{node}/tasks/{upid}/status"
    )


# --- validate_request: PVE's messages --------------------------------------------------------

RESIZE = "/nodes/pve1/qemu/101/resize"


def test_valid_request_has_no_errors():
    assert validate_request("PUT", RESIZE, {"disk": "scsi0", "size": "40G"}) == {}


def test_unknown_path_is_reported_like_pve_501():
    errors = validate_request("GET", "/nodes/pve1/qemu/101/currnet", {})
    assert errors == {
        ENDPOINT_ERROR_KEY: "Method 'GET /nodes/pve1/qemu/101/currnet' not implemented"
    }


def test_missing_and_unknown_parameters():
    errors = validate_request("PUT", RESIZE, {"disk": "scsi0", "sise": "40G"})
    assert errors == {"sise": NOT_IN_SCHEMA, "size": MISSING}


def test_optional_boolean_and_required_boolean_are_never_missing():
    assert validate_request("GET", "/nodes/pve1/qemu", {}) == {}


@pytest.mark.parametrize("size", ["40G", "+8G", "1024", "1.5T", "512M"])
def test_resize_size_pattern_accepts(size):
    assert validate_request("PUT", RESIZE, {"disk": "scsi0", "size": size}) == {}


@pytest.mark.parametrize("size", ["40GB", "x40G", "40G ", "-1G", "G", "40g"])
def test_resize_size_pattern_is_anchored(size):
    errors = validate_request("PUT", RESIZE, {"disk": "scsi0", "size": size})
    assert errors == {"size": "value does not match the regex pattern"}


def test_enum_message_lists_the_values():
    errors = validate_request("GET", "/cluster/resources", {"type": "vms"})
    assert errors == {
        "type": "value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'"
    }


def test_minimum_maximum_and_max_length():
    config = "/nodes/pve1/qemu/101/config"
    assert validate_request("PUT", config, {"cores": 0}) == {
        "cores": "value must have a minimum value of 1"
    }
    assert validate_request("GET", "/nodes/pve1/tasks/UPID:x/log", {"limit": -1})["limit"] == (
        "value must have a minimum value of 0"
    )
    assert validate_request("PUT", config, {"digest": "a" * 41}) == {
        "digest": "value may only be 40 characters long"
    }


def test_type_checks():
    config = "/nodes/pve1/qemu/101/config"
    assert validate_request("PUT", config, {"cores": "two"}) == {
        "cores": "type check ('integer') failed - got 'two'"
    }
    assert validate_request("PUT", config, {"onboot": "yes"}) == {
        "onboot": "type check ('boolean') failed - got 'yes'"
    }
    assert validate_request("PUT", config, {"onboot": True, "cores": 2}) == {}
    assert (
        validate_request("POST", "/nodes/pve1/qemu/101/clone", {"newid": 102, "bwlimit": "1.5"})[
            "bwlimit"
        ]
        == "type check ('integer') failed - got '1.5'"
    )


def test_named_formats():
    assert validate_request(
        "PUT", "/nodes/pve_1/qemu/101/resize", {"disk": "scsi0", "size": "1G"}
    ) == {"node": "invalid format - value does not look like a valid node name"}
    assert validate_request(
        "PUT", "/nodes/pve1/qemu/99/resize", {"disk": "scsi0", "size": "1G"}
    ) == {"vmid": "invalid format - value does not look like a valid VM ID"}
    clone = "/nodes/pve1/qemu/9000/clone"
    assert validate_request("POST", clone, {"newid": 101, "storage": "local lvm"}) == {
        "storage": "invalid format - storage ID 'local lvm' contains illegal characters"
    }
    assert validate_request("POST", clone, {"newid": 101, "name": "web_1"}) == {
        "name": "invalid format - value does not look like a valid DNS name"
    }
    assert validate_request("POST", clone, {"newid": 101, "name": "web-1.example.com"}) == {}


def test_numbered_parameters_match_their_family_and_range():
    config = "/nodes/pve1/qemu/101/config"
    ok = {
        "net0": "virtio,bridge=vmbr0",
        "scsi30": "local-lvm:vm-101-disk-1,size=8G",
        "ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1",
    }
    assert validate_request("PUT", config, ok) == {}
    assert validate_request("PUT", config, {"scsi31": "local-lvm:8"}) == {"scsi31": NOT_IN_SCHEMA}
    assert validate_request("PUT", config, {"nett0": "virtio"}) == {"nett0": NOT_IN_SCHEMA}


def test_property_strings():
    config = "/nodes/pve1/qemu/101/config"
    # keyAlias: `virtio=MAC` means model=virtio plus macaddr=MAC
    assert validate_request("PUT", config, {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0"}) == {}
    assert validate_request("PUT", config, {"net0": "virtio,brdge=vmbr0"}) == {
        "net0": "invalid format - invalid key in comma-separated list property: brdge"
    }
    assert validate_request("PUT", config, {"net0": "virtio=nonsense"}) == {
        "net0.macaddr": "invalid format - value does not look like a valid MAC address: nonsense"
    }
    assert "scsi0.size" in validate_request(
        "PUT", config, {"scsi0": "local-lvm:vm-101-disk-0,size=32X"}
    )
    assert validate_request("PUT", config, {"memory": "4096"}) == {}
    assert validate_request("PUT", config, {"memory": "lots"}) == {
        "memory.current": "type check ('integer') failed - got 'lots'"
    }
    assert validate_request("PUT", config, {"ipconfig0": "ip=10.0.0.5"}) != {}


def test_parse_property_string_default_key_and_duplicates():
    fmt = find_endpoint("PUT", "/nodes/pve1/qemu/101/config")[1]["parameters"]["properties"][
        "net[n]"
    ]["format"]
    assert parse_property_string(fmt, "virtio,bridge=vmbr0") == {
        "model": "virtio",
        "bridge": "vmbr0",
    }
    with pytest.raises(ValueError, match="duplicate key"):
        parse_property_string(fmt, "virtio,e1000")


def test_requires_and_uri_conflicts():
    errors = validate_request("POST", "/nodes/pve1/qemu", {"vmid": 105, "force": 1})
    assert errors == {"archive": "missing property - 'force' requires this property"}
    errors = validate_request("PUT", RESIZE, {"disk": "scsi0", "size": "1G", "vmid": 102})
    assert errors == {
        "vmid": "duplicate parameter (already defined in URI) with conflicting values!"
    }
    assert validate_request("PUT", RESIZE, {"disk": "scsi0", "size": "1G", "vmid": 101}) == {}


def test_sshkeys_must_be_urlencoded():
    config = "/nodes/pve1/qemu/101/config"
    assert "sshkeys" in validate_request("PUT", config, {"sshkeys": "ssh-ed25519 AAAA a@b"})
    assert validate_request("PUT", config, {"sshkeys": "ssh-ed25519%20AAAA%20a%40b"}) == {}


# --- validate_response ----------------------------------------------------------------------

UPID = "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:root@pam:"


def test_task_status_response_checks():
    path = f"/nodes/pve1/tasks/{UPID}/status"
    good = {
        "upid": UPID,
        "node": "pve1",
        "pid": 49990,
        "pstart": 375000292,
        "starttime": 1758930844,
        "type": "qmclone",
        "id": "9000",
        "user": "root@pam",
        "status": "stopped",
        "exitstatus": "OK",
    }
    assert validate_response("GET", path, good) == []
    running = {k: v for k, v in good.items() if k != "exitstatus"} | {"status": "running"}
    assert validate_response("GET", path, running) == []
    assert validate_response("GET", path, good | {"status": "done"}) == [
        "data.status: 'done' not in enum ['running', 'stopped']"
    ]
    assert validate_response("GET", path, {k: v for k, v in good.items() if k != "node"}) == [
        "data.node: missing (not optional)"
    ]
    assert validate_response("GET", path, good | {"pid": "x"}) == [
        "data.pid: expected integer, got 'x'"
    ]


def test_list_items_and_scalars():
    assert validate_response("GET", "/nodes", [{"node": "pve1", "status": "online"}]) == []
    assert validate_response("GET", "/nodes", [{"status": "online"}]) == [
        "data[0].node: missing (not optional)"
    ]
    assert validate_response("GET", "/nodes", {"node": "pve1"}) == [
        "data: expected array, got dict"
    ]
    assert validate_response("GET", "/cluster/nextid", "100") == []
    assert validate_response("PUT", RESIZE, UPID) == []
    assert validate_response("PUT", RESIZE, 5) == ["data: expected string, got int"]


def test_a_free_form_string_property_may_carry_a_perl_number():
    pending = "/nodes/pve1/qemu/100/pending"
    assert validate_response("GET", pending, [{"key": "cores", "value": 1, "pending": 4}]) == []
    assert validate_response("GET", pending, [{"key": 5}]) == []  # free-form: Perl scalars
    assert validate_response("GET", pending, [{"key": "numa", "delete": "x"}]) != []
