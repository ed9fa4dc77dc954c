"""The violations monitor: MSM ring records -> log file, in-memory window, batched events."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from pathlib import Path
from typing import IO, Any, NamedTuple
from uuid import UUID

from xps.msm import HYPERCALL_NAMES, Msm, Violation

from ._errors import InvalidArgument

__all__ = ["KIND_NAMES", "LOG_NAME", "Labels", "ViolationMonitor"]

LOG_NAME = "xenon-msm-violations.log"
KIND_NAMES = {1: "profile", 2: "rate", 3: "channel"}
_NIL = UUID(int=0)
_MAX_LIMIT = 100_000


class Labels(NamedTuple):
    """Names of one SecLabel for display: its own and its profile's."""

    seclabel_name: str
    profile: str


class _Record(NamedTuple):
    # Compact on purpose: hundreds of thousands are kept in memory.
    seq: int
    ts_ns: int
    domid: int
    domain: str
    seclabel: UUID
    kind: int
    nr: int
    subop: int
    peer: int | None
    vcount: int


class _IsoClock:
    """Formats epoch ns as ISO 8601 UTC with milliseconds, caching the per-second prefix."""

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, ts_ns: int) -> str:
        sec, rem = divmod(ts_ns, 1_000_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{rem // 1_000_000:03d}Z"


class ViolationMonitor:
    """Turns drained ring records into numbered violations.

    Each record gets a monotonically increasing ``seq`` (from 1), is appended to the log
    file as one line, is kept in a bounded in-memory window for :meth:`since`, and each
    ingested batch is handed to ``publish`` once (one event per batch).

    Args:
        log_path: The ``xenon-msm-violations.log`` file (appended; created 0600).
        max_kept: Records kept in memory.
        to_wall_ns: Maps a record's MSM timestamp to wall-clock epoch ns.
        domain_name: Name of a domid (the host's cache; survives the domain's destruction).
        publish: Called with each batch's event data.
    """

    def __init__(
        self,
        log_path: Path,
        max_kept: int,
        to_wall_ns: Callable[[int], int],
        domain_name: Callable[[int], str],
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        self._records: deque[_Record] = deque(maxlen=max_kept)
        self._to_wall = to_wall_ns
        self._domain_name = domain_name
        self._publish = publish
        self._iso = _IsoClock()
        self._labels: Mapping[UUID, Labels] = {}
        self._label_cache: dict[UUID, tuple[str | None, str, str]] = {}
        self.last_seq = 0
        self.dropped = 0
        self.total = 0
        fd_flags = 0o600
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch(mode=fd_flags, exist_ok=True)
        self._log: IO[str] | None = log_path.open("a", encoding="utf-8")

    def set_labels(self, labels: Mapping[UUID, Labels]) -> None:
        """Sets the SecLabel names of the active policy (after each activation)."""
        self._labels = dict(labels)
        self._label_cache.clear()

    def close(self) -> None:
        """Flushes and closes the log file."""
        if self._log is not None:
            self._log.close()
            self._log = None

    def ingest(self, records: Iterable[Violation], dropped: int = 0) -> list[dict[str, Any]]:
        """Numbers, logs, keeps and publishes one drained batch; returns its dicts."""
        self.dropped += dropped
        batch: list[_Record] = []
        seq = self.last_seq
        names: dict[int, str] = {}
        for v in records:
            seq += 1
            name = names.get(v.domid)
            if name is None:
                name = names[v.domid] = self._domain_name(v.domid)
            batch.append(
                _Record(
                    seq,
                    self._to_wall(v.ts_ns),
                    v.domid,
                    name,
                    v.seclabel,
                    int(v.kind),
                    v.nr,
                    v.subop,
                    v.peer,
                    v.count,
                )
            )
        if not batch and not dropped:
            return []
        self.last_seq = seq
        self.total += len(batch)
        self._records.extend(batch)
        dicts = [self._to_dict(r) for r in batch]
        if self._log is not None and dicts:
            self._log.write("".join(self._line(d) for d in dicts))
            self._log.flush()
        self._publish({"violations": dicts, "last_seq": self.last_seq, "dropped": self.dropped})
        return dicts

    def drain(self, ctx: Msm, batch: int, max_batches: int) -> set[int]:
        """Drains the MSM ring in batches (bounded per call); returns the domids seen."""
        touched: set[int] = set()
        for _ in range(max_batches):
            records, dropped = ctx.drain_violations(batch)
            if records or dropped:
                self.ingest(records, dropped)
                touched.update(r.domid for r in records)
            if len(records) < batch:
                break
        return touched

    def since(self, since_seq: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Records with ``seq > since_seq`` still in memory, oldest first, at most ``limit``."""
        if isinstance(since_seq, bool) or not isinstance(since_seq, int) or since_seq < 0:
            raise InvalidArgument("since_seq must be an integer >= 0")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidArgument(f"limit must be an integer within 1..{_MAX_LIMIT}")
        out: list[dict[str, Any]] = []
        if self._records:
            first = self._records[0].seq
            start = max(0, since_seq + 1 - first)
            out = [self._to_dict(r) for r in islice(self._records, start, start + limit)]
        return {"violations": out, "last_seq": self.last_seq, "dropped": self.dropped}

    def _label(self, seclabel: UUID) -> tuple[str | None, str, str]:
        # str(UUID) costs a microsecond: cache the display fields per SecLabel.
        cached = self._label_cache.get(seclabel)
        if cached is None:
            label = self._labels.get(seclabel)
            cached = (
                str(seclabel) if seclabel != _NIL else None,
                label.seclabel_name if label else "",
                label.profile if label else "",
            )
            self._label_cache[seclabel] = cached
        return cached

    def _to_dict(self, r: _Record) -> dict[str, Any]:
        sid, sname, profile = self._label(r.seclabel)
        return {
            "seq": r.seq,
            "ts": self._iso(r.ts_ns),
            "ts_ns": r.ts_ns,
            "domid": r.domid,
            "domain": r.domain,
            "seclabel": sid,
            "seclabel_name": sname,
            "profile": profile,
            "kind": KIND_NAMES.get(r.kind) or str(r.kind),
            "hypercall": r.nr,
            "hypercall_name": HYPERCALL_NAMES.get(r.nr) or f"hypercall_{r.nr}",
            "subop": r.subop,
            "peer": r.peer,
            "count": r.vcount,
        }

    @staticmethod
    def _line(d: Mapping[str, Any]) -> str:
        peer = "-" if d["peer"] is None else d["peer"]
        return (
            f"{d['ts']} seq={d['seq']} domid={d['domid']} domain={d['domain']}"
            f" seclabel={d['seclabel_name'] or d['seclabel'] or '-'} kind={d['kind']}"
            f" hypercall={d['hypercall_name']}({d['hypercall']}) subop={d['subop']}"
            f" peer={peer} count={d['count']}\n"
        )
