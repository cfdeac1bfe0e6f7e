"""The upgrade wizard end to end on the real test hosts, with a stand-in installer."""

import signal
import time

import pytest
from django.core.files import File
from django.core.management import CommandError, call_command

from hacontrol.ha.jobs import create_job, run_job, run_job_task
from hacontrol.ha.models import AuditEvent, Job, Upgrade
from hacontrol.ha.probe import probe_cluster
from hacontrol.ha.upgrade import (
    UpgradeError,
    abort_job,
    override_preflight,
    stage_job,
    start_upgrade,
    store_installer,
)
from tests.conftest import add_linux_member, start_worker, stop_worker
from tests.hosts.installers import linux_installer

NAMES = [("central1", 10), ("central2", 20), ("central3", 30)]


@pytest.fixture
def three_members(cluster, ssh_hosts, client_key, settings, tmp_path):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    for host, (name, priority) in zip(ssh_hosts[:3], NAMES, strict=True):
        host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')
        add_linux_member(cluster, host, client_key, name, priority)
    probe_cluster(cluster)
    return ssh_hosts[:3]


def open_upgrade(cluster, tmp_path, version="11.1.0") -> Upgrade:
    with linux_installer(tmp_path, version).open("rb") as handle:
        path, sha256, size = store_installer(File(handle, name=f"micetro-central-{version}.linux.x64.tgz"))
    return start_upgrade(cluster, "alice", installer_name=path.name, installer_file=str(path),
                         installer_sha256=sha256, installer_size=size)


def run_stages(upgrade: Upgrade) -> Upgrade:
    """Run stage after stage, as the wizard's buttons (or the CLI) do, until it stops."""
    while True:
        upgrade.refresh_from_db()
        if upgrade.status in (Upgrade.FAILED, Upgrade.SUCCEEDED, Upgrade.ABORTED):
            return upgrade
        run_job(stage_job(upgrade, "alice").pk)


def test_a_three_member_upgrade_succeeds_secondaries_stopped_first(cluster, three_members, tmp_path):
    primary, second, third = three_members
    upgrade = run_stages(open_upgrade(cluster, tmp_path))
    assert upgrade.status == "succeeded", upgrade.error
    assert [host.central.joinpath(".version").read_text().strip() for host in three_members] == ["11.1.0"] * 3
    assert upgrade.versions_before == {"central1": "11.0.3", "central2": "11.0.3", "central3": "11.0.3"}
    assert upgrade.versions_after == {"central1": "11.1.0", "central2": "11.1.0", "central3": "11.1.0"}
    assert second.events()[0] == "stop" and third.events()[0] == "stop"
    assert primary.events() == ["stop", "install-11.1.0", "start"]
    assert {m.name: m.state for m in cluster.members.all()} == {
        "central1": "active", "central2": "standby", "central3": "standby"}
    assert [job.kind for job in upgrade.jobs.order_by("pk")] == [
        "upgrade-preflight", "upgrade-stop", "upgrade-member", "upgrade-member", "upgrade-member", "upgrade-final"]
    assert AuditEvent.objects.filter(action="upgrade end", detail__contains="succeeded").exists()


def test_an_installer_failing_on_the_second_secondary_stops_there_and_abort_restarts_the_cluster(
        cluster, three_members, tmp_path):
    third = three_members[2]
    third.fault("fail-install")
    upgrade = run_stages(open_upgrade(cluster, tmp_path))
    assert (upgrade.status, upgrade.stage) == ("failed", 4)
    assert "Run the installer on central3" in upgrade.error and "disk error" in upgrade.error
    assert third.service_state == "inactive"
    with pytest.raises(Exception, match="being upgraded"):
        create_job("remove", cluster, "bob", member=cluster.members.get(name="central3"))
    run_job(abort_job(upgrade, "alice").pk)
    upgrade.refresh_from_db()
    assert upgrade.status == "aborted"
    assert [host.service_state for host in three_members] == ["active"] * 3
    probe_cluster(cluster)
    assert {m.name: (m.state, m.version) for m in cluster.members.all()} == {
        "central1": ("active", "11.1.0"), "central2": ("standby", "11.1.0"), "central3": ("standby", "11.0.3")}


def test_failed_preflight_checks_hold_the_wizard_until_overridden_with_a_reason(cluster, three_members, tmp_path):
    three_members[1].stop()
    upgrade = run_stages(open_upgrade(cluster, tmp_path))
    assert (upgrade.status, upgrade.stage) == ("failed", 0)
    checks = {s.name: (s.status, s.error) for s in upgrade.jobs.get().steps.all()}
    assert checks["Every member reachable"] == ("failed", "unreachable: central2")
    assert checks["Exactly one member Active"][0] == "succeeded", "every check runs and shows its result"
    assert upgrade.error.startswith("3 check(s) failed: Every member reachable: unreachable: central2; ")
    assert three_members[2].events() == [], "nothing was stopped"
    with pytest.raises(UpgradeError, match="give the reason"):
        override_preflight(upgrade, "alice", "")
    override_preflight(upgrade, "alice", "central2 is being rebuilt")
    assert (upgrade.stage, upgrade.status) == (1, "running")
    assert AuditEvent.objects.get(action="upgrade override").reason == "central2 is being rebuilt"


