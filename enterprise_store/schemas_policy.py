"""The XE REST API's policy models (§4.2): shared by the routes (``api``) and the client.

Like :mod:`enterprise_store.schemas`: requests refuse unknown fields, resources ignore
them. References to other objects (a VM's enclave, SecLabel, host …) are a UUID or a
name; the service resolves them in what the caller may see. Colours are ``#rrggbb`` in
answers and ``#rrggbb`` or ``[r, g, b]`` in requests. A ``PATCH`` changes the fields it
names (``null`` clears a nullable field such as a VM's ``host`` or ``kernel``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, StrictBool, StringConstraints

from enterprise_store.schemas import FindingOut, Request, Resource, fields_model
from enterprise_store.schemas_compute import PropagationOut

__all__ = [
    "CheckOut",
    "ConflictCreate",
    "ConflictFields",
    "ConflictOut",
    "ConflictPatch",
    "CpuIn",
    "CpuOut",
    "DhcpCreate",
    "DhcpFields",
    "DhcpOut",
    "DhcpPatch",
    "DiskIn",
    "DiskOut",
    "DisksIn",
    "EnclaveCreate",
    "EnclaveFields",
    "EnclaveOut",
    "EnclavePatch",
    "ExtraIn",
    "HostFields",
    "HostOrder",
    "HostOut",
    "HostPatch",
    "NetworkIn",
    "NetworkOut",
    "PolicyVersionDiffOut",
    "PolicyVersionFields",
    "PolicyVersionOut",
    "ScopeDiffOut",
    "SecLabelCreate",
    "SecLabelFields",
    "SecLabelOut",
    "SecLabelPatch",
    "SwitchIn",
    "SwitchOut",
    "VersionOut",
    "VifIn",
    "VifModelName",
    "VifOut",
    "VifsIn",
    "VmCreate",
    "VmFields",
    "VmOut",
    "VmPatch",
    "WrittenOut",
    "changes",
]

T = TypeVar("T")

Uuid = Annotated[
    str,
    StringConstraints(
        pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    ),
]
Ref = Annotated[str, Field(min_length=1, max_length=255, description="UUID or name.")]
Name = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=4096)]
Short = Annotated[str, Field(max_length=255)]
Color = Annotated[
    str | list[Annotated[int, Field(ge=0, le=255)]],
    Field(description="#rrggbb or [red, green, blue]."),
]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
GuestTypeName = Literal["pv", "pvh", "pvhvm", "hvm"]
GuestOsName = Literal["linux", "windows"]
RoleName = Literal["none", "network_driver_domain", "storage_driver_domain", "security_domain"]
LevelName = Literal["no-coresidence", "no-communication"]


# -- results of writes ---------------------------------------------------------------------


class WrittenOut(Resource, Generic[T]):
    """A policy write: the object as stored, the version it made, the checker's warnings."""

    item: T
    version: int = Field(description="The policy version after the write.")
    warnings: list[FindingOut] = Field(default_factory=list)


class VersionOut(Resource):
    """A policy write without an object (delete, assignment)."""

    version: int
    warnings: list[FindingOut] = Field(default_factory=list)


class PolicyVersionOut(Resource):
    """One committed change of the policy."""

    version: int
    sha256: str = Field(description="Canonical SHA-256 of the whole policy at that version.")
    at: dt.datetime
    author: str
    action: str
    object: str
    enclaves: list[str] = Field(description="Enclave UUIDs concerned; empty: enterprise-wide.")
    summary: str


PolicyVersionFields = fields_model(PolicyVersionOut)


class ScopeDiffOut(Resource):
    """One part of the policy a version changed."""

    scope: str = Field(description="An enclave's UUID, or ``enterprise`` (hosts, profiles).")
    name: str = Field(description="The enclave's name (``enterprise`` for the enterprise part).")
    diff: str = Field(description="Unified diff, version before → this one; ≤ 2,000 lines.")


class PolicyVersionDiffOut(Resource):
    """What XE keeps of one version's change (``GET /policy/versions/{version}/diff``)."""

    version: int
    recorded: bool = Field(
        description="False for a version made before XE kept diffs (store migration 0010)."
    )
    reason: str | None = Field(
        default=None, description="Why ``diffs`` is empty when ``recorded`` is false."
    )
    diffs: list[ScopeDiffOut] = Field(
        description="The parts the caller may read: enterprise first, then enclaves by UUID."
    )


class CheckOut(Resource):
    """The consistency checker over the stored policy."""

    ok: bool = Field(description="No finding is an error.")
    version: int
    sha256: str
    findings: list[FindingOut]


# -- enclaves ------------------------------------------------------------------------------


class EnclaveOut(Resource):
    """An enclave (Figure 22): a tag with a 128-bit UUID, a name and a colour."""

    id: str
    name: str
    color: str
    hosts: list[str] = Field(description="UUIDs of the hosts it is assigned to, panel order.")
    requires_approval: bool = Field(
        default=False,
        description="A policy version changing it waits for a second admin's approval.",
    )


