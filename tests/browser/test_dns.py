"""Fix DNS in headless Chromium: the real pages, a real worker, real SSH hosts running the simulated
Central, and a real BIND 9 holding the round-robin name."""

import re

import pytest
from playwright.sync_api import expect

from hacontrol.ha import actions
from hacontrol.ha.models import Job, JobStatus, Member
from tests.conftest import add_member, sign_in
from tests.hosts.bind_server import ALGORITHM, KEY_NAME

pytestmark = pytest.mark.browser
NAME = "central.example.com"


def wait_for_job(page, status="Succeeded"):
    page.wait_for_url(re.compile(r"/jobs/\d+/"))
    expect(page.locator("#job-status")).not_to_have_text(re.compile("In progress|Waiting"), timeout=30000)
    job = Job.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))
    assert page.locator("#job-status").inner_text() == status, (job.error, [(s.name, s.output) for s in job.steps.all()])
    return job


def test_fix_dns_fills_an_empty_zone_and_removing_a_member_offers_to_delete_its_record(
        request, page, admin, cluster, bind, ssh_hosts, client_key, micetro):
    actions.edit_cluster("alice", cluster, dns_zone="example.com", dns_server=bind.server, dns_key_name=KEY_NAME,
                         dns_key_algorithm=ALGORITHM, dns_key_secret=bind.secret, dns_resolver=bind.server)
    for index in range(3):
        job = add_member(cluster, ssh_hosts[index], client_key, f"central{index + 1}", micetro)
        assert job.status == JobStatus.SUCCEEDED, job.error
    assert bind.records() == {}, "the policy asks, and nobody said yes: the zone is still empty"
    request.getfixturevalue("worker")
    addresses = [host.address for host in ssh_hosts[:3]]

    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    dns = page.locator("#dns")
    expect(dns.locator("#dns-check")).to_contain_text("does not match the members", timeout=15000)

    dns.get_by_role("link", name="Fix DNS").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name=f"Fix DNS: {NAME}")).to_be_visible()
    rows = dialog.locator("table.dns-plan tbody tr")
    expect(rows).to_have_count(3)
    for row, address, name in zip(rows.all(), addresses, ["central1", "central2", "central3"], strict=True):
        expect(row).to_contain_text("Add")
        expect(row).to_contain_text(address)
        expect(row).to_contain_text(f"{name}'s address")
    expect(dialog.get_by_label("Yes, delete the records that belong to no member")).to_have_count(0)
    dialog.get_by_label("Reason").fill("vendor step 11")
    dialog.get_by_role("button", name="Apply 3 changes").click()
    wait_for_job(page)
    assert bind.addresses(NAME) == set(addresses)

    page.get_by_role("link", name="prod").first.click()
    expect(dns.locator("#dns-check")).to_contain_text("matches every member")
    expect(dns.locator("#dns-verify")).to_contain_text("the Active member central1 answers")
    for address in addresses:
        expect(dns.locator("#dns-verify")).to_contain_text(address)

    micetro.unregister("central3")
    central3 = Member.objects.get(name="central3")
    page.locator(f"#member-{central3.pk}").get_by_role("link", name="Remove").click()
    offer = dialog.get_by_label(f"Also delete its record {ssh_hosts[2].address} from {NAME}")
    expect(offer).to_be_checked()
    dialog.get_by_label("Already removed from Micetro's High Availability configuration").check()
    dialog.get_by_role("button", name="Remove member").click()
    job = wait_for_job(page)
    expect(page.locator(".step").nth(1)).to_contain_text(f"Delete central3's address {ssh_hosts[2].address} from {NAME}")
    assert bind.addresses(NAME) == set(addresses[:2])
    assert job.follow_up == ""
