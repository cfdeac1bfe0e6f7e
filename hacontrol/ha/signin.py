"""Sign-in with throttling: repeated failures lock a user name for a while and slow an address down."""

from __future__ import annotations

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.views.decorators.debug import sensitive_variables

from hacontrol.ha.access import request_address
from hacontrol.ha.models import AuditEvent, SignInFailure


class ThrottledAuthenticationForm(AuthenticationForm):
    @sensitive_variables()  # the password, in every frame below (Django's own hide only 'credentials')
    def clean(self):
        username = (self.data.get("username") or "")[:150]
        address = request_address(self.request)[:45]
        refusal = SignInFailure.refusal(username, address)
        if refusal:
            AuditEvent.record(username or "anonymous", "sign-in", outcome=AuditEvent.REFUSED,
                              detail=f"throttled after repeated failures (from {address}): {refusal}")
            raise forms.ValidationError(refusal, code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            SignInFailure.record(username, address)
            raise


class SignInView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
