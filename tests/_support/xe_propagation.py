"""Set-up the XE propagation tests share (tests/enterprise_store/workers/test_propagation*.py,
test_whatif_xe.py): the §4.2 sample over three sim hosts, a bounded wait on a condition, and
the host-side edit that makes XE see drift.

- :func:`sample_world`: ``await sample_world(xe_services, xps_hosts, **kw)`` → ``(services,
  hosts)``: three XPS daemons and XE services (``kw`` goes to ``xe_services``) holding the
  sample policy placed on them (nothing propagated yet).
- :func:`until`: waits until ``await predicate()`` is true (a liveness bound, not a timing).
- :func:`active_policy`: the host's active policy as its console reads it.
- :func:`converged`: a predicate: the host's row is converged at ``version``.
- :func:`edit_behind_xe`: the host's console renames its policy and activates it.
- :func:`placed`: the host a VM is placed on, and its XE host id.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services
from xps.policy import parse_policy, serialize_policy


async def sample_world(
    xe_services: Callable[..., Any], xps_hosts: Callable[..., Any], **kw: Any
) -> tuple[Services, list[Any]]:
    """Three sim hosts and XE services holding the §4.2 sample policy placed on them."""
    hosts = await xps_hosts(3)
    services: Services = await xe_services(**kw)
    policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
    await services.policy.import_policy(Principal.system(), policy)
    return services, hosts


async def until(predicate: Callable[[], Awaitable[bool]], limit_s: float = 60.0) -> None:
    """Waits (liveness bound only) until ``await predicate()`` is true."""
    async with asyncio.timeout(limit_s):
        while not await predicate():  # noqa: ASYNC110 (state in a database and a daemon)
            await asyncio.sleep(0.05)


async def active_policy(host: Any) -> dict[str, Any]:
    """The host's active policy (``xml``, ``sha256``, ``generation``, ``policy``)."""
    console = await host.console()
    return dict(await console.get_policy("active"))


def converged(services: Services, host_id: str, version: int) -> Callable[[], Awaitable[bool]]:
    """A predicate: XE's row of ``host_id`` is converged at ``version``."""

    async def check() -> bool:
        row = (await services.compute.propagator.states()).get(host_id)
        return row is not None and (row.state, row.observed_version) == ("converged", version)

    return check


async def edit_behind_xe(host: Any) -> dict[str, Any]:
    """Behind XE's back, the host's console renames its policy and activates it; returns
    the activation (its ``sha256`` is what the host now enforces)."""
    console = await host.console()
    current = dict(await console.get_policy("active"))
    mine = dataclasses.replace(parse_policy(current["xml"].encode()), name="edited on the host")
    await console.stage_policy(xml=serialize_policy(mine).decode())
    return dict(await console.activate_policy())


def placed(policy: Any, hosts: list[Any], vm: str) -> tuple[Any, str]:
    """The XPS host of ``hosts`` that ``policy`` places ``vm`` on, and its XE host id."""
    name = policy.host_of(policy.vm_named(vm)).name
    return next(h for h in hosts if h.name == name), str(policy.host_named(name).id)
