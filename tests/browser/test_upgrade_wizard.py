"""The upgrade wizard in headless Chromium, with a real worker: vendor-layout installers uploaded to
the console and walked stage by stage to the final check on Linux members (SSH hosts running the
simulated Central), and a Windows member added through the panel and upgraded (issue 16, part 5)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from hacontrol.ha import actions
from hacontrol.ha.jobs import enqueue
from hacontrol.ha.models import JobStatus, Member, Upgrade, UpgradeStatus
from tests.browser.console import TruthWatch, expect_accessible, expect_job_to_end, expect_job_to_wait_for_micetro
from tests.conftest import WINDOWS_PASSWORD, add_member, sign_in
from tests.hosts.central import linux_installer
from tests.hosts.windows import windows_installer

pytestmark = pytest.mark.browser
LINUX_STAGES = ["Pre-flight checks", "Stop every secondary", "Upgrade the primary central1", "Upgrade secondary central2",
                "Final check"]
WINDOWS_STAGES = ["Pre-flight checks", "Stop every secondary", "Upgrade the primary win1", "Final check"]


@pytest.fixture(autouse=True)
def installers(settings, tmp_path):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")


def upload(page, cluster, installer) -> None:
    page.goto(cluster.get_absolute_url())
    page.get_by_role("link", name="Upgrade Central").click()
    expect(page.get_by_role("heading", name=f"Upgrade Central on {cluster.name}")).to_be_visible()
    page.get_by_label("Installer", exact=True).set_input_files(str(installer))
    page.get_by_role("button", name="Start the upgrade wizard").click()


def walk(page, titles: list[str], live: dict[str, str], output: dict[str, str]) -> list[str]:
    """Run every stage with its button, in order, watching each run live (never reloading):
    ``live`` maps a stage to a line its output must show while it still runs (a stage that takes
    time), ``output`` to a line its output shows once done. Returns every status the wizard showed."""
    wizard = page.locator("#wizard")
    seen = []
    for index, title in enumerate(titles, start=1):
        stage = wizard.locator(".stage").nth(index - 1)
        expect(stage).to_contain_text(f"{index}. {title}")
        expect(stage).to_have_attribute("aria-current", "step")
        expect(stage.locator(".status").first).to_have_text("next")
        page.get_by_role("button", name=f"Run step {index}: {title}").click()
        running = False
        deadline = time.monotonic() + 120
        while stage.get_attribute("aria-current") == "step" and wizard.locator("#upgrade-status").inner_text() != "Failed":
            status = wizard.locator("#upgrade-status").inner_text()
            seen.append(status)
            if title in live and status == "In progress" and live[title] in stage.inner_text():
                running = True
            assert time.monotonic() < deadline, f"stage {index} never ended"
            time.sleep(0.2)
        assert stage.get_attribute("class").split() == ["stage", "done"], wizard.inner_text()
        assert title not in live or running, f"{title}: its output was never seen while it ran"
        expect(stage.locator(".stage-output summary")).to_contain_text("Succeeded")
        expect(stage.locator(".stage-output")).to_contain_text(output[title])
    return seen


def test_a_linux_cluster_is_upgraded_through_every_stage_of_the_wizard_with_live_output(
        request, page, admin, cluster, ssh_hosts, client_key, micetro, tmp_path):
    for host, name in zip(ssh_hosts, ["central1", "central2"], strict=False):
        assert add_member(cluster, host, client_key, name, micetro).status == JobStatus.SUCCEEDED
    ssh_hosts[0].fault("slow-install", 4)  # the primary's install takes a while: its output is watched meanwhile
    request.getfixturevalue("worker")
    sign_in(page, "alice", "alice-pass-1")

    # An installer without the vendor's layout is refused at upload, before any host is touched.
    before = [host.events() for host in ssh_hosts[:2]]
    upload(page, cluster, linux_installer(tmp_path / "flat", "11.1.0", layout="flat"))
    expect(page.locator(".field.invalid [role=alert]")).to_contain_text("does not hold the vendor's layout")
    assert not Upgrade.objects.exists() and [host.events() for host in ssh_hosts[:2]] == before

    upload(page, cluster, linux_installer(tmp_path, "11.1.0"))
    expect(page.get_by_role("heading", name=re.compile(r"Upgrade #\d+ of prod to 11\.1\.0"))).to_be_visible()
    expect(page.locator("#wizard")).to_contain_text("micetro-central-11.1.0.linux.x64.tgz")
    expect(page.locator(".cli").last).to_contain_text("python manage.py ha upgrade prod --resume --yes")
    expect_accessible(page)
    seen = walk(page, LINUX_STAGES, live={"Upgrade the primary central1": "./install"}, output={
        "Pre-flight checks": "central1 11.0.3, central2 11.0.3",
        "Stop every secondary": "central2$ systemctl stop mmcentral",
        "Upgrade the primary central1": "Micetro Central 11.1.0 has been installed and started.",
        "Upgrade secondary central2": "Micetro Central 11.1.0 has been installed and started.",
        "Final check": "central1: Active",
    })
    assert "Failed" not in seen

    expect(page.locator("#upgrade-status")).to_have_text("Succeeded")
    expect(page.locator("#announcer")).to_contain_text("succeeded")
    upgrade = Upgrade.objects.get()
    assert upgrade.status == UpgradeStatus.SUCCEEDED
    versions = page.locator("#wizard table.grid tbody")
    expect(versions.locator("tr", has_text="central1")).to_contain_text("11.0.3")
    expect(versions.locator("tr", has_text="central1")).to_contain_text("11.1.0")
    primary = page.locator(".stage", has_text="Upgrade the primary central1")
    primary.locator("summary").click()
    expect(primary.locator("pre").first).to_contain_text("(SHA-256 checked on the host)")
    expect(primary.locator(".stage-output")).to_contain_text("Micetro Central 11.1.0 has been installed and started.")
    page.wait_for_timeout(1200)  # a refresh would close an opened stage: it stays open
    expect(primary.locator(".stage-output")).to_have_attribute("open", "")
    assert [host.central.version for host in ssh_hosts[:2]] == ["11.1.0", "11.1.0"]
    assert micetro.truth() == {"central1": "active", "central2": "standby"}
    page.goto(cluster.get_absolute_url())
    TruthWatch(page, micetro).until(lambda shown: shown == {"central1": "ACTIVE", "central2": "STANDBY"}, 15, "HA back")
    expect(page.locator("#members tr", has_text="central2")).to_contain_text("11.1.0")


def test_a_windows_member_added_in_the_panel_shows_its_service_and_is_upgraded_through_the_wizard(
        page, admin, cluster, windows_host, worker, micetro, tmp_path):
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    page.get_by_role("link", name="Add", exact=True).click()
    dialog = page.locator("#modal")
    dialog.get_by_label("ClusterMemberName").fill("win1")
    dialog.get_by_label("Address").fill(windows_host.server.address)
    dialog.get_by_label("Platform").select_option(label="Windows")
    dialog.get_by_label("Port").fill(str(windows_host.server.port))
    dialog.get_by_label("Username").fill("Administrator")
    dialog.get_by_label("Password", exact=True).fill(WINDOWS_PASSWORD)
    dialog.get_by_label("WinRM authentication").select_option(label="Basic")
    dialog.get_by_label("Allow Basic authentication over plain HTTP").check()
    dialog.get_by_role("button", name="Add member").click()
    expect_job_to_wait_for_micetro(page, "Add the member win1 with priority 10")
    micetro.register("win1", 10)
    page.get_by_role("button", name="Done in Micetro: continue").click()
    job = expect_job_to_end(page)
    assert "mmcentral.exe" in "".join(step.output for step in job.steps.all()), "stopped and started by full path"

    page.get_by_role("link", name="prod").first.click()
    TruthWatch(page, micetro).until(lambda shown: shown == {"win1": "ACTIVE"}, 20, "win1 ACTIVE")
    row = page.locator("#members tr", has_text="win1")
    service = Member.objects.get(name="win1").findings["windows_service"]
    expect(row).to_contain_text("Windows")
    expect(row).to_contain_text(f"service “{service['displayName']}” ({service['name']})")
    assert service["displayName"] == "Micetro Central"
    expect(page.locator("#members .banner", has_text="Basic authentication over plain HTTP")).to_be_visible()
    page.get_by_role("link", name="win1", exact=True).click()
    expect(page.locator(".facts")).to_contain_text(service["pathName"])

    upload(page, cluster, windows_installer(tmp_path, "11.1.0"))
    expect(page.locator("#wizard")).to_contain_text("micetro-central-11.1.0.windows.x64.exe")
    walk(page, WINDOWS_STAGES[:-1], live={}, output={
        "Pre-flight checks": "win1 11.0.3",
        "Stop every secondary": "the cluster has a single member",
        "Upgrade the primary win1": "(SHA-256 checked on the host)",
    })
    # The last stage is run elsewhere (as `ha upgrade prod --resume` would): the open page follows.
    enqueue(actions.run_upgrade_stage("bob", Upgrade.objects.get()))
    expect(page.locator("#upgrade-status")).to_have_text("Succeeded", timeout=30000)
    expect(page.locator(".stage", has_text="Final check").locator(".stage-output")).to_contain_text("win1: Active")
    assert windows_host.version == "11.1.0" and "install-11.1.0" in windows_host.events()
    assert micetro.truth() == {"win1": "active"}
    page.goto(cluster.get_absolute_url())
    expect(page.locator("#members tr", has_text="win1")).to_contain_text("11.1.0", timeout=15000)
