"""Every change an administrator can ask for, in one place behind the three front doors.

The web views, the ``manage.py ha`` CLI and the REST API are thin adapters over these functions.
Each action checks its rules (on the models), saves, audits and creates its job in one place, and
refuses with one error type, :class:`Refused`, naming the failed check; a refused action changes
nothing (the record and its job are made in one transaction) and is audited as refused. The
returned job is queued: the caller hands it to a worker (``jobs.enqueue``) or runs it
(``jobs.run_here``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.errors import Refused
from hacontrol.ha.jobs import create_job
from hacontrol.ha.models import (
    AuditEvent,
    Cluster,
    Credential,
    Job,
    JobKind,
    JobStatus,
    Member,
    Outcome,
    Platform,
    State,
    StepStatus,
    Upgrade,
    UpgradeStatus,
    heartbeat_problems,
)
from hacontrol.lib import central, dnsupdate
from hacontrol.lib.dnsupdate import DnsUpdateError, Plan
from hacontrol.lib.installers import InstallerError, inspect_installer, version_from_name

CLUSTER_FIELDS = (
    "name", "dns_name", "dns_resolver", "notes", "notify_email", "notify_webhook", "dns_zone", "dns_server",
    "dns_key_name", "dns_key_algorithm", "dns_key_secret", "dns_member_policy", "central_port",
)
# Left blank on an edit, a stored secret stays; it goes when DNS updates are turned off.
CLUSTER_SECRET_FIELDS = ("dns_key_secret",)
MEMBER_FIELDS = (
    "name", "priority", "address", "platform", "port", "credential", "username", "password", "private_key",
    "key_passphrase", "host_key", "use_sudo", "preferences_path", "winrm_https", "winrm_auth", "winrm_ca_file",
    "winrm_certificate", "winrm_allow_http_basic", "commands",
)
SECRET_FIELDS = ("password", "private_key", "key_passphrase")
CREDENTIAL_FIELDS = ("name", "kind", "username", "password", "private_key", "key_passphrase", "use_sudo", "description")
SAFE_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

__all__ = ["Refused"]


@contextmanager
def audited(actor: str, action: str, *, cluster: Cluster | None = None, member_name: str = "",
            reason: str = "") -> Iterator[None]:
    """Audit a refusal (outside any transaction that rolls back) and let it go on up."""
    try:
        yield
    except Refused as refusal:
        AuditEvent.record(actor, action, cluster=cluster, member_name=member_name, outcome=Outcome.REFUSED,
                          detail=f"{refusal.check}: {refusal.message}", reason=reason)
        raise


def refuse_invalid(error: ValidationError) -> Refused:
    """A model's validation errors as one refusal (field errors kept for forms)."""
    if hasattr(error, "message_dict"):
        errors = error.message_dict
        field = next(iter(errors))
        message = "; ".join(f"{name.replace('_', ' ')}: {' '.join(texts)}" for name, texts in errors.items())
        refusal = Refused(f"invalid-{field.replace('_', '-')}", message, field=field if field != "__all__" else None)
        refusal.errors = errors  # type: ignore[attr-defined]
        return refusal
    return Refused("invalid", " ".join(error.messages))


def current(cluster: Cluster) -> Cluster:
    """The cluster as it is in the database now: decisions about who is Active never rest on an
    object loaded before the last look at the hosts."""
    return Cluster.objects.select_related("active_member").get(pk=cluster.pk)


def clean(instance, exclude: Iterable[str] = ()) -> None:
    """The model's field rules (uniqueness is checked by the actions, with better words)."""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise refuse_invalid(error) from None


# Clusters -------------------------------------------------------------------------------------

def cluster_settings(fields: dict) -> dict:
    """The cluster settings given, as every door gives them: one left empty (None, or an empty
    port or choice, as a form sends a field it shows blank) takes the model's default, on create
    and on edit alike; None for a setting without a default is not given."""
    settings_given = {}
    for name, value in fields.items():
        if name not in CLUSTER_FIELDS:
            continue
        model_field = Cluster._meta.get_field(name)
        assert isinstance(model_field, models.Field)
        if value is None or (value == "" and model_field.has_default()):
            if not model_field.has_default():
                continue
            value = model_field.get_default()
        settings_given[name] = value
    return settings_given


@sensitive_variables()  # the TSIG secret
def create_cluster(actor: str, **fields) -> Cluster:
    cluster = Cluster(**cluster_settings(fields))
    with audited(actor, "cluster create"):
        clean(cluster)
        if Cluster.objects.filter(name=cluster.name).exists():
            raise Refused("cluster-name-taken", f"a cluster named {cluster.name!r} already exists", field="name")
        try:
            with transaction.atomic():
                cluster.save()
        except IntegrityError:
            raise Refused("cluster-name-taken", f"a cluster named {cluster.name!r} already exists", field="name") from None
    AuditEvent.record(actor, "cluster create", cluster=cluster, detail=f"DNS name {cluster.dns_name or '-'}")
    return cluster


