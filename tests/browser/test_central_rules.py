"""The panel follows what Central really does, in headless Chromium with a real worker and SSH hosts
running the simulated Central: a failover watched live (never reloaded) and compared with
Central's truth at every look, Set Active by Central's own failover, a dead member forgotten."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from hacontrol.ha.models import AuditEvent, JobStatus, Member
from tests.browser.console import TruthWatch, expect_accessible, expect_job_to_end, job_on_page
from tests.conftest import add_member, sign_in

pytestmark = pytest.mark.browser
COUNTDOWN = re.compile(r"\(in (\d+) s\)")


def watch_built(request, page, cluster, hosts, key, micetro, names) -> TruthWatch:
    """Build the cluster with hacontrol's own adds, start the worker, sign in, open the panel and
    watch it until it shows the cluster as built: the first member Active, the others Standby."""
    for host, name in zip(hosts, names, strict=False):
        job = add_member(cluster, host, key, name, micetro)
        assert job.status == JobStatus.SUCCEEDED, job.error
    request.getfixturevalue("worker")
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    watch = TruthWatch(page, micetro)
    built = {name: "STANDBY" for name in names} | {names[0]: "ACTIVE"}
    watch.until(lambda shown: shown == built, 20, "the cluster as built")
    return watch


def seconds_left(locator) -> int:
    found = COUNTDOWN.search(locator.inner_text())
    assert found, f"no countdown in {locator.inner_text()!r}"
    return int(found.group(1))


def test_the_panel_follows_a_failover_live_and_never_calls_a_member_active_before_central_does(
        request, page, admin, cluster, ssh_hosts, client_key, micetro):
    watch = watch_built(request, page, cluster, ssh_hosts, client_key, micetro, ["central1", "central2"])

    # Central stops on the Active member: Offline at once, and a countdown while Central decides.
    watch.forget_history()
    ssh_hosts[0].central.stop()
    stopped = time.monotonic()
    watch.until(lambda shown: shown["central1"] == "OFFLINE", 15, "central1 OFFLINE")
    row = page.locator("#members tr", has_text="central1")
    expect(row.locator(".reason")).to_contain_text("service stopped")
    banner = page.locator("#members .banner", has_text="Failing over")
    expect(banner).to_contain_text("Central on central1 no longer serves; central2 is expected to take over by")
    expect(banner).to_contain_text("Until then no member is called Active.")
    first = seconds_left(banner.locator("time[data-countdown]"))
    time.sleep(2.2)
    second = seconds_left(banner.locator("time[data-countdown]"))
    assert 0 < second < first <= 30, (first, second)
    expect(page.locator("#announcer")).to_contain_text("Failing over from central1 to central2")

    shown = watch.until(lambda shown: shown["central2"] == "ACTIVE", 45, "central2 ACTIVE")
    took = time.monotonic() - stopped
    assert micetro.truth() == {"central1": "failed", "central2": "active"}  # the former Active, until restarted
    assert shown["central1"] == "OFFLINE"
    expect(banner).to_have_count(0)
    seen_taking_over = any(look[1].get("central2") == "TAKING OVER" for look in watch.looks)
    print(f"failover seen in the panel after {took:.1f} s; 'Taking over' shown: {seen_taking_over}")

    # Started again, the former Active comes back as Standby: Active is sticky.
    watch.forget_history()
    ssh_hosts[0].central.start()
    watch.until(lambda shown: shown == {"central1": "STANDBY", "central2": "ACTIVE"}, 30, "central1 back as STANDBY")
    assert micetro.truth() == {"central1": "standby", "central2": "active"}
    expect(page.locator("#announcer")).to_contain_text("central1 Standby, central2 Active")
    audited = AuditEvent.objects.filter(action="failover").values_list("member_name", flat=True)
    assert list(audited) == ["central2"], "the failover is audited once, when it really happened"
    expect_accessible(page)


def test_set_active_in_the_panel_waits_for_central_s_failover_and_makes_the_last_member_truly_active(
        request, page, admin, cluster, ssh_hosts, client_key, micetro):
    watch = watch_built(request, page, cluster, ssh_hosts, client_key, micetro, ["central1", "central2", "central3"])

    central3 = Member.objects.get(name="central3")
    page.locator(f"#member-{central3.pk}").get_by_role("link", name="Set Active").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Make central3 the Active member?")).to_be_visible()
    expect(dialog).to_contain_text("Priorities do not change")
    expect(dialog.locator(".cli")).to_contain_text("python manage.py ha switchover prod --to central3")
    dialog.get_by_label("Reason").fill("planned maintenance of central1")
    dialog.get_by_role("button", name="Set Active").click()
    job = job_on_page(page)

    # Until Central has decided, the page says "in progress" with a countdown; never "failed".
    status, seen, counted = page.locator("#job-status"), set(), False
    deadline = time.monotonic() + 90
    while True:
        text = status.inner_text().strip()
        seen.add(text)
        if not text.startswith("In progress"):
            break
        waiting = page.locator("#job .banner", has_text="Waiting for Central")
        if waiting.count() and COUNTDOWN.search(waiting.inner_text()):
            counted = True
            expect(waiting).to_contain_text("In progress; not failed.")
        assert time.monotonic() < deadline, "the switchover never ended"
        time.sleep(0.5)
    job.refresh_from_db()
    assert text == "Succeeded", (seen, job.error, [(s.name, s.status, s.error, s.output) for s in job.steps.all()])
    assert not any("ail" in s for s in seen), seen
    assert counted, "the job page counted down to Central's decision"
    expect(page.locator(".step.succeeded")).to_have_count(job.steps.count())
    expect(page.locator(".step", has_text="Wait for Central to fail over to central3")).to_contain_text(
        "central3: Active")

    assert micetro.truth() == {"central1": "standby", "central2": "standby", "central3": "active"}
    assert dict(Member.objects.values_list("name", "priority")) == {"central1": 10, "central2": 20, "central3": 30}
    page.get_by_role("link", name="prod").first.click()
    watch.forget_history()
    watch.until(lambda shown: shown == {"central1": "STANDBY", "central2": "STANDBY", "central3": "ACTIVE"}, 15,
                "central3 ACTIVE")
    assert AuditEvent.objects.get(action="job: Set Active", outcome="ok").reason == "planned maintenance of central1"


def test_a_member_whose_host_died_is_forgotten_with_a_reason_after_its_micetro_unregistration(
        request, page, admin, cluster, ssh_hosts, client_key, micetro):
    watch = watch_built(request, page, cluster, ssh_hosts, client_key, micetro, ["central1", "central2"])

    ssh_hosts[1].kill()
    watch.until(lambda shown: shown["central2"] == "OFFLINE", 20, "central2 OFFLINE")
    central2 = Member.objects.get(name="central2")
    row = page.locator(f"#member-{central2.pk}")
    expect(row.locator(".reason")).to_contain_text("host unreachable")

    # Remove would reach the host: its dialog points to Forget instead.
    row.get_by_role("link", name="Remove").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Remove central2 from prod?")).to_be_visible()
    dialog.get_by_role("link", name="forget it instead").click()
    expect(dialog.get_by_role("heading", name="Forget central2?")).to_be_visible()
    expect(dialog).to_contain_text(f"hacontrol does not touch {central2.address}")
    expect(dialog.locator(".cli")).to_contain_text("python manage.py ha member remove prod central2 --forget --reason TEXT")
    dialog.get_by_role("button", name="Forget member").click()
    expect(dialog.locator("[role=alert]").first).to_contain_text("confirm that central2's host is gone for good")
    dialog.get_by_label("Yes, its host is gone for good: forget it without touching it").check()
    dialog.get_by_role("button", name="Forget member").click()
    expect(dialog.locator(".field.invalid [role=alert]")).to_have_text(
        "give the reason for forgetting the member (it is kept in the audit log)")
    assert Member.objects.filter(name="central2").exists(), "refused: nothing changed"
    dialog.get_by_label("Reason").fill("disk array lost, host decommissioned")
    dialog.get_by_role("button", name="Forget member").click()

    job = job_on_page(page)
    expect(page.locator("#job-status")).to_have_text("Waiting for you", timeout=20000)
    expect(page.locator("#job [role=alert]")).to_contain_text("Remove the member central2")
    micetro.unregister("central2")
    page.get_by_role("button", name="Done in Micetro: continue").click()
    job = expect_job_to_end(page)
    assert [step.name for step in job.steps.all()] == [
        "In Micetro: remove central2 from the High Availability configuration", "Remove central2 from hacontrol's records"]
    assert central2.address not in "".join(step.output for step in job.steps.all()), "the dead host was never reached"
    assert not Member.objects.filter(name="central2").exists()
    assert AuditEvent.objects.get(action="job: Forget member", outcome="ok").reason == "disk array lost, host decommissioned"

    page.get_by_role("link", name="prod").first.click()
    watch.until(lambda shown: shown == {"central1": "ACTIVE"}, 10, "only central1 left")
    assert micetro.truth() == {"central1": "active"}
