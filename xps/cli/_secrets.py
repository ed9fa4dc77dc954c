"""Reading passwords for CLI commands without putting them on the command line."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path


class SecretError(Exception):
    """A password could not be obtained."""

    code = "secret_unavailable"


def read_secret(
    *, value: str | None, file: Path | None, env: str, prompt: str, required: bool
) -> str | None:
    """Returns a password from (in order) an explicit value, a file, ``$env``, or a prompt.

    A file is read up to its first newline, so ``echo pw > file`` works.

    Raises:
        SecretError: None available but required, or the file cannot be read.
    """
    if value:
        return value
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(f"cannot read password file {file}: {exc.strerror}") from exc
        return text.splitlines()[0] if text else ""
    if os.environ.get(env):
        return os.environ[env]
    if required and sys.stdin.isatty():
        return getpass.getpass(prompt)
    if required:
        raise SecretError(f"a password is needed: use a password file or ${env}")
    return None
