"""Each user of the shared atomic writer keeps its own error mapping and directory rules."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from xenon_tui._config import ConsoleConfig, save_config
from xps.cli.policy import main as policy_main
from xps.files import write_atomic
from xps.pki import PkiFileError, write_private


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(_fd: int, _data: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", fail)


def test_pki_maps_oserror_and_creates_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "new" / "ca.key"
    write_private(key, b"k1")
    assert key.read_bytes() == b"k1"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    write_private(key.with_suffix(".crt"), b"c", mode=0o644)
    assert stat.S_IMODE(key.with_suffix(".crt").stat().st_mode) == 0o644
    _disk_full(monkeypatch)
    with pytest.raises(PkiFileError, match=r"^cannot write .*ca\.key: No space left on device$"):
        write_private(key, b"k2")
    monkeypatch.undo()
    assert key.read_bytes() == b"k1"
    assert sorted(p.name for p in key.parent.iterdir()) == ["ca.crt", "ca.key"]


def test_the_writer_needs_the_directory_unless_told_to_make_it(tmp_path: Path) -> None:
    # The host's state files are written like this: a missing state directory is an error.
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "state.json", b"x")
    write_atomic(tmp_path / "dnsmasq.conf", b"x", mode=0o644)
    assert stat.S_IMODE((tmp_path / "dnsmasq.conf").stat().st_mode) == 0o644


def test_console_settings_create_a_private_directory(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        save_config(ConsoleConfig(config_path=tmp_path / "xenon" / "console.json"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "xenon").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "xenon" / "console.json").stat().st_mode) == 0o600


def test_cli_write_failure_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "sample.xml"
    assert policy_main(["sample", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"xenon policy: usage: cannot write {out}: No such file or directory\n"
    good = tmp_path / "sample.xml"
    assert policy_main(["sample", "-o", str(good)]) == 0
    assert good.read_bytes().startswith(b"<?xml")
    assert stat.S_IMODE(good.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["sample.xml"]
