"""The dump scan: real-looking secrets in every test host's preferences.cfg (DatabasePassword as
plaintext: and as Central hashes it, Password, settings named secret and key), the members' own and
saved logins, a TSIG secret and an API token; then the procedures (add, tune, restore, remove, an
upgrade) on Linux hosts as root and through sudo, and on the Windows host. None of those secrets,
nor any private key, may be found in a pg_dump (during a job as well as after), the logs, any page
(every URL pattern, with every object), any API answer (every read of the schema), or the CLI."""

import base64
import io
import json
import logging
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from hacontrol.ha import actions
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import ApiToken, Cluster, Credential, Job, JobStatus, Member, Upgrade, UpgradeStatus
from hacontrol.ha.probe import probe_cluster
from tests.api.conftest import token_client
from tests.conftest import WINDOWS_PASSWORD, do_in_micetro, linux_member_values, windows_member_values
from tests.hosts.central import linux_installer
from tests.hosts.ssh_hosts import INITIAL_PREFERENCES, TEST_USER
from tests.security.test_roles import patterns

PASSPHRASE = "Scan-Passphrase-1618"
TSIG = "c2Nhbi10c2lnLXNlY3JldC1mb3ItdGhlLWR1bXAtdGVzdA=="
HASH_MARK = "$mmsim$"  # how the simulated Central writes the database password it hashed


def seeded(tag: str) -> str:
    return INITIAL_PREFERENCES + (
        f'<DatabasePassword value="plaintext:Db-Plain-{tag}-4711"/>\n'
        f'<Password value="Central-Pass-{tag}-0815"/>\n'
        f'<ApiSecret value="Api-Secret-{tag}-2718"/>\n'
        f'<LicenseKey value="Lic-Key-{tag}-3141"/>\n'
        f"<SmtpServer value=\"smtp://mailer:Smtp-Url-{tag}-1414@mail.example.com\"/>\n"
    )


def file_secrets(tag: str) -> list[str]:
    return [f"Db-Plain-{tag}-4711", f"Central-Pass-{tag}-0815", f"Api-Secret-{tag}-2718", f"Lic-Key-{tag}-3141",
            f"Smtp-Url-{tag}-1414"]


def key_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line]


class Scan:
    """Everything hacontrol showed, stored or logged, gathered as text; and the secrets to look for."""

    def __init__(self):
        self.texts: dict[str, str] = {}
        self.secrets: list[str] = []

    def add(self, where: str, text: str) -> None:
        self.texts[where] = self.texts.get(where, "") + text

    def dump(self, when: str) -> str:
        from pgserver.postgres_server import POSTGRES_BIN_PATH

        db = connection.settings_dict
        dump = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "-h", db["HOST"], "-U", db["USER"], db["NAME"]],
                              capture_output=True, text=True, check=True).stdout
        self.add(f"pg_dump {when}", dump)
        return dump

    def leaks(self) -> list[str]:
        return [f"{secret[:14]}… in {where}" for where, text in self.texts.items() for secret in self.secrets
                if any(form in text for form in encodings(secret))]


