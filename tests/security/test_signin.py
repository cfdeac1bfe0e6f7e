"""Sign-in throttling behind the recommended reverse proxy: the client's address is read from the
proxy's header only (and only from the proxy), and the address limit slows a guesser down without
locking out everyone who shares the proxy."""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from hacontrol.ha.models import AuditEvent, SignInFailure
from hacontrol.lib.clients import client_address

PROXY = "127.0.0.1"  # the test client's REMOTE_ADDR: the reverse proxy on the console's host
GUESSER, COLLEAGUE = "203.0.113.5", "203.0.113.6"


@pytest.fixture
def behind_proxy(settings):
    settings.HACONTROL_PROXY_HEADER = "X-Forwarded-For"
    return settings


def sign_in(client, username: str, password: str, forwarded: str | None = None, remote: str = PROXY):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(reverse("login"), {"username": username, "password": password}, headers=headers,
                       REMOTE_ADDR=remote)


def signed_in(response) -> bool:
    return response.status_code == 302


NAMES = itertools.count()


def guess_many(client, count: int, forwarded: str | None = GUESSER) -> None:
    """Failures under as many user names (so no name is locked): only the address limit counts."""
    for _ in range(count):
        response = sign_in(client, f"guess{next(NAMES)}", "wrong", forwarded)
        assert "Please enter a correct username and password" in response.content.decode()


def wait_out(seconds: float) -> None:
    """As if ``seconds`` had passed since every failure so far."""
    for failure in SignInFailure.objects.all():
        SignInFailure.objects.filter(pk=failure.pk).update(when=failure.when - timedelta(seconds=seconds))


def test_a_guesser_behind_the_proxy_slows_only_itself(behind_proxy, client, admin, db):
    User.objects.create_user("bob", password="bob-pass-22")
    guess_many(client, SignInFailure.ADDRESS_FREE)
    slowed = sign_in(client, "alice", "alice-pass-1", GUESSER)
    assert not signed_in(slowed) and "Too many failed sign-ins from your address: wait" in slowed.content.decode()
    assert signed_in(sign_in(client, "bob", "bob-pass-22", COLLEAGUE)), "another user behind the same proxy"
    assert set(SignInFailure.objects.values_list("address", flat=True)) == {GUESSER}
    assert f"(from {GUESSER})" in AuditEvent.objects.get(action="sign-in", outcome="refused").detail


def test_the_address_limit_slows_guessing_without_locking_the_address_out(behind_proxy, client, admin, db):
    guess_many(client, SignInFailure.ADDRESS_FREE)
    delays = []
    for _ in range(7):
        message = sign_in(client, f"guess{next(NAMES)}", "wrong", GUESSER).content.decode()
        delays.append(int(message.split("wait ")[1].split(" s")[0]))
        wait_out(delays[-1])
        guess_many(client, 1)  # the next guess, once the wait is over, is checked (and fails)
    assert delays == [1, 2, 4, 8, 16, 32, 60], "doubling up to a minute between guesses"
    wait_out(SignInFailure.ADDRESS_MAX_DELAY)
    assert signed_in(sign_in(client, "alice", "alice-pass-1", GUESSER)), "a user at that address gets in after a minute"


def test_a_user_name_is_still_locked_after_five_failures_wherever_they_come_from(behind_proxy, client, admin):
    for index in range(SignInFailure.LIMIT):
        sign_in(client, "alice", "wrong", f"198.51.100.{index}")
    response = sign_in(client, "alice", "alice-pass-1", "198.51.100.99")
    assert not signed_in(response) and "wait 15 minutes" in response.content.decode()


def test_without_a_configured_header_a_forwarded_address_is_ignored(client, admin, db, settings):
    assert settings.HACONTROL_PROXY_HEADER == ""
    guess_many(client, 3, forwarded="198.51.100.1")
    assert set(SignInFailure.objects.values_list("address", flat=True)) == {PROXY}


def test_the_header_is_believed_only_from_a_trusted_proxy_and_only_its_own_hop(behind_proxy, client, admin, db):
    sign_in(client, "x", "wrong", forwarded="192.0.2.77", remote="198.51.100.50")  # not the proxy: a spoof
    sign_in(client, "y", "wrong", forwarded=f"192.0.2.77, {GUESSER}")  # the client wrote the first one
    assert list(SignInFailure.objects.order_by("pk").values_list("address", flat=True)) == ["198.51.100.50", GUESSER]


@pytest.mark.parametrize("header, expected", [
    ("203.0.113.5", "203.0.113.5"),
    ("10.9.9.9, 203.0.113.5", "203.0.113.5"),
    ("203.0.113.5, 127.0.0.2", "203.0.113.5"),  # a second trusted proxy on the way
    ("[2001:db8::5]:4711", "2001:db8::5"),
    ("203.0.113.5:4711", "203.0.113.5"),
    ("not an address", PROXY),
    ("", PROXY),
])
def test_the_client_is_the_rightmost_hop_that_is_not_a_trusted_proxy(header, expected, settings):
    assert client_address(PROXY, header, settings.HACONTROL_TRUSTED_PROXIES) == expected


def test_metrics_behind_the_proxy_are_open_to_allowed_clients_only(behind_proxy, client, db):
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 401
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
