"""Files the tools read and write: bounded reads of files a user names (policies, templates,
keys, profiles), and crash-safe writes (private temp file in the same directory, fsync,
rename, fsync dir) — the one atomic writer, :func:`write_atomic`."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = ["fsync_dir", "read_bounded", "remove_durably", "write_atomic"]

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ATTEMPTS = 100


def fsync_dir(directory: Path) -> None:
    """Makes a rename or unlink inside ``directory`` durable.

    Raises:
        OSError: The directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_temp(path: Path, mode: int) -> tuple[int, Path]:
    # The name pattern ".NAME.RANDOM.tmp" is what stores sweep on start-up after a crash.
    for _ in range(_ATTEMPTS):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, _CREATE_FLAGS, mode & 0o600)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(path))


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, dir_mode: int | None = None
) -> None:
    """Replaces ``path`` with ``data`` so that a crash leaves the old or the new file, whole.

    The temporary file is created exclusively (``O_EXCL | O_NOFOLLOW``) readable by the
    owner at most and gets exactly ``mode`` (independent of the umask) before any byte is
    written, so a key is never readable by others, not even for a moment. The rename
    replaces a symbolic link at ``path`` itself: the file it pointed to is left untouched.
    On any failure the temporary file is removed and the old ``path`` is intact.

    Args:
        path: The file to replace.
        data: Its new content.
        mode: Permission bits of the new file (0600 by default).
        dir_mode: When given, the parent directory is created first (with parents) and
            this mode if missing; when ``None`` a missing directory is an error.

    Raises:
        OSError: The directory, the temporary file, the write, the rename or a sync failed.
    """
    directory = path.parent
    if dir_mode is not None:
        directory.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = _create_temp(path, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def remove_durably(path: Path) -> bool:
    """Unlinks ``path`` (if present) and syncs its directory; returns whether it existed.

    Raises:
        OSError: The unlink (other than a missing file) or the directory sync failed.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def read_bounded(
    path: Path,
    limit: int,
    error: Callable[[str], Exception],
    *,
    name: str | None = None,
    size: str | None = None,
) -> bytes:
    """Reads at most ``limit`` bytes of ``path``; never more, whatever the file's size.

    Args:
        path: The file.
        limit: The largest size accepted, in bytes.
        error: Builds the exception raised, from its message.
        name: How messages name the file (default: the path).
        size: How messages state the limit (default: ``"<limit> bytes"``).

    Raises:
        Exception: ``error(message)`` when the file cannot be read or is larger than
            ``limit``.
    """
    label = str(path) if name is None else name
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"{label} is larger than {size or f'{limit} bytes'}")
    return data
