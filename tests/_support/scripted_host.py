"""A scripted XPS host for console tests, served by the real daemon over real TLS.

It stands in for the hypervisor side only (the contract's Host facade), so every console
test still goes through the real daemon, protocol, TLS and ``xps.client``.
"""

from __future__ import annotations

import builtins
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from xps.policy import (
    DomainConfig,
    GuestType,
    NetworkSwitch,
    Policy,
    SecLabel,
    SwitchMode,
    Tag,
    predefined_profile,
    serialize_policy,
)


def small_policy(name: str = "test-policy", rate: int = 1000) -> Policy:
    """Two enclaves (A red, B blue), a SecLabel each and three domains."""
    profile = predefined_profile("PV-LinuxGeneric")
    tag_a = Tag(uuid.UUID(int=0xA), "EA", (200, 40, 40))
    tag_b = Tag(uuid.UUID(int=0xB), "EB", (40, 80, 220))
    sl_a = SecLabel(uuid.UUID(int=0x1A), "EA-seclabel", profile.id, tag_a.id, max_rate=rate)
    sl_b = SecLabel(uuid.UUID(int=0x1B), "EB-seclabel", profile.id, tag_b.id)
    domains = (
        DomainConfig(
            uuid.UUID(int=0x2A1),
            "EA-domu-1",
            sl_a.id,
            GuestType.PV,
            kernel="/boot/vmlinuz",
            vnc=True,
            vnc_display=3,
        ),
        DomainConfig(
            uuid.UUID(int=0x2A2), "EA-domu-2", sl_a.id, GuestType.PV, kernel="/boot/vmlinuz"
        ),
        DomainConfig(
            uuid.UUID(int=0x2B1), "EB-domu-1", sl_b.id, GuestType.PV, kernel="/boot/vmlinuz"
        ),
    )
    switch = NetworkSwitch(
        uuid.UUID(int=0x3A),
        "EAbr",
        SwitchMode.BRIDGED,
        tag_a.id,
        ip="172.19.1.1",
        netmask="255.255.255.0",
    )
    return Policy(
        name=name,
        uuid=uuid.UUID(int=0xF00D),
        profiles=(profile,),
        tags=(tag_a, tag_b),
        seclabels=(sl_a, sl_b),
        domains=domains,
        switches=(switch,),
    )


def violation(
    seq: int, domain: str = "EA-domu-1", kind: str = "profile", hypercall: int = 38
) -> dict[str, Any]:
    """One violation record shaped like the contract's (ts: ISO 8601 UTC, ts_ns: epoch ns)."""
    now_ns = time.time_ns()
    return {
        "seq": seq,
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ns // 10**9)) + "Z",
        "ts_ns": now_ns,
        "domid": 1,
        "domain": domain,
        "seclabel": str(uuid.UUID(int=0x1A)),
        "seclabel_name": "EA-seclabel",
        "profile": "PV-LinuxGeneric",
        "kind": kind,
        "hypercall": hypercall,
        "hypercall_name": f"hc{hypercall}",
        "subop": -1,
        "peer": None,
        "count": 1,
    }


