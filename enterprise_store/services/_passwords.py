"""Password hashing with scrypt (stdlib): ``scrypt$N$r$p$salt$hash``, constant-time verify.

scrypt rather than argon2: it is in ``hashlib`` (no new dependency), memory-hard, and the
parameters travel in the stored string, so raising them later re-hashes at the next login
(``needs_rehash``). The default N=2^15, r=8 costs 32 MiB and ~50-100 ms per hash: login
runs it in a worker thread, never on the event loop and never under the writer lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from enterprise_store._errors import InvalidInput

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "PasswordHasher", "generate_password"]

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt reads all of it: bound the work a request can ask for
_DKLEN = 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password(password: str) -> str:
    """``password`` if its length is acceptable.

    Raises:
        InvalidInput: Shorter than 12 or longer than 1024 characters, or has NUL.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD} characters")
    if "\x00" in password:
        raise InvalidInput("a password cannot contain NUL")
    return password


def generate_password() -> str:
    """A one-time password: 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True, slots=True)
class PasswordHasher:
    """scrypt with fixed parameters; verifies hashes made with any parameters.

    Attributes:
        n: CPU/memory cost (a power of two).
        r: Block size.
        p: Parallelism.
    """

    n: int = 2**15
    r: int = 8
    p: int = 1

    def _derive(self, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=n,
            r=r,
            p=p,
            maxmem=256 * r * n + (1 << 20),
            dklen=_DKLEN,
        )

    def hash(self, password: str) -> str:
        """The storable hash of ``password``."""
        salt = secrets.token_bytes(16)
        key = self._derive(password, salt, self.n, self.r, self.p)
        return f"scrypt${self.n}${self.r}${self.p}${_b64(salt)}${_b64(key)}"

    def verify(self, password: str, stored: str | None) -> bool:
        """Whether ``password`` matches ``stored``; a missing or malformed hash never matches.

        With ``stored`` None the same work is done against a dummy hash, so the time taken
        does not tell whether the user exists.
        """
        parsed = self._parse(stored) if stored else None
        if parsed is None:
            self._derive(password, b"\x00" * 16, self.n, self.r, self.p)
            return False
        n, r, p, salt, key = parsed
        return hmac.compare_digest(self._derive(password, salt, n, r, p), key)

    def needs_rehash(self, stored: str) -> bool:
        """Whether ``stored`` was made with other parameters than this hasher's."""
        parsed = self._parse(stored)
        return parsed is None or parsed[:3] != (self.n, self.r, self.p)

    @staticmethod
    def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
        parts = stored.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            return None
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, key = _unb64(parts[4]), _unb64(parts[5])
        except ValueError:
            return None
        # Bounds: a tampered row must not make verify allocate gigabytes.
        if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            return None
        if len(key) != _DKLEN or not salt:
            return None
        return n, r, p, salt, key
