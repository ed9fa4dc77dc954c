"""Policy export: plain or signed XML of the active policy or of its template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xps import policy as xpolicy
from xps.policy import Policy, PolicyError

from ._errors import HostStateError, NotSupported

__all__ = ["export_document"]


def _template_bytes(policy: Policy) -> bytes:
    export_template = getattr(xpolicy, "export_template", None)
    serialize_template = getattr(xpolicy, "serialize_template", None)
    if export_template is None or serialize_template is None:
        raise NotSupported("template export is not available in this build")
    data: bytes = serialize_template(export_template(policy))
    return data


def export_document(
    policy: Policy,
    *,
    signed: bool,
    template: bool,
    key_file: Path | None,
    cert_file: Path | None,
) -> bytes:
    """Serialises (and signs) the export; blocking, run it in a worker thread.

    Raises:
        NotSupported: Signing without key material, or no template support.
        HostStateError: The key files are unreadable or signing failed.
    """
    if not signed:
        return _template_bytes(policy) if template else xpolicy.serialize_policy(policy)
    document: Any = policy
    if template:
        from lxml import etree

        # Our own serializer's output: safe to re-read with a plain parser.
        document = etree.fromstring(_template_bytes(policy))
    if key_file is None or cert_file is None:
        raise NotSupported("signed export needs sign_key and sign_cert in the host config")
    try:
        key_pem, cert_pem = key_file.read_bytes(), cert_file.read_bytes()
    except OSError as exc:
        raise HostStateError(f"cannot read the signing key material: {exc.strerror}") from exc
    try:
        return xpolicy.sign_policy(document, key_pem, cert_pem)
    except PolicyError as exc:
        raise HostStateError(f"cannot sign the policy: {exc.message}") from exc
