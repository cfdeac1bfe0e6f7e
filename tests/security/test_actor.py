"""Who did it: the CLI records the operating-system user who ran it; HACONTROL_ACTOR is kept beside
that name, never instead of it."""

import getpass

from django.core.management import call_command

from hacontrol.ha.models import AuditEvent


def test_the_cli_records_the_os_user_and_a_named_actor_only_beside_it(db, monkeypatch):
    user = getpass.getuser()
    monkeypatch.delenv("HACONTROL_ACTOR", raising=False)
    call_command("ha", "cluster", "create", "first")
    monkeypatch.setenv("HACONTROL_ACTOR", "admin")  # anyone can write any name here
    call_command("ha", "cluster", "create", "second")
    monkeypatch.setenv("HACONTROL_ACTOR", "x" * 400)
    call_command("ha", "cluster", "create", "third")
    actors = list(AuditEvent.objects.filter(action="cluster create").order_by("pk").values_list("actor", flat=True))
    assert actors[:2] == [f"cli:{user}", f"cli:{user} (admin)"]
    assert actors[2].startswith(f"cli:{user} (xxx"), "a long name never pushes the OS user out"
