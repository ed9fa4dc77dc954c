"""The console server run in-process and driven by asyncssh: passwords, disconnects, zygote."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from tests._support.ssh import SAMPLE_APP, pid_alive
from xenon_tui.ssh import (
    ConsoleServer,
    ListenError,
    Role,
    ServeConfig,
    UserDirectory,
    UserEntry,
)


async def _eventually(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):  # a liveness bound (another process, a loaded machine)
        while not predicate():  # noqa: ASYNC110 - polls another process, no event to wait on
            await asyncio.sleep(0.05)


class Passwords:
    """A stand-in for the enterprise user store (the interface the server accepts)."""

    async def authenticate(self, user: str, password: str) -> Role | None:
        return {("audit", "s3cret"): Role.READ_ONLY}.get((user, password))


@pytest.fixture
async def server(tmp_path: Path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "admin.pub").write_bytes(key.export_public_key())
    config = ServeConfig(
        state_dir=tmp_path / "state", port=0, app=SAMPLE_APP, mode="zygote",
        console={"servers": [{"name": "alpha", "host": "127.0.0.1", "port": 7001,
                              "ro_port": 7101}]},
    )  # fmt: skip
    users = UserDirectory({"admin": UserEntry("admin", Role.ADMIN, tmp_path / "admin.pub")})
    srv = ConsoleServer(config, users, passwords=Passwords())
    await srv.start()
    srv.client_key = key  # type: ignore[attr-defined]
    yield srv
    await srv.close()


async def _open(
    server: ConsoleServer, **auth: object
) -> tuple[asyncssh.SSHClientConnection, asyncssh.SSHClientProcess]:  # type: ignore[type-arg]
    conn = await asyncssh.connect(
        "127.0.0.1", server.port, known_hosts=None, agent_path=None, **auth
    )  # type: ignore[arg-type]
    proc = await conn.create_process(term_type="xterm-256color", term_size=(90, 25), encoding=None)
    return conn, proc


async def _read_until(proc: asyncssh.SSHClientProcess, pattern: str) -> re.Match[str]:  # type: ignore[type-arg]
    text = ""
    # A liveness bound: the zygote forks the console, which imports and draws its first
    # frame, on a machine that may be running two test workers and more.
    async with asyncio.timeout(60):
        while True:
            match = re.search(pattern, re.sub(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]", "", text))
            if match:
                return match
            chunk = await proc.stdout.read(65536)
            assert chunk, "session ended"
            text += chunk.decode(errors="replace")


async def test_password_login_through_the_authenticator_gets_its_role(
    server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    conn, proc = await _open(server, username="audit", password="s3cret", client_keys=None)
    await _read_until(proc, r"role=read-only")
    await _read_until(proc, r"alpha:7101")
    conn.close()
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1",
            server.port,
            known_hosts=None,
            agent_path=None,
            username="audit",
            password="wrong",
            client_keys=None,
        )
    assert re.search(
        r"login user=audit role=read-only addr=127\.0\.0\.1:\d+ key=password", caplog.text
    )
    assert re.search(r"login refused user=audit addr=127\.0\.0\.1:\d+: bad password", caplog.text)
    assert "s3cret" not in caplog.text and "wrong" not in caplog.text


async def test_client_disconnect_ends_the_console_process(server) -> None:
    conn, proc = await _open(server, username="admin", client_keys=[server.client_key])
    pid = int((await _read_until(proc, r"pid=(\d+)")).group(1))
    assert pid_alive(pid)
    conn.abort()
    await _eventually(lambda: not pid_alive(pid))
    await _eventually(lambda: server.active_sessions == 0)


async def test_a_dead_zygote_is_replaced_for_the_next_session(server) -> None:
    zygote = server.launcher.zygote_pid
    os.kill(zygote, signal.SIGKILL)
    await _eventually(lambda: not pid_alive(zygote))
    conn, proc = await _open(server, username="admin", client_keys=[server.client_key])
    await _read_until(proc, r"size=90x25")
    assert server.launcher.zygote_pid not in (0, zygote)
    proc.stdin.write(b"q")
    assert (await proc.wait()).exit_status == 0
    conn.close()


async def test_agent_and_tcp_forwarding_are_refused(server) -> None:
    conn = await asyncssh.connect(
        "127.0.0.1",
        server.port,
        known_hosts=None,
        agent_path=None,
        username="admin",
        client_keys=[server.client_key],
    )
    with pytest.raises(asyncssh.ChannelOpenError):
        await conn.open_connection("127.0.0.1", 22)
    with pytest.raises(asyncssh.ChannelListenError):
        await conn.start_server(lambda *a: None, "127.0.0.1", 0)
    conn.close()


async def test_reload_serves_new_sessions_from_a_new_zygote_and_keeps_running_ones(
    server,
) -> None:
    old_zygote = server.launcher.zygote_pid
    conn_a, proc_a = await _open(server, username="admin", client_keys=[server.client_key])
    await _read_until(proc_a, r"size=90x25")
    await server.reload()
    new_zygote = server.launcher.zygote_pid
    assert new_zygote not in (0, old_zygote)
    assert pid_alive(old_zygote)  # it still has a console to look after
    proc_a.stdin.write(b"\x1bOP")  # F1 still reaches the console forked before the reload
    await _read_until(proc_a, r"key=f1")
    conn_b, proc_b = await _open(server, username="admin", client_keys=[server.client_key])
    await _read_until(proc_b, r"size=90x25")
    proc_a.stdin.write(b"q")
    assert (await proc_a.wait()).exit_status == 0
    await _eventually(lambda: not pid_alive(old_zygote))
    proc_b.stdin.write(b"q")
    assert (await proc_b.wait()).exit_status == 0
    conn_a.close()
    conn_b.close()


async def test_a_busy_port_is_a_listen_error(server, tmp_path: Path) -> None:
    config = ServeConfig(state_dir=tmp_path / "other", port=server.port, mode="spawn",
                         app=SAMPLE_APP)  # fmt: skip
    other = ConsoleServer(config, UserDirectory({}))
    with pytest.raises(ListenError) as err:
        await other.start()
    assert err.value.code == "listen_failed"
    assert str(server.port) in err.value.message


async def test_sessions_are_spawned_when_the_zygote_cannot_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "admin.pub").write_bytes(key.export_public_key())
    config = ServeConfig(state_dir=tmp_path / "state", port=0, mode="zygote",
                         app="tests.e2e.broken_preload_app:run")  # fmt: skip
    users = UserDirectory({"admin": UserEntry("admin", Role.ADMIN, tmp_path / "admin.pub")})
    srv = ConsoleServer(config, users)
    await srv.start()
    try:
        assert "consoles will be spawned instead" in caplog.text
        conn, proc = await _open(srv, username="admin", client_keys=[key])
        await _read_until(proc, r"size=90x25")
        proc.stdin.write(b"q")
        assert (await proc.wait()).exit_status == 0
        conn.close()
        assert re.search(r"session \S+ started user=admin pid=\d+ .* mode=spawn", caplog.text)
        assert "cannot start" in config.zygote_log.read_text()
    finally:
        await srv.close()
