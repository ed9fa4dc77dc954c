"""Policy what-if: what a staged policy would do to this host's recorded behaviour.

The recorded stream (live domains started in domid order, the channel and device pairs
of the live domains, the violations and the allowed calls of the last N minutes) is
decided by the MSM's evaluation mode (:class:`xps.msm.Evaluation`) against the staged
policy, and the pairs also against the active one: nothing of the live MSM changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from xps import msm
from xps.msm import (
    HYPERCALL_NAMES,
    ChannelKind,
    EvalDecision,
    Evaluation,
    EventKind,
    format_bdf,
    pack_event,
)
from xps.policy import Policy, to_msm_objects
from xps.protocol import (
    Violation,
    WhatIf,
    WhatIfChannel,
    WhatIfDenied,
    WhatIfDevice,
    WhatIfDomain,
    WhatIfFixed,
)

from ._errors import PolicyInvalid

__all__ = ["LiveDomain", "what_if"]

_REASONS = {
    EvalDecision.DENY_PROFILE: "profile",
    EvalDecision.DENY_RATE: "rate",
    EvalDecision.DENY_CHANNEL: "channel",
    EvalDecision.DENY_DEVICE: "device",
    EvalDecision.DENY_UNLABELLED: "unlabelled",
    EvalDecision.DENY_CONFLICT: "conflict",
}
_STEP_NS = 1_000_000  # one event per 1 ms window: a single record never trips a rate


@dataclass(frozen=True, slots=True)
class LiveDomain:
    """A live domain of the host (any run state), as the MSM knows it."""

    domid: int
    uuid: UUID
    name: str


def _hc_name(nr: int) -> str:
    return HYPERCALL_NAMES.get(nr) or f"hypercall_{nr}"


class _Stream:
    """Packs events; :meth:`add` returns the index of the event's decision."""

    def __init__(self) -> None:
        self.events: list[bytes] = []
        self._ts = 0

    def add(
        self,
        kind: EventKind,
        domid: int,
        a: int = 0,
        b: int = 0,
        domain: UUID | None = None,
    ) -> int:
        self._ts += _STEP_NS
        self.events.append(pack_event(kind, domid, a, b, self._ts, domain))
        return len(self.events) - 1

    def run(self, objects: Sequence[msm.PolicyObject]) -> list[EvalDecision]:
        try:
            ev = Evaluation(objects)
        except msm.CommitRefused as exc:
            raise PolicyInvalid(f"the MSM would refuse the policy: {exc}") from exc
        decisions, _ = ev.run(b"".join(self.events))
        return [EvalDecision(d) for d in decisions]


_ViolationKey = tuple[int, str, int, int, int | None]  # domid, kind, nr, subop, peer


