"""States as Central decides them, checked against the simulated Central's truth.

hacontrol never reads that truth: it looks at the hosts (service, start time, name, database,
heartbeat settings) and applies the vendor's rules. These tests compare its answers with what the
simulator, written from the vendor's documents, says is really going on.
"""

import contextlib
import json
import time

import pytest
from django.core.management import CommandError, call_command

from hacontrol.ha import actions
from hacontrol.ha.models import AuditEvent, Cluster, JobStatus, State
from hacontrol.ha.probe import probe_cluster
from tests.conftest import AdministratorAtTheConsole, add_member, finish

# The simulated hosts use HeartbeatInterval 5 and HeartbeatMaxAllowedDowntime 20 (the vendor's
# shortest): Central fails over within 25 s of the Active member's last heartbeat.
FAILOVER_WINDOW = 20 + 5 + 1


@pytest.fixture
def trio(cluster, ssh_hosts, client_key, micetro):
    """central1 (10, Active), central2 (20), central3 (30), built by hacontrol's own procedures."""
    for index, name in enumerate(["central1", "central2", "central3"]):
        job = add_member(cluster, ssh_hosts[index], client_key, name, micetro)
        assert job.status == JobStatus.SUCCEEDED, job.error
    assert micetro.truth() == {"central1": "active", "central2": "standby", "central3": "standby"}
    return ssh_hosts[:3]


def answer(cluster):
    """hacontrol's states after one look, by member name."""
    return {m.name: m.state for m in probe_cluster(cluster)}


class Referee:
    """Looks at the cluster again and again, comparing hacontrol's answer with the simulator's
    truth; counts every wrong Active answer (one member called Active that is not, or called
    Standby while it is). A look during which the truth itself changed proves nothing: skipped."""

    def __init__(self, cluster, micetro, answer=answer):
        self.cluster, self.micetro, self.answer = cluster, micetro, answer
        self.looks = self.wrong = 0
        self.mistakes: list[str] = []

    def look(self) -> tuple[dict, dict]:
        before = self.micetro.truth()
        said = self.answer(self.cluster)
        after = self.micetro.truth()
        if before != after:
            return said, after
        self.looks += 1
        for name, state in said.items():
            really_active = after.get(name) == "active"
            if (state == State.ACTIVE and not really_active) or (state == State.STANDBY and really_active):
                self.wrong += 1
                self.mistakes.append(f"{name}: hacontrol {state}, truly {after.get(name)}")
        return said, after

    def until_settled(self, expected: dict[str, str], within: float) -> dict:
        """Look every second until hacontrol says ``expected`` (and it is true); fail after ``within`` s."""
        deadline = time.monotonic() + within
        while True:
            said, truth = self.look()
            if said == expected:
                assert {n: s for n, s in truth.items() if s == "active"} == \
                    {n: "active" for n, s in expected.items() if s == State.ACTIVE}
                return said
            assert time.monotonic() < deadline, f"hacontrol says {said}, truth is {truth}"
            time.sleep(1)


def test_a_stopped_active_member_fails_over_only_after_the_allowed_downtime(cluster, trio, micetro):
    referee = Referee(cluster, micetro)
    stopped = time.monotonic()
    trio[0].central.stop()
    said, truth = referee.look()
    assert said == {"central1": "offline", "central2": "standby", "central3": "standby"}
    cluster.refresh_from_db()
    assert "Failing over from central1 to central2" in cluster.ha_note and cluster.failover["to"] == ["central2"]
    referee.until_settled({"central1": "offline", "central2": "active", "central3": "standby"}, FAILOVER_WINDOW + 10)
    assert time.monotonic() - stopped >= 20 - 5, "never Active before the allowed downtime could have passed"
    assert referee.wrong == 0, referee.mistakes
    assert AuditEvent.objects.filter(action="failover", detail="Central failed over from central1 to central2").count() == 1
    # The former Active returns: Active is sticky, it is Standby now (health bar, failure state).
    trio[0].central.start()
    referee.until_settled({"central1": "standby", "central2": "active", "central3": "standby"}, 10)
    assert micetro.truth()["central1"] == "standby" and referee.wrong == 0, referee.mistakes


