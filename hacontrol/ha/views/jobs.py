"""A job's live page (polled by htmx until the job ends), the job list, confirm and cancel."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from hacontrol.ha import actions, display
from hacontrol.ha.access import admin_required
from hacontrol.ha.forms import ReasonForm
from hacontrol.ha.models import Cluster, Job
from hacontrol.ha.views.common import STOP_POLLING, actor, attempt, go, is_partial, to_job


def job_detail(request, job_id: int):
    job = get_object_or_404(Job.objects.select_related("cluster"), pk=job_id)
    context = display.job_page(job)
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


@admin_required
@require_POST
def job_confirm(request, job_id: int):
    job = get_object_or_404(Job, pk=job_id)
    confirmed = attempt(request, lambda: actions.confirm_job(actor(request), job))
    return to_job(request, confirmed) if confirmed else go(request, job.get_absolute_url())


@admin_required
@require_POST
def job_cancel(request, job_id: int):
    job = get_object_or_404(Job, pk=job_id)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    cancelled = attempt(request, lambda: actions.cancel_job(actor(request), job, reason=reason))
    if cancelled and cancelled.status == "queued":
        return to_job(request, cancelled)
    return go(request, job.get_absolute_url())
