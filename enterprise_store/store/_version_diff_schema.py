"""The readable diff of every policy version (0010_policy_version_diffs).

``policy_version_diffs``: one row per (policy version, scope it changed). ``scope`` is an
enclave's UUID (the diff of its ``enclave_text``) or ``enterprise`` (the hosts' own lines
and the hypercall profiles, which no enclave's text holds). ``name`` is what the diff is
of, as the version left it (the enclave's name). ``diff`` is the unified diff, version
before → this one, cut at a bounded number of lines. A version that changed no text has
one row of scope ``""`` and an empty diff, so "recorded, nothing to show" differs from
"made before the migration" (no row at all). No foreign key: the row is written in the
version's own transaction, before its ``policy_versions`` row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table, Text

from enterprise_store.store._schema import metadata

__all__ = ["ENTERPRISE", "NOTHING", "policy_version_diffs"]

#: The scope of the enterprise-wide text (hosts and profiles).
ENTERPRISE = "enterprise"
#: The scope of the marker row of a version that changed no text.
NOTHING = ""

policy_version_diffs = Table(
    "policy_version_diffs",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("scope", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("diff", Text, nullable=False),
)
