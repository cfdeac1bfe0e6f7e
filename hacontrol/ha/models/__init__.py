"""Clusters of Micetro Central, their members, the jobs that change them, the audit trail, API tokens."""

from hacontrol.ha.models.audit import AuditEvent, Lease, SignInFailure, StateChange
from hacontrol.ha.models.choices import (
    ACTIVE_JOB_STATUSES,
    OPEN_UPGRADE_STATUSES,
    SERVING_STATES,
    CredentialKind,
    DnsPolicy,
    JobKind,
    JobStatus,
    Outcome,
    Platform,
    State,
    StepStatus,
    UpgradeStatus,
)
from hacontrol.ha.models.cluster import MAX_PRIORITY, PRIMARY_PRIORITY, Cluster, heartbeat_problems
from hacontrol.ha.models.credential import Credential
from hacontrol.ha.models.job import Job, JobStep
from hacontrol.ha.models.member import DEFAULT_PREFERENCES_PATH, Member
from hacontrol.ha.models.token import ApiToken
from hacontrol.ha.models.upgrade import Upgrade

__all__ = [
    "ACTIVE_JOB_STATUSES", "DEFAULT_PREFERENCES_PATH", "MAX_PRIORITY", "OPEN_UPGRADE_STATUSES",
    "PRIMARY_PRIORITY", "SERVING_STATES", "ApiToken", "AuditEvent", "Cluster", "Credential", "CredentialKind",
    "DnsPolicy", "Job", "JobKind", "JobStatus",
    "JobStep", "Lease", "Member", "Outcome", "Platform", "SignInFailure", "State", "StateChange",
    "StepStatus", "Upgrade", "UpgradeStatus", "heartbeat_problems",
]
