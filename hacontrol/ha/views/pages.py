"""The audit log and the health check."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from hacontrol.ha.models import AuditEvent


def audit_list(request):
    page = Paginator(AuditEvent.objects.all(), 100).get_page(request.GET.get("page"))
    return render(request, "ha/audit_list.html", {"page": page})


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
