"""Every value that reaches a cmd.exe or PowerShell line on a Windows host is quoted for it or
refused: paths and names holding " & % ^ | ' and $(...), through the member settings and the
procedures, against the emulated Windows host (whose cmd.exe applies cmd /c's quote rule and %VAR%
expansion, and whose PowerShell parses what it is sent)."""

import base64
import re
from pathlib import Path

import pytest
from django.urls import reverse

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import JobStatus, Member, UpgradeStatus
from hacontrol.ha.probe import probe_cluster
from hacontrol.remote.wsman import ps_quote
from tests.api.conftest import token_client
from tests.conftest import finish, windows_member_values
from tests.hosts.windows import windows_installer

CMD_BREAKERS = ['"', "&", "%", "^", "|"]
INERT = "it's $(Remove-Item -Recurse C:\\ProgramData)"  # a quote and a subexpression, harmless only if quoted


@pytest.fixture
def windows(more_windows_hosts, ssh_hosts):
    """make(**options): an emulated Windows host, on a Central database the ssh_hosts fixture emptied."""
    return more_windows_hosts


def powershell_scripts(host) -> list[str]:
    """The PowerShell scripts the host was sent (each is -EncodedCommand: base64 of UTF-16LE)."""
    return [base64.b64decode(line.rsplit(" ", 1)[1]).decode("utf-16-le") for line in host.server.commands
            if "-EncodedCommand" in line]


def assert_only_as_literals(host, text: str) -> None:
    """``text`` appears in the scripts sent only inside a PowerShell single-quoted literal."""
    literal = ps_quote(text)[1:-1]  # its quotes doubled
    scripts = powershell_scripts(host)
    assert any(literal in script for script in scripts)
    for script in scripts:
        unquoted = re.sub(r"'(?:[^']|'')*'", "''", script)
        assert "$(Remove-Item" not in unquoted, script
    assert not any("Remove-Item -Recurse C:" in line for line in host.server.commands if "-EncodedCommand" not in line)


# Member settings: refused through every door ------------------------------------------------------


@pytest.mark.parametrize("char", CMD_BREAKERS)
def test_a_windows_preferences_path_cmd_would_misread_is_refused_through_every_door(admin_client, admin, cluster, char):
    path = f"C:\\ProgramData\\R{char}D\\preferences.cfg"
    values = dict(name="win1", address="192.0.2.7", platform="windows", winrm_https=True, preferences_path=path)
    with pytest.raises(Refused) as refused:
        actions.add_member("alice", cluster, **values)
    assert refused.value.field == "preferences_path"
    api = token_client(admin).post("/api/members/", {"cluster": cluster.pk, **values}, format="json")
    assert api.status_code == 400 and api.json()["field"] == "preferences_path"
    page = admin_client.post(reverse("member-add", args=[cluster.pk]),
                             {**values, "priority": 10, "username": "Administrator", "winrm_auth": "ntlm"})
    assert page.status_code == 200 and "a path cannot hold" in page.content.decode()
    assert not Member.objects.exists()


@pytest.mark.parametrize("name", ['win"1', "win&1", "win%1", "win^1", "win|1", "win'1", "win$(calc)"])
def test_a_member_name_with_any_of_them_is_refused(cluster, name):
    with pytest.raises(Refused) as refused:
        actions.add_member("alice", cluster, name=name, address="192.0.2.7", platform="windows", winrm_https=True)
    assert refused.value.field == "name" and not Member.objects.exists()


# Accepted values stay inert through the procedures --------------------------------------------------


