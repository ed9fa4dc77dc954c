"""SSH logins are XE users: ``xenon console serve --xe`` asks a real ``xenon xe serve``.

The sessions run :func:`probe` (this module) instead of the console: it reports what the
console process received (its XE user, role and token, checked against XE with
``whoami``), then waits, so the test can read the process's argv and environment from
/proc while it lives; under Landlock it also tries XE's port and a port it must not reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from enterprise_store.client import XeClient
from enterprise_store.services import Principal, Services
from tests._support.ssh import ServerProc, start_server, wait_until
from tests._support.xe_cli import serve_xe, xenon
from tests._support.xe_ssh import CountingForwarder
from xenon_tui.ssh._consolecfg import sandbox_targets
from xenon_tui.ssh._errors import ConfigError
from xenon_tui.ssh._sandbox import abi_version
from xenon_tui.ssh._spec import SessionInfo, check_xe
from xenon_tui.ssh._xeauth import XeAuthConfig, XeAuthority, XeGrant

PASSWORD = "ssh-xe-admin-password-1"
PROBE = "tests.e2e.test_ssh_xe:probe"
ABI = abi_version()


# -- the console stand-in (runs in the session's process) ----------------------------------


def probe(info: SessionInfo) -> int:
    """Reports ``XEPROBE key=value … END``, then waits for one key from the user."""
    import httpx

    xe = info.xe or {}
    found: dict[str, str] = {"user": str(xe.get("user")), "role": str(xe.get("role"))}
    found["has_token"] = "yes" if info.xe_token else "no"
    found["pid"] = str(os.getpid())
    if info.xe_token:
        try:
            ca = str(xe["ca"]) if xe.get("ca") else True
            answer = httpx.get(
                f"{xe['url']}/api/v1/auth/whoami",
                headers={"Authorization": f"Bearer {info.xe_token}"},
                verify=ca,
                timeout=20,
            )
            found["whoami"] = answer.json().get("name", "?") if answer.is_success else "refused"
        except (httpx.HTTPError, PermissionError, OSError) as exc:
            found["whoami"] = f"error:{type(exc).__name__}"
    other = info.console.get("probe", {}).get("other_port")
    if other:
        found["other_port"] = _connect(int(other))
    found["host_ports"] = ",".join(str(p) for p in xe.get("host_ports", [])) or "-"
    line = " ".join(f"{k}={v}" for k, v in sorted(found.items()))
    sys.stdout.write(f"XEPROBE {line} END\r\n")
    sys.stdout.flush()
    # The test reads /proc meanwhile; "try PORT…" asks for connects now, any other line ends.
    while (asked := os.read(0, 1024).decode(errors="replace").split())[:1] == ["try"]:
        tried = " ".join(f"{port}={_connect(int(port))}" for port in asked[1:])
        sys.stdout.write(f"XETRY {tried} END\r\n")
        sys.stdout.flush()
    return 0


def _connect(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return "ok"
    except PermissionError:
        return "denied"
    except OSError as exc:
        return f"error:{exc.errno}"


# -- fixtures ------------------------------------------------------------------------------


@dataclass
class Xe:
    """A running ``xenon xe serve`` with users, keys and a service credential."""

    url: str
    ca: Path
    credential: Path
    keys: dict[str, Path]
    service_token: str
    state: Path

    def admin(self) -> XeClient:
        return XeClient(self.url, ca=self.ca)


def _keypair(directory: Path, name: str) -> Path:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=name)
    path = directory / name
    key.write_private_key(str(path))
    key.write_public_key(f"{path}.pub")
    return path


async def _start_xe(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Xe]:
    state = tmp_path / "xe"
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert code == 0, err
    proc, url = await serve_xe(state)
    try:
        ca = state / "pki" / "ca-cert.pem"
        keydir = tmp_path / "keys"
        keydir.mkdir()
        keys = {name: _keypair(keydir, name) for name in ("alice", "audrey", "stranger")}
        async with XeClient(url, ca=ca) as admin:
            await admin.login("admin", PASSWORD)
            for name, role in (("alice", "operator"), ("audrey", "auditor")):
                await admin.create_user(name, role=role)
                await admin.add_ssh_key(name, keys[name].with_suffix(".pub").read_text(), name)
            created = await admin.create_token("ssh console server", kind="service")
        credential = tmp_path / "service-credential"
        fd = os.open(credential, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, created.token.encode() + b"\n")
        os.close(fd)
    except BaseException:
        proc.kill()
        proc.wait(timeout=30)
        raise
    return proc, Xe(url, ca, credential, keys, created.token, state)


@pytest.fixture(scope="module")
def xe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xe]:
    """One XE for the module's tests (initialising and starting it is most of their cost:
    ~25 s each on a busy machine). Tests leave no session behind (each waits for its
    tokens to be logged out) and count audit records from their own start."""
    proc, started = asyncio.run(_start_xe(tmp_path_factory.mktemp("xe")))
    try:
        yield started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def other_port() -> Iterator[int]:
    """A listening port that is neither XE's nor a console server's."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def ssh_xe(
    tmp_path_factory: pytest.TempPathFactory, other_port: int
) -> Iterator[Callable[..., ServerProc]]:
    started: list[ServerProc] = []

    def start(xe: Xe, *extra: str, mode: str = "spawn", url: str | None = None) -> ServerProc:
        state = tmp_path_factory.mktemp("sshxe")
        console = state / "console.json"
        console.write_text(json.dumps({"servers": [], "probe": {"other_port": other_port}}))
        argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
                "--state-dir", str(state), "--mode", mode, "--app", PROBE,
                "--console-file", str(console), "--xe", url or xe.url, "--xe-ca", str(xe.ca),
                "--xe-credential", str(xe.credential), *extra]  # fmt: skip
        server = start_server(argv, state, timeout=60)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


