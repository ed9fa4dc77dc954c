"""Translations at the host's boundary: MSM errors to HostErrors, objects to JSON-safe data."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from xps import msm
from xps.policy import Policy

from ._errors import (
    ConflictError,
    HostError,
    HostStateError,
    InvalidArgument,
    NoSeclabel,
    NotFound,
    NotSupported,
    PolicyInvalid,
    ViolationsUnaddressed,
)

__all__ = ["commit_details", "from_msm_error", "jsonable"]

_MSM_TO_HOST: tuple[tuple[type[msm.MsmError], type[HostError]], ...] = (
    (msm.NotFound, NotFound),
    (msm.InvalidArgument, InvalidArgument),
    (msm.AlreadyExists, ConflictError),
    (msm.Conflict, ConflictError),
    (msm.NoLabel, NoSeclabel),
    (msm.ViolationsPending, ViolationsUnaddressed),
    (msm.CommitRefused, PolicyInvalid),
    (msm.NotSupported, NotSupported),
    (msm.NoXen, NotSupported),
    (msm.NoMsm, NotSupported),
    (msm.Denied, ConflictError),
)


def from_msm_error(exc: msm.MsmError, context: str) -> HostError:
    """Maps an MSM error to the host's tree (the caller raises it ``from exc``)."""
    message = f"{context}: {exc}"
    if exc.detail and exc.detail not in message:
        message += f" ({exc.detail})"
    for msm_type, host_type in _MSM_TO_HOST:
        if isinstance(exc, msm_type):
            return host_type(message, details={"msm_code": exc.code})
    return HostStateError(message, details={"msm_code": exc.code})


def jsonable(value: Any) -> Any:
    """Converts dataclasses, enums, UUIDs, tuples and sets into JSON-safe values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def commit_details(
    exc: msm.CommitRefused, policy: Policy, names: Mapping[int, str]
) -> dict[str, Any]:
    """A finding-shaped dict naming the objects of a refused MSM commit."""
    out: dict[str, Any] = {"code": "MSM_EVALIDATE", "severity": "error", "message": str(exc)}
    err = exc.error
    out["rule"] = getattr(err.rule, "name", str(err.rule)).lower()
    for key in ("id", "other"):
        ident = getattr(err, key)
        if ident is not None:
            found = policy.find(ident)
            out[key] = str(ident)
            out[f"{key}_name"] = getattr(found, "name", "") if found is not None else ""
    if err.domid is not None:
        out["domid"] = err.domid
        out["domain"] = names.get(err.domid, "")
    return out
