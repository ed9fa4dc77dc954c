"""The task runner on a real SQLite store: run, wait, watch, cancel, time out, restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from enterprise_store._errors import Conflict, InvalidInput, NotFound
from enterprise_store.store import Store
from enterprise_store.workers._tasks import TaskContext, TaskRunner


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(db_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def runners(store: Store) -> AsyncIterator[Callable[..., Any]]:
    """``runner = make(node_id, start=True, **kw)``; every runner's worker stops at teardown."""
    workers: list[asyncio.Task[None]] = []

    def make(node_id: str = "n1", *, start: bool = True, **kw: Any) -> TaskRunner:
        runner = TaskRunner(store, node_id=node_id, heartbeat_s=kw.pop("heartbeat_s", 0.1), **kw)
        gate = asyncio.Event()

        async def echo(ctx: TaskContext) -> dict[str, Any]:
            await ctx.progress(0.5, "half way")
            return {"echo": ctx.params["value"]}

        async def block(ctx: TaskContext) -> dict[str, Any]:
            await ctx.progress(0.1, "blocked")
            await gate.wait()
            return {}

        async def conflict(ctx: TaskContext) -> dict[str, Any]:
            raise Conflict("no, not now")

        async def crash(ctx: TaskContext) -> dict[str, Any]:
            raise RuntimeError("secret internals")

        async def resumable(ctx: TaskContext) -> dict[str, Any]:
            await gate.wait()
            return {"resumed_by": node_id}

        runner.register("echo", echo)
        runner.register("block", block, timeout_s=kw.get("block_timeout", 60.0))
        runner.register("slow", block, timeout_s=0.2)
        runner.register("conflict", conflict)
        runner.register("crash", crash)
        runner.register("resumable", resumable, resumable=True)
        runner.gate = gate  # type: ignore[attr-defined]
        if start:
            workers.append(asyncio.create_task(runner.run()))
        runner.worker = workers[-1] if start else None  # type: ignore[attr-defined]
        return runner

    yield make
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


async def _submit(runner: TaskRunner, kind: str, **params: Any) -> str:
    row = await runner.submit(kind, params=params, object="test", created_by="tester")
    assert row.state == "queued"
    return row.id


async def test_a_task_runs_and_its_result_and_progress_are_stored(runners: Any) -> None:
    runner = runners()
    task_id = await _submit(runner, "echo", value=42)
    done = await runner.wait(task_id, 30)
    assert done is not None
    assert (done.state, done.progress, done.result) == ("succeeded", 1.0, {"echo": 42})
    assert done.message == "half way"
    assert done.started_at_us is not None and done.finished_at_us is not None
    other = runners("n2", start=False)
    assert await other.get(task_id) == done  # the row, as any node reads it


async def test_wait_returns_a_running_task_when_the_time_is_up(runners: Any) -> None:
    runner = runners()
    task_id = await _submit(runner, "block")
    row = await runner.wait(task_id, 0.3)
    assert row is not None and row.state == "running" and row.message == "blocked"
    runner.gate.set()
    done = await runner.wait(task_id, 30)
    assert done is not None and done.state == "succeeded"


async def test_watch_yields_each_change_and_ends_with_the_ended_task(runners: Any) -> None:
    runner = runners()
    task_id = await _submit(runner, "block")
    seen: list[tuple[str, str]] = []

    async def follow() -> None:
        async for row in runner.watch(task_id):
            seen.append((row.state, row.message))
            if row.message == "blocked":
                runner.gate.set()

    await asyncio.wait_for(follow(), 30)
    assert seen[-1] == ("succeeded", "blocked") or seen[-1][0] == "succeeded"
    assert ("running", "blocked") in seen
    with pytest.raises(NotFound):
        async for _ in runner.watch("00000000-0000-0000-0000-000000000000"):
            pass


async def test_cancel_ends_a_running_task_and_a_queued_one(runners: Any) -> None:
    runner = runners()
    task_id = await _submit(runner, "block")
    await runner.wait(task_id, 0.5)
    cancelled = await runner.cancel(task_id)
    assert cancelled.state == "cancelled"
    with pytest.raises(Conflict):
        await runner.cancel(task_id)
    idle = runners("n3", start=False)  # its worker never runs: the task stays queued
    queued = await _submit(idle, "echo", value=1)
    row = await idle.cancel(queued)
    assert (row.state, row.message) == ("cancelled", "cancelled before it started")


async def test_a_task_cancelled_from_another_node_ends_at_its_owners_heartbeat(
    runners: Any,
) -> None:
    owner = runners("owner")
    task_id = await _submit(owner, "block")
    await owner.wait(task_id, 0.5)
    elsewhere = runners("elsewhere", start=False)
    asked = await elsewhere.cancel(task_id)
    assert asked.cancel_requested and asked.state == "running"
    ended = await elsewhere.wait(task_id, 30)
    assert ended is not None and ended.state == "cancelled"


async def test_failures_are_stored_as_codes_never_as_tracebacks(runners: Any) -> None:
    runner = runners()
    refused = await runner.wait(await _submit(runner, "conflict"), 30)
    assert refused is not None and refused.state == "failed"
    assert refused.error == {"code": "conflict", "detail": "no, not now"}
    crashed = await runner.wait(await _submit(runner, "crash"), 30)
    assert crashed is not None and crashed.error == {
        "code": "internal_error",
        "detail": "internal error (logged)",
    }
    assert "secret" not in (crashed.message or "")
    slow = await runner.wait(await _submit(runner, "slow"), 30)
    assert slow is not None and slow.state == "failed" and slow.error is not None
    assert slow.error["code"] == "timeout"
    with pytest.raises(InvalidInput):
        await _submit(runner, "no-such-kind")


async def test_a_restart_marks_cut_off_tasks_interrupted_and_resumes_resumable_ones(
    runners: Any,
) -> None:
    first = runners("node")
    plain = await _submit(first, "block")
    again = await _submit(first, "resumable")
    await first.wait(plain, 0.5)
    # The server dies: its worker (and the tasks under it) stop without a word.
    first.worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first.worker
    assert (await first.get(plain)).state == "running"  # type: ignore[union-attr]
    second = runners("node")  # the same node, restarted
    cut = await second.wait(plain, 30)
    assert cut is not None and cut.state == "failed"
    assert cut.error == {"code": "interrupted", "detail": "the task was interrupted by restart"}
    resumed = await second.wait(again, 0.5)
    assert resumed is not None and resumed.state == "running"
    second.gate.set()
    done = await second.wait(again, 30)
    assert done is not None and done.state == "succeeded" and done.result == {"resumed_by": "node"}


async def test_a_task_of_a_node_that_went_silent_is_taken_as_cut_off(runners: Any) -> None:
    gone = runners("gone", heartbeat_s=0.1)
    task_id = await _submit(gone, "block")
    await gone.wait(task_id, 0.5)
    gone.worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gone.worker
    survivor = runners("survivor", heartbeat_s=0.1, stale_after_s=0.5)
    ended = await survivor.wait(task_id, 30)
    assert ended is not None and ended.state == "failed"
    assert ended.error is not None and "stopped" in ended.error["detail"]