@sensitive_variables()  # the TSIG secret
def edit_cluster(actor: str, cluster: Cluster, *, reason: str = "", **changes) -> Cluster:
    """Save a cluster's settings. A TSIG secret left blank keeps the stored one; clearing the zone,
    server and key name turns DNS updates off and forgets the secret too."""
    changes = {k: v for k, v in cluster_settings(changes).items() if not (k in CLUSTER_SECRET_FIELDS and not v)}
    updates_off = all(not changes.get(k, getattr(cluster, k)) for k in ("dns_zone", "dns_server", "dns_key_name"))
    if updates_off and cluster.dns_key_secret:
        changes["dns_key_secret"] = ""
    changed = [k for k, v in changes.items() if getattr(cluster, k) != v]
    with audited(actor, "cluster edit", cluster=cluster, reason=reason):
        for name in changed:
            setattr(cluster, name, changes[name])
        clean(cluster)
        if "name" in changed and Cluster.objects.exclude(pk=cluster.pk).filter(name=cluster.name).exists():
            raise Refused("cluster-name-taken", f"a cluster named {cluster.name!r} already exists", field="name")
        if changed:
            cluster.save(update_fields=changed)
    AuditEvent.record(actor, "cluster edit", cluster=cluster, detail="changed " + (", ".join(changed) or "nothing"),
                      reason=reason)
    return cluster


@sensitive_variables()  # the TSIG key reads the zone
def plan_dns(cluster: Cluster, *, actor: str = "", reason: str = "") -> Plan:
    """What Fix DNS would change now: the name's records read from the zone's primary server,
    compared with the members' addresses (a member given by host name is resolved, and the plan
    says so). Only reads; refused when updates are not set up or the records cannot be read.
    Read as the first half of a fix (the CLI shows the plan, then asks: ``actor`` given), a
    refusal is audited as the fix's."""
    with audited(actor, "dns fix", cluster=cluster, reason=reason) if actor else nullcontext():
        if not cluster.dns_updates_on:
            raise Refused("dns-updates-off", f"{cluster.name} has no DNS update settings: set the zone, the server "
                                             "and the TSIG key (Edit cluster) so hacontrol may change the name",
                          status=409)
        members = list(cluster.members.order_by("priority").values_list("name", "address"))
        try:
            before = dnsupdate.read(cluster.dns_target(), cluster.dns_name)
            return dnsupdate.plan_fix(cluster.dns_name, before, members, cluster.host_resolver())
        except DnsUpdateError as error:
            raise Refused("dns-unreadable", str(error), status=502) from None


def fix_dns(actor: str, cluster: Cluster, *, seen: str = "", confirm_deletions: bool = False,
            reason: str = "") -> Job:
    """Start the job that makes the round-robin name hold exactly the members' addresses. The plan
    is read again here: ``seen`` (the digest of the plan the administrator was shown, when one was)
    must still match it, and deleting records needs ``confirm_deletions``. The job's update is
    refused by the server if the records change after this read."""
    with audited(actor, "dns fix", cluster=cluster, reason=reason):
        plan = plan_dns(cluster)
        if seen and seen != plan.digest():
            raise Refused("dns-changed", f"{cluster.dns_name} or the members changed since the plan was shown; "
                                         "look at the new plan", status=409)
        if not plan.changes:
            raise Refused("dns-nothing-to-do", f"{cluster.dns_name} already holds exactly the members' addresses",
                          status=409)
        if plan.deletions and not confirm_deletions:
            raise Refused("confirm-deletions", f"this deletes {', '.join(c.address for c in plan.deletions)} from "
                                               f"{cluster.dns_name} (no member has it): confirm the deletions",
                          field="confirm_deletions")
        job = create_job(JobKind.FIX_DNS, cluster, actor, reason=reason, params={"plan": plan.as_json()})
    AuditEvent.record(actor, "dns fix", cluster=cluster, reason=reason,
                      detail=f"{cluster.dns_name} via {cluster.dns_server}: {plan.describe()}, job #{job.pk}")
    return job


