"""The shared crash-safe state-file writer (xps._atomic) against a real file system."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from xps.files import fsync_dir, remove_durably, write_atomic


@pytest.fixture
def umask0() -> Iterator[None]:
    """Runs the test with umask 0 so that nothing but the helper restricts modes."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def _mode(fd_or_path: int | Path) -> int:
    st = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.lstat(fd_or_path)
    return stat.S_IMODE(st.st_mode)


@pytest.mark.usefixtures("umask0")
@pytest.mark.parametrize("mode", [0o600, 0o644, 0o400])
def test_temp_file_has_final_mode_before_first_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    real_write = os.write
    seen: list[tuple[int, int, dict[str, int]]] = []

    def spy_write(fd: int, data: bytes | memoryview) -> int:
        # Before any byte: the file's mode and the directory as another user would see it.
        temps = {name: _mode(tmp_path / name) for name in _temps(tmp_path)}
        seen.append((_mode(fd), os.fstat(fd).st_size, temps))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy_write)
    write_atomic(target, b"new content", mode=mode)
    assert seen, "the helper wrote nothing through os.write"
    first_mode, first_size, temps = seen[0]
    assert first_size == 0
    assert first_mode == mode
    [(name, temp_mode)] = temps.items()
    assert name.startswith(".state.json.")
    assert temp_mode == mode
    assert target.read_bytes() == b"new content"
    assert _mode(target) == mode
    assert _temps(tmp_path) == []


@pytest.mark.usefixtures("umask0")
def test_temp_file_never_group_or_world_accessible_at_creation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open
    created: list[int] = []

    def spy_open(path: object, flags: int, mode: int = 0o777, **kw: object) -> int:
        fd = real_open(path, flags, mode, **kw)  # type: ignore[arg-type]
        if flags & os.O_CREAT:
            assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
            created.append(_mode(fd))
        return fd

    monkeypatch.setattr(os, "open", spy_open)
    write_atomic(tmp_path / "key.pem", b"secret", mode=0o644)
    assert created == [0o600]
    assert _mode(tmp_path / "key.pem") == 0o644


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def dribble(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(os, "write", dribble)
    payload = bytes(range(256)) * 40
    write_atomic(tmp_path / "big", payload)
    assert (tmp_path / "big").read_bytes() == payload


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace", "interrupt"])
def test_failure_keeps_old_content_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    target = tmp_path / "active.xml"
    target.write_bytes(b"old content")
    os.chmod(target, 0o600)
    real_write = os.write

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        # Part of the data lands, then the disk is full.
        if os.fstat(fd).st_size >= 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:4]))

    def boom(*_args: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    def interrupt(fd: int, data: bytes | memoryview) -> int:
        real_write(fd, bytes(data[:3]))
        raise KeyboardInterrupt

    expected: type[BaseException] = OSError
    if fail_at == "write":
        monkeypatch.setattr(os, "write", disk_full)
    elif fail_at == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    elif fail_at == "replace":
        monkeypatch.setattr(os, "replace", boom)
    else:
        monkeypatch.setattr(os, "write", interrupt)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        write_atomic(target, b"new content that is long enough")
    monkeypatch.undo()
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["active.xml"]


def test_directory_is_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    real_fsync = os.fsync
    synced: list[tuple[str, bytes]] = []

    def spy_fsync(fd: int) -> None:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            assert st.st_ino == tmp_path.stat().st_ino
            synced.append(("dir", target.read_bytes()))
        else:
            synced.append(("file", target.read_bytes()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    write_atomic(target, b"new")
    # The data is synced before the rename, the directory after it.
    assert synced == [("file", b"old"), ("dir", b"new")]


def test_symlink_at_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    link = tmp_path / "state.json"
    link.symlink_to(victim)
    write_atomic(link, b"new")
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert victim.read_bytes() == b"do not touch"
    assert _mode(link) == 0o600


def test_planted_symlink_at_temp_name_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"do not touch")
    planted = tmp_path / ".state.json.aaaa.tmp"
    planted.symlink_to(victim)
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(names))
    write_atomic(tmp_path / "state.json", b"new")
    assert (tmp_path / "state.json").read_bytes() == b"new"
    assert victim.read_bytes() == b"do not touch"
    assert planted.is_symlink()  # not ours: left alone
    assert not (tmp_path / ".state.json.bbbb.tmp").exists()


def test_no_free_temp_name_is_an_oserror_with_strerror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".x.same.tmp").write_bytes(b"")
    monkeypatch.setattr(secrets, "token_hex", lambda _n: "same")
    with pytest.raises(FileExistsError) as info:
        write_atomic(tmp_path / "x", b"data")
    assert info.value.strerror
    assert not (tmp_path / "x").exists()


@pytest.mark.usefixtures("umask0")
def test_dir_mode_creates_missing_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    write_atomic(target, b"x", dir_mode=0o700)
    assert target.read_bytes() == b"x"
    assert _mode(target.parent) == 0o700


def test_missing_directory_without_dir_mode_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "state.json", b"x")
    assert not (tmp_path / "missing").exists()


def test_remove_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "staged.xml"
    target.write_bytes(b"x")
    real_fsync = os.fsync
    dirs: list[bool] = []

    def spy_fsync(fd: int) -> None:
        dirs.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    assert remove_durably(target) is True
    assert not target.exists()
    assert dirs == [True]
    assert remove_durably(target) is False
    assert dirs == [True]


def test_fsync_dir_of_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        fsync_dir(tmp_path / "f")