async def _login(server: ServerProc, user: str, key: Path) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1", server.port, username=user, client_keys=[str(key)], known_hosts=None,
        agent_path=None, preferred_auth="publickey",
    )  # fmt: skip


async def _session(server: ServerProc, user: str, key: Path) -> dict[str, Any]:
    """Logs in, reads the probe's report and the console process's /proc entries."""
    async with await _login(server, user, key) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(120, 30), encoding=None)
        output = b""
        async with asyncio.timeout(60):
            while b" END" not in output:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                output += chunk
        match = re.search(rb"XEPROBE (.*?) END", output)
        assert match, output
        found: dict[str, Any] = dict(item.split("=", 1) for item in match.group(1).decode().split())
        pid = int(found["pid"])
        for name in ("cmdline", "environ"):
            with open(f"/proc/{pid}/{name}", "rb") as fh:  # noqa: ASYNC230 - a small /proc file
                found[name] = fh.read().decode(errors="replace")
        proc.stdin.write(b"q\r")  # the pty is in canonical mode: a line
        async with asyncio.timeout(30):
            await proc.wait_closed()
    return found


async def _session_tokens(xe: Xe, user: str) -> list[Any]:
    async with xe.admin() as admin:
        await admin.login("admin", PASSWORD)
        page = await admin.list_tokens(user=user)
    return [t for t in page.items if t.kind == "session"]


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["spawn", "zygote"])
async def test_an_xe_user_logs_in_with_their_key_and_gets_their_own_token(
    xe: Xe, ssh_xe: Callable[..., ServerProc], mode: str
) -> None:
    server = ssh_xe(xe, mode=mode)
    alice = await _session(server, "alice", xe.keys["alice"])
    audrey = await _session(server, "audrey", xe.keys["audrey"])
    # Each console holds a token XE accepts as that user, with that user's role.
    assert (alice["user"], alice["role"], alice["whoami"]) == ("alice", "operator", "alice")
    assert (audrey["user"], audrey["role"], audrey["whoami"]) == ("audrey", "auditor", "audrey")
    log = server.log()
    assert "login user=alice role=admin" in log and "xe-role=operator" in log
    assert "login user=audrey role=read-only" in log and "xe-role=auditor" in log
    # Neither the service credential nor a token is in argv, the environment or a log.
    for seen in (alice, audrey):
        for text in (seen["cmdline"], seen["environ"]):
            assert "xev_" not in text and "xes_" not in text
    assert xe.service_token not in log and "xes_" not in log
    assert xe.service_token not in server.session_log()
    # The SSH connection is over: its session token is logged out in XE.
    async with asyncio.timeout(30):
        while await _session_tokens(xe, "alice"):  # noqa: ASYNC110 - polls XE
            await asyncio.sleep(0.1)


