"""The Landlock sandbox of console processes: the kernel refuses what a console must not do.

Unit tests restrict a forked child and report back through a pipe; end-to-end tests log in
over SSH (asyncssh) to a real server whose sessions run a probe instead of the console.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.ssh import Keys, ServerProc, start_server
from xenon_tui.ssh._consolecfg import sandbox_targets
from xenon_tui.ssh._sandbox import (
    READ_EXEC,
    Rules,
    SandboxError,
    abi_version,
    code_dirs,
    console_rules,
    restrict,
)
from xenon_tui.ssh._spec import SessionInfo

ABI = abi_version()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")
needs_net = pytest.mark.skipif(ABI < 4, reason="Landlock network rules need ABI 4")
needs_scope = pytest.mark.skipif(ABI < 6, reason="Landlock signal scoping needs ABI 6")
PROBE_APP = "tests.e2e.sandbox_probe_app:run"


def in_sandbox(rules: Rules, body: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Runs ``body`` in a forked child restricted to ``rules``; returns what it reports."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        os.close(read)
        try:
            restrict(rules)
            report = body()
        except BaseException as exc:
            report = {"error": repr(exc)}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)  # type: ignore[no-any-return]


def outcome(action: Callable[[], object]) -> str:
    try:
        action()
    except PermissionError:
        return "denied"
    return "ok"


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two listening sockets on 127.0.0.1 (say, a read-write and a read-only port)."""
    socks = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        socks.append(sock)
    yield socks[0].getsockname()[1], socks[1].getsockname()[1]
    for sock in socks:
        sock.close()


