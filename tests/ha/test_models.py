import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from hacontrol.ha.models import Cluster, Member


def member(cluster, name="central1", priority=10, address=None, **extra) -> Member:
    return Member(cluster=cluster, name=name, priority=priority, address=address or f"192.0.2.{priority % 250}", **extra)


def test_the_database_refuses_a_duplicate_priority(cluster):
    member(cluster).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        member(cluster, name="central2").save()


def test_the_database_refuses_a_duplicate_name(cluster):
    member(cluster).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        member(cluster, priority=20).save()


def test_the_database_refuses_a_duplicate_address(cluster):
    member(cluster, address="192.0.2.1").save()
    with pytest.raises(IntegrityError), transaction.atomic():
        member(cluster, name="central2", priority=20, address="192.0.2.1").save()


@pytest.mark.parametrize("key", ["ssh-ed25519 AAAAnotbase64!!", "ssh-ed25519", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGtest"])
def test_a_host_key_is_checked_when_it_is_entered(cluster, key):
    with pytest.raises(ValidationError) as raised:
        member(cluster, host_key=key).full_clean()
    assert "host_key" in raised.value.message_dict


def test_basic_authentication_over_plain_http_needs_an_explicit_yes(cluster):
    windows = member(cluster, platform="windows", winrm_auth="basic")
    with pytest.raises(ValidationError, match="sends the password in clear"):
        windows.full_clean()
    windows.winrm_allow_http_basic = True
    windows.full_clean()
    assert windows.insecure_transport


def test_the_same_name_and_priority_are_fine_in_another_cluster(cluster):
    member(cluster).save()
    member(Cluster.objects.create(name="lab")).save()


@pytest.mark.parametrize("name", ['a"b', "a<b", "a&b", "a\nb", "a\x07b", "a;rm -rf /", "$(id)", "é", "x" * 64, "", "-a"])
def test_it_refuses_names_that_could_break_the_file_or_a_command(cluster, name):
    with pytest.raises(ValidationError) as raised:
        member(cluster, name=name).full_clean()
    assert "name" in raised.value.message_dict


@pytest.mark.parametrize("priority", [0, 1_000_001])
def test_the_database_refuses_a_priority_out_of_range(cluster, priority):
    with pytest.raises(IntegrityError), transaction.atomic():
        member(cluster, priority=priority).save()


@pytest.mark.parametrize("address", ["not a host", "192.0.2.300", "a" * 300, "host;reboot"])
def test_it_refuses_addresses_that_are_not_hosts(cluster, address):
    with pytest.raises(ValidationError) as raised:
        member(cluster, address=address).full_clean()
    assert "address" in raised.value.message_dict


def test_the_preferences_path_and_port_default_by_platform(cluster):
    linux, windows = member(cluster), member(cluster, platform="windows")
    assert (linux.effective_port, linux.effective_preferences_path) == (22, "/var/mmsuite/mmcentral/preferences.cfg")
    assert (windows.effective_port, windows.effective_preferences_path) == (
        5985, r"C:\ProgramData\Men and Mice\Central\preferences.cfg")
    assert member(cluster, platform="windows", winrm_https=True).effective_port == 5986


def test_credentials_are_encrypted_in_the_database(cluster):
    member(cluster, password="hunter2-secret", private_key="-----BEGIN KEY-----").save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT password, private_key FROM ha_member")
        stored = cursor.fetchone()
    assert all(value.startswith("fernet:") for value in stored)
    assert "hunter2" not in "".join(stored)
    assert Member.objects.get().password == "hunter2-secret"


def test_next_priority_is_ten_then_ten_above_the_highest(cluster):
    assert cluster.next_priority() == 10
    member(cluster, priority=10).save()
    member(cluster, name="c2", priority=25).save()
    assert cluster.next_priority() == 35


@pytest.mark.django_db(transaction=True)
def test_two_racing_inserts_of_one_priority_let_exactly_one_win():
    cluster = Cluster.objects.create(name="race")
    barrier = threading.Barrier(2)
    outcomes = []

    def insert(name):
        try:
            with transaction.atomic():
                barrier.wait()
                member(cluster, name=name, priority=10).save()
            outcomes.append("saved")
        except IntegrityError as error:
            outcomes.append(f"refused: {error}")
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "saved"]
    assert "member_priority_unique_in_cluster" in next(o for o in outcomes if o.startswith("refused"))
    assert cluster.members.count() == 1


def test_state_history_older_than_the_retention_is_pruned(cluster, settings):
    from datetime import timedelta

    from django.utils import timezone

    from hacontrol.ha.models import StateChange

    settings.HACONTROL_HISTORY_DAYS = 30
    kept = member(cluster)
    kept.save()
    StateChange.objects.create(member=kept, from_state="unknown", to_state="active", when=timezone.now() - timedelta(days=31))
    StateChange.objects.create(member=kept, from_state="active", to_state="offline", when=timezone.now() - timedelta(days=29))
    assert StateChange.objects.prune() == 1
    assert list(StateChange.objects.values_list("to_state", flat=True)) == ["offline"]


def test_the_first_start_creates_one_administrator_and_says_so_once(db, capsys, monkeypatch):
    from django.contrib.auth.models import User

    from hacontrol.ha.management.commands.serve import Command

    monkeypatch.delenv("HACONTROL_ADMIN_PASSWORD", raising=False)
    Command().ensure_admin()
    Command().ensure_admin()
    out = capsys.readouterr().out
    assert out.count("Created administrator 'admin' with password:") == 1
    password = out.split("password: ")[1].split()[0]
    assert User.objects.get().check_password(password) and User.objects.get().is_superuser
