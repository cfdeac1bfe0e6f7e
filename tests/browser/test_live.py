"""The panel tells the truth without a reload."""

import pytest
from playwright.sync_api import expect

from tests.conftest import add_linux_member, sign_in

pytestmark = pytest.mark.browser


def test_badges_change_without_a_reload_when_a_member_stops(page, admin, cluster, worker, ssh_hosts, client_key):
    members = []
    for index, (name, priority) in enumerate([("central1", 10), ("central2", 20)]):
        host = ssh_hosts[index]
        host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')
        members.append(add_linux_member(cluster, host, client_key, name, priority))
    sign_in(page, "alice", "alice-pass-1")
    page.goto(cluster.get_absolute_url())
    first, second = (page.locator(f"#member-{m.pk}") for m in members)
    expect(first).to_contain_text("ACTIVE", timeout=20000)
    expect(second).to_contain_text("STANDBY", timeout=20000)
    page.evaluate("window.stillTheSamePage = true")

    ssh_hosts[0].set_service("inactive")
    expect(first).to_contain_text("OFFLINE", timeout=20000)
    expect(first).to_contain_text("service stopped")
    expect(second).to_contain_text("ACTIVE")
    assert page.evaluate("window.stillTheSamePage") is True
