"""One rule, one message: the same bad input through the page, the CLI and the API is refused by the
same action with the same check and the same words (the page shows a field's own text beside it).

Each case names the check it expects and how each door is asked; a door that cannot be given that
input (the CLI always confirms a forget, say) is left out of that case, and says so."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, Member, Upgrade
from tests.api.conftest import token_client
from tests.conftest import loopback
from tests.hosts.bind_server import KEY_NAME

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5cnJ0aGVyZWlzbm9zcG9vbnRoZXJlaXNub3Nwb29u"
INSTALLER = "micetro-central-11.1.0.linux.x64.tgz"
ROOT = Path(__file__).resolve().parent.parent
MEMBER_FORM = {"platform": "linux", "username": "root", "winrm_auth": "ntlm"}
NAME = "central.example.com"
UNKNOWN_BACKUP = "preferences.cfg.hacontrol-20200101T000000000000Z.bak"


@pytest.fixture
def world(db, settings, tmp_path):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    prod = Cluster.objects.create(name="prod", dns_name=NAME)
    now = timezone.now()
    hosts = Credential.objects.create(name="hosts", kind="ssh-password", password="Ssh-Pass-4711")
    windows = Credential.objects.create(name="windows", kind="winrm-ntlm", username="Administrator",
                                        password="Winrm-Pass-4711")
    central1 = Member.objects.create(cluster=prod, name="central1", priority=10, address="192.0.2.10", state="active",
                                     registered=True, serving_since=now, host_key=KEY, credential=hosts)
    central2 = Member.objects.create(cluster=prod, name="central2", priority=20, address="192.0.2.20", state="standby",
                                     registered=True, serving_since=now, host_key=KEY)
    Cluster.objects.filter(pk=prod.pk).update(active_member=central1)
    done = Job.objects.create(kind="add", cluster=prod, member=central1, status="succeeded", started_by="alice")
    closed = Upgrade.objects.create(cluster=prod, started_by="alice", installer_name=INSTALLER, target_version="11.1.0",
                                    status="succeeded")
    lab = Cluster.objects.create(name="lab")
    lab1 = Member.objects.create(cluster=lab, name="lab1", priority=10, address="192.0.2.90")
    failed = Upgrade.objects.create(cluster=lab, started_by="alice", installer_name=INSTALLER, target_version="11.1.0",
                                    status="failed", member_order=[lab1.pk], error="pre-flight: lab1 unreachable")
    Job.objects.create(kind="tune", cluster=lab, status="running", started_by="bob", started=now)
    Member.objects.filter(pk=central2.pk).update(presented_host_key=OTHER_KEY)
    empty = Cluster.objects.create(name="empty")
    # DNS updates set up, towards a server where nothing listens (a case on BIND moves it there).
    edge = Cluster.objects.create(name="edge", dns_name=NAME, dns_zone="example.com", dns_server=f"{loopback(54)}:53",
                                  dns_key_name=KEY_NAME, dns_key_secret="c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
    for number in (1, 2):
        Member.objects.create(cluster=edge, name=f"edge{number}", priority=10 * number, address=f"192.0.2.3{number}")
    installer = tmp_path / INSTALLER
    installer.write_bytes(b"not an archive at all")
    return {"prod": prod.pk, "central1": central1.pk, "central2": central2.pk, "job": done.pk, "closed": closed.pk,
            "lab": lab.pk, "lab1": lab1.pk, "failed": failed.pk, "empty": empty.pk, "installer": installer,
            "edge": edge.pk, "hosts": hosts.pk, "windows": windows.pk}


@dataclass
class Case:
    check: str
    # (path, data) posted to the page; data may be a callable of the world (for uploads)
    page: tuple[str, dict | Callable] | None
    # arguments of `manage.py ha`
    cli: list[str] | None
    # (method, path, data) of the API call
    api: tuple[str, str, dict | Callable]
    why_no_cli: str = ""
    # store_installer refuses before any cluster is involved, and audits nothing (reported).
    audited: bool = True
    settings: dict = field(default_factory=dict)
    # Sets the scene beyond the world, given the world and the test's request (for more fixtures).
    prepare: Callable | None = None


def upload(world) -> dict:
    return {"installer": SimpleUploadedFile(INSTALLER, world["installer"].read_bytes())}


def on_bind(*addresses: str) -> Callable:
    """The edge cluster's updates go to the test BIND, whose zone holds ``addresses`` for the name."""
    def prepare(world, request) -> None:
        bind = request.getfixturevalue("bind")
        cluster = Cluster.objects.get(pk=world["edge"])
        cluster.dns_server, cluster.dns_resolver, cluster.dns_key_secret = bind.server, bind.server, bind.secret
        cluster.save(update_fields=["dns_server", "dns_resolver", "dns_key_secret"])
        if addresses:
            bind.change(NAME, add={"A": list(addresses)})
    return prepare


