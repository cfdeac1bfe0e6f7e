"""A Windows member over HTTPS pins its WinRM listener's certificate as a Linux member pins its SSH
host key: a first contact's certificate is shown for acceptance, accepted only as the fingerprint
the administrator saw (panel, CLI, API), audited; a changed one is refused until accepted."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from hacontrol.ha import actions
from hacontrol.ha.models import AuditEvent, JobStatus, Member
from hacontrol.ha.probe import probe_cluster
from tests.api.conftest import token_client
from tests.conftest import WINDOWS_PASSWORD, finish, loopback, make_windows_host
from tests.hosts.windows.certs import Certificate


@pytest.fixture
def https_host(tmp_path, central_store, ssh_hosts):
    host = make_windows_host(tmp_path / "https", central_store, loopback(34), https=True)
    yield host
    host.server.stop()
    host.shutdown()


def https_values(host, **extra) -> dict:
    return dict(address=host.server.address, port=host.server.port, platform="windows", username="Administrator",
                password=WINDOWS_PASSWORD, winrm_auth="basic", winrm_https=True) | extra


def fingerprint_of(host) -> str:
    return "SHA256:" + host.server.certificate_sha256.upper()


def new_certificate(host) -> None:
    """The listener comes back with another certificate (a reinstalled host, or an interceptor)."""
    port = host.server.port
    host.server.stop()
    host.server.cert = Certificate(host.hostname, host.server.address)
    host.server._port = port
    host.server.start()


def test_a_first_contact_shows_the_certificate_and_the_panel_pins_only_the_one_seen(admin_client, cluster, https_host):
    member = Member.objects.create(cluster=cluster, name="win1", priority=10, **https_values(https_host))
    probe_cluster(cluster)
    member.refresh_from_db()
    seen = fingerprint_of(https_host)
    assert member.state == "offline" and "unknown TLS certificate" in member.state_reason
    assert member.presented_host_key == seen and member.winrm_certificate == ""
    page = admin_client.get(cluster.get_absolute_url()).content.decode()
    assert f"an unknown TLS certificate <code>{seen}</code>" in page
    assert f"ha member accept-key {cluster.name} win1 --fingerprint {seen}" in page

    new_certificate(https_host)  # another certificate turns up before the administrator clicks
    probe_cluster(cluster)
    response = admin_client.post(reverse("member-accept-host-key", args=[cluster.pk, member.pk]),
                                 {"fingerprint": seen, "reason": "checked on the console"}, follow=True)
    member.refresh_from_db()
    assert f"not the {seen} you accepted" in response.content.decode() and member.winrm_certificate == ""
    assert AuditEvent.objects.get(action="host key accepted").outcome == "refused"

    seen = member.presented_key_fingerprint
    admin_client.post(reverse("member-accept-host-key", args=[cluster.pk, member.pk]),
                      {"fingerprint": seen, "reason": "checked on the console"})
    member.refresh_from_db()
    assert member.winrm_certificate == seen == fingerprint_of(https_host) and member.presented_host_key == ""
    event = AuditEvent.objects.get(action="host key accepted", outcome="ok")
    assert event.detail == f"TLS certificate: old none, new {seen}" and event.reason == "checked on the console"
    probe_cluster(cluster)
    member.refresh_from_db()
    assert member.last_error == "" and "certificate" not in member.state_reason, member.state_reason


def test_a_changed_certificate_is_refused_and_accepted_through_the_cli_and_the_api(admin, cluster, https_host):
    member = Member.objects.create(cluster=cluster, name="win1", priority=10,
                                   **https_values(https_host, winrm_certificate=fingerprint_of(https_host)))
    old = member.winrm_certificate
    new_certificate(https_host)
    probe_cluster(cluster)
    member.refresh_from_db()
    assert "TLS certificate changed" in member.state_reason and member.winrm_certificate == old
    out = io.StringIO()
    call_command("ha", "member", "accept-key", cluster.name, "win1", "--fingerprint", member.presented_key_fingerprint,
                 "--reason", "listener certificate renewed", stdout=out)
    member.refresh_from_db()
    assert member.winrm_certificate == fingerprint_of(https_host) != old
    assert f"pinned {member.winrm_certificate} (was {old})" in out.getvalue()
    assert AuditEvent.objects.get(action="host key accepted").actor.startswith("cli:")

    api = token_client(admin)
    new_certificate(https_host)
    probe_cluster(cluster)
    member.refresh_from_db()
    shown = api.get(f"/api/members/{member.pk}/").json()
    assert shown["presented_key_fingerprint"] == fingerprint_of(https_host)
    assert shown["host_key_fingerprint"] == shown["winrm_certificate"] == member.winrm_certificate
    refused = api.post(f"/api/members/{member.pk}/accept-host-key/", {"fingerprint": old}, format="json")
    assert refused.status_code == 409 and refused.json()["check"] == "host-key-changed-again"
    accepted = api.post(f"/api/members/{member.pk}/accept-host-key/",
                        {"fingerprint": shown["presented_key_fingerprint"], "reason": "renewed again"}, format="json")
    assert accepted.status_code == 200 and accepted.json()["new"] == fingerprint_of(https_host)
    member.refresh_from_db()
    assert member.winrm_certificate == fingerprint_of(https_host)


def test_a_failed_add_offers_the_presented_certificate_and_the_cli_can_pin_it_on_first_contact(cluster, https_host,
                                                                                              micetro, monkeypatch):
    job = finish(actions.add_member("alice", cluster, name="win1", **https_values(https_host)), micetro)
    assert job.status == JobStatus.FAILED and "unknown TLS certificate" in job.error
    assert job.params["form"]["winrm_certificate"] == job.params["presented_fingerprint"] == fingerprint_of(https_host)
    assert "password" not in job.params["form"]
    cluster.members.all().delete()

    monkeypatch.setenv("WINDOWS_PASSWORD", WINDOWS_PASSWORD)
    micetro.register("win1", 10)
    out = io.StringIO()
    call_command("ha", "member", "add", cluster.name, "win1", "--address", https_host.server.address, "--port",
                 str(https_host.server.port), "--platform", "windows", "--user", "Administrator", "--password-env",
                 "WINDOWS_PASSWORD", "--winrm-auth", "basic", "--winrm-https", "--accept-host-key", "--registered",
                 stdout=out)
    assert f"accepting TLS certificate {fingerprint_of(https_host)}" in out.getvalue()
    member = cluster.members.get(name="win1")
    assert member.winrm_certificate == fingerprint_of(https_host)
    assert member.jobs.get().status == JobStatus.SUCCEEDED
    assert AuditEvent.objects.filter(action="host key accepted",
                                     detail=f"TLS certificate: old none, new {fingerprint_of(https_host)}").exists()


@pytest.mark.parametrize("text", ["SHA256:" + "0" * 63, "not a fingerprint", "SHA1:" + "A" * 40])
def test_a_certificate_fingerprint_that_is_not_sha256_is_refused_on_its_field(cluster, text):
    with pytest.raises(actions.Refused) as refused:
        actions.add_member("alice", cluster, name="win1", address="192.0.2.7", platform="windows", winrm_https=True,
                           winrm_certificate=text)
    assert refused.value.field == "winrm_certificate" and "64 hex digits" in refused.value.message


def test_a_fingerprint_as_openssl_prints_it_is_pinned_in_one_form(cluster):
    openssl = "sha256 Fingerprint=" + ":".join(["ab"] * 32)
    job = actions.add_member("alice", cluster, name="win1", address="192.0.2.7", platform="windows", winrm_https=True,
                             winrm_certificate=openssl)
    assert job.member.winrm_certificate == "SHA256:" + "AB" * 32


def test_https_without_a_port_goes_to_5986_and_basic_over_plain_http_is_warned_on_its_row(admin_client, cluster):
    https = Member.objects.create(cluster=cluster, name="win1", priority=10, address="192.0.2.7", platform="windows",
                                  winrm_https=True)
    assert https.connection_settings().port == 5986 and https.connection_settings().winrm_https
    with pytest.raises(actions.Refused, match="sends the password in clear"):
        actions.add_member("alice", cluster, name="win2", address="192.0.2.8", platform="windows", winrm_auth="basic")
    actions.add_member("alice", cluster, name="win2", address="192.0.2.8", platform="windows", winrm_auth="basic",
                       winrm_allow_http_basic=True)
    assert cluster.members.get(name="win2").connection_settings().port == 5985
    page = admin_client.get(cluster.get_absolute_url()).content.decode()

    def row(member: Member) -> str:
        start = page.index(f'id="member-{member.pk}"')
        return page[start:page.index("</tr>", start)]

    assert "Basic over plain HTTP" in row(cluster.members.get(name="win2"))
    assert "Basic over plain HTTP" not in row(https)
    assert "win2 is reached with Basic authentication over plain HTTP" in page
