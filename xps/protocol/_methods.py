"""The method table: every request name, whether it is read-only, and its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xps.protocol._errors import INVALID_PARAMS, ProtocolError

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: accepted JSON types, default, and bounds.

    Attributes:
        types: Accepted Python types after JSON decoding (``bool`` never counts as int).
        default: Value when absent; ``REQUIRED`` makes it mandatory.
        choices: Allowed values, if restricted.
        min: Minimum of an int.
        max: Maximum of an int.
        max_len: Maximum length of a string (strings are never empty).
    """

    types: tuple[type, ...]
    default: Any = _REQUIRED
    choices: tuple[Any, ...] | None = None
    min: int | None = None
    max: int | None = None
    max_len: int | None = None

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is _REQUIRED


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A protocol method: its name, read-only flag and parameters.

    ``large``: its request may exceed ``LARGE_REQUEST`` bytes (a whole policy); the
    daemon decodes no larger frame for any other method.
    """

    name: str
    read_only: bool
    params: Mapping[str, Param] = field(default_factory=dict)
    summary: str = ""
    large: bool = False


# A domain is a domid (Xen's DOMID_FIRST_RESERVED is 0x7FF0) or a domain name.
_DOMAIN = Param((int, str), min=0, max=0x7FEF, max_len=128)
_NAME = Param((str,), max_len=128)
_MIGRATION = Param((str,), max_len=32)
_CHUNK = Param((int,), min=0, max=63)
# Who did it and why, for the host's log (the host also refuses control characters).
_USER = Param((str, type(None)), None, max_len=64)
_NOTE = Param((str, type(None)), None, max_len=500)
_INCIDENT = Param((str,), max_len=16)


def _m(method: str, ro: bool, summary: str, /, **params: Param) -> MethodSpec:
    return MethodSpec(method, ro, params, summary, large=method in _LARGE)


_LARGE = frozenset({"StagePolicy", "WhatIf"})


METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        _m("Ping", True, "Liveness check; cheapest request."),
        _m("GetHypervisorInfo", True, "Xen/MSM versions, policy generation, host facts."),
        _m("GetDomainRunStates", True, "Domains with run state and `xl list` text."),
        _m(
            "GetLogMsgs", True, "Recent MSM log lines.", limit=Param((int,), 200, min=1, max=10_000)
        ),
        _m("GetHardware", True, "Hardware discovered on the host."),
        _m(
            "GetPolicy",
            True,
            "The active, staged or previous policy.",
            which=Param((str,), "active", choices=("active", "staged", "previous")),
        ),
        _m(
            "StagePolicy",
            False,
            "Validate and stage a policy (XML or dict).",
            xml=Param((str, type(None)), None, max_len=4 << 20),
            policy=Param((dict, type(None)), None),
        ),
        _m("GetStagedDiff", True, "Diff between the staged and the active policy."),
        _m("ActivatePolicy", False, "Make the staged policy & host configuration active."),
        _m("RollbackPolicy", False, "Re-activate the previous policy."),
        _m(
            "ExportPolicy",
            True,
            "Export the active policy (signed XML, or a template).",
            signed=Param((bool,), True),
            template=Param((bool,), False),
        ),
        # ``user``: the console user who asked (logged; the domain event's origin).
        _m(
            "CreateDomain",
            False,
            "Create a domain from the active policy.",
            name=_NAME,
            user=_USER,
        ),
        _m("PauseDomain", False, "Pause a domain.", domain=_DOMAIN, user=_USER),
        _m("UnpauseDomain", False, "Unpause a domain.", domain=_DOMAIN, user=_USER),
        _m("ShutdownDomain", False, "Shut a domain down.", domain=_DOMAIN, user=_USER),
        _m("RebootDomain", False, "Reboot a domain.", domain=_DOMAIN, user=_USER),
        _m("DestroyDomain", False, "Destroy a domain.", domain=_DOMAIN, user=_USER),
        # No include_password parameter: a read-only client can never ask for the password.
        _m("GetVncInfo", True, "VNC endpoint of a domain (never the password).", domain=_DOMAIN),
        _m("GetVncCredentials", False, "VNC endpoint and password of a domain.", domain=_DOMAIN),
        _m("GetStats", True, "Current host and per-domain statistics."),
        _m(
            "GetStatsHistory",
            True,
            "Statistics history for a range.",
            range=Param((str,), "10m", choices=("10m", "2h", "1d", "1w")),
            domain=Param((str, type(None)), None, max_len=128),
        ),
        _m(
            "GetViolations",
            True,
            "Violation records after a sequence number.",
            since_seq=Param((int,), 0, min=0),
            limit=Param((int,), 1000, min=1, max=100_000),
        ),
        _m(
            "GetCallCounts",
            True,
            "Allowed calls per domain and (hypercall, sub-op) of the last minutes.",
            minutes=Param((int,), 10, min=1, max=1440),
            domain=Param((str, type(None)), None, max_len=128),
        ),
        _m(
            "WhatIf",
            True,
            "What a staged policy (XML or dict) would fix and deny of recorded behaviour.",
            xml=Param((str, type(None)), None, max_len=4 << 20),
            policy=Param((dict, type(None)), None),
            minutes=Param((int,), 10, min=1, max=1440),
        ),
        _m(
            "OpenIncident",
            False,
            "Open an incident for a domain: capture its violations, stats, config, policy.",
            domain=_NAME,
            user=Param((str,), max_len=64),
            trigger_seqs=Param((list, type(None)), None),
        ),
        _m(
            "IncidentStep",
            False,
            "Record a runbook step (done or skipped with a reason; close needs a note); "
            "quarantine done / unquarantine rebind the domain's SecLabel (form vifs: "
            "detach / attach again its VIFs).",
            id=_INCIDENT,
            step=Param(
                (str,),
                choices=(
                    "pause",
                    "capture",
                    "quarantine",
                    "fix",
                    "verify",
                    "close",
                    "unquarantine",
                ),
            ),
            outcome=Param((str,), choices=("done", "skipped")),
            user=Param((str,), max_len=64),
            note=_NOTE,
            form=Param((str, type(None)), None, choices=("seclabel", "vifs", None)),
        ),
        _m("GetIncident", True, "One incident record with its steps.", id=_INCIDENT),
        _m(
            "ListIncidents",
            True,
            "Incident summaries, newest first, searched by text and state.",
            query=Param((str, type(None)), None, max_len=128),
            state=Param((str,), "all", choices=("open", "closed", "all")),
        ),
        _m(
            "ReopenIncident",
            False,
            "Reopen a closed incident.",
            id=_INCIDENT,
            user=Param((str,), max_len=64),
            note=_NOTE,
        ),
        _m(
            "AddressViolations",
            False,
            "Clear a domain's violations; unpause=true also resumes it (resolve).",
            domain=_DOMAIN,
            user=_USER,
            note=_NOTE,
            unpause=Param((bool,), False),
        ),
        _m(
            "AcknowledgeViolations",
            False,
            "Mark violations up to a sequence number (of one domain, or all) as seen.",
            up_to_seq=Param((int,), min=1),
            user=Param((str,), max_len=64),
            domain=Param((str, type(None)), None, max_len=128),
            note=_NOTE,
        ),
        _m(
            "SetMisbehaviour",
            False,
            "Inject guest misbehaviour (sim backend only).",
            domain=_DOMAIN,
            kind=Param((str,), max_len=32),
            per_million=Param((int,), min=0, max=1_000_000),
        ),
        # Live migration (sim backend; xen answers not_supported). Chunks are 64 KiB,
        # 87,384 characters of base64: under LARGE_REQUEST; images are at most 64 chunks.
        _m("MigrateOut", False, "Source: open a live move of a running domain.", domain=_DOMAIN),
        _m(
            "MigrateOutRead",
            False,
            "Source: one chunk of the domain's memory image (base64).",
            migration=_MIGRATION,
            chunk=_CHUNK,
        ),
        _m(
            "MigrateOutDirty",
            False,
            "Source: chunks written since read; pause=true stops the domain first.",
            migration=_MIGRATION,
            pause=Param((bool,), False),
        ),
        _m(
            "MigrateOutFinish",
            False,
            "Source: done destroys the moved domain, abort unpauses it.",
            migration=_MIGRATION,
            outcome=Param((str,), choices=("done", "abort")),
        ),
        _m(
            "MigrateIn",
            False,
            "Destination: open the receipt of a domain of the active policy.",
            migration=_MIGRATION,
            uuid=Param((str,), max_len=36),
            name=_NAME,
            image_size=Param((int,), min=4096, max=4 << 20),
            chunk_size=Param((int,), 64 << 10, min=4096, max=64 << 10),
        ),
        _m(
            "MigrateInWrite",
            False,
            "Destination: one chunk (base64) of the incoming image.",
            migration=_MIGRATION,
            chunk=_CHUNK,
            data=Param((str,), max_len=87_384),
        ),
        _m(
            "MigrateInFinish",
            False,
            "Destination: check the digest, admit (MSM), restore and run; or abort.",
            migration=_MIGRATION,
            digest=Param((str, type(None)), None, max_len=64),
            abort=Param((bool,), False),
        ),
        _m("ListAuthorizations", True, "Certificates in the authorization store."),
        _m(
            "AddAuthorization",
            False,
            "Authorize a remote client certificate (needs --authstore-pass).",
            alias=Param((str,), max_len=64),
            cert_pem=Param((str,), max_len=64 << 10),
        ),
        _m(
            "RemoveAuthorization",
            False,
            "Remove an authorization (needs --authstore-pass).",
            alias=Param((str,), max_len=64),
        ),
        _m(
            "Subscribe",
            True,
            "Receive pushed events on this connection.",
            events=Param((list, type(None)), None),
        ),
        _m("Unsubscribe", True, "Stop pushed events on this connection."),
    )
}

#: Event names a subscriber can ask for.
EVENT_NAMES = ("violations", "stats", "domain", "policy", "acks")


def _check_value(method: str, name: str, spec: Param, value: Any) -> None:
    if isinstance(value, bool) and bool not in spec.types:
        ok = False
    else:
        ok = isinstance(value, spec.types)
    if not ok:
        kinds = "/".join("null" if t is type(None) else t.__name__ for t in spec.types)
        raise ProtocolError(INVALID_PARAMS, f"{method}: {name} must be {kinds}")
    if spec.choices is not None and value not in spec.choices:
        raise ProtocolError(INVALID_PARAMS, f"{method}: {name} must be one of {spec.choices}")
    if isinstance(value, str):
        if not value:
            raise ProtocolError(INVALID_PARAMS, f"{method}: {name} must not be empty")
        if spec.max_len is not None and len(value) > spec.max_len:
            raise ProtocolError(
                INVALID_PARAMS, f"{method}: {name} is longer than {spec.max_len} characters"
            )
    elif isinstance(value, int) and not isinstance(value, bool):
        if spec.min is not None and value < spec.min:
            raise ProtocolError(INVALID_PARAMS, f"{method}: {name} is below {spec.min}")
        if spec.max is not None and value > spec.max:
            raise ProtocolError(INVALID_PARAMS, f"{method}: {name} is above {spec.max}")


def validate_params(spec: MethodSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """Checks params against the method's table; returns them with defaults filled in.

    Raises:
        ProtocolError: Unknown, missing or ill-typed parameter (code ``invalid_params``).
    """
    unknown = set(params) - set(spec.params)
    if unknown:
        raise ProtocolError(INVALID_PARAMS, f"{spec.name}: unknown params {sorted(unknown)}")
    out: dict[str, Any] = {}
    for name, pspec in spec.params.items():
        if name not in params:
            if pspec.required:
                raise ProtocolError(INVALID_PARAMS, f"{spec.name}: missing param {name}")
            out[name] = pspec.default
            continue
        _check_value(spec.name, name, pspec, params[name])
        out[name] = params[name]
    return out
