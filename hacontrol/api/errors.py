"""Every API error as one JSON shape, naming the check that failed: ``{"check", "detail", "field"}``.

An action's refusal keeps its own check, words and status (400 or 409; 502 when the DNS server
could not be read), the same the web and the CLI show; a host that could not be read answers 502
``host-error``; REST framework's own errors (sign-in, rights, not found, input of the wrong type) get
a check from their code.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hacontrol.ha.errors import Refused
from hacontrol.remote import RemoteError


def refusal(check: str, detail: str, field: str | None = None, **extra) -> dict:
    return {"check": check, "detail": detail, "field": field, **extra}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Refused):
        errors = getattr(exc, "errors", None)
        body = refusal(exc.check, exc.message, exc.field, **({"errors": errors} if errors else {}))
        return Response(body, status=exc.status)
    if isinstance(exc, RemoteError):  # a host that could not be read now (a backup, say)
        return Response(refusal("host-error", str(exc)), status=502)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        errors = {name: [str(text) for text in (texts if isinstance(texts, list) else [texts])]
                  for name, texts in exc.detail.items()}
        field = next(iter(errors))
        detail = "; ".join(f"{name.replace('_', ' ')}: {' '.join(texts)}" for name, texts in errors.items())
        response.data = refusal(f"invalid-{field.replace('_', '-')}", detail, field, errors=errors)
    else:
        code = exc.get_codes()
        check = code if isinstance(code, str) else "invalid"
        detail = exc.detail if isinstance(exc.detail, str) else "; ".join(str(d) for d in exc.detail)  # type: ignore[union-attr]
        response.data = refusal(check.replace("_", "-"), str(detail))
    return response
