"""Parsing users' SSH public keys the way the console's SSH server (asyncssh) will read them."""

from __future__ import annotations

from dataclasses import dataclass

from enterprise_store._errors import InvalidInput

__all__ = ["ParsedKey", "parse_public_key"]

MAX_KEY_TEXT = 16 * 1024
# What the console server accepts (asyncssh); DSA and short RSA keys are refused.
ALGORITHMS = frozenset(
    {
        "ssh-ed25519",
        "ssh-ed448",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A validated public key: OpenSSH one-line form (no comment), algorithm, fingerprint."""

    public_key: str
    algorithm: str
    fingerprint: str
    comment: str


def parse_public_key(text: str, comment: str | None = None) -> ParsedKey:
    """Validates one public key (OpenSSH or RFC 4716 text).

    Args:
        text: The key.
        comment: Overrides the key's own comment.

    Raises:
        InvalidInput: Not one public key, an algorithm the console refuses, or RSA below
            2048 bits.
    """
    if len(text) > MAX_KEY_TEXT:
        raise InvalidInput("the public key text is too long")
    if "PRIVATE KEY" in text:
        raise InvalidInput("that is a private key: give the public key (the .pub file)")
    import asyncssh  # heavy: only when a key is added

    try:
        key = asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError, TypeError) as exc:
        raise InvalidInput(f"not an SSH public key: {exc}") from None
    algorithm = key.get_algorithm()
    if algorithm not in ALGORITHMS:
        raise InvalidInput(f"SSH key algorithm {algorithm!r} is not accepted")
    if algorithm == "ssh-rsa":
        from cryptography.hazmat.primitives.asymmetric import rsa

        pyca = getattr(key, "pyca_key", None)
        if not isinstance(pyca, rsa.RSAPublicKey) or pyca.key_size < MIN_RSA_BITS:
            raise InvalidInput(f"RSA keys need at least {MIN_RSA_BITS} bits")
    own_comment = key.get_comment() or ""
    key.set_comment(None)
    line = key.export_public_key("openssh").decode("ascii").strip()
    chosen = own_comment if comment is None else comment
    return ParsedKey(
        public_key=line,
        algorithm=algorithm,
        fingerprint=key.get_fingerprint("sha256"),
        comment=chosen[:200],
    )
