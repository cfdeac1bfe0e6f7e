"""Hostile input everywhere: a clear message, nothing changed, nothing reaching a shell."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.forms import ClusterForm, MemberForm
from hacontrol.ha.models import AuditEvent, Job, Member, Upgrade
from hacontrol.ha.probe import probe_cluster
from hacontrol.lib.names import MEMBER_NAME
from tests.conftest import add_linux_member

HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(['a"b', "a'b", "<script>", "&amp;", "a\nb", "a\r\nb", "\x00", "\x1b[31m", "$(reboot)",
                     "`id`", "a;rm -rf /", "a|b", "../../etc/passwd", "x" * 10_000, "ünïcødé", "名前", "\u202e"]),
)
PRIORITY = st.one_of(st.integers(min_value=-10**12, max_value=10**12), st.text(max_size=20))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(name=HOSTILE, address=HOSTILE, priority=PRIORITY, path=HOSTILE, host_key=HOSTILE)
def test_adding_a_member_accepts_only_safe_values(cluster, name, address, priority, path, host_key):
    form = MemberForm({"name": name, "address": address, "priority": priority, "preferences_path": path,
                       "host_key": host_key, "platform": "linux", "username": "root", "winrm_auth": "ntlm"},
                      cluster=cluster)
    if not form.is_valid():
        assert all(message for messages in form.errors.values() for message in messages)
        return
    try:
        job = actions.add_member("alice", cluster, **form.action_values())
    except Refused as refusal:
        assert refusal.message and refusal.check and not Member.objects.exists()
        return
    member = job.member
    assert MEMBER_NAME.fullmatch(member.name) and 1 <= member.priority <= 1_000_000
    assert not any(c in member.address for c in " ;|&$`'\"\n<>")
    assert not any(c in member.preferences_path for c in "\r\n\x00\"")
    Job.objects.all().delete()
    Member.objects.all().delete()


@FAST
@given(name=HOSTILE, dns_name=HOSTILE, notes=HOSTILE, webhook=HOSTILE)
def test_the_cluster_form_never_fails_without_a_message(db, name, dns_name, notes, webhook):
    form = ClusterForm({"name": name, "dns_name": dns_name, "notes": notes, "notify_webhook": webhook})
    if not form.is_valid():
        assert form.errors


@FAST
@given(interval=st.one_of(st.none(), st.integers(-10**6, 10**6)), downtime=st.one_of(st.none(), st.integers(-10**6, 10**6)))
def test_tuning_keeps_the_vendor_ranges(cluster, interval, downtime):
    if not cluster.members.exists():
        Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.1")
    try:
        actions.tune("alice", cluster, interval=interval, max_downtime=downtime)
    except Refused as refusal:
        assert refusal.message
        return
    assert interval is None or 5 <= interval <= 15
    assert downtime is None or 20 <= downtime <= 120
    Job.objects.all().delete()


@FAST
@given(path=HOSTILE)
def test_an_installer_path_a_shell_or_cmd_could_misread_is_refused(cluster, path):
    if not cluster.members.exists():
        Member.objects.create(cluster=cluster, name="central1", priority=10, address="192.0.2.1")
    try:
        actions.start_upgrade("alice", cluster, installer_host_path=path, target_version="11.1.0")
    except Refused as refusal:
        assert refusal.message
        return
    assert not any(c in path for c in "\"'`$;&|<>%^\n\r\x00")
    Upgrade.objects.all().delete()


@pytest.mark.parametrize("priority", ["-1", "0", "99999999999", "ten"])
def test_bad_priorities_get_a_clear_message_and_change_nothing(admin_client, cluster, priority):
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        "name": "central1", "priority": priority, "address": "192.0.2.1", "platform": "linux",
        "username": "root", "winrm_auth": "ntlm"})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not Member.objects.exists() and not Job.objects.exists()


def test_a_changed_host_key_is_refused_shown_and_accepted_only_explicitly(admin_client, cluster, ssh_hosts, client_key):
    host = ssh_hosts[3]
    host.set_name("central1")
    host.central.restart()
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    old_fingerprint = member.host_key_fingerprint
    host.change_host_key()
    probe_cluster(cluster)
    member.refresh_from_db()
    assert member.state == "offline" and "host key changed" in member.state_reason
    page = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert member.presented_key_fingerprint in page and old_fingerprint in page and "changed" in page
    admin_client.post(reverse("member-accept-host-key", args=[cluster.pk, member.pk]),
                      {"reason": "host rebuilt", "fingerprint": member.presented_key_fingerprint})
    member.refresh_from_db()
    assert member.host_key == " ".join((host.root / "ssh_host_ed25519_key_new.pub").read_text().split()[:2])
    event = AuditEvent.objects.get(action="host key accepted")
    assert old_fingerprint in event.detail and member.host_key_fingerprint in event.detail and event.reason == "host rebuilt"
    probe_cluster(cluster)
    member.refresh_from_db()
    assert member.state != "offline", member.state_reason


def test_accepting_a_host_key_pins_only_the_one_the_administrator_saw(admin_client, cluster, ssh_hosts, client_key):
    host = ssh_hosts[3]
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    host.change_host_key()
    probe_cluster(cluster)
    member.refresh_from_db()
    seen = member.presented_key_fingerprint
    host.change_host_key()  # a second, different key turns up before the administrator clicks
    probe_cluster(cluster)
    response = admin_client.post(reverse("member-accept-host-key", args=[cluster.pk, member.pk]),
                                 {"reason": "rebuilt", "fingerprint": seen}, follow=True)
    member.refresh_from_db()
    assert f"not the {seen} you accepted" in response.content.decode()
    assert member.host_key_fingerprint != member.presented_key_fingerprint
    assert AuditEvent.objects.get(action="host key accepted").outcome == "refused"
