"""Installers uploaded through the page or the API, streamed straight to disk with a size limit.

Django's default upload handlers keep a large upload whole in a temporary file before any view can
look at its size. :class:`InstallerUploadHandler` writes each chunk as it arrives into
``HACONTROL_INSTALLER_DIR/incoming``, hashing it on the way, and stops storing it once it passes
``HACONTROL_MAX_INSTALLER_SIZE`` (a body announced larger is refused before a byte is stored): the
request then carries :func:`refusal` for the form or the API to show. What the client still sends is
read and thrown away, so the answer reaches it (a reverse proxy's own body limit, nginx's
``client_max_body_size``, set to the same value, spares that reading).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from hacontrol.ha.errors import Refused

# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 64 * 1024
ATTRIBUTE = "installer_refusal"


class StreamedInstaller(UploadedFile):
    """An installer already on disk (``path``) with its SHA-256, as the handler wrote it."""

    def __init__(self, path: Path, name: str, size: int, sha256: str, content_type: str | None):
        super().__init__(open(path, "rb"), name, content_type, size)  # noqa: SIM115 - closed with the request
        self.path = path
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return str(self.path)

    def close(self) -> None:
        super().close()
        # Still here at the end of the request: nobody took it (a refused form); it goes.
        self.path.unlink(missing_ok=True)


class InstallerUploadHandler(FileUploadHandler):
    """Streams each uploaded file into the installer folder, refusing it past the size limit."""

    chunk_size = 1024 * 1024

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.HACONTROL_MAX_INSTALLER_SIZE
        self.refused = ""
        self.handle = None
        self.path: Path | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):  # noqa: N803
        if content_length and content_length > self.limit + FORM_OVERHEAD:
            self.refuse(f"the upload is {content_length} bytes, over the {self.limit} byte limit")
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.refused:
            raise StopUpload(connection_reset=False)
        incoming = Path(settings.HACONTROL_INSTALLER_DIR) / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=incoming, suffix=".part")
        self.path, self.handle = Path(name), os.fdopen(descriptor, "wb")
        self.digest, self.size = hashlib.sha256(), 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > self.limit:
            self.discard()
            self.refuse(f"{self.file_name} is over the {self.limit} byte limit")
            raise StopUpload(connection_reset=False)
        self.digest.update(raw_data)
        assert self.handle is not None
        self.handle.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> StreamedInstaller | None:
        if self.handle is None or self.path is None:
            return None
        self.handle.close()
        self.handle = None
        return StreamedInstaller(self.path, self.file_name or "installer", self.size, self.digest.hexdigest(),
                                 self.content_type)

    def upload_interrupted(self) -> None:
        self.discard()

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def refuse(self, what: str) -> None:
        self.refused = f"{what} for an installer (HACONTROL_MAX_INSTALLER_SIZE)"
        if self.request is not None:
            setattr(self.request, ATTRIBUTE, self.refused)


def stream_installers(request) -> None:
    """Make ``request`` (Django's) stream uploaded files through :class:`InstallerUploadHandler`;
    before anything reads its body."""
    request.upload_handlers = [InstallerUploadHandler(request)]


def refusal(request) -> Refused | None:
    """The refusal of an upload stopped past the limit (read the body first), or None."""
    message = getattr(getattr(request, "_request", request), ATTRIBUTE, "")
    return Refused("installer-too-large", message, field="installer", status=413) if message else None
