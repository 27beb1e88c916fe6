"""Set up the demo on the PVE simulator, idempotently (run by ``rundemo``; safe to re-run).

Registers the simulator's nodes pinned to its certificate, syncs their templates, creates the plan
"Standard", the staff user admin/admin and the customer demo/demo, and adopts as the demo
customer's servers the VMs that carry the panel's ownership marker (the simulator's --demo seed
has two): ``server_adopt`` records each and queues a sync job, which the worker runs to read the
VM's specs from PVE. Everything goes through the services staff use; PVE is only read.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from nodes.models import Node
from nodes.services import (
    NodeConnectionError,
    node_list_guests,
    node_register,
    node_sync_templates,
    node_test_connection,
)
from servers.models import Plan
from servers.services import server_adopt, server_uuid_from_marker

DEMO_PLAN = {
    "name": "Standard",
    "max_cpu_cores": 4,
    "max_memory_mib": 8192,
    "max_disk_gib": 100,
    "max_backups": 3,
}
STAFF_LOGIN = ("admin", "admin")
CUSTOMER_LOGIN = ("demo", "demo")


class Command(BaseCommand):
    help = (
        "Register the PVE simulator's nodes (pinned to its certificate), sync their templates, "
        "create the demo plan, staff admin/admin and customer demo/demo, and register the "
        "customer's marked demo VMs as servers. Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sim-url", required=True, help="Simulator API URL, https://host:port")
        parser.add_argument("--fingerprint", required=True, help="Its certificate's SHA-256")
        parser.add_argument("--token-id", required=True, help="user@realm!tokenid")
        parser.add_argument("--token-secret", required=True)
        parser.add_argument("--nodes", required=True, help="Comma-separated PVE node names")

    def handle(self, *args, sim_url, fingerprint, token_id, token_secret, nodes, **options):
        pve_nodes = [name.strip() for name in nodes.split(",") if name.strip()]
        if not pve_nodes:
            raise CommandError("--nodes names no PVE node.")
        registered = [
            self._setup_node(pve_node, sim_url, fingerprint, token_id, token_secret)
            for pve_node in pve_nodes
        ]
        plan = self._ensure_plan()
        staff = self._ensure_user(*STAFF_LOGIN, is_staff=True)
        customer = self._ensure_user(*CUSTOMER_LOGIN, is_staff=False)
        for node in registered:
            self._adopt_marked_vms(node, owner=customer, plan=plan, staff=staff)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo logins: customer {CUSTOMER_LOGIN[0]} / {CUSTOMER_LOGIN[1]}, "
                f"staff {STAFF_LOGIN[0]} / {STAFF_LOGIN[1]} (at /admin/)."
            )
        )

    def _setup_node(self, pve_node, sim_url, fingerprint, token_id, token_secret) -> Node:
        try:
            node = node_register(
                name=pve_node,
                api_url=sim_url,
                pve_node=pve_node,
                token_id=token_id,
                token_secret=token_secret,
                fingerprint_sha256=fingerprint,
            )
            version = node_test_connection(node=node)
            synced = node_sync_templates(node=node)
        except ValidationError as exc:
            raise CommandError(f"node {pve_node}: {'; '.join(exc.messages)}") from exc
        except NodeConnectionError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Node {node.name}: PVE {version}, templates {synced}.")
        return node

    def _ensure_plan(self) -> Plan:
        plan, created = Plan.objects.get_or_create(
            name=DEMO_PLAN["name"], defaults={k: v for k, v in DEMO_PLAN.items() if k != "name"}
        )
        self.stdout.write(f"Plan {plan.name}: {'created' if created else 'exists'}.")
        return plan

    @transaction.atomic
    def _ensure_user(self, username: str, password: str, *, is_staff: bool):
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={
                "email": f"{username}@example.com",
                "is_staff": is_staff,
                "is_superuser": is_staff,
            },
        )
        # The printed logins must work, even if the password was changed in an earlier demo.
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user

    def _adopt_marked_vms(self, node: Node, *, owner, plan: Plan, staff) -> None:
        """Adopt each VM whose description carries a marker; one already adopted is refused by
        the service, which is what makes a re-run harmless."""
        try:
            guests = node_list_guests(node=node)
        except NodeConnectionError as exc:
            raise CommandError(exc.message) from exc
        for guest in guests:
            marker_uuid = server_uuid_from_marker(guest.description)
            if marker_uuid is None:
                continue
            try:
                job = server_adopt(
                    node=node,
                    vmid=guest.vmid,
                    owner=owner,
                    plan=plan,
                    name=guest.name,
                    hostname=f"{guest.name}.demo.example",
                    marker_uuid=marker_uuid,
                    requested_by=staff,
                )
            except ValidationError as exc:
                self.stdout.write(
                    f"VM {guest.vmid} on {node.name}: kept as it is ({' '.join(exc.messages)})"
                )
                continue
            self.stdout.write(
                f"Server {guest.name}: VM {guest.vmid} on {node.name}, owned by {owner}; "
                f"its specs are read from PVE by job {job.pk}."
            )
