"""Every method's result, from real daemons, parsed with the typed client's own types.

The result shapes are defined once (``xps.protocol.RESULTS``): the typed client must
declare exactly that shape for each method, and what a real sim (or xen-without-MSM)
daemon sends must fit it member for member, no member missing or extra.
"""

from __future__ import annotations

import asyncio
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support.xps import RunningXps, XpsPki
from xps.client import ProtocolViolation, Xps
from xps.host import Host, HostConfig, RecordingRunner
from xps.protocol import EVENTS, METHODS, RESULTS, mismatches
from xps.server import host_handlers

FIXTURE = Path(__file__).resolve().parents[1] / "host" / "fixtures" / "host1"
DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"
# The client turns these results into something else (bytes, the list of events, None):
# their wire result is read with ``call`` and checked against the shape alone.
TRANSFORMED = {"MigrateOutRead", "Subscribe", "Unsubscribe"}


def _attr(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


class Checked:
    """Calls methods through the typed client and checks each result's shape."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def __call__(self, client: Xps, method: str, **params: Any) -> Any:
        client.check_results = True
        if method in TRANSFORMED:
            result: Any = await client.call(method, **params)
        else:
            typed = getattr(client, _attr(method))
            declared = typing.get_type_hints(typed)["return"]
            assert declared is RESULTS[method], f"{method}: the client declares {declared}"
            result = await typed(**params)
        assert mismatches(RESULTS[method], result) == [], (method, result)
        self.seen.add(method)
        return result


def test_the_doc_and_the_result_table_name_the_same_methods() -> None:
    documented = set(re.findall(r"^\| `([A-Z]\w+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    assert documented == set(METHODS) == set(RESULTS)


async def test_the_typed_client_refuses_a_drifted_result(
    start_xps: Callable[..., Any], tmp_path: Path
) -> None:
    host = await Host.open(HostConfig(state_dir=tmp_path / "s", backend="sim"))

    async def drifted() -> dict[str, Any]:
        info = await host.hypervisor_info()
        return {**info, "msm_version": 12}  # an int where the protocol says str | None

    try:
        rx: RunningXps = await start_xps({"GetHypervisorInfo": drifted})
        async with rx.client() as c:
            assert (await c.get_hypervisor_info())["msm_version"] == 12  # unchecked by default
            c.check_results = True
            with pytest.raises(ProtocolViolation) as err:
                await c.get_hypervisor_info()
    finally:
        await host.close()
    assert "result.msm_version: fits none of str | None" in str(err.value)


def test_mismatches_reports_what_drifted() -> None:
    info = {"xen_version": "4", "msm_version": None, "cpus": True, "extra": 1}
    problems = mismatches(RESULTS["GetHypervisorInfo"], info)
    assert "result.cpus: int expected, got bool" in problems
    assert "result: HypervisorInfo has no member 'extra'" in problems
    assert "result: HypervisorInfo member 'hostname' is missing" in problems
    assert "result.extra" not in " ".join(mismatches(RESULTS["GetHypervisorInfo"], info))
    assert not any(
        "extra" in p for p in mismatches(RESULTS["GetHypervisorInfo"], info, strict=False)
    )
    assert mismatches(RESULTS["MigrateInFinish"], {"aborted": True, "name": "x"}) == []


async def _until(pred: Callable[[], Any], limit_s: float = 30.0) -> Any:
    async with asyncio.timeout(limit_s):  # a liveness bound only
        while not (value := await pred()):  # noqa: ASYNC110 (polls a daemon over TLS)
            await asyncio.sleep(0.05)
    return value


async def test_every_method_result_fits_the_client_types(
    start_xps: Callable[..., Any], xps_pki: XpsPki, tmp_path: Path
) -> None:
    check = Checked()
    src_rx: RunningXps = await start_xps(
        authstore_file=tmp_path / "auth.json", authstore_pass="store-secret"
    )
    dst_rx: RunningXps = await start_xps()
    async with src_rx.client(timeout=30.0) as c, dst_rx.client(timeout=30.0) as dst:
        events: list[Any] = []
        await check(c, "Subscribe")
        assert await check(c, "Ping") == {"pong": True}
        await check(c, "GetHypervisorInfo")
        await check(c, "GetLogMsgs", limit=5)
        await check(c, "GetHardware")
        active = await check(c, "GetPolicy")
        assert (await check(c, "GetStagedDiff"))["staged"] is False
        await check(c, "StagePolicy", xml=active["xml"])
        await check(c, "StagePolicy", policy={**active["policy"], "name": "renamed"})
        assert (await check(c, "GetStagedDiff"))["staged"] is True
        assert (await check(c, "GetPolicy", which="staged"))["generation"] is None
        await check(c, "ActivatePolicy")
        await check(c, "GetPolicy", which="previous")
        await check(c, "RollbackPolicy")
        await check(c, "ExportPolicy", signed=False)
        await check(c, "ExportPolicy", signed=False, template=True)

        names = [d["name"] for d in active["policy"]["domains"]]
        vnc = next(d["name"] for d in active["policy"]["domains"] if d.get("vnc"))
        first, second = names[0], next(n for n in names if n not in (names[0], vnc))
        for name in dict.fromkeys((first, vnc, second)):
            await check(c, "CreateDomain", name=name)
        states = await check(c, "GetDomainRunStates")
        assert len(states["domains"]) >= 3
        await check(c, "PauseDomain", domain=first)
        await check(c, "UnpauseDomain", domain=first)
        await check(c, "GetVncInfo", domain=vnc)
        await check(c, "GetVncInfo", domain=second)
        assert (await check(c, "GetVncCredentials", domain=vnc))["password"]
        await check(c, "SetMisbehaviour", domain=first, kind="out_of_profile", per_million=500_000)

        async def some_violations() -> Any:
            got = await check(c, "GetViolations", since_seq=0, limit=50)
            return got if got["violations"] else None

        await _until(some_violations)
        await check(c, "SetMisbehaviour", domain=first, kind="out_of_profile", per_million=0)
        await check(c, "AcknowledgeViolations", up_to_seq=1, user="alice", note="seen")
        await check(c, "AddressViolations", domain=first)
        seqs = [(await c.get_violations())["violations"][-1]["seq"]]
        inc = await check(c, "OpenIncident", domain=first, user="alice", trigger_seqs=seqs)
        await check(
            c, "IncidentStep", id=inc["id"], step="close", outcome="done", user="a", note="n"
        )
        await check(c, "ReopenIncident", id=inc["id"], user="alice")
        await check(c, "GetIncident", id=inc["id"])
        await check(c, "ListIncidents", query="alice", state="open")

        async def some_calls() -> Any:
            got = await check(c, "GetCallCounts", minutes=10)
            return got if got["calls"] else None

        await _until(some_calls)
        await check(c, "GetCallCounts", minutes=5, domain=first)
        await check(c, "WhatIf", xml=active["xml"], minutes=10)
        await check(c, "GetStats")

        async def some_history() -> Any:
            got = await check(c, "GetStatsHistory", range="10m")
            return got if got["series"] else None

        await _until(some_history)
        await check(c, "GetStatsHistory", range="1w", domain="host")
        await check(c, "RebootDomain", domain=second)
        await check(c, "ShutdownDomain", domain=second)
        await check(c, "DestroyDomain", domain=second)

        # Migration of the VNC domain to the second daemon, one step of each kind.
        out = await check(c, "MigrateOut", domain=vnc)
        mid = out["migration"]
        await check(
            dst,
            "MigrateIn",
            migration=mid,
            uuid=out["uuid"],
            name=vnc,
            image_size=out["image_size"],
        )
        for chunk in range(out["chunks"]):
            piece = await check(c, "MigrateOutRead", migration=mid, chunk=chunk)
            assert await c.migrate_out_read(mid, chunk) != b"" and piece["chunk"] == chunk
        paused = await check(c, "MigrateOutDirty", migration=mid, pause=True)
        for chunk in range(out["chunks"]):
            data = await c.migrate_out_read(mid, chunk)
            await check(dst, "MigrateInWrite", migration=mid, chunk=chunk, data=data)
        await check(dst, "MigrateInFinish", migration=mid, digest=paused["digest"])
        await check(c, "MigrateOutFinish", migration=mid, outcome="done")
        # An aborted receipt answers the other shape of MigrateInFinish.
        again = await check(dst, "MigrateOut", domain=vnc)
        await check(
            c,
            "MigrateIn",
            migration=again["migration"],
            uuid=again["uuid"],
            name=vnc,
            image_size=again["image_size"],
        )
        aborted = await check(c, "MigrateInFinish", migration=again["migration"], abort=True)
        assert aborted == {"aborted": True, "name": vnc}
        await check(dst, "MigrateOutFinish", migration=again["migration"], outcome="abort")

        pem = xps_pki.clients["remote-admin"][0].read_text()
        await check(c, "AddAuthorization", alias="admin", cert_pem=pem)
        await check(c, "ListAuthorizations")
        await check(c, "RemoveAuthorization", alias="admin")

        async def all_events() -> bool:
            events.append(await c.next_event(5))
            return {e.event for e in events} >= set(EVENTS)

        await _until(all_events)
        await check(c, "Unsubscribe")
    for event in events:
        assert mismatches(EVENTS[event.event], event.data) == [], event
    assert check.seen == set(METHODS)


async def test_a_host_without_msm_fits_the_client_types(
    start_xps: Callable[..., Any], tmp_path: Path
) -> None:
    xl_list = (
        "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
        "Domain-0                                     0  4096     4     r-----     812.5\n"
        "EA-domu-1                                    3  2048     2     -b----      42.0\n"
    )
    xl_info = "xen_major : 4\nxen_minor : 17\nxen_extra : .3\nnr_cpus : 8\ntotal_memory : 32768\n"
    runner = RecordingRunner({"xl list": xl_list, "xl info": xl_info})
    host = await Host.open(
        HostConfig(state_dir=tmp_path / "xen", backend="xen", root_prefix=FIXTURE), runner=runner
    )
    try:
        rx: RunningXps = await start_xps(host_handlers(host))
        check = Checked()
        async with rx.client() as c:
            info = await check(c, "GetHypervisorInfo")
            assert info["msm_version"] is None and info["msm_status"].startswith("unavailable")
            await check(c, "GetDomainRunStates")
            await check(c, "GetStats")
            await check(c, "GetLogMsgs")
            await check(c, "GetHardware")
            with pytest.raises(Exception) as err:
                await c.migrate_out("EA-domu-1")
            assert getattr(err.value, "code", None) == "not_supported"
    finally:
        await host.close()