def test_two_upgrades_of_one_cluster_never_run_at_once(cluster, three_members, tmp_path):
    upgrade = open_upgrade(cluster, tmp_path)
    with pytest.raises(UpgradeError, match=f"upgrade #{upgrade.pk} of prod is still open"):
        open_upgrade(cluster, tmp_path)


def test_the_cli_upgrades_non_interactively(cluster, three_members, tmp_path, capsys):
    installer = linux_installer(tmp_path, "11.2.0")
    with pytest.raises(CommandError, match="add --yes"):
        call_command("ha", "upgrade", "prod", "--installer", str(installer))
    call_command("ha", "upgrade", "prod", "--installer", str(installer), "--yes")
    out = capsys.readouterr().out
    assert "upgrade-" not in out and "[1/3] Copy the installer to central1" in out
    assert out.strip().splitlines()[-1].startswith(f"upgrade #{Upgrade.objects.get().pk} succeeded")


def test_the_cli_resumes_and_aborts(cluster, three_members, tmp_path, capsys):
    three_members[1].fault("fail-install")
    installer = linux_installer(tmp_path, "11.2.0")
    with pytest.raises(CommandError, match="fix the cause, then --resume"):
        call_command("ha", "upgrade", "prod", "--installer", str(installer), "--yes")
    three_members[1].fault("fail-install", on=False)
    call_command("ha", "upgrade", "prod", "--resume", "--yes")
    assert Upgrade.objects.get().status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_worker_restarted_in_the_middle_of_step_three_resumes_to_success(ssh_hosts, client_key, tmp_path, settings):
    from hacontrol.ha.models import Cluster

    cluster = Cluster.objects.create(name="prod")
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    for host, (name, priority) in zip(ssh_hosts[:3], NAMES, strict=True):
        host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')
        add_linux_member(cluster, host, client_key, name, priority)
    probe_cluster(cluster)
    upgrade = open_upgrade(cluster, tmp_path)
    for _ in range(3):  # pre-flight, stop the secondaries, upgrade the primary
        run_job(stage_job(upgrade, "alice").pk)
        upgrade.refresh_from_db()
    assert (upgrade.status, upgrade.stage) == ("running", 3)
    ssh_hosts[1].fault("slow-install")

    worker = start_worker()
    job = stage_job(upgrade, "alice")
    run_job_task.enqueue(job.pk)
    deadline = time.monotonic() + 30
    while not job.steps.filter(name__startswith="Run the installer", status="running").exists():
        assert time.monotonic() < deadline, "the worker never reached the installer"
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    job.refresh_from_db()
    assert job.status == "running", "killed in the middle"

    worker = start_worker()
    try:
        while Job.objects.get(pk=job.pk).status == "running":
            assert time.monotonic() < deadline + 30, "the restarted worker did not mark the job failed"
            time.sleep(0.1)
        job.refresh_from_db()
        upgrade.refresh_from_db()
        assert job.status == "failed" and "died" in job.error
        assert (upgrade.status, upgrade.stage) == ("failed", 3)

        ssh_hosts[1].fault("slow-install", on=False)
        while upgrade.status != Upgrade.SUCCEEDED:
            assert upgrade.status != Upgrade.ABORTED
            resumed = stage_job(upgrade, "bob")
            run_job_task.enqueue(resumed.pk)
            while Job.objects.get(pk=resumed.pk).is_active:
                assert time.monotonic() < deadline + 120
                time.sleep(0.1)
            upgrade.refresh_from_db()
            assert upgrade.status != Upgrade.FAILED, upgrade.error
    finally:
        stop_worker(worker)
    assert [h.central.joinpath(".version").read_text().strip() for h in ssh_hosts[:3]] == ["11.1.0"] * 3


def test_a_windows_member_is_upgraded_over_winrm(cluster, windows_host, tmp_path, settings):
    from tests.conftest import add_windows_member

    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    windows_host.path(r"C:\Windows\Temp").mkdir(parents=True)
    windows_host.preferences.write_bytes(windows_host.preferences.read_bytes() + b'<ClusterMemberName value="win1"/>\r\n')
    add_windows_member(cluster, windows_host, "win1", 10)
    probe_cluster(cluster)
    installer = tmp_path / "Micetro_Central_x64.exe"
    installer.write_bytes(b"MZ stand-in VERSION=11.1.0 " + bytes(range(256)) * 16)
    with installer.open("rb") as handle:
        path, sha256, size = store_installer(File(handle, name=installer.name))
    upgrade = start_upgrade(cluster, "alice", installer_name=installer.name, target_version="11.1.0",
                            installer_file=str(path), installer_sha256=sha256, installer_size=size)
    upgrade = run_stages(upgrade)
    assert upgrade.status == "succeeded", upgrade.error
    assert windows_host.version == "11.1.0" and windows_host.log[-1] == "install-11.1.0"
    copied = windows_host.path(rf"C:\Windows\Temp\hacontrol-{sha256[:12]}-Micetro_Central_x64.exe")
    assert copied.read_bytes() == installer.read_bytes()


def test_an_installer_without_a_version_in_its_name_needs_one(cluster, three_members, tmp_path):
    with pytest.raises(UpgradeError, match="enter the target version"):
        start_upgrade(cluster, "alice", installer_name="Micetro_Central_x64.exe", installer_host_path=r"C:\x.exe")
