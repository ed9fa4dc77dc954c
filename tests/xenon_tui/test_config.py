"""Configuration: addresses, remembered settings (JSON/TOML), keymap validation, CLI args."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from xenon_tui._config import ConsoleConfig, ServerEntry, load_config, save_config
from xenon_tui._errors import ConfigError
from xenon_tui.cli._console_args import add_arguments, build_config


@pytest.mark.parametrize(
    ("text", "host", "port", "ro"),
    [
        ("xenon-1", "xenon-1", 8443, None),
        ("10.0.0.5:9000", "10.0.0.5", 9000, None),
        ("h:9000/9001", "h", 9000, 9001),
        ("[::1]:7000", "[::1]", 7000, None),
    ],
)
def test_server_address_parsing(text: str, host: str, port: int, ro: int | None) -> None:
    entry = ServerEntry.parse(text)
    assert (entry.host, entry.port, entry.ro_port) == (host, port, ro)
    assert entry.socket_port(read_only=True) == (ro or port)


@pytest.mark.parametrize("bad", ["", "a b", "h:0", "h:70000", "h:x", "h:1/y", "[::1", "h;rm"])
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        ServerEntry.parse(bad)


def test_save_is_atomic_0600_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "console.json"
    config = ConsoleConfig(
        servers=(ServerEntry("h", 1, 2, "#112233"),),
        theme="xenon-light",
        keymap={"view.domains": "f4"},
        config_path=path,
    )
    save_config(config)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["console.json"]  # no temp file left
    loaded = load_config(path)
    assert loaded.servers == config.servers
    assert loaded.theme == "xenon-light" and loaded.keymap == {"view.domains": "f4"}


def test_toml_keymap_and_command_line_servers_first(tmp_path: Path) -> None:
    path = tmp_path / "console.toml"
    path.write_text(
        'theme = "xenon-high-contrast"\n[keymap]\n"app.help" = "f1"\n'
        '[[servers]]\nhost = "remembered"\nport = 8443\n'
    )
    base = ConsoleConfig(servers=(ServerEntry("cli-host"),))
    config = load_config(path, base)
    assert [s.host for s in config.servers] == ["cli-host", "remembered"]
    assert config.keymap["app.help"] == "f1" and config.theme == "xenon-high-contrast"


@pytest.mark.parametrize(
    "content",
    ['{"keymap": {"app.help": "f1; rm"}}', "[1, 2]", '{"servers": [{"port": 1}]}', "{not json"],
)
def test_invalid_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "console.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        load_config(path)


def test_console_arguments_build_the_config(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    args = parser.parse_args(
        [
            "h1:9000/9001",
            "--ca",
            str(ca),
            "--read-only",
            "--config",
            str(tmp_path / "c.json"),
            "--theme",
            "xenon-light",
        ]
    )
    config = build_config(args)
    assert config.read_only and config.theme == "xenon-light"
    assert config.servers[0].socket_port(read_only=True) == 9001
    missing = parser.parse_args(["--cert", str(tmp_path / "nope.pem")])
    with pytest.raises(ConfigError):
        build_config(missing)
