"""The hash-chained audit log: every mutating call and login, verifiable, with a fingerprint."""

from enterprise_store.audit._chain import (
    GENESIS,
    AuditProblem,
    AuditRecord,
    ChainVerifier,
    VerifyReport,
    canonical_json,
    record_hash,
)
from enterprise_store.audit._log import AuditEntry, AuditLog, AuditQuery, clean_text

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditLog",
    "AuditProblem",
    "AuditQuery",
    "AuditRecord",
    "ChainVerifier",
    "VerifyReport",
    "canonical_json",
    "clean_text",
    "record_hash",
]
