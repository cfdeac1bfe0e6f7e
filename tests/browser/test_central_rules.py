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


def build(cluster, hosts, key, micetro, names) -> None:
    for host, name in zip(hosts, names, strict=False):
        job = add_member(cluster, host, key, name, micetro)
        assert job.status == JobStatus.SUCCEEDED, job.error


def seconds_left(locator) -> int:
    found = COUNTDOWN.search(locator.inner_text())
    assert found, f"no countdown in {locator.inner_text()!r}"
    return int(found.group(1))


def test_the_panel_follows_a_failover_live_and_never_calls_a_member_active_before_central_does(
        request, page, admin, cluster, ssh_hosts, client_key, micetro):
    build(cluster, ssh_hosts, client_key, micetro, ["central1", "central2"])
    request.getfixturevalue("worker")
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    watch = TruthWatch(page, micetro)
    watch.until(lambda shown: shown == {"central1": "ACTIVE", "central2": "STANDBY"}, 20, "the cluster as built")

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
