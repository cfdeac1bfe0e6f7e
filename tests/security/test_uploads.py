"""Installer uploads stream to disk through their own handler, hashed on the way, and stop at the
size limit with a clear refusal on the form and in the API; none passes through Django's default
handlers (memory, or a whole temporary copy before any limit is checked)."""

import hashlib
import importlib.util
import io

import pytest
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.urls import reverse

from hacontrol.ha.models import Member, Upgrade
from hacontrol.ha.uploads import InstallerUploadHandler
from tests.api.conftest import token_client
from tests.conftest import ROOT

LIMIT = 1024 * 1024


@pytest.fixture
def installers(settings, tmp_path):
    settings.HACONTROL_INSTALLER_DIR = str(tmp_path / "installers")
    settings.HACONTROL_MAX_INSTALLER_SIZE = LIMIT
    return tmp_path / "installers"


@pytest.fixture
def windows_cluster(cluster):
    Member.objects.create(cluster=cluster, name="win1", priority=10, address="192.0.2.7", platform="windows",
                          winrm_https=True, version="11.0.3")
    return cluster


@pytest.fixture
def received(monkeypatch) -> dict:
    """How many bytes each handler was given, and the most the installer handler ever kept on disk."""
    seen = {"default handlers": 0, "stored": 0, "received": 0}

    def spy(original, key):
        def receive(self, raw_data, start):
            seen[key] += len(raw_data)
            return original(self, raw_data, start)
        return receive

    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        monkeypatch.setattr(handler, "receive_data_chunk", spy(handler.receive_data_chunk, "default handlers"))
    original = InstallerUploadHandler.receive_data_chunk

    def stored(self, raw_data, start):
        try:
            return original(self, raw_data, start)
        finally:
            if self.path is not None:  # still kept: what it holds is on disk
                seen["stored"] = max(seen["stored"], self.path.stat().st_size if self.path.exists() else 0)
            seen["received"] = self.size

    monkeypatch.setattr(InstallerUploadHandler, "receive_data_chunk", stored)
    return seen


def installer(size: int, name: str = "micetro-central-11.1.0.windows.x64.exe") -> io.BytesIO:
    data = io.BytesIO((b"MZ" + bytes(range(256)) * (size // 256 + 1))[:size])
    data.name = name
    return data


def test_an_installer_is_streamed_to_disk_hashed_and_kept_without_a_second_copy(admin_client, windows_cluster,
                                                                                   installers, received):
    upload = installer(LIMIT - 4096)
    response = admin_client.post(reverse("upgrade-start", args=[windows_cluster.pk]), {"installer": upload})
    upgrade = Upgrade.objects.get()
    assert response.status_code == 302 and response.url == upgrade.get_absolute_url()
    assert upgrade.installer_sha256 == hashlib.sha256(upload.getvalue()).hexdigest()
    assert upgrade.installer_size == len(upload.getvalue()) and upgrade.target_version == "11.1.0"
    assert (installers / upgrade.installer_sha256 / upload.name).read_bytes() == upload.getvalue()
    assert not list((installers / "incoming").iterdir())
    assert received["default handlers"] == 0


def test_an_installer_past_the_limit_stops_streaming_and_the_form_says_why(admin_client, windows_cluster, installers,
                                                                          received):
    # Just over: the body's announced length is within the room left for the form's other fields, so
    # only counting the installer's bytes as they arrive finds it too large.
    response = admin_client.post(reverse("upgrade-start", args=[windows_cluster.pk]),
                                 {"target_version": "11.1.0", "installer": installer(LIMIT + 32 * 1024)})
    page = response.content.decode()
    assert response.status_code == 200 and not Upgrade.objects.exists()
    assert f"is over the {LIMIT} byte limit for an installer (HACONTROL_MAX_INSTALLER_SIZE)" in page
    assert 'class="error"' in page
    assert received["default handlers"] == 0, "no copy of it anywhere else first"
    assert received["stored"] <= LIMIT, "never more than the limit on disk"
    assert LIMIT < received["received"] <= LIMIT + InstallerUploadHandler.chunk_size, "stopped past the limit"
    assert not list((installers / "incoming").iterdir()), "what was stored of it is gone"


def test_a_body_announced_over_the_limit_is_refused_before_a_byte_is_stored(admin_client, windows_cluster, installers,
                                                                          received):
    response = admin_client.post(reverse("upgrade-start", args=[windows_cluster.pk]),
                                 {"installer": installer(3 * LIMIT)})
    assert f"over the {LIMIT} byte limit for an installer" in response.content.decode()
    assert "the upload is 31" in response.content.decode()
    assert received["stored"] == received["default handlers"] == 0
    assert not (installers / "incoming").exists() or not list((installers / "incoming").iterdir())


def test_the_api_refuses_an_installer_past_the_limit_with_413_naming_the_check(admin, windows_cluster, installers,
                                                                               received):
    api = token_client(admin)
    response = api.post("/api/upgrades/", {"cluster": windows_cluster.pk, "installer": installer(3 * LIMIT)},
                        format="multipart")
    assert response.status_code == 413
    assert response.json()["check"] == "installer-too-large" and response.json()["field"] == "installer"
    assert received["default handlers"] == 0 and received["stored"] <= LIMIT
    fine = installer(LIMIT // 2)
    created = api.post("/api/upgrades/", {"cluster": windows_cluster.pk, "installer": fine}, format="multipart")
    assert created.status_code == 201, created.content
    assert created.json()["installer_sha256"] == hashlib.sha256(fine.getvalue()).hexdigest()
    assert received["default handlers"] == 0


def test_a_csrf_token_is_still_required_for_an_upload(client, admin, windows_cluster, installers):
    client.force_login(admin)
    client.handler.enforce_csrf_checks = True
    response = client.post(reverse("upgrade-start", args=[windows_cluster.pk]), {"installer": installer(1024)})
    assert response.status_code == 403 and not Upgrade.objects.exists()


def test_the_web_server_gives_a_large_upload_the_time_it_needs(monkeypatch):
    def timeout_with(**env) -> int:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.timeout

    monkeypatch.delenv("WEB_TIMEOUT", raising=False)
    monkeypatch.delenv("HACONTROL_MAX_INSTALLER_SIZE", raising=False)
    # The default 2 GiB limit at 1 MiB/s: over half an hour, not gunicorn's default 30 s.
    assert timeout_with() >= 2 * 1024
    assert timeout_with(HACONTROL_MAX_INSTALLER_SIZE=str(100 * 1024 * 1024)) >= 100
    assert timeout_with(WEB_TIMEOUT="7200") == 7200
