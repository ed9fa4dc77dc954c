"""VNC passwords (0600 store, stable, never logged), xl configs with vncpasswd, vnc_info."""

from __future__ import annotations

import json
import logging
import re
import stat
from dataclasses import replace
from pathlib import Path
from uuid import UUID

import pytest

from xps.host import (
    CommandResult,
    Host,
    HostConfig,
    HostStateError,
    InvalidArgument,
    NotFound,
    RecordingRunner,
)
from xps.host._domains import XenDomains
from xps.host._secrets import SECRETS_NAME, VncSecrets
from xps.policy import sample_policy

DOM_A = UUID("3a63066e-b6fa-5c75-a943-81e67cdd4b41")
DOM_B = UUID("9c1888f8-aef6-5f1e-9620-758252d88260")
TOKEN = re.compile(r"[A-Za-z0-9_-]{8}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_passwords_are_generated_once_and_stored_0600(tmp_path: Path) -> None:
    store = VncSecrets(tmp_path)
    a = store.password(DOM_A, "EB-domu-1")
    b = store.password(DOM_B, "EA-domu-1")
    assert TOKEN.fullmatch(a) and TOKEN.fullmatch(b) and a != b
    assert store.password(DOM_A, "EB-domu-1") == a
    path = tmp_path / SECRETS_NAME
    assert _mode(path) == 0o600
    doc = json.loads(path.read_text())
    assert doc["domains"][str(DOM_A)] == {"name": "EB-domu-1", "password": a}
    assert [p.name for p in tmp_path.iterdir()] == [SECRETS_NAME]  # no temp file left
    assert a not in repr(store)
    # A restart (a new store over the same directory) gives the same passwords.
    again = VncSecrets(tmp_path)
    assert again.has(DOM_A) and not again.has(UUID(int=5))
    assert again.password(DOM_A, "EB-domu-1") == a
    # A renamed domain keeps its password; the file follows the new name.
    assert again.password(DOM_A, "EB-renamed") == a
    assert json.loads(path.read_text())["domains"][str(DOM_A)]["name"] == "EB-renamed"
    assert _mode(path) == 0o600


def test_a_widely_readable_file_is_narrowed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = VncSecrets(tmp_path).password(DOM_A, "EB-domu-1")
    path = tmp_path / SECRETS_NAME
    path.chmod(0o644)
    with caplog.at_level(logging.INFO, logger="xps.host"):
        assert VncSecrets(tmp_path).password(DOM_A, "EB-domu-1") == first
    assert _mode(path) == 0o600
    assert "accessible to group or others" in caplog.text
    assert first not in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"version": 2, "domains": {}}',
        b'{"version": 1, "domains": {"nope": {"name": "x", "password": "abcdefgh"}}}',
        b'{"version": 1, "domains": {"%s": {"name": "x", "password": "s3cr,t\\"xy"}}}'
        % str(DOM_A).encode(),
        b'{"version": 1, "domains": {"%s": {"name": "x", "password": "short"}}}'
        % str(DOM_A).encode(),
    ],
)
def test_a_damaged_file_is_refused_without_echoing_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / SECRETS_NAME
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(HostStateError) as err:
        VncSecrets(tmp_path).password(DOM_A, "EB-domu-1")
    assert "damaged" in err.value.message
    assert "s3cr" not in err.value.message and "short" not in err.value.message
    assert path.read_bytes() == content  # never silently replaced


def test_a_symlinked_file_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text('{"version": 1, "domains": {}}')
    state = tmp_path / "state"
    state.mkdir()
    (state / SECRETS_NAME).symlink_to(elsewhere)
    with pytest.raises(HostStateError):
        VncSecrets(state).password(DOM_A, "EB-domu-1")


XL_LIST = (
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n"
    "Domain-0                                     0  4096     4     r-----     812.5\n"
    "EB-domu-1                                    7  4096     2     -b----       0.1\n"
)