def what_if(
    staged: Policy,
    active: Policy | None,
    live: Sequence[LiveDomain],
    violations: Sequence[Violation],
    calls: Mapping[tuple[str, int, int], int],
    minutes: int,
) -> WhatIf:
    """Decides the host's recorded behaviour under ``staged`` (and pairs under ``active``).

    Args:
        staged: The policy that would be made active.
        active: The policy in force (None: nothing is allowed now).
        live: Live non-dom0 domains in domid order.
        violations: The violation records of the last ``minutes``.
        calls: Allowed calls of the last ``minutes`` by (domain name, hypercall, sub-op).
        minutes: The window, for the texts.
    """
    staged_objs = to_msm_objects(staged)
    active_objs = to_msm_objects(active) if active is not None else []
    by_name = {d.name: d for d in live}
    by_domid = {d.domid: d for d in live}
    bdfs = sorted({o.bdf for o in [*staged_objs, *active_objs] if isinstance(o, msm.Device)})

    # Channel and device pairs of the live domains, decided under both policies.
    pairs = _Stream()
    for d in live:
        pairs.add(EventKind.START, d.domid, domain=d.uuid)
    channel_pairs = [
        (pairs.add(EventKind.CHANNEL, a.domid, ChannelKind.EVTCHN, b.domid), a, b)
        for i, a in enumerate(live)
        for b in live[i + 1 :]
    ]
    device_pairs = [
        (pairs.add(EventKind.DEVICE, d.domid, bdf), bdf, d) for bdf in bdfs for d in live
    ]
    now = pairs.run(active_objs)
    then = pairs.run(staged_objs)

    # The recorded behaviour after the same starts, under the staged policy only.
    rec = _Stream()
    starts = [(rec.add(EventKind.START, d.domid, domain=d.uuid), d) for d in live]
    groups: dict[_ViolationKey, int] = {}
    fixed_at: list[tuple[int, _ViolationKey]] = []
    rate = 0
    for v in violations:
        owner = by_domid.get(v["domid"])
        if owner is None or owner.name != v["domain"]:
            continue  # the domain is gone (or the domid was reused)
        if v["kind"] == "rate":
            rate += 1
            continue
        key: _ViolationKey = (v["domid"], v["kind"], v["hypercall"], v["subop"], v["peer"])
        if key in groups:
            groups[key] += 1
            continue
        groups[key] = 1
        if v["kind"] == "channel":
            peer = v["peer"]
            if peer is None or peer not in by_domid:
                continue
            kind = ChannelKind.EVTCHN if v["hypercall"] == 32 else ChannelKind.GRANT
            fixed_at.append((rec.add(EventKind.CHANNEL, owner.domid, kind, peer), key))
        else:
            idx = rec.add(EventKind.HYPERCALL, owner.domid, v["hypercall"], v["subop"])
            fixed_at.append((idx, key))
    call_rows: list[tuple[int, LiveDomain, int, int, int]] = []
    for (name, nr, subop), n in sorted(calls.items()):
        caller = by_name.get(name)
        if caller is not None:
            idx = rec.add(EventKind.HYPERCALL, caller.domid, nr, subop)
            call_rows.append((idx, caller, nr, subop, n))
    decided = rec.run(staged_objs)

    labels = _labels(staged)
    result: WhatIf = {
        "policy_name": staged.name,
        "minutes": minutes,
        "fixed": [],
        "denied_calls": [],
        "domains": [],
        "channels": [],
        "devices": [],
        "rate_not_evaluated": rate,
        "denies_allowed": False,
    }
    for idx, d in starts:
        dec = decided[idx]
        if dec is EvalDecision.ALLOW:
            continue
        text = (
            f"{d.name} would lose its SecLabel (no binding in {staged.name})"
            if dec is EvalDecision.DENY_UNLABELLED
            else f"{d.name} would be refused by a no-coresidence conflict set"
        )
        result["domains"].append(
            WhatIfDomain(
                domain=d.name,
                domid=d.domid,
                outcome=_REASONS.get(dec, dec.name.lower()),
                text=text,
            )
        )
    for idx, key in fixed_at:
        if decided[idx] is not EvalDecision.ALLOW:
            continue
        domid, kind_name, nr, subop, peer = key
        result["fixed"].append(
            WhatIfFixed(
                domain=by_domid[domid].name,
                domid=domid,
                kind=kind_name,
                hypercall=nr,
                hypercall_name=_hc_name(nr),
                subop=subop,
                peer=peer,
                count=groups[key],
            )
        )
    for idx, d, nr, subop, n in call_rows:
        dec = decided[idx]
        if dec in (EvalDecision.ALLOW, EvalDecision.NOT_RUNNING):
            continue
        seclabel, profile = labels.get(d.uuid, (None, None))
        who = f"the staged {profile} profile" if profile else "the staged policy"
        result["denied_calls"].append(
            WhatIfDenied(
                domain=d.name,
                domid=d.domid,
                hypercall=nr,
                hypercall_name=_hc_name(nr),
                subop=subop,
                calls=n,
                seclabel=seclabel,
                profile=profile,
                reason=_REASONS.get(dec, dec.name.lower()),
                text=(
                    f"{d.name} made {n:,} {_hc_name(nr)}/{subop} calls in the last "
                    f"{minutes} min; {who} denies them"
                ),
            )
        )
    for idx, a, b in channel_pairs:
        was, will = now[idx] is EvalDecision.ALLOW, then[idx] is EvalDecision.ALLOW
        if was != will:
            result["channels"].append(WhatIfChannel(a=a.name, b=b.name, active=was, staged=will))
    for idx, bdf, d in device_pairs:
        was, will = now[idx] is EvalDecision.ALLOW, then[idx] is EvalDecision.ALLOW
        if was != will:
            result["devices"].append(
                WhatIfDevice(device=format_bdf(bdf), domain=d.name, active=was, staged=will)
            )
    result["denied_calls"].sort(key=lambda r: -r["calls"])
    result["denies_allowed"] = bool(
        result["denied_calls"]
        or result["domains"]
        or any(c["active"] for c in result["channels"])
        or any(x["active"] for x in result["devices"])
    )
    return result


def _labels(policy: Policy) -> dict[UUID, tuple[str | None, str | None]]:
    """Domain uuid -> (SecLabel name, profile name) in ``policy``."""
    sls = {s.id: s for s in policy.seclabels}
    profiles = {p.id: p.name for p in policy.profiles}
    out: dict[UUID, tuple[str | None, str | None]] = {}
    for d in policy.domains:
        sl = sls.get(d.seclabel) if d.seclabel else None
        out[d.id] = (sl.name, profiles.get(sl.profile)) if sl else (None, None)
    return out
