"""The policy part of the XE REST client: ``xe.policy.create_vm(...)`` and friends.

References (``ref``, an enclave of a VM …) are UUIDs or names, as the API takes them; a
name is sent percent-encoded in the path (a name holding ``/`` must be given by UUID).
Writes return ``WrittenOut`` (the object, the version it made, the checker's warnings) or
``VersionOut``; a refused write raises :class:`~enterprise_store.PolicyRefused` whose
``findings`` carry code, objects and hint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from enterprise_store.schemas import Page
from enterprise_store.schemas_approval import ApprovalOut, ApprovalsOut
from enterprise_store.schemas_policy import (
    CheckOut,
    ConflictOut,
    DhcpOut,
    EnclaveOut,
    HostFields,
    HostOut,
    PolicyVersionDiffOut,
    PolicyVersionOut,
    SecLabelOut,
    VersionOut,
    VmOut,
    WrittenOut,
)
from enterprise_store.schemas_whatif import WhatIfOut

if TYPE_CHECKING:
    from enterprise_store.client._client import XeClient

__all__ = ["PolicyClient"]

_DECISION = TypeAdapter(list[ApprovalOut])

M = TypeVar("M", bound=BaseModel)
_PREFIX = "/api/v1"
Format = Literal["tree", "xml", "text", "json"]


def _ref(value: str) -> str:
    return quote(str(value), safe="")


class PolicyClient:
    """The policy endpoints of one :class:`XeClient` (``xe.policy``)."""

    def __init__(self, xe: XeClient) -> None:
        self._xe = xe

    async def _get(self, path: str, model: type[M], **params: Any) -> M:
        response = await self._xe._request("GET", path, params=params)
        return model.model_validate_json(response.content)

    async def _send(self, method: str, path: str, model: type[M], body: Any = None) -> M:
        response = await self._xe._request(method, path, json=body)
        return model.model_validate_json(response.content)

    async def _iter(
        self, lister: Callable[..., Any], filters: dict[str, Any]
    ) -> AsyncIterator[Any]:
        cursor = None
        while True:
            page = await lister(cursor=cursor, **filters)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # -- the policy ------------------------------------------------------------------------

    async def render(self, format: Format = "text") -> str:
        """The policy as ``tree``, ``xml``, ``text`` or canonical ``json`` (the caller's
        part of it when scoped)."""
        response = await self._xe._request("GET", f"{_PREFIX}/policy", params={"format": format})
        return response.text

    async def check(self) -> CheckOut:
        """The consistency checker over the stored policy."""
        return await self._get(f"{_PREFIX}/policy/check", CheckOut)

    async def list_versions(
        self, *, limit: int = 100, cursor: str | None = None
    ) -> Page[PolicyVersionOut]:
        """One page of versions, newest first."""
        return await self._get(
            f"{_PREFIX}/policy/versions", Page[PolicyVersionOut], limit=limit, cursor=cursor
        )

    async def get_version(self, version: int) -> PolicyVersionOut:
        """One version."""
        return await self._get(f"{_PREFIX}/policy/versions/{int(version)}", PolicyVersionOut)

    async def version_diff(self, version: int) -> PolicyVersionDiffOut:
        """The readable diff of one version: per enclave it changed and the enterprise part
        (``recorded`` false, no diffs: made before XE kept them)."""
        path = f"{_PREFIX}/policy/versions/{int(version)}/diff"
        return await self._get(path, PolicyVersionDiffOut)

    # -- enclaves --------------------------------------------------------------------------

    async def list_enclaves(self, **filters: Any) -> Page[EnclaveOut]:
        """One page of enclaves (``host``, ``q``, ``limit``, ``cursor``)."""
        return await self._get(f"{_PREFIX}/enclaves", Page[EnclaveOut], **filters)

    def iter_enclaves(self, **filters: Any) -> AsyncIterator[EnclaveOut]:
        """Every enclave."""
        return self._iter(self.list_enclaves, filters)

    async def get_enclave(self, ref: str) -> EnclaveOut:
        """One enclave."""
        return await self._get(f"{_PREFIX}/enclaves/{_ref(ref)}", EnclaveOut)

    async def create_enclave(
        self, name: str, *, color: str | Sequence[int] | None = None, id: str | None = None
    ) -> WrittenOut[EnclaveOut]:
        """Creates an enclave (a generated UUID unless ``id``)."""
        body: dict[str, Any] = {"name": name}
        if color is not None:
            body["color"] = color if isinstance(color, str) else list(color)
        if id is not None:
            body["id"] = id
        return await self._send("POST", f"{_PREFIX}/enclaves", WrittenOut[EnclaveOut], body)

    async def update_enclave(self, ref: str, **changes: Any) -> WrittenOut[EnclaveOut]:
        """Renames or recolours an enclave; ``requires_approval=True`` (admins) turns
        two-person approval on, ``False`` asks (first admin) or confirms (second) off."""
        path = f"{_PREFIX}/enclaves/{_ref(ref)}"
        return await self._send("PATCH", path, WrittenOut[EnclaveOut], changes)

    # -- two-person approval ---------------------------------------------------------------

    async def approvals(self, version: int | None = None) -> ApprovalsOut:
        """What waits for a second admin (or every row of ``version``), with the diffs."""
        params = {} if version is None else {"version": version}
        return await self._get(f"{_PREFIX}/policy/approvals", ApprovalsOut, **params)

    async def approve(self, version: int, note: str) -> list[ApprovalOut]:
        """Approves a version's changes (an admin other than its authors; note required)."""
        return await self._decide(version, "approve", note)

    async def reject(self, version: int, note: str) -> list[ApprovalOut]:
        """Rejects a version (propagation stays held until the enclave changes again)."""
        return await self._decide(version, "reject", note)

    async def whatif(self, version: int | None = None, minutes: int = 10) -> WhatIfOut:
        """What the newest version (or ``version``, which must be it) would fix and deny
        on each host it reaches (``POST /policy/whatif``; read-only)."""
        body = {"version": version, "minutes": minutes}
        return await self._send("POST", f"{_PREFIX}/policy/whatif", WhatIfOut, body)

    async def _decide(self, version: int, verb: str, note: str) -> list[ApprovalOut]:
        path = f"{_PREFIX}/policy/approvals/{int(version)}/{verb}"
        response = await self._xe._request("POST", path, json={"note": note})
        return _DECISION.validate_json(response.content)

    async def delete_enclave(self, ref: str) -> VersionOut:
        """Deletes an enclave."""
        return await self._send("DELETE", f"{_PREFIX}/enclaves/{_ref(ref)}", VersionOut)

    async def assign(self, enclave: str, host: str) -> VersionOut:
        """Assigns an enclave to a host."""
        path = f"{_PREFIX}/enclaves/{_ref(enclave)}/hosts/{_ref(host)}"
        return await self._send("PUT", path, VersionOut)

    async def unassign(self, enclave: str, host: str) -> VersionOut:
        """Unassigns an enclave from a host."""
        path = f"{_PREFIX}/enclaves/{_ref(enclave)}/hosts/{_ref(host)}"
        return await self._send("DELETE", path, VersionOut)

    # -- hosts -----------------------------------------------------------------------------

    async def list_hosts(self, **filters: Any) -> Page[HostOut]:
        """One page of hosts in panel order (``enclave``, ``q``, ``limit``, ``cursor``)."""
        return await self._get(f"{_PREFIX}/hosts", Page[HostOut], **filters)

    def iter_hosts(self, **filters: Any) -> AsyncIterator[HostOut]:
        """Every host, in panel order."""
        return self._iter(self.list_hosts, filters)

    async def list_host_fields(self, fields: Sequence[str], **filters: Any) -> Page[Any]:
        """One page of hosts with only ``fields`` (``HostFields`` items: the others None);
        a smaller answer, decoded faster, for a panel that shows a few of them."""
        model: Any = Page[HostFields]  # type: ignore[valid-type]
        page: Page[Any] = await self._get(
            f"{_PREFIX}/hosts", model, fields=",".join(fields), **filters
        )
        return page

    def iter_host_fields(self, fields: Sequence[str], **filters: Any) -> AsyncIterator[Any]:
        """Every host with only ``fields``, in panel order."""
        return self._iter(self.list_host_fields, {"fields": fields, **filters})

    async def get_host(self, ref: str) -> HostOut:
        """One host."""
        return await self._get(f"{_PREFIX}/hosts/{_ref(ref)}", HostOut)

    async def update_host(self, ref: str, **changes: Any) -> WrittenOut[HostOut]:
        """Changes a host's policy part."""
        path = f"{_PREFIX}/hosts/{_ref(ref)}"
        return await self._send("PATCH", path, WrittenOut[HostOut], changes)

    async def reorder_hosts(self, hosts: Sequence[str]) -> VersionOut:
        """Sets the Hosts panel order (every host once)."""
        return await self._send("PUT", f"{_PREFIX}/host-order", VersionOut, {"hosts": list(hosts)})

    # -- SecLabels -------------------------------------------------------------------------

    async def list_seclabels(self, **filters: Any) -> Page[SecLabelOut]:
        """One page of SecLabels (``enclave``, ``q``, ``limit``, ``cursor``)."""
        return await self._get(f"{_PREFIX}/seclabels", Page[SecLabelOut], **filters)

    def iter_seclabels(self, **filters: Any) -> AsyncIterator[SecLabelOut]:
        """Every SecLabel."""
        return self._iter(self.list_seclabels, filters)

    async def get_seclabel(self, ref: str) -> SecLabelOut:
        """One SecLabel."""
        return await self._get(f"{_PREFIX}/seclabels/{_ref(ref)}", SecLabelOut)

    async def create_seclabel(
        self, name: str, enclave: str, profile: str, **fields: Any
    ) -> WrittenOut[SecLabelOut]:
        """Creates a SecLabel (``max_rate``, ``max_violations``, ``role``, ``id``)."""
        body = {"name": name, "enclave": enclave, "profile": profile, **fields}
        return await self._send("POST", f"{_PREFIX}/seclabels", WrittenOut[SecLabelOut], body)

    async def update_seclabel(self, ref: str, **changes: Any) -> WrittenOut[SecLabelOut]:
        """Changes a SecLabel."""
        path = f"{_PREFIX}/seclabels/{_ref(ref)}"
        return await self._send("PATCH", path, WrittenOut[SecLabelOut], changes)

    async def delete_seclabel(self, ref: str) -> VersionOut:
        """Deletes a SecLabel."""
        return await self._send("DELETE", f"{_PREFIX}/seclabels/{_ref(ref)}", VersionOut)

    # -- VMs -------------------------------------------------------------------------------

    async def list_vms(self, **filters: Any) -> Page[VmOut]:
        """One page of VMs (``enclave``, ``host``, ``seclabel``, ``q``, ``limit``, ``cursor``)."""
        return await self._get(f"{_PREFIX}/vms", Page[VmOut], **filters)

    def iter_vms(self, **filters: Any) -> AsyncIterator[VmOut]:
        """Every VM."""
        return self._iter(self.list_vms, filters)

    async def get_vm(self, ref: str) -> VmOut:
        """One VM."""
        return await self._get(f"{_PREFIX}/vms/{_ref(ref)}", VmOut)

    async def vm_config(self, ref: str) -> str:
        """The xl configuration XE generates for a VM (Figure 27)."""
        response = await self._xe._request("GET", f"{_PREFIX}/vms/{_ref(ref)}/config")
        return response.text

    async def create_vm(
        self, name: str, enclave: str, guest_type: str, **fields: Any
    ) -> WrittenOut[VmOut]:
        """Creates a VM with the fields of Figure 26 (without ``host``: the default host,
        shown in ``item.host``)."""
        body = {"name": name, "enclave": enclave, "guest_type": guest_type, **fields}
        return await self._send("POST", f"{_PREFIX}/vms", WrittenOut[VmOut], body)

    async def update_vm(self, ref: str, **changes: Any) -> WrittenOut[VmOut]:
        """Changes a VM."""
        return await self._send("PATCH", f"{_PREFIX}/vms/{_ref(ref)}", WrittenOut[VmOut], changes)

    async def set_vm_network(
        self,
        ref: str,
        *,
        allow_network: bool = True,
        switches: Sequence[str] = (),
        max_vifs: int | None = None,
    ) -> WrittenOut[VmOut]:
        """Sets a VM's network restrictions."""
        body = {"allow_network": allow_network, "switches": list(switches), "max_vifs": max_vifs}
        path = f"{_PREFIX}/vms/{_ref(ref)}/network"
        return await self._send("PUT", path, WrittenOut[VmOut], body)

    async def set_vm_extra(self, ref: str, extra: Sequence[tuple[str, str]]) -> WrittenOut[VmOut]:
        """Sets a VM's extra xl options, in order."""
        body = {"extra": [[k, v] for k, v in extra]}
        return await self._send("PUT", f"{_PREFIX}/vms/{_ref(ref)}/extra", WrittenOut[VmOut], body)

    async def set_vm_vifs(self, ref: str, vifs: Sequence[Mapping[str, Any]]) -> WrittenOut[VmOut]:
        """Sets a VM's VIFs, in order: each ``{"bridge": …, "mac": …, "ip": …}`` (mac and
        ip optional); ``[]`` removes them."""
        body = {"vifs": [dict(v) for v in vifs]}
        return await self._send("PUT", f"{_PREFIX}/vms/{_ref(ref)}/vifs", WrittenOut[VmOut], body)

    async def set_vm_disks(self, ref: str, disks: Sequence[Mapping[str, Any]]) -> WrittenOut[VmOut]:
        """Sets a VM's disks, in order: each ``{"target": …, "vdev": …, "mode": "r"|"w",
        "format": "raw"|"qcow2"}`` (mode and format optional); ``[]`` removes them."""
        body = {"disks": [dict(d) for d in disks]}
        path = f"{_PREFIX}/vms/{_ref(ref)}/disks"
        return await self._send("PUT", path, WrittenOut[VmOut], body)

    async def reset_vm_extra(self, ref: str) -> WrittenOut[VmOut]:
        """Resets a VM's xl configuration to its guest type's template."""
        path = f"{_PREFIX}/vms/{_ref(ref)}/extra"
        return await self._send("DELETE", path, WrittenOut[VmOut])

    async def delete_vm(self, ref: str) -> VersionOut:
        """Deletes a VM."""
        return await self._send("DELETE", f"{_PREFIX}/vms/{_ref(ref)}", VersionOut)

    # -- conflict sets and DHCP servers ------------------------------------------------------

    async def list_conflicts(self, **filters: Any) -> Page[ConflictOut]:
        """One page of conflict sets."""
        return await self._get(f"{_PREFIX}/conflict-sets", Page[ConflictOut], **filters)

    def iter_conflicts(self, **filters: Any) -> AsyncIterator[ConflictOut]:
        """Every conflict set."""
        return self._iter(self.list_conflicts, filters)

    async def get_conflict(self, ref: str) -> ConflictOut:
        """One conflict set."""
        return await self._get(f"{_PREFIX}/conflict-sets/{_ref(ref)}", ConflictOut)

    async def create_conflict(
        self, name: str, level: str, enclaves: Sequence[str], *, id: str | None = None
    ) -> WrittenOut[ConflictOut]:
        """Creates a conflict set."""
        body: dict[str, Any] = {"name": name, "level": level, "enclaves": list(enclaves)}
        if id is not None:
            body["id"] = id
        return await self._send("POST", f"{_PREFIX}/conflict-sets", WrittenOut[ConflictOut], body)

    async def update_conflict(self, ref: str, **changes: Any) -> WrittenOut[ConflictOut]:
        """Changes a conflict set."""
        path = f"{_PREFIX}/conflict-sets/{_ref(ref)}"
        return await self._send("PATCH", path, WrittenOut[ConflictOut], changes)

    async def delete_conflict(self, ref: str) -> VersionOut:
        """Deletes a conflict set."""
        return await self._send("DELETE", f"{_PREFIX}/conflict-sets/{_ref(ref)}", VersionOut)

    async def list_dhcp_servers(self, **filters: Any) -> Page[DhcpOut]:
        """One page of DHCP servers."""
        return await self._get(f"{_PREFIX}/dhcp-servers", Page[DhcpOut], **filters)

    async def get_dhcp_server(self, ref: str) -> DhcpOut:
        """One DHCP server."""
        return await self._get(f"{_PREFIX}/dhcp-servers/{_ref(ref)}", DhcpOut)

    async def create_dhcp_server(
        self, name: str, enclave: str, interface: str, *, id: str | None = None
    ) -> WrittenOut[DhcpOut]:
        """Creates a remote DHCP server of an enclave."""
        body: dict[str, Any] = {"name": name, "enclave": enclave, "interface": interface}
        if id is not None:
            body["id"] = id
        return await self._send("POST", f"{_PREFIX}/dhcp-servers", WrittenOut[DhcpOut], body)

    async def update_dhcp_server(self, ref: str, **changes: Any) -> WrittenOut[DhcpOut]:
        """Changes a DHCP server."""
        path = f"{_PREFIX}/dhcp-servers/{_ref(ref)}"
        return await self._send("PATCH", path, WrittenOut[DhcpOut], changes)

    async def delete_dhcp_server(self, ref: str) -> VersionOut:
        """Deletes a DHCP server."""
        return await self._send("DELETE", f"{_PREFIX}/dhcp-servers/{_ref(ref)}", VersionOut)
