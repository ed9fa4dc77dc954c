"""The allowed-call history survives a crash: it is saved while the host runs (with the
statistics history, when it changed), atomically and 0600; a corrupt file is set aside with
one clear log line; session 7's version-1 files still load."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import uuid
from pathlib import Path

import pytest

from tests._support.xps import XpsPki
from tests._support.xps_process import xps_process
from xps.host import Host, HostConfig, InvalidArgument
from xps.host._calls import CallHistory
from xps.host._stats import StatsHistory
from xps.host._tiers import TierFile

CALLS = "call-counts.json"
T0 = 1_700_000_000 // 900 * 900


def _saved_totals(path: Path) -> dict[tuple[str, int, int], int]:
    return CallHistory.from_json(path.read_bytes()).totals(1440)


async def test_history_survives_sigkill_of_a_real_daemon(xps_pki: XpsPki, tmp_path: Path) -> None:
    state = tmp_path / f"state-{uuid.uuid4().hex[:8]}"
    # 0.05 s samples: the statistics flush (every 20 samples) comes about once a second.
    async with xps_process(xps_pki, state, stats_interval=0.05) as daemon:
        xps = await daemon.client()
        await xps.create_domain("EA-domu-1")  # a running domain makes allowed calls
        async with asyncio.timeout(60):  # liveness bound on a loaded machine
            while not (state / CALLS).exists() or not _saved_totals(state / CALLS):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        live = await xps.get_call_counts(1440)
        assert live["calls"], "the sim host counts allowed calls"
        saved = _saved_totals(state / CALLS)
        assert stat.S_IMODE((state / CALLS).stat().st_mode) == 0o600
        await daemon.kill()
    assert daemon.proc.returncode == -9
    saved = _saved_totals(state / CALLS)  # the file the killed daemon left, whole
    assert saved and sum(saved.values()) > 0
    async with xps_process(xps_pki, state, stats_interval=0.05) as again:
        xps = await again.client()
        after = await xps.get_call_counts(1440)
        got = {(c["domain"], c["hypercall"], c["subop"]): c["count"] for c in after["calls"]}
        # Every call counted before the kill is still counted (the new sim adds to it).
        for key, n in saved.items():
            assert got.get(key, 0) >= n, key
    assert "corrupt" not in (state / "xenon-policy-server.log").read_text()


async def test_a_host_saves_the_call_history_while_running(sim_host: Host, tmp_path: Path) -> None:
    state = tmp_path / "state"
    await sim_host.create_domain("EA-domu-1")
    async with asyncio.timeout(60):  # liveness bound: the flush comes about once a second
        while not (state / CALLS).exists() or not _saved_totals(state / CALLS):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _history() -> CallHistory:
    h = CallHistory()
    for minute in range(200):
        h.add(T0 + minute * 60, "EA-domu-1", 20, 0, minute + 1)
        h.add(T0 + minute * 60, "EA-domu-2", 29, 1, 3)
    return h


def test_version_one_files_still_load() -> None:
    h = _history()
    # Session 7's shape: the domain name in every row, no per-bucket name list.
    v1 = {
        "version": 1,
        "last_ts": h.last_ts,
        "dropped": 4,
        "tiers": [
            [
                [start, [[d, nr, sub, n] for (d, nr, sub), n in counts.items()]]
                for start, counts in b
            ]
            for b in h._tiers
        ],
    }
    back = CallHistory.from_json(json.dumps(v1).encode())
    assert back.dropped == 4
    for minutes in (1, 10, 120, 1440):
        assert back.totals(minutes) == h.totals(minutes)
    assert CallHistory.from_json(back.to_json()).totals(1440) == h.totals(1440)
    assert json.loads(back.to_json())["version"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        b'{"version":2,"last_ts":1,"dropped":0,"tiers":[[[60,["a"],[[1,1,0,1]]]],[]]}',
        b'{"version":2,"last_ts":1,"dropped":0,"tiers":[[[60,["a"],[[-1,1,0,1]]]],[]]}',
        b'{"version":2,"last_ts":1,"dropped":0,"tiers":[[[120,[],[]],[60,[],[]]],[]]}',
        b'{"version":2,"last_ts":"x","dropped":0,"tiers":[[],[]]}',
        b'{"version":true,"last_ts":1,"dropped":0,"tiers":[[],[]]}',
        b'{"version":2,"last_ts":1,"dropped":0,"tiers":[[]]}',
    ],
)
def test_malformed_call_files_are_refused(bad: bytes) -> None:
    with pytest.raises(InvalidArgument):
        CallHistory.from_json(bad)


def test_the_saved_bytes_follow_changes_only() -> None:
    h = _history()
    first = h.to_json()
    assert h.to_json() == first  # nothing re-encoded differently from the cache
    h.add(T0 + 199 * 60, "EA-domu-3", 1, 0, 9)
    changed = h.to_json()
    assert changed != first
    assert CallHistory.from_json(changed).totals(1) == h.totals(1)
    assert CallHistory.from_json(changed).totals(1440) == h.totals(1440)


async def test_tier_file_saves_when_changed_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / CALLS
    file = TierFile(path, "allowed-call history", 1 << 20)
    h = _history()
    assert await file.save(h)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    mtime = path.stat().st_mtime_ns
    assert not await file.save(h)  # unchanged: not written again
    assert path.stat().st_mtime_ns == mtime
    h.add(T0 + 199 * 60, "EA-domu-1", 20, 0, 1)
    assert await file.save(h)
    loaded = TierFile(path, "allowed-call history", 1 << 20)
    back = loaded.load(CallHistory.from_json, CallHistory)
    assert back.totals(1440) == h.totals(1440)
    assert not await loaded.save(back)  # what was just read is on disk already


async def test_tier_file_never_writes_more_than_it_would_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CALLS
    file = TierFile(path, "allowed-call history", 100)
    with caplog.at_level(logging.WARNING, "xps.host"):
        assert not await file.save(_history())
    assert not path.exists()
    assert "over 100: not saved" in caplog.text


@pytest.mark.parametrize(
    ("name", "parse", "empty"),
    [
        (CALLS, CallHistory.from_json, CallHistory),
        ("stats.json", StatsHistory.from_json, StatsHistory),
    ],
)
@pytest.mark.parametrize("content", [b'{"version": 1, "last_ts": 5, "tie', b"\x00" * 64])
def test_a_corrupt_file_is_set_aside_with_one_clear_line(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    parse: object,
    empty: object,
    content: bytes,
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    (tmp_path / f"{name}.bad").write_bytes(b"an older bad file")
    file = TierFile(path, "some history", 1 << 20)
    with caplog.at_level(logging.WARNING, "xps.host"):
        history = file.load(parse, empty)  # type: ignore[arg-type]
    assert history.last_ts == 0.0  # type: ignore[attr-defined]
    assert not path.exists()
    assert (tmp_path / f"{name}.bad").read_bytes() == content  # the newest bad file only
    [record] = [r for r in caplog.records if r.name == "xps.host"]
    assert record.levelno == logging.WARNING
    assert "the some history" in record.getMessage()
    assert "is corrupt" in record.getMessage()
    assert f"set aside as {name}.bad" in record.getMessage()
    assert "starting with an empty history" in record.getMessage()


async def test_a_host_starts_on_a_corrupt_call_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / CALLS).write_bytes(b'{"version": 2, "tiers": "nope"}')
    with caplog.at_level(logging.WARNING, "xps.host"):
        host = await Host.open(HostConfig(state_dir=state, stats_interval_s=60))
        await host.close()
    assert (state / f"{CALLS}.bad").read_bytes() == b'{"version": 2, "tiers": "nope"}'
    assert "allowed-call history" in caplog.text and "is corrupt" in caplog.text
    assert json.loads((state / CALLS).read_bytes())["version"] == 2  # saved anew, whole
