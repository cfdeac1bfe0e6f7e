"""What procedures are made of: steps (an action, a check, an undo) and the context they act through.

The job runner (hacontrol.ha.runner) walks the steps, records each with its output, and on a
failure or a cancel undoes the steps that ran (the failed one included) newest first. Every undo
works from what the job stored in its vault (the hosts as found), so the same undo runs after a
crash, in whichever process recovers the job.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, Value
from django.db.models.functions import Concat

from hacontrol.ha.models import Job, JobKind, Member, State
from hacontrol.ha.probe import probe_cluster
from hacontrol.lib import central
from hacontrol.lib.prefs import Preferences, PreferencesError
from hacontrol.remote import (
    CommandResult,
    HostKeyError,
    Remote,
    RemoteError,
    ServiceState,
    TimedOut,
    Unreachable,
    call,
)

NAME_KEY = "ClusterMemberName"
T = TypeVar("T")
logger = logging.getLogger("hacontrol.jobs")


def durable(write: Callable[[], T], patience: float = 60.0) -> T:
    """Run a database write (or read), waiting out a database restart instead of losing the
    record: a dropped connection is closed and the work retried until ``patience`` seconds have
    passed."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            logger.warning("the database went away; retrying a job write")
            connection.close()
            time.sleep(0.5)


class StepFailed(Exception):
    """A step's action or check did not work; the message says what was found."""


class HostUnavailable(StepFailed):
    """The host could not be reached or stopped answering: it may come back (an undo waits)."""


class NeedsAdministrator(Exception):  # noqa: N818 - it is a request, not an error
    """The step is done by an administrator in Micetro's own UI: the job waits for a confirm."""

    def __init__(self, instructions: dict):
        super().__init__(instructions["text"])
        self.instructions = instructions


class Cancelled(Exception):  # noqa: N818 - a request from an administrator
    """An administrator cancelled the job; the runner undoes what ran."""


@dataclass
class Step:
    """``gate`` steps are checks: a failed one is recorded, the next still runs, and the job
    fails at the end without undoing anything."""

    name: str
    action: Callable[[], None]
    check: Callable[[], None] | None = None
    undo: Callable[[], None] | None = None
    gate: bool = False


@dataclass(frozen=True)
class Procedure:
    """A job kind: how to build its steps from the job, and what it works on.

    ``scope`` says which members the job puts in Maintenance: its own member ('member'), every
    member ('cluster') or none (it only reads, or only asks an administrator).
    """

    kind: JobKind
    build: Callable[[JobContext], list[Step]]
    description: str
    scope: str = "member"


@dataclass
class Snapshot:
    """A member's host as found before the job touched it, for undo."""

    preferences: bytes | None = None
    running: bool | None = None

    def as_json(self) -> dict:
        data = None if self.preferences is None else base64.b64encode(self.preferences).decode()
        return {"preferences": data, "running": self.running}

    @classmethod
    def from_json(cls, saved: dict) -> Snapshot:
        data = saved.get("preferences")
        return cls(None if data is None else base64.b64decode(data), saved.get("running"))