class ScriptedHost:
    """The contract's Host methods over in-memory state; records every mutating call."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.callbacks: list[Callable[[dict[str, Any]], None]] = []
        self.active = policy or small_policy()
        self.staged: Policy | None = None
        self.generation = 1
        self.calls: list[tuple[str, Any]] = []
        self.history_ranges: list[str] = []
        self.run = {d.name: "running" for d in self.active.domains}
        self.history: list[dict[str, Any]] = []
        self.seq = 0

    # -- events --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """The daemon's event source: ``callback`` receives every emitted event."""
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def emit(self, event: dict[str, Any]) -> None:
        """Pushes one event to every subscriber."""
        for callback in list(self.callbacks):
            callback(event)

    def emit_violations(self, count: int, **kw: Any) -> list[dict[str, Any]]:
        rows = []
        for _ in range(count):
            self.seq += 1
            rows.append(violation(self.seq, **kw))
        self.history.extend(rows)
        self.emit(
            {
                "event": "violations",
                "data": {"violations": rows, "last_seq": self.seq, "dropped": 0},
            }
        )
        return rows

    # -- read-only -----------------------------------------------------------------------

    async def hypervisor_info(self) -> dict[str, Any]:
        return {
            "xen_version": "4.19-sim",
            "msm_version": 12,
            "msm_status": "enabled",
            "backend": "sim",
            "policy_generation": self.generation,
            "policy_id": str(self.active.uuid),
            "policy_name": self.active.name,
            "hostname": "simhost",
            "cpus": 4,
            "mem_kb": 8 << 20,
            "free_mem_kb": 4 << 20,
            "uptime_s": 100,
        }

    async def domain_run_states(self) -> dict[str, Any]:
        doms = []
        for i, d in enumerate(self.active.domains, start=1):
            state = self.run.get(d.name, "shutdown")
            doms.append(
                {
                    "domid": i,
                    "name": d.name,
                    "uuid": str(d.id),
                    "state": {"running": "r-----", "paused": "--p---"}.get(state, "---s--"),
                    "run_state": state,
                    "mem_mb": d.memory_mb,
                    "vcpus": d.vcpus,
                    "cpu_s": 1.5 * i,
                    "seclabel": str(d.seclabel),
                    "seclabel_name": self.active.seclabel(d.seclabel).name,
                    "tag": "",
                    "tag_name": "EA" if d.name.startswith("EA") else "EB",
                    "stopped_by_msm": False,
                    "violations": 0,
                }
            )
        return {"domains": doms, "xl_list": ""}

    def _policy_result(self, which: str, policy: Policy) -> dict[str, Any]:
        xml = serialize_policy(policy).decode()
        return {
            "which": which,
            "generation": self.generation,
            "sha256": hashlib.sha256(xml.encode()).hexdigest(),
            "xml": xml,
            "policy": None,
        }

    async def get_policy(self, which: str = "active") -> dict[str, Any]:
        policy = self.staged if which == "staged" and self.staged else self.active
        return self._policy_result(which, policy)

    async def staged_diff(self) -> dict[str, Any]:
        staged = self.staged is not None and self.staged != self.active
        return {"diff": {"changed": ["seclabels"]} if staged else {}, "staged": staged}

    async def export_policy(self, signed: bool = True, template: bool = False) -> dict[str, Any]:
        return {"xml": serialize_policy(self.active).decode(), "signed": False}

    async def stats(self) -> dict[str, Any]:
        return {
            "ts": time.time(),
            "host": {"cpu_pct": 12.0, "mem_kb": 8 << 20, "free_mem_kb": 4 << 20},
            "domains": [
                {
                    "domid": i,
                    "name": d.name,
                    "cpu_pct": 10.0 * i,
                    "mem_kb": d.memory_mb * 1024,
                    "vcpus": d.vcpus,
                    "cpu_s": 1.0,
                }
                for i, d in enumerate(self.active.domains, start=1)
            ],
        }

    async def stats_history(self, range: str = "10m", domain: str | None = None) -> dict[str, Any]:
        self.history_ranges.append(range)
        now = time.time()
        return {
            "range": range,
            "step_s": 3,
            "series": [
                {
                    "name": d.name,
                    "points": [
                        [now - 3 * k, 5.0 + k % 7, 1 << 20, 1] for k in builtins.range(40, 0, -1)
                    ],
                }
                for d in self.active.domains
            ],
        }

    async def log_msgs(self, limit: int = 200) -> dict[str, Any]:
        return {"lines": [f"line {i}" for i in range(min(limit, 3))]}

    async def violations(self, since_seq: int = 0, limit: int = 1000) -> dict[str, Any]:
        rows = [v for v in self.history if v["seq"] > since_seq][:limit]
        return {"violations": rows, "last_seq": self.seq, "dropped": 0}

    # -- mutating ------------------------------------------------------------------------

    async def stage_policy(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        from xps.policy import parse_policy

        self.calls.append(("StagePolicy", xml or policy))
        if xml is not None:
            self.staged = parse_policy(xml)
        return {"staged": True, "findings": [], "sha256": "x"}

    async def activate_policy(self) -> dict[str, Any]:
        self.calls.append(("ActivatePolicy", None))
        if self.staged is not None:
            self.active, self.staged = self.staged, None
        self.generation += 1
        self.emit({"event": "policy", "data": {"generation": self.generation, "sha256": "x"}})
        return {"generation": self.generation, "sha256": "x"}

    async def _lifecycle(self, method: str, domain: int | str, state: str) -> dict[str, Any]:
        self.calls.append((method, domain))
        self.run[str(domain)] = state
        self.emit(
            {
                "event": "domain",
                "data": {"domid": 1, "name": domain, "run_state": state, "reason": method},
            }
        )
        return {"domid": 1, "run_state": state}

    async def pause_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        return await self._lifecycle("PauseDomain", domain, "paused")

    async def unpause_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        return await self._lifecycle("UnpauseDomain", domain, "running")

    async def shutdown_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        return await self._lifecycle("ShutdownDomain", domain, "shutdown")

    async def destroy_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        return await self._lifecycle("DestroyDomain", domain, "shutdown")

    async def reboot_domain(self, domain: int | str, user: str | None = None) -> dict[str, Any]:
        return await self._lifecycle("RebootDomain", domain, "running")