EnclaveFields = fields_model(EnclaveOut)


class EnclaveCreate(Request):
    """An enclave to create; ``id`` only to keep a tag's existing UUID."""

    id: Uuid | None = None
    name: Name
    color: Color | None = None


class EnclavePatch(Request):
    """Enclave fields to change; ``requires_approval`` (admins): true turns two-person
    approval of the enclave's policy versions on, false asks to turn it off (a second
    admin's false turns it off)."""

    name: Name | None = None
    color: Color | None = None
    requires_approval: bool | None = None


# -- hosts ---------------------------------------------------------------------------------


class CpuIn(Request):
    """CPU facts for migration (Figure 21)."""

    vendor: Annotated[str, Field(max_length=64)] = ""
    family: Int32 | None = None
    model: Int32 | None = None
    stepping: Int32 | None = None
    flags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=4096)


class CpuOut(Resource):
    """A host's CPU facts."""

    vendor: str
    family: int | None
    model: int | None
    stepping: int | None
    flags: list[str]


class SwitchIn(Request):
    """A network switch known on a host and the enclave it serves (null: none)."""

    name: Name
    enclave: Ref | None = None


class SwitchOut(Resource):
    """A network switch known on a host."""

    name: str
    enclave: str | None


class HostOut(Resource):
    """A host's policy part (a scoped caller sees only their enclaves' part)."""

    id: str
    name: str
    address: str
    port: int
    ro_port: int | None = Field(default=None, description="Its XPS's read-only port, if known.")
    order: int = Field(description="Position in the Hosts panel.")
    color: str
    cpu: CpuOut
    shared_storage: list[str]
    switches: list[SwitchOut]
    enclaves: list[str] = Field(description="UUIDs of the enclaves assigned to it.")
    propagation: PropagationOut | None = Field(
        default=None, description="Its propagation state: desired vs observed (Compute)."
    )


HostFields = fields_model(HostOut)


class HostPatch(Request):
    """Host fields to change: a field left out is unchanged; ``ro_port`` null clears it."""

    name: Name | None = None
    address: Short | None = None
    port: Int32 | None = None
    ro_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="XPS read-only port; null clears it (no read-only port known).",
    )
    order: Int32 | None = None
    color: Color | None = None
    cpu: CpuIn | None = None
    shared_storage: list[Short] | None = Field(default=None, max_length=4096)
    switches: list[SwitchIn] | None = Field(default=None, max_length=4096)


class HostOrder(Request):
    """Every host, UUID or name, in the new panel order."""

    hosts: list[Ref] = Field(min_length=1, max_length=100_000)


# -- SecLabels -----------------------------------------------------------------------------


class SecLabelOut(Resource):
    """A SecLabel (Figure 25)."""

    id: str
    name: str
    enclave: str
    profile: str
    profile_name: str | None
    max_rate: int
    max_violations: int
    role: str


SecLabelFields = fields_model(SecLabelOut)


class SecLabelCreate(Request):
    """A SecLabel to create."""

    id: Uuid | None = None
    name: Name
    enclave: Ref
    profile: Ref
    max_rate: Int32 | None = Field(default=None, description="Hypercalls per ms, 1..65535.")
    max_violations: Count | None = None
    role: RoleName | None = None


class SecLabelPatch(Request):
    """SecLabel fields to change."""

    name: Name | None = None
    enclave: Ref | None = None
    profile: Ref | None = None
    max_rate: Int32 | None = None
    max_violations: Count | None = None
    role: RoleName | None = None


# -- VMs -----------------------------------------------------------------------------------


class NetworkIn(Request):
    """Network restrictions of a VM (Figure 28)."""

    allow_network: bool = True
    switches: list[Name] = Field(default_factory=list, max_length=4096)
    max_vifs: Count | None = None


class NetworkOut(Resource):
    """A VM's network restrictions."""

    allow_network: bool
    switches: list[str]
    max_vifs: int | None


ExtraPair = Annotated[list[Text], Field(min_length=2, max_length=2)]


class ExtraIn(Request):
    """Extra xl options, in order (§4.3.4)."""

    extra: list[ExtraPair] = Field(max_length=4096)


VifModelName = Literal["e1000", "rtl8139", "virtio-net"]
"""The NICs an HVM guest's VIF may emulate (xl ``model=``)."""


class VifIn(Request):
    """A VIF of a VM (Figure 28's VIFs tab): the host's switch (bridge) it attaches to,
    its MAC (none: derived from the VM's id), IP address and, for an HVM guest, the NIC
    it emulates (none: e1000; guests with PV drivers ignore it)."""

    bridge: Text
    mac: Text | None = None
    ip: Text | None = None
    model: VifModelName | None = None