@needs_landlock
def test_only_what_the_rules_allow(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    elsewhere.mkdir()
    (elsewhere / "host_key").write_text("secret")
    (elsewhere / "ro.pem").write_text("read-only cert")
    log = elsewhere / "sessions.log"
    log.write_text("")
    rules = console_rules(
        home=str(home), log_path=str(log), tls_files=[str(elsewhere / "ro.pem")],
        connect_ports=None,
    )  # fmt: skip

    # An /etc file Python does not need (deployments keep keys under /etc).
    other_etc = next(
        (p for p in map(Path, ("/etc/hostname", "/etc/debian_version", "/etc/shells"))
         if p.is_file() and not p.is_symlink()),
        None,
    )  # fmt: skip

    def body() -> dict[str, str]:
        import decimal  # noqa: F401  (a module not imported yet: code stays readable)
        import email.mime.text  # noqa: F401

        return {
            "host_key": outcome(lambda: (elsewhere / "host_key").read_text()),
            "tls_file": outcome(lambda: (elsewhere / "ro.pem").read_text()),
            "tls_file_write": outcome(lambda: (elsewhere / "ro.pem").write_text("x")),
            "new_file_beside": outcome(lambda: (elsewhere / "new").write_text("x")),
            "log_append": outcome(lambda: log.open("a").write("line\n")),
            "home_write": outcome(lambda: (home / "export.xml").write_text("<x/>")),
            "home_mkdir": outcome(lambda: (home / "sub").mkdir()),
            "home_read": outcome(lambda: (home / "export.xml").read_text()),
            "home_delete": outcome(lambda: (home / "export.xml").unlink()),
            "etc_hosts": outcome(lambda: Path("/etc/hosts").read_text()),
            "etc_other": outcome(lambda: other_etc.read_bytes()) if other_etc else "denied",
        }

    assert in_sandbox(rules, body) == {
        "host_key": "denied",
        "tls_file": "ok",
        "tls_file_write": "denied",
        "new_file_beside": "denied",
        "log_append": "ok",
        "home_write": "ok",
        "home_mkdir": "ok",
        "home_read": "ok",
        "home_delete": "ok",
        "etc_hosts": "ok",
        "etc_other": "denied",
    }
    assert (elsewhere / "host_key").read_text() == "secret"
    assert log.read_text() == "line\n"


@needs_net
def test_read_only_consoles_reach_only_their_ports(
    tmp_path: Path, listeners: tuple[int, int]
) -> None:
    rw_port, ro_port = listeners
    rules = console_rules(home=None, log_path=str(tmp_path / "log"), tls_files=[],
                          connect_ports=[ro_port])  # fmt: skip

    def body() -> dict[str, str]:
        def connect(port: int) -> None:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

        return {"rw": outcome(lambda: connect(rw_port)), "ro": outcome(lambda: connect(ro_port))}

    assert in_sandbox(rules, body) == {"rw": "denied", "ro": "ok"}
    # Without port rules (a read-write console) the network is left alone.
    unrestricted = console_rules(home=None, log_path=str(tmp_path / "log"), tls_files=[],
                                 connect_ports=None)  # fmt: skip
    assert in_sandbox(
        unrestricted,
        lambda: {"rw": outcome(lambda: socket.create_connection(("127.0.0.1", rw_port)).close())},
    ) == {"rw": "ok"}


@needs_net
def test_a_console_told_why_its_connection_was_refused(
    tmp_path: Path, listeners: tuple[int, int], xps_pki: Any
) -> None:
    rw_port, ro_port = listeners
    cert, key = xps_pki.clients["console"]
    rules = console_rules(home=None, log_path=str(tmp_path / "log"),
                          tls_files=[str(xps_pki.ca), str(cert), str(key)],
                          connect_ports=[ro_port])  # fmt: skip

    def body() -> dict[str, str]:
        from xps.client import XpsClient

        client = XpsClient("127.0.0.1", rw_port, ca=xps_pki.ca, cert=cert, key=key, timeout=5)
        try:
            asyncio.run(client.connect())
        except Exception as exc:
            return {"type": type(exc).__name__, "message": str(exc)}
        return {"type": "connected"}

    report = in_sandbox(rules, body)
    assert report["type"] == "NotPermitted"
    assert report["message"] == (
        f"cannot connect to 127.0.0.1:{rw_port}: not permitted for this process (Permission denied)"
    )


@needs_scope
def test_no_signals_outside_the_sandbox(tmp_path: Path) -> None:
    rules = console_rules(home=None, log_path=str(tmp_path / "log"), tls_files=[],
                          connect_ports=None)  # fmt: skip
    parent = os.getpid()
    report = in_sandbox(
        rules,
        lambda: {
            "parent": outcome(lambda: os.kill(parent, 0)),
            "self": outcome(lambda: os.kill(os.getpid(), 0)),
        },
    )
    assert report == {"parent": "denied", "self": "ok"}


def test_keys_under_a_shared_directory_are_reported(tmp_path: Path) -> None:
    import sysconfig

    from xenon_tui.ssh._sandbox import exposed

    stdlib = sysconfig.get_paths()["stdlib"]
    assert exposed([f"{stdlib}/keys/rw.key", "/usr/share/xenon/state", tmp_path / "rw.key"]) == [
        f"{stdlib}/keys/rw.key",
        "/usr/share/xenon/state",
    ]
    assert exposed(["/etc/xenon-tools/pki/client-key.pem"]) == []


@needs_landlock
def test_a_console_that_cannot_be_confined_does_not_start(tmp_path: Path) -> None:
    from xenon_tui.ssh._child import apply_sandbox

    log = tmp_path / "sessions.log"
    info = SessionInfo(
        "s9", "viewer", "read-only", "p", "xterm", None, "tests.e2e.sample_app:run", str(log),  # type: ignore[arg-type]
        console={"servers": [{"name": "a", "host": "h", "port": "not-a-port"}]},
        home=str(tmp_path),
    )  # fmt: skip
    pid = os.fork()
    if pid == 0:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        apply_sandbox(info)  # exits 1 when the sandbox cannot be set up
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
    assert "s9 user=viewer: no sandbox (" in log.read_text()
    assert "console not started" in log.read_text()


def test_code_dirs_name_packages_not_the_directories_holding_them(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "single.py").write_text("")
    (tmp_path / "keys").mkdir()
    (tmp_path / "client.key").write_text("secret")
    sys.path.insert(0, str(tmp_path))
    try:
        found = code_dirs()
    finally:
        sys.path.remove(str(tmp_path))
    assert str(tmp_path / "pkg") in found
    assert str(tmp_path / "single.py") in found
    assert str(tmp_path) not in found
    assert str(tmp_path / "keys") not in found
    assert str(tmp_path / "client.key") not in found
    assert str(tmp_path) not in found
    assert os.path.realpath(sysconfig.get_paths()["purelib"]) in found
    assert os.path.realpath(sys.prefix) not in found  # the prefix as a whole is not code


def test_sandbox_targets_follow_the_role() -> None:
    settings = {
        "servers": [{"name": "a", "host": "127.0.0.1", "port": 7101, "ro_port": 7101}],
        "ca": "/s/ca.pem", "cert": "/s/ro.pem", "key": "/s/ro.key", "read_only": True,
    }  # fmt: skip
    assert sandbox_targets(settings) == (["/s/ca.pem", "/s/ro.pem", "/s/ro.key"], {7101})
    admin = {**settings, "read_only": False, "cert": "/s/rw.pem", "key": "/s/rw.key"}
    assert sandbox_targets(admin) == (["/s/ca.pem", "/s/rw.pem", "/s/rw.key"], None)


def test_rules_refused_by_the_kernel_are_errors(tmp_path: Path) -> None:
    if ABI < 1:
        with pytest.raises(SandboxError, match="not available"):
            restrict(Rules())
        return
    rules = Rules(connect_ports=frozenset({0}))
    rules.allow(tmp_path, READ_EXEC)
    if ABI >= 4:
        report = in_sandbox(rules, lambda: {})
        assert "port out of range" in report["error"]


def test_session_spec_checks_the_sandbox_mode() -> None:
    from xenon_tui.ssh._errors import ConfigError

    base = SessionInfo("s1", "u", "admin", "p", "xterm", None, "m:f", "/l")  # type: ignore[arg-type]
    assert SessionInfo.from_json(base.to_json()).sandbox == "auto"
    raw = json.loads(base.to_json())
    raw["sandbox"] = "sometimes"
    with pytest.raises(ConfigError, match="sandbox must be one of"):
        SessionInfo.from_json(json.dumps(raw))


# -- end to end: a real server, real SSH logins, the probe instead of the console -------------


def _probe_server(
    tmp_path: Path, keys: Keys, ports: tuple[int, int], *extra: str, mode: str = "zygote"
) -> ServerProc:
    state = tmp_path / "state"
    pki = tmp_path / "pki"
    pki.mkdir()
    for name in ("ca.pem", "rw.pem", "rw.key", "ro.pem", "ro.key"):
        (pki / name).write_text(f"{name}\n")
    rw_port, ro_port = ports
    console = {
        "servers": [{"name": "a", "host": "127.0.0.1", "port": rw_port, "ro_port": ro_port}],
        "ca": str(pki / "ca.pem"),
        "cert": str(pki / "rw.pem"),
        "key": str(pki / "rw.key"),
        "tls_read_only": {"cert": str(pki / "ro.pem"), "key": str(pki / "ro.key")},
        "probe": {
            "read": {
                "host_key": str(state / "ssh_host_ed25519_key"),
                "rw_key": str(pki / "rw.key"),
                "ro_key": str(pki / "ro.key"),
                "server_log": str(state / "ssh-server.log"),
                "other_home": str(state / "files" / "admin" / "note.txt"),
            },
            "write": {
                "authorized_keys": str(tmp_path / "admin.pub"),
                "state_file": str(state / "x"),
            },
            "connect": {"rw_port": rw_port, "ro_port": ro_port},
        },
    }
    (tmp_path / "console.json").write_text(json.dumps(console))
    authorized = tmp_path / "admin.pub"  # this server's copy: a probe may try to write it
    authorized.write_bytes(Path(f"{keys.admin}.pub").read_bytes())
    argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
            "--state-dir", str(state), "--mode", mode, "--app", PROBE_APP,
            "--user", f"admin={authorized}", "--read-only-user", f"viewer={keys.viewer}.pub",
            "--console-file", str(tmp_path / "console.json"), *extra]  # fmt: skip
    return start_server(argv, state)


