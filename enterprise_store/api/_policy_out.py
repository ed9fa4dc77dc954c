"""The Policy service's frozen dataclasses as the API's policy models."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from typing import Any

from enterprise_store.api._errors import finding_json
from enterprise_store.model import (
    ConflictSet,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    SecLabel,
    Vm,
)
from enterprise_store.schemas import FindingOut
from enterprise_store.schemas_policy import (
    ConflictOut,
    CpuOut,
    DhcpOut,
    DiskOut,
    EnclaveOut,
    HostOut,
    NetworkOut,
    PolicyVersionOut,
    SecLabelOut,
    SwitchOut,
    VersionOut,
    VifOut,
    VmOut,
)
from enterprise_store.services import PolicyVersion, Principal, Services, Written

__all__ = [
    "conflict_out",
    "dhcp_out",
    "enclave_out",
    "enclave_out_for",
    "findings_out",
    "host_out",
    "seclabel_out",
    "version_out",
    "vm_out",
    "written_version",
]


def _hex(rgb: Iterable[int]) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def findings_out(findings: Iterable[Any]) -> list[FindingOut]:
    """Checker findings as the API shows them."""
    return [FindingOut.model_validate(finding_json(f)) for f in findings]


def written_version(written: Written[Any]) -> VersionOut:
    """A write without an object: its version and warnings."""
    return VersionOut(version=written.version, warnings=findings_out(written.warnings))


def enclave_out(
    e: Enclave, view: EnterprisePolicy, flagged: Collection[str] = frozenset()
) -> EnclaveOut:
    """An enclave with the hosts it spans (``flagged``: ids of enclaves that require a
    second admin's approval)."""
    return EnclaveOut(
        id=str(e.id),
        name=e.name,
        color=_hex(e.color),
        hosts=[str(h.id) for h in view.hosts_of(e.id)],
        requires_approval=str(e.id) in flagged,
    )


async def enclave_out_for(
    services: Services, caller: Principal
) -> Callable[[Enclave, EnterprisePolicy], EnclaveOut]:
    """:func:`enclave_out` with the enclaves requiring approval that ``caller`` sees."""
    flags = await services.policy.approval_flags(caller)
    return functools.partial(enclave_out, flagged=frozenset(f.enclave_id for f in flags))


def host_out(h: Host, view: EnterprisePolicy) -> HostOut:
    """A host with the enclaves assigned to it."""
    return HostOut(
        id=str(h.id),
        name=h.name,
        address=h.address,
        port=h.port,
        ro_port=h.ro_port,
        order=h.order,
        color=_hex(h.color),
        cpu=CpuOut(
            vendor=h.cpu.vendor,
            family=h.cpu.family,
            model=h.cpu.model,
            stepping=h.cpu.stepping,
            flags=sorted(h.cpu.flags),
        ),
        shared_storage=list(h.shared_storage),
        switches=[
            SwitchOut(name=s.name, enclave=None if s.enclave is None else str(s.enclave))
            for s in h.switches
        ],
        enclaves=sorted(str(e) for e in view.enclave_ids_of(h.id)),
    )


def seclabel_out(s: SecLabel, view: EnterprisePolicy) -> SecLabelOut:
    """A SecLabel with its profile's name."""
    profile = view.ids("profiles").get(s.profile)
    return SecLabelOut(
        id=str(s.id),
        name=s.name,
        enclave=str(s.enclave),
        profile=str(s.profile),
        profile_name=None if profile is None else profile.name,
        max_rate=s.max_rate,
        max_violations=s.max_violations,
        role=s.role.value,
    )


def vm_out(v: Vm, view: EnterprisePolicy) -> VmOut:
    """A VM with the host it is placed on."""
    placed = view.host_of(v)
    return VmOut(
        id=str(v.id),
        name=v.name,
        enclave=str(v.enclave),
        seclabel=None if v.seclabel is None else str(v.seclabel),
        guest_type=v.guest_type.value,
        os=v.os.value,
        kernel=v.kernel,
        ramdisk=v.ramdisk,
        cmdline=v.cmdline,
        bootloader=v.bootloader,
        memory_mb=v.memory_mb,
        maxmem_mb=v.maxmem_mb,
        vcpus=v.vcpus,
        maxvcpus=v.maxvcpus,
        host=None if v.host is None else str(v.host),
        placed_on=None if placed is None else str(placed.id),
        run=v.run,
        network=NetworkOut(
            allow_network=v.network.allow_network,
            switches=list(v.network.switches),
            max_vifs=v.network.max_vifs,
        ),
        extra=[[k, val] for k, val in v.extra],
        vifs=[VifOut(bridge=f.bridge, mac=f.mac, ip=f.ip, model=f.model) for f in v.vifs],
        disks=[
            DiskOut(target=d.target, vdev=d.vdev, mode=d.mode, format=d.format, cdrom=d.cdrom)
            for d in v.disks
        ],
    )


def conflict_out(c: ConflictSet, view: EnterprisePolicy) -> ConflictOut:
    """A conflict set."""
    return ConflictOut(
        id=str(c.id), name=c.name, level=c.level.value, enclaves=[str(e) for e in c.enclaves]
    )


def dhcp_out(d: DhcpServer, view: EnterprisePolicy) -> DhcpOut:
    """A DHCP server."""
    return DhcpOut(id=str(d.id), name=d.name, enclave=str(d.enclave), interface=d.interface)


def version_out(v: PolicyVersion) -> PolicyVersionOut:
    """A committed version."""
    return PolicyVersionOut(
        version=v.version,
        sha256=v.sha256,
        at=v.at,
        author=v.author,
        action=v.action,
        object=v.object,
        enclaves=list(v.enclaves),
        summary=v.summary,
    )
