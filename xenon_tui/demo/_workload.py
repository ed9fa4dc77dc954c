"""The demo's hosts at work: seed each with its policy slice and domains, then keep it lively.

``python -m xenon_tui.demo._workload HOSTS_JSON`` runs the "operator" loop: now and then a
domain misbehaves for a few seconds (out-of-profile calls, rate bursts, cross-tag
channels), and domains the MSM stopped are addressed and resumed after a while, so
violations and charts stay live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from xps.client import XpsClient, XpsError
from xps.policy import Policy, parse_policy, serialize_policy

_KINDS = ("out_of_profile", "rate_burst", "cross_tag")
_EPISODE_S = (3.0, 8.0)
_PAUSE_BETWEEN_S = (4.0, 10.0)
_RECOVER_AFTER_S = 45.0


def _client(host: dict[str, Any], tls: dict[str, str], timeout: float = 30.0) -> XpsClient:
    return XpsClient(
        "127.0.0.1",
        int(host["port"]),
        ca=Path(tls["ca"]),
        cert=Path(tls["cert"]),
        key=Path(tls["key"]),
        timeout=timeout,
    )


async def seed_host(host: dict[str, Any], policy: Policy | None, tls: dict[str, str]) -> int:
    """Activates ``policy`` on the host unless it already runs it (``None``: keep the host's
    policy, whatever the operator made of it), then starts every domain of the host's
    active policy that is not running yet; returns the number of domains."""
    if policy is not None:
        async with _client(host, tls) as client:
            info = await client.call("GetHypervisorInfo")
            if info.get("policy_name") != policy.name:
                await client.call("StagePolicy", xml=serialize_policy(policy).decode())
                await client.call("ActivatePolicy")
    return await start_domains(host, tls)


async def start_domains(host: dict[str, Any], tls: dict[str, str]) -> int:
    """Starts every domain of the host's active policy (with a SecLabel) that is not running
    yet and lets one misbehave a little; returns the number of running domains."""
    async with _client(host, tls) as client:
        info = await client.call("GetHypervisorInfo")
        if info.get("policy_id") is None:
            return 0
        active = await client.call("GetPolicy", which="active")
        policy = parse_policy(str(active["xml"]).encode())
        states = await client.call("GetDomainRunStates")
        running = {d["name"] for d in states.get("domains", [])}
        for dom in policy.domains:
            if dom.seclabel is not None and dom.name not in running:
                await client.call("CreateDomain", name=dom.name)
        states = await client.call("GetDomainRunStates")
        domains = [d["name"] for d in states.get("domains", []) if d.get("domid")]
        if domains:
            # One domain per host misbehaves a little from the start: violations at once.
            await client.call(
                "SetMisbehaviour", domain=domains[0], kind="out_of_profile", per_million=200
            )
        return len(domains)


async def seed(
    hosts: list[dict[str, Any]], policies: dict[str, Policy | None], tls: dict[str, str]
) -> dict[str, int]:
    """Seeds every host concurrently (a host whose policy is ``None`` keeps its own);
    returns host name -> number of domains."""
    counts = await asyncio.gather(*(seed_host(h, policies[h["name"]], tls) for h in hosts))
    return {h["name"]: n for h, n in zip(hosts, counts, strict=True)}


async def _episode(host: dict[str, Any], tls: dict[str, str], rng: random.Random) -> None:
    async with _client(host, tls, timeout=10.0) as client:
        states = await client.call("GetDomainRunStates")
        domains = [d for d in states.get("domains", []) if d.get("domid")]
        now = time.monotonic()
        stopped = host.setdefault("_stopped", {})
        for dom in domains:
            if dom.get("stopped_by_msm") or dom.get("run_state") == "paused":
                since = stopped.setdefault(dom["name"], now)
                if now - since > _RECOVER_AFTER_S:
                    with contextlib.suppress(XpsError):
                        await client.call("AddressViolations", domain=dom["name"])
                        await client.call("UnpauseDomain", domain=dom["name"])
                    stopped.pop(dom["name"], None)
            else:
                stopped.pop(dom["name"], None)
        running = [d["name"] for d in domains if d.get("run_state") == "running"]
        if not running:
            return
        victim, kind = rng.choice(running), rng.choice(_KINDS)
        await client.call(
            "SetMisbehaviour",
            domain=victim,
            kind=kind,
            per_million=rng.choice((100, 300, 1000, 5000)),
        )
        await asyncio.sleep(rng.uniform(*_EPISODE_S))
        with contextlib.suppress(XpsError):
            await client.call("SetMisbehaviour", domain=victim, kind=kind, per_million=0)


async def operate(hosts: list[dict[str, Any]], tls: dict[str, str], seed_value: int) -> None:
    """Runs misbehaviour episodes on every host forever (each host its own rhythm)."""

    async def one(host: dict[str, Any], rng: random.Random) -> None:
        while True:
            await asyncio.sleep(rng.uniform(*_PAUSE_BETWEEN_S))
            try:
                await _episode(host, tls, rng)
            except XpsError as exc:
                print(f"workload {host['name']}: {exc.code}: {exc}", file=sys.stderr)

    await asyncio.gather(*(one(h, random.Random(f"{seed_value}:{h['name']}")) for h in hosts))


def main(argv: list[str]) -> int:
    """Entry point: ``python -m xenon_tui.demo._workload HOSTS_JSON``."""
    doc = json.loads(Path(argv[1]).read_text())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(operate(doc["hosts"], doc["tls"], int(doc.get("seed", 1))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
