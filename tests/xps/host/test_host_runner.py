"""The command runner (real subprocesses) and the recording runner; atomic state files."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from xps.files import write_atomic
from xps.host import CommandFailed, CommandResult, CommandRunner, InvalidArgument, RecordingRunner


async def test_real_runner_runs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    runner = CommandRunner()
    with caplog.at_level(logging.INFO, logger="xps.host"):
        res = await runner.run(
            [sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"], input=b"abc"
        )
    assert res.returncode == 0 and res.stdout.strip() == "cba"
    assert any(
        r.getMessage().startswith("Executing command: ") and "-c" in r.getMessage()
        for r in caplog.records
    )


async def test_real_runner_failure_and_missing_program() -> None:
    runner = CommandRunner()
    with pytest.raises(CommandFailed) as info:
        await runner.run([sys.executable, "-c", "import sys; sys.exit('boom')"])
    assert info.value.code == "command_failed" and "boom" in info.value.message
    res = await runner.run([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    assert res.returncode == 3
    with pytest.raises(CommandFailed):
        await runner.run(["/nonexistent/xl", "list"])


async def test_real_runner_timeout_kills() -> None:
    runner = CommandRunner(timeout_s=0.2)
    with pytest.raises(CommandFailed, match="timed out"):
        await runner.run([sys.executable, "-c", "import time; time.sleep(30)"])


async def test_runner_refuses_bad_argv() -> None:
    for bad in ([], "xl list", ["xl", "a\x00b"]):
        with pytest.raises(InvalidArgument):
            await RecordingRunner().run(bad)  # type: ignore[arg-type]


async def test_recording_runner_records_and_answers(caplog: pytest.LogCaptureFixture) -> None:
    runner = RecordingRunner(
        {"xl list": "text", ("xl", "pause"): CommandResult(("xl",), 1, "", "no such domain")}
    )
    with caplog.at_level(logging.INFO, logger="xps.host"):
        assert (await runner.run(["xl", "list"])).stdout == "text"
        assert (await runner.run(["ovs-vsctl", "add-br", "EAbr"])).returncode == 0
        with pytest.raises(CommandFailed, match="no such domain"):
            await runner.run(["xl", "pause", "x"])
    assert runner.argvs == [["xl", "list"], ["ovs-vsctl", "add-br", "EAbr"], ["xl", "pause", "x"]]
    msgs = [r.getMessage() for r in caplog.records]
    assert "Executing command: ovs-vsctl add-br EAbr" in msgs


def test_atomic_write_mode_and_content(tmp_path: Path) -> None:
    target = tmp_path / "active.xml"
    target.write_bytes(b"old")
    os.chmod(target, 0o644)
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["active.xml"]  # no temp file left
