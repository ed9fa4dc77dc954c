"""The policy side of a migration precheck: every reason a host cannot take a VM (§4.2.1, §4.4)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from uuid import UUID

from xps.policy import ConflictLevel, Severity

from ..model import EnterprisePolicy, Host, Vm
from ._findings import Finding

__all__ = ["check_migration", "migration_targets"]


def _finding(code: str, objs: list[Any], text: str, field: str | None, hint: str = "") -> Finding:
    first = objs[0]
    kind = "vm" if isinstance(first, Vm) else "host"
    return Finding(
        code,
        Severity.ERROR,
        f"{kind} {first.name!r} ({first.id}): {text}",
        tuple(o.name for o in objs),
        tuple(o.id for o in objs),
        kind,
        field,
        hint,
    )


def check_migration(
    policy: EnterprisePolicy,
    vm_id: UUID,
    target_id: UUID,
    *,
    running: Mapping[UUID, Collection[UUID]] | None = None,
) -> list[Finding]:
    """Lists every policy reason why a VM may not migrate to a host (empty: it may).

    Checked at once: the target carries the VM's enclave; both hosts' CPU facts are
    known, with the same vendor and the source's flags a subset of the target's; the
    two hosts share a storage declared shared; the target knows a switch of the VM's
    enclave; no VM running on the target is of an enclave that a no-coresidence set
    keeps apart from the VM's (the MSM's Chinese Wall would refuse the VM there).
    The caller's role is the service's to check.

    Args:
        policy: The snapshot.
        vm_id: The VM to move.
        target_id: The host to move it to.
        running: Host id -> ids of the VMs running there now (from the hosts' live
            state); by default the VMs placed on the target and meant to run.
    """
    vm = policy.ids("vms").get(vm_id)
    target = policy.ids("hosts").get(target_id)
    if vm is None or target is None:
        what = f"VM {vm_id}" if vm is None else f"host {target_id}"
        return [
            Finding(
                "XE-MIG-UNKNOWN",
                Severity.ERROR,
                f"{what} does not exist",
                (str(vm_id if vm is None else target_id),),
                (vm_id if vm is None else target_id,),
                "vm" if vm is None else "host",
            )
        ]
    source = policy.host_of(vm)
    if source is None:
        text = "is placed on no host, so there is nothing to migrate"
        return [_finding("XE-MIG-UNKNOWN", [vm], text, "host")]
    if source.id == target.id:
        text = f"already resides on {target.name!r}"
        return [_finding("XE-MIG-SAME-HOST", [vm, target], text, "host")]
    out: list[Finding] = []
    enclave = policy.ids("enclaves").get(vm.enclave)
    enclave_name = enclave.name if enclave is not None else str(vm.enclave)
    if not policy.carries(target.id, vm.enclave):
        out.append(
            _finding(
                "XE-MIG-ENCLAVE",
                [vm, target],
                f"target {target.name!r} does not carry the VM's enclave {enclave_name!r}",
                "host",
                f"assign {enclave_name} to {target.name} first",
            )
        )
    out += _cpu(vm, source, target)
    if not set(source.shared_storage) & set(target.shared_storage):
        out.append(
            _finding(
                "XE-MIG-STORAGE",
                [vm, source, target],
                f"{source.name!r} and {target.name!r} share no storage declared shared",
                "shared_storage",
                "declare the VM's storage shared on both hosts",
            )
        )
    if not any(s.enclave == vm.enclave for s in target.switches):
        out.append(
            _finding(
                "XE-MIG-SWITCH",
                [vm, target],
                f"target {target.name!r} has no network switch of enclave {enclave_name!r}",
                "switches",
                f"add a switch for {enclave_name} on {target.name} (XPS editor mode)",
            )
        )
    out += _conflicts(policy, vm, target, running)
    return out


def _cpu(vm: Vm, source: Host, target: Host) -> list[Finding]:
    unknown = [h for h in (source, target) if not h.cpu.known]
    if unknown:
        names = " and ".join(repr(h.name) for h in unknown)
        return [
            _finding(
                "XE-MIG-CPU-UNKNOWN",
                [vm, *unknown],
                f"the CPU facts of {names} are unknown",
                "cpu",
                "supply the CPU vendor, family, stepping and flags (Add host…)",
            )
        ]
    if source.cpu.vendor != target.cpu.vendor:
        text = (
            f"CPU vendor {target.cpu.vendor!r} of {target.name!r} differs from "
            f"{source.cpu.vendor!r} of {source.name!r}"
        )
        return [_finding("XE-MIG-CPU-VENDOR", [vm, source, target], text, "cpu")]
    missing = sorted(source.cpu.flags - target.cpu.flags)
    if missing:
        more = f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
        shown = " ".join(missing[:10]) + more
        text = f"target {target.name!r} lacks CPU flags of {source.name!r}: {shown}"
        return [_finding("XE-MIG-CPU-FLAGS", [vm, source, target], text, "cpu")]
    return []


def _conflicts(
    policy: EnterprisePolicy,
    vm: Vm,
    target: Host,
    running: Mapping[UUID, Collection[UUID]] | None,
) -> list[Finding]:
    apart: set[UUID] = set()
    for c in policy.conflicts:
        if c.level is ConflictLevel.NO_CORESIDENCE and vm.enclave in c.enclaves:
            apart |= set(c.enclaves) - {vm.enclave}
    if not apart:
        return []
    if running is None:
        there = [v for v in policy.vms_on(target.id) if v.run]
    else:
        vms = policy.ids("vms")
        there = [vms[i] for i in sorted(running.get(target.id, ()), key=str) if i in vms]
    clash = [v for v in there if v.enclave in apart and v.id != vm.id]
    if not clash:
        return []
    names = ", ".join(repr(v.name) for v in clash[:5])
    more = f" (+{len(clash) - 5} more)" if len(clash) > 5 else ""
    return [
        _finding(
            "XE-MIG-CONFLICT",
            [vm, target, *clash[:5]],
            f"on {target.name!r} {names}{more} run in an enclave a no-coresidence set "
            "keeps apart from the VM's",
            "host",
            "stop them first, or choose another host",
        )
    ]


def migration_targets(
    policy: EnterprisePolicy,
    vm_id: UUID,
    *,
    running: Mapping[UUID, Collection[UUID]] | None = None,
) -> list[tuple[Host, list[Finding]]]:
    """Every other host in panel order with the reasons it may not take the VM (empty: allowed)."""
    vm = policy.ids("vms").get(vm_id)
    source = None if vm is None else policy.host_of(vm)
    return [
        (host, check_migration(policy, vm_id, host.id, running=running))
        for host in policy.hosts
        if source is None or host.id != source.id
    ]