async def _probe(server: ServerProc, user: str, key: Path) -> dict[str, str]:
    import asyncssh

    async with asyncssh.connect(
        "127.0.0.1", server.port, username=user, client_keys=[str(key)], known_hosts=None,
        agent_path=None,
    ) as conn:  # fmt: skip
        proc = await conn.create_process(term_type="xterm", term_size=(120, 30), encoding=None)
        output = b""
        async with asyncio.timeout(30):
            while b" END" not in output:
                chunk = await proc.stdout.read(65536)
                if not chunk:
                    break
                output += chunk
    match = re.search(rb"PROBE (.*?) END", output)
    assert match, output
    return dict(item.split("=", 1) for item in match.group(1).decode().split())


@needs_landlock
@pytest.mark.parametrize("mode", ["zygote", "spawn"])
async def test_consoles_are_confined(
    tmp_path: Path, ssh_keys: Keys, listeners: tuple[int, int], mode: str
) -> None:
    server = _probe_server(tmp_path, ssh_keys, listeners, mode=mode)
    try:
        admin = await _probe(server, "admin", ssh_keys.admin)
        viewer = await _probe(server, "viewer", ssh_keys.viewer)
    finally:
        server.stop()
    denied_to_all = ("host_key", "server_log", "authorized_keys", "state_file")
    for name in denied_to_all:
        assert admin[name] == viewer[name] == "denied", name
    # Each role reads its own TLS files only; each user has a files directory of its own.
    assert (admin["rw_key"], admin["ro_key"]) == ("ok", "denied")
    assert (viewer["rw_key"], viewer["ro_key"]) == ("denied", "ok")
    assert admin["home_write"] == viewer["home_write"] == "ok"
    assert admin["cwd_is_home"] == viewer["cwd_is_home"] == "ok"
    assert viewer["other_home"] == "denied"
    assert (server.state_dir / "files" / "admin" / "note.txt").read_text() == "mine\n"
    assert oct((server.state_dir / "files" / "viewer").stat().st_mode & 0o777) == "0o700"
    if ABI >= 4:
        assert (viewer["rw_port"], viewer["ro_port"]) == ("denied", "ok")
        assert (admin["rw_port"], admin["ro_port"]) == ("ok", "ok")
    if ABI >= 6:
        assert admin["signal_parent"] == viewer["signal_parent"] == "denied"
    assert f"Landlock ABI {ABI}" in server.log()
    assert "no sandbox" not in server.session_log()


