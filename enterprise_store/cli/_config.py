"""Where ``xenon xe`` finds things: the state directory, the server URL, the token, the CA.

State directory (``--state-dir``, else ``$XENON_XE_STATE_DIR``), mode 0700::

    xe.json          {"db_url": …}            0600 (a PostgreSQL URL may hold a password)
    xe.db            the SQLite database (default)
    pki/             ca-cert.pem, xe-server-*.pem (the API's TLS), xe-client-*.pem (XPS)
    xe-server.json   {"url", "pid"} of the running ``xenon xe serve``
    xe-token         the CLI's bearer token from ``xenon xe login``   0600

A client command takes the URL from ``--url``, ``$XENON_XE_URL`` or ``xe-server.json``;
the token from ``$XENON_XE_TOKEN``, ``--token-file`` or ``xe-token``; the CA from ``--ca``
or ``pki/ca-cert.pem``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CliError",
    "Remote",
    "read_json",
    "read_line_stdin",
    "resolve_remote",
    "state_dir_of",
    "write_json",
]

CONFIG = "xe.json"
SERVER = "xe-server.json"
TOKEN_FILE = "xe-token"  # noqa: S105 - a file name, not a secret
PKI = "pki"
_MAX_FILE = 64 * 1024


class CliError(Exception):
    """A user error of ``xenon xe`` (printed without a traceback, exit status 2)."""

    code = "usage"


def state_dir_of(value: Path | None, *, required: bool = True) -> Path | None:
    """``--state-dir`` or ``$XENON_XE_STATE_DIR``.

    Raises:
        CliError: Neither given and ``required``.
    """
    if value is not None:
        return value
    env = os.environ.get("XENON_XE_STATE_DIR")
    if env:
        return Path(env)
    if required:
        raise CliError("give --state-dir DIR (or set XENON_XE_STATE_DIR)")
    return None


def read_json(path: Path) -> dict[str, Any]:
    """A small JSON object file.

    Raises:
        CliError: Missing, too large or not a JSON object.
    """
    from xps.files import read_bounded

    data = read_bounded(path, _MAX_FILE, CliError)
    try:
        doc = json.loads(data)
    except ValueError:
        raise CliError(f"{path} is not JSON") from None
    if not isinstance(doc, dict):
        raise CliError(f"{path} is not a JSON object")
    return doc


def write_json(path: Path, doc: dict[str, Any], *, mode: int = 0o600) -> None:
    """Writes ``doc`` atomically with ``mode``."""
    from xps.files import write_atomic

    write_atomic(path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(), mode=mode)


def read_line_stdin(what: str) -> str:
    """The first line of standard input (for ``--password-stdin``).

    Raises:
        CliError: Standard input is empty.
    """
    line = sys.stdin.readline()
    if not line:
        raise CliError(f"{what}: nothing on standard input")
    return line.rstrip("\r\n")


@dataclass(frozen=True)
class Remote:
    """How a client command reaches the service."""

    url: str
    token: str | None
    ca: Path | None
    token_file: Path | None


def resolve_remote(
    *,
    state_dir: Path | None,
    url: str | None,
    token_file: Path | None,
    ca: Path | None,
) -> Remote:
    """The URL, token and CA for a client command (see the module docstring).

    Raises:
        CliError: No URL can be found, or a named file cannot be read.
    """
    from xps.files import read_bounded

    url = url or os.environ.get("XENON_XE_URL")
    if url is None and state_dir is not None and (state_dir / SERVER).exists():
        url = str(read_json(state_dir / SERVER).get("url") or "") or None
    if url is None:
        raise CliError("no XE URL: give --url, set XENON_XE_URL, or --state-dir of a running serve")
    if token_file is None and state_dir is not None:
        token_file = state_dir / TOKEN_FILE
    token = os.environ.get("XENON_XE_TOKEN") or None
    if token is None and token_file is not None and token_file.exists():
        token = read_bounded(token_file, 4096, CliError).decode("ascii", "replace").strip() or None
    if ca is None and state_dir is not None and (state_dir / PKI / "ca-cert.pem").exists():
        ca = state_dir / PKI / "ca-cert.pem"
    return Remote(url=url, token=token, ca=ca, token_file=token_file)
