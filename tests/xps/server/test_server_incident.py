"""Resolve and acknowledge over a real daemon: refused on the read-only socket, the wire
checks sizes, the daemon's log names the user, and acks reach every subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests._support.xps import RunningXps
from xps.client import XpsError


async def _violations(rx: RunningXps) -> int:
    async with rx.client() as c:
        await c.create_domain("EA-domu-1")
        await c.set_misbehaviour("EA-domu-1", "out_of_profile", 500_000)
        async with asyncio.timeout(30):  # a liveness bound only
            while not (last := (await c.get_violations(0, 1))["last_seq"]):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await c.set_misbehaviour("EA-domu-1", "out_of_profile", 0)
    return last


async def test_read_only_socket_refuses_resolve_and_acknowledge(
    start_xps: Callable[..., Any],
) -> None:
    rx: RunningXps = await start_xps()
    last = await _violations(rx)
    async with rx.client(read_only=True) as ro:
        with pytest.raises(XpsError) as err:
            await ro.address_violations("EA-domu-1", user="eve", note="x", unpause=True)
        assert err.value.code == "read_only"
        with pytest.raises(XpsError) as err:
            await ro.acknowledge_violations(last, "eve")
        assert err.value.code == "read_only"
        assert "acks" in await ro.get_violations(0, 1)  # reading them is fine
        assert (await ro.get_violations(0, 1))["acks"] == []


async def test_wire_limits_and_the_daemon_log(start_xps: Callable[..., Any]) -> None:
    rx: RunningXps = await start_xps()
    last = await _violations(rx)
    async with rx.client() as c:
        with pytest.raises(XpsError) as err:
            await c.acknowledge_violations(last, "alice", note="n" * 501)
        assert err.value.code == "invalid_params"
        with pytest.raises(XpsError) as err:
            await c.acknowledge_violations(last, "alice", note="one\r\ntwo")
        assert err.value.code == "invalid_argument"
        with pytest.raises(XpsError) as err:
            await c.call("AcknowledgeViolations", up_to_seq=0, user="alice")
        assert err.value.code == "invalid_params"
        await c.address_violations("EA-domu-1", user="alice", note="triaged: rate burst")
    log = await rx.wait_log('violations addressed by alice: "triaged: rate burst"')
    assert "one" not in log.split("AcknowledgeViolations")[-1] or "\r\n" not in log


async def test_acks_reach_other_consoles_and_a_reconnect(start_xps: Callable[..., Any]) -> None:
    rx: RunningXps = await start_xps()
    last = await _violations(rx)
    async with rx.client() as watcher, rx.client() as actor:
        await watcher.subscribe(["acks"])
        ack = await actor.acknowledge_violations(last, "alice", "EA-domu-1", "seen")
        event = await watcher.next_event(10)
        assert event.event == "acks" and event.data == ack
    async with rx.client() as later:  # a console that connects afterwards reads them
        assert (await later.get_violations(0, 1))["acks"] == [ack]
