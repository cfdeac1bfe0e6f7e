"""`manage.py worker` (also `manage.py ha worker`): jobs, the state monitor and the queue's upkeep."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from hacontrol.ha.worker import run_worker


class Command(BaseCommand):
    help = "Run the background worker: queued jobs, the state monitor, recovery of jobs whose process died"

    def handle(self, *args, **options):
        run_worker()
