"""Live migration of sim domains between two real XPS daemons over mTLS (Migrate* methods)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid as uuidlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xps.client import RemoteError, Xps, move_domain
from xps.host import Host, HostConfig, NotSupported, RecordingRunner
from xps.host._domains import DomainRow
from xps.host._simmem import CHUNK_SIZE, PAGE, SimMemory, image_size
from xps.policy import ConflictLevel, ConflictSet, sample_policy, serialize_policy

FIXTURE = Path(__file__).parent / "fixtures" / "host1"


async def _pair(start_xps: Callable[..., Any]) -> tuple[Any, Any, Xps, Xps]:
    src_rx, dst_rx = await start_xps(), await start_xps()
    src, dst = src_rx.client(timeout=30.0), dst_rx.client(timeout=30.0)
    await src.connect()
    await dst.connect()
    return src_rx, dst_rx, src, dst


async def _domain(client: Xps, name: str) -> dict[str, Any] | None:
    states = await client.get_domain_run_states()
    return next((d for d in states["domains"] if d["name"] == name), None)


async def _until(pred: Callable[[], Any], limit_s: float = 30.0) -> Any:
    async with asyncio.timeout(limit_s):  # a liveness bound only
        while not (value := await pred()):  # noqa: ASYNC110 (polls a daemon over TLS)
            await asyncio.sleep(0.05)
    return value


def _row(domid: int, cpu_ns: int, uuid: uuidlib.UUID, mem_kb: int = 1 << 20) -> DomainRow:
    return DomainRow(domid, "g", uuid, "r-----", mem_kb, 1, cpu_ns, created_ns=7)


def test_image_is_written_by_cpu_time_only() -> None:
    vm = uuidlib.uuid4()
    a, b = SimMemory(), SimMemory()
    a.sync([_row(5, 0, vm)])
    b.sync([_row(5, 0, vm)])
    first = bytes(a.image(_row(5, 0, vm)).data)
    assert len(first) == image_size(1 << 20) == 1 << 20  # 1024 MiB: 1024 KiB
    assert first == bytes(b.image(_row(5, 0, vm)).data)  # seeded from the UUID
    a.sync([_row(5, 0, vm)])  # no CPU time: nothing written (a paused guest)
    assert bytes(a.image(_row(5, 0, vm)).data) == first
    assert not a.image(_row(5, 0, vm)).dirty
    # The same CPU time in one sync or in three gives the same image.
    a.sync([_row(5, 40_000_000, vm)])
    for cpu in (7_000_000, 23_000_000, 40_000_000):
        b.sync([_row(5, cpu, vm)])
    img = a.image(_row(5, 0, vm))
    assert bytes(img.data) != first and img.data == b.image(_row(5, 0, vm)).data
    assert img.dirty == b.image(_row(5, 0, vm)).dirty and img.dirty
    a.sync([])  # the domain is gone: so is its image
    with pytest.raises(LookupError):
        a.image(_row(5, 0, vm))
    assert image_size(1) == PAGE and image_size(64 << 30) == 4 << 20


async def test_step_by_step_move_carries_the_memory(start_xps: Callable[..., Any]) -> None:
    _, _, src, dst = await _pair(start_xps)
    name = "EA-domu-1"
    await src.create_domain(name)
    out = await src.migrate_out(name)
    mid = out["migration"]
    assert out["image_size"] == 2 << 20  # 2048 MiB of guest: 2 MiB of image
    assert out["chunk_size"] == CHUNK_SIZE and out["chunks"] == 32
    opened = await dst.migrate_in(mid, out["uuid"], name, out["image_size"])
    assert opened == {"migration": mid, "chunks": 32}
    for chunk in range(out["chunks"]):
        await dst.migrate_in_write(mid, chunk, await src.migrate_out_read(mid, chunk))

    async def written_again() -> list[int]:
        return list((await src.migrate_out_dirty(mid))["dirty"])

    dirty = await _until(written_again)  # the guest writes its memory as it runs
    paused = await src.migrate_out_dirty(mid, pause=True)
    assert paused["paused"] and set(dirty) <= set(paused["dirty"])
    assert (await _domain(src, name) or {})["run_state"] == "paused"
    image = bytearray(out["image_size"])
    for chunk in range(out["chunks"]):  # frozen now: read it all, independently
        image[chunk * CHUNK_SIZE : (chunk + 1) * CHUNK_SIZE] = await src.migrate_out_read(
            mid, chunk
        )
    assert hashlib.sha256(image).hexdigest() == paused["digest"]
    again = await src.migrate_out_dirty(mid)
    assert again["dirty"] == [] and again["digest"] == paused["digest"]  # paused: no writes
    for chunk in paused["dirty"]:
        await dst.migrate_in_write(mid, chunk, bytes(image[chunk * CHUNK_SIZE :][:CHUNK_SIZE]))
    done = await dst.migrate_in_finish(mid, digest=paused["digest"])
    assert done["digest"] == paused["digest"] and done["run_state"] == "running"
    moved = await _domain(dst, name)
    assert moved is not None and moved["uuid"] == out["uuid"] and moved["run_state"] == "running"
    finished = await src.migrate_out_finish(mid, "done")
    assert finished["run_state"] == "destroyed" and finished["paused_ms"] > 0
    assert await _domain(src, name) is None
    assert f"migration {mid} in done" in "\n".join((await dst.get_log_msgs())["lines"])


async def test_move_domain_phases_and_result(start_xps: Callable[..., Any]) -> None:
    _, dst_rx, src, dst = await _pair(start_xps)
    await src.create_domain("EA-domu-3")
    before = await _domain(src, "EA-domu-3")
    assert before is not None
    phases: list[str] = []
    result = await move_domain(
        src, dst, "EA-domu-3", progress=lambda phase, _details: phases.append(phase)
    )
    assert phases[0] == "pre-copy" and phases[-3:] == ["stop-and-copy", "activate", "finish"]
    assert result.uuid == before["uuid"] and result.source_domid == before["domid"]
    assert result.rounds >= 1 and result.chunks_sent >= 16 and result.downtime_ms > 0
    after = await _domain(dst, "EA-domu-3")
    assert after is not None and after["domid"] == result.target_domid
    assert after["uuid"] == before["uuid"] and after["run_state"] == "running"
    assert await _domain(src, "EA-domu-3") is None
    assert not dst_rx.host._migrator.state.incoming


async def test_chinese_wall_refusal_leaves_nothing_behind(start_xps: Callable[..., Any]) -> None:
    src_rx, dst_rx, src, dst = await _pair(start_xps)
    policy = sample_policy()
    ea, eb = policy.tag_named("Enclave A"), policy.tag_named("Enclave B")
    wall = ConflictSet(
        id=uuidlib.UUID(int=0xC0FFEE),
        name="EA-EB-wall",
        level=ConflictLevel.NO_CORESIDENCE,
        tags=(ea.id, eb.id),
    )
    await dst.stage_policy(xml=serialize_policy(policy.with_conflict(wall)).decode())
    await dst.activate_policy()
    await dst.create_domain("EB-domu-1")
    await src.create_domain("EA-domu-1")
    before = await _domain(src, "EA-domu-1")
    with pytest.raises(RemoteError) as info:
        await move_domain(src, dst, "EA-domu-1")
    assert info.value.code == "conflict" and "EA-domu-1" in info.value.message
    assert await _domain(dst, "EA-domu-1") is None
    assert not dst_rx.host._migrator.state.incoming
    after = await _domain(src, "EA-domu-1")
    assert after is not None and before is not None
    assert after["domid"] == before["domid"] and after["run_state"] == "running"
    assert not src_rx.host._migrator.state.outgoing


async def test_destination_checks_policy_digest_and_chunks(start_xps: Callable[..., Any]) -> None:
    _, dst_rx, src, dst = await _pair(start_xps)
    await src.create_domain("EA-domu-5")
    out = await src.migrate_out("EA-domu-5")
    mid = out["migration"]
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in(mid, out["uuid"], "no-such-vm", out["image_size"])
    assert info.value.code == "not_found"
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in(mid, str(uuidlib.uuid4()), "EA-domu-5", out["image_size"])
    assert info.value.code == "conflict"
    await dst.migrate_in(mid, out["uuid"], "EA-domu-5", out["image_size"])
    for chunk in range(out["chunks"] - 1):
        await dst.migrate_in_write(mid, chunk, await src.migrate_out_read(mid, chunk))
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in_write(mid, 0, b"short")
    assert info.value.code == "invalid_argument"
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in_finish(mid, digest="0" * 64)
    assert info.value.code == "state"  # a chunk never arrived; the session is gone
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in_write(mid, 0, b"x")
    assert info.value.code == "not_found"
    # All chunks, one altered: the digest check refuses it.
    paused = await src.migrate_out_dirty(mid, pause=True)
    await dst.migrate_in(mid, out["uuid"], "EA-domu-5", out["image_size"])
    for chunk in range(out["chunks"]):
        data = await src.migrate_out_read(mid, chunk)
        await dst.migrate_in_write(mid, chunk, data if chunk else bytes(len(data)))
    with pytest.raises(RemoteError) as info:
        await dst.migrate_in_finish(mid, digest=paused["digest"])
    assert info.value.code == "invalid_argument" and "digest" in info.value.message
    assert await _domain(dst, "EA-domu-5") is None and not dst_rx.host._migrator.state.incoming
    aborted = await src.migrate_out_finish(mid, "abort")
    assert aborted["run_state"] == "running"
    assert (await _domain(src, "EA-domu-5") or {})["run_state"] == "running"


async def test_source_refusals(start_xps: Callable[..., Any]) -> None:
    src_rx, _, src, _ = await _pair(start_xps)
    await src.create_domain("EB-domu-1")
    for bad, code in (("Domain-0", "invalid_argument"), ("no-such", "not_found")):
        with pytest.raises(RemoteError) as info:
            await src.migrate_out(bad)
        assert info.value.code == code
    out = await src.migrate_out("EB-domu-1")
    with pytest.raises(RemoteError) as info:
        await src.migrate_out("EB-domu-1")  # one move at a time
    assert info.value.code == "conflict"
    with pytest.raises(RemoteError) as info:
        await src.migrate_out_finish(out["migration"], "done")  # never paused
    assert info.value.code == "state"
    with pytest.raises(RemoteError) as info:
        await src.migrate_out_read("A" * 32, 0)
    assert info.value.code in ("invalid_argument", "invalid_params")
    ro = src_rx.client(read_only=True)
    await ro.connect()
    with pytest.raises(RemoteError) as info:
        await ro.migrate_out("EB-domu-1")
    assert info.value.code == "read_only"
    await src.migrate_out_finish(out["migration"], "abort")
    assert (await _domain(src, "EB-domu-1") or {})["run_state"] == "running"


async def test_xen_backend_says_not_supported(tmp_path: Path) -> None:
    runner = RecordingRunner({"xl list": "Name ID Mem VCPUs\tState\tTime(s)\n", "xl info": ""})
    host = await Host.open(
        HostConfig(state_dir=tmp_path / "s", backend="xen", root_prefix=FIXTURE), runner=runner
    )
    try:
        with pytest.raises(NotSupported, match="xl migrate path: not exercisable here"):
            await host.migrate_out("EA-domu-1")
        with pytest.raises(NotSupported, match="xl migrate path"):
            await host.migrate_in("0" * 32, str(uuidlib.uuid4()), "EA-domu-1", 4096, CHUNK_SIZE)
    finally:
        await host.close()
