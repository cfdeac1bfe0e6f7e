"""Thin views: access check, form, one model or job call, response."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from hacontrol.ha.access import admin_required
from hacontrol.ha.forms import (
    SECRET_FIELDS,
    ClusterForm,
    MemberForm,
    ReasonForm,
    RemoveMemberForm,
    TuningForm,
    UpgradeForm,
)
from hacontrol.ha.jobs import ClusterBusy, check_dns_task, create_job, enqueue, probe_cluster_task
from hacontrol.ha.models import AuditEvent, Cluster, Job, Member, Upgrade
from hacontrol.ha.upgrade import (
    UpgradeError,
    abort_job,
    describe,
    override_preflight,
    stage_job,
    start_upgrade,
    store_installer,
)

# htmx stops polling when a fragment answers 286.
STOP_POLLING = 286


def is_partial(request) -> bool:
    """The one test for 'answer with a fragment': an htmx request that is not boosted."""
    return bool(request.htmx) and not request.htmx.boosted


def posted(request):
    """The form data of a POST (even an empty one, which must still be validated), else None."""
    return request.POST if request.method == "POST" else None


def go(request, url: str):
    """After a POST: a client redirect for htmx, a plain redirect otherwise."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def form_page(request, template: str, context: dict):
    """Render a form as a modal fragment for htmx, or as a full page without JavaScript."""
    context["modal"] = is_partial(request)
    return render(request, template + ("#modal" if context["modal"] else ""), context)


MEMBER_ACTIONS = ("member-edit", "member-remove", "member-activate", "member-accept-host-key")
PLACEHOLDER = 987654321


def attach_action_urls(cluster: Cluster, members: list[Member]) -> None:
    """``member.urls[name]`` for each row action, reversing each URL once per page rather
    than once per member (the panel's hottest template work)."""
    patterns = {name: reverse(name, args=[cluster.pk, PLACEHOLDER]) for name in MEMBER_ACTIONS}
    for member in members:
        urls = {name.removeprefix("member-").replace("-", "_"): url.replace(str(PLACEHOLDER), str(member.pk))
                for name, url in patterns.items()}
        member.urls = urls  # type: ignore[attr-defined]  # display-only, read by the template


def cluster_list(request):
    clusters = Cluster.objects.with_member_counts()
    return render(request, "ha/cluster_list.html", {"clusters": clusters})


@admin_required
def cluster_add(request):
    form = ClusterForm(posted(request))
    if request.method == "POST" and form.is_valid():
        cluster = form.save()
        AuditEvent.record(request.user, "cluster create", cluster=cluster, detail=f"DNS name {cluster.dns_name or '-'}")
        messages.success(request, f"Cluster {cluster.name} created. Add its first member: it becomes the primary.")
        return go(request, cluster.get_absolute_url())
    return form_page(request, "ha/cluster_form.html", {"form": form, "cli": "ha cluster create NAME [--dns-name FQDN]"})


@admin_required
def cluster_edit(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = ClusterForm(posted(request), instance=cluster)
    if request.method == "POST" and form.is_valid():
        form.save()
        AuditEvent.record(request.user, "cluster edit", cluster=cluster, detail=", ".join(form.changed_data))
        return go(request, cluster.get_absolute_url())
    return form_page(request, "ha/cluster_form.html", {"form": form, "cluster": cluster})


@admin_required
def cluster_delete(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        if cluster.members.exists():
            messages.error(request, f"{cluster.name} still has members: remove them first.")
            return go(request, cluster.get_absolute_url())
        AuditEvent.record(request.user, "cluster delete", cluster=cluster, reason=form.cleaned_data["reason"])
        cluster.delete()
        return go(request, "/")
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": cluster, "title": f"Delete cluster {cluster.name}?",
        "warning": "Only the record goes; no host is touched.", "button": "Delete cluster",
        "cli": f"ha cluster delete {cluster.name}",
    })