async def test_a_key_xe_does_not_know_is_refused_and_retries_do_not_reach_xe(
    xe: Xe, ssh_xe: Callable[..., ServerProc]
) -> None:
    before = await _refused_asks(xe)
    server = ssh_xe(xe, "--per-source-penalties", "authfail:5,noauth:1,min:9,max:60")
    refused = 0
    for _ in range(6):
        try:
            await _login(server, "alice", xe.keys["stranger"])
        except asyncssh.PermissionDenied:
            refused += 1
        except (OSError, asyncssh.Error):
            pass  # shut out: closed before the key exchange
        else:
            pytest.fail("a key XE does not know logged in")
    assert refused >= 1
    assert "login refused user=alice" in server.log()
    assert "XE: no such user with that key" in server.log()
    asked = await _refused_asks(xe) - before
    # One question to XE per refused login; two or three (the close of a connection may
    # reach the gate after the next one) charge the source's minimum of 9 s: the rest of
    # the six are refused before the key exchange and never reach XE.
    assert asked == refused and 2 <= refused <= 3
    assert re.search(r"penalty: 127\.0\.0\.1 shut out", server.log())
    report = r"refused \d+ connections? from 127\.0\.0\.1 before key exchange"
    async with asyncio.timeout(30):  # logged once the burst has been quiet for a second
        while not re.search(report, server.log()):  # noqa: ASYNC110 - polls a log file
            await asyncio.sleep(0.1)
    assert not await _session_tokens(xe, "alice")


async def _refused_asks(xe: Xe) -> int:
    """How many times XE has refused the SSH server a session (its audit log)."""
    async with xe.admin() as admin:
        await admin.login("admin", PASSWORD)
        page = await admin.list_audit(action="auth.session_for", limit=1000)
    return sum(1 for r in page.items if r.result == "refused:unauthenticated")


async def test_a_user_cannot_log_in_with_another_users_key(
    xe: Xe, ssh_xe: Callable[..., ServerProc]
) -> None:
    server = ssh_xe(xe)
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(server, "alice", xe.keys["audrey"])
    assert not await _session_tokens(xe, "alice")


async def test_xe_unreachable_refuses_logins_with_a_clear_line(
    xe: Xe, ssh_xe: Callable[..., ServerProc], other_port: int
) -> None:
    # An address where nothing answers HTTPS: a port taken and closed again.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    dead = sock.getsockname()[1]
    sock.close()
    # The operator also named a local account (break-glass): it needs no XE.
    local = f"ops={xe.keys['stranger']}.pub"
    server = ssh_xe(xe, "--user", local, url=f"https://127.0.0.1:{dead}")
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(server, "alice", xe.keys["alice"])
    log = server.log()
    assert f"XE at https://127.0.0.1:{dead} does not answer" in log
    assert "login refused user=alice addr=127.0.0.1" in log
    assert f"XE unreachable at https://127.0.0.1:{dead}" in log
    # No fallback for XE users, but the local account logs in with its own key, and its
    # console has no XE session.
    with pytest.raises(asyncssh.PermissionDenied):
        await _login(server, "ops", xe.keys["alice"])
    ops = await _session(server, "ops", xe.keys["stranger"])
    assert (ops["user"], ops["has_token"]) == ("None", "no")
    assert "login user=ops role=admin" in server.log()


