"""The pages: what they show, what they refuse (the actions' words), and their query counts."""

import pytest
from django.urls import reverse

from hacontrol.ha import actions
from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, JobStep, Member

MEMBER_FORM = {"platform": "linux", "username": "root", "winrm_auth": "ntlm"}


def make_member(cluster, name, priority, address=None, **extra):
    return Member.objects.create(cluster=cluster, name=name, priority=priority,
                                 address=address or f"192.0.2.{priority}", registered=True, **extra)


def test_anonymous_users_are_sent_to_sign_in(client, cluster):
    response = client.get(reverse("cluster-detail", args=[cluster.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_cluster_list_explains_what_to_do_when_empty(admin_client):
    response = admin_client.get("/")
    assert b"No cluster yet" in response.content and b"Create the first cluster" in response.content


def test_an_admin_creates_a_cluster_and_it_is_audited(admin_client):
    response = admin_client.post(reverse("cluster-add"), {"name": "prod", "dns_name": "central.example.com"})
    cluster = Cluster.objects.get(name="prod")
    assert response.status_code == 302 and response["Location"] == cluster.get_absolute_url()
    assert AuditEvent.objects.get(action="cluster create").actor == "alice"


def test_a_viewer_sees_the_panel_but_no_buttons(viewer_client, cluster):
    make_member(cluster, "central1", 10)
    response = viewer_client.get(cluster.get_absolute_url())
    assert b"central1" in response.content and b"Set Active" not in response.content and b">Add<" not in response.content


@pytest.mark.parametrize("name", ["cluster-add", "member-add"])
def test_a_viewer_is_refused_changes(viewer_client, cluster, name):
    url = reverse(name) if name == "cluster-add" else reverse(name, args=[cluster.pk])
    assert viewer_client.post(url, {"name": "x"}).status_code == 403
    assert Cluster.objects.count() == 1 and not Member.objects.exists()


def test_the_panel_shows_the_vendor_columns_and_state_badges(admin_client, cluster):
    make_member(cluster, "central1", 10, state="active", version="11.0.3")
    make_member(cluster, "central2", 20, state="offline", state_reason="service stopped")
    make_member(cluster, "central3", 30, state="taking_over", state_reason="expected Active by 10:00:00 UTC")
    content = admin_client.get(cluster.get_absolute_url()).content.decode()
    for text in ("Name", "Priority", "State", "Last seen", "ACTIVE", "OFFLINE", "TAKING OVER", "service stopped", "11.0.3"):
        assert text in content


def test_the_panel_says_the_cluster_is_failing_over_and_by_when(admin_client, cluster):
    cluster.failover = {"from": "central1", "to": ["central2"], "earliest": 1.7e9, "latest": 1.7e9 + 26}
    cluster.save()
    content = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert "Failing over:" in content and "central2" in content and "data-countdown" in content
    assert "Until then no member is called Active" in content


def test_adding_a_member_records_it_and_starts_a_job(admin_client, cluster, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
            **MEMBER_FORM, "name": "central1", "priority": 10, "address": "192.0.2.10", "reason": "initial setup"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert (job.kind, job.member.name, job.status, job.reason) == ("add", "central1", "queued", "initial setup")
    assert job.params["first"] is True and job.params["registered"] is False


def test_it_refuses_a_duplicate_priority_with_the_owner_named(admin_client, cluster):
    make_member(cluster, "central1", 10)
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        **MEMBER_FORM, "name": "central2", "priority": 10, "address": "192.0.2.11"})
    assert response.status_code == 200
    assert "priority 10 is already central1&#x27;s" in response.content.decode()
    assert cluster.members.count() == 1 and AuditEvent.objects.get(outcome="refused").action == "member add"


def test_it_refuses_an_address_another_member_has(admin_client, cluster):
    make_member(cluster, "central1", 10, address="192.0.2.10")
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        **MEMBER_FORM, "name": "central2", "priority": 20, "address": "192.0.2.10"})
    assert "192.0.2.10 is already the address of central1" in response.content.decode()


def test_it_refuses_a_failover_priority_below_the_primary(admin_client, cluster):
    make_member(cluster, "central1", 20)
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        **MEMBER_FORM, "name": "central2", "priority": 10, "address": "192.0.2.11"})
    assert "must be higher than the primary central1" in response.content.decode()


def test_a_host_key_that_is_not_base64_is_refused_when_entered(admin_client, cluster):
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), {
        **MEMBER_FORM, "name": "central1", "priority": 10, "address": "192.0.2.10",
        "host_key": "ssh-ed25519 AAAAnotbase64!!"})
    assert "the ssh-ed25519 key is not valid base64" in response.content.decode()
    assert not Member.objects.exists() and not Job.objects.exists()