def delete_cluster(actor: str, cluster: Cluster, *, reason: str = "") -> None:
    """Only the record goes; no host is touched. A cluster with members keeps them: remove or
    forget each first."""
    with audited(actor, "cluster delete", cluster=cluster, reason=reason):
        left = list(cluster.members.values_list("name", flat=True))
        if left:
            raise Refused("cluster-not-empty", f"{cluster.name} still has members ({', '.join(left)}): remove them "
                                               "first, or forget those whose host is gone", status=409)
        if cluster.running_job():
            raise Refused("cluster-busy", f"{cluster.name} has a job in progress", status=409)
    AuditEvent.record(actor, "cluster delete", cluster=cluster, reason=reason)
    cluster.delete()


# Members ----------------------------------------------------------------------------------------

def _priority_rules(cluster: Cluster, member: Member) -> None:
    others = cluster.members.exclude(pk=member.pk)
    clash = others.filter(priority=member.priority).first()
    if clash:
        raise Refused("priority-taken", f"priority {member.priority} is already {clash.name}'s; priorities are "
                                        "unique in a cluster", field="priority")
    primary = others.order_by("priority").first()
    if member.pk is None and primary and member.priority <= primary.priority:
        raise Refused("priority-below-primary",
                      f"a failover's priority must be higher than the primary {primary.name}'s ({primary.priority}); "
                      "use Set Active to change which member is Active", field="priority")


def _uniqueness_rules(cluster: Cluster, member: Member) -> None:
    others = cluster.members.exclude(pk=member.pk)
    if others.filter(name=member.name).exists():
        raise Refused("name-taken", f"{cluster.name} already has a member named {member.name}", field="name")
    same_address = others.filter(address__iexact=member.address).first()
    if same_address:
        raise Refused("address-taken", f"{member.address} is already the address of {same_address.name}", field="address")
    _priority_rules(cluster, member)


def _source_for_copy(cluster: Cluster) -> Member | None:
    """Whose preferences.cfg a new failover gets: the Active member's, else the primary's."""
    cluster = current(cluster)
    return cluster.active_member or cluster.primary()


@sensitive_variables()  # its login's password, key and passphrase
def add_member(actor: str, cluster: Cluster, *, reason: str = "", registered: bool = False,
               update_dns: bool | None = None, **fields) -> Job:
    """Record a member and start the job that configures its host (first member: the primary;
    later: a failover). ``registered`` says its name and priority are already in Micetro's HA
    configuration, so the job does not wait for that. ``update_dns`` answers the cluster's
    'ask' policy: also add its address to the round-robin name. What was entered (secrets aside)
    is kept on the job, so a failed add can be tried again from its page, whichever door asked."""
    values = {k: v for k, v in fields.items() if k in MEMBER_FIELDS and v is not None}
    entered = {k: v.pk if isinstance(v, Credential) else v for k, v in values.items() if k not in SECRET_FIELDS}
    values.setdefault("priority", cluster.next_priority())
    if values.get("platform") == Platform.WINDOWS:
        values.setdefault("username", "Administrator")
    if values.get("credential") is not None:
        values.update(dict.fromkeys(SECRET_FIELDS, ""))  # the saved credential's are used
    member = Member(cluster=cluster, registered=registered, **values)
    name = member.name or ""
    with audited(actor, "member add", cluster=cluster, member_name=name, reason=reason):
        clean(member, exclude=["cluster"])
        _uniqueness_rules(cluster, member)
        first = not cluster.members.exists()
        source = None if first else _source_for_copy(cluster)
        params = {"first": first, "registered": registered, "source": source.pk if source else None,
                  "form": entered, "dns": cluster.updates_member_dns(update_dns)}
        try:
            with transaction.atomic():
                member.save()
                job = create_job(JobKind.ADD, cluster, actor, member=member, params=params, reason=reason)
        except IntegrityError:
            raise Refused("taken-meanwhile", "another administrator just took this name, address or priority; "
                                             "pick another", status=409) from None
    login = f"credential {member.credential.name}" if member.credential else "its own login"
    AuditEvent.record(actor, "member add", cluster=cluster, member_name=member.name,
                      detail=f"{member.address} priority {member.priority}, {login}, job #{job.pk}", reason=reason)
    return job