async def test_sandbox_off_is_what_lets_a_console_read_the_host_key(
    tmp_path: Path, ssh_keys: Keys, listeners: tuple[int, int]
) -> None:
    server = _probe_server(tmp_path, ssh_keys, listeners, "--sandbox", "off")
    try:
        viewer = await _probe(server, "viewer", ssh_keys.viewer)
    finally:
        server.stop()
    assert viewer["host_key"] == viewer["rw_key"] == viewer["rw_port"] == "ok"
    assert "console sandbox: off" in server.log()


@needs_landlock
async def test_the_real_console_runs_confined_through_every_view(
    tmp_path: Path, ssh_keys: Keys
) -> None:
    import asyncssh

    state = tmp_path / "state"
    (tmp_path / "console.json").write_text('{"servers": []}')
    argv = [sys.executable, "-m", "xenon_tui.ssh", "--listen", "127.0.0.1:0",
            "--state-dir", str(state), "--user", f"admin={ssh_keys.admin}.pub",
            "--console-file", str(tmp_path / "console.json")]  # fmt: skip
    server = start_server(argv, state)
    try:
        async with asyncssh.connect(
            "127.0.0.1", server.port, username="admin", client_keys=[str(ssh_keys.admin)],
            known_hosts=None, agent_path=None,
        ) as conn:  # fmt: skip
            proc = await conn.create_process(
                term_type="xterm-256color", term_size=(120, 36), encoding=None
            )
            seen = bytearray()

            async def until(marker: bytes) -> None:
                async with asyncio.timeout(30):
                    while marker not in re.sub(rb"\x1b\[[0-9;?]*[ -/]*[@-~]", b"", bytes(seen)):
                        chunk = await proc.stdout.read(65536)
                        assert chunk, "the console ended"
                        seen.extend(chunk)

            await until(b"Xenon servers")
            # Every view (each built when first shown, from code loaded after the sandbox),
            # and the help screen. A lone Esc closes the help once the terminal parser has
            # timed it out, and the view under it (Domains) is drawn again; only then the
            # next key. (This slept 0.5 s after the Esc: under load the Esc and the next key
            # could reach the parser together, and the help stayed open.)
            steps = (
                (b"2", b"Policy"), (b"3", b"Hypercall Profiles"),
                (b"6", b"Current performance"), (b"5", b"Violations"), (b"4", b"Domid"),
                (b"?", b"Keys"), (b"\x1b", b"Domid"), (b"5", b"Violations"),
            )  # fmt: skip
            for key, marker in steps:
                seen.clear()
                proc.stdin.write(key)
                await until(marker)
            proc.stdin.write(b"\x11")  # Ctrl+Q
            async with asyncio.timeout(15):
                await proc.wait_closed()
            assert proc.exit_status == 0
    finally:
        server.stop()
    assert "no sandbox" not in server.session_log()
    assert "Traceback" not in server.session_log()
