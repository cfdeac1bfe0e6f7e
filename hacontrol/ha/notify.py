"""Tell people when a member goes Offline or Central fails over: email and/or a JSON webhook.

Sending happens in a small thread pool of its own, after the states are saved, each send bounded by
a timeout: a slow mail server or webhook never holds up the next look at the hosts.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import transaction

logger = logging.getLogger("hacontrol.notify")
# One sender keeps them in order (and lets drain() wait for all of them).
_senders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")


def announce(cluster, event: str, summary: str, detail: dict) -> None:
    """Send once the transaction saving the states commits (a rolled-back look never sends a
    false alarm), off the caller's thread."""
    if not (cluster.notify_email or cluster.notify_webhook):
        return
    emails = [a.strip() for a in cluster.notify_email.split(",") if a.strip()]
    message = {"cluster": cluster.name, "event": event, "summary": summary, **detail}
    transaction.on_commit(lambda: _senders.submit(send, cluster.name, emails, cluster.notify_webhook, message))


def send(cluster_name: str, emails: list[str], webhook: str, message: dict) -> None:
    """Mail ``message`` and POST it; failures are logged, never raised."""
    if emails:
        try:
            connection = get_connection(timeout=settings.HACONTROL_NOTIFY_TIMEOUT)
            send_mail(f"[hacontrol] {cluster_name}: {message['summary']}", json.dumps(message, indent=2, default=str),
                      None, emails, connection=connection)
        except Exception:  # noqa: BLE001 - a mail server outage must not stop anything else
            logger.exception("mail to %s failed", emails)
    if webhook:
        request = urllib.request.Request(webhook, data=json.dumps(message, default=str).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=settings.HACONTROL_NOTIFY_TIMEOUT).close()
        except Exception:  # noqa: BLE001 - as above
            logger.exception("webhook %s failed", webhook)


def drain(timeout: float = 10.0) -> None:
    """Wait until every queued notification was sent (tests, and a worker shutting down)."""
    _senders.submit(lambda: None).result(timeout)
