import pytest

from proxmox.upid import InvalidUpid, format_upid, is_upid, parse_upid


def test_pve_vector_with_empty_id():
    upid = parse_upid("UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:")
    assert upid.node == "example-node"
    assert upid.pid == 49990
    assert upid.pstart == 375000292
    assert upid.starttime == 1758930844
    assert upid.type == "aptupdate"
    assert upid.id == ""
    assert upid.user == "root@pam"
    assert upid.tokenid is None


def test_pve_vector_with_token_user():
    raw = (
        "UPID:example-node:000934AF:0D015579:68BF3A41:vzdump:100:"
        "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token:"
    )
    upid = parse_upid(raw)
    assert upid.user == "91a1da29-a47d-11f0-84e0-fafbfc944d00@pam!some-token"
    assert upid.tokenid == "some-token"
    assert upid.type == "vzdump"
    assert upid.id == "100"
    assert upid.raw == raw


def test_real_clone_upid_names_the_node_that_runs_it():
    upid = parse_upid("UPID:pve-mp:00000ACD:00006AE8:679A423B:qmclone:112:capmox@pve!capi:")
    assert (upid.node, upid.type, upid.id) == ("pve-mp", "qmclone", "112")
    assert upid.starttime == 0x679A423B


def test_nine_digit_pstart_is_accepted():
    assert parse_upid("UPID:n1:00000001:123456789:68D7279C:qmstart:101:root@pam:").pstart == (
        0x123456789
    )


@pytest.mark.parametrize(
    "text",
    [
        "UPID:example node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:",  # space
        "UPID:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam",  # no trailing colon
        "UPID:example-node:C346:165A0CE4:68D7279C:aptupdate::root@pam:",  # short pid
        "upid:example-node:0000C346:165A0CE4:68D7279C:aptupdate::root@pam:",
        "OK",
        "",
    ],
)
def test_invalid_upids_are_refused(text):
    with pytest.raises(InvalidUpid):
        parse_upid(text)
    assert not is_upid(text)


def test_format_round_trips():
    raw = format_upid(
        node="pve1",
        pid=49990,
        pstart=375000292,
        starttime=1758930844,
        type="qmclone",
        id="9000",
        user="panel@pve!panel",
    )
    assert raw == "UPID:pve1:0000C346:165A0CE4:68D7279C:qmclone:9000:panel@pve!panel:"
    assert parse_upid(raw).raw == raw
