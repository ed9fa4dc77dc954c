"""``/api/v1/tasks``: long-running work (host add, propagation): read, await, stream, cancel.

An operation that starts a task answers ``202 Accepted``, ``Location: /api/v1/tasks/{id}``
and ``{"task_id", "location"}`` (Xen Orchestra's shape, enterprise-anchors §1). Then:
``GET /tasks/{id}?wait=S`` answers once the task ended or after S seconds;
``GET /tasks/{id}/events`` streams the task as NDJSON, one object per change, ending
with the ended task; ``POST /tasks/{id}/cancel`` cancels it.
"""

from __future__ import annotations

import http
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from enterprise_store._errors import ERROR_CLASSES
from enterprise_store.api._auth import Caller, ServicesDep, doc
from enterprise_store.api._collections import Fields, Limit, parse_fields
from enterprise_store.api._errors import STATUS, TYPE_PREFIX
from enterprise_store.schemas import Page, Problem
from enterprise_store.schemas_compute import TaskAccepted, TaskFields, TaskOut, TaskState
from enterprise_store.services._compute_types import TaskInfo
from enterprise_store.services._types import from_us

__all__ = ["accepted", "router", "task_out"]

router = APIRouter(prefix="/api/v1", tags=["tasks"])
NDJSON = "application/x-ndjson"
TaskId = Annotated[str, Path(min_length=1, max_length=64, description="The task's id.")]
_BY_CODE = {cls.code: cls for cls in ERROR_CLASSES}
# Codes a task fails with that are not XE error classes.
_TASK_STATUS = {"timeout": 504, "interrupted": 503, "internal_error": 500}


def _status(code: str) -> int:
    if code in _TASK_STATUS:
        return _TASK_STATUS[code]
    cls = _BY_CODE.get(code)
    return next((status for base, status in STATUS if cls and issubclass(cls, base)), 500)


def _problem(task: TaskInfo) -> Problem | None:
    if task.error is None:
        return None
    code = str(task.error.get("code", "internal_error"))
    status = _status(code)
    findings = task.error.get("findings")
    return Problem.model_validate(
        {
            "type": f"{TYPE_PREFIX}{code}",
            "title": http.HTTPStatus(status).phrase,
            "status": status,
            "detail": str(task.error.get("detail", "")),
            "instance": f"/api/v1/tasks/{task.id}",
            "code": code,
            "findings": findings if isinstance(findings, list) else None,
        }
    )


def task_out(task: TaskInfo) -> TaskOut:
    """A stored task as the API shows it."""
    created = from_us(task.created_at_us)
    assert created is not None
    return TaskOut(
        id=task.id,
        kind=task.kind,
        state=task.state,  # type: ignore[arg-type]
        progress=task.progress,
        message=task.message,
        object=task.object,
        created_by=task.created_by,
        created_at=created,
        started_at=from_us(task.started_at_us),
        finished_at=from_us(task.finished_at_us),
        cancel_requested=task.cancel_requested,
        result=task.result,
        error=_problem(task),
    )


def accepted(response: Response, task: TaskInfo) -> TaskAccepted:
    """The 202 answer of an operation that started ``task`` (sets ``Location``)."""
    location = f"/api/v1/tasks/{task.id}"
    response.headers["Location"] = location
    return TaskAccepted(task_id=task.id, location=location)


def _decode_before(cursor: str | None) -> tuple[int, str] | None:
    from enterprise_store._errors import InvalidInput
    from enterprise_store.api._collections import decode_cursor

    key = decode_cursor(cursor)
    if key is None:
        return None
    ts, _, task_id = key.partition(":")
    if not ts.isdigit() or not task_id:
        raise InvalidInput("invalid cursor: pass next_cursor back unchanged")
    return int(ts), task_id


@router.get(
    "/tasks",
    summary="List tasks, newest first",
    response_model=Page[TaskFields],  # type: ignore[valid-type]
    **doc(
        "auditor",
        note="Tasks one started, and those of one's enclaves (enterprise-wide tasks: "
        "unscoped callers).",
    ),
)
async def list_tasks(
    caller: Caller,
    services: ServicesDep,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[TaskState | None, Query()] = None,
    fields: Fields = None,
    limit: Limit = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    from enterprise_store.api._collections import page

    selected = parse_fields(fields, TaskOut)
    rows, after = await services.compute.list_tasks(
        caller, kind=kind, state=state, before=_decode_before(cursor), limit=limit
    )
    next_key = None if after is None else f"{after[0]}:{after[1]}"
    return page(TaskOut, [task_out(r) for r in rows], next_key, selected)


@router.get(
    "/tasks/{task_id}",
    summary="Read a task (optionally waiting for it to end)",
    response_model=TaskOut,
    **doc("auditor", 404, note="`wait=S`: answer once the task ended, or after S seconds."),
)
async def get_task(
    task_id: TaskId,
    caller: Caller,
    services: ServicesDep,
    wait: Annotated[float, Query(ge=0, le=300, description="Seconds to wait for the end.")] = 0,
) -> TaskOut:
    if wait > 0:
        return task_out(await services.compute.wait_task(caller, task_id, wait))
    return task_out(await services.compute.get_task(caller, task_id))


_EVENTS_DOC = doc("auditor", 404)
_EVENTS_DOC["responses"][200] = {
    "description": "One TaskOut object per line: now, at every change, and ended.",
    "content": {NDJSON: {"schema": {"$ref": "#/components/schemas/TaskOut"}}},
}


@router.get(
    "/tasks/{task_id}/events",
    summary="Stream a task's changes (NDJSON) until it ends",
    response_class=StreamingResponse,
    **_EVENTS_DOC,
)
async def task_events(task_id: TaskId, caller: Caller, services: ServicesDep) -> Response:
    changes = await services.compute.watch_task(caller, task_id)

    async def lines() -> AsyncIterator[bytes]:
        async for row in changes:
            yield task_out(row).model_dump_json().encode() + b"\n"

    return StreamingResponse(lines(), media_type=NDJSON)


@router.post(
    "/tasks/{task_id}/cancel",
    summary="Cancel a queued or running task",
    response_model=TaskOut,
    **doc(
        "operator",
        404,
        409,
        note="One's own tasks; admins: any task they can see. A task another server runs "
        "ends at that server's next heartbeat (`cancel_requested`).",
    ),
)
async def cancel_task(task_id: TaskId, caller: Caller, services: ServicesDep) -> TaskOut:
    return task_out(await services.compute.cancel_task(caller, task_id))
