"""API models of host incidents through XE (issue #14 §2): a runbook's steps that XE
performs on a host for a user and records in its audit chain."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from enterprise_store.schemas import Request, Resource

__all__ = ["IncidentOpenIn", "IncidentOut", "IncidentReopenIn", "IncidentStepIn"]

_Note = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]+$")]


class IncidentOpenIn(Request):
    """Open an incident for one of the host's domains (the host captures the record)."""

    domain: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
    trigger_seqs: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Field(max_length=100)] = (
        Field(default_factory=list, description="The host's seqs of the triggering violations.")
    )


class IncidentStepIn(Request):
    """One runbook step; ``quarantine`` done and ``unquarantine`` are performed by the
    host (the domain's SecLabel is rebound, or with ``form`` vifs its VIFs detached and
    attached again); a skip needs a note (the reason), and so does ``close``."""

    step: Literal["pause", "capture", "quarantine", "fix", "verify", "close", "unquarantine"]
    outcome: Literal["done", "skipped"] = "done"
    note: _Note | None = None
    form: Literal["seclabel", "vifs"] | None = Field(
        default=None,
        description="A quarantine's form: its tag's quarantine SecLabel (the default) or "
        "its VIFs detached (the incident keeps them; unquarantine attaches them again).",
    )


class IncidentReopenIn(Request):
    """Reopen a closed incident: why."""

    note: _Note


class IncidentOut(Resource):
    """The host's incident record after the call (as the host's XPS returns it)."""

    host_id: str
    host: str
    incident: dict[str, Any] = Field(
        description="The host's incident: id, domain, state, the captured record, steps "
        "(a quarantine step names label_before / label_after, or form vifs and the vifs "
        "detached) and quarantine."
    )