def encodings(secret: str) -> list[str]:
    """The secret as it is, and as it would read inside base64 of any text holding it (each of the
    three alignments, without the characters its neighbours change): a file kept base64-encoded,
    as the jobs once kept them, is found too."""
    forms = [secret]
    raw = secret.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        forms.append(encoded[4 if offset else 0:(len(encoded) - 4) // 4 * 4])
    return [form for form in forms if len(form) >= 8]


@pytest.fixture
def encrypted_key(client_key, tmp_path) -> str:
    locked = tmp_path / "locked"
    locked.write_text(client_key.read_text())
    locked.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", PASSPHRASE, "-f", str(locked)], check=True)
    return locked.read_text()


def test_no_secret_from_the_hosts_or_the_console_shows_up_anywhere(admin, admin_client, cluster, ssh_hosts, client_key,
                                                                  encrypted_key, windows_host, micetro, settings,
                                                                  tmp_path, caplog):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="hacontrol")
    scan = Scan()
    for index, host in enumerate(ssh_hosts):
        host.reset(seeded(f"ssh{index}"))
        scan.secrets += file_secrets(f"ssh{index}")
    windows_host.preferences.write_bytes(seeded("win").replace("\n", "\r\n").encode())
    windows_host.service_stop(windows_host.service_name)
    assert windows_host.service_start(windows_host.service_name) == 0
    scan.secrets += file_secrets("win") + [HASH_MARK, PASSPHRASE, TSIG, WINDOWS_PASSWORD]
    scan.secrets += key_lines(client_key.read_text()) + key_lines(encrypted_key)
    assert HASH_MARK in ssh_hosts[0].preferences.read_text(), "Central hashed its plaintext database password"
    token = ApiToken.issue(admin, "scan")[1]
    scan.secrets.append(token)
    echo: list[str] = []

    def run(job: Job) -> Job:
        status = run_here(job, echo=echo.append)
        while status == JobStatus.WAITING:
            do_in_micetro(micetro, job.waiting_step().instructions)
            job = actions.confirm_job("alice", job)
            status = run_here(job, echo=echo.append)
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error
        return job

    # Windows (first: it shares Central's database with the Linux hosts, which the upgrade below
    # takes to a version its Central cannot run on). Removed at the end, so its page and backups stay.
    windows = Cluster.objects.create(name="win")
    run(actions.add_member("alice", windows, name="win1", **windows_member_values(windows_host)))
    run(actions.tune("alice", windows, interval=6, max_downtime=24))
    probe_cluster(windows)
    win1 = windows.members.get()
    run(actions.restore_backup("alice", win1, backup=win1.findings["backups"][-1]["name"], reason="scan"))
    windows_pages = every_page(admin_client)
    run(actions.remove_member("alice", win1))

    # Linux, as root with an encrypted key of its own, and through sudo with a saved credential.
    actions.edit_cluster("alice", cluster, dns_zone="example.com", dns_server="192.0.2.53", dns_key_name="scan",
                         dns_key_algorithm="hmac-sha256", dns_key_secret=TSIG)
    sudo = actions.create_credential("alice", name="sudo-login", kind="ssh-key", username=TEST_USER,
                                     private_key=client_key.read_text(), use_sudo=True)
    first = actions.add_member("alice", cluster, name="central1", **linux_member_values(
        ssh_hosts[0], client_key, private_key=encrypted_key, key_passphrase=PASSPHRASE))
    assert run_here(first, echo=echo.append) == JobStatus.WAITING
    during = scan.dump("during an add")  # the job keeps the host's file for undo while it waits
    assert "fernet:" in during and Job.objects.get(pk=first.pk).vault
    run(first)
    run(actions.add_member("alice", cluster, name="central2", address=ssh_hosts[1].address, port=ssh_hosts[1].port,
                           host_key=ssh_hosts[1].host_key_line, credential=sudo))
    run(actions.add_member("alice", cluster, name="central3", **linux_member_values(ssh_hosts[2], client_key)))
    run(actions.tune("alice", cluster, interval=6, max_downtime=24))
    probe_cluster(cluster)
    central2 = cluster.members.get(name="central2")
    run(actions.restore_backup("alice", central2, backup=central2.findings["backups"][-1]["name"], reason="scan"))
    run(actions.remove_member("alice", cluster.members.get(name="central3")))
    with linux_installer(tmp_path, "11.1.0").open("rb") as handle:
        stored = actions.store_installer(iter(lambda: handle.read(65536), b""), "micetro-central-11.1.0.linux.x64.tgz")
    upgrade = actions.start_upgrade("alice", cluster, installer=stored)
    while upgrade.is_open and upgrade.status != UpgradeStatus.FAILED:
        run(actions.run_upgrade_stage("alice", upgrade))
        upgrade.refresh_from_db()
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error

    for each in Cluster.objects.all():
        probe_cluster(each)

    pages = {**windows_pages, **every_page(admin_client)}
    answers = every_api_answer(token_client(admin))
    scan.add("pages", "\n".join(pages.values()))
    scan.add("API answers", "\n".join(answers.values()))
    scan.add("CLI output", every_cli_output())
    dump = scan.dump("after every job")
    scan.add("job output", "\n".join(echo))
    scan.add("logs", caplog.text)

    # The scanner finds a secret in clear and inside base64 at any offset (how jobs once kept the files).
    for offset in range(3):
        probe = Scan()
        probe.secrets = file_secrets("ssh0")
        probe.add("self-test", base64.b64encode(b"x" * offset + seeded("ssh0").encode()).decode())
        assert len(probe.leaks()) == len(probe.secrets)
    assert not scan.leaks(), scan.leaks()
    # What the scan looked at held what it should (so finding nothing means something).
    assert not Job.objects.exclude(vault="").exists(), "every job's snapshots went with its end"
    assert '<LicenseKey value="********"/>' in dump and '<DatabasePassword value="********"/>' in dump
    assert "smtp://mailer:********@mail.example.com" in dump and "fernet:" in dump
    assert any("DatabasePassword" in text for text in pages.values())
    assert len(pages) >= 40 and len(answers) >= 25 and len(scan.secrets) >= 35
    print(f"\nscanned {len(scan.texts)} sources ({sum(map(len, scan.texts.values()))} characters: {len(pages)} pages, "
          f"{len(answers)} API answers, 2 pg_dumps, the CLI, the logs) for {len(scan.secrets)} secrets: none found")


def every_page(client) -> dict[str, str]:
    """Every console page pattern, once for each object it can name (a member's backups too), and
    the fragments htmx asks for."""
    members = list(Member.objects.all())
    values = {
        "cluster_id": [(("cluster_id", c.pk),) for c in Cluster.objects.all()],
        "member_id": [(("cluster_id", m.cluster_id), ("member_id", m.pk)) for m in members],
        "name": [(("cluster_id", m.cluster_id), ("member_id", m.pk), ("name", b["name"]))
                 for m in members for b in m.findings.get("backups", [])],
        "job_id": [(("job_id", j.pk),) for j in Job.objects.all()],
        "upgrade_id": [(("upgrade_id", u.pk),) for u in Upgrade.objects.all()],
        "credential_id": [(("credential_id", c.pk),) for c in Credential.objects.all()],
    }
    found = {}
    for pattern in patterns():
        if pattern.name in ("login", "logout", "healthz"):
            continue
        keys = set(pattern.pattern.converters)
        driver = "name" if "name" in keys else "member_id" if "member_id" in keys else next(iter(keys), None)
        for combination in (values[driver] if driver else [()]):
            url = reverse(pattern.name, kwargs=dict(combination))
            found[url] = client.get(url).content.decode()
    for url in list(found):
        if "/clusters/" in url and url.count("/") == 3:
            found[url + "?fragment=members"] = client.get(url + "?fragment=members", headers={"HX-Request": "true"}).content.decode()
    found["/tokens/"] = client.get("/tokens/").content.decode()
    return found


def every_api_answer(api) -> dict[str, str]:
    """Every read of the API's schema, once for each object it can name (a member's backups too);
    the DNS plan only asks the zone's server (unreachable here), so it is left out."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    objects = {"clusters": Cluster, "members": Member, "jobs": Job, "upgrades": Upgrade, "credentials": Credential}
    found = {}
    for path, item in schema["paths"].items():
        if "get" not in item or path.endswith("/dns/plan/"):
            continue
        kind = path.split("/")[2]
        if "{name}" in path:
            urls = [path.replace("{id}", str(m.pk)).replace("{name}", b["name"])
                    for m in Member.objects.all() for b in m.findings.get("backups", [])]
        elif "{id}" in path:
            urls = [path.replace("{id}", str(pk)) for pk in objects[kind].objects.values_list("pk", flat=True)]
        else:
            urls = [path, path + "?page_size=1000"]
        for url in urls:
            found[url] = api.get(url).content.decode()
    return found


def every_cli_output() -> str:
    out = io.StringIO()
    for cluster in Cluster.objects.all():
        for arguments in (["status", cluster.name], ["jobs", cluster.name], ["audit", "--cluster", cluster.name]):
            call_command("ha", *arguments, stdout=out)
            call_command("ha", *arguments, "--json", stdout=out)
        for member in cluster.members.all():
            call_command("ha", "member", "show", cluster.name, member.name, "--json", stdout=out)
            call_command("ha", "member", "show", cluster.name, member.name, stdout=out)
            for backup in member.findings.get("backups", []):
                call_command("ha", "member", "backups", cluster.name, member.name, "--show", backup["name"], stdout=out)
    for job in Job.objects.all():
        call_command("ha", "job", str(job.pk), "--json", stdout=out)
    call_command("ha", "credential", "list", "--json", stdout=out)
    call_command("ha", "token", "list", "--json", stdout=out)
    return out.getvalue() + json.dumps(list(Job.objects.values("params")), default=str)

