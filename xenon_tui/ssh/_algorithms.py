"""The SSH algorithms the console server offers: hardened defaults, checked overrides.

The defaults are what an admin console on dom0 should offer (and an SSH auditor finds no
fault with): post-quantum hybrid and X25519 key exchange, AEAD ciphers, SHA-2
encrypt-then-MAC, an Ed25519 host key, no compression. asyncssh's own defaults add NIST
curves, SHA-1, 1024-bit group exchange and encrypt-and-MAC; none of them is offered here.

An operator may ask for a few weaker-but-sound algorithms for old clients (they are logged
at start-up); broken ones (SHA-1, MD5, CBC, RC4, 64-bit tags, ...) are refused outright.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from xenon_tui.ssh._errors import ConfigError

if TYPE_CHECKING:
    import asyncssh

log = logging.getLogger("xenon.ssh")

HostKeyType = Literal["ed25519", "rsa-sha2"]
HOST_KEY_TYPES: tuple[HostKeyType, ...] = ("ed25519", "rsa-sha2")
HOST_KEY_FILE: dict[str, str] = {"ed25519": "ssh_host_ed25519_key", "rsa-sha2": "ssh_host_rsa_key"}

# Preferred first. sntrup761 needs liboqs, which asyncssh may not find: only what it offers.
_PREFERRED_KEX = (
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "curve25519-sha256",
    # The same algorithm under its pre-RFC name: Paramiko and libssh before 0.8 know only it.
    "curve25519-sha256@libssh.org",
)
DEFAULT_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
)
DEFAULT_MACS = ("hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com")

# Sound but not default: allowed when an operator names them, with a warning in the log.
_TOLERATED_KEX = (
    "curve448-sha512",
    "mlkem768nistp256-sha256",
    "mlkem1024nistp384-sha384",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
)
# CTR is only safe with encrypt-then-MAC, which is all this module ever offers.
_CTR_CIPHERS = ("aes256-ctr", "aes192-ctr", "aes128-ctr")
_TOLERATED_MACS = ("umac-128-etm@openssh.com",)

# Signatures a client may log in with (advertised as server-sig-algs and enforced per key):
# no SHA-1 ``ssh-rsa``, no DSA, none of the nonstandard ``@ssh.com`` RSA variants.
CLIENT_SIG_ALGS = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
_CLIENT_SIGS = frozenset(name.encode() for name in CLIENT_SIG_ALGS)
RSA_HOST_SIG_ALGS = (b"rsa-sha2-512", b"rsa-sha2-256")
MIN_RSA_BITS = 3072


def _available(kind: str) -> list[bytes]:
    """What this asyncssh build implements (imported here: a console never needs asyncssh)."""
    from asyncssh.encryption import get_encryption_algs
    from asyncssh.kex import get_kex_algs
    from asyncssh.mac import get_mac_algs
    from asyncssh.public_key import get_public_key_algs

    lists = {"kex": get_kex_algs, "cipher": get_encryption_algs, "mac": get_mac_algs,
             "signature": get_public_key_algs}  # fmt: skip
    return lists[kind]()


def _offered(names: Iterable[str], available: Iterable[bytes]) -> tuple[str, ...]:
    have = {name.decode("ascii") for name in available}
    return tuple(name for name in names if name in have)


def default_kex() -> tuple[str, ...]:
    """The default key exchanges this asyncssh build offers (post-quantum first)."""
    return _offered(_PREFERRED_KEX, _available("kex"))


def parse_names(text: str) -> tuple[str, ...]:
    """Splits a comma-separated algorithm list (as given on the command line).

    Raises:
        ConfigError: When the list is empty or has an empty entry.
    """
    names = tuple(part.strip() for part in text.split(","))
    if not names or any(not name for name in names):
        raise ConfigError(f"expected a comma-separated list of algorithm names, not {text!r}")
    return names


def _check(
    kind: str,
    names: tuple[str, ...],
    defaults: tuple[str, ...],
    tolerated: tuple[str, ...],
    available: list[bytes],
) -> list[str]:
    """Refuses unknown or unsafe names; returns the tolerated (weaker) ones asked for."""
    if not names:
        raise ConfigError(f"no {kind} algorithms given")
    known = _offered((*defaults, *tolerated), available)
    weaker = []
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{kind} algorithm {name!r} is not allowed (unknown, unavailable or unsafe); "
                f"choose from: {', '.join(known)}"
            )
        if name not in defaults:
            weaker.append(name)
    if len(set(names)) != len(names):
        raise ConfigError(f"{kind} algorithms listed twice: {', '.join(names)}")
    return weaker


@dataclass(frozen=True)
class SshAlgorithms:
    """What the server negotiates. ``None`` fields mean the hardened default.

    Attributes:
        kex: Key exchange algorithms, preferred first.
        ciphers: Encryption algorithms.
        macs: MAC algorithms (only used with non-AEAD ciphers; always encrypt-then-MAC).
        host_key_type: ``ed25519`` (default) or ``rsa-sha2`` (RSA 4096 signed with
            SHA-2 only), for clients that cannot verify Ed25519.
    """

    kex: tuple[str, ...] | None = None
    ciphers: tuple[str, ...] | None = None
    macs: tuple[str, ...] | None = None
    host_key_type: HostKeyType = "ed25519"

    def __post_init__(self) -> None:
        if self.host_key_type not in HOST_KEY_TYPES:
            raise ConfigError(
                f"host key type must be one of {', '.join(HOST_KEY_TYPES)}, "
                f"not {self.host_key_type!r}"
            )
        self.weaker()  # validates every list

    @property
    def kex_algs(self) -> tuple[str, ...]:
        """The key exchanges offered."""
        return self.kex if self.kex is not None else default_kex()

    @property
    def cipher_algs(self) -> tuple[str, ...]:
        """The ciphers offered."""
        return self.ciphers if self.ciphers is not None else DEFAULT_CIPHERS

    @property
    def mac_algs(self) -> tuple[str, ...]:
        """The MACs offered."""
        return self.macs if self.macs is not None else DEFAULT_MACS

    def weaker(self) -> list[str]:
        """The algorithms asked for beyond the hardened defaults.

        Raises:
            ConfigError: When a list names an unknown, unavailable or unsafe algorithm.
        """
        weaker = _check("key exchange", self.kex_algs, default_kex(), _TOLERATED_KEX,
                        _available("kex"))  # fmt: skip
        weaker += _check("cipher", self.cipher_algs, DEFAULT_CIPHERS, _CTR_CIPHERS,
                         _available("cipher"))  # fmt: skip
        # Every MAC allowed is encrypt-then-MAC, so AES-CTR is never paired with anything else.
        weaker += _check("MAC", self.mac_algs, DEFAULT_MACS, _TOLERATED_MACS, _available("mac"))
        return weaker

    def server_options(self) -> dict[str, object]:
        """Keyword arguments for :func:`asyncssh.create_server`."""
        return {
            "kex_algs": list(self.kex_algs),
            "encryption_algs": list(self.cipher_algs),
            "mac_algs": list(self.mac_algs),
            "compression_algs": None,  # "none" only: compression before auth is attack surface
            "signature_algs": list(_offered(CLIENT_SIG_ALGS, _available("signature"))),
            "gss_host": None,  # no GSS-API key exchange or authentication
        }

    def log_choices(self) -> None:
        """Logs what is offered, and warns about weaker algorithms asked for."""
        log.info(
            "ssh algorithms: kex=%s ciphers=%s macs=%s host-key=%s",
            ",".join(self.kex_algs),
            ",".join(self.cipher_algs),
            ",".join(self.mac_algs),
            self.host_key_type,
        )
        weaker = self.weaker()
        if weaker:
            log.warning(
                "ssh algorithms beyond the hardened defaults were asked for: %s", ",".join(weaker)
            )


def restrict_client_key(key: asyncssh.SSHKey) -> bool:
    """Limits the signatures ``key`` will verify to :data:`CLIENT_SIG_ALGS`.

    asyncssh verifies a client's signature with whatever algorithm the client names, even
    one left out of server-sig-algs (``ssh-rsa``, SHA-1). Narrowing the key object it will
    call ``verify`` on closes that.

    Returns:
        ``False`` when no allowed signature is left (a DSA key, for one).
    """
    allowed = set(key.all_sig_algorithms) & _CLIENT_SIGS
    key.all_sig_algorithms = allowed
    return bool(allowed)


def restrict_rsa_host_key(key: asyncssh.SSHKey) -> None:
    """Makes an RSA host key offer and sign with ``rsa-sha2-512``/``-256`` only (no SHA-1)."""
    key.sig_algorithms = RSA_HOST_SIG_ALGS
    key.all_sig_algorithms = set(RSA_HOST_SIG_ALGS)
