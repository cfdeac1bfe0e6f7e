"""The upgrade wizard walked in the browser, from the installer upload to the final check."""

import pytest
from playwright.sync_api import expect

from hacontrol.ha.probe import probe_cluster
from tests.conftest import add_linux_member, sign_in
from tests.hosts.installers import linux_installer

pytestmark = pytest.mark.browser


def test_an_admin_walks_the_wizard_to_the_final_check(page, admin, cluster, worker, ssh_hosts, client_key,
                                                       tmp_path, settings):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    for host, (name, priority) in zip(ssh_hosts[:3], [("central1", 10), ("central2", 20), ("central3", 30)], strict=True):
        host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')
        add_linux_member(cluster, host, client_key, name, priority)
    probe_cluster(cluster)
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    page.get_by_role("link", name="Upgrade Central").click()
    page.get_by_label("Installer", exact=True).set_input_files(str(linux_installer(tmp_path, "11.1.0")))
    page.get_by_role("button", name="Start the upgrade wizard").click()
    expect(page.get_by_role("heading", name="Upgrade #")).to_contain_text("to 11.1.0")
    expect(page.get_by_text("SHA-256")).to_be_visible()

    titles = ["Pre-flight checks", "Stop every secondary", "Upgrade the primary central1",
              "Upgrade secondary central2", "Upgrade secondary central3", "Final check"]
    for number, title in enumerate(titles, start=1):
        current = page.locator("li.stage[aria-current=step]")
        expect(current).to_contain_text(f"{number}. {title}", timeout=30000)
        current.get_by_role("button", name=f"Run step {number}: {title}").click()
        if number < len(titles):
            expect(page.locator("li.stage").nth(number - 1)).to_contain_text("done", timeout=30000)
    expect(page.locator("#upgrade-status")).to_have_text("Succeeded", timeout=30000)
    for name in ("central1", "central2", "central3"):
        expect(page.locator("table.grid")).to_contain_text(name)
    assert [h.central.joinpath(".version").read_text().strip() for h in ssh_hosts[:3]] == ["11.1.0"] * 3