@sensitive_variables()  # its login's password, key and passphrase
def edit_member(actor: str, member: Member, *, reason: str = "", registered: bool = False, **changes) -> Job | None:
    """Save a member's settings. Blank secrets keep the stored ones; a new name means reconfiguring
    the host (remove and add instead); a new priority is a job, since Micetro's list holds the
    priorities and an administrator changes it there first. Command overrides run as root on the
    host: changing them needs a reason, and the audit keeps the old and new text."""
    cluster = member.cluster
    with audited(actor, "member edit", cluster=cluster, member_name=member.name, reason=reason):
        if "name" in changes and changes["name"] != member.name:
            raise Refused("rename", "to rename a member, remove it and add it again under the new name", field="name")
        new_priority = changes.pop("priority", None)
        updates = {k: v for k, v in changes.items()
                   if k in MEMBER_FIELDS and k != "name" and not (k in SECRET_FIELDS and not v)}
        if updates.get("port") == "":
            updates["port"] = None
        old_commands = dict(member.commands)
        if "commands" in updates and (updates["commands"] or {}) != old_commands and not reason.strip():
            raise Refused("reason-required", "command overrides run as root on the host: give the reason for "
                                             "changing them (it is kept in the audit log)", field="reason")
        old_login = f"credential {member.credential.name}" if member.credential else "its own login"
        changed = [k for k, v in updates.items() if getattr(member, k) != v]
        for name in changed:
            setattr(member, name, updates[name])
        if member.credential is not None:  # the saved credential's secrets are used: its own go
            for name in SECRET_FIELDS:
                if getattr(member, name):
                    setattr(member, name, "")
                    changed.append(name)
        clean(member, exclude=["cluster"])
        _uniqueness_rules(cluster, member)
        job = None
        if new_priority is not None and int(new_priority) != member.priority:
            probe = Member(pk=member.pk, cluster=cluster, priority=int(new_priority), name=member.name,
                           address=member.address)
            clean(probe, exclude=[f.name for f in Member._meta.fields if f.name != "priority"])
            _priority_rules(cluster, probe)
        with transaction.atomic():
            if changed:
                member.save(update_fields=changed)
            if new_priority is not None and int(new_priority) != member.priority:
                job = create_job(JobKind.EDIT_PRIORITY, cluster, actor, member=member, reason=reason,
                                 params={"old_priority": member.priority, "priority": int(new_priority),
                                         "registered": registered})
    detail = "changed " + (", ".join(dict.fromkeys(changed)) or "nothing")
    if "credential" in changed:
        detail += f"; login was {old_login}, now " + (f"credential {member.credential.name}" if member.credential
                                                      else "its own login")
    if "commands" in changed:
        detail += f"; commands were {old_commands or 'the defaults'}, now {member.commands or 'the defaults'}"
    if job:
        detail += f"; priority {member.priority} -> {new_priority} by job #{job.pk}"
    AuditEvent.record(actor, "member edit", cluster=cluster, member_name=member.name, detail=detail, reason=reason)
    return job


def remove_member(actor: str, member: Member, *, stop: bool = True, confirm_active: bool = False,
                  unregistered: bool = False, update_dns: bool | None = None, reason: str = "") -> Job:
    """Start removing a member: stop it (optional), take its name out, unregister it, forget it.
    The Active member, which the others depend on, only with an explicit confirmation.
    ``update_dns`` answers the cluster's 'ask' policy: also delete its address from the name."""
    cluster = member.cluster
    with audited(actor, "member remove", cluster=cluster, member_name=member.name, reason=reason):
        if needs_active_confirmation(member) and not confirm_active:
            raise Refused("confirm-active", f"{member.name} is the Active member and the others depend on it: "
                                            "confirm to remove it (Central fails over to another member)",
                          field="confirm_active")
        return create_job(JobKind.REMOVE, cluster, actor, member=member, reason=reason,
                          params={"stop": stop, "unregistered": unregistered,
                                  "dns": cluster.updates_member_dns(update_dns)})


def needs_active_confirmation(member: Member) -> bool:
    """Whether removing ``member`` takes the Active member away from others that depend on it."""
    cluster = current(member.cluster)
    active = cluster.active_member_id == member.pk or (cluster.active_member_id is None and member.is_primary)
    return active and cluster.members.exclude(pk=member.pk).exists()


def forget_member(actor: str, member: Member, *, confirm: bool = False, unregistered: bool = False,
                  update_dns: bool | None = None, reason: str = "") -> Job:
    """Drop a member whose host is gone for good, without touching the host (its address may
    still leave the round-robin name: ``update_dns``, as for a removal)."""
    cluster = member.cluster
    with audited(actor, "member forget", cluster=cluster, member_name=member.name, reason=reason):
        if not confirm:
            raise Refused("confirm-forget", f"confirm that {member.name}'s host is gone for good: hacontrol will not "
                                            "touch it", field="confirm")
        if not reason.strip():
            raise Refused("reason-required", "give the reason for forgetting the member (it is kept in the audit log)",
                          field="reason")
        if member.state in (State.ACTIVE, State.STANDBY, State.TAKING_OVER):
            raise Refused("member-serving", f"{member.name} is serving ({member.get_state_display()}): remove it "
                                            "instead, so its host is configured too", status=409)
        return create_job(JobKind.FORGET, cluster, actor, member=member, reason=reason,
                          params={"unregistered": unregistered, "dns": cluster.updates_member_dns(update_dns)})


