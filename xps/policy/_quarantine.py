"""Quarantine of a domain (issue #14 §2): rebind it to its tag's quarantine SecLabel.

A quarantined domain keeps its tag (so no conflict set, VIF, disk or device rule sees a
different enclave: the MSM re-admits it under the Chinese Wall exactly as before) but
its SecLabel becomes ``<tag>-quarantine``, whose profile :data:`QUARANTINE_PROFILE`
allows only what a domain needs to stay alive while it is paused or idle:

- ``sched_op`` yield, block, shutdown and shutdown_code: a vCPU with nothing to do must
  yield or block, and the guest may still shut itself down cleanly;
- ``set_timer_op``: a blocked vCPU wakes on its timer (else it blocks forever).

Nothing else: no ``event_channel_op`` or ``grant_table_op`` (so it can open no
inter-domain channel and share no page: every attempt is a violation), no
``physdev_op`` (its devices are unusable), no ``memory_op`` (no ballooning), no
``console_io``. Its rate limit is low (:data:`QUARANTINE_RATE` per ms) and it keeps the
maximum violations of its previous SecLabel, so a quarantined guest that is resumed
and keeps calling is stopped by the MSM. The label keeps the previous label's guest
role (a driver domain must keep its role: rule XP028), so there is one quarantine
label per tag and role; it is created on first use, shared by the tag's quarantined
domains, and goes with the last of them (see :func:`unquarantined`).

The MSM's channel rule (interface 1.3, docs/msm.md) is by tag and by label: a channel
needs ``event_channel_op`` in both ends' profiles, so no peer of the same tag (nor dom0)
can be given a channel to a quarantined domain. On a real Xen hypervisor whose MSM is
older than 1.3 the rule is by tag only (see ``msm_check_channel`` in msm.h).

Activating the returned policy is one MSM transaction: the MSM rebinds a running
domain to the SecLabel its binding names at commit (``msm_txn_commit``: "running
domains pick up their new SecLabel at once"), so no new C entry point is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from ._errors import PolicyLookupError
from ._model import GuestRole, HypercallProfile, Policy, SecLabel, Vif, VifModel
from ._profiles import hypercall_number, stable_uuid, subop_number

__all__ = [
    "QUARANTINE_PROFILE",
    "QUARANTINE_RATE",
    "quarantine_label_name",
    "quarantine_profile",
    "quarantined",
    "quarantined_domains",
    "unquarantined",
    "vifs_attached",
    "vifs_detached",
]

QUARANTINE_PROFILE = "Quarantine-Minimal"
QUARANTINE_RATE = 10
"""Hypercalls per millisecond a quarantined domain may make."""
_SUFFIX = "-quarantine"
_NAME_MAX = 63
_QUARANTINE_NAMES = (
    _SUFFIX,
    *(f"{_SUFFIX}-{r.value}" for r in GuestRole if r is not GuestRole.NONE),
)


def quarantine_profile() -> HypercallProfile:
    """The minimal profile of a quarantined domain (see the module doc)."""
    sched = hypercall_number("sched_op")
    idle = ("yield", "block", "shutdown", "shutdown_code")
    return HypercallProfile(
        id=stable_uuid("profile", QUARANTINE_PROFILE),
        name=QUARANTINE_PROFILE,
        hypercalls=frozenset({sched, hypercall_number("set_timer_op")}),
        subops=(
            (
                sched,
                frozenset(subop_number(sched, op) for op in idle),
            ),
        ),
        description="Quarantine: stay alive paused or idle; no channels, devices or memory ops.",
    )


def quarantine_label_name(tag_name: str, role: GuestRole = GuestRole.NONE) -> str:
    """``<tag>-quarantine`` (``-<role>`` appended for a service domain's role), cut so
    that it fits the MSM's 63 bytes."""
    suffix = _SUFFIX if role is GuestRole.NONE else f"{_SUFFIX}-{role.value}"
    room = _NAME_MAX - len(suffix.encode())
    head = tag_name.encode()[:room].decode("utf-8", "ignore")
    return head + suffix


def _domain(policy: Policy, name: str) -> tuple[int, SecLabel]:
    for i, d in enumerate(policy.domains):
        if d.name == name:
            label = next((s for s in policy.seclabels if s.id == d.seclabel), None)
            if label is None:
                raise PolicyLookupError(f"domain {name!r} has no SecLabel in the policy")
            return i, label
    raise PolicyLookupError(f"no domain {name!r} in the policy")


def quarantined(policy: Policy, domain: str) -> tuple[Policy, SecLabel, SecLabel]:
    """The policy with ``domain`` bound to its tag's quarantine SecLabel (created, with
    :func:`quarantine_profile`, when the policy has none yet).

    Returns:
        The new policy, the domain's SecLabel before and its quarantine SecLabel.

    Raises:
        PolicyLookupError: No such domain, it has no SecLabel, its tag is unknown, it
            is quarantined already, or a different object has the quarantine names.
    """
    index, before = _domain(policy, domain)
    tag = next((t for t in policy.tags if t.id == before.tag), None)
    if tag is None:
        raise PolicyLookupError(f"the SecLabel {before.name!r} names an unknown tag")
    profile = next((p for p in policy.profiles if p.name == QUARANTINE_PROFILE), None)
    wanted = quarantine_profile()
    profiles = policy.profiles
    if profile is None:
        if any(p.id == wanted.id for p in profiles):
            raise PolicyLookupError(f"another profile has the id of {QUARANTINE_PROFILE!r}")
        profiles = (*profiles, wanted)
        profile = wanted
    elif profile.hypercalls != wanted.hypercalls or profile.subop_map() != wanted.subop_map():
        raise PolicyLookupError(
            f"the profile {QUARANTINE_PROFILE!r} was changed: it is no longer minimal"
        )
    name = quarantine_label_name(tag.name, before.role)
    label = next((s for s in policy.seclabels if s.name == name), None)
    seclabels = policy.seclabels
    if label is None:
        label = SecLabel(
            id=stable_uuid("seclabel", f"{tag.id}{_SUFFIX}-{before.role.value}"),
            name=name,
            profile=profile.id,
            tag=tag.id,
            role=before.role,
            max_rate=QUARANTINE_RATE,
            max_violations=before.max_violations,
        )
        if any(s.id == label.id for s in seclabels):
            raise PolicyLookupError(f"another SecLabel has the id of {name!r}")
        seclabels = (*seclabels, label)
    elif label.tag != tag.id or label.profile != profile.id or label.role is not before.role:
        raise PolicyLookupError(f"the SecLabel {name!r} is not {tag.name!r}'s quarantine label")
    if before.id == label.id:
        raise PolicyLookupError(f"{domain} is quarantined already ({name})")
    return _rebound(policy, index, label.id, profiles, seclabels), before, label


def unquarantined(policy: Policy, domain: str, label: UUID) -> tuple[Policy, SecLabel]:
    """The policy with ``domain`` bound again to the SecLabel ``label`` (the one it had
    before its quarantine). A quarantine SecLabel no domain is bound to any more goes,
    and the quarantine profile with the last of them: after the last quarantine of a
    policy is undone it is the policy it was before (the same document, the same hash).

    Raises:
        PolicyLookupError: No such domain or SecLabel.
    """
    index, _ = _domain(policy, domain)
    back = next((s for s in policy.seclabels if s.id == label), None)
    if back is None:
        raise PolicyLookupError(f"the SecLabel {label} is no longer in the policy")
    was = policy.domains[index].seclabel
    bound = {d.seclabel for i, d in enumerate(policy.domains) if i != index} | {back.id}
    seclabels = tuple(
        s
        for s in policy.seclabels
        if not (s.id == was and s.id not in bound and s.name.endswith(_QUARANTINE_NAMES))
    )
    profiles = policy.profiles
    if not any(
        s.profile == p.id for s in seclabels for p in profiles if p.name == QUARANTINE_PROFILE
    ):
        profiles = tuple(p for p in profiles if p.name != QUARANTINE_PROFILE)
    return _rebound(policy, index, back.id, profiles, seclabels), back


def quarantined_domains(policy: Policy) -> list[str]:
    """The names of the domains bound to a quarantine SecLabel (one of the quarantine
    names, with the :data:`QUARANTINE_PROFILE` profile), in the policy's order."""
    profiles = {p.id for p in policy.profiles if p.name == QUARANTINE_PROFILE}
    labels = {
        s.id
        for s in policy.seclabels
        if s.profile in profiles and s.name.endswith(_QUARANTINE_NAMES)
    }
    return [d.name for d in policy.domains if d.seclabel in labels]


def _rebound(
    policy: Policy,
    index: int,
    label: UUID,
    profiles: tuple[HypercallProfile, ...],
    seclabels: tuple[SecLabel, ...],
) -> Policy:
    domains = list(policy.domains)
    domains[index] = dataclasses.replace(domains[index], seclabel=label)
    return dataclasses.replace(
        policy, profiles=profiles, seclabels=seclabels, domains=tuple(domains)
    )


# -- the other form: detach the domain's VIFs ---------------------------------------------


def _vif_dict(policy: Policy, vif: Vif) -> dict[str, Any]:
    switch = next((s for s in policy.switches if s.id == vif.switch), None)
    return {
        "mac": vif.mac,
        "switch": str(vif.switch),
        "switch_name": switch.name if switch is not None else None,
        "ip": vif.ip,
        "model": vif.model.value if vif.model is not None else None,
    }


def vifs_detached(policy: Policy, domain: str) -> tuple[Policy, list[dict[str, Any]]]:
    """The policy without ``domain``'s VIFs (the other form of quarantine: the domain
    keeps its SecLabel but has no network interface), and the VIFs removed, each as
    ``{mac, switch, switch_name, ip, model}`` (what :func:`vifs_attached` needs back).

    Raises:
        PolicyLookupError: No such domain, or it has no VIF.
    """
    config = next((d for d in policy.domains if d.name == domain), None)
    if config is None:
        raise PolicyLookupError(f"no domain {domain!r} in the policy")
    mine = policy.vifs_of(config.id)
    if not mine:
        raise PolicyLookupError(f"{domain} has no VIF to detach")
    kept = tuple(v for v in policy.vifs if v.domain != config.id)
    return dataclasses.replace(policy, vifs=kept), [_vif_dict(policy, v) for v in mine]


def vifs_attached(
    policy: Policy, domain: str, vifs: Sequence[Mapping[str, Any]]
) -> tuple[Policy, list[dict[str, Any]]]:
    """The policy with ``vifs`` (as :func:`vifs_detached` returned them) attached to
    ``domain`` again, exactly as they were; and those of them it did not have (a VIF
    the policy already gives the domain with the same MAC, switch and IP is left).

    Raises:
        PolicyLookupError: No such domain; a VIF's switch is gone; its MAC is now
            another domain's (or the domain's on another switch or IP); its IP is now
            another VIF's on that switch.
    """
    config = next((d for d in policy.domains if d.name == domain), None)
    if config is None:
        raise PolicyLookupError(f"no domain {domain!r} in the policy")
    switches = {s.id: s.name for s in policy.switches}
    owners = {d.id: d.name for d in policy.domains}
    added: list[dict[str, Any]] = []
    for item in vifs:
        try:
            mac = str(item["mac"]).lower()
            switch = UUID(str(item["switch"]))
            ip = item.get("ip")
            model = VifModel(item["model"]) if item.get("model") else None
        except (KeyError, ValueError) as exc:
            raise PolicyLookupError(f"a detached VIF of {domain} is unreadable: {exc}") from exc
        where = item.get("switch_name") or str(switch)
        if switch not in switches:
            raise PolicyLookupError(f"VIF {mac}: its switch {where} is no longer in the policy")
        same = next((v for v in policy.vifs if v.mac == mac), None)
        if same is not None:
            if same.domain == config.id and same.switch == switch and same.ip == ip:
                continue  # attached already (a policy activated meanwhile has it)
            who = owners.get(same.domain, str(same.domain))
            raise PolicyLookupError(
                f"MAC {mac} is now used by {who}'s VIF on {switches.get(same.switch, same.switch)}"
            )
        if ip:
            taken = next((v for v in policy.vifs if v.ip == ip and v.switch == switch), None)
            if taken is not None:
                who = owners.get(taken.domain, str(taken.domain))
                raise PolicyLookupError(f"IP {ip} on {where} is now used by {who} ({taken.mac})")
        policy = policy.with_vif(Vif(config.id, switch, mac, ip, model))
        added.append(dict(item))
    return policy, added
