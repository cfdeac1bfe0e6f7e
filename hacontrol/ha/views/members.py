"""A member's page, and member actions: add, edit, remove, forget, Set Active, accept a host key,
view and restore the backups of its preferences.cfg."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from hacontrol.ha import actions, display
from hacontrol.ha.access import admin_required
from hacontrol.ha.errors import Refused
from hacontrol.ha.forms import AcceptKeyForm, ForgetMemberForm, MemberForm, ReasonForm, RemoveMemberForm, dns_note
from hacontrol.ha.models import Cluster, Job, JobKind, Member
from hacontrol.ha.probe import read_backup
from hacontrol.ha.views.common import actor, attempt, form_page, go, is_partial, posted, to_job
from hacontrol.remote import RemoteError

ADD_CLI = ("ha member add {cluster} NAME --address ADDR --priority N [--credential NAME | --key-file F] "
           "[--host-key 'TYPE BASE64'] [--registered]")


def member_detail(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member.objects.select_related("cluster", "credential"), pk=member_id,
                               cluster_id=cluster_id)
    return render(request, "ha/member_detail.html", display.member_page(member))


@sensitive_variables()  # the file as read, before it is masked
def member_backup(request, cluster_id: int, member_id: int, name: str):
    """One backup on the host, read now and masked (only on request: the page itself never waits on a host)."""
    member = get_object_or_404(Member.objects.select_related("cluster", "credential"), pk=member_id,
                               cluster_id=cluster_id)
    text, error = "", ""
    try:
        text = read_backup(member, name)
    except (Refused, RemoteError) as failure:
        error = str(failure)
    context = {"member": member, "cluster": member.cluster, "name": name, "text": text, "error": error,
               "backup": member.backup(name)}
    return render(request, "ha/member_backup.html" + ("#backup" if is_partial(request) else ""), context)


@admin_required
def member_restore(request, cluster_id: int, member_id: int, name: str):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.restore_backup(
            actor(request), member, backup=name, reason=form.cleaned_data["reason"]), form)
        if job:
            return to_job(request, job)
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Restore {name} on {member.name}?",
        "warning": f"hacontrol reads {name} on {member.address}, checks it can serve (an MSSQL or PostgreSQL "
                   f"database), writes it as preferences.cfg with ClusterMemberName={member.name} (the current file "
                   "is backed up first), restarts Central and checks it serves again. If any step fails, the current "
                   "file is put back and Central returned to how it was.",
        "button": "Restore", "cli": f"ha member restore {member.cluster.name} {member.name} {name}",
    })


@sensitive_post_parameters("password", "private_key", "key_passphrase")
@sensitive_variables()
@admin_required
def member_add(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    retry = cluster.jobs.filter(pk=request.GET.get("retry"), kind=JobKind.ADD).first() if request.GET.get("retry") else None
    form = MemberForm(posted(request), cluster=cluster, initial=retry.params.get("form") if retry else None)
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.add_member(
            actor(request), cluster, reason=form.cleaned_data["reason"], registered=form.cleaned_data["registered"],
            update_dns=form.cleaned_data.get("update_dns"), **form.action_values()), form)
        if job:
            return to_job(request, job)
    return form_page(request, "ha/member_form.html", {
        "form": form, "cluster": cluster, "retry": retry, "first": not cluster.members.exists(),
        "cli": ADD_CLI.format(cluster=cluster.name) + (" [--dns]" if "update_dns" in form.fields else ""),
        "dns_note": dns_note(cluster, "added to"),
    })


@sensitive_post_parameters("password", "private_key", "key_passphrase")
@sensitive_variables()
@admin_required
def member_edit(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = MemberForm(posted(request), instance=member, cluster=member.cluster)
    if request.method == "POST" and form.is_valid():
        saved: list[bool] = []

        def edit() -> Job | None:
            job = actions.edit_member(actor(request), member, reason=form.cleaned_data["reason"],
                                      **form.action_values())
            saved.append(True)
            return job

        job = attempt(request, edit, form)
        if job:
            return to_job(request, job)
        if saved:
            return go(request, member.cluster.get_absolute_url())
    return form_page(request, "ha/member_form.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "cli": f"ha member edit {member.cluster.name} {member.name} [--priority N] [--address ADDR] ...",
    })


@admin_required
def member_remove(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    confirm = actions.needs_active_confirmation(member)
    form = RemoveMemberForm(posted(request), needs_confirmation=confirm, member=member)
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.remove_member(
            actor(request), member, stop=form.cleaned_data["stop"], reason=form.cleaned_data["reason"],
            confirm_active=form.cleaned_data.get("confirm_active", False),
            unregistered=form.cleaned_data["unregistered"], update_dns=form.cleaned_data.get("update_dns")), form)
        if job:
            return to_job(request, job)
    offline = member.state in ("offline", "unknown")
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Remove {member.name} from {member.cluster.name}?",
        "warning": f"hacontrol stops Central on {member.address} (if ticked), takes ClusterMemberName out of its "
                   "preferences.cfg (a backup is kept), waits for you to remove it from Micetro's High Availability "
                   "configuration, and deletes the record.",
        "forget_url": reverse("member-forget", args=[member.cluster_id, member.pk]) if offline else "",
        "note": dns_note(member.cluster, "deleted from"),
        "button": "Remove member",
        "cli": f"ha member remove {member.cluster.name} {member.name}" + (" --yes" if confirm else "")
               + (" [--dns]" if "update_dns" in form.fields else ""),
    })


@admin_required
def member_forget(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = ForgetMemberForm(posted(request), member=member)
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.forget_member(actor(request), member, **form.cleaned_data), form)
        if job:
            return to_job(request, job)
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Forget {member.name}?",
        "warning": f"For a member whose host is gone for good: hacontrol does not touch {member.address}. It waits "
                   "for you to remove the member from Micetro's High Availability configuration, then deletes "
                   "the record.",
        "note": dns_note(member.cluster, "deleted from"),
        "button": "Forget member",
        "cli": f"ha member remove {member.cluster.name} {member.name} --forget --reason TEXT"
               + (" [--dns]" if "update_dns" in form.fields else ""),
    })


@admin_required
def member_activate(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.switchover(actor(request), member, **form.cleaned_data), form)
        if job:
            return to_job(request, job)
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Make {member.name} the Active member?",
        "warning": "Planned switchover by Central's own rules: the Active member, and any running member Central "
                   "would choose first, are stopped; once their heartbeats are older than "
                   "HeartbeatMaxAllowedDowntime Central fails over to this member; then they start again as "
                   "Standby. Priorities do not change. Micetro is without an Active member for up to "
                   "HeartbeatMaxAllowedDowntime + HeartbeatInterval.",
        "button": "Set Active", "cli": f"ha switchover {member.cluster.name} --to {member.name}",
    })


@admin_required
@require_POST
def member_accept_host_key(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = AcceptKeyForm(request.POST)
    if form.is_valid():
        result = attempt(request, lambda: actions.accept_host_key(
            actor(request), member, seen_fingerprint=form.cleaned_data["fingerprint"], reason=form.cleaned_data["reason"]))
        if result:
            messages.success(request, f"Pinned {result[1]} for {member.address}.")
    else:
        messages.error(request, "say which key you accept: reload the page and use its Accept button")
    return go(request, member.cluster.get_absolute_url())
