"""API models of two-person activation (issue #14 §4): the approvals list and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from enterprise_store.schemas import Request, Resource

__all__ = ["ApprovalOut", "ApprovalsOut", "DecisionIn", "EnclaveApprovalOut"]


class ApprovalOut(Resource):
    """One flagged enclave's change in one policy version, with the diff an approver reviews."""

    version: int = Field(description="The policy version that waits (or waited).")
    enclave_id: str
    enclave: str = Field(description="The enclave's name.")
    state: str = Field(description="pending, approved, rejected, superseded or reverted.")
    authors: list[str] = Field(
        description="Everyone whose change the diff holds; none of them may approve it."
    )
    approvers: str = Field(description="Who may approve, in words: 'admins other than alice'.")
    base_version: int = Field(description="The version whose text of the enclave was approved.")
    diff: str = Field(description="Unified diff of the enclave's part, approved → this version.")
    created_at: dt.datetime
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    note: str | None = None
    superseded_by: int | None = Field(
        None, description="The newer version that holds this change now (superseded, reverted)."
    )


class EnclaveApprovalOut(Resource):
    """An enclave that requires two-person approval."""

    enclave_id: str
    enclave: str
    required: bool
    set_by: str | None = None
    disable_requested_by: str | None = Field(
        None, description="An admin asked to turn the requirement off; a second admin confirms."
    )


class ApprovalsOut(Resource):
    """What waits for a second admin, oldest first, and the enclaves that require one."""

    items: list[ApprovalOut]
    held: bool = Field(description="Propagation is held until these are approved.")
    enclaves: list[EnclaveApprovalOut]

    def hold_summary(self) -> str | None:
        """What holds propagation, in one line (``v33 waits for approval by an admin
        other than alice``), or None when nothing does."""
        if not self.held or not self.items:
            return None
        first = self.items[0]  # the oldest that waits
        if first.state == "rejected":
            by = f" by {first.decided_by}" if first.decided_by else ""
            return f"v{first.version} was rejected{by}: propagation held until it changes"
        who = first.approvers
        if who.startswith("admins other than "):
            who = "an admin" + who.removeprefix("admins")
        return f"v{first.version} waits for approval by {who}"


class DecisionIn(Request):
    """An approval or rejection: the note is required (it goes to the audit chain)."""

    note: Annotated[str, Field(min_length=1, max_length=2000)]
