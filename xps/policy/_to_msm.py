"""Translation of a policy into the MSM objects of one transaction (xps.msm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._errors import PolicyValidationError
from ._model import ConflictLevel, DomainConfig, GuestRole, Policy, bdf_to_int
from ._profiles import SUBOP_HYPERCALLS
from ._validate import describe

if TYPE_CHECKING:
    from xps import msm

__all__ = ["to_msm_domain", "to_msm_objects"]

_LEVELS = {
    ConflictLevel.NO_CORESIDENCE: "NO_CORESIDENCE",
    ConflictLevel.NO_COMMUNICATION: "NO_COMMUNICATION",
}
_ROLES = {
    GuestRole.NONE: "NONE",
    GuestRole.NETWORK_DRIVER_DOMAIN: "NETWORK_DRIVER",
    GuestRole.STORAGE_DRIVER_DOMAIN: "STORAGE_DRIVER",
    GuestRole.SECURITY_DOMAIN: "SECURITY",
}


def to_msm_objects(policy: Policy) -> list[msm.PolicyObject]:
    """Returns the MSM objects that enforce ``policy``, in dependency order.

    Profiles, tags, conflict sets, SecLabels, one Binding per domain that has a
    SecLabel, and one Device per tagged PCI device. Stage them all in one
    transaction (``Msm.apply(objects)``) so the switch is atomic. Sub-op sets of
    hypercalls without sub-commands are dropped (MSM ignores them; validation
    warns, XP027). Host configuration (switches, storage, VIFs) has no MSM form.

    Raises:
        PolicyValidationError: An object is outside MSM's limits (name longer
            than 63 bytes, hypercall >= 64, bad BDF…); ``code`` is
            ``"policy.msm"`` and the cause is chained.
    """
    from xps import msm  # the native build is needed here only, not to import xps.policy

    out: list[msm.PolicyObject] = []
    where = "policy"
    try:
        for p in policy.profiles:
            where = describe("profile", p.name, p.id)
            subops = {nr: ops for nr, ops in p.subops if nr in SUBOP_HYPERCALLS}
            out.append(msm.HypercallProfile(p.id, p.name, p.hypercalls, subops))
        for t in policy.tags:
            where = describe("tag", t.name, t.id)
            out.append(msm.Tag(t.id, t.name))
        for c in policy.conflicts:
            where = describe("conflict", c.name, c.id)
            level = msm.ConflictLevel[_LEVELS[c.level]]
            out.append(msm.ConflictSet(c.id, c.name, level, c.tags))
        for s in policy.seclabels:
            where = describe("seclabel", s.name, s.id)
            role = msm.Role[_ROLES[s.role]]
            out.append(
                msm.SecLabel(s.id, s.name, s.profile, s.tag, role, s.max_rate, s.max_violations)
            )
        for d in policy.domains:
            if d.seclabel is not None:
                where = describe("domain", d.name, d.id)
                out.append(msm.Binding(d.id, d.seclabel))
        for dev in policy.hardware.pci:
            if dev.tag is not None:
                where = describe("pci", dev.bdf)
                out.append(msm.Device(bdf_to_int(dev.bdf), dev.tag))
    except (msm.MsmError, ValueError) as exc:
        error = PolicyValidationError(f"{where} cannot be loaded into MSM: {exc}")
        error.code = "policy.msm"
        raise error from exc
    return out


def to_msm_domain(
    domain: DomainConfig, *, load_permille: int = 500, paused: bool = False
) -> msm.DomainConfig:
    """Returns the sim backend's create-domain configuration for a policy domain.

    Raises:
        PolicyValidationError: The domain is outside MSM's limits (``policy.msm``).
    """
    from xps import msm

    try:
        return msm.DomainConfig(
            uuid=domain.id,
            name=domain.name,
            guest_type=msm.GuestType[domain.guest_type.name],
            os=msm.GuestOS[domain.os.name],
            mem_kb=domain.memory_mb * 1024,
            maxmem_kb=domain.maxmem_mb * 1024,
            vcpus=domain.vcpus,
            max_vcpus=domain.maxvcpus,
            load_permille=load_permille,
            paused=paused,
        )
    except msm.MsmError as exc:
        where = describe("domain", domain.name, domain.id)
        error = PolicyValidationError(f"{where} cannot be created: {exc}")
        error.code = "policy.msm"
        raise error from exc
