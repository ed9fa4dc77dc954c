"""API models of the policy what-if on XE (issue #14 §1): per host, what a version would
fix and deny of the behaviour the host recorded."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from enterprise_store.schemas import Request, Resource

__all__ = ["HostWhatIfOut", "WhatIfIn", "WhatIfOut"]


class WhatIfIn(Request):
    """What to ask: a version (the newest, or an older one whose change waits for
    approval: XE keeps the newest policy alone, which holds that change) and a window."""

    version: Annotated[int | None, Field(ge=1, le=2**62)] = Field(
        None,
        description="The policy version (default: the newest). An older version is "
        "accepted while a change of it waits for approval: the answer is the newest "
        "version's, which holds that change (requested_version says so).",
    )
    minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        10, description="The window of recorded behaviour (minutes)."
    )


class HostWhatIfOut(Resource):
    """One host's what-if."""

    host_id: str
    host: str = Field(description="The host's name.")
    state: str = Field(
        description="answered (result holds the host's WhatIf), unchanged (its slice would "
        "not change: not asked) or unanswered (error says why)."
    )
    denies_allowed: bool = Field(description="It would deny behaviour allowed now.")
    result: dict[str, Any] | None = Field(
        None,
        description="The host's WhatIf: fixed, denied_calls (each with a ready text), "
        "domains, channels, devices, rate_not_evaluated, denies_allowed.",
    )
    error: str | None = None


class WhatIfOut(Resource):
    """The what-if of a version on every host it reaches that the caller sees."""

    version: int = Field(description="The version whose slices the hosts were asked about.")
    requested_version: int | None = Field(
        None,
        description="The older version asked for, whose change waiting for approval is "
        "part of `version` (newer changes are part of it too).",
    )
    minutes: int
    denies_allowed: bool = Field(description="Some host would deny behaviour allowed now.")
    unanswered: list[str] = Field(description="Hosts that could not answer.")
    hosts: list[HostWhatIfOut]
