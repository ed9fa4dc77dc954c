"""The violations monitor: MSM ring records -> log file, in-memory window, batched events."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, NamedTuple
from uuid import UUID

from xps.msm import DOMID_INVALID, HYPERCALL_NAMES, VIOLATION_RECORD, Msm, Violation
from xps.protocol import Violation as ViolationDict
from xps.protocol import Violations

from ._errors import InvalidArgument

__all__ = ["KIND_NAMES", "LOG_NAME", "Labels", "ViolationMonitor"]

LOG_NAME = "xenon-msm-violations.log"
KIND_NAMES = {1: "profile", 2: "rate", 3: "channel"}
_NIL = bytes(16)
_MAX_LIMIT = 100_000
_MAX_NAMES = 4096  # domids remembered in one names snapshot before starting afresh
_REC = VIOLATION_RECORD


class Labels(NamedTuple):
    """Names of one SecLabel for display: its own and its profile's."""

    seclabel_name: str
    profile: str


class _Chunk(NamedTuple):
    # One drained batch, kept packed (48 bytes a record): dicts are built on demand.
    first_seq: int
    data: bytes
    names: dict[int, str]  # domid -> name when the batch was ingested (shared, read-only)


# Per batch, per (domid, seclabel, kind, nr): the fields and log-line middle that repeat.
_Static = tuple[str, str | None, str, str, str, str, str]


class _IsoStamps:
    """Formats epoch milliseconds as ISO 8601 UTC, caching the per-second prefix."""

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, ms: int) -> str:
        sec, rem = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{rem:03d}Z"


