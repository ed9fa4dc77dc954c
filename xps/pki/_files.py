"""Atomic, private file writes for keys, certificates and stores."""

from __future__ import annotations

from pathlib import Path

from xps.files import read_bounded, write_atomic
from xps.pki._errors import PkiFileError


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Writes ``data`` to ``path`` atomically with ``mode`` (0600 by default).

    A temporary file in the same directory is written, fsynced and renamed over the
    target, then the directory is fsynced, so a crash leaves either the old or the new
    file and a key is never readable by others, not even for a moment. A missing
    directory is created.

    Raises:
        PkiFileError: The file could not be written.
    """
    try:
        write_atomic(path, data, mode=mode, dir_mode=0o777)
    except OSError as exc:
        raise PkiFileError(f"cannot write {path}: {exc.strerror}") from exc


def read_file(path: Path, limit: int = 1 << 20) -> bytes:
    """Reads a PKI file of at most ``limit`` bytes.

    Raises:
        PkiFileError: Missing, unreadable or larger than ``limit``.
    """
    return read_bounded(path, limit, PkiFileError)
