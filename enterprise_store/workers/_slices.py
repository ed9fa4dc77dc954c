"""Building and signing slices off the event loop: in one thread, or spread over processes.

A slice (``build_slice``: the host's part of the policy merged with what the host owns,
validated, serialised) and its signature (``sign_policy``) cost ~3 ms of CPU per host;
the event loop that talks TLS to every host must not do it. With ``processes=0`` the
work runs in one thread (it holds the GIL, so a second thread would not help); with
``processes=N`` it runs in N spawned processes, one per core the server can spare:
1,000 hosts then take ~3 s of CPU spread over them instead of one core. ``processes=None``
(what ``xenon xe serve`` uses) decides per slice: the thread while few slices wait (a
handful of hosts is not worth a process), processes (one per core, at most four, spawned
when first needed) once ``AUTO_WAITING`` slices wait at once, and always the process that
holds the host's merged policy (:class:`MergedRef`).

Each process holds the newest enterprise policy (sent, pickled, with the first slice of
a version it is asked for: 0.75 MB and ~25 ms each way at 1,000 hosts / 3,000 VMs) and
XE's signing key (loaded once, from its file). A host always goes to the same process,
so a new version reaches each process once, before its first slice of it. Errors come
back as values: an exception whose constructor takes more than a message (the checker's
:class:`PolicyRefused`) does not survive pickling.

A process also keeps the merged policy of each host's last slices and sends back only
hashes and the signed bytes; the propagation worker holds a :class:`MergedRef` in its
place and sends that back as the host's current policy. Pickling the merged policy out
and back in again cost ~0.8 ms of CPU a host (UUIDs unpickle slowly), a third of the
slice itself. A process that no longer has it (restarted) says so, and the worker reads
the host's policy instead (:class:`MergedUnknown`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import multiprocessing
import os
import pickle
import zlib
from dataclasses import dataclass
from typing import Any

from enterprise_store._errors import PolicyRefused, XeError
from enterprise_store.model import EnterprisePolicy, Host
from enterprise_store.policy import HostSlice, build_slice
from enterprise_store.workers._hosts import XeIdentity
from xps.policy import Policy, PolicyError, policy_from_dict

__all__ = ["AUTO_WAITING", "Made", "MergedRef", "MergedUnknown", "SliceMaker", "content_sha256"]

_PROCESS: dict[str, Any] = {}
_BATCH = 64
AUTO_WAITING = 16
"""Slices waiting at once from which ``processes=None`` sends them to processes."""


@dataclass(frozen=True, slots=True)
class MergedRef:
    """The merged policy of a slice a slice process built, held there (by the slice hash)."""

    slice_sha256: str


class MergedUnknown(Exception):
    """The slice process no longer holds the merged policy a :class:`MergedRef` named.

    A signal inside the propagation worker (which then reads the host's policy), never an
    error a caller sees: so it is not in the ``XeError`` tree.
    """

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: the slice process lost its policy")


@dataclass(frozen=True, slots=True)
class Made:
    """A built slice: its version, hashes (``HostSlice.slice_sha256`` and
    ``content_sha256``), the merged policy (or where a slice process keeps it) and, unless
    its content was unchanged, its signed document."""

    version: int
    slice_sha256: str
    content_sha256: str
    signed: bytes | None
    merged: Policy | MergedRef


def content_sha256(made: HostSlice) -> str:
    """``made.content_sha256`` (the slice's hash with its version zeroed) from the XML
    already written instead of serialising the policy a second time (~0.5 ms a host).

    The version is the root element's ``version`` attribute, the first ``version="``
    in the document: the XML declaration quotes with ``'`` and an attribute value before
    it (the name) cannot hold a ``"`` (it is written ``&quot;``).
    """
    xml = made.xml
    at = xml.find(b' version="')
    end = xml.find(b'"', at + 10) if at >= 0 else -1
    if at < 0 or xml[at + 10 : end] != str(made.version).encode():
        return made.content_sha256  # not the shape expected: the long way
    return hashlib.sha256(xml[: at + 10] + b"0" + xml[end:]).hexdigest()


def _make(
    policy: EnterprisePolicy,
    host: Host,
    current: Policy | None,
    raw: Any,
    where: str,
    unchanged_if: str | None,
    signer: Any,
) -> Made:
    if raw is not None:
        # Parsing the host's policy costs as much as the slice: done here, not on the loop.
        try:
            current = policy_from_dict(raw)
        except (PolicyError, KeyError, TypeError) as exc:
            raise XeError("host_error", f"{where}: unreadable active policy: {exc}") from exc
    made = build_slice(policy, host.id, current)
    content = content_sha256(made)
    signed = None
    if unchanged_if is None or content != unchanged_if:
        if signer is None:
            raise XeError("signer_unavailable", "XE has no signing key: run xenon xe init")
        signed = signer.sign(made)
    return Made(made.version, made.slice_sha256, content, signed, made.policy)


def _init_process(identity: XeIdentity | None) -> None:
    from enterprise_store.workers._propagation import SliceSigner

    _PROCESS["signer"] = None if identity is None else SliceSigner(identity)


def _in_process(
    version: int,
    blob: bytes | None,
    host: Host,
    current: Policy | MergedRef | None,
    raw: Any,
    where: str,
    unchanged_if: str | None,
) -> tuple[str, Any]:
    if blob is not None:
        _PROCESS["policy"] = (version, pickle.loads(zlib.decompress(blob)))  # noqa: S301 - our own bytes
    held = _PROCESS.get("policy")
    if held is None or held[0] != version:
        return ("stale", version)
    held_by_host: dict[str, dict[str, Policy]] = _PROCESS.setdefault("merged", {})
    kept = held_by_host.get(str(host.id), {})
    if isinstance(current, MergedRef):
        current = kept.get(current.slice_sha256)
        if current is None:
            return ("unknown", None)
    try:
        made = _make(held[1], host, current, raw, where, unchanged_if, _PROCESS["signer"])
    except PolicyRefused as exc:
        return ("refused", (list(exc.findings), exc.message))
    except XeError as exc:
        return ("error", (exc.code, exc.message))
    assert isinstance(made.merged, Policy)
    # Two at most: the one the host enforces until the new one is activated, and the new.
    kept = {sha: p for sha, p in kept.items() if p is current}
    kept[made.slice_sha256] = made.merged
    held_by_host[str(host.id)] = kept
    return ("made", dataclasses.replace(made, merged=MergedRef(made.slice_sha256)))


def _in_process_many(
    version: int,
    blob: bytes | None,
    jobs: list[tuple[Host, Policy | MergedRef | None, Any, str, str | None]],
) -> list[tuple[str, Any]]:
    # One round trip for many hosts: a task costs ~15 ms of hand-offs between the event
    # loop's thread and the pool's queue thread while the loop is busy; a slice ~3 ms.
    out = []
    for i, job in enumerate(jobs):
        out.append(_in_process(version, blob if i == 0 else None, *job))
    return out


class SliceMaker:
    """Where slices are built and signed.

    Args:
        identity: XE's signing material (None: building works, signing fails).
        processes: 0 for one thread in this process, N for that many processes, None for
            the thread or processes by the number of slices waiting (see the module).
    """

    def __init__(self, identity: XeIdentity | None, *, processes: int | None = 0) -> None:
        self._identity = identity
        self._signer: Any = None
        self._signer_error: XeError | None = None
        self.auto = processes is None
        if processes is None:
            cores = os.cpu_count() or 1
            processes = min(4, cores) if cores > 1 else 0
        self._waiting = 0
        if identity is not None and (processes == 0 or self.auto):
            from enterprise_store.workers._propagation import SliceSigner

            try:
                self._signer = SliceSigner(identity)
            except XeError as exc:
                self._signer_error = exc
        self.processes = processes
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xe-slices")
        self._pools: list[concurrent.futures.ProcessPoolExecutor | None] = [None] * processes
        self._versions: list[int | None] = [None] * processes
        self._blob: tuple[int, bytes] | None = None
        self._queued: list[list[tuple[EnterprisePolicy, tuple[Any, ...], asyncio.Future[Made]]]]
        self._queued = [[] for _ in range(processes)]
        self._senders: list[asyncio.Task[None] | None] = [None] * processes

    @property
    def signer_problem(self) -> XeError | None:
        """Why slices cannot be signed (None: they can, as far as is known here)."""
        return self._signer_error

    def close(self) -> None:
        """Stops the thread and the processes (work in flight is abandoned)."""
        self._thread.shutdown(wait=False, cancel_futures=True)
        for sender in self._senders:
            if sender is not None:
                sender.cancel()
        for pool in self._pools:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._pools = [None] * self.processes

    async def make(
        self,
        policy: EnterprisePolicy,
        host: Host,
        current: Policy | MergedRef | None,
        raw: Any,
        where: str,
        *,
        unchanged_if: str | None = None,
    ) -> Made:
        """Builds ``host``'s slice of ``policy`` and signs it unless its content hash equals
        ``unchanged_if``.

        Args:
            current: The host's current policy, if known: as an object, or as the
                ``merged`` of a :class:`Made` this maker returned.
            raw: Else its ``policy_to_dict`` form as the host sent it (parsed off the loop).

        Raises:
            PolicyRefused: The slice does not validate.
            MergedUnknown: ``current`` names a policy the slice process no longer holds
                (read the host's policy and ask again).
            XeError: The host's policy is unreadable, or nothing can sign.
        """
        self._waiting += 1
        try:
            return await self._make_somewhere(policy, host, current, raw, where, unchanged_if)
        finally:
            self._waiting -= 1

    async def _make_somewhere(
        self,
        policy: EnterprisePolicy,
        host: Host,
        current: Policy | MergedRef | None,
        raw: Any,
        where: str,
        unchanged_if: str | None,
    ) -> Made:
        loop = asyncio.get_running_loop()
        in_thread = not self.processes or (
            self.auto and self._waiting < AUTO_WAITING and not isinstance(current, MergedRef)
        )
        if in_thread:
            if isinstance(current, MergedRef):
                raise MergedUnknown(where)
            if self._signer is None and self._signer_error is not None:
                signer: Any = None
            else:
                signer = self._signer
            return await loop.run_in_executor(
                self._thread, _make, policy, host, current, raw, where, unchanged_if, signer
            )
        slot = host.id.int % self.processes
        done: asyncio.Future[Made] = loop.create_future()
        self._queued[slot].append((policy, (host, current, raw, where, unchanged_if), done))
        sender = self._senders[slot]
        if sender is None or sender.done():
            self._senders[slot] = asyncio.create_task(self._send(slot))
        return await done

    async def _send(self, slot: int) -> None:
        """Sends the slot's queued hosts to its process in batches of the same version."""
        queue = self._queued[slot]
        while queue:
            await asyncio.sleep(0)  # hosts asking in this loop turn join the batch
            version = queue[0][0].version
            batch = [q for q in queue[:_BATCH] if q[0].version == version]
            del queue[: len(batch)]
            try:
                answers = await self._run(slot, batch[0][0], [b[1] for b in batch])
            except Exception as exc:
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (_, job, done), (kind, value) in zip(batch, answers, strict=True):
                if done.done():
                    continue
                if kind == "made":
                    done.set_result(value)
                elif kind == "unknown":
                    done.set_exception(MergedUnknown(job[3]))
                elif kind == "refused":
                    findings, message = value
                    done.set_exception(PolicyRefused(findings, message))
                else:
                    code, message = value
                    done.set_exception(XeError(code, message))

    async def _run(
        self, slot: int, policy: EnterprisePolicy, jobs: list[tuple[Any, ...]]
    ) -> list[tuple[str, Any]]:
        loop = asyncio.get_running_loop()
        for _ in range(3):
            pool = self._pool(slot)
            blob = None
            if self._versions[slot] != policy.version:
                blob = await self._blob_of(policy)
                # The process runs its tasks in order: later ones find the version there.
                self._versions[slot] = policy.version
            try:
                answers = await loop.run_in_executor(
                    pool, _in_process_many, policy.version, blob, jobs
                )
            except concurrent.futures.process.BrokenProcessPool:
                self._pools[slot] = None
                self._versions[slot] = None
                continue
            if any(kind == "stale" for kind, _ in answers):
                self._versions[slot] = None  # another version overtook: send it again
                continue
            return answers
        raise XeError("internal_error", "the slice process failed three times")

    def _pool(self, slot: int) -> concurrent.futures.ProcessPoolExecutor:
        pool = self._pools[slot]
        if pool is None:
            pool = concurrent.futures.ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process,
                initargs=(self._identity,),
            )
            self._pools[slot] = pool
        return pool

    async def _blob_of(self, policy: EnterprisePolicy) -> bytes:
        if self._blob is None or self._blob[0] != policy.version:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(
                self._thread, lambda: zlib.compress(pickle.dumps(policy, protocol=5), 1)
            )
            self._blob = (policy.version, data)
        return self._blob[1]
