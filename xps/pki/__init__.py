"""PKI for XPS: a local CA, server/client certificates, PKCS#12, TLS contexts, authstore."""

from xps.pki._authstore import AuthEntry, AuthStore
from xps.pki._ca import (
    CA_CERT,
    CA_KEY,
    LEAF_MAX_DAYS,
    READ_ONLY_POLICY_OID,
    IssuedFiles,
    init_ca,
    is_read_only,
    issue,
    load_cert,
    parse_sans,
)
from xps.pki._errors import (
    AuthStoreError,
    AuthStoreLocked,
    AuthStoreTampered,
    PkiError,
    PkiFileError,
    PkiFormatError,
    PkiInputError,
)
from xps.pki._files import write_private
from xps.pki._handshake import (
    EarlyRefusal,
    HandshakeRefused,
    describe_refusal,
    refusal_alert,
    server_handshake,
)
from xps.pki._identity import CertIdentity
from xps.pki._pkcs12 import PemBundle, export_pkcs12, load_pkcs12
from xps.pki._tls import GROUPS, TlsMaterial, client_context, restrict_groups, server_context
from xps.pki._usage import tls_usage_problem

__all__ = [
    "CA_CERT",
    "CA_KEY",
    "GROUPS",
    "LEAF_MAX_DAYS",
    "READ_ONLY_POLICY_OID",
    "AuthEntry",
    "AuthStore",
    "AuthStoreError",
    "AuthStoreLocked",
    "AuthStoreTampered",
    "CertIdentity",
    "EarlyRefusal",
    "HandshakeRefused",
    "IssuedFiles",
    "PemBundle",
    "PkiError",
    "PkiFileError",
    "PkiFormatError",
    "PkiInputError",
    "TlsMaterial",
    "client_context",
    "describe_refusal",
    "export_pkcs12",
    "init_ca",
    "is_read_only",
    "issue",
    "load_cert",
    "load_pkcs12",
    "parse_sans",
    "refusal_alert",
    "restrict_groups",
    "server_context",
    "server_handshake",
    "tls_usage_problem",
    "write_private",
]
