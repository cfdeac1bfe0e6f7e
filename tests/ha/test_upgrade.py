"""The upgrade wizard (the vendor's "Updating Central in High Availability setup") on hosts running
the simulated Central, with the simulator's own vendor-layout installers."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.models import AuditEvent, JobStatus, Upgrade, UpgradeStatus
from hacontrol.ha.probe import probe_cluster
from tests.conftest import add_member, finish, windows_member_values
from tests.hosts.central import linux_installer
from tests.hosts.windows import windows_installer


@pytest.fixture
def trio(cluster, ssh_hosts, client_key, micetro):
    for index, name in enumerate(["central1", "central2", "central3"]):
        job = add_member(cluster, ssh_hosts[index], client_key, name, micetro)
        assert job.status == JobStatus.SUCCEEDED, [(step.name, step.output) for step in job.steps.all()][-2:]
    return ssh_hosts[:3]


@pytest.fixture(autouse=True)
def installers(settings, tmp_path):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")


def stored(path: Path) -> dict:
    with path.open("rb") as handle:
        return actions.store_installer(iter(lambda: handle.read(65536), b""), path.name)


def run_wizard(upgrade: Upgrade, micetro, retry: bool = False) -> Upgrade:
    """Run each stage as the page's button would (Retry once after a failure when asked), until
    the wizard stops or ends."""
    while True:
        upgrade.refresh_from_db()
        if not upgrade.is_open or (upgrade.status == UpgradeStatus.FAILED and not retry):
            return upgrade
        retry = False
        finish(actions.run_upgrade_stage("alice", upgrade), micetro)


def test_a_three_member_upgrade_walks_the_vendor_procedure_and_ha_is_back(cluster, trio, micetro, tmp_path):
    upgrade = actions.start_upgrade("alice", cluster, installer=stored(linux_installer(tmp_path, "11.1.0")))
    assert (upgrade.target_version, upgrade.installer_platform) == ("11.1.0", "linux")
    assert upgrade.installer_folder == "micetro-central-11.1.0.linux.x64"
    upgrade = run_wizard(upgrade, micetro)
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error
    assert upgrade.versions_after == {"central1": "11.1.0", "central2": "11.1.0", "central3": "11.1.0"}
    assert all(host.central.version == "11.1.0" for host in trio)
    assert micetro.truth() == {"central1": "active", "central2": "standby", "central3": "standby"}
    assert trio[1].events()[0] == "stop", "each secondary stopped before the primary was upgraded"
    assert "install-11.1.0" in trio[0].events()
    staged = [line.split(": ", 1)[1].split(" ")[0] for job in upgrade.jobs.all() for step in job.steps.all()
              for line in step.output.splitlines() if line.endswith("(SHA-256 checked on the host)")]
    assert len(staged) == 3 and not any(Path(path).parent.exists() for path in staged), "staged copies removed"
    assert AuditEvent.objects.filter(action="upgrade end").exists()


@pytest.mark.parametrize("layout, words", [("flat", "does not hold the vendor's layout"),
                                           ("not-gzip", "neither a gzip-compressed tar archive")])
def test_an_installer_not_in_the_vendor_s_layout_is_refused_before_any_host_is_touched(cluster, trio, tmp_path,
                                                                                     layout, words):
    before = [host.events() for host in trio]
    with pytest.raises(Refused, match=words):
        stored(linux_installer(tmp_path, "11.1.0", layout=layout))
    assert not Upgrade.objects.exists() and [host.events() for host in trio] == before


def test_a_primary_whose_install_failed_after_stopping_central_runs_again_after_abort(cluster, trio, micetro,
                                                                                       tmp_path, settings):
    settings.HACONTROL_INSTALL_TIMEOUT = 4
    trio[0].fault("slow-install", 60)  # the installer stops Central, then hangs past the install timeout
    upgrade = run_wizard(actions.start_upgrade("alice", cluster,
                                               installer=stored(linux_installer(tmp_path, "11.1.0"))), micetro)
    assert upgrade.status == UpgradeStatus.FAILED and upgrade.stage == 2
    assert "did not finish within 4 s" in upgrade.error
    trio[0].fault("slow-install", on=False)
    # The failed stage looked at the members it touched: nobody says Standby for a stopped Central.
    states = {m.name: m.state for m in cluster.members.all()}
    assert states["central2"] == states["central3"] == "offline"
    job = finish(actions.abort_upgrade("alice", upgrade), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    upgrade.refresh_from_db()
    assert upgrade.status == UpgradeStatus.ABORTED
    assert all(host.central.version == "11.0.3" and host.service_state == "active" for host in trio)
    assert micetro.truth() == {"central1": "active", "central2": "standby", "central3": "standby"}


def test_once_the_primary_runs_the_new_version_abort_refuses_and_retry_rolls_forward(cluster, trio, micetro, tmp_path):
    trio[1].fault("fail-install")
    upgrade = run_wizard(actions.start_upgrade("alice", cluster,
                                               installer=stored(linux_installer(tmp_path, "11.1.0"))), micetro)
    assert upgrade.status == UpgradeStatus.FAILED and upgrade.stage == 3
    abort = finish(actions.abort_upgrade("alice", upgrade), micetro)
    assert abort.status == JobStatus.FAILED
    assert "central1 already runs 11.1.0 and has upgraded Central's database" in abort.error
    assert "Retry to roll forward" in abort.error
    assert trio[1].service_state != "active", "no old-version secondary started against the upgraded database"
    trio[1].fault("fail-install", on=False)
    upgrade = run_wizard(upgrade, micetro, retry=True)
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error
    assert micetro.truth() == {"central1": "active", "central2": "standby", "central3": "standby"}


def test_failed_pre_flight_checks_hold_the_wizard_until_overridden_with_a_reason(cluster, trio, micetro, tmp_path):
    trio[2].stop()  # unreachable
    upgrade = run_wizard(actions.start_upgrade("alice", cluster,
                                               installer=stored(linux_installer(tmp_path, "11.1.0"))), micetro)
    assert upgrade.status == UpgradeStatus.FAILED and upgrade.stage == 0
    assert "Every member reachable: unreachable: central3" in upgrade.error
    with pytest.raises(Refused, match="give the reason"):
        actions.override_preflight("alice", upgrade, reason="")
    trio[2].start()
    actions.override_preflight("alice", upgrade, reason="central3 was restarted, checked by hand")
    assert AuditEvent.objects.get(action="upgrade override", outcome="ok").reason == "central3 was restarted, checked by hand"
    assert AuditEvent.objects.get(action="upgrade override", outcome="refused").detail.startswith("reason-required")


def test_members_reached_through_sudo_are_upgraded(cluster, ssh_hosts, client_key, micetro, tmp_path):
    from tests.hosts.ssh_hosts import TEST_USER

    for index, name in enumerate(["central1", "central2"]):
        job = add_member(cluster, ssh_hosts[index], client_key, name, micetro, username=TEST_USER, use_sudo=True)
        assert job.status == JobStatus.SUCCEEDED, job.error
    upgrade = run_wizard(actions.start_upgrade("alice", cluster, installer=stored(linux_installer(tmp_path, "11.1.0"))),
                         micetro)
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error
    assert all(host.central.version == "11.1.0" for host in ssh_hosts[:2])
    assert micetro.truth() == {"central1": "active", "central2": "standby"}
    staged = [line.split(": ", 1)[1].split(" ")[0] for job in upgrade.jobs.all() for step in job.steps.all()
              for line in step.output.splitlines() if line.endswith("(SHA-256 checked on the host)")]
    assert len(staged) == 2 and not any(Path(path).parent.exists() for path in staged), "staged copies removed"


def test_a_windows_member_is_upgraded_through_the_wizard(cluster, windows_host, micetro, tmp_path):
    job = finish(actions.add_member("alice", cluster, name="win1", **windows_member_values(windows_host)), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    upgrade = actions.start_upgrade("alice", cluster, installer=stored(windows_installer(tmp_path, "11.1.0")))
    assert upgrade.installer_platform == "windows"
    upgrade = run_wizard(upgrade, micetro)
    assert upgrade.status == UpgradeStatus.SUCCEEDED, upgrade.error
    assert windows_host.version == "11.1.0" and "install-11.1.0" in windows_host.events()
    assert micetro.truth() == {"win1": "active"}


def test_the_cli_runs_the_whole_upgrade(transactional_db, ssh_hosts, client_key, micetro, tmp_path, capsys):
    from hacontrol.ha.models import Cluster

    cluster = Cluster.objects.create(name="lab")
    for index, name in enumerate(["central1", "central2"]):
        job = add_member(cluster, ssh_hosts[index], client_key, name, micetro)
        assert job.status == JobStatus.SUCCEEDED, [(step.name, step.output) for step in job.steps.all()][-2:]
    installer = linux_installer(tmp_path, "11.1.0")
    with pytest.raises(CommandError, match="add --yes"):
        call_command("ha", "upgrade", "lab", "--installer", str(installer))
    call_command("ha", "upgrade", "lab", "--installer", str(installer), "--yes")
    out = capsys.readouterr().out
    assert "upgrade #" in out and "succeeded" in out.splitlines()[-1]
    probe_cluster(cluster)
    assert {m.name: (m.version, m.state) for m in cluster.members.all()} == {
        "central1": ("11.1.0", "active"), "central2": ("11.1.0", "standby")}
