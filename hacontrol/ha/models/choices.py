"""The vocabularies shared by the models: platforms, member states, job kinds and statuses."""

from __future__ import annotations

from django.db import models

from hacontrol.lib import central


class Platform(models.TextChoices):
    LINUX = "linux", "Linux"
    WINDOWS = "windows", "Windows"


class CredentialKind(models.TextChoices):
    SSH_KEY = "ssh-key", "SSH key"
    SSH_PASSWORD = "ssh-password", "SSH password"
    WINRM_BASIC = "winrm-basic", "WinRM password (Basic)"
    WINRM_NTLM = "winrm-ntlm", "WinRM NTLM"
    WINRM_KERBEROS = "winrm-kerberos", "WinRM Kerberos"


class State(models.TextChoices):
    """A member's state as Central's rules make it (see hacontrol.lib.central), plus
    Maintenance, which the panel shows while a job works on the member."""

    ACTIVE = central.ACTIVE, "Active"
    STANDBY = central.STANDBY, "Standby"
    TAKING_OVER = central.TAKING_OVER, "Taking over"
    OFFLINE = central.OFFLINE, "Offline"
    UNKNOWN = central.UNKNOWN, "Unknown"
    MAINTENANCE = "maintenance", "Maintenance"


SERVING_STATES = (State.ACTIVE, State.STANDBY, State.TAKING_OVER)


class JobKind(models.TextChoices):
    ADD = "add", "Add member"
    EDIT_PRIORITY = "edit-priority", "Change priority"
    REMOVE = "remove", "Remove member"
    FORGET = "forget", "Forget member"
    SWITCHOVER = "switchover", "Set Active"
    TUNE = "tune", "HA tuning"
    FIX_DNS = "fix-dns", "Fix DNS"
    UPGRADE_PREFLIGHT = "upgrade-preflight", "Upgrade: pre-flight checks"
    UPGRADE_STOP = "upgrade-stop", "Upgrade: stop every secondary"
    UPGRADE_MEMBER = "upgrade-member", "Upgrade"
    UPGRADE_FINAL = "upgrade-final", "Upgrade: final check"
    UPGRADE_ABORT = "upgrade-abort", "Upgrade: abort"
    RESTORE = "restore", "Restore preferences"


class DnsPolicy(models.TextChoices):
    """Whether adding or removing a member also updates the round-robin name with its address."""

    ASK = "ask", "Ask each time"
    ALWAYS = "always", "Always"
    NEVER = "never", "Never"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting for an administrator"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A job in one of these holds its cluster: no other job starts there.
ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNDONE = "undone", "Undone"
    SKIPPED = "skipped", "Skipped"


class UpgradeStatus(models.TextChoices):
    PREPARING = "preparing", "Preparing"
    RUNNING = "running", "Running"
    FAILED = "failed", "Failed"
    SUCCEEDED = "succeeded", "Succeeded"
    ABORTED = "aborted", "Aborted"


OPEN_UPGRADE_STATUSES = (UpgradeStatus.PREPARING, UpgradeStatus.RUNNING, UpgradeStatus.FAILED)


class Outcome(models.TextChoices):
    OK = "ok", "ok"
    FAILED = "failed", "failed"
    REFUSED = "refused", "refused"
    CANCELLED = "cancelled", "cancelled"
