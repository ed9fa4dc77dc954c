"""The authorization store (§3.1.7): the client certificates allowed to connect remotely.

On disk it is one JSON document ``{"format": "xenon-authstore/1", "entries": {alias:
{"pem", "subject", "fingerprint", "not_after"}}, "kdf": {...}, "mac": hex}``. When a
password is set, ``mac`` is an HMAC-SHA256 over the canonical JSON of ``entries`` keyed by
scrypt(password), and a store whose MAC does not verify is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from xps.pki._ca import check_name
from xps.pki._errors import (
    AuthStoreError,
    AuthStoreLocked,
    AuthStoreTampered,
    PkiFormatError,
)
from xps.pki._files import read_file, write_private
from xps.pki._identity import CertIdentity

FORMAT = "xenon-authstore/1"
_SCRYPT_N = 1 << 14
_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class AuthEntry:
    """One authorized client certificate."""

    alias: str
    pem: str
    identity: CertIdentity

    def to_dict(self) -> dict[str, str]:
        """The JSON-safe public view (no PEM)."""
        return {
            "alias": self.alias,
            "subject": self.identity.subject,
            "fingerprint": self.identity.fingerprint,
            "not_after": self.identity.not_after,
        }


def _canonical(entries: dict[str, AuthEntry]) -> bytes:
    doc = {alias: {"pem": e.pem} for alias, e in sorted(entries.items())}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _derive(password: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=8, p=1).derive(password.encode())


class AuthStore:
    """An authorization store file, with an optional password protecting its integrity.

    Lookups are by SHA-256 fingerprint of the DER certificate, so a different certificate
    with the same subject is not authorized.
    """

    def __init__(self, path: Path, password: str | None = None) -> None:
        """Opens (or prepares to create) the store at ``path``; call :meth:`load`."""
        self.path = path
        self._password = password or None
        self._entries: dict[str, AuthEntry] = {}
        self._by_fp: dict[str, AuthEntry] = {}
        self._salt = b""
        self._key = b""
        self._locked = False

    @property
    def writable_remotely(self) -> bool:
        """True when a password is set (the report's ``--authstore-pass``)."""
        return self._password is not None

    @classmethod
    def open(cls, path: Path, password: str | None = None) -> AuthStore:
        """Opens and loads the store; a missing file is an empty store.

        Raises:
            AuthStoreTampered: The MAC does not verify (or the password is wrong).
            PkiFormatError: The file is not an authorization store.
        """
        store = cls(path, password)
        store.load()
        return store

    def load(self) -> None:
        """(Re)reads the file.

        Raises:
            AuthStoreTampered: The MAC does not verify (or the password is wrong).
            PkiFormatError: The file is not an authorization store.
        """
        if not self.path.exists():
            self._entries, self._by_fp = {}, {}
            self._new_salt()
            return
        try:
            doc = json.loads(read_file(self.path, limit=64 << 20))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PkiFormatError(f"{self.path}: not an authorization store") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise PkiFormatError(f"{self.path}: not an authorization store")
        entries = self._parse_entries(doc.get("entries"))
        mac = doc.get("mac")
        if self._password is not None:
            kdf = doc.get("kdf")
            if not isinstance(mac, str) or not isinstance(kdf, dict):
                raise AuthStoreTampered(f"{self.path}: store has no integrity MAC")
            try:
                self._salt = bytes.fromhex(str(kdf["salt"]))
            except (KeyError, ValueError) as exc:
                raise AuthStoreTampered(f"{self.path}: bad KDF parameters") from exc
            self._key = _derive(self._password, self._salt)
            want = hmac.new(self._key, _canonical(entries), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, mac):
                raise AuthStoreTampered(f"{self.path}: integrity check failed")
        self._locked = self._password is None and mac is not None
        self._entries = entries
        self._by_fp = {e.identity.fingerprint: e for e in entries.values()}

    def _new_salt(self) -> None:
        if self._password is not None:
            self._salt = os.urandom(16)
            self._key = _derive(self._password, self._salt)

    def _parse_entries(self, raw: Any) -> dict[str, AuthEntry]:
        if not isinstance(raw, dict) or len(raw) > _MAX_ENTRIES:
            raise PkiFormatError(f"{self.path}: bad entries")
        entries: dict[str, AuthEntry] = {}
        for alias, value in raw.items():
            if not isinstance(value, dict) or not isinstance(value.get("pem"), str):
                raise PkiFormatError(f"{self.path}: bad entry {alias!r}")
            check_name(alias)
            pem = value["pem"]
            entries[alias] = AuthEntry(alias, pem, CertIdentity.from_pem(pem.encode()))
        return entries

    def entries(self) -> list[AuthEntry]:
        """All entries, sorted by alias."""
        return [self._entries[a] for a in sorted(self._entries)]

    def is_authorized(self, fingerprint: str) -> bool:
        """True if a certificate with this SHA-256 fingerprint is in the store."""
        return fingerprint in self._by_fp

    def alias_of(self, fingerprint: str) -> str | None:
        """The alias under which a fingerprint is stored, if any."""
        entry = self._by_fp.get(fingerprint)
        return entry.alias if entry else None

    def _check_writable(self) -> None:
        if self._password is None and self._locked:
            raise AuthStoreLocked(f"{self.path} is password-protected: give its password")

    def add(self, alias: str, cert_pem: bytes) -> AuthEntry:
        """Adds a certificate under a new alias and saves the store.

        Raises:
            PkiInputError: Bad alias.
            PkiFormatError: Not a PEM certificate.
            AuthStoreError: The alias or the certificate is already present, or it is not a
                TLS client certificate (a CA certificate, no clientAuth): daemons refuse it.
            AuthStoreLocked: Protected store and no password.
        """
        self._check_writable()
        check_name(alias)
        identity = CertIdentity.from_pem(cert_pem)
        if identity.client_problem is not None:
            raise AuthStoreError(f"cannot authorize {identity.subject}: {identity.client_problem}")
        if alias in self._entries:
            raise AuthStoreError(f"alias {alias!r} already exists")
        if identity.fingerprint in self._by_fp:
            other = self._by_fp[identity.fingerprint].alias
            raise AuthStoreError(f"certificate already authorized as {other!r}")
        if len(self._entries) >= _MAX_ENTRIES:
            raise AuthStoreError("authorization store is full")
        text = cert_pem.decode("ascii", errors="strict").strip() + "\n"
        entry = AuthEntry(alias, text, identity)
        self._entries[alias] = entry
        self._by_fp[identity.fingerprint] = entry
        self.save()
        return entry

    def remove(self, alias: str) -> AuthEntry:
        """Removes an alias and saves the store.

        Raises:
            AuthStoreError: No such alias.
            AuthStoreLocked: Protected store and no password.
        """
        self._check_writable()
        entry = self._entries.pop(alias, None)
        if entry is None:
            raise AuthStoreError(f"no alias {alias!r} in the authorization store")
        self._by_fp.pop(entry.identity.fingerprint, None)
        self.save()
        return entry

    def save(self) -> None:
        """Writes the store atomically with mode 0600.

        Raises:
            PkiFileError: It cannot be written.
        """
        doc: dict[str, Any] = {
            "format": FORMAT,
            "entries": {a: {"pem": e.pem, **e.to_dict()} for a, e in sorted(self._entries.items())},
        }
        if self._password is not None:
            if not self._key:
                self._new_salt()
            doc["kdf"] = {"alg": "scrypt", "n": _SCRYPT_N, "r": 8, "p": 1, "salt": self._salt.hex()}
            doc["mac"] = hmac.new(self._key, _canonical(self._entries), hashlib.sha256).hexdigest()
        write_private(self.path, json.dumps(doc, indent=1).encode() + b"\n")
