"""Hostile input everywhere: a clear message, nothing changed, nothing reaching a shell."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hacontrol.ha.forms import ClusterForm, MemberForm, TuningForm, UpgradeForm
from hacontrol.ha.models import AuditEvent, Job, Member
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
def test_the_member_form_accepts_only_safe_values(cluster, name, address, priority, path, host_key):
    form = MemberForm({"name": name, "address": address, "priority": priority, "preferences_path": path,
                       "host_key": host_key, "platform": "linux", "username": "root", "winrm_auth": "ntlm"},
                      cluster=cluster)
    if form.is_valid():
        assert MEMBER_NAME.fullmatch(form.cleaned_data["name"])
        assert 1 <= form.cleaned_data["priority"] <= 1_000_000
        assert not any(c in form.cleaned_data["address"] for c in " ;|&$`'\"\n<>")
    else:
        assert all(message for messages in form.errors.values() for message in messages)
    assert not Member.objects.exists()


@FAST
@given(name=HOSTILE, dns_name=HOSTILE, notes=HOSTILE, webhook=HOSTILE)
def test_the_cluster_form_never_fails_without_a_message(db, name, dns_name, notes, webhook):
    form = ClusterForm({"name": name, "dns_name": dns_name, "notes": notes, "notify_webhook": webhook})
    if not form.is_valid():
        assert form.errors


@FAST
@given(interval=PRIORITY, downtime=PRIORITY)
def test_the_tuning_form_keeps_the_vendor_ranges(cluster, interval, downtime):
    form = TuningForm({"heartbeat_interval": interval, "heartbeat_max_downtime": downtime}, instance=cluster)
    if form.is_valid():
        interval, downtime = form.cleaned_data["heartbeat_interval"], form.cleaned_data["heartbeat_max_downtime"]
        assert interval is None or 5 <= interval <= 15
        assert downtime is None or 20 <= downtime <= 120


@FAST
@given(path=HOSTILE, version=HOSTILE)
def test_the_upgrade_form_refuses_paths_a_shell_could_misread(path, version):
    form = UpgradeForm({"installer_host_path": path, "target_version": version})
    if form.is_valid():
        assert not any(c in form.cleaned_data["installer_host_path"] for c in "\"'`$;&|<>\n")


@pytest.mark.parametrize("priority", ["-1", "0", "99999999999", "ten"])
def test_bad_priorities_get_a_clear_message_and_change_nothing(admin_client, cluster, priority):
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        "name": "central1", "priority": priority, "address": "192.0.2.1", "platform": "linux",
        "username": "root", "winrm_auth": "ntlm"})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not Member.objects.exists() and not Job.objects.exists()


def test_a_changed_host_key_is_refused_shown_and_accepted_only_explicitly(admin_client, cluster, ssh_hosts, client_key):
    host = ssh_hosts[3]
    host.preferences.write_text(host.preferences.read_text() + '<ClusterMemberName value="central1"/>\n')
    member = add_linux_member(cluster, host, client_key, "central1", 10)
    old_fingerprint = member.host_key_fingerprint
    host.change_host_key()
    probe_cluster(cluster)
    member.refresh_from_db()
    assert member.state == "offline" and "host key changed" in member.state_reason
    page = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert member.presented_key_fingerprint in page and old_fingerprint in page and "changed" in page
    admin_client.post(reverse("member-accept-host-key", args=[cluster.pk, member.pk]), {"reason": "host rebuilt"})
    member.refresh_from_db()
    assert member.host_key == " ".join((host.root / "ssh_host_ed25519_key_new.pub").read_text().split()[:2])
    event = AuditEvent.objects.get(action="host key accepted")
    assert old_fingerprint in event.detail and member.host_key_fingerprint in event.detail and event.reason == "host rebuilt"
    probe_cluster(cluster)
    member.refresh_from_db()
    assert member.state == "active"
