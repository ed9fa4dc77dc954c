"""The telemetry service: host facts, statistics sampling, the violation drain, the sim clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from xps import msm
from xps.files import read_bounded, write_atomic
from xps.protocol import (
    CallCounts,
    Hardware,
    HypervisorInfo,
    LogMsgs,
    NicInfo,
    Stats,
    StatsHistory,
    ViolationAck,
    Violations,
)

from ._calls import MAX_FILE as CALLS_MAX_FILE
from ._calls import CallHistory
from ._convert import jsonable
from ._domains import DomainRow
from ._errors import HostError, InvalidArgument
from ._hardware import discover_hardware, discover_nics, with_policy_tags
from ._sampler import StatsSampler
from ._svc_domains import NOTE_MAX, USER_MAX, checked_text
from ._svc_state import HostState
from ._tiers import TierFile
from ._violations import LOG_NAME, ViolationMonitor
from ._xl import parse_xl_info

__all__ = ["TelemetryService"]

log = logging.getLogger("xps.host")

_DRAIN_BATCH = 4096
_MAX_DRAIN_BATCHES = 64  # per tick: bounded so one tick never starves the loop

ACKS_NAME = "violation-acks.json"
CALLS_NAME = "call-counts.json"
#: Allowed-call counts are drained at most this often (each drain moves every live
#: domain's current minute out of the MSM).
CALLS_DRAIN_S = 1.0
#: Acknowledgements kept (and returned by GetViolations): the newest ones.
MAX_ACKS = 500

#: A background loop: runs until cancelled.
Loop = Callable[[], Coroutine[Any, Any, None]]

#: The domain service's rows: ``await rows(quiet=True)`` -> (rows, backend clock ns).
Rows = Callable[..., Awaitable[tuple[list[DomainRow], int]]]


class TelemetryService:
    """What the host reports: facts, MSM log, statistics and violations, and their loops.

    Args:
        state: The host's shared state.
        rows: The domain service's :meth:`~DomainService.rows`.
    """

    def __init__(self, state: HostState, rows: Rows) -> None:
        self._state = state
        self._rows = rows
        cfg = state.config
        self.sampler = StatsSampler(cfg.state_dir / "stats.json")
        self.monitor = ViolationMonitor(
            cfg.state_dir / LOG_NAME,
            cfg.max_violations_kept,
            state.wall_offset,
            state.domain_name,
            lambda data: state.events.publish({"event": "violations", "data": data}),
        )
        self._acks_path = cfg.state_dir / ACKS_NAME
        self.acks: deque[ViolationAck] = deque(maxlen=MAX_ACKS)
        self._calls_file = TierFile(
            cfg.state_dir / CALLS_NAME, "allowed-call history", CALLS_MAX_FILE
        )
        self.calls = CallHistory()
        self._calls_next = 0.0
        self._calls_supported = True

    async def start(self) -> None:
        """Discovers the NICs and restores the statistics history."""
        self._state.nics = await asyncio.to_thread(discover_nics, self._state.config.root_prefix)
        await self.sampler.load()
        self.acks.extend(await asyncio.to_thread(self._load_acks))
        self.calls = await asyncio.to_thread(
            self._calls_file.load, CallHistory.from_json, CallHistory
        )

    async def close(self) -> None:
        """Drains the last violations, saves the statistics, closes the violation log."""
        with contextlib.suppress(Exception):
            self._drain()
        with contextlib.suppress(OSError):
            await self.sampler.save()
        with contextlib.suppress(Exception):
            self._drain_calls(force=True)
            await self._calls_file.save(self.calls)
        self.monitor.close()

    def loops(self) -> list[tuple[str, Loop]]:
        """The background loops this host needs, by name: run them until cancelled."""
        state = self._state
        if state.msm is not None and state.config.backend == "sim":
            work: list[tuple[str, Loop]] = [("sim-driver", self._sim_driver)]
        elif state.msm is not None:
            work = [("violations", self._drain_loop)]
        else:
            work = []
        return [*work, ("stats", self._stats_loop)]

    # ------------------------------------------------------------------ facts

    async def hypervisor_info(self) -> HypervisorInfo:
        """Versions, MSM status, policy generation and host resources."""
        state = self._state
        policy = state.policy
        out: HypervisorInfo = {
            "xen_version": "unknown",
            "msm_version": None,
            "msm_status": state.msm_status,
            "backend": state.config.backend,
            "policy_generation": state.store.generation,
            "policy_id": str(policy.uuid) if policy else None,
            "policy_name": policy.name if policy else None,
            "hostname": state.config.hostname or socket.gethostname(),
            "cpus": 0,
            "mem_kb": 0,
            "free_mem_kb": 0,
            "uptime_s": 0.0,
        }
        if state.msm is not None:
            info = state.msm.info()
            major, minor = info.interface_version >> 16, info.interface_version & 0xFFFF
            out["msm_version"] = f"{major}.{minor}"
            if state.config.backend == "sim":
                out["xen_version"] = "4.17.0-xenon-sim"
                out["cpus"] = info.host_cpus
                out["mem_kb"] = info.host_mem_kb
                out["free_mem_kb"] = info.free_mem_kb
                out["uptime_s"] = round(info.now_ns / 1e9, 3)
                return out
        out.update(cast(HypervisorInfo, await self._xl_info()))
        return out

    async def _xl_info(self, *, quiet: bool = False) -> dict[str, Any]:
        try:
            text = (await self._state.runner.run(["xl", "info"], quiet=quiet)).stdout
        except HostError as exc:
            log.warning("xl info failed: %s", exc.message)
            return {}
        out = parse_xl_info(text)
        with contextlib.suppress(OSError, ValueError, IndexError):
            uptime = (self._state.config.root_prefix / "proc/uptime").read_text()
            out["uptime_s"] = float(uptime.split()[0])
        return out

    async def log_msgs(self, limit: int = 200) -> LogMsgs:
        """The most recent MSM log lines, oldest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidArgument("limit must be an integer within 1..10000")
        cfg = self._state.config
        lines = list(self._state.msm_log)
        if cfg.backend == "xen":
            path = cfg.root_prefix / "var/log/xen/msm-log-msgs.log"
            with contextlib.suppress(OSError):
                text = await asyncio.to_thread(path.read_text, "utf-8", "replace")
                lines = text.splitlines() + lines
        return {"lines": lines[-limit:]}

    async def hardware(self) -> Hardware:
        """Discovers the host hardware now; tags come from the active policy's inventory."""
        state = self._state
        root = state.config.root_prefix
        hw = await asyncio.to_thread(discover_hardware, root)
        state.nics = await asyncio.to_thread(discover_nics, root)
        if state.policy is not None:
            hw = with_policy_tags(hw, state.policy.hardware)
        nics = [cast(NicInfo, n.to_dict()) for n in state.nics]
        return {"hardware": jsonable(hw), "nics": nics}

    # ------------------------------------------------------------------ statistics

    async def stats(self) -> Stats:
        """The latest statistics sample (taken now when none exists yet)."""
        if self.sampler.latest is None:
            return await self._sample()
        return self.sampler.latest

    async def stats_history(self, range: str = "10m", domain: str | None = None) -> StatsHistory:
        """Tiered history: 10m (5 s steps), 2h (1 min), 1d and 1w (1 h)."""
        if domain is not None and not isinstance(domain, str):
            raise InvalidArgument("domain must be a name or null")
        return self.sampler.history.history(range, domain)

    async def _sample(self) -> Stats:
        state = self._state
        rows, clock = await self._rows(quiet=True)
        if state.msm is not None and state.config.backend == "sim":
            info = state.msm.info()
            cpus, mem, free = info.host_cpus, info.host_mem_kb, info.free_mem_kb
        else:
            facts = await self._xl_info(quiet=True)
            cpus = int(facts.get("cpus", 0)) or (os.cpu_count() or 1)
            mem, free = int(facts.get("mem_kb", 0)), int(facts.get("free_mem_kb", 0))
        result = self.sampler.sample(rows, clock, host_cpus=cpus, mem_kb=mem, free_mem_kb=free)
        state.events.publish({"event": "stats", "data": result})
        return result

    async def _stats_loop(self) -> None:
        cfg = self._state.config
        while True:
            try:
                await self._sample()
                if self.sampler.count and self.sampler.count % cfg.stats_flush_every == 0:
                    # Both histories, when changed: a crash loses one flush period at most.
                    await self.sampler.save()
                    self._drain_calls(force=True)
                    await self._calls_file.save(self.calls)
            except Exception:
                log.exception("statistics sample failed")
            await asyncio.sleep(cfg.stats_interval_s)

    # ------------------------------------------------------------------ allowed calls

    async def call_counts(self, minutes: int = 10, domain: str | None = None) -> CallCounts:
        """Allowed calls of the last ``minutes`` per domain and (hypercall, sub-op)."""
        if domain is not None and not isinstance(domain, str):
            raise InvalidArgument("domain must be a name or null")
        self._drain_calls(force=True)
        return self.calls.result(minutes, domain)

    def _drain_calls(self, force: bool = False) -> None:
        """Moves the MSM's allowed-call records into the history (at most once a second
        unless forced; not at all on a backend without counters)."""
        ctx = self._state.msm
        if ctx is None or not self._calls_supported:
            return
        now = time.monotonic()
        if not force and now < self._calls_next:
            return
        self._calls_next = now + CALLS_DRAIN_S
        state = self._state

        def name_of(domid: int) -> str:
            name = state.names.get(domid)
            if name is None:
                try:
                    name = state.names[domid] = ctx.domain(domid).name
                except msm.MsmError:
                    name = state.domain_name(domid)
            return name

        for _ in range(_MAX_DRAIN_BATCHES):
            try:
                data, dropped = ctx.drain_call_counts_packed(_DRAIN_BATCH)
            except msm.NotSupported:
                self._calls_supported = False
                return
            self.calls.dropped += dropped
            self.calls.add_packed(data, state.wall_offset, name_of)
            if len(data) < _DRAIN_BATCH * msm.CALL_COUNT_RECORD.size:
                return

    # ------------------------------------------------------------------ violations

    async def violations(self, since_seq: int = 0, limit: int = 1000) -> Violations:
        """Violations with ``seq > since_seq`` still kept in memory, oldest first, and
        the acknowledgements kept (``acks``)."""
        out = self.monitor.since(since_seq, limit)
        out["acks"] = list(self.acks)
        return out

    async def acknowledge(
        self, domain: str | None, up_to_seq: int, user: str, note: str | None = None
    ) -> ViolationAck:
        """Records that ``user`` has seen the violations up to ``up_to_seq`` (of the domain
        named ``domain``, or of every domain): kept in the state directory, logged, and
        published to every subscriber as an ``acks`` event."""
        checked_user = checked_text("user", user, USER_MAX, required=True)
        assert checked_user is not None
        note = checked_text("note", note, NOTE_MAX)
        domain = checked_text("domain", domain, 128)
        if isinstance(up_to_seq, bool) or not isinstance(up_to_seq, int) or up_to_seq < 1:
            raise InvalidArgument("up_to_seq must be an integer >= 1")
        if up_to_seq > self.monitor.last_seq:
            raise InvalidArgument(
                f"up_to_seq {up_to_seq} is beyond the last violation ({self.monitor.last_seq})"
            )
        ack: ViolationAck = {
            "ack": (self.acks[-1]["ack"] + 1) if self.acks else 1,
            "domain": domain,
            "up_to_seq": up_to_seq,
            "user": checked_user,
            "note": note,
            "ts": round(time.time(), 3),
        }
        self.acks.append(ack)
        data = json.dumps(list(self.acks), separators=(",", ":")).encode()
        await asyncio.to_thread(write_atomic, self._acks_path, data)
        which = f"of {domain}" if domain else "of every domain"
        said = f'{checked_user}: "{note}"' if note else checked_user
        self._state.log_msm(f"violations {which} up to #{up_to_seq} acknowledged by {said}")
        log.info("violations %s up to #%d acknowledged by %s", which, up_to_seq, said)
        self._state.events.publish({"event": "acks", "data": ack})
        return ack

    def _load_acks(self) -> list[ViolationAck]:
        """The kept acknowledgements; a missing or unreadable file is none (logged)."""
        if not self._acks_path.exists():
            return []
        try:
            items = json.loads(read_bounded(self._acks_path, 1 << 20, ValueError))
        except ValueError as exc:
            log.warning("ignoring %s: %s", ACKS_NAME, exc)
            return []
        keys = set(ViolationAck.__annotations__)
        out = (
            [
                ack
                for ack in items
                if isinstance(ack, dict) and set(ack) == keys and isinstance(ack.get("ack"), int)
            ]
            if isinstance(items, list)
            else []
        )
        return cast(list[ViolationAck], out[-MAX_ACKS:])

    async def _drain_yielding(self, check_all: bool = False) -> None:
        # One batch at a time with a yield in between: a violation storm (a batch costs
        # ~10 ms of dicts, log and encoding) never holds requests back for a whole tick.
        ctx = self._state.msm
        if ctx is None:
            return
        touched: set[int] = set()
        for _ in range(_MAX_DRAIN_BATCHES):
            before = self.monitor.last_seq
            touched |= self.monitor.drain(ctx, _DRAIN_BATCH, 1)
            if self.monitor.last_seq - before < _DRAIN_BATCH:
                break
            await asyncio.sleep(0)
        self._check_stopped(ctx, touched, check_all)
        self._drain_calls()

    def _drain(self) -> None:
        ctx = self._state.msm
        if ctx is not None:
            touched = self.monitor.drain(ctx, _DRAIN_BATCH, _MAX_DRAIN_BATCHES)
            self._check_stopped(ctx, touched, False)

    def _check_stopped(self, ctx: msm.Msm, touched: set[int], check_all: bool) -> None:
        state = self._state
        if check_all:  # records may have been dropped: look at every domain
            touched.update(d.domid for d in ctx.domains())
        for domid in touched - state.stopped:
            try:
                info = ctx.domain(domid)
            except msm.MsmError:
                continue
            if info.stopped_by_msm:
                state.stopped.add(domid)
                state.log_msm(
                    f"domain {domid} ({info.name}) stopped: maximum violations reached "
                    f"({info.violations})"
                )
                state.domain_event(
                    domid, info.name, "paused", "max_violations", "MSM violation limit"
                )

    async def _sim_driver(self) -> None:
        ctx = self._state.require_msm()
        cfg = self._state.config
        slice_s = cfg.sim_slice_ms / 1000
        slice_ns = cfg.sim_slice_ms * 1_000_000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += slice_s
            try:
                counts = ctx.run(slice_ns)
                await self._drain_yielding(
                    check_all=counts.domains_stopped > 0 and counts.ring_dropped > 0
                )
            except Exception:
                log.exception("simulation tick failed")
            delay = deadline - loop.time()
            if delay < -1.0:
                deadline = loop.time()  # fell far behind (a stalled loop): do not catch up
            await asyncio.sleep(max(delay, 0.0))

    async def _drain_loop(self) -> None:
        while True:
            try:
                await self._drain_yielding()
            except Exception:
                log.exception("violation drain failed")
            await asyncio.sleep(0.02)
