"""Memory images of simulated guests, and the sessions that move one between hosts.

The C simulated hypervisor keeps no guest memory contents, only page accounting. For a
live move to be checkable ("the memory arrived"), each sim domain gets a byte image here:
``memory_mb`` KiB (1/1024 of its memory), whole pages, at most :data:`MAX_IMAGE`. Its
first contents are seeded from the domain's UUID; after that the guest "writes" to it as
it runs: one 16-byte record per :data:`DIRTY_QUANTUM_NS` of the domain's CPU time, at a
page and offset drawn from (UUID, quantum). A paused domain uses no CPU and writes
nothing, so the image at pause time is fixed and its digest is what the destination must
reproduce.

Images are brought up to date lazily (:meth:`SimMemory.sync`, from the domain list) when
a migration looks at them; the writes depend only on the CPU time that passed, not on
when anyone looked (except that one sync applies at most :data:`MAX_WRITES_PER_SYNC`
records: the last ones — a guest that rewrote its memory many times over is as dirty
as one that did so once). An image is keyed by (domid, created_ns), so a new domain that
reuses a domid starts from fresh contents.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from xps.policy import DomainConfig, Policy

from ._domains import DomainRow, SimDomains
from ._errors import ConflictError, HostStateError, InvalidArgument, NoSeclabel, NotFound

__all__ = [
    "CHUNK_SIZE",
    "MAX_IMAGE",
    "PAGE",
    "XL_MIGRATE",
    "HostHooks",
    "InSession",
    "MemImage",
    "Migrations",
    "OutSession",
    "SimMemory",
    "SimMigrator",
    "image_size",
    "migration_id",
]

PAGE = 4096
#: One transfer unit: 16 pages. Base64 makes it ~87 KiB, under the 128 KiB frame that
#: every method may send (xps.protocol LARGE_REQUEST).
CHUNK_SIZE = 64 << 10
#: Largest image (a 4 GiB guest): 64 chunks.
MAX_IMAGE = 4 << 20
#: The sim guest writes one record per millisecond of its CPU time (~250 pages/s per busy
#: vCPU: a 1 GiB guest's 256-page image is mostly rewritten within a second).
DIRTY_QUANTUM_NS = 1_000_000
MAX_WRITES_PER_SYNC = 1024
_RECORD = 16
#: Sessions a host keeps at once per direction; one idle longer than this is dropped
#: when room is needed (its domain is left as it is: see Host.migrate_out_finish).
MAX_SESSIONS = 8
SESSION_IDLE_S = 600.0


def image_size(mem_kb: int) -> int:
    """Bytes of a guest's image: ``mem_kb`` KiB / 1024, in whole pages, within 1 page..4 MiB."""
    pages = max(1, -(-mem_kb // PAGE))
    return min(pages * PAGE, MAX_IMAGE)


def chunk_count(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Chunks of ``chunk_size`` bytes covering ``size`` bytes (the last may be shorter)."""
    return -(-size // chunk_size)


@dataclass
class MemImage:
    """One domain's memory image and the chunks written since each was last read."""

    uuid: UUID
    data: bytearray
    cpu_ns: int
    dirty: set[int] = field(default_factory=set)

    def digest(self) -> str:
        """SHA-256 of the image, hex."""
        return hashlib.sha256(self.data).hexdigest()

    def advance(self, cpu_ns: int) -> None:
        """Applies the guest's writes for the CPU time between the last sync and ``cpu_ns``."""
        first, last = self.cpu_ns // DIRTY_QUANTUM_NS + 1, cpu_ns // DIRTY_QUANTUM_NS
        self.cpu_ns = max(self.cpu_ns, cpu_ns)
        if last < first:
            return
        first = max(first, last - MAX_WRITES_PER_SYNC + 1)
        pages = len(self.data) // PAGE
        seed = self.uuid.bytes
        for k in range(first, last + 1):
            h = hashlib.blake2b(seed + k.to_bytes(8, "little"), digest_size=24).digest()
            page = int.from_bytes(h[:4], "little") % pages
            slot = int.from_bytes(h[4:8], "little") % (PAGE // _RECORD)
            at = page * PAGE + slot * _RECORD
            self.data[at : at + _RECORD] = h[8:24]
            self.dirty.add(at // CHUNK_SIZE)

    def chunk(self, index: int) -> bytes:
        """The bytes of chunk ``index`` now; it is clean until the guest writes to it again."""
        if not 0 <= index < chunk_count(len(self.data)):
            raise InvalidArgument(f"chunk {index} is outside 0..{chunk_count(len(self.data)) - 1}")
        self.dirty.discard(index)
        return bytes(self.data[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE])


class SimMemory:
    """The images of every live sim domain (dom0 has none)."""

    def __init__(self) -> None:
        self._images: dict[tuple[int, int], MemImage] = {}

    def sync(self, rows: Iterable[DomainRow]) -> None:
        """Creates images of new domains, applies guest writes, forgets gone domains."""
        seen: set[tuple[int, int]] = set()
        for row in rows:
            if row.domid == 0 or row.uuid is None:
                continue
            key = (row.domid, row.created_ns)
            seen.add(key)
            image = self._images.get(key)
            if image is None:
                size = image_size(row.mem_kb)
                seeded = random.Random(row.uuid.int).randbytes(size)  # contents, not secrets
                self._images[key] = MemImage(row.uuid, bytearray(seeded), row.cpu_ns)
            else:
                image.advance(row.cpu_ns)
        for key in set(self._images) - seen:
            del self._images[key]

    def image(self, row: DomainRow) -> MemImage:
        """The image of a synced domain."""
        try:
            return self._images[(row.domid, row.created_ns)]
        except KeyError:
            raise NotFound(f"domain {row.domid} ({row.name}) has no memory image") from None

    def install(self, row: DomainRow, data: bytes) -> MemImage:
        """Gives a just-created domain the image ``data`` (a migrated guest's memory)."""
        image = MemImage(row.uuid or UUID(int=0), bytearray(data), row.cpu_ns)
        self._images[(row.domid, row.created_ns)] = image
        return image


@dataclass
class OutSession:
    """A domain being moved away from this host."""

    id: str
    domid: int
    created_ns: int
    uuid: UUID
    name: str
    size: int
    rounds: int = 0
    paused_ns: int | None = None
    digest: str | None = None
    touched: float = field(default_factory=time.monotonic)


@dataclass
class InSession:
    """A domain's image being received by this host."""

    id: str
    uuid: UUID
    name: str
    data: bytearray
    received: set[int] = field(default_factory=set)
    touched: float = field(default_factory=time.monotonic)

    @property
    def chunks(self) -> int:
        """Chunks the image has."""
        return chunk_count(len(self.data))


class Migrations:
    """The sim memory and the open migration sessions of one host."""

    def __init__(self) -> None:
        self.memory = SimMemory()
        self.outgoing: dict[str, OutSession] = {}
        self.incoming: dict[str, InSession] = {}

    @staticmethod
    def _make_room(table: dict[str, OutSession] | dict[str, InSession], what: str) -> None:
        if len(table) < MAX_SESSIONS:
            return
        now = time.monotonic()
        stale = [k for k, s in table.items() if now - s.touched > SESSION_IDLE_S]
        for key in stale:
            del table[key]
        if len(table) >= MAX_SESSIONS:
            raise ConflictError(f"{len(table)} {what} migrations are already open")

    def open_out(self, session: OutSession) -> None:
        """Registers an outgoing session; one per domain."""
        for other in self.outgoing.values():
            if other.domid == session.domid and other.created_ns == session.created_ns:
                raise ConflictError(f"domain {session.name} is already being migrated ({other.id})")
        self._make_room(self.outgoing, "outgoing")
        self.outgoing[session.id] = session

    def open_in(self, session: InSession) -> None:
        """Registers an incoming session; one per migration id and per domain."""
        for other in self.incoming.values():
            if other.id == session.id or other.uuid == session.uuid:
                raise ConflictError(f"domain {session.name} is already being received ({other.id})")
        self._make_room(self.incoming, "incoming")
        self.incoming[session.id] = session

    def out(self, migration: str) -> OutSession:
        """An open outgoing session."""
        session = self.outgoing.get(migration)
        if session is None:
            raise NotFound(f"no outgoing migration {migration!r}")
        session.touched = time.monotonic()
        return session

    def into(self, migration: str) -> InSession:
        """An open incoming session."""
        session = self.incoming.get(migration)
        if session is None:
            raise NotFound(f"no incoming migration {migration!r}")
        session.touched = time.monotonic()
        return session


#: The answer of every migration method on the xen backend.
XL_MIGRATE = (
    "live migration of a Xen host's domain goes through `xl migrate` between the hosts; "
    "xl migrate path: not exercisable here (only the sim backend moves domains)"
)
_MIGRATION_ID = re.compile(r"[0-9a-f]{32}")


def migration_id(value: object) -> str:
    """A migration id as given by a client: 32 lowercase hex digits."""
    if not isinstance(value, str) or _MIGRATION_ID.fullmatch(value) is None:
        raise InvalidArgument("migration must be 32 lowercase hex digits")
    return value


@dataclass(frozen=True)
class HostHooks:
    """What the migrator needs from the Host it serves."""

    domains: SimDomains
    rows: Callable[[], Awaitable[list[DomainRow]]]
    resolve: Callable[[int | str], Awaitable[DomainRow]]
    policy: Callable[[], Policy]
    lock: asyncio.Lock
    log: Callable[[str], None]
    event: Callable[[int, str, str, str], None]


class SimMigrator:
    """Both ends of a live move of a sim domain (the Host's Migrate* methods).

    Source: :meth:`start_out` opens a session and marks the whole image dirty; the mover
    reads chunks (:meth:`read`) while the guest runs, asks which were written again
    (:meth:`dirty`) for as many pre-copy rounds as it likes, then asks with ``pause``:
    the domain is paused, the image is final and its digest is returned; the mover copies
    the last dirty chunks and ends with :meth:`finish_out` (``done``: destroyed here;
    ``abort``: unpaused here). Destination: :meth:`start_in` checks that the active
    policy configures the domain with this UUID, :meth:`write` takes chunks,
    :meth:`finish_in` checks the digest and creates the domain paused through the MSM
    (which admits it or refuses it: Chinese Wall, SecLabel), restores the image, then
    unpauses it. A refusal removes the session and leaves no domain behind.
    """

    def __init__(self, hooks: HostHooks) -> None:
        self._h = hooks
        self.state = Migrations()

    async def _synced(self) -> list[DomainRow]:
        rows = await self._h.rows()
        self.state.memory.sync(rows)
        return rows

    def _row(self, rows: list[DomainRow], session: OutSession) -> DomainRow | None:
        return next(
            (r for r in rows if r.domid == session.domid and r.created_ns == session.created_ns),
            None,
        )

    async def _out_row(self, session: OutSession) -> DomainRow:
        row = self._row(await self._synced(), session)
        if row is None:
            self.state.outgoing.pop(session.id, None)
            raise NotFound(f"domain {session.name} of migration {session.id} is gone")
        return row

    # ---------------------------------------------------------------- source

    async def start_out(self, domain: int | str) -> dict[str, Any]:
        """Opens an outgoing migration of a running domain."""
        row = await self._h.resolve(domain)
        if row.domid == 0:
            raise InvalidArgument("refusing to migrate Domain-0")
        if row.run_state != "running" or row.uuid is None:
            raise HostStateError(
                f"domain {row.name} is {row.run_state}: only a running domain is migrated"
            )
        await self._synced()
        image = self.state.memory.image(row)
        session = OutSession(
            uuid4().hex, row.domid, row.created_ns, row.uuid, row.name, len(image.data)
        )
        self.state.open_out(session)
        chunks = chunk_count(len(image.data))
        image.dirty = set(range(chunks))  # the first round sends everything
        self._h.log(
            f"domain {row.domid} ({row.name}): migration {session.id} out started "
            f"({len(image.data)} bytes of image in {chunks} chunks)"
        )
        return {
            "migration": session.id,
            "domid": row.domid,
            "uuid": str(row.uuid),
            "name": row.name,
            "mem_kb": row.mem_kb,
            "image_size": len(image.data),
            "chunk_size": CHUNK_SIZE,
            "chunks": chunks,
        }

    async def read(self, migration: str, chunk: int) -> dict[str, Any]:
        """One chunk of the image as it is now (base64); it is clean until written again."""
        session = self.state.out(migration_id(migration))
        row = await self._out_row(session)
        data = self.state.memory.image(row).chunk(chunk)
        return {"chunk": chunk, "data": base64.b64encode(data).decode("ascii")}

    async def dirty(self, migration: str, pause: bool = False) -> dict[str, Any]:
        """Chunks written since they were read; with ``pause``, pauses first (stop-and-copy)."""
        session = self.state.out(migration_id(migration))
        row = await self._out_row(session)
        if pause and session.paused_ns is None:
            if row.run_state != "running":
                raise HostStateError(f"domain {row.name} is {row.run_state}, not running")
            await self._h.domains.action("pause", row.domid)
            session.paused_ns = time.monotonic_ns()
            row = await self._out_row(session)  # the guest's last writes, up to the pause
            session.digest = self.state.memory.image(row).digest()
            self._h.log(
                f"domain {row.domid} ({row.name}): migration {session.id} paused after "
                f"{session.rounds} pre-copy rounds"
            )
            self._h.event(row.domid, row.name, "paused", "migrating")
        session.rounds += 1
        image = self.state.memory.image(row)
        return {
            "round": session.rounds,
            "dirty": sorted(image.dirty),
            "paused": session.paused_ns is not None,
            "digest": session.digest,
        }

    async def finish_out(self, migration: str, outcome: str) -> dict[str, Any]:
        """``done``: destroys the (paused) source domain; ``abort``: unpauses it."""
        if outcome not in ("done", "abort"):
            raise InvalidArgument("outcome must be done or abort")
        session = self.state.out(migration_id(migration))
        if outcome == "done" and session.paused_ns is None:
            raise HostStateError(
                f"migration {session.id} never paused {session.name}: nothing was moved"
            )
        del self.state.outgoing[session.id]
        row = self._row(await self._synced(), session)
        paused_ms = 0.0
        if session.paused_ns is not None:
            paused_ms = round((time.monotonic_ns() - session.paused_ns) / 1e6, 3)
        run_state = "destroyed"
        if row is not None and outcome == "done":
            await self._h.domains.action("destroy", row.domid)
            self._h.event(row.domid, row.name, "destroyed", "migrated")
        elif row is not None:
            run_state = row.run_state
            if session.paused_ns is not None and row.run_state == "paused":
                await self._h.domains.action("unpause", row.domid)
                run_state = "running"
                self._h.event(row.domid, row.name, "running", "migration_aborted")
        self._h.log(
            f"domain {session.domid} ({session.name}): migration {session.id} out {outcome}"
            f" ({paused_ms} ms paused)"
        )
        return {
            "domid": session.domid,
            "name": session.name,
            "run_state": run_state,
            "paused_ms": paused_ms,
        }

    # ---------------------------------------------------------------- destination

    def _policy_domain(self, vm: UUID, name: str) -> DomainConfig:
        policy = self._h.policy()
        dom = next((d for d in policy.domains if d.name == name), None)
        if dom is None:
            raise NotFound(
                f"the active policy has no domain {name!r}: the policy must place it on "
                "this host before it can arrive"
            )
        if dom.id != vm:
            raise ConflictError(f"domain {name!r} of the active policy is {dom.id}, not {vm}")
        if dom.seclabel is None:
            raise NoSeclabel(f"domain {name!r} has no SecLabel and may not run")
        return dom

    async def start_in(
        self, migration: str, uuid: str, name: str, image_size: int, chunk_size: int
    ) -> dict[str, Any]:
        """Opens an incoming migration of the policy's domain ``name`` (UUID ``uuid``)."""
        mid = migration_id(migration)
        try:
            vm = UUID(uuid)
        except (ValueError, TypeError):
            raise InvalidArgument("uuid must be a UUID") from None
        if chunk_size != CHUNK_SIZE:
            raise InvalidArgument(f"chunk_size must be {CHUNK_SIZE}")
        if not (PAGE <= image_size <= MAX_IMAGE) or image_size % PAGE:
            raise InvalidArgument(f"image_size must be whole pages of {PAGE} up to {MAX_IMAGE}")
        self._policy_domain(vm, name)
        for row in await self._h.rows():
            if row.uuid == vm or row.name == name:
                raise ConflictError(f"domain {name} already runs here (domid {row.domid})")
        session = InSession(mid, vm, name, bytearray(image_size))
        self.state.open_in(session)
        self._h.log(f"domain {name}: migration {mid} in started ({image_size} bytes of image)")
        return {"migration": mid, "chunks": session.chunks}

    async def write(self, migration: str, chunk: int, data: str) -> dict[str, Any]:
        """Stores one chunk (base64) of an incoming image."""
        session = self.state.into(migration_id(migration))
        if not 0 <= chunk < session.chunks:
            raise InvalidArgument(f"chunk {chunk} is outside 0..{session.chunks - 1}")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument("data must be base64") from None
        at = chunk * CHUNK_SIZE
        want = min(CHUNK_SIZE, len(session.data) - at)
        if len(raw) != want:
            raise InvalidArgument(f"chunk {chunk} must hold {want} bytes, not {len(raw)}")
        session.data[at : at + want] = raw
        session.received.add(chunk)
        return {"chunk": chunk, "received": len(session.received), "chunks": session.chunks}

    async def finish_in(
        self, migration: str, digest: str | None = None, abort: bool = False
    ) -> dict[str, Any]:
        """Activates the received domain (digest checked, MSM admission), or drops it."""
        session = self.state.into(migration_id(migration))
        del self.state.incoming[session.id]  # whatever follows, this session is over
        if abort:
            self._h.log(f"domain {session.name}: migration {session.id} in aborted")
            return {"aborted": True, "name": session.name}
        missing = session.chunks - len(session.received)
        if missing:
            raise HostStateError(f"migration {session.id}: {missing} chunks never arrived")
        got = hashlib.sha256(session.data).hexdigest()
        if digest is None or got != digest.lower():
            raise InvalidArgument(
                f"migration {session.id}: the image's digest is {got}, the source's was "
                f"{digest}: refused"
            )
        async with self._h.lock:
            policy = self._h.policy()
            dom = self._policy_domain(session.uuid, session.name)
            # The MSM admits the domain or refuses it here (Chinese Wall, SecLabel).
            domid = await self._h.domains.create(policy, dom, paused=True)
            try:
                row = self._h.domains.row_of(domid)
                restored = self.state.memory.install(row, bytes(session.data)).digest()
                await self._h.domains.action("unpause", domid)
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._h.domains.action("destroy", domid)
                raise
        self._h.log(
            f"domain {domid} ({session.name}): migration {session.id} in done, "
            f"image {restored[:16]}… restored"
        )
        self._h.event(domid, session.name, "running", "migrated_in")
        return {
            "domid": domid,
            "uuid": str(session.uuid),
            "name": session.name,
            "digest": restored,
            "run_state": "running",
        }
