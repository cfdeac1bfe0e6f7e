"""Every page and every dialog of the console in headless Chromium, as a keyboard and screen-reader
user meets them: each field labelled, each button and link named, no state told by colour alone,
each dialog taking the focus and closing with Escape, and each action's command-line equivalent
shown. The records are made directly: no host is needed to look at a page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, JobStep, Member, Upgrade
from tests.browser.console import expect_accessible, unlabelled_fields
from tests.conftest import sign_in

pytestmark = pytest.mark.browser
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5cnJ0aGVyZWlzbm9zcG9vbnRoZXJlaXNub3Nwb29u"


@pytest.fixture
def console(transactional_db, admin):
    now = timezone.now()
    prod = Cluster.objects.create(name="prod", dns_name="central.example.com")
    central1 = Member.objects.create(cluster=prod, name="central1", priority=10, address="192.0.2.10", state="active",
                                     registered=True, serving_since=now, last_seen=now, host_key=KEY, version="11.0.3")
    Member.objects.create(cluster=prod, name="central2", priority=20, address="192.0.2.20", state="standby",
                          registered=True, serving_since=now, last_seen=now, host_key=KEY, presented_host_key=OTHER_KEY)
    central3 = Member.objects.create(cluster=prod, name="central3", priority=30, address="192.0.2.30", state="offline",
                                     state_reason="host unreachable: timed out", registered=False)
    Member.objects.create(cluster=prod, name="win1", priority=40, address="192.0.2.40", platform="windows",
                          state="standby", registered=True, username="Administrator",
                          findings={"windows_service": {"name": "MicetroCentral", "displayName": "Micetro Central",
                                                        "pathName": r"D:\Micetro\mmcentral.exe"}})
    Cluster.objects.filter(pk=prod.pk).update(active_member=central1)
    waiting = Job.objects.create(kind="add", cluster=prod, member=central3, member_name="central3", status="waiting",
                                 started_by="alice", started=now, affected=[central3.pk])
    JobStep.objects.create(job=waiting, position=1, name="Record central3 with priority 30", status="succeeded")
    JobStep.objects.create(job=waiting, position=2, name="In Micetro: add central3 with priority 30", status="waiting",
                           instructions={"action": "register", "name": "central3", "priority": 30,
                                         "text": "Add the member central3 with priority 30",
                                         "where": "Micetro Web Interface: Admin → Configuration → High Availability"})
    lab = Cluster.objects.create(name="lab")
    lab1 = Member.objects.create(cluster=lab, name="lab1", priority=10, address="192.0.2.90", state="unknown")
    running = Job.objects.create(kind="switchover", cluster=lab, member=lab1, member_name="lab1", status="running",
                                 started_by="bob", started=now, affected=[lab1.pk])
    JobStep.objects.create(job=running, position=1, name="Wait for Central to fail over to lab1", status="running",
                           deadline=now + timedelta(seconds=25), output="lab1: Standby\n")
    empty = Cluster.objects.create(name="empty")
    failed = Upgrade.objects.create(cluster=empty, started_by="alice", installer_name="micetro-central-11.1.0.linux.x64.tgz",
                                    target_version="11.1.0", status="failed", error="pre-flight: central9 unreachable")
    Credential.objects.create(name="hosts", kind="ssh-key", username="root", private_key="secret")
    AuditEvent.record("alice", "cluster create", cluster=prod, detail="DNS name central.example.com")
    return {"prod": prod, "lab": lab, "waiting": waiting, "running": running, "upgrade": failed, "central3": central3}


def open_dialog(page, link, heading: str) -> None:
    """Open a dialog from ``link`` with the keyboard: it takes the focus, its fields are labelled,
    it says its command-line equivalent, and Escape closes it."""
    link.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name=heading)).to_be_visible()
    assert page.evaluate("document.getElementById('modal').contains(document.activeElement)"), heading
    assert not unlabelled_fields(page, "#modal"), (heading, unlabelled_fields(page, "#modal"))
    expect(dialog.locator(".cli")).to_contain_text("python manage.py ha ")
    expect_accessible(page)
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()


def test_every_page_and_dialog_is_labelled_named_keyboard_usable_and_says_its_command(page, console):
    sign_in(page, "alice", "alice-pass-1")
    expect_accessible(page)
    expect(page.locator(".cli")).to_contain_text("python manage.py ha cluster list")
    open_dialog(page, page.get_by_role("link", name="Add cluster"), "Add a cluster")

    prod = console["prod"]
    page.goto(prod.get_absolute_url())
    expect_accessible(page)
    for text in ("python manage.py ha status prod", "python manage.py ha job confirm", "python manage.py ha dns prod",
                 "python manage.py ha member accept-key prod central2 --fingerprint"):
        expect(page.locator(".cli", has_text=text)).to_have_count(1)
    # States in words as well as colours, and the reason beside them.
    row = page.locator("#members tr", has_text="central3")
    expect(row.locator(".badge")).to_have_text("MAINTENANCE")
    expect(page.locator("#members tr", has_text="central1").locator(".badge")).to_have_text("ACTIVE")
    expect(page.locator("#members tr", has_text="win1")).to_contain_text("service “Micetro Central” (MicetroCentral)")
    for svg in page.locator(".timeline svg").all():
        assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
    # The live table announces through the page's one live region, which is not itself replaced.
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    assert page.locator("[aria-live]").count() == 1 + page.locator("#backup-view").count()
    # Nothing inside the refreshed table is a live region of its own (re-inserted every 5 s).
    expect(page.locator("#members :is([aria-live], [role=status], [role=alert], [role=log])")).to_have_count(0)
    handle = announcer.element_handle()
    Member.objects.filter(name="central2").update(state="offline", state_reason="service stopped")
    expect(announcer).to_contain_text("central2 Offline", timeout=10000)
    assert handle.evaluate("element => element.isConnected")

    panel = page.locator("#members")
    for link, heading in [
        (panel.get_by_role("link", name="Add", exact=True), "Add a member to prod"),
        (page.locator("#members tr", has_text="central2").get_by_role("link", name="Edit"), "Edit central2"),
        (page.locator("#members tr", has_text="central2").get_by_role("link", name="Remove"), "Remove central2 from prod?"),
        (page.locator("#members tr", has_text="central3").get_by_role("link", name="Forget"), "Forget central3?"),
        (page.locator("#members tr", has_text="central2").get_by_role("link", name="Set Active"),
         "Make central2 the Active member?"),
        (page.get_by_role("link", name="HA tuning"), "HA tuning of prod"),
        (page.get_by_role("link", name="Edit cluster"), "Edit cluster prod"),
        (page.get_by_role("link", name="Delete"), "Delete cluster prod?"),
    ]:
        open_dialog(page, link, heading)

    page.locator("#members tr", has_text="central1").get_by_role("link", name="central1").click()
    expect(page.get_by_role("heading", name="central1")).to_be_visible()
    expect_accessible(page)

    for job in (console["waiting"], console["running"]):
        page.goto(job.get_absolute_url())
        expect_accessible(page)
        expect(page.locator(".cli").last).to_contain_text(f"python manage.py ha job cancel {job.pk} --reason TEXT")
    expect(page.locator("#job .banner", has_text="Waiting for Central")).to_contain_text("In progress; not failed.")
    expect(page.locator("#job [role=status]")).to_have_count(0)
    expect(page.locator("#announcer")).to_have_text("", timeout=1)  # nothing changed yet: nothing said
    expect(page.locator("#announcer")).to_be_attached()
    page.goto(f"/clusters/{prod.pk}/jobs/")
    expect_accessible(page)

    page.goto(console["upgrade"].get_absolute_url())
    expect_accessible(page)
    expect(page.locator("#wizard .stage .status.failed")).to_have_text("failed")
    abort = page.locator("form.abort")
    expect(abort.get_by_label("Reason")).to_be_visible()
    page.goto(f"/clusters/{console['upgrade'].cluster_id}/upgrade/")  # an open upgrade: its wizard
    expect(page.get_by_role("heading", name="Upgrade #")).to_be_visible()

    for path in ("/credentials/", "/audit/", "/tokens/", f"/clusters/{console['lab'].pk}/"):
        page.goto(path)
        expect_accessible(page)
        expect(page.locator(".cli").first).to_contain_text("python manage.py ha ")
    page.goto("/credentials/")
    open_dialog(page, page.get_by_role("link", name="Add credential"), "Add a credential")


def test_the_member_form_shows_the_fields_of_the_platform_chosen_and_keeps_the_others(page, console):
    sign_in(page, "alice", "alice-pass-1")
    page.goto(console["prod"].get_absolute_url())
    page.locator("#members").get_by_role("link", name="Add", exact=True).click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Pinned SSH host key")).to_be_visible()
    expect(dialog.get_by_label("WinRM authentication")).to_be_hidden()
    dialog.get_by_label("Pinned SSH host key").fill(KEY)
    dialog.get_by_label("Platform").select_option("windows")
    expect(dialog.get_by_label("WinRM authentication")).to_be_visible()
    expect(dialog.get_by_label("Pinned SSH host key")).to_be_hidden()
    dialog.get_by_label("Platform").select_option("linux")
    expect(dialog.get_by_label("Pinned SSH host key")).to_have_value(KEY)
    expect_accessible(page)
