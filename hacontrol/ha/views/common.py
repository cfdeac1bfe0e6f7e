"""What every view shares: the one fragment test, redirects that work with and without htmx,
forms in a modal, and running an action with its refusal shown where the administrator looks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from hacontrol.ha.errors import Refused
from hacontrol.ha.jobs import enqueue
from hacontrol.ha.models import Job

# htmx stops polling when a fragment answers 286.
STOP_POLLING = 286
T = TypeVar("T")


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


def attempt(request, action: Callable[[], T], form=None) -> T | None:
    """Run an action; a refusal goes onto the form (or the page's messages). None when refused."""
    try:
        return action()
    except Refused as refusal:
        if form is not None:
            form.show(refusal)
        else:
            messages.error(request, str(refusal))
        return None


def to_job(request, job: Job):
    """Hand a new (or requeued) job to a worker and open its page."""
    enqueue(job)
    return go(request, job.get_absolute_url())


def actor(request) -> str:
    return request.user.get_username()
