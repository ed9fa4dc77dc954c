"""Atomic, private file writes for keys, certificates and stores."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from xps.pki._errors import PkiFileError


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Writes ``data`` to ``path`` atomically with ``mode`` (0600 by default).

    A temporary file in the same directory is written, fsynced and renamed over the
    target, then the directory is fsynced, so a crash leaves either the old or the new
    file and a key is never readable by others, not even for a moment.

    Raises:
        PkiFileError: The file could not be written.
    """
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise PkiFileError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise PkiFileError(f"cannot write {path}: {exc.strerror}") from exc


def read_file(path: Path, limit: int = 1 << 20) -> bytes:
    """Reads a PKI file of at most ``limit`` bytes.

    Raises:
        PkiFileError: Missing, unreadable or larger than ``limit``.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise PkiFileError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise PkiFileError(f"{path} is larger than {limit} bytes")
    return data
