"""The member page, the credential pages and the panel's drift warning, as each role sees them."""

import pytest
from django.urls import reverse

from hacontrol.ha.models import AuditEvent, Cluster, Credential, Job, JobKind, Member
from hacontrol.ha.probe import secret_digest
from hacontrol.lib.masking import mask_preferences

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQDseCRETkeyLINE\n-----END OPENSSH PRIVATE KEY-----\n"
DB_SECRET = "Db-Secret-Value-9"
BACKUP = "preferences.cfg.hacontrol-20261126T101500123456Z.bak"


def preferences(name: str, server: str = "db.example.com@mmsuite", password: str = DB_SECRET, extra: str = "") -> str:
    return (f'<Database value="postgresql"/>\n<DatabaseServer value="{server}"/>\n<DatabaseUsername value="mmsuite"/>\n'
            f'<DatabasePassword value="{password}"/>\n<ClusterMemberName value="{name}"/>\n{extra}')


def seen(member: Member, text: str, server: str = "db.example.com@mmsuite", password: str = DB_SECRET) -> None:
    """What a probe would have stored after reading ``text`` on the member's host."""
    member.preferences_masked = mask_preferences(text)
    member.findings = {"name_on_host": member.name, "format": "tags", "database_type": "postgresql",
                       "DatabaseServer": server, "DatabaseUsername": "mmsuite",
                       "secret_digests": {"databasepassword": secret_digest(password)},
                       "backups": [{"name": BACKUP, "size": 120, "modified": 1795000000.0}]}
    member.heartbeat_settings = {"HeartbeatInterval": "5", "HeartbeatMaxAllowedDowntime": "20"}
    member.version, member.state = "11.0.3", "standby"
    member.save()


@pytest.fixture
def prod(db):
    return seen_pair()


def seen_pair() -> Cluster:
    """central1 (Active) and central2, which has a LogLevel line, another database password and
    a command override; both seen with one backup on the host, and using one saved credential."""
    cluster = Cluster.objects.create(name="prod")
    credential = Credential.objects.create(name="hosts", kind="ssh-key", private_key=KEY)
    first = Member.objects.create(cluster=cluster, name="central1", priority=10, address="10.0.0.1", registered=True,
                                  credential=credential)
    second = Member.objects.create(cluster=cluster, name="central2", priority=20, address="10.0.0.2", registered=True,
                                   credential=credential, commands={"status": "systemctl is-active mmcentral.service"})
    seen(first, preferences("central1"))
    seen(second, preferences("central2", password="Other-Secret-8", extra='<LogLevel value="debug"/>\n'),
         password="Other-Secret-8")
    Cluster.objects.filter(pk=cluster.pk).update(active_member=first)
    cluster.refresh_from_db()
    return cluster


def urls(cluster: Cluster) -> dict[str, str]:
    member = cluster.members.get(name="central2")
    credential = Credential.objects.get()
    return {
        "member-detail": reverse("member-detail", args=[cluster.pk, member.pk]),
        "member-backup": reverse("member-backup", args=[cluster.pk, member.pk, BACKUP]),
        "member-restore": reverse("member-restore", args=[cluster.pk, member.pk, BACKUP]),
        "credential-list": reverse("credential-list"),
        "credential-detail": reverse("credential-detail", args=[credential.pk]),
        "credential-add": reverse("credential-add"),
        "credential-edit": reverse("credential-edit", args=[credential.pk]),
        "credential-delete": reverse("credential-delete", args=[credential.pk]),
    }


CHANGES = {"member-restore", "credential-add", "credential-edit", "credential-delete"}
# member-backup reads the host: here there is none, so it answers with the error, still 200.
LOOKS = {"member-detail", "member-backup", "credential-list", "credential-detail"}


def test_every_new_page_needs_a_sign_in(client, prod):
    for name, url in urls(prod).items():
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), name


def test_a_viewer_sees_the_pages_and_gets_403_on_every_change(viewer_client, prod):
    found = urls(prod)
    assert set(found) == CHANGES | LOOKS
    for name in LOOKS:
        assert viewer_client.get(found[name]).status_code == 200, name
    for name in CHANGES:
        assert viewer_client.get(found[name]).status_code == 403, name
        assert viewer_client.post(found[name], {"reason": "x", "name": "x"}).status_code == 403, name
    assert not Job.objects.exists() and Credential.objects.count() == 1


def test_the_panel_row_links_to_the_member_page_and_warns_of_drift(admin_client, prod):
    Member.objects.filter(name="central2").update(findings={
        **prod.members.get(name="central2").findings, "DatabaseServer": "db2.example.com@mmsuite"})
    page = admin_client.get(prod.get_absolute_url()).content.decode()
    member = prod.members.get(name="central2")
    assert f'<a href="{member.get_absolute_url()}">central2</a>' in page
    assert "Configuration drift" in page
    assert "DatabaseServer: central1 = db.example.com@mmsuite; central2 = db2.example.com@mmsuite" in page
    assert "DatabasePassword differs (values not shown): central1 | central2" in page
    assert DB_SECRET not in page and "Other-Secret-8" not in page


