"""`make run`: migrate, make the first administrator, then serve the console and its worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.crypto import get_random_string


class Command(BaseCommand):
    help = "Serve hacontrol at http://127.0.0.1:8000 with its background worker"

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("HACONTROL_BIND", "127.0.0.1:8000"))

    def handle(self, *args, bind: str, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.ensure_admin()
        python = sys.executable
        worker = subprocess.Popen([python, "manage.py", "ha", "worker"], cwd=settings.BASE_DIR)
        web = subprocess.Popen(
            [os.path.join(os.path.dirname(python), "gunicorn"), "hacontrol.wsgi", "--bind", bind,
             "--config", str(settings.BASE_DIR / "gunicorn.conf.py")],
            cwd=settings.BASE_DIR,
        )
        self.stdout.write(f"hacontrol is at http://{bind}/ (Ctrl-C stops it)")
        children = [worker, web]

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            os.wait()
        except ChildProcessError:
            pass
        finally:
            stop()
            for child in children:
                child.wait()
            self.stop_embedded_database()

    def stop_embedded_database(self) -> None:
        from django.db import connections

        from hacontrol.embedded_db import stop_if_unused

        db = settings.DATABASES["default"]
        if "pgdata" in str(db["HOST"]) and not os.environ.get("DATABASE_URL"):
            connections.close_all()
            stop_if_unused(f"postgresql://{db['USER']}:@/postgres?host={db['HOST']}")

    def ensure_admin(self) -> None:
        """On the first start, create `admin`; print its password once unless it was given."""
        User = get_user_model()
        if User.objects.exists():
            return
        password = os.environ.get("HACONTROL_ADMIN_PASSWORD") or get_random_string(20)
        User.objects.create_superuser("admin", "", password)
        if "HACONTROL_ADMIN_PASSWORD" in os.environ:
            self.stdout.write("Created administrator 'admin' with the password from HACONTROL_ADMIN_PASSWORD.")
        else:
            self.stdout.write(self.style.WARNING(
                f"Created administrator 'admin' with password: {password}\n"
                "This is shown only once: sign in and change it (python manage.py changepassword admin)."
            ))
