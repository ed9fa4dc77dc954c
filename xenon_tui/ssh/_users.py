"""Who may log in and with which role: per-user authorized keys, optional passwords."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import asyncssh

from xenon_tui.ssh._errors import ConfigError
from xenon_tui.ssh._spec import Role

log = logging.getLogger("xenon.ssh")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_MAX_KEYS_FILE = 1024 * 1024


def check_username(name: str) -> str:
    """Validates a login name (POSIX-like, at most 32 characters).

    Raises:
        ConfigError: When the name is not acceptable.
    """
    if not _USER_RE.fullmatch(name):
        raise ConfigError(f"invalid user name {name!r}")
    return name


class PasswordAuthenticator(Protocol):
    """Optional password check; the enterprise user store implements it later."""

    async def authenticate(self, user: str, password: str) -> Role | None:
        """Returns the user's role when the password is right, else ``None``."""


@dataclass(frozen=True)
class UserEntry:
    """One account of the console server.

    Attributes:
        name: The login name.
        role: What the account may do.
        authorized_keys: An OpenSSH ``authorized_keys`` file (read at each login, so
            edits apply without a restart).
    """

    name: str
    role: Role
    authorized_keys: Path


class UserDirectory:
    """The accounts that may log in with a public key."""

    def __init__(self, entries: Mapping[str, UserEntry]) -> None:
        self._entries = dict(entries)

    @classmethod
    def from_file(cls, path: Path) -> UserDirectory:
        """Reads ``{"users": [{"name", "role", "authorized_keys"}]}`` (relative key paths
        are resolved against the file's directory).

        Raises:
            ConfigError: When the file is missing or malformed.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = [
                UserEntry(
                    check_username(str(item["name"])),
                    Role(item.get("role", Role.ADMIN)),
                    path.parent / str(item["authorized_keys"]),
                )
                for item in raw["users"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read users file {path}: {exc}") from exc
        return cls({entry.name: entry for entry in entries})

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def role_of(self, user: str) -> Role | None:
        """Returns the role of ``user`` or ``None`` for an unknown account."""
        entry = self._entries.get(user)
        return entry.role if entry else None

    def authorized_keys(self, user: str) -> asyncssh.SSHAuthorizedKeys | None:
        """Reads the user's authorized keys now; ``None`` when unknown or unreadable."""
        entry = self._entries.get(user)
        if entry is None:
            return None
        try:
            with entry.authorized_keys.open(encoding="utf-8") as fh:
                if os.fstat(fh.fileno()).st_mode & 0o022:
                    # Anyone who can write this file could log in as this user.
                    raise ValueError("writable by group or others")
                text = fh.read(_MAX_KEYS_FILE)
            return asyncssh.import_authorized_keys(text)
        except (OSError, ValueError, asyncssh.KeyImportError) as exc:
            log.warning("authorized keys of %s unusable (%s): %s", user, entry.authorized_keys, exc)
            return None
