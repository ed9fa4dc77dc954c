"""A live move of one domain between two hosts, driven through both hosts' XPS.

Pre-copy: every chunk of the domain's memory image is copied while it runs, then the
chunks it wrote meanwhile, round after round, until few remain (or a round limit);
then stop-and-copy: the source pauses it, the last dirty chunks are copied, and the
destination checks the image's digest, lets its MSM admit the domain (same UUID and
name) and runs it. The source destroys its paused copy only after that.

The domain runs on exactly one host whatever fails: before the destination answers
the activation, an error aborts both ends (the source unpauses); if the activation's
answer is lost, the destination's domain list decides, and when the destination cannot
be asked the source stays paused and :class:`MigrationInDoubt` says so.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from xps.client._errors import ProtocolViolation, RemoteError, XpsError
from xps.client._typed import Xps

__all__ = ["MigrationInDoubt", "MoveResult", "Progress", "move_domain"]

#: ``progress(phase, details)``; phases: pre-copy, stop-and-copy, activate, finish.
Progress = Callable[[str, dict[str, Any]], Awaitable[None] | None]


class MigrationInDoubt(XpsError):
    """The destination's answer to the activation was lost and it cannot be asked now.

    The source's copy stays paused (never two running copies); ``migration`` names
    the session and ``uuid`` the domain, for whoever settles it later.
    """

    code = "migration_in_doubt"

    def __init__(self, message: str, migration: str, uuid: str) -> None:
        super().__init__(message)
        self.migration = migration
        self.uuid = uuid


@dataclass(frozen=True)
class MoveResult:
    """What a move did.

    ``downtime_ms``: from the pause request to the destination's answer that the
    domain runs, measured by the mover; ``digest``: SHA-256 of the image at pause,
    which the destination restored.
    """

    migration: str
    uuid: str
    name: str
    source_domid: int
    target_domid: int
    image_size: int
    rounds: int
    chunks_sent: int
    digest: str
    downtime_ms: float


async def _report(progress: Progress | None, phase: str, details: dict[str, Any]) -> None:
    if progress is not None:
        result = progress(phase, details)
        if inspect.isawaitable(result):
            await result


async def _copy(source: Xps, dest: Xps, migration: str, chunks: list[int]) -> None:
    for chunk in chunks:
        data = await source.migrate_out_read(migration, chunk)
        await dest.migrate_in_write(migration, chunk, data)


async def _runs_on(dest: Xps, uuid: str) -> int | None:
    states = await dest.get_domain_run_states()
    for dom in states["domains"]:
        if dom.get("uuid") == uuid and dom.get("run_state") != "shutdown":
            return int(dom["domid"])
    return None


async def move_domain(
    source: Xps,
    dest: Xps,
    domain: int | str,
    *,
    max_rounds: int = 8,
    converge_chunks: int = 2,
    progress: Progress | None = None,
) -> MoveResult:
    """Moves a running domain from ``source`` to ``dest`` (both connected, read-write).

    The destination's active policy must already configure the domain (same name and
    UUID); its MSM decides admission. Raises the destination's or source's
    :class:`RemoteError` (the domain then runs on the source again), or
    :class:`MigrationInDoubt`.
    """
    if max_rounds < 1 or converge_chunks < 0:
        raise ValueError("max_rounds must be >= 1 and converge_chunks >= 0")
    out = await source.migrate_out(domain)
    mid, uuid = str(out["migration"]), str(out["uuid"])
    activating = False
    try:
        await dest.migrate_in(mid, uuid, str(out["name"]), int(out["image_size"]))
        dirty = list(range(int(out["chunks"])))
        rounds = sent = 0
        while True:
            await _report(progress, "pre-copy", {"round": rounds + 1, "chunks": len(dirty)})
            await _copy(source, dest, mid, dirty)
            sent += len(dirty)
            rounds += 1
            dirty = list((await source.migrate_out_dirty(mid))["dirty"])
            if len(dirty) <= converge_chunks or rounds >= max_rounds:
                break
        started = time.monotonic()
        paused = await source.migrate_out_dirty(mid, pause=True)
        last = list(paused["dirty"])
        await _report(progress, "stop-and-copy", {"chunks": len(last)})
        await _copy(source, dest, mid, last)
        sent += len(last)
        await _report(progress, "activate", {})
        activating = True
        done = await dest.migrate_in_finish(mid, digest=str(paused["digest"]))
        downtime_ms = round((time.monotonic() - started) * 1000, 3)
        if "aborted" in done:  # the other shape of the answer: only for abort=True
            raise ProtocolViolation(f"MigrateInFinish: migration {mid} answered as aborted")
        target_domid = int(done["domid"])
    except BaseException as exc:
        target: int | None = None
        if activating and not isinstance(exc, RemoteError):
            try:  # the answer was lost: did the destination start it?
                target = await _runs_on(dest, uuid)
            except XpsError as lookup:
                raise MigrationInDoubt(
                    f"migration {mid}: the destination's answer was lost and it cannot be "
                    f"asked ({lookup}); the source keeps the domain paused",
                    mid,
                    uuid,
                ) from exc
        if target is None:
            with contextlib.suppress(XpsError):
                await dest.migrate_in_finish(mid, abort=True)
            with contextlib.suppress(XpsError):
                await source.migrate_out_finish(mid, "abort")
            raise
        downtime_ms, target_domid = round((time.monotonic() - started) * 1000, 3), target
        if not isinstance(exc, Exception):  # cancelled: settle the source, then go on
            await source.migrate_out_finish(mid, "done")
            raise
    await _report(progress, "finish", {"downtime_ms": downtime_ms})
    await source.migrate_out_finish(mid, "done")
    return MoveResult(
        migration=mid,
        uuid=uuid,
        name=str(out["name"]),
        source_domid=int(out["domid"]),
        target_domid=target_domid,
        image_size=int(out["image_size"]),
        rounds=rounds,
        chunks_sent=sent,
        digest=str(paused["digest"]),
        downtime_ms=downtime_ms,
    )