def switchover(actor: str, member: Member, *, reason: str = "") -> Job:
    """Set Active: make ``member`` Active by Central's own failover (procedures.cluster.switchover)."""
    cluster = current(member.cluster)
    member.refresh_from_db()
    with audited(actor, "switchover", cluster=cluster, member_name=member.name, reason=reason):
        if cluster.active_member_id == member.pk:
            raise Refused("already-active", f"{member.name} is already the Active member", status=409)
        if member.serving_since is None:
            raise Refused("target-not-serving", f"{member.name} is {member.get_state_display()}"
                          + (f" ({member.state_reason})" if member.state_reason else "")
                          + ": only a running, registered member can become Active", status=409)
        members = list(cluster.members.all())
        facts = {m.pk: central.Facts(key=m.pk, name=m.name, priority=m.priority) for m in members}
        valid = [facts[m.pk] for m in members if m.serving_since is not None]
        active = facts.get(cluster.active_member_id) if cluster.active_member_id else None
        stop = [f.key for f in central.stop_before(facts[member.pk], active, valid)]
        return create_job(JobKind.SWITCHOVER, cluster, actor, member=member, reason=reason,
                          params={"stop": stop, "active": cluster.active_member_id})


def tune(actor: str, cluster: Cluster, *, interval: int | None, max_downtime: int | None, reason: str = "") -> Job:
    """Write the heartbeat settings to every member, secondaries first and the Active one last;
    the cluster's settings change together with the accepted job."""
    cluster = current(cluster)
    with audited(actor, "tune", cluster=cluster, reason=reason):
        problems = heartbeat_problems(interval, max_downtime)
        if problems:
            field, message = next(iter(problems.items()))
            raise Refused(f"invalid-{field.replace('_', '-')}", message, field=field)
        members = list(cluster.members.order_by("-priority"))
        if not members:
            raise Refused("no-members", f"{cluster.name} has no member to apply the settings to", status=409)
        order = [m.pk for m in members if m.pk != cluster.active_member_id] + \
                ([cluster.active_member_id] if cluster.active_member_id else [])
        with transaction.atomic():
            job = create_job(JobKind.TUNE, cluster, actor, reason=reason, params={
                "order": order, "settings": {"interval": interval, "max_downtime": max_downtime}})
            Cluster.objects.filter(pk=cluster.pk).update(heartbeat_interval=interval, heartbeat_max_downtime=max_downtime)
    cluster.heartbeat_interval, cluster.heartbeat_max_downtime = interval, max_downtime
    return job


def accept_host_key(actor: str, member: Member, *, seen_fingerprint: str, reason: str = "") -> tuple[str, str]:
    """Pin the identity the host presented (an SSH host key, or a WinRM TLS certificate), only if
    it is the one the administrator saw (its fingerprint); returns the (old, new) fingerprints, both
    kept in the audit."""
    with audited(actor, "host key accepted", cluster=member.cluster, member_name=member.name, reason=reason):
        member.refresh_from_db(fields=["host_key", "presented_host_key", "winrm_certificate"])
        what = member.identity_kind
        if not member.presented_host_key:
            raise Refused("no-presented-key", f"{member.address} has not presented a new {what}", status=409)
        presented = member.presented_key_fingerprint
        if seen_fingerprint.strip() != presented:
            raise Refused("host-key-changed-again", f"{member.address} now presents {presented}, not the "
                                                    f"{seen_fingerprint.strip() or 'nothing'} you accepted: "
                                                    "compare the new one before accepting it", status=409)
        old = member.host_key_fingerprint
        pinned = member.pin_presented()
        member.save(update_fields=[pinned, "presented_host_key"])
    AuditEvent.record(actor, "host key accepted", cluster=member.cluster, member_name=member.name,
                      detail=f"{what}: old {old or 'none'}, new {presented}", reason=reason)
    return old, presented


def restore_backup(actor: str, member: Member, *, backup: str, reason: str = "") -> Job:
    """Start putting back a preferences.cfg hacontrol kept on the member's host (see
    procedures.members.restore_backup); only a backup the last look found there."""
    cluster = member.cluster
    with audited(actor, "member restore", cluster=cluster, member_name=member.name, reason=reason):
        member.check_backup_name(backup)
        if member.backup(backup) is None:
            raise Refused("backup-unknown", f"the last look at {member.name} found no {backup}: check the member "
                                            "again", status=409)
        job = create_job(JobKind.RESTORE, cluster, actor, member=member, reason=reason, params={"backup": backup})
    AuditEvent.record(actor, "member restore", cluster=cluster, member_name=member.name,
                      detail=f"{backup} by job #{job.pk}", reason=reason)
    return job