EDGE = ("192.0.2.31", "192.0.2.32")


CASES = [
    Case("cluster-name-taken", ("/clusters/add/", {"name": "prod"}), ["cluster", "create", "prod"],
         ("post", "/api/clusters/", {"name": "prod"})),
    Case("invalid-dns-name", ("/clusters/{prod}/edit/", {"name": "prod", "dns_name": "central example.com"}),
         ["cluster", "edit", "prod", "--dns-name", "central example.com"],
         ("patch", "/api/clusters/{prod}/", {"dns_name": "central example.com"})),
    Case("cluster-not-empty", ("/clusters/{prod}/delete/", {}), ["cluster", "delete", "prod"],
         ("delete", "/api/clusters/{prod}/", {})),
    Case("priority-taken",
         ("/clusters/{prod}/members/add/", {"name": "central3", "address": "192.0.2.30", "priority": 20, **MEMBER_FORM}),
         ["member", "add", "prod", "central3", "--address", "192.0.2.30", "--priority", "20"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": "central3", "address": "192.0.2.30", "priority": 20})),
    Case("priority-below-primary",
         ("/clusters/{prod}/members/add/", {"name": "central3", "address": "192.0.2.30", "priority": 5, **MEMBER_FORM}),
         ["member", "add", "prod", "central3", "--address", "192.0.2.30", "--priority", "5"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": "central3", "address": "192.0.2.30", "priority": 5})),
    Case("invalid-name",  # a name that could break preferences.cfg
         ("/clusters/{prod}/members/add/", {"name": 'c3"/><x', "address": "192.0.2.30", "priority": 30, **MEMBER_FORM}),
         ["member", "add", "prod", 'c3"/><x', "--address", "192.0.2.30", "--priority", "30"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": 'c3"/><x', "address": "192.0.2.30", "priority": 30})),
    Case("invalid-host-key",
         ("/clusters/{prod}/members/add/", {"name": "central3", "address": "192.0.2.30", "priority": 30,
                                            "host_key": "ssh-ed25519 not-base64!", **MEMBER_FORM}),
         ["member", "add", "prod", "central3", "--address", "192.0.2.30", "--priority", "30", "--host-key",
          "ssh-ed25519 not-base64!"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": "central3", "address": "192.0.2.30", "priority": 30,
                                    "host_key": "ssh-ed25519 not-base64!"})),
    Case("address-taken",
         ("/clusters/{prod}/members/{central2}/edit/", {"priority": 20, "address": "192.0.2.10", "host_key": KEY,
                                                        **MEMBER_FORM}),
         ["member", "edit", "prod", "central2", "--address", "192.0.2.10"],
         ("patch", "/api/members/{central2}/", {"address": "192.0.2.10"})),
    Case("reason-required",  # command overrides run as root: a change needs a reason
         ("/clusters/{prod}/members/{central2}/edit/", {"priority": 20, "address": "192.0.2.20", "host_key": KEY,
                                                        "commands": '{"status": "systemctl is-active mmcentral"}',
                                                        **MEMBER_FORM}),
         ["member", "edit", "prod", "central2", "--commands", '{"status": "systemctl is-active mmcentral"}'],
         ("patch", "/api/members/{central2}/", {"commands": {"status": "systemctl is-active mmcentral"}})),
    Case("confirm-active", ("/clusters/{prod}/members/{central1}/remove/", {"stop": "on"}),
         ["member", "remove", "prod", "central1"], ("post", "/api/members/{central1}/remove/", {})),
    Case("member-serving", ("/clusters/{prod}/members/{central2}/forget/", {"confirm": "on", "reason": "gone"}),
         ["member", "remove", "prod", "central2", "--forget", "--reason", "gone"],
         ("post", "/api/members/{central2}/forget/", {"confirm": True, "reason": "gone"})),
    Case("confirm-forget", ("/clusters/{prod}/members/{central2}/forget/", {"reason": "gone"}), None,
         ("post", "/api/members/{central2}/forget/", {"reason": "gone"}), why_no_cli="--forget is the confirmation"),
    Case("reason-required", ("/clusters/{prod}/members/{central2}/forget/", {"confirm": "on", "reason": ""}),
         ["member", "remove", "prod", "central2", "--forget"],
         ("post", "/api/members/{central2}/forget/", {"confirm": True})),
    Case("already-active", ("/clusters/{prod}/members/{central1}/activate/", {}),
         ["switchover", "prod", "--to", "central1"], ("post", "/api/members/{central1}/switchover/", {})),
    Case("invalid-heartbeat-interval", ("/clusters/{prod}/tune/", {"heartbeat_interval": 3, "heartbeat_max_downtime": 30}),
         ["tune", "prod", "--interval", "3", "--max-downtime", "30"],
         ("post", "/api/clusters/{prod}/tune/", {"heartbeat_interval": 3, "heartbeat_max_downtime": 30})),
    Case("invalid-heartbeat-max-downtime",  # downtime below two heartbeats
         ("/clusters/{prod}/tune/", {"heartbeat_interval": 15, "heartbeat_max_downtime": 25}),
         ["tune", "prod", "--interval", "15", "--max-downtime", "25"],
         ("post", "/api/clusters/{prod}/tune/", {"heartbeat_interval": 15, "heartbeat_max_downtime": 25})),
    Case("no-presented-key", ("/clusters/{prod}/members/{central1}/accept-host-key/", {"fingerprint": "SHA256:abc"}),
         ["member", "accept-key", "prod", "central1", "--fingerprint", "SHA256:abc"],
         ("post", "/api/members/{central1}/accept-host-key/", {"fingerprint": "SHA256:abc"})),
    Case("job-not-waiting", ("/jobs/{job}/confirm/", {}), ["job", "confirm", "{job}"], ("post", "/api/jobs/{job}/confirm/", {})),
    Case("job-ended", ("/jobs/{job}/cancel/", {}), ["job", "cancel", "{job}"], ("post", "/api/jobs/{job}/cancel/", {})),
    Case("installer-path", ("/clusters/{prod}/upgrade/", {"installer_host_path": f"installers/{INSTALLER}"}),
         ["upgrade", "prod", "--installer-on-hosts", f"installers/{INSTALLER}", "--yes"],
         ("post", "/api/upgrades/", {"cluster": "{prod}", "installer_host_path": f"installers/{INSTALLER}"})),
    Case("installer-invalid", ("/clusters/{prod}/upgrade/", upload), ["upgrade", "prod", "--installer", "{installer}", "--yes"],
         ("post", "/api/upgrades/", lambda world: {"cluster": world["prod"], **upload(world)}), audited=False),
    Case("installer-too-large", ("/clusters/{prod}/upgrade/", upload), ["upgrade", "prod", "--installer", "{installer}", "--yes"],
         ("post", "/api/upgrades/", lambda world: {"cluster": world["prod"], **upload(world)}), audited=False,
         settings={"HACONTROL_MAX_INSTALLER_SIZE": 10}),
    Case("installer-missing", ("/clusters/{prod}/upgrade/", {}), ["upgrade", "prod", "--yes"],
         ("post", "/api/upgrades/", {"cluster": "{prod}"})),
    Case("version-unknown", ("/clusters/{prod}/upgrade/", {"installer_host_path": "/srv/central.tgz"}),
         ["upgrade", "prod", "--installer-on-hosts", "/srv/central.tgz", "--yes"],
         ("post", "/api/upgrades/", {"cluster": "{prod}", "installer_host_path": "/srv/central.tgz"})),
    Case("no-members", ("/clusters/{empty}/tune/", {"heartbeat_interval": 10, "heartbeat_max_downtime": 30}),
         ["tune", "empty", "--interval", "10", "--max-downtime", "30"],
         ("post", "/api/clusters/{empty}/tune/", {"heartbeat_interval": 10, "heartbeat_max_downtime": 30})),
    Case("upgrade-open", ("/clusters/{lab}/tune/", {"heartbeat_interval": 10, "heartbeat_max_downtime": 30}),
         ["tune", "lab", "--interval", "10", "--max-downtime", "30"],
         ("post", "/api/clusters/{lab}/tune/", {"heartbeat_interval": 10, "heartbeat_max_downtime": 30})),
    Case("name-taken",
         ("/clusters/{prod}/members/add/", {"name": "central2", "address": "192.0.2.30", "priority": 30, **MEMBER_FORM}),
         ["member", "add", "prod", "central2", "--address", "192.0.2.30", "--priority", "30"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": "central2", "address": "192.0.2.30", "priority": 30})),
    Case("target-not-serving", ("/clusters/{lab}/members/{lab1}/activate/", {}), ["switchover", "lab", "--to", "lab1"],
         ("post", "/api/members/{lab1}/switchover/", {})),
    Case("host-key-changed-again", ("/clusters/{prod}/members/{central2}/accept-host-key/", {"fingerprint": "SHA256:abc"}),
         ["member", "accept-key", "prod", "central2", "--fingerprint", "SHA256:abc"],
         ("post", "/api/members/{central2}/accept-host-key/", {"fingerprint": "SHA256:abc"})),
    Case("nothing-to-override", ("/upgrades/{closed}/override/", {"reason": "checked by hand"}), None,
         ("post", "/api/upgrades/{closed}/override/", {"reason": "checked by hand"}),
         why_no_cli="--force only overrides the open upgrade's failed checks"),
    Case("cluster-busy", ("/upgrades/{failed}/run/", {}), ["upgrade", "lab", "--resume"],
         ("post", "/api/upgrades/{failed}/run/", {})),
    Case("reason-required", ("/upgrades/{failed}/override/", {"reason": ""}), None,
         ("post", "/api/upgrades/{failed}/override/", {}), why_no_cli="--force gives its own reason"),
    Case("upgrade-closed", ("/upgrades/{closed}/abort/", {}), None, ("post", "/api/upgrades/{closed}/abort/", {}),
         why_no_cli="--abort only reaches the open upgrade"),
    # The round-robin name: its settings, and Fix DNS.
    Case("invalid-dns-zone", ("/clusters/{prod}/edit/", {"name": "prod", "dns_name": NAME, "dns_server": "192.0.2.53"}),
         ["cluster", "edit", "prod", "--dns-server", "192.0.2.53"],
         ("patch", "/api/clusters/{prod}/", {"dns_server": "192.0.2.53"})),
    Case("invalid-dns-member-policy",  # 'always' without the settings to update the name with
         ("/clusters/{prod}/edit/", {"name": "prod", "dns_name": NAME, "dns_member_policy": "always"}),
         ["cluster", "edit", "prod", "--dns-members", "always"],
         ("patch", "/api/clusters/{prod}/", {"dns_member_policy": "always"})),
    Case("dns-updates-off", ("/clusters/{prod}/dns/fix/", {}), ["dns", "prod", "--fix", "--yes"],
         ("post", "/api/clusters/{prod}/dns/fix/", {})),
    Case("dns-unreadable", ("/clusters/{edge}/dns/fix/", {}), ["dns", "edge", "--fix", "--yes"],
         ("post", "/api/clusters/{edge}/dns/fix/", {})),
    Case("dns-changed", ("/clusters/{edge}/dns/fix/", {"seen": "a-plan-shown-before"}), None,
         ("post", "/api/clusters/{edge}/dns/fix/", {"seen": "a-plan-shown-before"}), prepare=on_bind(),
         why_no_cli="the CLI sends the digest of the plan it has just printed"),
    Case("dns-nothing-to-do", ("/clusters/{edge}/dns/fix/", {}), None, ("post", "/api/clusters/{edge}/dns/fix/", {}),
         prepare=on_bind(*EDGE), why_no_cli="the CLI reads the plan first and says 'nothing to change' (exit 0: a "
                                            "--fix that finds the name right is no failure for a script)"),
    Case("confirm-deletions", ("/clusters/{edge}/dns/fix/", {}), None, ("post", "/api/clusters/{edge}/dns/fix/", {}),
         prepare=on_bind(*EDGE, "203.0.113.5"),
         why_no_cli="its question (or --yes) covers the deletions it lists"),
    # Backups of preferences.cfg.
    Case("backup-name", ("/clusters/{prod}/members/{central2}/backups/shadow/restore/", {}),
         ["member", "restore", "prod", "central2", "shadow"],
         ("post", "/api/members/{central2}/restore/", {"backup": "shadow"})),
    Case("backup-unknown", (f"/clusters/{{prod}}/members/{{central2}}/backups/{UNKNOWN_BACKUP}/restore/", {}),
         ["member", "restore", "prod", "central2", UNKNOWN_BACKUP],
         ("post", "/api/members/{central2}/restore/", {"backup": UNKNOWN_BACKUP})),
    # Saved credentials, and the members using them.
    Case("credential-in-use", ("/credentials/{hosts}/delete/", {}), ["credential", "remove", "hosts"],
         ("delete", "/api/credentials/{hosts}/", {})),
    Case("credential-name-taken", ("/credentials/add/", {"name": "hosts", "kind": "winrm-kerberos",
                                                          "username": "Administrator"}),
         ["credential", "add", "hosts", "--kind", "winrm-kerberos", "--user", "Administrator"],
         ("post", "/api/credentials/", {"name": "hosts", "kind": "winrm-kerberos", "username": "Administrator"})),
    Case("credential-platform", ("/credentials/{hosts}/edit/", {"name": "hosts", "kind": "winrm-ntlm", "username": "root"}),
         ["credential", "edit", "hosts", "--kind", "winrm-ntlm"],
         ("patch", "/api/credentials/{hosts}/", {"kind": "winrm-ntlm"})),
    Case("invalid-credential",  # a WinRM login for a Linux member
         ("/clusters/{prod}/members/add/", {"name": "central3", "address": "192.0.2.30", "priority": 30,
                                            "credential": "{windows}", **MEMBER_FORM}),
         ["member", "add", "prod", "central3", "--address", "192.0.2.30", "--priority", "30", "--platform", "linux",
          "--credential", "windows"],
         ("post", "/api/members/", {"cluster": "{prod}", "name": "central3", "address": "192.0.2.30", "priority": 30,
                                    "platform": "linux", "credential": "{windows}"})),
]


def fill(value, world):
    if callable(value):
        return value(world)
    if isinstance(value, str):
        for key, item in world.items():
            value = value.replace("{" + key + "}", str(item))
        return value
    if isinstance(value, list):
        return [fill(item, world) for item in value]
    if isinstance(value, dict):
        filled = {key: fill(item, world) for key, item in value.items()}
        return {key: int(item) if key == "cluster" else item for key, item in filled.items()}
    return value


def through_the_page(client, case: Case, world) -> str:
    path, data = case.page  # type: ignore[misc]
    response = client.post(fill(path, world), fill(data, world), follow=True)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def through_the_cli(case: Case, world) -> tuple[str, str]:
    with pytest.raises(CommandError) as raised:
        call_command("ha", *[str(a) for a in fill(case.cli, world)])
    found = re.fullmatch(r"refused \(([\w-]+)\): (.*)", str(raised.value), re.S)
    assert found, str(raised.value)
    return found.group(1), found.group(2)


def through_the_api(client, case: Case, world) -> dict:
    method, path, data = case.api
    values = fill(data, world)
    if method == "delete":
        response = client.delete(fill(path, world))
    else:
        kind = "multipart" if "installer" in values else "json"
        response = getattr(client, method)(fill(path, world), values, format=kind)
    # 413: an installer over the size limit; 502: the DNS server could not be read.
    assert response.status_code in (400, 409, 413, 502), response.content
    return response.json()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check}:{c.api[1]}" for c in CASES])
def test_the_same_bad_input_gets_the_same_refusal_through_every_door(case, world, admin, admin_client, settings,
                                                                     request):
    for name, value in case.settings.items():
        setattr(settings, name, value)
    if case.prepare:
        case.prepare(world, request)
    before = (Cluster.objects.count(), Member.objects.count(), Job.objects.count(), Upgrade.objects.count())
    api = through_the_api(token_client(admin), case, world)
    assert api["check"] == case.check, api
    # A field's own words (the page shows them beside the field) or the whole refusal.
    words = api.get("errors", {}).get(api["field"], [api["detail"]])[0]
    if case.cli is not None:
        check, message = through_the_cli(case, world)
        assert (check, message) == (api["check"], api["detail"])
    else:
        assert case.why_no_cli
    assert words in through_the_page(admin_client, case, world)
    assert (Cluster.objects.count(), Member.objects.count(), Job.objects.count(), Upgrade.objects.count()) == before
    refused = AuditEvent.objects.filter(outcome="refused", detail=f"{api['check']}: {api['detail']}")
    assert refused.count() == (3 if case.cli else 2) * case.audited, "each door's refusal is audited the same way"


# Refusals no door can be asked for with one input.
NO_CASE = {
    "taken-meanwhile": "two administrators racing for one name: the database's constraint decides",
    "rename": "neither the page (a disabled field) nor the CLI (the name picks the member) takes a new name",
    "invalid": "a model error not tied to a field: none of our models raises one",
}


def test_every_refusal_an_action_makes_has_a_case():
    sources = [*(ROOT / "hacontrol/ha").glob("*.py"), *(ROOT / "hacontrol/ha").glob("*/*.py")]
    raised = {check for path in sources for check in re.findall(r'Refused\(\s*"([a-z-]+)"', path.read_text())}
    assert raised - set(NO_CASE) <= {case.check for case in CASES}, raised - set(NO_CASE) - {c.check for c in CASES}
