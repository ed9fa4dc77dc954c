"""The two-enclave policy the XE services' policy tests start from (readable diffs of
versions, two-person approval): hosts, enclaves A and B, a SecLabel each; and the VM they
create in it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from enterprise_store.model import CpuFacts
from enterprise_store.services import Principal, Services

Login = Callable[..., Awaitable[Principal]]
"""The ``login`` fixture (tests/enterprise_store/conftest.py)."""
MakeUser = Callable[..., Awaitable[Principal]]
"""The ``make_user`` fixture."""


async def two_enclaves(services: Services, login: Login) -> tuple[Principal, str, str]:
    """Hosts h1 (GenuineIntel family 6) and h2; enclaves A (on h1) and B (on h2), neither
    requiring approval; SecLabels sA and sB (PV-Combined). Returns root's principal and the
    ids of A and B."""
    root = await login("root")
    p = services.policy
    await p.add_host(root, name="h1", address="10.0.0.1", cpu=CpuFacts("GenuineIntel", 6))
    await p.add_host(root, name="h2", address="10.0.0.2")
    a = (await p.create_enclave(root, {"name": "A", "color": "#ff0000"})).value
    b = (await p.create_enclave(root, {"name": "B", "color": "#0000ff"})).value
    await p.assign(root, "A", "h1")
    await p.assign(root, "B", "h2")
    await p.create_seclabel(root, {"name": "sA", "enclave": "A", "profile": "PV-Combined"})
    await p.create_seclabel(root, {"name": "sB", "enclave": "B", "profile": "PV-Combined"})
    return root, str(a.id), str(b.id)


def vm(name: str, enclave: str = "A", label: str = "sA") -> dict[str, Any]:
    """A PV VM in ``enclave`` with SecLabel ``label`` (the fields ``create_vm`` takes)."""
    return {"name": name, "enclave": enclave, "seclabel": label, "guest_type": "pv",
            "kernel": "/k"}  # fmt: skip
