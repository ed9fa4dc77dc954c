"""Long-running tasks: persisted, run under one ``asyncio.TaskGroup``, awaited, watched, cancelled.

A task is a row (``tasks``) and, while it runs, an asyncio task of the node that owns
it. Its life::

    queued ──► running ──► succeeded
       │          ├──────► failed      (error: {code, detail[, findings]}; timeouts too)
       └──────────┴──────► cancelled   (POST /tasks/{id}/cancel)

Every state change and every progress report is written to the row first, then told to
in-process watchers, so ``GET /tasks/{id}`` answers the same from any server. Watchers of
a task another server runs poll its row (every 0.5 s), which is what lets ``?wait=`` and
the stream work behind a load balancer.

Restarts: a node that starts again finds its own tasks still queued or running in the
table; they were cut off, so they fail with ``interrupted`` ("interrupted by restart") —
except *resumable* kinds (propagation: level-triggered, re-running it only waits for the
hosts again), which are queued again. Tasks of another node whose heartbeat went stale
are treated the same way by whichever node notices first.

Handlers run in a fresh ``contextvars.Context``: a task started while its submitter was
inside a store unit must not inherit that unit's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from enterprise_store._errors import Conflict, InvalidInput, NotFound, PolicyRefused, XeError
from enterprise_store.store import Store
from enterprise_store.store._compute_repo import ComputeRepo, TaskRow

__all__ = ["TaskContext", "TaskHandler", "TaskRunner", "error_of"]

LOG = logging.getLogger("xenon.xe.tasks")
TaskHandler = Callable[["TaskContext"], Awaitable[Mapping[str, Any] | None]]
_POLL_S = 0.5
_MAX_WAIT_S = 300.0


def error_of(exc: BaseException) -> dict[str, Any]:
    """The stored error of a failed task: ``{code, detail[, findings]}`` (never a traceback).

    The API turns it into problem+json with the status of the code's error class.
    """
    if isinstance(exc, XeError):
        out: dict[str, Any] = {"code": exc.code, "detail": exc.message}
        if isinstance(exc, PolicyRefused):
            out["findings"] = [
                {"code": f.code, "message": f.message, "objects": list(f.objects)}
                for f in exc.findings
            ]
        return out
    return {"code": "internal_error", "detail": "internal error (logged)"}


@dataclass(frozen=True, slots=True)
class _Kind:
    handler: TaskHandler
    timeout_s: float
    resumable: bool


class TaskContext:
    """What a handler gets: its task's id and parameters, and a way to report progress.

    Attributes:
        id: The task id.
        kind: The task kind.
        params: The JSON parameters it was submitted with.
        principal: Who submitted it (in-process only; None for a task resumed after a
            restart, whose submitter's credentials are gone).
    """

    def __init__(self, runner: TaskRunner, row: TaskRow, principal: object | None) -> None:
        self._runner = runner
        self.id = row.id
        self.kind = row.kind
        self.params: dict[str, Any] = dict(row.params)
        self.principal = principal

    async def progress(self, fraction: float, message: str = "") -> None:
        """Records progress (0..1) and a one-line message; watchers see it at once."""
        await self._runner._progress(self.id, min(1.0, max(0.0, float(fraction))), message)


class TaskRunner:
    """Runs the tasks of one node (one ``xenon xe serve`` process).

    Args:
        store: The store.
        node_id: This node's stable id (restarts of the same node keep it).
        clock: Wall-clock seconds.
        heartbeat_s: How often running tasks are marked alive (and cancellations and
            stale tasks of other nodes are looked for).
        stale_after_s: A task whose heartbeat is older is taken as cut off
            (default: 5 heartbeats).
    """

    def __init__(
        self,
        store: Store,
        *,
        node_id: str,
        clock: Callable[[], float] = time.time,
        heartbeat_s: float = 2.0,
        stale_after_s: float | None = None,
    ) -> None:
        self._store = store
        self._repo = ComputeRepo()
        self.node_id = node_id
        self._clock = clock
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = stale_after_s or 5 * heartbeat_s
        self._kinds: dict[str, _Kind] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._principals: dict[str, object] = {}
        # Tasks this instance queued itself: never "cut off" by its own recovery.
        self._mine: set[str] = set()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._live: dict[str, TaskRow] = {}
        self._user_cancelled: set[str] = set()
        self._changed = asyncio.Condition()
        self._started = False
        self.finished: dict[tuple[str, str], int] = {}

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def register(
        self, kind: str, handler: TaskHandler, *, timeout_s: float = 600.0, resumable: bool = False
    ) -> None:
        """Declares a kind of task: its handler, its deadline and whether it resumes."""
        self._kinds[kind] = _Kind(handler, timeout_s, resumable)

    @property
    def running(self) -> int:
        """Tasks this node runs now."""
        return len(self._running)

    # -- submit / read -----------------------------------------------------------------------

    async def submit(
        self,
        kind: str,
        *,
        params: Mapping[str, Any],
        object: str,
        created_by: str,
        enclaves: tuple[str, ...] | None = None,
        principal: object | None = None,
        timeout_s: float | None = None,
    ) -> TaskRow:
        """Stores a queued task and starts it (the worker must run: :meth:`run`).

        Raises:
            InvalidInput: Unknown kind.
            StoreUnavailable: The store cannot be reached.
        """
        spec = self._kinds.get(kind)
        if spec is None:
            raise InvalidInput(f"unknown task kind {kind!r}")
        now = self._now_us()
        row = TaskRow(
            id=str(uuid.uuid4()),
            kind=kind,
            state="queued",
            progress=0.0,
            message="queued",
            object=object[:200],
            enclaves=enclaves,
            params=dict(params),
            result=None,
            error=None,
            created_by=created_by[:80],
            owner=self.node_id,
            resumable=spec.resumable,
            cancel_requested=False,
            timeout_s=float(timeout_s or spec.timeout_s),
            created_at_us=now,
            started_at_us=None,
            finished_at_us=None,
            heartbeat_us=now,
        )
        async with self._store.atomic() as conn:
            await self._repo.insert_task(conn, row)
        if principal is not None:
            self._principals[row.id] = principal
        self._mine.add(row.id)
        self._queue.put_nowait(row.id)
        return row

    async def get(self, task_id: str) -> TaskRow | None:
        """The task as it is now (None: no such task)."""
        live = self._live.get(task_id)
        if live is not None:
            return live
        async with self._store.read() as conn:
            return await self._repo.task(conn, task_id)

    async def list(
        self,
        *,
        kind: str | None = None,
        state: str | None = None,
        created_by: str | None = None,
        before: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[TaskRow]:
        """Tasks newest first (running ones of this node as they are now)."""
        async with self._store.read() as conn:
            rows = await self._repo.list_tasks(
                conn, kind=kind, state=state, created_by=created_by, before=before, limit=limit
            )
        return [self._live.get(r.id, r) for r in rows]

    async def _bump(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait_change(self, limit_s: float) -> None:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), limit_s)

    async def wait(self, task_id: str, wait_s: float) -> TaskRow | None:
        """The task once it has ended, or as it is after ``wait_s`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(wait_s, 0.0), _MAX_WAIT_S)
        while True:
            row = await self.get(task_id)
            remaining = deadline - loop.time()
            if row is None or row.terminal or remaining <= 0:
                return row
            await self._wait_change(min(remaining, _POLL_S))

    async def watch(self, task_id: str) -> AsyncIterator[TaskRow]:
        """Yields the task now and at every change of state, progress or message, until
        it ends (the last item is the ended task).

        Raises:
            NotFound: No such task.
        """
        last: tuple[str, float, str] | None = None
        while True:
            row = await self.get(task_id)
            if row is None:
                raise NotFound(f"no task {task_id}")
            key = (row.state, row.progress, row.message)
            if key != last:
                last = key
                yield row
            if row.terminal:
                return
            await self._wait_change(_POLL_S)

    # -- cancel ------------------------------------------------------------------------------

    async def cancel(self, task_id: str) -> TaskRow:
        """Cancels a queued or running task (on whichever node runs it).

        Returns:
            The task after the request (this node's tasks: ended; another node's: with
            ``cancel_requested``, ending at that node's next heartbeat).

        Raises:
            NotFound: No such task.
            Conflict: It has already ended.
        """
        row = await self.get(task_id)
        if row is None:
            raise NotFound(f"no task {task_id}")
        if row.terminal:
            raise Conflict(f"task {task_id} has already {row.state}")
        running = self._running.get(task_id)
        if running is not None:
            self._user_cancelled.add(task_id)
            running.cancel()
            ended = await self.wait(task_id, 10.0)
            assert ended is not None
            return ended
        async with self._store.atomic() as conn:
            if row.owner == self.node_id and row.state == "queued":
                await self._repo.update_task(
                    conn,
                    task_id,
                    {
                        "state": "cancelled",
                        "message": "cancelled before it started",
                        "finished_at_us": self._now_us(),
                    },
                )
            else:
                await self._repo.update_task(conn, task_id, {"cancel_requested": True})
            after = await self._repo.task(conn, task_id)
        await self._bump()
        assert after is not None
        return after

    # -- the worker --------------------------------------------------------------------------

    async def run(self) -> None:
        """The worker: recovers this node's cut-off tasks, then runs tasks as they come
        (until cancelled; running tasks are cancelled with it and stay ``running`` in the
        table, to be marked ``interrupted`` by the next start)."""
        await self._recover()
        self._started = True
        async with asyncio.TaskGroup() as group:
            group.create_task(self._heartbeats(), context=contextvars.Context())
            while True:
                task_id = await self._queue.get()
                group.create_task(self._execute(task_id), context=contextvars.Context())

    async def _recover(self) -> None:
        async with self._store.atomic() as conn:
            for row in await self._repo.open_tasks(conn):
                if row.owner == self.node_id and row.id not in self._mine:
                    await self._cut_off(conn, row, "interrupted by restart")

    async def _cut_off(self, conn: Any, row: TaskRow, why: str) -> None:
        if row.resumable and row.kind in self._kinds:
            resumed = await self._repo.update_task(
                conn,
                row.id,
                {
                    "state": "queued",
                    "owner": self.node_id,
                    "message": f"resumed ({why})",
                    "heartbeat_us": self._now_us(),
                },
            )
            if resumed:
                self._mine.add(row.id)
                self._queue.put_nowait(row.id)
            return
        await self._repo.update_task(
            conn,
            row.id,
            {
                "state": "failed",
                "message": why,
                "error": {"code": "interrupted", "detail": f"the task was {why}"},
                "finished_at_us": self._now_us(),
            },
        )
        self._count(row.kind, "failed")

    def _count(self, kind: str, state: str) -> None:
        self.finished[(kind, state)] = self.finished.get((kind, state), 0) + 1

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            try:
                await self._heartbeat()
            except XeError as exc:
                LOG.warning("task heartbeat failed: %s", exc)

    async def _heartbeat(self) -> None:
        now = self._now_us()
        stale_before = now - int(self._stale_after_s * 1_000_000)
        async with self._store.atomic() as conn:
            cancel = await self._repo.heartbeat(conn, self.node_id, list(self._running), now)
            for row in await self._repo.open_tasks(conn):
                if row.owner != self.node_id and row.heartbeat_us < stale_before:
                    await self._cut_off(conn, row, "interrupted: the server running it stopped")
        for task_id in cancel:
            task = self._running.get(task_id)
            if task is not None:
                self._user_cancelled.add(task_id)
                task.cancel()

    async def _progress(self, task_id: str, fraction: float, message: str) -> None:
        row = self._live.get(task_id)
        if row is None:
            return
        self._live[task_id] = dataclasses.replace(row, progress=fraction, message=message[:500])
        async with self._store.atomic() as conn:
            await self._repo.update_task(
                conn,
                task_id,
                {"progress": fraction, "message": message[:500], "heartbeat_us": self._now_us()},
            )
        await self._bump()

    async def _finish(self, task_id: str, values: dict[str, Any]) -> None:
        values = {**values, "finished_at_us": self._now_us()}
        try:
            async with self._store.atomic() as conn:
                await self._repo.update_task(conn, task_id, values)
        except XeError as exc:
            # The row stays "running"; its heartbeat stops, so it is cut off later.
            LOG.error("cannot record the end of task %s: %s", task_id, exc)
        row = self._live.pop(task_id, None)
        if row is not None:
            self._count(row.kind, str(values["state"]))
        self._running.pop(task_id, None)
        self._principals.pop(task_id, None)
        self._user_cancelled.discard(task_id)
        self._mine.discard(task_id)
        await self._bump()

    async def _execute(self, task_id: str) -> None:
        now = self._now_us()
        async with self._store.atomic() as conn:
            started = await self._repo.update_task(
                conn,
                task_id,
                {
                    "state": "running",
                    "owner": self.node_id,
                    "started_at_us": now,
                    "heartbeat_us": now,
                    "message": "running",
                },
            )
            row = await self._repo.task(conn, task_id)
        if not started or row is None:
            self._mine.discard(task_id)
            return  # cancelled while queued
        spec = self._kinds[row.kind]
        me = asyncio.current_task()
        assert me is not None
        self._running[task_id] = me
        self._live[task_id] = row
        await self._bump()
        ctx = TaskContext(self, row, self._principals.get(task_id))
        try:
            async with asyncio.timeout(row.timeout_s):
                result = await spec.handler(ctx)
        except asyncio.CancelledError:
            if task_id not in self._user_cancelled:
                self._running.pop(task_id, None)
                self._live.pop(task_id, None)
                raise  # the server stops: the row stays running, the next start decides
            me.uncancel()
            await self._finish(task_id, {"state": "cancelled", "message": "cancelled"})
        except TimeoutError:
            detail = f"the task did not end within {row.timeout_s:g} s"
            await self._finish(
                task_id,
                {
                    "state": "failed",
                    "message": "timed out",
                    "error": {"code": "timeout", "detail": detail},
                },
            )
        except Exception as exc:
            if not isinstance(exc, XeError):
                LOG.error("task %s (%s) failed", task_id, row.kind, exc_info=exc)
            error = error_of(exc)
            await self._finish(
                task_id,
                {"state": "failed", "message": str(error["detail"])[:500], "error": error},
            )
        else:
            live = self._live.get(task_id, row)
            await self._finish(
                task_id,
                {
                    "state": "succeeded",
                    "progress": 1.0,
                    "message": live.message if live.message != "running" else "done",
                    "result": dict(result or {}),
                },
            )