def test_the_member_page_shows_findings_overrides_backups_and_a_masked_diff_against_the_active_member(admin_client, prod):
    member = prod.members.get(name="central2")
    page = admin_client.get(member.get_absolute_url()).content.decode()
    assert "Compared with central1's (the Active member)" in page
    assert '<span class="diff-line diff-add">+ &lt;LogLevel value=&quot;debug&quot;/&gt;</span>' in page
    assert "diff-secret" in page and "&lt;DatabasePassword value=&quot;********&quot;/&gt;" in page
    assert "ClusterMemberName value=&quot;central1" not in page, "the name line is set aside"
    assert "set (not shown); different from central1&#x27;s" in page
    assert "systemctl is-active mmcentral.service" in page and "<th scope=\"row\">status</th>" in page
    assert BACKUP in page and reverse("member-restore", args=[prod.pk, member.pk, BACKUP]) in page
    assert "python manage.py ha member restore prod central2 BACKUP" in page
    assert '<a href="/credentials/' in page and ">hosts</a>" in page
    assert DB_SECRET not in page and "Other-Secret-8" not in page and "seCRETkeyLINE" not in page


def test_the_active_members_own_page_shows_its_file_without_a_diff(admin_client, prod):
    page = admin_client.get(prod.members.get(name="central1").get_absolute_url()).content.decode()
    assert "This is the member the others are compared with (the Active member)" in page
    assert "&lt;DatabasePassword value=&quot;********&quot;/&gt;" in page and DB_SECRET not in page


def test_restoring_an_unknown_or_foreign_backup_is_refused_and_a_known_one_starts_a_job(admin_client, prod):
    member = prod.members.get(name="central2")
    def restore(name, reason=""):
        return admin_client.post(reverse("member-restore", args=[prod.pk, member.pk, name]), {"reason": reason})

    assert "is not a copy hacontrol keeps" in restore("..%2F..%2Fetc%2Fshadow").content.decode()
    assert "is not a copy hacontrol keeps" in restore("shadow").content.decode()
    other = "preferences.cfg.hacontrol-20200101T000000000000Z.bak"
    assert f"found no {other}" in restore(other).content.decode()
    response = restore(BACKUP, "undo a hand edit")
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert (job.kind, job.params["backup"], job.member_id) == (JobKind.RESTORE, BACKUP, member.pk)
    assert AuditEvent.objects.filter(action="member restore", outcome="ok", reason="undo a hand edit").exists()


def test_a_backup_that_cannot_be_read_says_why(admin_client, prod, settings):
    settings.HACONTROL_CONNECT_TIMEOUT = 1
    member = prod.members.get(name="central2")
    Member.objects.filter(pk=member.pk).update(address="127.0.0.1", port=1)
    page = admin_client.get(reverse("member-backup", args=[prod.pk, member.pk, BACKUP]),
                            headers={"HX-Request": "true"}).content.decode()
    assert '<p class="error" role="alert">' in page and "<html" not in page and 'class="file"' not in page
    assert "the SSH private key cannot be read" in page  # the fixture's key is not a real one


def test_credentials_are_added_edited_and_shown_where_used_without_secrets(admin_client, prod):
    response = admin_client.post(reverse("credential-add"), {
        "name": "win", "kind": "winrm-ntlm", "username": "Administrator", "password": "Win-Pass-55"})
    credential = Credential.objects.get(name="win")
    assert response.status_code == 302 and response["Location"] == credential.get_absolute_url()
    hosts = Credential.objects.get(name="hosts")
    page = admin_client.get(hosts.get_absolute_url()).content.decode()
    assert "central1" in page and "central2" in page and "seCRETkeyLINE" not in page
    form = admin_client.get(reverse("credential-edit", args=[credential.pk])).content.decode()
    assert "Win-Pass-55" not in form and "leave blank to keep the current one" in form
    admin_client.post(reverse("credential-edit", args=[credential.pk]), {
        "name": "win", "kind": "winrm-ntlm", "username": "svc", "password": "", "reason": "new account"})
    credential.refresh_from_db()
    assert credential.username == "svc" and credential.password == "Win-Pass-55"
    listing = admin_client.get(reverse("credential-list")).content.decode()
    assert "2 members" in listing and "0 members" in listing and "Win-Pass-55" not in listing


def test_deleting_a_used_credential_shows_the_refusal_naming_the_members(admin_client, prod):
    hosts = Credential.objects.get(name="hosts")
    page = admin_client.post(reverse("credential-delete", args=[hosts.pk]), {"reason": ""}).content.decode()
    assert "hosts is used by prod/central1, prod/central2" in page
    assert Credential.objects.filter(name="hosts").exists()


def test_the_member_page_the_panel_and_the_credentials_take_a_fixed_number_of_queries(
        admin_client, prod, django_assert_max_num_queries):
    credential = Credential.objects.get()
    for number in range(3, 8):
        seen(Member.objects.create(cluster=prod, name=f"central{number}", priority=10 * number, registered=True,
                                   address=f"10.0.0.{number}", credential=credential), preferences(f"central{number}"))
    member = prod.members.get(name="central2")
    with django_assert_max_num_queries(7):
        admin_client.get(member.get_absolute_url())
    with django_assert_max_num_queries(7):
        admin_client.get(prod.get_absolute_url() + "?fragment=members", headers={"HX-Request": "true"})
    with django_assert_max_num_queries(3):
        admin_client.get(reverse("credential-list"))