# Credentials --------------------------------------------------------------------------------------

def _where_used(credential: Credential) -> list[str]:
    return [f"{cluster}/{name}" for cluster, name in
            credential.members.order_by("cluster__name", "priority").values_list("cluster__name", "name")]


def _credential_rules(credential: Credential) -> None:
    clean(credential)
    if Credential.objects.exclude(pk=credential.pk).filter(name=credential.name).exists():
        raise Refused("credential-name-taken", f"a credential named {credential.name!r} already exists", field="name")


@sensitive_variables()
def create_credential(actor: str, **fields) -> Credential:
    """Save a login once, for many members to use."""
    credential = Credential(**{k: v for k, v in fields.items() if k in CREDENTIAL_FIELDS and v is not None})
    with audited(actor, "credential create"):
        credential.drop_unused_secrets()
        _credential_rules(credential)
        try:
            with transaction.atomic():
                credential.save()
        except IntegrityError:
            raise Refused("credential-name-taken", f"a credential named {credential.name!r} already exists",
                          field="name") from None
    AuditEvent.record(actor, "credential create", detail=f"{credential.name}: {credential.get_kind_display()}, "
                                                         f"user {credential.username}")
    return credential


@sensitive_variables()
def edit_credential(actor: str, credential: Credential, *, reason: str = "", **changes) -> Credential:
    """Change a saved credential: every member that uses it uses the new one from its next
    connection on. Blank secrets keep the stored ones; the audit names what changed (never a
    secret's value) and the members it applies to."""
    with audited(actor, "credential edit", reason=reason):
        updates = {k: v for k, v in changes.items()
                   if k in CREDENTIAL_FIELDS and v is not None and not (k in SECRET_FIELDS and not v)}
        changed = [k for k, v in updates.items() if getattr(credential, k) != v]
        old_platform = credential.platform
        for name in changed:
            setattr(credential, name, updates[name])
        if "kind" in changed and credential.platform != old_platform and credential.members.exists():
            raise Refused("credential-platform", f"{credential.name} is used by {', '.join(_where_used(credential))}: "
                                                 "it cannot change platform", field="kind")
        before = {name: getattr(credential, name) for name in SECRET_FIELDS}
        credential.drop_unused_secrets()
        changed += [name for name in SECRET_FIELDS if before[name] != getattr(credential, name) and name not in changed]
        _credential_rules(credential)
        if changed:
            credential.save()
    used = _where_used(credential)
    AuditEvent.record(actor, "credential edit", reason=reason, detail=f"{credential.name}: changed "
                      + (", ".join(changed) or "nothing") + f"; used by {', '.join(used) or 'no member'}")
    return credential


def delete_credential(actor: str, credential: Credential, *, reason: str = "") -> None:
    """Only an unused credential goes: a member using it would lose its login."""
    with audited(actor, "credential delete", reason=reason):
        used = _where_used(credential)
        if used:
            raise Refused("credential-in-use", f"{credential.name} is used by {', '.join(used)}: give them another "
                                               "credential (or their own login) first", status=409)
        try:
            with transaction.atomic():
                credential.delete()
        except models.ProtectedError:
            raise Refused("credential-in-use", f"{credential.name} was just given to a member", status=409) from None
    AuditEvent.record(actor, "credential delete", detail=credential.name, reason=reason)


# Jobs ---------------------------------------------------------------------------------------------

def confirm_job(actor: str, job: Job) -> Job:
    """An administrator did the Micetro step the job waits for: it goes on (queued again)."""
    with audited(actor, "job confirm", cluster=job.cluster, member_name=job.member_name):
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            if locked.status != JobStatus.WAITING:
                raise Refused("job-not-waiting", f"job #{job.pk} is {locked.get_status_display().lower()}, not waiting "
                                                 "for a confirmation", status=409)
            step = locked.waiting_step()
            if step is not None:
                step.status, step.finished = StepStatus.SUCCEEDED, timezone.now()
                step.output += f"done in Micetro, confirmed by {actor}\n"
                step.save(update_fields=["status", "finished", "output"])
            locked.status = JobStatus.QUEUED
            locked.save(update_fields=["status"])
    AuditEvent.record(actor, "job confirm", cluster=job.cluster, member_name=job.member_name,
                      detail=f"job #{job.pk}: {step.instructions.get('text') if step else 'confirmed'}")
    job.refresh_from_db()
    return job


