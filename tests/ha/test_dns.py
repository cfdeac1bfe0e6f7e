"""The vendor's steps 11 and 12 for real: the round-robin name fixed by a job (one signed RFC 2136
update to a real BIND 9, read back by AXFR), kept in step when members come and go, and verified
through the name against the simulated Centrals' port 1231."""

import io
import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from hacontrol.ha import actions
from hacontrol.ha.errors import Refused
from hacontrol.ha.jobs import run_here
from hacontrol.ha.models import AuditEvent, Cluster, Job, JobKind, JobStatus, JobStep, Member, StepStatus
from hacontrol.ha.probe import check_dns
from hacontrol.ha.procedures import REGISTRY
from hacontrol.ha.procedures.base import JobContext
from hacontrol.ha.runner import JobRunner, recover_expired_jobs
from tests.conftest import add_member, finish, linux_member_values
from tests.conftest import loopback as net_address
from tests.hosts.bind_server import ALGORITHM, KEY_NAME, new_secret

NAME = "central.example.com"


def dns_settings(bind, **extra) -> dict:
    return {"dns_zone": "example.com", "dns_server": bind.server, "dns_key_name": KEY_NAME,
            "dns_key_algorithm": ALGORITHM, "dns_key_secret": bind.secret, "dns_resolver": bind.server} | extra


@pytest.fixture
def dns_cluster(cluster, bind) -> Cluster:
    """The 'prod' cluster, allowed to update central.example.com on the test BIND."""
    return actions.edit_cluster("alice", cluster, **dns_settings(bind))


def record_members(cluster, addresses) -> list[Member]:
    """Members as records only (Fix DNS never touches the hosts)."""
    return [Member.objects.create(cluster=cluster, name=f"central{i}", priority=10 * i, address=address)
            for i, address in enumerate(addresses, start=1)]


@pytest.fixture
def trio(dns_cluster) -> list[Member]:
    return record_members(dns_cluster, [net_address(10), net_address(11), net_address(12)])


@pytest.fixture
def listening():
    """Open a TCP port on an address, standing in for Central; closed after the test."""
    sockets = []

    def open_port(address: str, port: int = 0) -> int:
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        sock.bind((address, port))
        sock.listen(8)
        sockets.append(sock)
        return sock.getsockname()[1]

    yield open_port
    for sock in sockets:
        sock.close()


def steps_of(job):
    return {step.name: step for step in job.steps.all()}


# Fix DNS ----------------------------------------------------------------------------------------

def test_fix_dns_adds_every_members_address_and_the_check_turns_green(dns_cluster, trio, bind):
    plan = actions.plan_dns(dns_cluster)
    assert [(c.action, c.address) for c in plan.changes] == [("add", net_address(n)) for n in (10, 11, 12)]
    job = actions.fix_dns("alice", dns_cluster, seen=plan.digest())
    assert run_here(job) == JobStatus.SUCCEEDED, Job.objects.get(pk=job.pk).error
    assert bind.records() == {f"{NAME}. A": {net_address(10), net_address(11), net_address(12)}}
    dns_cluster.refresh_from_db()
    assert dns_cluster.dns_report["ok"] and dns_cluster.dns_report["extra"] == []
    update = job.steps.get(position=1)
    assert update.name.startswith(f"Update {NAME} on {bind.server}: 3 to add")
    assert f"read back from {bind.server}: A {net_address(10)}, {net_address(11)}, {net_address(12)} (TTL 300)" \
        in update.output
    assert AuditEvent.objects.filter(action="dns fix", outcome="ok", detail__contains="add A").exists()


