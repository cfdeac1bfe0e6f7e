"""A job's page in headless Chromium, with a real worker and SSH hosts running the simulated Central:
a running job cancelled from its page with a reason, undone, and audited with who and why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hacontrol.ha.models import AuditEvent, JobStatus, Member
from tests.browser.console import TruthWatch, expect_accessible, expect_job_to_end, job_on_page, wait_for
from tests.conftest import add_member, sign_in

pytestmark = pytest.mark.browser


def test_a_running_set_active_cancelled_from_its_page_with_a_reason_is_undone_and_audited(
        request, page, admin, cluster, ssh_hosts, client_key, micetro):
    for host, name in zip(ssh_hosts, ["central1", "central2"], strict=False):
        assert add_member(cluster, host, client_key, name, micetro).status == JobStatus.SUCCEEDED
    before = [host.preferences.read_bytes() for host in ssh_hosts[:2]]
    request.getfixturevalue("worker")
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    TruthWatch(page, micetro).until(lambda shown: shown == {"central1": "ACTIVE", "central2": "STANDBY"}, 20,
                                    "the cluster as built")

    central2 = Member.objects.get(name="central2")
    page.locator(f"#member-{central2.pk}").get_by_role("link", name="Set Active").click()
    page.locator("#modal").get_by_role("button", name="Set Active").click()
    job = job_on_page(page)
    # Central is stopped on central1; while the job waits for the failover, the reason is typed
    # (the page refreshes every second meanwhile: the field keeps what is typed).
    expect(page.locator("#job .banner", has_text="Waiting for Central")).to_be_visible(timeout=20000)
    assert ssh_hosts[0].central.running is False
    reason = page.get_by_label("Reason")
    reason.click()
    page.keyboard.type("wrong member chosen, keep central1")
    page.wait_for_timeout(1500)  # at least one refresh
    expect(reason).to_have_value("wrong member chosen, keep central1")
    expect(reason).to_be_focused()
    asked = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name="Cancel the job").click()

    job = expect_job_to_end(page, "Cancelled", timeout=60)
    assert asked == [f"Cancel job #{job.pk} (Set Active central2)? What it did is undone."]
    expect(page.locator("#job .banner.error")).to_contain_text("cancelled by alice: wrong member chosen, keep central1")
    expect(page.locator("#job .banner.error")).to_contain_text("Every step that ran was undone")
    stop_step = job.steps.get(name="Stop Central on central1")
    assert stop_step.status == "undone", stop_step.output
    expect(page.locator(".step.undone", has_text="Stop Central on central1")).to_be_visible()
    assert job.cancel_requested_by == "alice" and job.cancel_reason == "wrong member chosen, keep central1"

    # The hosts are as they were: both run, files untouched, central1 still Active for Central.
    assert all(host.central.running for host in ssh_hosts[:2])
    assert [host.preferences.read_bytes() for host in ssh_hosts[:2]] == before
    wait_for(lambda: micetro.truth() == {"central1": "active", "central2": "standby"}, 20, "Central as before")

    # The audit log says who cancelled and why.
    page.get_by_role("link", name="Audit log").click()
    row = page.locator("tr", has_text="job cancel")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("wrong member chosen, keep central1")
    expect(page.locator("tr", has_text="job: Set Active")).to_contain_text("cancelled")
    assert AuditEvent.objects.get(action="job cancel").actor == "alice"
    expect(page.locator(".cli")).to_contain_text("python manage.py ha audit")
    expect_accessible(page)
    assert Member.objects.get(name="central1").priority == 10
