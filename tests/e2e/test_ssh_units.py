"""The console server's building blocks, without a network: keys, accounts, roles, specs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import asyncssh
import pytest

from xenon_tui.ssh import (
    ConfigError,
    HostKeyError,
    Role,
    ServeConfig,
    SessionInfo,
    UserDirectory,
    UserEntry,
    console_for_role,
    load_or_create_host_key,
)
from xenon_tui.ssh._child import child_env
from xenon_tui.ssh._spec import DEFAULT_TERM, safe_colorterm, safe_term


def test_host_key_is_generated_once_with_mode_0600_and_then_kept(tmp_path: Path) -> None:
    path = tmp_path / "state" / "host_key"
    first = load_or_create_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_or_create_host_key(path)
    assert first.get_fingerprint() == second.get_fingerprint()
    assert not [p for p in path.parent.iterdir() if p.name != "host_key"]  # no temp files


def test_a_host_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "host_key"
    load_or_create_host_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(HostKeyError) as err:
        load_or_create_host_key(path)
    assert err.value.code == "host_key"


def test_a_corrupt_host_key_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "host_key"
    path.write_text("not a key")
    os.chmod(path, 0o600)
    with pytest.raises(HostKeyError):
        load_or_create_host_key(path)
    assert path.read_text() == "not a key"


def test_users_file_roles_and_authorized_keys(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "ops.keys").write_bytes(key.export_public_key())
    (tmp_path / "users.json").write_text(json.dumps({"users": [
        {"name": "ops", "role": "admin", "authorized_keys": "ops.keys"},
        {"name": "audit", "role": "read-only", "authorized_keys": "missing.keys"},
    ]}))  # fmt: skip
    users = UserDirectory.from_file(tmp_path / "users.json")
    assert users.role_of("ops") is Role.ADMIN
    assert users.role_of("audit") is Role.READ_ONLY
    assert users.role_of("root") is None
    keys = users.authorized_keys("ops")
    assert keys is not None
    assert keys.validate(key.convert_to_public(), "127.0.0.1", "127.0.0.1") is not None
    assert keys.validate(other.convert_to_public(), "127.0.0.1", "127.0.0.1") is None
    assert users.authorized_keys("audit") is None  # unreadable file: nobody gets in
    assert users.authorized_keys("root") is None


@pytest.mark.parametrize("bad", ["Root", "a b", "../x", "", "x" * 40, "ops\n"])
def test_bad_user_names_are_rejected(tmp_path: Path, bad: str) -> None:
    (tmp_path / "users.json").write_text(json.dumps({"users": [
        {"name": bad, "role": "admin", "authorized_keys": "k"}]}))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        UserDirectory.from_file(tmp_path / "users.json")
    assert err.value.code == "config_invalid"


def test_read_only_role_only_learns_read_only_sockets() -> None:
    settings = {
        "servers": [
            {"name": "a", "host": "127.0.0.1", "port": 7001, "ro_port": 7101},
            {"name": "b", "host": "127.0.0.1", "port": 7002},
        ],
        "ca": "/x/ca.pem",
    }
    ro = console_for_role(settings, Role.READ_ONLY)
    assert ro["read_only"] is True
    assert ro["servers"] == [{"name": "a", "host": "127.0.0.1", "port": 7101, "ro_port": 7101}]
    assert "7001" not in json.dumps(ro) and "7002" not in json.dumps(ro)
    admin = console_for_role(settings, Role.ADMIN)
    assert admin["read_only"] is False
    assert [s["port"] for s in admin["servers"]] == [7001, 7002]
    assert admin["ca"] == "/x/ca.pem"


def test_session_info_round_trip_and_untrusted_terminal_values() -> None:
    info = SessionInfo(
        "s1",
        "ops",
        Role.ADMIN,
        "127.0.0.1:5",
        "xterm-kitty",
        "truecolor",
        "tests.e2e.sample_app:run",
        "/tmp/log",
        {"servers": []},
        42,
    )
    assert SessionInfo.from_json(info.to_json()) == info
    assert safe_term("xterm\x1b]0;pwned\x07") == DEFAULT_TERM
    assert safe_term(None) == DEFAULT_TERM
    assert safe_term("xterm\n") == DEFAULT_TERM
    assert safe_colorterm("truecolor; rm -rf /") is None
    assert safe_colorterm("24bit") == "24bit"


def test_console_environment_is_minimal_and_never_fixes_the_size() -> None:
    info = SessionInfo("s1", "ops", Role.ADMIN, "p", "screen", None, "a.b:c", "/l")
    assert child_env(info, "/home/x") == {
        "TERM": "screen", "LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/home/x",
    }  # fmt: skip
    # With the user's files directory: it is HOME and TMPDIR (the sandbox's one writable place).
    mine = SessionInfo("s1", "ops", Role.ADMIN, "p", "screen", None, "a.b:c", "/l", home="/f/ops")
    assert child_env(mine, "/home/x")["HOME"] == child_env(mine, "/home/x")["TMPDIR"] == "/f/ops"


@pytest.mark.parametrize(
    ("field", "value"),
    [("app", "os.system"), ("app", "x:y; rm"), ("mode", "thread"), ("port", 70000),
     ("max_sessions", 0), ("idle_timeout_s", -1.0)],
)  # fmt: skip
def test_serve_config_validation(tmp_path: Path, field: str, value: object) -> None:
    with pytest.raises(ConfigError):
        ServeConfig(state_dir=tmp_path, **{field: value})  # type: ignore[arg-type]


def test_client_chosen_names_cannot_forge_log_lines() -> None:
    from xenon_tui.ssh._server import printable

    assert printable("root\n2026-01-01 INFO - login user=admin") == (
        "root\\n2026-01-01 INFO - login user=admin"
    )
    assert "\x1b" not in printable("\x1b[2Jx")
    assert len(printable("a" * 1000)) == 64


def test_serve_flags_build_role_aware_console_settings(tmp_path: Path) -> None:
    import argparse

    from xenon_tui.cli.console_serve import add_serve_arguments, console_settings

    (tmp_path / "console.json").write_text(
        '{"servers": [{"host": "10.0.0.1", "port": 8443, "ro_port": 8444}], "ca": "ca.pem"}'
    )
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    args = parser.parse_args(["--console-file", str(tmp_path / "console.json"),
                              "--server", "127.0.0.1:7001/7101", "--server", "h:7002",
                              "--cert", str(tmp_path / "c.pem")])  # fmt: skip
    settings = console_settings(args)
    assert settings["ca"] == str(tmp_path / "ca.pem")
    assert settings["cert"] == str(tmp_path / "c.pem")
    ro = console_for_role(settings, Role.READ_ONLY)
    assert [(s["host"], s["port"]) for s in ro["servers"]] == [("10.0.0.1", 8444),
                                                                ("127.0.0.1", 7101)]  # fmt: skip
    with pytest.raises(SystemExit):
        parser.parse_args(["--server", "h:0"])


def test_authorized_keys_writable_by_others_are_ignored(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    keys_file = tmp_path / "ops.keys"
    keys_file.write_bytes(key.export_public_key())
    users = UserDirectory({"ops": UserEntry("ops", Role.ADMIN, keys_file)})
    os.chmod(keys_file, 0o644)
    assert users.authorized_keys("ops") is not None
    os.chmod(keys_file, 0o666)
    assert users.authorized_keys("ops") is None


def test_the_server_process_never_imports_textual() -> None:
    import subprocess
    import sys

    code = (
        "import sys, argparse\n"
        "from xenon_tui.cli.console_serve import add_serve_arguments, build_server\n"
        "from xenon_tui.ssh import ConsoleServer\n"
        "import xenon_tui.ssh._server, xenon_tui.ssh._zygote, xenon_tui.ssh._session\n"
        "p = argparse.ArgumentParser(); add_serve_arguments(p)\n"
        "build_server(p.parse_args(['--user', 'a=/dev/null', '--state-dir', '/tmp/x']))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_read_only_role_gets_only_the_read_only_certificate(tmp_path: Path) -> None:
    from xenon_tui.ssh._config import load_console_file

    (tmp_path / "console.json").write_text(
        '{"servers": [{"host": "127.0.0.1", "port": 5000, "ro_port": 5001}],'
        ' "ca": "ca.pem", "cert": "rw.pem", "key": "rw-key.pem",'
        ' "tls_read_only": {"cert": "ro.pem", "key": "ro-key.pem"}}'
    )
    settings = load_console_file(tmp_path / "console.json")
    viewer = console_for_role(settings, Role.READ_ONLY)
    assert (viewer["cert"], viewer["key"]) == (
        str(tmp_path / "ro.pem"),
        str(tmp_path / "ro-key.pem"),
    )
    assert "rw" not in json.dumps(viewer)  # the read-write key's path never reaches it
    admin = console_for_role(settings, Role.ADMIN)
    assert admin["cert"] == str(tmp_path / "rw.pem") and "tls_read_only" not in admin
