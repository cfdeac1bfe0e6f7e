"""What an error page (``DEBUG=1``, as ``make run`` sets it) and an error report may show.

Django's own filter hides ``sensitive_post_parameters`` and ``sensitive_variables`` only when DEBUG
is off, so the debug page of ``make run`` would show a private key being posted, and hides nothing
a decorator does not name. This one hides them whether DEBUG is on or not, and anywhere any POST
field, local variable or dictionary key whose name says it holds a secret (Django's rule for
settings: api, auth, token, key, secret, pass, signature).
"""

from __future__ import annotations

from django.views.debug import SafeExceptionReporterFilter


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Hides secrets on error pages and in error reports, in DEBUG too."""

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        cleansed = super().get_post_parameters(request)
        if not any(self.hidden_settings.search(name) for name in cleansed):
            return cleansed
        cleansed = cleansed.copy()
        for name in cleansed:
            if self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleanse_setting(name, value))
                for name, value in super().get_traceback_frame_variables(request, tb_frame)]
