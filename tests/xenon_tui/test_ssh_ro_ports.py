"""The ports an XE user's SSH console may reach: an operator's are the hosts' read-write
ports; an auditor's only the read-only ports XE records (``ro_port``), and a host whose
read-only port XE does not know is not reachable at all, with a line saying why."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import NewUser, Principal, Role, Services
from xenon_tui.ssh._consolecfg import sandbox_targets
from xenon_tui.ssh._spec import check_xe
from xenon_tui.ssh._xeauth import XeAuthConfig, XeAuthority, XeGrant

PASSWORD = "read-only-ports-password-1"
URL = "http://xe.test"


async def _grant(app: Any, user: str) -> XeGrant:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.40", 4711))
    async with XeClient(URL, transport=transport) as client:
        session = await client.login(user, PASSWORD)
        who = await client.whoami()
    return XeGrant(user, str(who.role), None, "2030-01-01T00:00:00+00:00", session.token)


async def test_an_auditor_s_console_gets_only_the_read_only_ports_xe_knows(
    xe_services: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    services: Services = await xe_services()
    await services.users.bootstrap_admin("root", PASSWORD)
    for name, role in (("aud", Role.AUDITOR), ("oper", Role.OPERATOR)):
        await services.users.create_user(
            Principal.system(), NewUser(name=name, role=role, password=PASSWORD)
        )
    sample = sample_xe_policy(
        {
            "xenon-1": ("10.0.2.101", 9443),
            "xenon-2": ("10.0.2.102", 9444),
            "xenon-3": ("10.0.2.103", 9445),
        }
    )
    hosts = tuple(
        dataclasses.replace(h, ro_port=9543) if h.name == "xenon-1" else h for h in sample.hosts
    )
    await services.policy.import_policy(
        Principal.system(), dataclasses.replace(sample, hosts=hosts)
    )
    app = create_app(services)
    # An admin records xenon-2's read-only port through the host update route.
    transport = httpx.ASGITransport(app=app, client=("192.0.2.40", 4711))
    async with XeClient(URL, transport=transport) as root:
        await root.login("root", PASSWORD)
        assert (await root.policy.update_host("xenon-2", ro_port=9544)).item.ro_port == 9544
        assert (await root.policy.get_host("xenon-1")).ro_port == 9543
        assert (await root.policy.get_host("xenon-3")).ro_port is None
    credential = tmp_path / "credential"
    credential.write_text("xev_" + "C" * 43)
    os.chmod(credential, 0o600)
    authority = XeAuthority(XeAuthConfig(URL, credential), transport=transport)
    try:
        with caplog.at_level(logging.INFO, logger="xenon.ssh"):
            audit = await authority.with_host_ports(await _grant(app, "aud"))
            oper = await authority.with_host_ports(await _grant(app, "oper"))
    finally:
        await authority.close()
    rw = sorted(h.port for h in (await services.policy.current()).hosts)
    assert audit.host_ports == (9543, 9544)
    assert list(oper.host_ports) == sorted(set(rw)) and 9543 not in oper.host_ports
    lines = [r.getMessage() for r in caplog.records if r.name == "xenon.ssh"]
    (line,) = [m for m in lines if "read-only port" in m]
    assert "aud" in line and "xenon-3" in line and "xenon-1" not in line
    # The auditor's session spec and sandbox: XE's port and the read-only ports only.
    _, ports = sandbox_targets(
        {"servers": [], "read_only": True}, check_xe(audit.public(authority.config))
    )
    assert ports == {80, 9543, 9544}
