"""The clusters list, a cluster's Manage High Availability panel, and cluster-wide actions."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from hacontrol.ha import actions, display
from hacontrol.ha.access import admin_required
from hacontrol.ha.errors import Refused
from hacontrol.ha.forms import ClusterForm, DnsFixForm, ReasonForm, TuningForm
from hacontrol.ha.models import Cluster, Member
from hacontrol.ha.tasks import check_dns_task, probe_cluster_task
from hacontrol.ha.views.common import actor, attempt, form_page, go, is_partial, posted, to_job

CLUSTER_HINT = (
    "To let hacontrol keep the round-robin name in step with the members (Fix DNS), give the zone, its primary "
    "server and a TSIG key that may update the name (RFC 2136; BIND: update-policy or allow-update). Only HMAC "
    "TSIG keys: GSS-TSIG, which Active Directory-integrated zones require, is not supported; there, leave these "
    "empty and hacontrol only checks the name."
)
MEMBER_ACTIONS = ("member-detail", "member-edit", "member-remove", "member-forget", "member-activate",
                  "member-accept-host-key")
PLACEHOLDER = 987654321


def attach_action_urls(cluster: Cluster, members: list[Member]) -> None:
    """``member.urls[name]`` for each row action, reversing each URL once per page rather than
    once per member (the panel's hottest template work)."""
    patterns = {name: reverse(name, args=[cluster.pk, PLACEHOLDER]) for name in MEMBER_ACTIONS}
    for member in members:
        member.urls = {name.removeprefix("member-").replace("-", "_"): url.replace(str(PLACEHOLDER), str(member.pk))  # type: ignore[attr-defined]
                       for name, url in patterns.items()}


def cluster_list(request):
    clusters = Cluster.objects.with_member_counts()
    return render(request, "ha/cluster_list.html", {"clusters": clusters})


@sensitive_post_parameters("dns_key_secret")
@sensitive_variables()
@admin_required
def cluster_add(request):
    form = ClusterForm(posted(request))
    if request.method == "POST" and form.is_valid():
        cluster = attempt(request, lambda: actions.create_cluster(actor(request), **form.cleaned_data), form)
        if cluster:
            messages.success(request, f"Cluster {cluster.name} created. Add its first member: it becomes the primary.")
            return go(request, cluster.get_absolute_url())
    return form_page(request, "ha/cluster_form.html", {"form": form, "hint": CLUSTER_HINT,
                                                       "cli": "ha cluster create NAME [--dns-name FQDN]"})


@sensitive_post_parameters("dns_key_secret")
@sensitive_variables()
@admin_required
def cluster_edit(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = ClusterForm(posted(request), instance=cluster)
    if request.method == "POST" and form.is_valid():
        if attempt(request, lambda: actions.edit_cluster(actor(request), cluster, **form.cleaned_data), form):
            return go(request, cluster.get_absolute_url())
    return form_page(request, "ha/cluster_form.html", {
        "form": form, "cluster": cluster, "hint": CLUSTER_HINT,
        "cli": f"ha cluster edit {cluster.name} [--dns-name FQDN] [--dns-zone ZONE --dns-server IP[:PORT] "
               "--tsig-key-file FILE] ..."})


@admin_required
def cluster_delete(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = ReasonForm(posted(request))
    if request.method == "POST" and form.is_valid():
        def delete() -> bool:
            actions.delete_cluster(actor(request), cluster, **form.cleaned_data)
            return True

        if attempt(request, delete, form):
            return go(request, "/")
    return form_page(request, "ha/confirm.html", {
        "form": form, "cluster": cluster, "title": f"Delete cluster {cluster.name}?",
        "warning": "Only the record goes; no host is touched. Remove (or forget) its members first.",
        "button": "Delete cluster", "cli": f"ha cluster delete {cluster.name}",
    })


def cluster_detail(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    fragment = request.GET.get("fragment") if is_partial(request) else None
    context: dict = {"cluster": cluster, "cluster_url": cluster.get_absolute_url()}
    if fragment != "history":
        context |= display.panel(cluster)
        attach_action_urls(cluster, context["members"])
    if fragment != "members":
        context |= display.history(cluster)
    part = f"#{fragment}" if fragment in ("members", "history") else ""
    return render(request, "ha/cluster_detail.html" + part, context)


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


@sensitive_variables()  # reads the zone with the cluster's TSIG key
@admin_required
def cluster_dns_fix(request, cluster_id: int):
    """Fix DNS: the plan, read from the zone's primary server now (that read is what the
    administrator confirms, so it cannot wait for a worker), then the job that applies it."""
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = DnsFixForm(posted(request))
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.fix_dns(actor(request), cluster, seen=request.POST.get("seen", ""),
                                                       **form.cleaned_data), form)
        if job:
            return to_job(request, job)
    plan, problem = None, ""
    try:
        plan = actions.plan_dns(cluster)
    except Refused as refusal:
        problem = refusal.message
    return form_page(request, "ha/dns_fix.html", {
        "form": form, "cluster": cluster, "plan": plan, "problem": problem,
        "cli": f"ha dns {cluster.name} --fix",
    })


@admin_required
def cluster_tune(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    form = TuningForm(posted(request), initial={"heartbeat_interval": cluster.heartbeat_interval,
                                                "heartbeat_max_downtime": cluster.heartbeat_max_downtime})
    if request.method == "POST" and form.is_valid():
        job = attempt(request, lambda: actions.tune(
            actor(request), cluster, interval=form.cleaned_data["heartbeat_interval"],
            max_downtime=form.cleaned_data["heartbeat_max_downtime"], reason=form.cleaned_data["reason"]), form)
        if job:
            return to_job(request, job)
    return form_page(request, "ha/cluster_form.html", {
        "form": form, "cluster": cluster, "title": f"HA tuning of {cluster.name}",
        "hint": "Written to every member's preferences.cfg, the secondaries first and the Active member last, "
                "each restarted in turn. Empty fields remove the setting (Central's default applies).",
        "button": "Apply to every member",
        "cli": f"ha tune {cluster.name} --interval N --max-downtime N",
    })
