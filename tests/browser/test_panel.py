"""The console in headless Chromium: the real pages, a real worker, real SSH hosts."""

import re

import pytest
from playwright.sync_api import expect

from hacontrol.ha.models import Job, Member
from tests.conftest import sign_in

pytestmark = pytest.mark.browser


def fill_member(page, host, key, name, priority):
    dialog = page.locator("#modal")
    dialog.get_by_label("ClusterMemberName").fill(name)
    dialog.get_by_label("Priority").fill(str(priority))
    dialog.get_by_label("Address").fill(host.address)
    dialog.get_by_label("Port").fill(str(host.port))
    dialog.get_by_label("SSH private key").fill(key.read_text())
    dialog.get_by_label("Pinned SSH host key").fill(host.host_key_line)


def wait_for_job(page, status="Succeeded"):
    page.wait_for_url(re.compile(r"/jobs/\d+/"))
    expect(page.locator("#job-status")).not_to_have_text(re.compile("In progress"), timeout=30000)
    job = Job.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert page.locator("#job-status").inner_text() == status, (job.error, [(s.name, s.output) for s in job.steps.all()])


def test_an_admin_builds_a_cluster_then_removes_a_member(page, admin, worker, ssh_hosts, client_key):
    first, second = ssh_hosts[:2]
    sign_in(page, "alice", "alice-pass-1")
    expect(page.get_by_text("No cluster yet")).to_be_visible()
    page.get_by_role("link", name="Add cluster").click()
    page.locator("#modal").get_by_label("Name", exact=True).fill("prod")
    page.locator("#modal").get_by_label("Round-robin DNS name").fill("central.example.com")
    page.locator("#modal").get_by_role("button", name="Add cluster").click()
    expect(page.get_by_role("heading", name="Manage High Availability: prod")).to_be_visible()

    for host, name, priority in [(first, "central1", 10), (second, "central2", 20)]:
        page.get_by_role("link", name="Add", exact=True).click()
        fill_member(page, host, client_key, name, priority)
        page.locator("#modal").get_by_role("button", name="Add member").click()
        wait_for_job(page)
        expect(page.locator(".step")).to_have_count(5 if name == "central1" else 7)
        page.get_by_role("link", name="prod").click()

    rows = page.locator("table.members tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#member-%d" % Member.objects.get(name="central1").pk)).to_contain_text("ACTIVE")
    expect(page.locator("#member-%d" % Member.objects.get(name="central2").pk)).to_contain_text("STANDBY")

    page.get_by_role("link", name="Add", exact=True).click()
    fill_member(page, ssh_hosts[2], client_key, "central3", 20)
    page.locator("#modal").get_by_role("button", name="Add member").click()
    expect(page.locator("#modal")).to_contain_text("priority 20 is already central2's")
    page.locator("#modal").get_by_role("link", name="Cancel").click()

    central2 = Member.objects.get(name="central2")
    page.locator(f"#member-{central2.pk}").get_by_role("link", name="Remove").click()
    page.locator("#modal").get_by_label("Reason").fill("decommissioned")
    page.locator("#modal").get_by_role("button", name="Remove member").click()
    wait_for_job(page)
    page.get_by_role("link", name="prod").first.click()
    expect(rows).to_have_count(1)
    assert b"ClusterMemberName" not in second.preferences.read_bytes()
