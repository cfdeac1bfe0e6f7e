"""Live state against the real test hosts: probes, failover, history, notifications, tuning."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from hacontrol.ha.jobs import create_job, run_job
from hacontrol.ha.models import AuditEvent, Member, StateChange
from hacontrol.ha.probe import probe_cluster, probe_clusters
from hacontrol.lib.prefs import Preferences
from tests.conftest import add_linux_member


@pytest.fixture
def two_members(cluster, ssh_hosts, client_key):
    """A running cluster: central1 (10) on the first host, central2 (20) on the second."""
    for index, (name, priority) in enumerate([("central1", 10), ("central2", 20)]):
        host = ssh_hosts[index]
        host.preferences.write_text(host.preferences.read_text() + f'<ClusterMemberName value="{name}"/>\n')
        add_linux_member(cluster, host, client_key, name, priority)
    probe_cluster(cluster)
    return ssh_hosts[:2]


def state(cluster, name):
    member = cluster.members.get(name=name)
    return member.state, member.state_reason


def test_the_lowest_running_priority_is_active_the_rest_standby(cluster, two_members):
    assert state(cluster, "central1") == ("active", "")
    assert state(cluster, "central2") == ("standby", "")
    member = cluster.members.get(name="central1")
    assert member.version == "11.0.3" and member.last_seen and abs(member.clock_skew) < 2


def test_when_the_active_member_stops_the_standby_takes_over_and_it_is_recorded(cluster, two_members):
    two_members[0].set_service("inactive")
    probe_cluster(cluster)
    assert state(cluster, "central1") == ("offline", "service stopped")
    assert state(cluster, "central2") == ("active", "")
    event = AuditEvent.objects.get(action="failover")
    assert event.actor == "system" and "central2 took over from central1 (service stopped)" in event.detail
    assert list(StateChange.objects.filter(member__name="central2").values_list("from_state", "to_state")) == [
        ("standby", "active"), ("unknown", "standby")]


def test_a_host_whose_sshd_is_down_is_offline_as_unreachable(cluster, two_members):
    two_members[1].stop()
    probe_cluster(cluster)
    reason = state(cluster, "central2")
    assert reason[0] == "offline" and reason[1].startswith("host unreachable: 127.0.0.11:2222 refused the connection")
    assert cluster.members.get(name="central2").last_error


def test_a_host_whose_name_was_edited_is_offline_as_a_name_mismatch(cluster, two_members):
    prefs = two_members[1].preferences
    prefs.write_text(prefs.read_text().replace("central2", "centralX"))
    probe_cluster(cluster)
    assert state(cluster, "central2") == ("offline", "name mismatch: the host calls itself 'centralX'")


def test_a_hung_host_never_holds_up_another_cluster(cluster, two_members, settings, client_key, ssh_hosts):
    from hacontrol.ha.models import Cluster

    settings.HACONTROL_COMMAND_TIMEOUT = 1
    other = Cluster.objects.create(name="other")
    ssh_hosts[2].preferences.write_text(ssh_hosts[2].preferences.read_text() + '<ClusterMemberName value="o1"/>\n')
    add_linux_member(other, ssh_hosts[2], client_key, "o1", 10)
    two_members[0].fault("hang")
    result = probe_clusters([cluster, other])
    assert {m.name: m.state for m in result[other.pk]} == {"o1": "active"}
    assert state(cluster, "central1")[1].endswith("did not finish within 1 s")


def test_a_skewed_clock_is_warned_about_on_the_panel(cluster, two_members, admin_client):
    Member.objects.filter(name="central2").update(commands={"clock": "echo 1000000000"})
    probe_cluster(cluster)
    assert "clock is" in admin_client.get(cluster.get_absolute_url()).content.decode()


def test_the_panel_draws_the_timeline_of_the_last_day(cluster, two_members, admin_client):
    two_members[0].set_service("inactive")
    probe_cluster(cluster)
    content = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert 'class="tl-offline"' in content and 'class="tl-active"' in content and "Last 24 hours" in content


class Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_going_offline_and_failing_over_notify_by_mail_and_webhook(cluster, two_members, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster.notify_email = "ops@example.com"
    cluster.notify_webhook = f"http://127.0.0.1:{server.server_port}/hook"
    cluster.save()
    two_members[0].set_service("inactive")
    with django_capture_on_commit_callbacks(execute=True):
        probe_cluster(cluster)
    server.shutdown()
    assert sorted(hook["event"] for hook in Hook.received) == ["failover", "offline"]
    assert {m.subject for m in mail.outbox} == {
        "[hacontrol] prod: central1 is Offline: service stopped",
        "[hacontrol] prod: central2 took over from central1 (service stopped)",
    }


def test_tuning_writes_heartbeats_secondaries_first(cluster, two_members):
    cluster.heartbeat_interval, cluster.heartbeat_max_downtime = 5, 40
    cluster.save()
    job = create_job("tune", cluster, "alice")
    assert run_job(job.pk) == "succeeded"
    for host in two_members:
        prefs = Preferences.parse(host.preferences.read_bytes())
        assert (prefs.get("HeartbeatInterval"), prefs.get("HeartbeatMaxAllowedDowntime")) == ("5", "40")
    restarts = [step.name for step in job.steps.all() if step.name.startswith("Restart")]
    assert restarts == ["Restart Central on central2", "Restart Central on central1"]


def test_the_panel_shows_members_whose_heartbeats_disagree(cluster, two_members, admin_client):
    prefs = two_members[1].preferences
    prefs.write_text(prefs.read_text() + '<HeartbeatInterval value="7"/>\n')
    probe_cluster(cluster)
    assert "Heartbeat settings disagree" in admin_client.get(cluster.get_absolute_url()).content.decode()


def test_ha_dns_prints_the_comparison(cluster, two_members, capsys):
    from django.core.management import CommandError, call_command

    from tests.hosts.dns_server import ZoneServer

    server = ZoneServer({"central.example.com": ["127.0.0.10", "198.51.100.9"]})
    cluster.dns_resolver = server.address
    cluster.save()
    try:
        with pytest.raises(CommandError, match="does not match the members"):
            call_command("ha", "dns", "prod")
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert "central1             127.0.0.10                               present" in out
    assert "central2             127.0.0.11                               MISSING" in out
    assert "198.51.100.9" in out and "EXTRA" in out
    cluster.refresh_from_db()
    assert cluster.dns_report["extra"] == ["198.51.100.9"]


def test_job_output_never_shows_a_stored_password(cluster, ssh_hosts, client_key):
    member = add_linux_member(cluster, ssh_hosts[0], client_key, "central1", 10, password="Pa55-word-xyz")
    member.commands = {"version": "echo Pa55-word-xyz 11.0.3"}
    member.save()
    job = create_job("add", cluster, "alice", member=member)
    run_job(job.pk)
    output = "".join(step.output for step in job.steps.all())
    assert "Pa55-word-xyz" not in output and "echo ******** 11.0.3" in output
