"""The console's refresh setting (issue #16 §1): how often an idle session draws the metrics
every sample changes. From the settings file (``refresh``) or ``--refresh SECONDS``; bad
values are refused with a message naming the setting and its range."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from xenon_tui._config import REFRESH_S, ConsoleConfig, load_config, save_config
from xenon_tui._errors import ConfigError
from xenon_tui.cli._console_args import add_arguments, build_config


def _args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--config", str(tmp_path / "console.json"), *extra])


def test_the_default_refresh_is_two_seconds(tmp_path: Path) -> None:
    assert ConsoleConfig().refresh == REFRESH_S == 2.0
    assert build_config(_args(tmp_path)).refresh == 2.0


def test_the_refresh_comes_from_the_file_and_the_flag_wins(tmp_path: Path) -> None:
    (tmp_path / "console.json").write_text(json.dumps({"servers": [], "refresh": 5}))
    assert build_config(_args(tmp_path)).refresh == 5.0
    assert build_config(_args(tmp_path, "--refresh", "0.5")).refresh == 0.5
    assert build_config(_args(tmp_path, "--refresh", " 10 ")).refresh == 10.0


def test_a_saved_refresh_is_read_back_and_the_default_not_written(tmp_path: Path) -> None:
    path = tmp_path / "console.json"
    save_config(ConsoleConfig(config_path=path, refresh=3.5))
    assert load_config(path).refresh == 3.5
    save_config(ConsoleConfig(config_path=path))
    assert "refresh" not in json.loads(path.read_text())


@pytest.mark.parametrize("value", ["0", "0.1", "61", "-2", "nan", "inf", "fast", "", "1e400"])
def test_a_bad_refresh_flag_is_refused_with_a_clear_message(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build_config(_args(tmp_path, "--refresh", value))
    assert "--refresh must be a number of seconds (0.5-60)" in refused.value.message


@pytest.mark.parametrize("value", [0, 0.2, 100, True, "x", None, [2], math.nan])
def test_a_bad_refresh_in_the_file_is_refused(tmp_path: Path, value: object) -> None:
    path = tmp_path / "console.json"
    path.write_text(json.dumps({"refresh": value}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert f"{path}: refresh must be a number of seconds (0.5-60)" in refused.value.message


def test_a_config_cannot_be_built_with_a_bad_refresh() -> None:
    with pytest.raises(ConfigError):
        ConsoleConfig(refresh=0.0)


def test_the_flag_says_what_it_does() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    help_text = " ".join(parser.format_help().split())
    assert "--refresh SECONDS" in help_text
    assert "violations are shown as they arrive" in help_text