class ViolationMonitor:
    """Turns drained ring records into numbered violations.

    Each record gets a monotonically increasing ``seq`` (from 1), is appended to the log
    file as one line, is kept in a bounded in-memory window for :meth:`since`, and each
    ingested batch is handed to ``publish`` once (one event per batch). The window keeps
    the packed records; their dicts are built again when :meth:`since` asks for them
    (with the SecLabel names in force then, the domain names of when they were drained).

    Args:
        log_path: The ``xenon-msm-violations.log`` file (appended; created 0600).
        max_kept: Records kept in memory.
        wall_offset_ns: Added to a record's MSM timestamp to give wall-clock epoch ns.
        domain_name: Name of a domid (the host's cache; survives the domain's destruction).
        publish: Called with each batch's event data.
    """

    def __init__(
        self,
        log_path: Path,
        max_kept: int,
        wall_offset_ns: int,
        domain_name: Callable[[int], str],
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        self._max_kept = max_kept
        self._chunks: deque[_Chunk] = deque()
        self._kept = 0  # records in the window
        self._skip = 0  # records of the oldest chunk already out of the window
        self._offset = wall_offset_ns
        self._domain_name = domain_name
        self._publish = publish
        self._iso = _IsoStamps()
        self._labels: dict[bytes, tuple[str | None, str, str]] = {}
        self._names: dict[int, str] = {}
        self.last_seq = 0
        self.dropped = 0
        self.total = 0
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch(mode=0o600, exist_ok=True)
        self._log: IO[str] | None = log_path.open("a", encoding="utf-8")

    def set_labels(self, labels: Mapping[UUID, Labels]) -> None:
        """Sets the SecLabel names of the active policy (after each activation)."""
        # str(UUID) costs a microsecond: keep the display fields per raw SecLabel.
        self._labels = {
            key.bytes: (str(key) if key.int else None, label.seclabel_name, label.profile)
            for key, label in labels.items()
        }

    def close(self) -> None:
        """Flushes and closes the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None

    # ------------------------------------------------------------------ ingestion

    def ingest(self, records: Iterable[Violation], dropped: int = 0) -> list[ViolationDict]:
        """Numbers, logs, keeps and publishes one batch of records; returns its dicts."""
        pack = _REC.pack
        data = b"".join(
            pack(
                v.ts_ns,
                v.domid,
                int(v.kind),
                v.seclabel.bytes,
                v.nr,
                v.subop,
                DOMID_INVALID if v.peer is None else v.peer,
                v.count,
            )
            for v in records
        )
        return self.ingest_packed(data, dropped)[0]

    def ingest_packed(
        self, data: bytes, dropped: int = 0
    ) -> tuple[list[ViolationDict], dict[int, str]]:
        """:meth:`ingest` for ``VIOLATION_RECORD`` structs back to back (a drained batch).

        Returns:
            The batch's dicts, and the names of the domids it holds.
        """
        data = bytes(data)  # kept in the window: never a buffer someone may reuse
        self.dropped += dropped
        if not data:
            if dropped:
                self._publish(
                    {"violations": [], "last_seq": self.last_seq, "dropped": self.dropped}
                )
            return [], {}
        first = self.last_seq + 1
        lines: list[str] = []
        names: dict[int, str] = {}
        dicts = self._dicts(data, first, names, lines)
        self.last_seq += len(dicts)
        self.total += len(dicts)
        self._keep(_Chunk(first, data, self._snapshot(names)), len(dicts))
        if self._log is not None:
            self._log.write("".join(lines))
            self._log.flush()
        self._publish({"violations": dicts, "last_seq": self.last_seq, "dropped": self.dropped})
        return dicts, names

    def drain(self, ctx: Msm, batch: int, max_batches: int) -> set[int]:
        """Drains the MSM ring in batches (bounded per call); returns the domids seen."""
        touched: set[int] = set()
        for _ in range(max_batches):
            data, dropped = ctx.drain_violations_packed(batch)
            if data or dropped:
                touched.update(self.ingest_packed(data, dropped)[1])
            if len(data) < batch * _REC.size:
                break
        return touched

    def _snapshot(self, names: dict[int, str]) -> dict[int, str]:
        # Chunks share one names dict until a domid appears or is renamed (rare), so
        # small batches do not each carry their own copy.
        current = self._names
        for domid, name in names.items():
            if current.get(domid) != name:
                current = dict(current) if len(current) < _MAX_NAMES else {}
                current.update(names)
                self._names = current
                break
        return current

    def _keep(self, chunk: _Chunk, n: int) -> None:
        self._chunks.append(chunk)
        self._kept += n
        excess = self._kept - self._max_kept
        while excess > 0:
            head = self._chunks[0]
            left = len(head.data) // _REC.size - self._skip
            if excess >= left:
                self._chunks.popleft()
                self._skip = 0
                self._kept -= left
                excess -= left
            else:
                self._skip += excess
                self._kept -= excess
                excess = 0

    # ------------------------------------------------------------------ queries

    def since(self, since_seq: int = 0, limit: int = 1000) -> Violations:
        """Records with ``seq > since_seq`` still in memory, oldest first, at most ``limit``."""
        if isinstance(since_seq, bool) or not isinstance(since_seq, int) or since_seq < 0:
            raise InvalidArgument("since_seq must be an integer >= 0")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidArgument(f"limit must be an integer within 1..{_MAX_LIMIT}")
        out: list[ViolationDict] = []
        want = since_seq + 1
        size = _REC.size
        # Queries usually ask for the newest records: find the start from the right.
        start = 0
        for i in range(len(self._chunks) - 1, -1, -1):
            if self._chunks[i].first_seq <= want:
                start = i
                break
        for i in range(start, len(self._chunks)):
            if len(out) >= limit:
                break
            chunk = self._chunks[i]
            lo = self._skip if i == 0 else 0
            lo = max(lo, want - chunk.first_seq)
            n = len(chunk.data) // size
            if lo >= n:
                continue
            hi = min(n, lo + limit - len(out))
            out.extend(
                self._dicts(chunk.data[lo * size : hi * size], chunk.first_seq + lo, chunk.names)
            )
        return {"violations": out, "last_seq": self.last_seq, "dropped": self.dropped}

    # ------------------------------------------------------------------ formatting

    def _static(self, domid: int, name: str, seclabel: bytes, kind: int, nr: int) -> _Static:
        label = self._labels.get(seclabel)
        if label is None:
            label = (str(UUID(bytes=seclabel)) if seclabel != _NIL else None, "", "")
        sid, sname, profile = label
        kname = KIND_NAMES.get(kind) or str(kind)
        hname = HYPERCALL_NAMES.get(nr) or f"hypercall_{nr}"
        mid = (
            f"domid={domid} domain={name} seclabel={sname or sid or '-'} kind={kname}"
            f" hypercall={hname}({nr})"
        )
        return name, sid, sname, profile, kname, hname, mid

    def _dicts(
        self,
        data: bytes,
        seq: int,
        names: dict[int, str],
        lines: list[str] | None = None,
    ) -> list[ViolationDict]:
        """The contract's dicts of packed records numbered from ``seq``.

        With ``lines`` (ingestion), the log line of each record is appended to it and
        ``names`` learns the name of each new domid from ``domain_name``.
        """
        # The per-record path of up to a few 100k records a second: everything that
        # repeats within a batch (names, label fields, log-line middle, the ISO stamp of
        # a millisecond) is looked up once per batch.
        off = self._offset
        statics: dict[tuple[int, bytes, int, int], _Static] = {}
        stamps: dict[int, str] = {}
        out: list[ViolationDict] = []
        append = out.append
        add_line = lines.append if lines is not None else None
        for ts, domid, kind, sl, nr, subop, peer, count in _REC.iter_unpack(data):
            ts += off
            ms = ts // 1_000_000
            stamp = stamps.get(ms)
            if stamp is None:
                stamp = stamps[ms] = self._iso(ms)
            key = (domid, sl, kind, nr)
            st = statics.get(key)
            if st is None:
                name = names.get(domid)
                if name is None:
                    name = self._domain_name(domid)
                    if add_line is not None:
                        names[domid] = name
                st = statics[key] = self._static(domid, name, sl, kind, nr)
            name, sid, sname, profile, kname, hname, mid = st
            if peer == DOMID_INVALID:
                peer = None
            append(
                {
                    "seq": seq,
                    "ts": stamp,
                    "ts_ns": ts,
                    "domid": domid,
                    "domain": name,
                    "seclabel": sid,
                    "seclabel_name": sname,
                    "profile": profile,
                    "kind": kname,
                    "hypercall": nr,
                    "hypercall_name": hname,
                    "subop": subop,
                    "peer": peer,
                    "count": count,
                }
            )
            if add_line is not None:
                add_line(
                    f"{stamp} seq={seq} {mid} subop={subop}"
                    f" peer={'-' if peer is None else peer} count={count}\n"
                )
            seq += 1
        return out
