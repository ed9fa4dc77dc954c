"""The server's host key: generated on first start, then kept (mode 0600)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

import asyncssh

from xenon_tui.ssh._errors import HostKeyError

log = logging.getLogger("xenon.ssh")
_ALGORITHM = "ssh-ed25519"


def write_private_file(path: Path, data: bytes) -> None:
    """Writes ``data`` atomically with mode 0600 (temp file, fsync, rename, fsync dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with_suppressed_unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def with_suppressed_unlink(path: str) -> None:
    """Removes ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """Returns the host key at ``path``, creating an Ed25519 key there if there is none.

    Raises:
        HostKeyError: When the file exists but is unreadable, malformed or readable by
            others (a leaked host key must not be silently used).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        key = asyncssh.generate_private_key(_ALGORITHM, comment="xenon-console host key")
        try:
            write_private_file(path, key.export_private_key("openssh"))
        except OSError as exc:
            raise HostKeyError(f"cannot store host key {path}: {exc}") from exc
        log.info("generated host key %s (%s)", path, key.get_fingerprint())
        return key
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise HostKeyError(f"host key {path} is accessible by others (chmod 600 it)")
    try:
        return asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise HostKeyError(f"cannot read host key {path}: {exc}") from exc