@dataclass
class JobContext:
    """What steps act through: hosts, the cluster's states, the vault, the administrator.

    Every command and file change is logged to the step running it; every host's original state
    goes to the job's vault before it changes.
    """

    job: Job
    log: Callable[[str], None]
    set_deadline: Callable[[datetime | None], None] = lambda deadline: None
    cancelled: Callable[[], bool] = lambda: False
    vault: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vault = self.job.vault_data()
        self.cluster = self.job.cluster

    @property
    def member(self) -> Member:
        assert self.job.member is not None, "this procedure needs a member"
        return self.job.member

    def members(self, ids: list[int]) -> list[Member]:
        """Members by id, in the given order (ids that are gone are skipped)."""
        found = {m.pk: m for m in self.cluster.members.filter(pk__in=ids)}
        return [found[pk] for pk in ids if pk in found]

    # Vault -------------------------------------------------------------------------------

    def keep(self, key: str, value) -> None:
        """Store ``value`` in the job's vault (encrypted at rest) before acting on it."""
        self.vault[key] = value
        Job.objects.filter(pk=self.job.pk).update(vault=json.dumps(self.vault))

    def snapshot(self, member: Member) -> Snapshot:
        saved = self.vault.get("snapshots", {}).get(str(member.pk))
        if saved is None:
            raise StepFailed(f"{member.name}: hacontrol has no record of how this host was before the job")
        return Snapshot.from_json(saved)

    def remember(self, member: Member, snapshot: Snapshot) -> None:
        """Keep how a host was before the job touched it (once: the first look wins)."""
        snapshots = self.vault.setdefault("snapshots", {})
        if str(member.pk) not in snapshots:
            snapshots[str(member.pk)] = snapshot.as_json()
            self.keep("snapshots", snapshots)

    # Hosts -------------------------------------------------------------------------------

    def on(self, member: Member, operation: Callable[[Remote], T]) -> T:
        """Run ``operation`` on the member's host; a host key it does not know is kept for an
        administrator to review, any remote failure fails the step with its message."""
        try:
            return call(member.connection_settings(), operation)
        except HostKeyError as error:
            Member.objects.filter(pk=member.pk).update(presented_host_key=error.presented_key)
            if "form" in self.job.params:  # a failed add offers to retry with this key filled in
                pins = "winrm_certificate" if member.platform == "windows" else "host_key"
                self.job.params["form"][pins] = error.presented_key
                self.job.params["presented_fingerprint"] = error.fingerprint
                Job.objects.filter(pk=self.job.pk).update(params=self.job.params)
            raise StepFailed(str(error)) from None
        except (Unreachable, TimedOut) as error:
            raise HostUnavailable(str(error)) from None
        except RemoteError as error:
            raise StepFailed(str(error)) from None

    def run(self, member: Member, command: str, *, must_succeed: bool = True, timeout: float | None = None) -> CommandResult:
        self.log(f"{member.name}$ {command}")
        result = self.on(member, lambda remote: remote.run_checked(command, timeout))
        self._log_output(result)
        if must_succeed and not result.ok:
            raise StepFailed(f"on {member.name}: {result.describe()}")
        return result

    def _log_output(self, result: CommandResult) -> None:
        for text in (result.stdout, result.stderr):
            if text.strip():
                self.log(text.rstrip())

    def read_preferences(self, member: Member) -> tuple[bytes, Preferences]:
        path = member.effective_preferences_path
        self.log(f"{member.name}: read {path}")
        data = self.on(member, lambda remote: remote.read_file(path))
        try:
            return data, Preferences.parse(data)
        except PreferencesError as error:
            raise StepFailed(f"{member.name}: {error}") from None

    def write_preferences(self, member: Member, data: bytes) -> None:
        path = member.effective_preferences_path
        backup = self.on(member, lambda remote: remote.write_file(path, data))
        self.log(f"{member.name}: wrote {path}" + (f" (previous copy kept as {backup})" if backup else ""))

    def service_state(self, member: Member) -> ServiceState:
        return self.on(member, lambda remote: remote.service())

    def control(self, member: Member, action: str) -> None:
        """Stop, start or restart Central on a member, the platform's way."""
        self.log(f"{member.name}: {action} Central")
        result = self.on(member, lambda remote: remote.control(action))
        self.log(f"{member.name}$ {result.command}")
        self._log_output(result)
        if not result.ok:
            raise StepFailed(f"on {member.name}: {result.describe()}")

    def wait_for_service(self, member: Member, running: bool) -> None:
        """Poll the service until it is (not) running, up to HACONTROL_START_WAIT seconds."""
        deadline = time.monotonic() + settings.HACONTROL_START_WAIT
        while self.service_state(member).running != running:
            if time.monotonic() >= deadline:
                word = "start" if running else "stop"
                raise StepFailed(f"Central on {member.name} did not {word} within {settings.HACONTROL_START_WAIT} s")
            self.pause(1)

    def restore_service(self, member: Member) -> None:
        """Put the service back as the snapshot found it (a snapshot that did not see it: leave it)."""
        wanted = self.snapshot(member).running
        if wanted is None:
            return
        if self.service_state(member).running != wanted:
            self.control(member, "start" if wanted else "stop")
            self.wait_for_service(member, wanted)
        self.log(f"{member.name}: Central {'runs' if wanted else 'is stopped'}, as before the job")

    def restore_preferences(self, member: Member, *, reload: bool = False) -> None:
        """Write the preferences.cfg the job found back, when it differs. With ``reload``, a Central
        running meanwhile (it read the job's file when it started) is restarted on the file put back."""
        original = self.snapshot(member).preferences
        if original is None:
            return
        if self.read_preferences(member)[0] == original:
            self.log(f"{member.name}: preferences.cfg is as before the job")
            return
        self.write_preferences(member, original)
        if reload and self.service_state(member).running:
            self.control(member, "restart")
            self.wait_for_service(member, True)

    # The cluster -------------------------------------------------------------------------

    def states(self) -> dict[int, tuple[str, str]]:
        """Look at the whole cluster now and return each member's (state, reason); a database
        restart meanwhile is waited out (the look is taken again)."""

        def look() -> list[Member]:
            members = probe_cluster(self.cluster, quiet=set(self.job.affected))
            self.cluster.refresh_from_db()
            return members

        members = durable(look)
        for member in members:
            self.log(f"{member.name}: {member.get_state_display()}" + (f" ({member.state_reason})" if member.state_reason else ""))
        if self.cluster.ha_note:
            self.log(self.cluster.ha_note)
        return {member.pk: (member.state, member.state_reason) for member in members}

    def timing(self) -> central.Timing:
        """The heartbeat timing in force across the cluster, as last seen."""
        return central.Timing.of_cluster(
            central.Timing.from_settings(m.heartbeat_settings.get("HeartbeatInterval"),
                                         m.heartbeat_settings.get("HeartbeatMaxAllowedDowntime"))
            for m in self.cluster.members.all()
        )

    def wait_for_states(self, wanted: dict[Member, set[str]], title: str) -> None:
        """Look at the cluster until every member is in a wanted state. While Central may still
        be deciding (a failover, a member just started), keep looking until the latest moment it
        decides by; a state that can no longer change the right way fails at once."""
        timing = self.timing()
        give_up = time.time() + timing.latest_failover + settings.HACONTROL_START_WAIT
        self.set_deadline(datetime.fromtimestamp(give_up, timezone.utc))
        try:
            while True:
                states = self.states()
                wrong = {m: states[m.pk] for m, allowed in wanted.items() if states[m.pk][0] not in allowed}
                if not wrong:
                    return
                settled = all(state in (State.OFFLINE,) for state, _ in wrong.values())
                if settled or time.time() > give_up:
                    described = "; ".join(
                        f"{m.name} is {State(state).label}{f' ({reason})' if reason else ''}, expected "
                        + " or ".join(State(s).label for s in sorted(wanted[m])) for m, (state, reason) in wrong.items())
                    raise StepFailed(described)
                latest = (self.cluster.failover or {}).get("latest")
                if latest:
                    self.set_deadline(datetime.fromtimestamp(latest, timezone.utc))
                # Look again in a second, or just after the moment Central must have decided by.
                until_latest = latest - time.time() if latest else 0.0
                self.pause(min(1.0, until_latest + 0.05) if until_latest > 0 else 1.0)
        finally:
            self.set_deadline(None)

    def pause(self, seconds: float) -> None:
        """Sleep, but stop at once when an administrator cancels."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.cancelled():
                raise Cancelled()
            time.sleep(max(0.0, min(0.25, end - time.monotonic())))

    # The administrator ---------------------------------------------------------------------

    def ask_administrator(self, action: str, member_name: str, priority: int | None = None,
                          old_priority: int | None = None) -> None:
        """Stop here until an administrator confirms they did ``action`` in Micetro's High
        Availability configuration (central_ha: "Admin -> Configuration -> High Availability";
        Micetro before 10.2: Management Console, Tools -> Manage High Availability). No documented
        API does it, so hacontrol cannot."""
        texts = {
            "register": f"Add the member {member_name} with priority {priority}",
            "unregister": f"Remove the member {member_name}",
            "set-priority": f"Edit the member {member_name}: change its priority from {old_priority} to {priority}",
        }
        raise NeedsAdministrator({
            "action": action, "name": member_name, "priority": priority, "old_priority": old_priority,
            "text": texts[action],
            "where": "Micetro Web Interface: Admin → Configuration → High Availability "
                     "(Management Console before 10.2: Tools → Manage High Availability)",
        })

    def follow_up(self, text: str) -> None:
        """Leave a task for an administrator that hacontrol cannot do itself (shown on the job)."""
        Job.objects.filter(pk=self.job.pk).update(follow_up=Concat(F("follow_up"), Value(text + "\n")))
        self.log(f"to do by hand: {text}")

