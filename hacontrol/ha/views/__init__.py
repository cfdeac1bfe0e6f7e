"""Thin views: access check, form, one action, response."""

from hacontrol.ha.views.clusters import (
    cluster_add,
    cluster_check,
    cluster_delete,
    cluster_detail,
    cluster_dns,
    cluster_dns_fix,
    cluster_edit,
    cluster_list,
    cluster_tune,
)
from hacontrol.ha.views.credentials import (
    credential_add,
    credential_delete,
    credential_detail,
    credential_edit,
    credential_list,
)
from hacontrol.ha.views.jobs import job_cancel, job_confirm, job_detail, job_list
from hacontrol.ha.views.members import (
    member_accept_host_key,
    member_activate,
    member_add,
    member_backup,
    member_detail,
    member_edit,
    member_forget,
    member_remove,
    member_restore,
)
from hacontrol.ha.views.pages import audit_list, healthz
from hacontrol.ha.views.tokens import token_list, token_revoke
from hacontrol.ha.views.upgrades import upgrade_abort, upgrade_detail, upgrade_override, upgrade_run, upgrade_start

__all__ = [
    "audit_list", "cluster_add", "cluster_check", "cluster_delete", "cluster_detail", "cluster_dns", "cluster_dns_fix",
    "cluster_edit", "cluster_list", "cluster_tune", "credential_add", "credential_delete", "credential_detail",
    "credential_edit", "credential_list", "healthz", "job_cancel", "job_confirm", "job_detail", "job_list",
    "member_accept_host_key", "member_activate", "member_add", "member_backup", "member_detail", "member_edit",
    "member_forget", "member_remove", "member_restore", "token_list", "token_revoke", "upgrade_abort",
    "upgrade_detail", "upgrade_override", "upgrade_run", "upgrade_start",
]
