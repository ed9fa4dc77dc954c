"""The policy endpoints through the real client (httpx over ASGI): the §4.2 walk over HTTP,
the Figure 24 refusal as a problem with every finding and its hint, views, versions,
collections (filters, fields, paging), and what a scoped operator sees.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from enterprise_store.client import PolicyRefused, XeClient
from enterprise_store.model import policy_from_json, policy_sha256
from enterprise_store.policy import sample_xe_policy
from enterprise_store.schemas import Page
from enterprise_store.schemas_policy import VmFields
from enterprise_store.services import Principal, Services

Client = Callable[..., Awaitable[XeClient]]


async def _build_sample(xe: XeClient, services: Services) -> None:
    """The report's policy over HTTP, by names (hosts first, their switches last). Hosts
    join through Compute, which reads their facts from their XPS; there is none here, so
    they are added by the Policy service's step Compute calls."""
    sample = sample_xe_policy()
    for h in sample.hosts:
        await services.policy.add_host(
            Principal.system(), name=h.name, address=h.address, port=h.port, order=h.order,
            color=list(h.color), cpu=h.cpu, shared_storage=list(h.shared_storage), id=h.id,
        )  # fmt: skip
    for e in sample.enclaves:
        await xe.policy.create_enclave(e.name, color=list(e.color), id=str(e.id))
        for host in sample.hosts_of(e.id):
            await xe.policy.assign(e.name, host.name)
    for h in sample.hosts:
        switches = [{"name": s.name, "enclave": str(s.enclave)} for s in h.switches]
        await xe.policy.update_host(h.name, switches=switches)
    for label in sample.seclabels:
        await xe.policy.create_seclabel(
            label.name, sample.enclave(label.enclave).name, sample.profile(label.profile).name,
            max_rate=label.max_rate, max_violations=label.max_violations, id=str(label.id),
        )  # fmt: skip
    for vm in sample.vms:
        fields = {
            "seclabel": sample.seclabel(vm.seclabel).name if vm.seclabel else None,
            "os": vm.os.value, "kernel": vm.kernel, "cmdline": vm.cmdline,
            "memory_mb": vm.memory_mb, "vcpus": vm.vcpus, "id": str(vm.id),
            "network": {"switches": list(vm.network.switches), "max_vifs": vm.network.max_vifs},
            "extra": [list(p) for p in vm.extra],
        }  # fmt: skip
        if vm.host is not None:
            fields["host"] = sample.host(vm.host).name
        written = await xe.policy.create_vm(
            vm.name, sample.enclave(vm.enclave).name, vm.guest_type.value, **fields
        )
        placed = sample.host_of(vm)
        assert placed is not None and written.item.host == str(placed.id)
    for c in sample.conflicts:
        await xe.policy.create_conflict(
            c.name, c.level.value, [str(e) for e in c.enclaves], id=str(c.id)
        )
    for d in sample.dhcp_servers:
        await xe.policy.create_dhcp_server(
            d.name, sample.enclave(d.enclave).name, d.interface, id=str(d.id)
        )


async def test_the_walk_over_http_and_the_figure_24_refusal(
    as_user: Client, services: Services, app: FastAPI
) -> None:
    root = await as_user("root")
    await services.policy.add_host(Principal.system(), name="xenon-1", address="10.0.2.101")
    enclave = (await root.policy.create_enclave("Enclave A", color="#cc2529")).item
    await root.policy.assign("Enclave A", "xenon-1")
    version = (await root.policy.check()).version
    with pytest.raises(PolicyRefused) as refused:
        await root.policy.create_vm("EA-domu-1", enclave.id, "pv", kernel="/boot/vmlinuz")
    (finding,) = refused.value.findings
    assert finding.code == "XE-VM-NO-SECLABEL"
    assert finding.objects[0] == "EA-domu-1"
    assert "Enclave A" in getattr(finding, "hint", "")
    assert (await root.policy.check()).version == version
    # The same refusal as the raw problem document.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        answer = await c.post(
            "/api/v1/vms",
            headers={"Authorization": f"Bearer {root.token}"},
            json={"name": "EA-domu-1", "enclave": "Enclave A", "guest_type": "pv",
                  "kernel": "/boot/vmlinuz"},
        )  # fmt: skip
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "policy_refused"
    assert [f["code"] for f in problem["findings"]] == ["XE-VM-NO-SECLABEL"]
    assert problem["findings"][0]["hint"] and problem["findings"][0]["kind"] == "vm"