def cluster_detail(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    fragment = is_partial(request) and request.GET.get("fragment") == "members"
    context = {**cluster.panel(fragment=fragment), "cluster": cluster, "cluster_url": cluster.get_absolute_url()}
    attach_action_urls(cluster, context["members"])
    return render(request, "ha/cluster_detail.html" + ("#members" if fragment else ""), context)


@admin_required
@require_POST
def cluster_check(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    transaction.on_commit(lambda: probe_cluster_task.enqueue(cluster.pk))
    messages.info(request, "Checking every member now; the table updates by itself.")
    return go(request, cluster.get_absolute_url())


@admin_required
@require_POST
def cluster_dns(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    transaction.on_commit(lambda: check_dns_task.enqueue(cluster.pk))
    messages.info(request, f"Resolving {cluster.dns_name} now; reload in a moment to see the answer.")
    return go(request, cluster.get_absolute_url())


@admin_required
def cluster_tune(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = TuningForm(posted(request), instance=cluster)
    if request.method == "POST" and form.is_valid():
        if not cluster.members.exists():
            form.add_error(None, "the cluster has no member to apply the settings to")
        else:
            form.save()
            return start(request, "tune", cluster, None, reason=form.cleaned_data["reason"])
    return form_page(request, "ha/cluster_form.html", {
        "form": form, "cluster": cluster, "title": f"HA tuning of {cluster.name}",
        "hint": "Written to every member's preferences.cfg, secondaries first and the primary last, "
                "each restarted in turn. Empty fields remove the setting (Central's default applies).",
        "button": "Apply to every member",
        "cli": f"ha tune {cluster.name} --interval N --max-downtime N",
    })


def start(request, kind: str, cluster: Cluster, member: Member | None, *, params: dict | None = None,
          reason: str = ""):
    """Start a job and open its page; a busy cluster is refused with the running job's name."""
    try:
        job = create_job(kind, cluster, request.user.get_username(), member=member, params=params, reason=reason)
    except ClusterBusy as error:
        messages.error(request, str(error))
        return go(request, cluster.get_absolute_url())
    enqueue(job)
    return go(request, job.get_absolute_url())


@admin_required
def member_add(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    retry = cluster.jobs.filter(pk=request.GET.get("retry"), kind="add").first() if request.GET.get("retry") else None
    form = MemberForm(posted(request), cluster=cluster, initial=retry.params.get("form") if retry else None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                member = form.save()
        except IntegrityError:
            form.add_error(None, "another administrator just took this name or priority; pick another")
        else:
            AuditEvent.record(request.user, "member add", cluster=cluster, member_name=member.name,
                              detail=f"{member.address} priority {member.priority}", reason=form.cleaned_data["reason"])
            # Kept so a failed add can be tried again without typing it all (secrets excepted).
            entered = {name: value for name, value in form.cleaned_data.items() if name not in SECRET_FIELDS}
            return start(request, "add", cluster, member, params={"form": entered}, reason=form.cleaned_data["reason"])
    return form_page(request, "ha/member_form.html", {
        "form": form, "cluster": cluster, "retry": retry,
        "cli": f"ha member add {cluster.name} NAME --address ADDR --priority N [--key-file F] [--host-key 'TYPE BASE64']",
    })


@admin_required
def member_edit(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = MemberForm(posted(request), instance=member, cluster=member.cluster)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                form.save()
        except IntegrityError:
            form.add_error("priority", "another member just took this priority; pick another")
        else:
            AuditEvent.record(request.user, "member edit", cluster=member.cluster, member_name=member.name,
                              detail="changed " + ", ".join(form.changed_data), reason=form.cleaned_data["reason"])
            return go(request, member.cluster.get_absolute_url())
    return form_page(request, "ha/member_form.html", {"form": form, "cluster": member.cluster, "member": member})


@admin_required
def member_remove(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = RemoveMemberForm(posted(request), member=member)
    if request.method == "POST" and form.is_valid():
        return start(request, "remove", member.cluster, member, params={"stop": form.cleaned_data["stop"]},
                     reason=form.cleaned_data["reason"])
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Remove {member.name} from {member.cluster.name}?",
        "warning": f"hacontrol stops Central on {member.address} (if ticked), takes ClusterMemberName out of "
                   "its preferences.cfg (a backup is kept) and deletes the record.",
        "button": "Remove member", "cli": f"ha member remove {member.cluster.name} {member.name} --yes",
    })


@admin_required
def member_activate(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        return start(request, "switchover", member.cluster, member, reason=form.cleaned_data["reason"])
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": member.cluster, "member": member,
        "title": f"Make {member.name} the Active member?",
        "warning": "Planned switchover: it takes the primary's priority, the current Active member is "
                   "stopped so Central fails over to it, then started again as a Standby.",
        "button": "Set Active", "cli": f"ha switchover {member.cluster.name} --to {member.name}",
    })


@admin_required
@require_POST
def member_accept_host_key(request, cluster_id: int, member_id: int):
    member = get_object_or_404(Member, pk=member_id, cluster_id=cluster_id)
    if not member.presented_host_key:
        messages.error(request, f"{member.address} has not presented a new host key.")
        return go(request, member.cluster.get_absolute_url())
    old, new = member.accept_presented_host_key()
    AuditEvent.record(request.user, "host key accepted", cluster=member.cluster, member_name=member.name,
                      detail=f"old {old or 'none'}, new {new}", reason=request.POST.get("reason", "")[:500])
    messages.success(request, f"Pinned {new} for {member.address}.")
    return go(request, member.cluster.get_absolute_url())


def job_detail(request, job_id: int):
    job = get_object_or_404(Job.objects.select_related("cluster"), pk=job_id)
    context = {"job": job, "steps": job.steps.all(), "cluster": job.cluster}
    if is_partial(request):
        response = render(request, "ha/job_detail.html#job", context)
        if not job.is_active:
            response.status_code = STOP_POLLING
        return response
    return render(request, "ha/job_detail.html", context)


def job_list(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    page = Paginator(cluster.jobs.all(), 50).get_page(request.GET.get("page"))
    return render(request, "ha/job_list.html", {"cluster": cluster, "page": page})


def audit_list(request):
    page = Paginator(AuditEvent.objects.all(), 100).get_page(request.GET.get("page"))
    return render(request, "ha/audit_list.html", {"page": page})


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


@admin_required
def upgrade_start(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    current = cluster.upgrades.filter(status__in=Upgrade.OPEN_STATUSES).first()
    if current:
        return redirect(current.get_absolute_url())
    form = UpgradeForm(posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid():
        installer = form.cleaned_data["installer"]
        stored: dict[str, Any] = {}
        if installer:
            path, sha256, size = store_installer(installer)
            stored = {"installer_file": str(path), "installer_sha256": sha256, "installer_size": size}
        name = installer.name if installer else form.cleaned_data["installer_host_path"].replace("\\", "/").rsplit("/", 1)[-1]
        try:
            upgrade = start_upgrade(cluster, request.user.get_username(), installer_name=name,
                                    target_version=form.cleaned_data["target_version"],
                                    installer_host_path=form.cleaned_data["installer_host_path"], **stored)
        except UpgradeError as error:
            form.add_error(None, str(error))
        else:
            return redirect(upgrade.get_absolute_url())
    return render(request, "ha/upgrade_start.html", {
        "form": form, "cluster": cluster, "past": cluster.upgrades.all()[:10],
        "cli": f"ha upgrade {cluster.name} --installer FILE --yes",
    })


def upgrade_detail(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade.objects.select_related("cluster"), pk=upgrade_id)
    context = {"upgrade": upgrade, "cluster": upgrade.cluster, **describe(upgrade)}
    if is_partial(request):
        response = render(request, "ha/upgrade_detail.html#wizard", context)
        if not context["live_job"]:
            response.status_code = STOP_POLLING
        return response
    return render(request, "ha/upgrade_detail.html", context)


def upgrade_action(request, upgrade: Upgrade, action):
    """Run one wizard action; a refusal is shown on the wizard page and audited."""
    try:
        job = action()
    except ClusterBusy as error:  # already audited where it was refused
        messages.error(request, str(error))
    except UpgradeError as error:
        AuditEvent.record(request.user, "upgrade", cluster=upgrade.cluster, outcome=AuditEvent.REFUSED, detail=str(error))
        messages.error(request, str(error))
    else:
        if job is not None:
            enqueue(job)
    return go(request, upgrade.get_absolute_url())


@admin_required
@require_POST
def upgrade_run(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return upgrade_action(request, upgrade, lambda: stage_job(upgrade, request.user.get_username()))


@admin_required
@require_POST
def upgrade_override(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return upgrade_action(request, upgrade, lambda: override_preflight(
        upgrade, request.user.get_username(), request.POST.get("reason", "")[:500]))


@admin_required
@require_POST
def upgrade_abort(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return upgrade_action(request, upgrade, lambda: abort_job(upgrade, request.user.get_username()))