class DiskIn(Request):
    """A disk of a VM (Figure 28's Disks tab): ``/path``, ``file:/path`` or
    ``phy:/dev/…``; vdev ``xvd[a-z]``/``hd[a-z]``; mode ``r`` or ``w``; ``cdrom``: the
    guest sees a CD-ROM drive (an ISO image), which is read-only."""

    target: Text
    vdev: Text
    mode: Text | None = Field(default=None, description="r or w (default: w, a CD-ROM r).")
    format: Text = "raw"
    cdrom: StrictBool = False


class VifsIn(Request):
    """A VM's VIFs, in order (replacing what it had; [] removes them)."""

    vifs: list[VifIn] = Field(max_length=64)


class DisksIn(Request):
    """A VM's disks, in order (replacing what it had; [] removes them)."""

    disks: list[DiskIn] = Field(max_length=64)


class VifOut(Resource):
    """A VIF XE gives a VM."""

    bridge: str
    mac: str | None
    ip: str | None
    model: str | None = None


class DiskOut(Resource):
    """A disk XE gives a VM."""

    target: str
    vdev: str
    mode: str
    format: str
    cdrom: bool = False


class VmOut(Resource):
    """A VM: every field of Figure 26."""

    id: str
    name: str
    enclave: str
    seclabel: str | None
    guest_type: str
    os: str
    kernel: str | None
    ramdisk: str | None
    cmdline: str | None
    bootloader: str | None
    memory_mb: int
    maxmem_mb: int
    vcpus: int
    maxvcpus: int
    host: str | None = Field(description="The host it is pinned to (null: default rule).")
    placed_on: str | None = Field(description="The host it is placed on now.")
    run: bool
    network: NetworkOut
    extra: list[list[str]]
    vifs: list[VifOut] = Field(default_factory=list)
    disks: list[DiskOut] = Field(default_factory=list)


VmFields = fields_model(VmOut)


class VmCreate(Request):
    """A VM to create; without ``host`` it goes to the first host in panel order that
    carries its enclave (shown in the answer)."""

    id: Uuid | None = None
    name: Name
    enclave: Ref
    seclabel: Ref | None = None
    guest_type: GuestTypeName
    os: GuestOsName | None = None
    kernel: Text | None = None
    ramdisk: Text | None = None
    cmdline: Text | None = None
    bootloader: Text | None = None
    memory_mb: Count | None = None
    maxmem_mb: Count | None = None
    vcpus: Count | None = None
    maxvcpus: Count | None = None
    host: Ref | None = None
    run: bool | None = None
    network: NetworkIn | None = None
    extra: list[ExtraPair] | None = Field(default=None, max_length=4096)


class VmPatch(Request):
    """VM fields to change."""

    name: Name | None = None
    enclave: Ref | None = None
    seclabel: Ref | None = None
    guest_type: GuestTypeName | None = None
    os: GuestOsName | None = None
    kernel: Text | None = None
    ramdisk: Text | None = None
    cmdline: Text | None = None
    bootloader: Text | None = None
    memory_mb: Count | None = None
    maxmem_mb: Count | None = None
    vcpus: Count | None = None
    maxvcpus: Count | None = None
    host: Ref | None = None
    run: bool | None = None
    network: NetworkIn | None = None
    extra: list[ExtraPair] | None = Field(default=None, max_length=4096)


# -- conflict sets and DHCP servers --------------------------------------------------------


class ConflictOut(Resource):
    """An enterprise conflict set."""

    id: str
    name: str
    level: str
    enclaves: list[str]


ConflictFields = fields_model(ConflictOut)


class ConflictCreate(Request):
    """A conflict set to create."""

    id: Uuid | None = None
    name: Name
    level: LevelName
    enclaves: list[Ref] = Field(min_length=1, max_length=1024)


class ConflictPatch(Request):
    """Conflict set fields to change."""

    name: Name | None = None
    level: LevelName | None = None
    enclaves: list[Ref] | None = Field(default=None, min_length=1, max_length=1024)


class DhcpOut(Resource):
    """A remote DHCP server of an enclave (§4.3.2)."""

    id: str
    name: str
    enclave: str
    interface: str


DhcpFields = fields_model(DhcpOut)


class DhcpCreate(Request):
    """A DHCP server to create."""

    id: Uuid | None = None
    name: Name
    enclave: Ref
    interface: Annotated[str, Field(min_length=1, max_length=64)]


class DhcpPatch(Request):
    """DHCP server fields to change."""

    name: Name | None = None
    enclave: Ref | None = None
    interface: Annotated[str, Field(min_length=1, max_length=64)] | None = None


def changes(body: Request) -> dict[str, Any]:
    """The fields a request body set, as plain values (what the service takes)."""
    given = body.model_fields_set
    return {
        name: _plain(getattr(body, name))
        for name in type(body).model_fields
        if name in given and name != "id"
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Request):
        return value.model_dump()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
