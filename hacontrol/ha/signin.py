"""Sign-in with throttling: repeated failures lock a user name (and an address) for a while."""

from __future__ import annotations

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.models import AuditEvent, SignInFailure


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")[:45]


class ThrottledAuthenticationForm(AuthenticationForm):
    @sensitive_variables()  # the password, in every frame below (Django's own hide only 'credentials')
    def clean(self):
        username = (self.data.get("username") or "")[:150]
        address = client_address(self.request)
        if SignInFailure.too_many(username, address):
            AuditEvent.record(username or "anonymous", "sign-in", outcome=AuditEvent.REFUSED,
                              detail=f"throttled after repeated failures from {address}")
            raise forms.ValidationError(
                "Too many failed sign-ins: wait 15 minutes, or ask an administrator to check the audit log.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            SignInFailure.record(username, address)
            raise


class SignInView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