async def test_xen_create_writes_vncpasswd_into_a_0600_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = sample_policy()
    dom = next(d for d in policy.domains if d.name == "EB-domu-1")
    assert dom.vnc  # the sample's VNC guest: refused before the password store existed
    runner = RecordingRunner({"xl list": XL_LIST})
    secrets = VncSecrets(tmp_path)
    xen = XenDomains(runner, tmp_path / "xl", secrets)
    with caplog.at_level(logging.DEBUG):
        assert await xen.create(policy, dom) == 7
    password = secrets.password(dom.id, dom.name)
    cfg = tmp_path / "xl" / "EB-domu-1.cfg"
    text = cfg.read_text()
    assert f'vncpasswd = "{password}"' in text and 'vnclisten = "127.0.0.1"' in text
    assert "vncdisplay = 3" in text
    assert _mode(cfg) == 0o600 and _mode(tmp_path / "xl") == 0o700
    assert ["xl", "create", str(cfg)] in runner.argvs
    assert "Executing command: xl create" in caplog.text
    assert password not in caplog.text
    # Created again (e.g. after a restart of the host): the same password.
    again = XenDomains(runner, tmp_path / "xl", VncSecrets(tmp_path))
    await again.create(policy, dom)
    assert f'vncpasswd = "{password}"' in cfg.read_text()
    # A guest without VNC gets no password and none is stored for it.
    pv = next(d for d in policy.domains if d.name == "EA-domu-1")
    runner.respond("xl list", XL_LIST.replace("EB-domu-1", "EA-domu-1"))
    await again.create(policy, pv)
    assert "vncpasswd" not in (tmp_path / "xl" / "EA-domu-1.cfg").read_text()
    assert not VncSecrets(tmp_path).has(pv.id)


async def test_xen_dynamic_vnc_port_from_xenstore(tmp_path: Path) -> None:
    runner = RecordingRunner({"xenstore-read": "5907\n"})
    xen = XenDomains(runner, tmp_path / "xl", VncSecrets(tmp_path))
    assert await xen.vnc_port(7) == 5907
    assert runner.argvs[-1] == ["xenstore-read", "/local/domain/7/console/vnc-port"]
    runner.respond("xenstore-read", CommandResult(("xenstore-read",), 1, "", "no such path"))
    assert await xen.vnc_port(7) is None
    runner.respond("xenstore-read", "garbage")
    assert await xen.vnc_port(7) is None


async def test_host_vnc_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "s"
    host = await Host.open(HostConfig(state_dir=state, backend="sim"))
    try:
        info = await host.vnc_info("EB-domu-1")
        assert info == {
            "domid": None,
            "name": "EB-domu-1",
            "enabled": True,
            "listen": "127.0.0.1",
            "display": 3,
            "port": 5903,
        }
        assert not (state / SECRETS_NAME).exists()  # reading the endpoint makes no secret
        domid = (await host.create_domain("EB-domu-1"))["domid"]
        assert (await host.vnc_info(domid))["domid"] == domid
        with caplog.at_level(logging.DEBUG):
            shown = await host.vnc_info("EB-domu-1", include_password=True)
        password = shown.pop("password")
        assert TOKEN.fullmatch(password) and shown["domid"] == domid
        assert password not in caplog.text
        stored = json.loads((state / SECRETS_NAME).read_text())
        assert stored["domains"][str(DOM_A)]["password"] == password
        assert _mode(state / SECRETS_NAME) == 0o600
        assert await host.vnc_credentials(domid) == {**shown, "password": password}
        pv = await host.vnc_info("EA-domu-1", include_password=True)
        assert pv["enabled"] is False and pv["port"] is None and pv["password"] is None
        with pytest.raises(NotFound):
            await host.vnc_info("no-such-domain")
        with pytest.raises(NotFound):
            await host.vnc_info(999)
        with pytest.raises(NotFound):
            await host.vnc_info(0)  # Domain-0 is not a policy domain
        for bad in (True, 1.5, None):
            with pytest.raises(InvalidArgument):
                await host.vnc_info(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument):
            await host.vnc_info("EB-domu-1", include_password="yes")  # type: ignore[arg-type]
    finally:
        await host.close()
    host = await Host.open(HostConfig(state_dir=state, backend="sim"))
    try:
        again = await host.vnc_info("EB-domu-1", include_password=True)
        assert again["password"] == password  # stable across restarts
    finally:
        await host.close()


def test_vnc_endpoint_with_a_dynamic_display() -> None:
    from xps.host._secrets import vnc_endpoint

    dom = next(d for d in sample_policy().domains if d.name == "EB-domu-1")
    dynamic = replace(dom, vnc_display=None)
    assert vnc_endpoint(dynamic, 4, None)["port"] is None
    assert vnc_endpoint(dynamic, 4, 5904) == {
        "domid": 4,
        "name": "EB-domu-1",
        "enabled": True,
        "listen": "127.0.0.1",
        "display": None,
        "port": 5904,
    }
    assert vnc_endpoint(dom, None, 1234)["port"] == 5903  # a fixed display wins
