"""The two-person approval tables (0006_approvals).

``enclave_approval``: one row per enclave that an admin ever set the requirement on.
``required`` says whether a policy version changing the enclave waits for a second
admin; ``disable_requested_by`` is the admin who asked to turn the requirement off (a
second admin's word turns it off). No foreign key: the row outlives a deleted enclave, so
deleting a flagged enclave is itself a change that waits for approval.

``policy_approvals``: one row per (policy version, flagged enclave it changed). ``state``
is ``pending``, ``approved``, ``rejected``, ``superseded`` (a newer version changed the
enclave again; that version's row carries the whole change) or ``reverted`` (a newer
version brought the enclave back to its approved text). ``base_text`` is the enclave's
text (``enclave_text``) as last approved, ``new_text`` as this version left it: the
reviewed diff. ``authors`` is the JSON list of everyone whose change the diff holds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text, false

from enterprise_store.store._schema import metadata

__all__ = ["OPEN_STATES", "enclave_approval", "policy_approvals"]

#: States that hold propagation back.
OPEN_STATES = ("pending", "rejected")

enclave_approval = Table(
    "enclave_approval",
    metadata,
    Column("enclave_id", String(36), primary_key=True),
    Column("required", Boolean, nullable=False, server_default=false()),
    Column("set_by", String(80), nullable=False),
    Column("set_at_us", BigInteger, nullable=False),
    Column("disable_requested_by", String(80), nullable=True),
)

policy_approvals = Table(
    "policy_approvals",
    metadata,
    Column("version", BigInteger, primary_key=True),
    Column("enclave_id", String(36), primary_key=True),
    Column("enclave_name", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("authors", Text, nullable=False),
    Column("base_version", BigInteger, nullable=False),
    Column("base_text", Text, nullable=False),
    Column("new_text", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("decided_by", String(80), nullable=True),
    Column("decided_at_us", BigInteger, nullable=True),
    Column("note", Text, nullable=True),
    Column("superseded_by", BigInteger, nullable=True),
    Index("ix_policy_approvals_state", "state"),
    Index("ix_policy_approvals_enclave_id", "enclave_id"),
)
