"""XE's API over services with running workers, for the API tests that need real XPS hosts
(tests/enterprise_store/api/test_compute_api.py, test_propagation_history_api.py,
test_migration_api.py).

- ``world`` (function fixture): ``(services, client)``: services with XE's identity and
  running workers; users root (admin), aud (auditor), oper (operator) with :data:`PASSWORD`;
  ``await client(user="root")`` → an :class:`XeClient` logged in as ``user`` through
  ``httpx.ASGITransport`` (closed at teardown). Import it into the test module.
- :func:`import_sample` imports the §4.2 sample policy with ``hosts`` as its hosts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services

PASSWORD = "compute-api-password-1"


@pytest.fixture
async def world(
    xe_services: Callable[..., Any],
) -> AsyncIterator[tuple[Services, Callable[..., Any]]]:
    """Services with XE's identity and running workers, and clients of their app."""
    services: Services = await xe_services(start=True)
    await services.users.bootstrap_admin("root", PASSWORD)
    for name, role in (("aud", Role.AUDITOR), ("oper", Role.OPERATOR)):
        await services.users.create_user(
            Principal.system(), NewUser(name=name, role=role, password=PASSWORD)
        )
    app = create_app(services)
    clients: list[XeClient] = []

    async def client(user: str = "root") -> XeClient:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 4711))
        c = XeClient("http://xe.test", transport=transport, timeout=60)
        clients.append(c)
        await c.login(user, PASSWORD)
        return c

    yield services, client
    for c in clients:
        await c.aclose()


async def import_sample(services: Services, hosts: list[Any]) -> None:
    """Imports the sample XE policy whose hosts are ``hosts`` (sim XPS daemons on 127.0.0.1)."""
    policy = sample_xe_policy({x.name: ("127.0.0.1", x.port) for x in hosts})
    await services.policy.import_policy(Principal.system(), policy)
