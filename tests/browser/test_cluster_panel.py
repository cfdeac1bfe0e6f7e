"""The Manage High Availability panel in headless Chromium, with a real worker and SSH hosts running
the simulated Central: a cluster built from nothing with the keyboard, Micetro's own steps done
when the job asks, and the panel followed live (never reloaded) against Central's truth."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hacontrol.ha.models import AuditEvent, Cluster, Member
from hacontrol.lib.prefs import Preferences
from tests.browser.console import (
    TruthWatch,
    expect_accessible,
    expect_job_to_end,
    expect_job_to_wait_for_micetro,
    unlabelled_fields,
)
from tests.conftest import sign_in
from tests.hosts.ssh_hosts import FRESH_PREFERENCES

pytestmark = pytest.mark.browser


def focused(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def fill_member_form(dialog, host, key, name: str, priority: int | None = None) -> None:
    dialog.get_by_label("ClusterMemberName").fill(name)
    if priority is not None:
        dialog.get_by_label("Priority").fill(str(priority))
    dialog.get_by_label("Address").fill(host.address)
    dialog.get_by_label("Port").fill(str(host.port))
    dialog.get_by_label("SSH private key", exact=True).fill(key.read_text())
    dialog.get_by_label("Pinned SSH host key").fill(host.host_key_line)


def test_a_cluster_is_built_in_the_panel_with_the_keyboard_and_a_freshly_installed_failover_joins(
        page, live_server, admin, worker, ssh_hosts, client_key, micetro):
    fresh = ssh_hosts[1]
    fresh.reset(FRESH_PREFERENCES)  # vendor step 7: Central as installed, on its SQLite defaults
    sign_in(page, "alice", "alice-pass-1")
    expect(page.get_by_role("heading", name="No cluster yet")).to_be_visible()
    expect(page.locator(".empty .cli")).to_contain_text("python manage.py ha cluster create")

    # 1. A cluster, with the keyboard only: the dialog takes the focus, Escape closes it.
    add_cluster = page.get_by_role("link", name="Add cluster")
    add_cluster.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Add a cluster")).to_be_visible()
    assert focused(page) == "id_name", "the dialog's first field has the focus"
    assert not unlabelled_fields(page, "#modal")
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    assert focused(page) == "" or page.evaluate("document.activeElement.textContent") == "Add cluster"
    add_cluster.focus()
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("heading", name="Add a cluster")).to_be_visible()
    page.keyboard.type("prod")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Manage High Availability: prod")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Cluster prod created")
    expect(page.locator("#members .empty")).to_contain_text("No member yet")
    cluster = Cluster.objects.get(name="prod")
    expect_accessible(page)

    # A second window stays on the panel from here on and is never reloaded.
    watcher = page.context.new_page()
    watcher.goto(cluster.get_absolute_url())
    watch = TruthWatch(watcher, micetro)
    page.bring_to_front()  # the watcher is only read; clicks go to the page in front

    # 2. The first member: its job waits for the registration in Micetro, as the page says.
    page.get_by_role("link", name="Add", exact=True).click()
    expect(dialog.get_by_role("heading", name="Add a member to prod")).to_be_visible()
    expect(dialog.locator(".hint")).to_contain_text("This is the first member")
    expect(dialog.get_by_label("Priority")).to_have_value("10")
    assert focused(page) == "id_name"
    assert not unlabelled_fields(page, "#modal")
    expect(dialog.locator(".cli")).to_contain_text("python manage.py ha member add prod NAME")
    fill_member_form(dialog, ssh_hosts[0], client_key, "central1")
    dialog.get_by_role("button", name="Add member").click()
    expect_job_to_wait_for_micetro(page, "Add the member central1 with priority 10")
    expect(page.locator("#job .cli").first).to_contain_text("python manage.py ha job confirm")
    expect_accessible(page)
    watch.until(lambda shown: shown.get("central1") == "MAINTENANCE", 15, "central1 in maintenance")
    expect(watcher.locator("#members .banner.warn").first).to_contain_text(
        "waits for you in Micetro: Add the member central1 with priority 10")
    micetro.register("central1", 10)
    page.get_by_role("button", name="Done in Micetro: continue").click()
    expect_job_to_end(page)
    watch.until(lambda shown: shown == {"central1": "ACTIVE"}, 20, "central1 ACTIVE")
    assert micetro.truth() == {"central1": "active"}

    # 3. A failover on a freshly installed host: a taken priority is refused naming its owner.
    page.goto(cluster.get_absolute_url())
    page.get_by_role("link", name="Add", exact=True).click()
    expect(dialog.locator(".hint")).to_contain_text("a freshly installed host's own file is only backed up")
    expect(dialog.get_by_label("Priority")).to_have_value("20")
    fill_member_form(dialog, fresh, client_key, "central2", priority=10)
    dialog.get_by_role("button", name="Add member").click()
    error = dialog.locator(".field.invalid .error")
    expect(error).to_have_text("priority 10 is already central1's; priorities are unique in a cluster")
    expect(dialog.get_by_label("Priority")).to_have_attribute("aria-invalid", "true")
    assert focused(page) == "id_priority", "the focus lands on the refused field"
    assert not Member.objects.filter(name="central2").exists(), "a refused add leaves no record"
    assert AuditEvent.objects.filter(action="member add", outcome="refused", detail__startswith="priority-taken").exists()
    dialog.get_by_label("Priority").fill("20")
    # Secrets are never sent back into the page: the key is entered again.
    dialog.get_by_label("SSH private key", exact=True).fill(client_key.read_text())
    dialog.get_by_role("button", name="Add member").click()
    expect_job_to_wait_for_micetro(page, "Add the member central2 with priority 20")

    # Confirmed from the panel's banner this time.
    expect(watcher.locator("#members .banner.warn").first).to_contain_text(
        "Add the member central2 with priority 20", timeout=10000)
    page.goto(cluster.get_absolute_url())
    banner = page.locator("#members .banner.warn").first
    expect(banner).to_contain_text("python manage.py ha job confirm")
    micetro.register("central2", 20)
    banner.get_by_role("button", name="Done in Micetro: continue").click()
    expect_job_to_end(page)
    watch.until(lambda shown: shown == {"central1": "ACTIVE", "central2": "STANDBY"}, 20, "central2 STANDBY")
    assert micetro.truth() == {"central1": "active", "central2": "standby"}
    prefs = Preferences.parse(fresh.preferences.read_bytes())
    assert (prefs.database_type, prefs.get("ClusterMemberName")) == ("postgresql", "central2")
    assert any("sqlite" in backup.read_text() for backup in fresh.backups()), "the fresh file was backed up"
    assert list(Member.objects.values_list("name", "priority", "registered")) == [
        ("central1", 10, True), ("central2", 20, True)]
    expect(watcher.locator("#announcer")).to_have_text("central1 Active, central2 Standby.")
    expect_accessible(watcher)