def test_an_htmx_form_request_gets_only_the_modal_fragment(admin_client, cluster):
    response = admin_client.get(reverse("member-add", args=[cluster.pk]), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert "<html" not in content and 'id="modal-title"' in content
    assert "python manage.py ha member add prod" in content


def test_editing_keeps_a_secret_left_blank_and_never_echoes_it(admin_client, cluster):
    member = make_member(cluster, "central1", 10, password="old-secret-pw")
    page = admin_client.get(reverse("member-edit", args=[cluster.pk, member.pk])).content.decode()
    assert "old-secret-pw" not in page
    admin_client.post(reverse("member-edit", args=[cluster.pk, member.pk]), {
        **MEMBER_FORM, "priority": 10, "address": "192.0.2.99"})
    member.refresh_from_db()
    assert (member.address, member.password) == ("192.0.2.99", "old-secret-pw")


def test_changing_command_overrides_needs_a_reason_and_is_audited_with_both_texts(admin_client, cluster):
    member = make_member(cluster, "central1", 10)
    url = reverse("member-edit", args=[cluster.pk, member.pk])
    data = {**MEMBER_FORM, "priority": 10, "address": "192.0.2.10", "commands": '{"status": "/opt/check-central"}'}
    assert "command overrides run as root on the host" in admin_client.post(url, data).content.decode()
    admin_client.post(url, {**data, "reason": "custom init script"})
    event = AuditEvent.objects.get(action="member edit", outcome="ok")
    assert "commands were the defaults, now {'status': '/opt/check-central'}" in event.detail
    assert event.reason == "custom init script"


def test_removing_the_active_member_needs_a_confirmation(admin_client, cluster):
    active = make_member(cluster, "central1", 10)
    make_member(cluster, "central2", 20)
    cluster.active_member = active
    cluster.save()
    url = reverse("member-remove", args=[cluster.pk, active.pk])
    response = admin_client.post(url, {"stop": "on"})
    assert "central1 is the Active member and the others depend on it" in response.content.decode()
    assert not Job.objects.exists()
    admin_client.post(url, {"stop": "on", "confirm_active": "on", "reason": "decommission"})
    assert Job.objects.get().kind == "remove"


def test_an_offline_member_offers_to_be_forgotten(admin_client, cluster):
    member = make_member(cluster, "central1", 10, state="offline", state_reason="host unreachable: no route")
    content = admin_client.get(reverse("member-remove", args=[cluster.pk, member.pk])).content.decode()
    assert "forget it instead" in content


def test_a_second_job_on_a_busy_cluster_is_refused_naming_the_running_one(admin_client, cluster):
    first, second = make_member(cluster, "central1", 10), make_member(cluster, "central2", 20, serving_since="2026-01-01T00:00Z")
    running = Job.objects.create(kind="remove", cluster=cluster, member=first, member_name="central1",
                                 status="running", started_by="bob")
    response = admin_client.post(reverse("member-activate", args=[cluster.pk, second.pk]), follow=True)
    assert f"job #{running.pk} &quot;Remove member central1&quot; started by bob is running" in response.content.decode()
    assert AuditEvent.objects.get(outcome="refused").action == "switchover"
    assert Job.objects.count() == 1


def test_members_a_job_works_on_show_maintenance(admin_client, cluster):
    member = make_member(cluster, "central1", 10, state="active")
    Job.objects.create(kind="remove", cluster=cluster, member=member, status="running", started_by="bob",
                       affected=[member.pk])
    assert "MAINTENANCE" in admin_client.get(cluster.get_absolute_url()).content.decode()


def test_a_job_waiting_for_micetro_shows_what_to_do_and_a_confirm_button(admin_client, cluster):
    member = make_member(cluster, "central1", 10)
    job = Job.objects.create(kind="add", cluster=cluster, member=member, member_name="central1", status="waiting",
                             started_by="bob")
    JobStep.objects.create(job=job, position=1, name="In Micetro: add central1", status="waiting", instructions={
        "action": "register", "name": "central1", "priority": 10, "text": "Add the member central1 with priority 10",
        "where": "Micetro Web Interface: Admin → Configuration → High Availability"})
    for url in (job.get_absolute_url(), cluster.get_absolute_url()):
        content = admin_client.get(url).content.decode()
        assert "Add the member central1 with priority 10" in content and "Done in Micetro: continue" in content
        assert f"python manage.py ha job confirm {job.pk}" in content


def test_the_job_fragment_stops_polling_when_the_job_ends(admin_client, cluster):
    job = Job.objects.create(kind="add", cluster=cluster, status="succeeded", started_by="bob")
    response = admin_client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert response.status_code == 286


def test_the_recent_jobs_refresh_without_a_reload(admin_client, cluster):
    page = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert "No job has run on this cluster yet." in page and 'fragment=history' in page
    job = Job.objects.create(kind="tune", cluster=cluster, status="running", started_by="bob")
    fragment = admin_client.get(cluster.get_absolute_url() + "?fragment=history",
                                headers={"HX-Request": "true"}).content.decode()
    assert f"#{job.pk} {job.title}" in fragment and "<h1>" not in fragment


@pytest.mark.parametrize("count", [1, 100])
def test_the_panel_runs_a_constant_number_of_queries(admin_client, cluster, count, django_assert_max_num_queries):
    Member.objects.bulk_create(
        Member(cluster=cluster, name=f"c{i}", priority=10 * (i + 1), address=f"192.0.2.{i}") for i in range(count)
    )
    with django_assert_max_num_queries(10):
        response = admin_client.get(cluster.get_absolute_url())
    assert response.content.decode().count("<tr id=\"member-") == count


def test_the_audit_page_lists_events(admin_client, cluster):
    AuditEvent.record("bob", "member add", cluster=cluster, member_name="central9", reason="because")
    content = admin_client.get(reverse("audit-list")).content.decode()
    assert "central9" in content and "because" in content


def test_every_page_carries_a_content_security_policy_without_inline_scripts(admin_client):
    assert "script-src 'self'" in admin_client.get("/")["Content-Security-Policy"]


def test_tuning_refuses_a_downtime_shorter_than_two_heartbeats(admin_client, cluster):
    make_member(cluster, "central1", 10)
    response = admin_client.post(reverse("cluster-tune", args=[cluster.pk]),
                                 {"heartbeat_interval": 15, "heartbeat_max_downtime": 20})
    assert "at least twice HeartbeatInterval" in response.content.decode() and not Job.objects.exists()
    response = admin_client.post(reverse("cluster-tune", args=[cluster.pk]),
                                 {"heartbeat_interval": 16, "heartbeat_max_downtime": 40})
    assert "HeartbeatInterval must be 5 to 15 seconds" in response.content.decode()


def test_tuning_starts_one_job_for_the_whole_cluster(admin_client, cluster, django_capture_on_commit_callbacks):
    make_member(cluster, "central1", 10)
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(reverse("cluster-tune", args=[cluster.pk]), {"heartbeat_interval": 5, "heartbeat_max_downtime": 30})
    cluster.refresh_from_db()
    assert (cluster.heartbeat_interval, Job.objects.get().kind, Job.objects.get().title) == (5, "tune", "HA tuning")


def test_command_overrides_are_checked_by_name(admin_client, cluster):
    data = {**MEMBER_FORM, "name": "central1", "priority": 10, "address": "192.0.2.10",
            "commands": '{"stopp": "systemctl stop mmcentral"}'}
    response = admin_client.post(reverse("member-add", args=[cluster.pk]), data)
    assert "unknown command names: stopp" in response.content.decode() and not Member.objects.exists()
    data["commands"] = '{"status": "/opt/check-central"}'
    admin_client.post(reverse("member-add", args=[cluster.pk]), data)
    assert Member.objects.get().commands == {"status": "/opt/check-central"}


def test_a_failed_add_from_any_door_is_tried_again_with_what_was_entered_but_its_secrets(admin_client, db):
    cluster = Cluster.objects.create(name="prod")
    hosts = Credential.objects.create(name="hosts", kind="ssh-password", password="Ssh-Pass-4711")
    job = actions.add_member("cli:root", cluster, name="central1", address="192.0.2.10", port=2222,
                             credential=hosts, password="Own-Pass-0815")  # as the CLI or the API asks
    Job.objects.filter(pk=job.pk).update(status="failed", error="host unreachable")
    assert "Try again with the same settings" in admin_client.get(job.get_absolute_url()).content.decode()
    form = admin_client.get(reverse("member-add", args=[cluster.pk]) + f"?retry={job.pk}").content.decode()
    assert 'value="central1"' in form and 'value="192.0.2.10"' in form and 'value="2222"' in form
    assert f'<option value="{hosts.pk}" selected>hosts</option>' in form
    assert "Own-Pass-0815" not in str(Job.objects.get(pk=job.pk).params)