def test_the_service_credential_must_be_private(tmp_path: Path, xe_credential_file: Path) -> None:
    from tests._support.xe_cli import run_xenon

    os.chmod(xe_credential_file, 0o640)
    done = run_xenon(
        "console", "serve", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "s"),
        "--xe", "https://127.0.0.1:1", "--xe-credential", str(xe_credential_file),
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "must be readable by its owner only" in done.stderr
    assert "xev_" not in done.stderr + done.stdout


@pytest.fixture
def xe_credential_file(tmp_path: Path) -> Path:
    path = tmp_path / "credential"
    path.write_text("xev_" + "A" * 43 + "\n")
    path.chmod(0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path


@pytest.mark.skipif(ABI < 4, reason=f"Landlock network rules need ABI 4 (this kernel: {ABI})")
async def test_an_xe_console_reaches_only_xe_and_its_hosts(
    xe: Xe, ssh_xe: Callable[..., ServerProc]
) -> None:
    server = ssh_xe(xe, "--sandbox", "require")
    for user in ("alice", "audrey"):
        seen = await _session(server, user, xe.keys[user])
        assert seen["whoami"] == user  # XE's port (and its CA file) stay reachable
        assert seen["other_port"] == "denied"
    wait_until(lambda: "Landlock ABI" in server.log(), what="sandbox line")


@contextlib.contextmanager
def _listening() -> Iterator[int]:
    """A port listening on 127.0.0.1 (a host's XPS port, as far as connect() can tell)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@contextlib.asynccontextmanager
async def _xe_host(xe: Xe, name: str, port: int, ro_port: int | None = None) -> AsyncIterator[None]:
    """A host in XE's store at 127.0.0.1:``port`` (read-only port ``ro_port``, if any)
    while the context lasts.

    Compute's Add host reads the facts of a real XPS; the test has none, so it takes the
    Policy service's step Compute takes, on the store of the running XE (SQLite, WAL).
    """
    services = await Services.open(f"sqlite:///{xe.state / 'xe.db'}")
    try:
        written = await services.policy.add_host(
            Principal.system(), name=name, address="127.0.0.1", port=port
        )
        if ro_port is not None:
            await services.policy.update_host(
                Principal.system(), written.value.id, {"ro_port": ro_port}
            )
        try:
            yield
        finally:
            await services.policy.remove_host(Principal.system(), written.value.id, force=True)
    finally:
        await services.close()


async def _read_until(proc: Any, marker: bytes) -> dict[str, str]:
    output = b""
    async with asyncio.timeout(60):
        while (match := re.search(marker + rb" (.*?) END", output)) is None:
            chunk = await proc.stdout.read(65536)
            assert chunk, output
            output += chunk
    return dict(item.split("=", 1) for item in match.group(1).decode().split())


async def _try(proc: Any, *ports: int) -> dict[int, str]:
    proc.stdin.write(b"try " + " ".join(map(str, ports)).encode() + b"\r")
    return {int(k): v for k, v in (await _read_until(proc, b"XETRY")).items()}


@pytest.mark.skipif(ABI < 4, reason=f"Landlock network rules need ABI 4 (this kernel: {ABI})")
async def test_an_xe_console_reaches_the_ports_of_xes_hosts_as_read_at_login(
    xe: Xe, ssh_xe: Callable[..., ServerProc], other_port: int
) -> None:
    server = ssh_xe(xe, "--sandbox", "require")
    with _listening() as first, _listening() as later:
        async with (
            _xe_host(xe, "ssh-xe-first", first),
            await _login(server, "alice", xe.keys["alice"]) as conn,
        ):
            proc = await conn.create_process(term_type="xterm", encoding=None)
            seen = await _read_until(proc, b"XEPROBE")
            assert seen["whoami"] == "alice" and str(first) in seen["host_ports"].split(",")
            assert await _try(proc, first, other_port) == {first: "ok", other_port: "denied"}
            async with _xe_host(xe, "ssh-xe-later", later, ro_port=later):
                # Read once at login: a host XE gains later is for the next session.
                assert await _try(proc, later) == {later: "denied"}
                proc.stdin.write(b"q\r")
                async with asyncio.timeout(30):
                    await proc.wait_closed()
                # An auditor's console: only the read-only ports XE records (the later
                # host's; the first host has none, so it is not reachable at all).
                async with await _login(server, "audrey", xe.keys["audrey"]) as again:
                    proc = await again.create_process(term_type="xterm", encoding=None)
                    seen = await _read_until(proc, b"XEPROBE")
                    assert seen["whoami"] == "audrey"
                    tried = await _try(proc, first, later, other_port)
                    assert tried == {first: "denied", later: "ok", other_port: "denied"}
                    proc.stdin.write(b"q\r")
                    async with asyncio.timeout(30):
                        await proc.wait_closed()
    for user in ("alice", "audrey"):  # leave no session behind for the module's other tests
        await _wait_logged_out(xe, user)


async def _wait_logged_out(xe: Xe, user: str) -> None:
    async with asyncio.timeout(60):
        while await _session_tokens(xe, user):  # noqa: ASYNC110 - polls XE
            await asyncio.sleep(0.2)


async def test_hosts_xe_does_not_list_leave_the_console_with_xe_only(
    xe: Xe, caplog: pytest.LogCaptureFixture
) -> None:
    token = "xes_" + "B" * 43  # a session token XE never minted: XE refuses the host list
    authority = XeAuthority(XeAuthConfig(xe.url, xe.credential, xe.ca))
    try:
        grant = XeGrant("alice", "operator", None, "2030-01-01T00:00:00+00:00", token, (9443,))
        with caplog.at_level(logging.WARNING, logger="xenon.ssh"):
            got = await authority.with_host_ports(grant)
    finally:
        await authority.close()
    assert got.host_ports == ()
    lines = [r.getMessage() for r in caplog.records if r.name == "xenon.ssh"]
    assert len(lines) == 1 and "reaches none of them" in lines[0] and "alice" in lines[0]
    assert token not in caplog.text
    _, ports = sandbox_targets({"servers": []}, got.public(authority.config))
    assert ports == {int(xe.url.rsplit(":", 1)[1])}  # XE only


def test_an_xe_console_gets_xes_port_its_hosts_and_its_roles_servers_only() -> None:
    xe = {
        "url": "https://xe.example:8443",
        "user": "u",
        "role": "auditor",
        "host_ports": [9443, 9543],
    }
    # The server has reduced the console file to the role: an auditor's servers are the
    # read-only sockets (port == ro_port).
    settings = {"servers": [{"host": "h", "port": 7101, "ro_port": 7101}], "read_only": True}
    assert sandbox_targets(settings, check_xe(xe))[1] == {7101, 8443, 9443, 9543}
    for bad in ([0], [70000], ["9443"], 9443, [True]):
        with pytest.raises(ConfigError):
            check_xe({**xe, "host_ports": bad})


# -- units: the credential file, the token pipe, the session spec --------------------------


def test_the_credential_file_is_checked(tmp_path: Path) -> None:
    from xenon_tui.ssh._errors import ConfigError
    from xenon_tui.ssh._xeauth import read_credential

    good = "xev_" + "b" * 43
    path = tmp_path / "cred"
    path.write_text(good + "\n")
    path.chmod(0o600)
    assert read_credential(path) == good
    path.chmod(0o400)
    assert read_credential(path) == good
    for mode in (0o640, 0o604, 0o660):
        path.chmod(mode)
        with pytest.raises(ConfigError, match="readable by its owner only"):
            read_credential(path)
    path.chmod(0o600)
    for text in ("xes_" + "b" * 43, "xev_short", "", "x" * 5000):
        path.write_text(text)
        with pytest.raises(ConfigError, match="not an XE service credential") as info:
            read_credential(path)
        assert text[:8] not in info.value.message or not text
    link = tmp_path / "link"
    link.symlink_to(path)
    with pytest.raises(ConfigError):
        read_credential(link)
    with pytest.raises(ConfigError):
        read_credential(tmp_path / "missing")


def test_the_token_travels_in_a_pipe_never_in_the_spec() -> None:
    from xenon_tui.ssh._errors import ConfigError
    from xenon_tui.ssh._spec import Role
    from xenon_tui.ssh._xeauth import read_token, token_pipe, xe_port

    token = "xes_" + "c" * 43
    assert read_token(token_pipe(token)) == token
    with pytest.raises(ConfigError):
        read_token(token_pipe("xev_" + "c" * 43))  # not a session token
    xe = {"url": "https://xe.example:8443", "user": "alice", "role": "operator", "ca": None}
    info = SessionInfo("s1", "alice", Role.ADMIN, "p", "xterm", None, "a.b:c", "/l", xe=xe,
                       xe_token=token)  # fmt: skip
    text = info.to_json()
    assert token not in text and token not in repr(info)
    back = SessionInfo.from_json(text)
    assert back.xe == xe and back.xe_token == ""
    with pytest.raises(ConfigError):
        SessionInfo.from_json(text.replace('"role":"operator"', '"role":""'))
    assert xe_port("https://xe.example:8443") == 8443
    assert xe_port("https://xe.example") == 443
    for bad in ("ftp://x", "https://", "https://x:99999"):
        with pytest.raises(ConfigError):
            xe_port(bad)


async def test_logins_read_their_hosts_over_one_kept_connection(xe: Xe) -> None:
    """Each login reads its user's hosts with that user's token over the server's one XE
    client, on the connection its service credential already opened (no TLS handshake
    per login, #13): a forwarder in front of XE counts the connections. A token XE
    refuses still gets no host."""
    port = int(xe.url.rsplit(":", 1)[1])
    public = xe.keys["alice"].with_suffix(".pub").read_text().strip()
    with _listening() as host_port:
        async with (
            _xe_host(xe, "ssh-xe-pooled", host_port),
            CountingForwarder(port) as fwd,
        ):
            url = f"https://127.0.0.1:{fwd.port}"
            authority = XeAuthority(XeAuthConfig(url, xe.credential, xe.ca))
            try:
                first = await authority.session_for("alice", public)
                second = await authority.session_for("alice", public)
                service_connections = fwd.accepted  # the service credential's own
                got = [await authority.with_host_ports(g) for g in (first, second)]
                never = XeGrant("alice", "operator", None, "2030-01-01", "xes_" + "C" * 43)
                refused = await authority.with_host_ports(never)
                opened = fwd.accepted - service_connections
            finally:
                for grant in (first, second):
                    authority.revoke(grant)
                await authority.close()
    assert service_connections == 1
    assert [host_port in g.host_ports for g in got] == [True, True]
    assert refused.host_ports == ()
    assert opened == 0  # three reads, two users' tokens and a refused one: no new connection
    await _wait_logged_out(xe, "alice")


def test_start_stages_are_logged_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from benchmarks._ssh_xe import server_stamps, stage_split
    from xenon_tui.ssh import _stages

    peer = "127.0.0.1:4242"
    monkeypatch.delenv(_stages.ENV, raising=False)
    with caplog.at_level(logging.INFO, logger="xenon.ssh"):
        _stages.stamp(peer, "connect")
        assert caplog.records == []  # off by default: nothing per session
        monkeypatch.setenv(_stages.ENV, "1")
        for name in ("connect", "xe_ask", "xe_session", "auth", "shell", "xe_hosts"):
            _stages.stamp(peer, name)
    log = tmp_path / "ssh-server.log"  # the server log's lines, read as the benchmark does
    log.write_text("".join(f"2026-01-01 INFO - {r.getMessage()}\n" for r in caplog.records))
    seen = server_stamps(log)[peer]
    assert list(seen) == ["connect", "xe_ask", "xe_session", "auth", "shell", "xe_hosts"]
    split = stage_split({"start": seen["connect"] - 1, "frame": seen["xe_hosts"] + 1}, seen)
    # Stages in time order (the hosts are read while the channel opens), each named by
    # where it ends, none negative.
    assert list(split) == ["connect", "xe_ask", "xe_session", "auth", "shell", "xe_hosts", "frame"]
    assert all(ms >= 0 for ms in split.values())
