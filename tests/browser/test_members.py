"""In headless Chromium, with the real worker and SSH hosts: a saved credential used by two members,
rotated once; a member's page with its masked preferences diff, and a backup restored by a job."""

import subprocess
import time

import pytest
from playwright.sync_api import expect

from hacontrol.ha.models import Credential, Member
from hacontrol.lib.prefs import Preferences
from tests.conftest import sign_in, start_worker, stop_worker

pytestmark = pytest.mark.browser
HAND_EDIT = '<LogLevel value="debug"/>\n<DatabasePassword value="plaintext:Browser-Secret-77"/>\n'


@pytest.fixture
def patient_worker(transactional_db):
    """A worker probing every second, that gives Central up to 15 s to start on a busy machine."""
    process = start_worker(probe_interval=1, start_wait=15)
    yield process
    stop_worker(process)


def wait_for(condition, seconds: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def expect_job_to_succeed(page) -> None:
    status = page.locator("#job-status")
    expect(status).not_to_contain_text("In progress", timeout=60000)
    assert status.inner_text().strip() == "Succeeded", page.locator("#job").inner_text()


def add_member_in_the_panel(page, cluster, host, name: str, *, expect_credential: str | None) -> None:
    page.goto(cluster.get_absolute_url())
    page.get_by_role("link", name="Add", exact=True).click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name=f"Add a member to {cluster.name}")).to_be_visible()
    credential = dialog.get_by_label("Credential")
    if expect_credential is None:
        credential.select_option(label="hosts")
    else:
        # The cluster's other members use it: the form offers it.
        expect(credential).to_have_value(expect_credential)
    dialog.get_by_label("ClusterMemberName").fill(name)
    dialog.get_by_label("Address").fill(host.address)
    dialog.get_by_label("Port").fill(str(host.port))
    dialog.get_by_label("Pinned SSH host key").fill(host.host_key_line)
    dialog.get_by_label("Already registered in Micetro").check()
    dialog.get_by_role("button", name="Add member").click()
    page.wait_for_url("**/jobs/*/")
    expect_job_to_succeed(page)


def test_a_credential_serves_two_members_survives_a_rotation_and_a_member_page_restores_a_backup(
        page, live_server, patient_worker, cluster, admin, ssh_hosts, client_key, micetro, tmp_path):
    sign_in(page, "alice", "alice-pass-1")

    # 1. A saved credential.
    page.goto("/credentials/")
    page.get_by_role("link", name="Add credential").click()
    dialog = page.locator("#modal")
    dialog.get_by_label("Name", exact=True).fill("hosts")
    dialog.get_by_label("Kind").select_option(label="SSH key")
    dialog.get_by_label("Username").fill("root")
    dialog.get_by_label("SSH private key").fill(client_key.read_text())
    dialog.get_by_role("button", name="Add credential").click()
    expect(page.get_by_role("heading", name="hosts")).to_be_visible()
    credential = Credential.objects.get(name="hosts")

    # 2. Two members with it, registered in Micetro first (the vendor's order).
    micetro.register("central1", 10)
    micetro.register("central2", 20)
    add_member_in_the_panel(page, cluster, ssh_hosts[0], "central1", expect_credential=None)
    add_member_in_the_panel(page, cluster, ssh_hosts[1], "central2", expect_credential=str(credential.pk))
    assert set(Member.objects.values_list("credential__name", flat=True)) == {"hosts"}
    assert micetro.truth() == {"central1": "active", "central2": "standby"}

    # 3. Rotate its key once: the hosts accept only the new one from now on.
    new_key = tmp_path / "rotated"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(new_key)], check=True)
    authorized = client_key.parent / "authorized_keys"
    before = authorized.read_text()
    try:
        authorized.write_text(new_key.with_suffix(".pub").read_text())
        page.goto(credential.get_absolute_url())
        expect(page.get_by_role("cell", name="central2")).to_be_visible()  # where it is used
        page.get_by_role("link", name="Edit").click()
        dialog.get_by_label("SSH private key").fill(new_key.read_text())
        dialog.get_by_label("Reason").fill("yearly rotation")
        dialog.get_by_role("button", name="Save").click()
        expect(page.locator(".messages")).to_contain_text("every member using it uses it")
        rotated = time.time()

        def both_probed_with_the_new_key() -> bool:
            members = list(Member.objects.all())
            return all(m.last_checked and m.last_checked.timestamp() > rotated + 1 and m.is_serving and not m.last_error
                       for m in members)

        wait_for(both_probed_with_the_new_key, what="both members probed with the rotated key")
        page.goto(cluster.get_absolute_url())
        expect(page.locator("#members .badge.active")).to_have_count(1)
        expect(page.locator("#members .badge.standby")).to_have_count(1)

        # 4. central2's page: its preferences (hand-edited on the host) as a masked diff against central1's.
        host = ssh_hosts[1]
        backup = host.backups()[0]
        host.preferences.write_text(host.preferences.read_text() + HAND_EDIT)
        page.get_by_role("link", name="central2", exact=True).click()
        expect(page.get_by_role("heading", name="central2")).to_be_visible()
        for _ in range(40):
            if page.locator("pre.diff .diff-add").count() >= 2:
                break
            time.sleep(0.5)
            page.reload()
        diff = page.locator("pre.diff")
        expect(diff.locator(".diff-add")).to_contain_text(['<LogLevel value="debug"/>',
                                                           '<DatabasePassword value="********"/>'])
        assert "Browser-Secret-77" not in page.content()

        # 5. View a backup (masked), then restore it through a job.
        row = page.locator("table.backups tr", has_text=backup.name)
        row.get_by_role("link", name="View").click()
        expect(page.locator("#backup-view pre.file")).to_contain_text('<DatabaseServer value="db.example.com@mmsuite"/>')
        row.get_by_role("link", name="Restore").click()
        dialog.get_by_label("Reason").fill("undo the hand edit")
        dialog.get_by_role("button", name="Restore").click()
        page.wait_for_url("**/jobs/*/")
        expect_job_to_succeed(page)
        restored = Preferences.parse(host.preferences.read_bytes())
        assert restored.get("ClusterMemberName") == "central2" and restored.get("LogLevel") is None
        assert "Browser-Secret-77" in host.backups()[-1].read_text(), "the hand-edited file was kept"
        assert "Browser-Secret-77" not in page.content()
        page.goto(Member.objects.get(name="central2").get_absolute_url())
        expect(page.locator("table.backups tbody tr")).to_have_count(2)
        expect(page.locator("#jobs-title + ul")).to_contain_text("Restore preferences central2")
    finally:
        authorized.write_text(before)
