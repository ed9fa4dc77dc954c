"""Crash-safe state files for the host agent (the shared helpers of :mod:`xps._atomic`)."""

from __future__ import annotations

from pathlib import Path

from xps._atomic import fsync_dir, remove_durably, write_atomic

__all__ = ["atomic_write", "fsync_dir", "remove_durably"]


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replaces ``path`` with ``data`` so that a crash leaves the old or the new file, whole.

    The file gets ``mode`` (0600 by default) before any byte is written; the directory
    must exist.

    Raises:
        OSError: Any step failed (the old file is then intact, no temp file is left).
    """
    write_atomic(path, data, mode=mode)
