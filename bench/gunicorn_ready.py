"""gunicorn settings for the bench: the project's gunicorn.conf.py, plus a hook by which each
worker says it has loaded the app (a file named after its pid in BENCH_READY_DIR), so the load
starts only once every worker is up."""

import os
from pathlib import Path

_project = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
exec(compile(_project.read_text(), str(_project), "exec"))


def post_worker_init(worker):
    (Path(os.environ["BENCH_READY_DIR"]) / str(worker.pid)).touch()