def test_a_restart_of_the_active_member_within_the_allowed_downtime_keeps_it_active(cluster, trio, micetro):
    trio[0].central.restart()
    referee = Referee(cluster, micetro)
    referee.until_settled({"central1": "active", "central2": "standby", "central3": "standby"}, 5)
    assert referee.wrong == 0


def test_the_walk_stop_crash_return_switchover_counts_no_wrong_active_answer(cluster, trio, micetro):
    """The sequences of issue 11, end to end, with the CLI-free actions: every look compared."""
    referee = Referee(cluster, micetro)
    first, second, third = trio
    second.central.stop()  # a Standby stops: nothing changes hands
    referee.until_settled({"central1": "active", "central2": "offline", "central3": "standby"}, 5)
    second.central.start()
    referee.until_settled({"central1": "active", "central2": "standby", "central3": "standby"}, 5)
    first.central.crash()  # the Active one crashes
    referee.until_settled({"central1": "offline", "central2": "active", "central3": "standby"}, FAILOVER_WINDOW + 10)
    first.central.start()  # and returns, as Standby
    referee.until_settled({"central1": "standby", "central2": "active", "central3": "standby"}, 10)
    job = actions.switchover("alice", cluster.members.get(name="central3"))  # Set Active to the last member
    assert finish(job, micetro).status == JobStatus.SUCCEEDED, job.error
    referee.until_settled({"central1": "standby", "central2": "standby", "central3": "active"}, 10)
    assert {m.name: m.priority for m in cluster.members.all()} == {"central1": 10, "central2": 20, "central3": 30}
    print(f"\nwalk: {referee.looks} looks compared with the truth, {referee.wrong} wrong Active answers")
    assert referee.wrong == 0, referee.mistakes


def test_without_a_history_two_running_members_are_unknown_not_guessed(cluster, ssh_hosts, client_key, micetro):
    from tests.conftest import add_linux_member

    for index, (name, priority) in enumerate([("central1", 10), ("central2", 20)]):
        ssh_hosts[index].set_name(name)
        micetro.register(name, priority)
        ssh_hosts[index].central.restart()
        add_linux_member(cluster, ssh_hosts[index], client_key, name, priority)
    said = answer(cluster)
    assert said == {"central1": "unknown", "central2": "unknown"}
    member = cluster.members.get(name="central1")
    assert "does not know which member Central made Active" in member.state_reason


def test_an_unreachable_host_is_offline_and_nobody_is_called_active_in_its_place(cluster, trio, micetro):
    trio[0].stop()  # sshd only: Central keeps running there, still Active
    referee = Referee(cluster, micetro)
    said, truth = referee.look()
    assert said["central1"] == "offline" and truth["central1"] == "active"
    member = cluster.members.get(name="central1")
    assert member.state_reason.startswith(f"host unreachable: {trio[0].address}:2222 refused the connection")
    time.sleep(FAILOVER_WINDOW - 20 + 1)
    for _ in range(3):
        said, truth = referee.look()
        assert "active" not in said.values(), "hacontrol cannot know: it must not name another Active"
    assert referee.wrong == 0, referee.mistakes


def test_a_name_changed_on_the_host_is_a_name_mismatch(cluster, trio, micetro):
    trio[1].preferences.write_text(trio[1].preferences.read_text().replace("central2", "centralX"))
    trio[1].central.restart()
    assert answer(cluster)["central2"] == "offline"
    assert cluster.members.get(name="central2").state_reason == "name mismatch: the host calls itself 'centralX'"