def cancel_job(actor: str, job: Job, *, reason: str = "") -> Job:
    """Cancel a job: a running one stops after its current step (at once while it waits on
    Central) and undoes what ran; a waiting or queued one is queued to be undone. Returns the job;
    when it still has something to undo it is queued (the caller hands it to a runner)."""
    with audited(actor, "job cancel", cluster=job.cluster, member_name=job.member_name, reason=reason):
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            if not locked.is_active:
                raise Refused("job-ended", f"job #{job.pk} has already ended ({locked.get_status_display().lower()})",
                              status=409)
            locked.cancel_requested_by, locked.cancel_reason = actor, reason
            fields = ["cancel_requested_by", "cancel_reason"]
            if locked.status == JobStatus.QUEUED and not locked.steps.exists():
                locked.status, locked.finished = JobStatus.CANCELLED, timezone.now()
                locked.error = f"cancelled by {actor}" + (f": {reason}" if reason else "") + " before it started"
                fields += ["status", "finished", "error"]
            elif locked.status == JobStatus.WAITING:
                locked.status = JobStatus.QUEUED
                fields.append("status")
            locked.save(update_fields=fields)
    AuditEvent.record(actor, "job cancel", cluster=job.cluster, member_name=job.member_name,
                      detail=f"job #{job.pk} ({job.title})", reason=reason)
    job.refresh_from_db()
    return job


# Upgrades ---------------------------------------------------------------------------------------------

def store_installer(chunks: Iterable[bytes], name: str) -> dict:
    """Stream an installer to HACONTROL_INSTALLER_DIR/<sha256>/<name>, refusing it past
    HACONTROL_MAX_INSTALLER_SIZE, and check it is a Central installer before any host sees it."""
    staging = Path(settings.HACONTROL_INSTALLER_DIR) / "incoming"
    staging.mkdir(parents=True, exist_ok=True)
    partial = staging / f"{timezone.now():%Y%m%d%H%M%S%f}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as handle:
            for chunk in chunks:
                size += len(chunk)
                if size > settings.HACONTROL_MAX_INSTALLER_SIZE:
                    raise Refused("installer-too-large", f"{name} is over the {settings.HACONTROL_MAX_INSTALLER_SIZE} "
                                                         "byte limit for an installer (HACONTROL_MAX_INSTALLER_SIZE)",
                                  field="installer", status=413)
                digest.update(chunk)
                handle.write(chunk)
        return _keep_installer(partial, digest.hexdigest(), size, name)
    finally:
        partial.unlink(missing_ok=True)


def store_uploaded_installer(upload) -> dict:
    """An installer uploaded through the page or the API. The upload handler
    (hacontrol.ha.uploads) already streamed it to disk and hashed it: it is checked and moved into
    place, not copied again; one that came another way is streamed as by :func:`store_installer`."""
    path = getattr(upload, "path", None)
    if path is None:
        return store_installer(upload.chunks(), upload.name)
    if upload.size > settings.HACONTROL_MAX_INSTALLER_SIZE:
        raise Refused("installer-too-large", f"{upload.name} is over the {settings.HACONTROL_MAX_INSTALLER_SIZE} "
                                             "byte limit for an installer (HACONTROL_MAX_INSTALLER_SIZE)",
                      field="installer", status=413)
    try:
        return _keep_installer(Path(path), upload.sha256, upload.size, upload.name)
    finally:
        Path(path).unlink(missing_ok=True)


def _keep_installer(partial: Path, sha256: str, size: int, name: str) -> dict:
    """Check a received installer and move it to HACONTROL_INSTALLER_DIR/<sha256>/<name>."""
    safe_name = "".join(c if c in SAFE_NAME_CHARS else "_" for c in Path(name).name) or "installer"
    try:
        found = inspect_installer(partial, safe_name)
    except InstallerError as error:
        raise Refused("installer-invalid", str(error), field="installer") from None
    final = Path(settings.HACONTROL_INSTALLER_DIR) / sha256 / safe_name
    final.parent.mkdir(parents=True, exist_ok=True)
    partial.replace(final)
    return {"installer_file": str(final), "installer_sha256": sha256, "installer_size": size,
            "installer_name": safe_name, "installer_platform": found.platform, "installer_folder": found.folder,
            "version": found.version}


