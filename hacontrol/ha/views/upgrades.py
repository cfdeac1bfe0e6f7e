"""The upgrade wizard's pages: start (upload or host path), the wizard itself, its actions."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from hacontrol.ha import actions, display
from hacontrol.ha.access import admin_required
from hacontrol.ha.forms import UpgradeForm
from hacontrol.ha.jobs import enqueue
from hacontrol.ha.models import Cluster, Upgrade
from hacontrol.ha.uploads import refusal, stream_installers
from hacontrol.ha.views.common import STOP_POLLING, actor, attempt, go, is_partial, posted


@csrf_exempt  # checked below, once the installer streams through its own handler
@admin_required
def upgrade_start(request, cluster_id: int):
    stream_installers(request)
    return upgrade_start_checked(request, cluster_id)


@csrf_protect
def upgrade_start_checked(request, cluster_id: int):
    cluster = get_object_or_404(Cluster, pk=cluster_id)
    current = cluster.open_upgrade()
    if current:
        return redirect(current.get_absolute_url())
    form = UpgradeForm(posted(request), request.FILES or None)
    too_large = refusal(request) if request.method == "POST" else None
    if too_large:
        form.is_valid()
        form.show(too_large)
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["installer"]

        def start() -> Upgrade:
            stored = actions.store_uploaded_installer(upload) if upload else None
            return actions.start_upgrade(actor(request), cluster, installer=stored,
                                         installer_host_path=form.cleaned_data["installer_host_path"],
                                         target_version=form.cleaned_data["target_version"])

        upgrade = attempt(request, start, form)
        if upgrade:
            return redirect(upgrade.get_absolute_url())
    return render(request, "ha/upgrade_start.html", {
        "form": form, "cluster": cluster, "past": cluster.upgrades.all()[:10],
        "cli": f"ha upgrade {cluster.name} --installer FILE --yes",
    })


def upgrade_detail(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade.objects.select_related("cluster"), pk=upgrade_id)
    context = {"upgrade": upgrade, "cluster": upgrade.cluster, **display.describe_upgrade(upgrade)}
    if is_partial(request):
        response = render(request, "ha/upgrade_detail.html#wizard", context)
        if not context["live_job"] and not upgrade.is_open:
            response.status_code = STOP_POLLING
        return response
    return render(request, "ha/upgrade_detail.html", context)


def wizard_action(request, upgrade: Upgrade, action):
    """Run one wizard action; a refusal is shown on the wizard page (and audited by the action)."""
    job = attempt(request, action)
    if job is not None and not isinstance(job, Upgrade):
        enqueue(job)
    return go(request, upgrade.get_absolute_url())


@admin_required
@require_POST
def upgrade_run(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return wizard_action(request, upgrade, lambda: actions.run_upgrade_stage(actor(request), upgrade))


@admin_required
@require_POST
def upgrade_override(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return wizard_action(request, upgrade, lambda: actions.override_preflight(
        actor(request), upgrade, reason=request.POST.get("reason", "")[:500]))


@admin_required
@require_POST
def upgrade_abort(request, upgrade_id: int):
    upgrade = get_object_or_404(Upgrade, pk=upgrade_id)
    return wizard_action(request, upgrade, lambda: actions.abort_upgrade(
        actor(request), upgrade, reason=request.POST.get("reason", "")[:500]))