def test_a_member_removed_from_micetro_is_not_a_member(cluster, trio, micetro):
    micetro.unregister("central3")
    cluster.members.filter(name="central3").update(registered=False)
    said = answer(cluster)
    assert said["central3"] == "offline" and micetro.truth()["central3"] in ("not-a-member", "standby")


def test_a_member_on_another_database_is_reported_as_such(cluster, trio, micetro):
    prefs = trio[2].preferences
    prefs.write_text(prefs.read_text().replace("db.example.com@mmsuite", "db2.example.com@mmsuite"))
    trio[2].central.restart()
    said = answer(cluster)
    assert said["central3"] == "offline"
    assert "uses another Central database" in cluster.members.get(name="central3").state_reason


def test_a_hung_host_never_holds_up_another_cluster(cluster, trio, micetro, settings, client_key, ssh_hosts):
    from hacontrol.ha.models import Cluster
    from hacontrol.ha.probe import probe_clusters

    settings.HACONTROL_COMMAND_TIMEOUT = 1
    other = Cluster.objects.create(name="other")
    trio[0].fault("hang")
    started = time.monotonic()
    result = probe_clusters([cluster, other])
    assert time.monotonic() - started < 5
    assert cluster.members.get(name="central1").state_reason.endswith("did not finish within 1 s")
    assert {m.name: m.state for m in result[cluster.pk]}["central2"] == "standby"


def test_a_member_whose_clock_runs_far_ahead_is_never_answered_with_a_guess(cluster, trio, micetro):
    """The vendor: clocks out of sync cause unwanted failovers. Central may fail over on its own;
    hacontrol, which sees the clocks, says it cannot tell rather than keep calling the old one Active."""
    trio[1].central.clock_offset = 40
    trio[1].central.restart()
    referee = Referee(cluster, micetro)
    said, truth = referee.look()
    assert said["central1"] == "unknown" and said["central2"] == "unknown"
    assert referee.wrong == 0, referee.mistakes


def test_through_the_cli_every_step_of_add_stop_return_and_switchover_agrees_with_central(
        transactional_db, ssh_hosts, client_key, micetro, monkeypatch, capsys):
    """Issue 11's sequence as an administrator types it: `ha member add` three times (each
    registration done in Micetro when the CLI asks), the Active member stopped and started again,
    `ha switchover --to central3`; `ha check --json` after each, compared with the truth."""
    monkeypatch.setattr("sys.stdin", AdministratorAtTheConsole(micetro))

    def ha_check(cluster) -> dict:
        with contextlib.suppress(CommandError):  # exits 1 while a member is down: the answer is printed first
            call_command("ha", "check", cluster.name, "--json")
        return {row["name"]: row["state"] for row in json.loads(capsys.readouterr().out)["members"]}

    call_command("ha", "cluster", "create", "lab")
    for host, name in zip(ssh_hosts[:3], ["central1", "central2", "central3"], strict=True):
        call_command("ha", "member", "add", "lab", name, "--address", host.address, "--port", str(host.port),
                     "--key-file", str(client_key), "--host-key", host.host_key_line)
    capsys.readouterr()
    referee = Referee(Cluster.objects.get(name="lab"), micetro, answer=ha_check)
    referee.until_settled({"central1": "active", "central2": "standby", "central3": "standby"}, 5)
    ssh_hosts[0].central.stop()
    referee.until_settled({"central1": "offline", "central2": "active", "central3": "standby"}, FAILOVER_WINDOW + 10)
    ssh_hosts[0].central.start()
    referee.until_settled({"central1": "standby", "central2": "active", "central3": "standby"}, 10)
    call_command("ha", "switchover", "lab", "--to", "central3")  # raises unless the job succeeded
    capsys.readouterr()
    referee.until_settled({"central1": "standby", "central2": "standby", "central3": "active"}, 10)
    assert micetro.truth() == {"central1": "standby", "central2": "standby", "central3": "active"}
    assert referee.wrong == 0 and referee.looks >= 4, referee.mistakes