def start_upgrade(actor: str, cluster: Cluster, *, installer: dict | None = None, installer_host_path: str = "",
                  target_version: str = "") -> Upgrade:
    """Open an upgrade of ``cluster`` with a stored installer (``store_installer``) or a path
    already on every host; refused while another is open or a job runs."""
    with audited(actor, "upgrade start", cluster=cluster):
        if bool(installer) == bool(installer_host_path):
            raise Refused("installer-missing", "upload an installer or give its path on the hosts (one of the two)",
                          field="installer")
        if installer_host_path:
            path = installer_host_path.strip()
            if not (path.startswith("/") or (len(path) > 2 and path[1:3] == ":\\")) or \
                    any(c in path for c in "\x00\r\n\"'`$;&|<>%^"):
                raise Refused("installer-path", "give an absolute path without quotes or shell characters",
                              field="installer_host_path")
            folder = Path(path.replace("\\", "/")).name.removesuffix(".tgz")
            installer = {"installer_name": Path(path.replace("\\", "/")).name, "installer_host_path": path,
                         "installer_folder": folder if folder.startswith("micetro-central-") else "",
                         "installer_platform": "windows" if ":\\" in path else "linux",
                         "version": version_from_name(path)}
        assert installer is not None
        version = target_version or installer.pop("version", "")
        installer.pop("version", None)
        if not version:
            raise Refused("version-unknown", f"no version in the installer {installer['installer_name']!r}: enter the "
                                             "target version", field="target_version")
        members = list(cluster.members.order_by("priority"))
        if not members:
            raise Refused("no-members", f"{cluster.name} has no member to upgrade", status=409)
        active = current(cluster).active_member
        order = ([active] if active else []) + [m for m in members if m != active]
        running = cluster.running_job()
        if running:
            raise Refused("cluster-busy", f"{cluster.name} is busy: job #{running.pk} \"{running.title}\" is "
                                          f"{running.status}", status=409)
        try:
            with transaction.atomic():
                upgrade = Upgrade.objects.create(
                    cluster=cluster, started_by=actor, target_version=version, member_order=[m.pk for m in order],
                    versions_before={m.name: m.version for m in order}, **installer)
        except IntegrityError:
            open_one = cluster.open_upgrade()
            raise Refused("upgrade-open", f"upgrade #{open_one.pk if open_one else '?'} of {cluster.name} is still "
                                          "open: finish or abort it first", status=409) from None
    AuditEvent.record(actor, "upgrade start", cluster=cluster,
                      detail=f"upgrade #{upgrade.pk} to {version} with {upgrade.installer_name} "
                      f"(sha256 {upgrade.installer_sha256 or 'n/a'})")
    return upgrade


def run_upgrade_stage(actor: str, upgrade: Upgrade) -> Job:
    """Create the job for the wizard's current stage (a retry after a failure runs it again)."""
    with audited(actor, "upgrade", cluster=upgrade.cluster):
        if not upgrade.is_open:
            raise Refused("upgrade-closed", f"upgrade #{upgrade.pk} is {upgrade.get_status_display().lower()}", status=409)
        kind, member = upgrade.stages()[upgrade.stage]
        with transaction.atomic():
            job = create_job(kind, upgrade.cluster, actor, member=member, params={"stage": upgrade.stage},
                             upgrade=upgrade)
            Upgrade.objects.filter(pk=upgrade.pk).update(status=UpgradeStatus.RUNNING, error="")
    upgrade.refresh_from_db()
    return job


def override_preflight(actor: str, upgrade: Upgrade, *, reason: str) -> Upgrade:
    """Go past failed pre-flight checks: only explicitly, with a reason, and audited."""
    with audited(actor, "upgrade override", cluster=upgrade.cluster, reason=reason):
        if upgrade.stage != 0 or upgrade.status != UpgradeStatus.FAILED:
            raise Refused("nothing-to-override", "only failed pre-flight checks can be overridden", status=409)
        if not reason.strip():
            raise Refused("reason-required", "give the reason for overriding the failed checks; it is kept in the "
                                             "audit log", field="reason")
    Upgrade.objects.filter(pk=upgrade.pk).update(overridden=reason, stage=1, status=UpgradeStatus.RUNNING)
    AuditEvent.record(actor, "upgrade override", cluster=upgrade.cluster,
                      detail=f"upgrade #{upgrade.pk}: failed pre-flight checks overridden ({upgrade.error})", reason=reason)
    upgrade.refresh_from_db()
    return upgrade


def abort_upgrade(actor: str, upgrade: Upgrade, *, reason: str = "") -> Job:
    """A job that starts again what the upgrade stopped (see procedures.upgrade.abort)."""
    with audited(actor, "upgrade abort", cluster=upgrade.cluster, reason=reason):
        if not upgrade.is_open:
            raise Refused("upgrade-closed", f"upgrade #{upgrade.pk} is {upgrade.get_status_display().lower()}", status=409)
        return create_job(JobKind.UPGRADE_ABORT, upgrade.cluster, actor, upgrade=upgrade, reason=reason)