async def test_the_sample_over_http_views_versions_and_collections(
    as_user: Client, services: Services
) -> None:
    root = await as_user("root")
    await _build_sample(root, services)
    expected = sample_xe_policy()
    stored = await services.policy.current()
    assert stored.with_version(1) == type(expected)(
        version=1, hosts=expected.hosts, enclaves=expected.enclaves,
        assignments=expected.assignments, profiles=expected.profiles,
        seclabels=expected.seclabels, vms=tuple(expected.pinned(v) for v in expected.vms),
        conflicts=expected.conflicts, dhcp_servers=expected.dhcp_servers,
    )  # fmt: skip
    # Views.
    as_json = policy_from_json(await root.policy.render("json"))
    assert as_json == stored
    assert "<" in (await root.policy.render("xml"))[:100]
    tree = await root.policy.render("tree")
    assert "Enclave A" in tree and "xenon-3" in tree
    assert "EA-domu-1" in await root.policy.render("text")
    config = await root.policy.vm_config("EA-domu-1")
    assert "max_grant_frames" in config
    # Versions: one per write, newest first, paged; the newest names the snapshot's hash.
    check = await root.policy.check()
    assert check.ok and check.sha256 == policy_sha256(stored)
    first = await root.policy.list_versions(limit=5)
    assert [v.version for v in first.items] == list(range(stored.version, stored.version - 5, -1))
    assert first.next_cursor is not None
    second = await root.policy.list_versions(limit=5, cursor=first.next_cursor)
    assert second.items[0].version == stored.version - 5
    # Collections: filters, fields, paging.
    on_3 = [v.name async for v in root.policy.iter_vms(host="xenon-3")]
    assert on_3 == ["EA-domu-3", "EA-domu-4", "EA-domu-5", "EC-domu-3", "EC-domu-4"]
    names = [h.name async for h in root.policy.iter_hosts(enclave="Enclave A", limit=1)]
    assert names == ["xenon-2", "xenon-3"]
    page = await root._get(
        "/api/v1/vms", Page[VmFields], fields="name,host", enclave="Enclave B", limit=2
    )
    assert [sorted(json.loads(i.model_dump_json(exclude_none=True))) for i in page.items] == [
        ["host", "name"], ["host", "name"]
    ]  # fmt: skip


async def test_a_scoped_operator_sees_and_edits_only_their_part(
    as_user: Client, services: Services
) -> None:
    root = await as_user("root")
    await _build_sample(root, services)
    sample = sample_xe_policy()
    a = str(sample.enclave_named("Enclave A").id)
    b = str(sample.enclave_named("Enclave B").id)
    op = await as_user("op_a", "operator", scopes=[a])
    hosts = [h async for h in op.policy.iter_hosts()]
    assert [h.name for h in hosts] == ["xenon-2", "xenon-3"]
    assert all(h.enclaves == [a] for h in hosts)
    assert all([s.name for s in h.switches] == ["EAbr"] for h in hosts)
    assert {v.name async for v in op.policy.iter_vms()} == {f"EA-domu-{i}" for i in range(1, 6)}
    assert [c.name async for c in op.policy.iter_conflicts()] == []
    text = await op.policy.render("text")
    assert "Enclave A" in text and "Enclave B" not in text and "EB-domu" not in text
    with pytest.raises(Exception) as hidden:
        await op.policy.get_vm("EB-domu-1")
    assert getattr(hidden.value, "code", None) == "not_found"
    with pytest.raises(Exception) as placing:
        await op.policy.create_vm("EB-new", b, "pvhvm", seclabel="EB-seclabel")
    assert getattr(placing.value, "code", None) == "out_of_scope"
    written = await op.policy.update_vm("EA-domu-2", memory_mb=1536, maxmem_mb=1536)
    assert written.item.memory_mb == 1536
    versions = await op.policy.list_versions(limit=1000)
    assert versions.items and all(v.enclaves == [a] for v in versions.items)


async def test_malformed_cursors_and_numbers_are_invalid_input_not_errors(
    as_user: Client, app: FastAPI, services: Services
) -> None:
    import base64

    root = await as_user("root")
    await services.policy.add_host(Principal.system(), name="h1", address="10.0.0.1")

    def cursor(key: str) -> str:
        raw = json.dumps({"k": key}).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        h = {"Authorization": f"Bearer {root.token}"}
        for path, key in (
            ("/api/v1/policy/versions", "9" * 30),
            ("/api/v1/hosts", '[1, "a"]'),
            ("/api/v1/hosts", '["x", "y", "z"]'),
            ("/api/v1/vms", "{}"),
            ("/api/v1/enclaves", "not json"),
        ):
            answer = await c.get(path, headers=h, params={"cursor": cursor(key)})
            assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input"), path
        answer = await c.patch("/api/v1/hosts/h1", headers=h, json={"order": 2**40})
        assert answer.status_code == 422


async def test_a_host_joins_and_leaves_through_compute_only(app: FastAPI) -> None:
    """One public way to add or remove a host: Compute's actions (they read the host's
    facts and refuse while XE's VMs run there); the Policy paths are gone."""
    spec = app.openapi()["paths"]
    assert "post" not in spec["/api/v1/hosts"]
    assert "delete" not in spec["/api/v1/hosts/{ref}"]
    assert "post" in spec["/api/v1/hosts/actions/add"]
    assert "post" in spec["/api/v1/hosts/{ref}/actions/remove"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        added = await c.post("/api/v1/hosts", json={"name": "h", "address": "10.0.0.9"})
        removed = await c.delete("/api/v1/hosts/h")
    assert added.status_code == 405 and removed.status_code == 405
