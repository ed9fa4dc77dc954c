"""The server's host key: generated on first start, then kept (mode 0600)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import asyncssh

from xenon_tui.ssh._algorithms import MIN_RSA_BITS, HostKeyType, restrict_rsa_host_key
from xenon_tui.ssh._errors import HostKeyError
from xps.files import write_atomic

log = logging.getLogger("xenon.ssh")
# Key algorithm as asyncssh names it, and the size generated.
_GENERATE: dict[str, tuple[str, dict[str, int]]] = {
    "ed25519": ("ssh-ed25519", {}),
    "rsa-sha2": ("ssh-rsa", {"key_size": 4096}),
}
_ALGORITHM = {"ed25519": b"ssh-ed25519", "rsa-sha2": b"ssh-rsa"}


def write_private_file(path: Path, data: bytes) -> None:
    """Writes ``data`` atomically with mode 0600 (the project's one atomic writer)."""
    write_atomic(path, data, mode=0o600, dir_mode=0o777)


def load_or_create_host_key(path: Path, key_type: HostKeyType = "ed25519") -> asyncssh.SSHKey:
    """Returns the host key at ``path``, creating one of ``key_type`` there if there is none.

    An RSA key (``rsa-sha2``) is 4096 bits and signs with SHA-2 only.

    Raises:
        HostKeyError: When the file exists but is unreadable, malformed, readable by
            others (a leaked host key must not be silently used), of another type than
            asked for, or an RSA key under 3072 bits.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        algorithm, options = _GENERATE[key_type]
        key = asyncssh.generate_private_key(algorithm, comment="xenon-console host key", **options)
        try:
            write_private_file(path, key.export_private_key("openssh"))
        except OSError as exc:
            raise HostKeyError(f"cannot store host key {path}: {exc}") from exc
        log.info("generated host key %s (%s)", path, key.get_fingerprint())
        return _restricted(key, key_type)
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise HostKeyError(f"host key {path} is accessible by others (chmod 600 it)")
    try:
        key = asyncssh.read_private_key(path)
    except (OSError, asyncssh.KeyImportError) as exc:
        raise HostKeyError(f"cannot read host key {path}: {exc}") from exc
    if key.algorithm != _ALGORITHM[key_type]:
        raise HostKeyError(
            f"host key {path} is {key.algorithm.decode('ascii', 'replace')}, not {key_type} "
            "(use --host-key-type to match it, or another --host-key file)"
        )
    bits = getattr(key.pyca_key, "key_size", 0)
    if key_type == "rsa-sha2" and bits < MIN_RSA_BITS:
        raise HostKeyError(f"host key {path} is RSA {bits} bits; at least {MIN_RSA_BITS} needed")
    return _restricted(key, key_type)


def _restricted(key: asyncssh.SSHKey, key_type: HostKeyType) -> asyncssh.SSHKey:
    if key_type == "rsa-sha2":
        restrict_rsa_host_key(key)
    return key
