"""Tell people when a member goes Offline or Central fails over: email and/or a JSON webhook."""

from __future__ import annotations

import json
import logging
import urllib.request

from django.core.mail import send_mail

from hacontrol.ha.models import Cluster

logger = logging.getLogger("hacontrol.notify")
WEBHOOK_TIMEOUT = 5


def notify(cluster: Cluster, event: str, summary: str, detail: dict) -> None:
    """Send ``summary`` to the cluster's addresses and webhook; failures are logged, not raised."""
    if cluster.notify_email:
        recipients = [a.strip() for a in cluster.notify_email.split(",") if a.strip()]
        try:
            send_mail(f"[hacontrol] {cluster.name}: {summary}", json.dumps(detail, indent=2, default=str),
                      None, recipients)
        except Exception:  # noqa: BLE001 - a mail server outage must not stop the monitor
            logger.exception("mail to %s failed", recipients)
    if cluster.notify_webhook:
        body = json.dumps({"cluster": cluster.name, "event": event, "summary": summary, **detail}, default=str)
        request = urllib.request.Request(cluster.notify_webhook, data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT).close()
        except Exception:  # noqa: BLE001 - as above
            logger.exception("webhook %s failed", cluster.notify_webhook)
