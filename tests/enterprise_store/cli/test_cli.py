"""``xenon xe``: light imports, --help everywhere, init, and the CLI against a real
``xenon xe serve`` over HTTPS (TLS 1.3 only) on 127.0.0.1 port 0."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_the_cli_module_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, argparse; import enterprise_store.cli as c; "
        "c.register(argparse.ArgumentParser().add_subparsers()); "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'httpx', 'pydantic', "
        "'alembic', 'asyncpg', 'textual') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def _commands() -> list[list[str]]:
    import argparse

    from enterprise_store.cli import register

    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])

    top = argparse.ArgumentParser(prog="xenon")
    sub = top.add_subparsers()
    register(sub)
    walk(sub.choices["xe"], ["xe"])
    return found


def test_xe_is_registered_in_the_xenon_command_line() -> None:
    import importlib

    cli = importlib.import_module("xenon_tui.cli")
    assert "enterprise_store.cli" in cli.COMMAND_MODULES


def test_every_xe_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from enterprise_store.cli import main

    commands = _commands()
    names = {" ".join(c) for c in commands}
    for expected in (
        "xe init",
        "xe serve",
        "xe login",
        "xe user create",
        "xe user key add",
        "xe token create",
        "xe audit verify",
    ):
        assert expected in names
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([*command[1:], "--help"])
        assert done.value.code == 0
        assert "usage: xenon " + " ".join(command) in capsys.readouterr().out


def test_init_prints_a_one_time_password_and_refuses_a_second_admin(
    tmp_path: Path, xe_cli: Cli
) -> None:
    state = tmp_path / "xe"
    done = xe_cli("init", "--state-dir", str(state), "--admin", "boss", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["admin"] == "boss" and len(doc["one_time_password"]) >= 20
    assert (state.stat().st_mode & 0o777) == 0o700
    assert (state / "xe.json").stat().st_mode & 0o777 == 0o600
    assert (state / "pki" / "xe-server-key.pem").stat().st_mode & 0o777 == 0o600
    again = xe_cli(
        "init", "--state-dir", str(state), "--password-stdin", stdin="another-password-1\n"
    )
    assert again.returncode == 1 and "conflict" in again.stderr


def test_the_cli_against_a_real_tls_server(
    xe_state: Path,
    xe_cli: Cli,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
    tmp_path: Path,
) -> None:
    proc, url = start_serve(xe_state, "--log-json")
    assert url.startswith("https://127.0.0.1:")
    s = ["--state-dir", str(xe_state)]
    done = xe_cli("whoami", *s)
    assert done.returncode == 1 and "unauthenticated" in done.stderr
    done = xe_cli(
        "login", *s, "--user", "admin", "--password-stdin", stdin=admin_password_cli + "\n"
    )
    assert done.returncode == 0, done.stderr
    assert (xe_state / "xe-token").stat().st_mode & 0o777 == 0o600
    done = xe_cli("user", "create", *s, "alice", "--role", "operator", "--json")
    assert done.returncode == 0, done.stderr
    otp = json.loads(done.stdout)["one_time_password"]
    done = xe_cli("user", "list", *s, "--json")
    assert [u["name"] for u in json.loads(done.stdout)] == ["admin", "alice"]
    done = xe_cli("token", "create", *s, "ci", "--role", "auditor", "--ttl", "600")
    assert done.returncode == 0 and done.stdout.startswith("xea_")
    robot_token = done.stdout.strip()
    done = xe_cli("user", "delete", *s, "alice", env={"XENON_XE_TOKEN": robot_token})
    assert done.returncode == 1 and "role_required" in done.stderr
    # alice logs in with her one-time password through a token file of her own
    alice_file = tmp_path / "alice-token"
    done = xe_cli(
        "login",
        *s,
        "--user",
        "alice",
        "--password-stdin",
        "--token-file",
        str(alice_file),
        stdin=otp + "\n",
    )
    assert done.returncode == 0 and "one-time password" in done.stdout
    done = xe_cli(
        "user",
        "passwd",
        *s,
        "--token-file",
        str(alice_file),
        "--password-stdin",
        stdin=f"{otp}\nalice-new-password-1\n",
    )
    assert done.returncode == 0, done.stderr
    done = xe_cli("audit", "verify", *s)
    assert done.returncode == 0 and "audit chain ok" in done.stdout
    fingerprint = done.stdout.split("fingerprint: ")[1].strip()
    done = xe_cli("audit", "verify", *s, "--expect", fingerprint, "--json")
    assert json.loads(done.stdout)["ok"] is True
    done = xe_cli("audit", "list", *s, "--action", "auth.login", "--json")
    assert {r["result"] for r in json.loads(done.stdout)} == {"ok"}

    # TLS 1.3 only: a TLS 1.2 client is refused in the handshake
    host, port = url.removeprefix("https://").rsplit(":", 1)

    def handshake(version: ssl.TLSVersion) -> str | None:
        ctx = ssl.create_default_context(cafile=str(xe_state / "pki" / "ca-cert.pem"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = version
        with (
            socket.create_connection((host, int(port)), timeout=30) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            return tls.version()

    assert handshake(ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(ssl.TLSVersion.TLSv1_2)

    done = xe_cli("logout", *s)
    assert done.returncode == 0 and not (xe_state / "xe-token").exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert not (xe_state / "xe-server.json").exists()
    lines = [json.loads(line) for line in (xe_state / "serve.log").read_text().splitlines()]
    assert {"ts", "level", "logger", "message"} <= lines[0].keys()
    messages = [line["message"] for line in lines]
    assert "XE API stopped" in messages
    assert any('"POST /api/v1/users HTTP/1.1" 201' in m for m in messages)  # access log
    assert not any(admin_password_cli in m or "xes_" in m for m in messages)
