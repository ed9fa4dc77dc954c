"""API models of the propagation history (``GET /api/v1/propagation/history``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from enterprise_store.schemas import Resource

__all__ = ["PropagationState", "PropagationTransitionOut"]

PropagationState = Literal["pending", "converged", "retrying", "drifted", "held"]


class PropagationTransitionOut(Resource):
    """One change of a host's propagation state (or of a drift's reason)."""

    id: int = Field(description="Its place in XE's log (increasing).")
    host_id: str
    host: str
    at: dt.datetime
    ts_us: int = Field(description="`at` in microseconds since the epoch.")
    from_state: PropagationState | None = Field(description="null: not known.")
    to_state: PropagationState
    desired_version: int
    observed_version: int | None
    enforced_hash: str | None
    reason: str | None = Field(
        description="Why: a drift's cause, a retry's error, a note. Text from the host."
    )