def test_a_preferences_path_with_a_quote_and_a_subexpression_goes_through_add_tune_restore_and_remove(
        windows, cluster, micetro):
    path = f"C:\\ProgramData\\{INERT}\\preferences.cfg"
    host = windows(preferences=path)
    prefs = host.path(path)
    original = prefs.read_bytes()
    job = finish(actions.add_member("alice", cluster, name="win1", preferences_path=path,
                                    **windows_member_values(host)), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert prefs.read_bytes().endswith(b'<ClusterMemberName value="win1"/>\r\n') and micetro.truth() == {"win1": "active"}
    member = cluster.members.get()
    job = finish(actions.tune("alice", cluster, interval=6, max_downtime=24), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert b'<HeartbeatInterval value="6"/>' in prefs.read_bytes()
    probe_cluster(cluster)
    member.refresh_from_db()
    first = member.findings["backups"][-1]["name"]  # the file as found
    assert (prefs.parent / first).read_bytes() == original
    job = finish(actions.restore_backup("alice", member, backup=first, reason="back to the start"), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert prefs.read_bytes() == original + b'<ClusterMemberName value="win1"/>\r\n'
    job = finish(actions.remove_member("alice", member, confirm_active=True), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert b"ClusterMemberName" not in prefs.read_bytes() and not cluster.members.exists()
    assert host.path("C:\\ProgramData").is_dir() and host.service_state == "Stopped", "removed: stopped, as asked"
    assert_only_as_literals(host, path)


def test_central_installed_under_parentheses_a_quote_and_a_subexpression_is_stopped_and_started(windows, cluster,
                                                                                               micetro):
    folder = f"C:\\Program Files (x86)\\{INERT}\\Central"
    host = windows(install_dir=folder)
    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(host)), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert host.events()[-4:] == ["stop", "start", "stop", "start"]
    assert f'"{folder}\\mmcentral.exe" -stop' in "\n".join(host.server.commands)
    assert not any(line.startswith("sc.exe") for line in host.server.commands), "no fallback: the vendor's way worked"
    assert micetro.truth() == {"win1": "active"}


@pytest.mark.parametrize("char", ["&", "%", "^"])
def test_central_installed_where_cmd_would_misread_its_path_is_refused_not_run(windows, cluster, micetro, char):
    # Windows allows & % ^ in a folder name (not " | < >).
    folder = f"C:\\Apps\\R{char}D\\Central"
    host = windows(install_dir=folder)
    original = host.preferences.read_bytes()
    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(host)), micetro)
    assert job.status == JobStatus.FAILED and f"refusing to pass {folder}\\mmcentral.exe to cmd.exe" in job.error
    assert not any(f"R{char}D" in line for line in host.server.commands if "-EncodedCommand" not in line)
    assert host.preferences.read_bytes() == original and host.service_state == "Running", "put back as found"


def stored(path: Path) -> dict:
    with path.open("rb") as handle:
        return actions.store_installer(iter(lambda: handle.read(65536), b""), path.name)


def upgrade_of(cluster, micetro, tmp_path):
    upgrade = actions.start_upgrade("alice", cluster, installer=stored(windows_installer(tmp_path, "11.1.0")))
    while True:
        upgrade.refresh_from_db()
        if not upgrade.is_open or upgrade.status == UpgradeStatus.FAILED:
            return upgrade
        finish(actions.run_upgrade_stage("alice", upgrade), micetro)


def test_an_installer_staged_under_a_user_name_with_a_quote_and_a_subexpression_is_run(windows, cluster, micetro,
                                                                                       tmp_path, settings):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    # Windows allows ' $ ( ) and spaces in a user name: its temporary folder is where installers go.
    user = "O'Neil $(calc)"
    host = windows(username=user)
    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(host, username=user)),
                 micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    upgrade = upgrade_of(cluster, micetro, tmp_path)
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error
    assert host.version == "11.1.0" and micetro.truth() == {"win1": "active"}
    # Sent wrapped in one more pair of quotes, which cmd /c removes (its parentheses would cost the
    # path its own quotes otherwise).
    ran = [line for line in host.server.commands if line.endswith(' /S"')]
    assert len(ran) == 1 and ran[0].startswith(f'""C:\\Users\\{user}\\AppData\\Local\\Temp\\hacontrol-')
    assert not list(host.path(f"C:\\Users\\{user}\\AppData\\Local\\Temp").glob("hacontrol-*")), "staged copy removed"


@pytest.mark.parametrize("user", ["R&D", "100%Admin", "a^b"])
def test_an_installer_staged_where_cmd_would_misread_its_path_is_refused_and_removed(windows, cluster, micetro,
                                                                                    tmp_path, settings, user):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    host = windows(username=user)
    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(host, username=user)),
                 micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    upgrade = upgrade_of(cluster, micetro, tmp_path)
    assert upgrade.status == UpgradeStatus.FAILED and "refusing to pass" in upgrade.error and "to cmd.exe" in upgrade.error
    assert host.version == "11.0.3" and not any(e.startswith("install") for e in host.events()), "never run"
    assert not any(" /S" in line for line in host.server.commands)
    assert not list(host.path(f"C:\\Users\\{user}\\AppData\\Local\\Temp").glob("hacontrol-*")), "staged copy removed"
    abort = finish(actions.abort_upgrade("alice", upgrade), micetro)
    assert abort.status == JobStatus.SUCCEEDED, abort.error
    assert host.service_state == "Running" and micetro.truth() == {"win1": "active"}