def test_records_of_no_member_are_deleted_only_when_confirmed(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": [net_address(10), "198.51.100.7"]})
    with pytest.raises(Refused) as refused:
        actions.fix_dns("alice", dns_cluster)
    assert refused.value.check == "confirm-deletions" and "198.51.100.7" in refused.value.message
    assert AuditEvent.objects.filter(action="dns fix", outcome="refused").exists()
    job = actions.fix_dns("alice", dns_cluster, confirm_deletions=True)
    assert run_here(job) == JobStatus.SUCCEEDED
    assert bind.addresses(NAME) == {net_address(10), net_address(11), net_address(12)}


def test_a_name_that_already_matches_has_nothing_to_fix(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": [net_address(10), net_address(11), net_address(12)]})
    with pytest.raises(Refused, match="already holds exactly the members' addresses"):
        actions.fix_dns("alice", dns_cluster)


def test_a_change_after_the_plan_was_shown_refuses_the_fix(dns_cluster, trio, bind):
    plan = actions.plan_dns(dns_cluster)
    bind.change(NAME, add={"A": ["203.0.113.5"]})
    with pytest.raises(Refused) as refused:
        actions.fix_dns("alice", dns_cluster, seen=plan.digest(), confirm_deletions=True)
    assert refused.value.check == "dns-changed"
    assert bind.addresses(NAME) == {"203.0.113.5"}


def test_a_change_after_the_job_was_asked_for_is_refused_by_the_server_not_overwritten(dns_cluster, trio, bind):
    job = actions.fix_dns("alice", dns_cluster)
    bind.change(NAME, add={"A": ["203.0.113.5"]})  # another administrator, before the worker runs it
    assert run_here(job) == JobStatus.FAILED
    job.refresh_from_db()
    assert "changed since it was read" in job.error and "nothing was changed" in job.error
    assert bind.addresses(NAME) == {"203.0.113.5"}


def test_a_wrong_key_fails_the_job_and_changes_nothing(dns_cluster, trio, bind):
    Cluster.objects.filter(pk=dns_cluster.pk).update(dns_key_secret=new_secret())  # through the field: encrypted
    job = actions.fix_dns("alice", Cluster.objects.get(pk=dns_cluster.pk))
    assert run_here(job) == JobStatus.FAILED
    job.refresh_from_db()
    assert "(BADSIG)" in job.error
    assert bind.records() == {}


def test_cancelling_after_the_update_puts_the_previous_records_back(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": [net_address(10), "198.51.100.7"]}, ttl=120)
    job = actions.fix_dns("alice", dns_cluster, confirm_deletions=True)
    runner = JobRunner(job.pk, echo=lambda line: line.startswith("[1/") and runner.request_cancel("bob", "wrong zone"))
    assert run_here(job, runner=runner) == JobStatus.CANCELLED
    assert bind.records() == {f"{NAME}. A": {net_address(10), "198.51.100.7"}}
    assert bind.ttl(NAME) == 120
    update = job.steps.get(position=1)
    assert update.status == StepStatus.UNDONE and f"{bind.server} put it back" in update.output


def test_a_fix_whose_process_died_after_sending_is_undone_by_whoever_recovers_it(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": ["198.51.100.7"]})
    job = actions.fix_dns("alice", dns_cluster, confirm_deletions=True)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, worker="gone:1",
                                         lease_expires=timezone.now() - timedelta(seconds=1))
    job.refresh_from_db()
    steps = REGISTRY[JobKind.FIX_DNS].build(JobContext(job, log=lambda line: None))
    JobStep.objects.create(job=job, position=1, name=steps[0].name, status=StepStatus.RUNNING)
    JobStep.objects.create(job=job, position=2, name=steps[1].name)
    steps[0].action()  # the update reaches the server; then the worker dies
    assert bind.addresses(NAME) == {net_address(10), net_address(11), net_address(12)}
    assert recover_expired_jobs(dns_cluster.pk) == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "every host was put back" in job.error
    assert bind.addresses(NAME) == {"198.51.100.7"}


def test_a_member_given_by_host_name_is_resolved_first_and_the_job_says_so(dns_cluster, bind):
    bind.change("host2.example.com", add={"A": [net_address(11)]})
    record_members(dns_cluster, [net_address(10), "host2.example.com"])
    plan = actions.plan_dns(dns_cluster)
    assert plan.notes == [f"central2 is given by host name host2.example.com: resolved to {net_address(11)}"]
    job = actions.fix_dns("alice", dns_cluster, seen=plan.digest())
    assert run_here(job) == JobStatus.SUCCEEDED
    assert bind.addresses(NAME) == {net_address(10), net_address(11)}
    assert plan.notes[0] in job.steps.get(position=1).output


def test_ipv6_members_get_aaaa_records_and_are_verified_on_ipv6(dns_cluster, bind, listening):
    if not bind.ipv6:
        pytest.skip("no ::1 on this machine")
    port = listening("::1")
    first, _ = record_members(dns_cluster, ["::1", net_address(11)])
    Cluster.objects.filter(pk=dns_cluster.pk).update(central_port=port, active_member=first)
    dns_cluster.refresh_from_db()
    assert run_here(actions.fix_dns("alice", dns_cluster)) == JobStatus.SUCCEEDED
    assert bind.records() == {f"{NAME}. AAAA": {"::1"}, f"{NAME}. A": {net_address(11)}}
    check_dns(dns_cluster)
    verified = dns_cluster.dns_verification
    assert verified["ok"] and verified["active"] == "central1"
    rows = {row["address"]: row for row in verified["addresses"]}
    assert rows["::1"]["accepts"] and not rows[net_address(11)]["accepts"]


def test_fix_dns_needs_the_update_settings(cluster):
    with pytest.raises(Refused) as refused:
        actions.plan_dns(cluster)
    assert refused.value.check == "dns-updates-off"


# The settings ------------------------------------------------------------------------------------

def test_update_settings_come_all_together_and_must_work(cluster, bind):
    with pytest.raises(Refused) as refused:
        actions.edit_cluster("alice", cluster, dns_zone="example.com")
    assert refused.value.field == "dns_server" and "the server, the TSIG key name, the TSIG secret" in refused.value.message
    with pytest.raises(Refused) as refused:
        actions.edit_cluster("alice", cluster, **dns_settings(bind, dns_zone="example.org"))
    assert refused.value.field == "dns_zone"
    with pytest.raises(Refused) as refused:
        actions.edit_cluster("alice", cluster, **dns_settings(bind, dns_key_secret="not base64!"))
    assert refused.value.field == "dns_key_secret" and "not base64!" not in refused.value.message
    with pytest.raises(Refused) as refused:
        actions.edit_cluster("alice", Cluster.objects.get(pk=cluster.pk), dns_member_policy="always")
    assert refused.value.field == "dns_member_policy"


def test_a_blank_secret_keeps_the_stored_one_and_turning_updates_off_forgets_it(dns_cluster, bind):
    actions.edit_cluster("alice", dns_cluster, dns_key_secret="", dns_server=bind.server)
    assert Cluster.objects.get(pk=dns_cluster.pk).dns_key_secret == bind.secret
    actions.edit_cluster("alice", dns_cluster, dns_zone="", dns_server="", dns_key_name="", dns_key_secret="")
    cluster = Cluster.objects.get(pk=dns_cluster.pk)
    assert cluster.dns_key_secret == "" and not cluster.dns_updates_on


# Members coming and going, on the real test hosts -----------------------------------------------

def test_adding_members_under_always_adds_their_records_and_verifies_the_name(dns_cluster, bind, ssh_hosts, client_key,
                                                                                 micetro):
    actions.edit_cluster("alice", dns_cluster, dns_member_policy="always")
    first = add_member(dns_cluster, ssh_hosts[0], client_key, "central1", micetro)
    assert first.status == JobStatus.SUCCEEDED, first.error
    assert bind.addresses(NAME) == {ssh_hosts[0].address}
    second = add_member(dns_cluster, ssh_hosts[1], client_key, "central2", micetro)
    assert second.status == JobStatus.SUCCEEDED, second.error
    assert bind.addresses(NAME) == {ssh_hosts[0].address, ssh_hosts[1].address}
    names = list(second.steps.values_list("name", flat=True))
    assert names[-2:] == [f"Add central2's address {ssh_hosts[1].address} to {NAME} (DNS update)",
                          f"Verify through {NAME}: Central answers on port 1231 at the name's addresses, the Active "
                          "member's included (vendor step 12)"]
    verify = second.steps.last()
    assert f"{ssh_hosts[0].address}:1231 (central1): accepts" in verify.output
    assert f"{NAME} leads to the Active member central1 on port 1231" in verify.output
    assert second.follow_up == ""
    dns_cluster.refresh_from_db()
    assert dns_cluster.dns_report["ok"] and dns_cluster.dns_verification["ok"]


def test_a_stopped_central_is_seen_through_the_name_and_an_active_one_must_accept(dns_cluster, bind, ssh_hosts,
                                                                                     client_key, micetro):
    for index in range(2):
        assert add_member(dns_cluster, ssh_hosts[index], client_key, f"central{index + 1}", micetro,
                          update_dns=True).status == JobStatus.SUCCEEDED
    ssh_hosts[1].central.stop()
    check_dns(dns_cluster)
    verified = dns_cluster.dns_verification
    rows = {row["address"]: row for row in verified["addresses"]}
    assert rows[ssh_hosts[0].address]["accepts"] and not rows[ssh_hosts[1].address]["accepts"]
    assert verified["ok"], "a stopped Standby is shown, it does not fail the verification"
    central2 = dns_cluster.members.get(name="central2")
    Cluster.objects.filter(pk=dns_cluster.pk).update(active_member=central2)  # as if it were Active
    check_dns(Cluster.objects.get(pk=dns_cluster.pk))
    verified = Cluster.objects.get(pk=dns_cluster.pk).dns_verification
    assert not verified["ok"]
    assert verified["problem"] == (f"the Active member central2 does not accept connections on "
                                   f"{ssh_hosts[1].address} port 1231")


def test_adding_under_ask_without_an_answer_leaves_the_name_and_says_it_is_not_verified(dns_cluster, bind, ssh_hosts,
                                                                                       client_key, micetro):
    job = add_member(dns_cluster, ssh_hosts[0], client_key, "central1", micetro)
    assert job.status == JobStatus.SUCCEEDED and job.params["dns"] is False
    assert bind.records() == {}
    assert f"Logging in through {NAME} would not reach the Active Central: {NAME} does not exist (NXDOMAIN)" \
        in job.follow_up


def test_a_refused_record_update_does_not_undo_the_added_member(dns_cluster, bind, ssh_hosts, client_key, micetro):
    Cluster.objects.filter(pk=dns_cluster.pk).update(dns_key_secret=new_secret(), dns_member_policy="always")
    job = add_member(Cluster.objects.get(pk=dns_cluster.pk), ssh_hosts[0], client_key, "central1", micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert micetro.truth() == {"central1": "active"}
    assert f"Add {ssh_hosts[0].address} to {NAME}: Fix DNS on prod's page" in job.follow_up
    assert "(BADSIG)" in job.follow_up and bind.records() == {}


def test_removing_a_member_deletes_its_record_and_a_cancelled_removal_puts_it_back(dns_cluster, bind, ssh_hosts,
                                                                                    client_key, micetro):
    for index in range(2):
        assert add_member(dns_cluster, ssh_hosts[index], client_key, f"central{index + 1}", micetro,
                          update_dns=True).status == JobStatus.SUCCEEDED
    both = {ssh_hosts[0].address, ssh_hosts[1].address}
    assert bind.addresses(NAME) == both
    central2 = dns_cluster.members.get(name="central2")
    job = actions.remove_member("alice", central2, update_dns=True)
    assert run_here(job) == JobStatus.WAITING, "waits for Micetro, its record already out of the name"
    assert bind.addresses(NAME) == {ssh_hosts[0].address}
    assert finish(actions.cancel_job("alice", job), None).status == JobStatus.CANCELLED
    assert bind.addresses(NAME) == both
    names = [s.name for s in job.steps.all()]
    assert names[1] == f"Delete central2's address {ssh_hosts[1].address} from {NAME} (DNS update)"

    job = finish(actions.remove_member("alice", Member.objects.get(pk=central2.pk), update_dns=True), micetro)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert bind.addresses(NAME) == {ssh_hosts[0].address}


def test_forgetting_a_member_can_delete_its_record_without_touching_its_host(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": [net_address(10), net_address(11), net_address(12)]})
    job = actions.forget_member("alice", trio[2], confirm=True, unregistered=True, update_dns=True,
                                reason="host burnt")
    assert run_here(job) == JobStatus.SUCCEEDED, Job.objects.get(pk=job.pk).error
    assert bind.addresses(NAME) == {net_address(10), net_address(11)}
    assert not Member.objects.filter(pk=trio[2].pk).exists()


def test_policy_never_leaves_the_name_whatever_the_answer(dns_cluster, ssh_hosts, client_key):
    actions.edit_cluster("alice", dns_cluster, dns_member_policy="never")
    job = actions.add_member("alice", dns_cluster, name="central1", update_dns=True,
                             **linux_member_values(ssh_hosts[0], client_key))
    assert job.params["dns"] is False


# Pages -------------------------------------------------------------------------------------------

def test_the_fix_dns_dialog_shows_the_plan_and_starts_the_job(admin_client, dns_cluster, trio, bind):
    url = reverse("cluster-dns-fix", args=[dns_cluster.pk])
    page = admin_client.get(url).content.decode()
    assert page.count('class="change-add"') == 3 and "confirm_deletions" not in page
    digest = actions.plan_dns(dns_cluster).digest()
    assert f'name="seen" value="{digest}"' in page
    response = admin_client.post(url, {"seen": digest, "reason": "step 11"})
    job = Job.objects.get(kind=JobKind.FIX_DNS)
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.reason == "step 11" and len(job.params["plan"]["changes"]) == 3


def test_deletions_in_the_dialog_need_their_own_tick(admin_client, dns_cluster, trio, bind):
    bind.change(NAME, add={"A": ["198.51.100.7"]})
    url = reverse("cluster-dns-fix", args=[dns_cluster.pk])
    page = admin_client.get(url).content.decode()
    assert 'class="change-delete"' in page and "confirm_deletions" in page
    digest = actions.plan_dns(dns_cluster).digest()
    page = admin_client.post(url, {"seen": digest}).content.decode()
    assert "confirm the deletions" in page and not Job.objects.exists()
    assert admin_client.post(url, {"seen": digest, "confirm_deletions": "on"}).status_code == 302


def test_a_plan_gone_stale_in_the_dialog_is_refused_and_the_new_one_shown(admin_client, dns_cluster, trio, bind):
    url = reverse("cluster-dns-fix", args=[dns_cluster.pk])
    digest = actions.plan_dns(dns_cluster).digest()
    bind.change(NAME, add={"A": [net_address(10)]})
    page = admin_client.post(url, {"seen": digest}).content.decode()
    assert "changed since the plan was shown" in page and page.count('class="change-add"') == 2


def test_viewers_cannot_open_or_post_fix_dns(viewer_client, dns_cluster, trio, bind):
    url = reverse("cluster-dns-fix", args=[dns_cluster.pk])
    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url, {"seen": "x"}).status_code == 403
    assert not Job.objects.exists() and bind.records() == {}


def test_the_panel_offers_fix_dns_only_with_update_settings(admin_client, cluster, bind):
    assert "Fix DNS" not in admin_client.get(cluster.get_absolute_url()).content.decode()
    actions.edit_cluster("alice", cluster, **dns_settings(bind))
    page = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert reverse("cluster-dns-fix", args=[cluster.pk]) in page and f"TSIG key {KEY_NAME}" in page


def test_the_remove_dialog_offers_to_delete_the_record_under_ask(admin_client, dns_cluster, trio):
    url = reverse("member-remove", args=[dns_cluster.pk, trio[2].pk])
    assert f"Also delete its record {net_address(12)} from {NAME}" in admin_client.get(url).content.decode()
    actions.edit_cluster("alice", dns_cluster, dns_member_policy="always")
    page = admin_client.get(url).content.decode()
    assert "Also delete its record" not in page and "deleted from central.example.com by a DNS update" in page


# The command line --------------------------------------------------------------------------------

def test_ha_dns_fix_shows_the_plan_runs_the_job_and_verifies(dns_cluster, trio, bind, listening):
    port = listening(net_address(10))
    Cluster.objects.filter(pk=dns_cluster.pk).update(central_port=port, active_member=trio[0])
    out = io.StringIO()
    call_command("ha", "dns", "prod", "--fix", "--yes", stdout=out)
    text = out.getvalue()
    assert f"  add     A     {net_address(12):<40} central3's address" in text
    assert f"job #{Job.objects.get().pk}: Fix DNS" in text
    assert "verified: the Active member answers through the name" in text
    assert bind.addresses(NAME) == {net_address(10), net_address(11), net_address(12)}
    out = io.StringIO()
    call_command("ha", "dns", "prod", "--json", stdout=out)
    assert '"verification"' in out.getvalue() and '"active": "central1"' in out.getvalue()


def test_ha_dns_exits_1_when_the_active_member_does_not_answer_through_the_name(dns_cluster, trio, bind):
    bind.change(NAME, add={"A": [net_address(10), net_address(11), net_address(12)]})
    Cluster.objects.filter(pk=dns_cluster.pk).update(central_port=1, active_member=trio[0])
    with pytest.raises(CommandError, match="does not lead to the Active Central"):
        call_command("ha", "dns", "prod", stdout=io.StringIO())


def test_the_cli_takes_the_tsig_key_from_a_bind_key_file(cluster, bind, tmp_path):
    key_file = tmp_path / "hacontrol.key"
    key_file.write_text(f'key "{KEY_NAME}" {{\n\talgorithm {ALGORITHM};\n\tsecret "{bind.secret}";\n}};\n')
    call_command("ha", "cluster", "edit", "prod", "--dns-zone", "example.com", "--dns-server", bind.server,
                 "--tsig-key-file", str(key_file), "--dns-members", "always", stdout=io.StringIO())
    cluster = Cluster.objects.get(pk=cluster.pk)
    assert cluster.dns_updates_on and cluster.dns_key_secret == bind.secret and cluster.dns_member_policy == "always"


# The secret ----------------------------------------------------------------------------------------

def test_no_tsig_secret_in_pages_logs_audit_or_a_database_dump(admin_client, dns_cluster, trio, bind, caplog):
    wrong = new_secret()
    lines: list[str] = []
    with caplog.at_level("DEBUG"):
        assert run_here(actions.fix_dns("alice", dns_cluster), echo=lines.append) == JobStatus.SUCCEEDED
        actions.edit_cluster("alice", dns_cluster, dns_key_secret=wrong, reason="rotated")
        bind.reset()
        failed = actions.fix_dns("alice", Cluster.objects.get(pk=dns_cluster.pk))
        assert run_here(failed, echo=lines.append) == JobStatus.FAILED
    pages = [dns_cluster.get_absolute_url(), reverse("cluster-edit", args=[dns_cluster.pk]),
             reverse("cluster-dns-fix", args=[dns_cluster.pk]), "/audit/", reverse("job-list", args=[dns_cluster.pk]),
             *[job.get_absolute_url() for job in Job.objects.all()]]
    texts = [admin_client.get(url).content.decode() for url in pages]
    texts += ["\n".join(lines), caplog.text, "".join(e.detail + e.reason for e in AuditEvent.objects.all())]
    texts += ["".join(s.output + s.error for s in JobStep.objects.all()),
              "".join(j.error + j.follow_up + str(j.params) for j in Job.objects.all())]
    db = connection.settings_dict
    from pgserver.postgres_server import POSTGRES_BIN_PATH

    dump = subprocess.run([str(POSTGRES_BIN_PATH / "pg_dump"), "-h", db["HOST"], "-U", db["USER"], db["NAME"]],
                          capture_output=True, text=True, check=True).stdout
    assert "fernet:" in dump and KEY_NAME in dump
    for secret in (bind.secret, wrong):
        for text in [*texts, dump]:
            assert secret not in text
    print(f"\nscanned {len(pages)} pages, the job output, logs, audit and a {len(dump)} byte dump: no TSIG secret")

