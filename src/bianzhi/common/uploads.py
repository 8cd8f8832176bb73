"""Uploaded import files kept between the dry run and the confirmation (or a background job).

Files live under ``DATA_DIR/uploads/<kind>/`` with mode 0600; a name is built from the
user's id and the content hash only — nothing a user typed — and files older than a day are
removed whenever a new one is stored.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

from django.conf import settings

KEEP_SECONDS = 24 * 3600


def write_atomic(path: Path, data: bytes) -> None:
    """Write a private file so that readers see either the old or the whole new content."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(temp, path)


class UploadStore:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def folder(self) -> Path:
        path = Path(settings.DATA_DIR) / "uploads" / self.kind
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def path(self, user_id: int, sha256: str) -> Path:
        return self.folder() / f"{int(user_id)}-{sha256}.upload"

    def store(self, user_id: int, sha256: str, data: bytes) -> Path:
        """Keep the bytes until the user confirms (or for a day); older files are removed."""
        cutoff = time.time() - KEEP_SECONDS
        for old in self.folder().iterdir():
            with contextlib.suppress(OSError):
                if old.is_file() and old.stat().st_mtime < cutoff:
                    old.unlink()
        path = self.path(user_id, sha256)
        write_atomic(path, data)
        return path
