"""The server's host key: generated on first start, then kept (mode 0600)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import asyncssh

from xenon_tui.ssh._errors import HostKeyError
from xps._atomic import write_atomic

log = logging.getLogger("xenon.ssh")
_ALGORITHM = "ssh-ed25519"


def write_private_file(path: Path, data: bytes) -> None:
    """Writes ``data`` atomically with mode 0600 (the project's one atomic writer)."""
    write_atomic(path, data, mode=0o600, dir_mode=0o777)


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
