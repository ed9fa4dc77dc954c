"""Host events to rows: the per-record path of ingestion (validation, attribution).

Up to a few hundred thousand records a second pass through :func:`violation_rows`: no
object per record, type checks by ``type() is``, strings already found storable are
remembered for the rest of the batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enterprise_store.store._history_repo import Attribution, StoredCursor
from enterprise_store.store._history_schema import StatsTier

__all__ = ["I32", "I64", "Item", "as_int", "stats_item", "violation_rows"]

I32 = 2**31 - 1
I64 = 2**63 - 1


@dataclass(slots=True)
class Item:
    """Rows of one host event for the writer, and the host's cursor after them."""

    host_id: str
    violations: list[tuple[Any, ...]] = field(default_factory=list)
    raw: list[tuple[Any, ...]] = field(default_factory=list)
    buckets: list[tuple[Any, ...]] = field(default_factory=list)
    cursor: StoredCursor | None = None

    @property
    def rows(self) -> int:
        return len(self.violations) + len(self.raw) + len(self.buckets)


def _storable(text: str, known: set[str]) -> bool:
    """Whether both databases take ``text`` (PostgreSQL refuses NUL; neither driver encodes
    a lone surrogate); remembered in ``known`` when it is."""
    if "\x00" in text:
        return False
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
    known.add(text)
    return True


def as_int(value: object) -> int | None:
    return value if type(value) is int else None


def violation_rows(
    host_id: str, cursor: StoredCursor, records: Sequence[Any], attr: Attribution
) -> tuple[list[tuple[Any, ...]], StoredCursor, int]:
    """Rows of the records after ``cursor`` (older ones are skipped), the cursor after
    them, and how many records were malformed. A seq beyond the next one counts the
    records in between as lost."""
    epoch, expected, ts_last, lost = cursor.epoch, cursor.seq + 1, cursor.ts_ns, cursor.lost
    label_enclave = attr.seclabel_enclave
    vm_by_name = attr.vm_by_name
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    rejected = 0
    texts: set[str] = set()  # strings already found storable (they repeat within a batch)
    for rec in records:
        try:
            seq = rec["seq"]
            ts_ns = rec["ts_ns"]
            domid = rec["domid"]
            domain = rec["domain"]
            label = rec["seclabel"]
            label_name = rec["seclabel_name"]
            kind = rec["kind"]
            nr = rec["hypercall"]
            subop = rec["subop"]
            peer = rec["peer"]
            count = rec["count"]
        except (KeyError, TypeError):
            rejected += 1
            continue
        if type(seq) is not int or seq < expected:
            if type(seq) is not int:
                rejected += 1
            continue
        if not (
            type(ts_ns) is int
            and type(domid) is int
            and type(nr) is int
            and type(subop) is int
            and type(count) is int
            and type(domain) is str
            and type(kind) is str
            and type(label_name) is str
            and (label is None or (type(label) is str and len(label) <= 36))
            and (peer is None or (type(peer) is int and 0 <= peer <= I32))
            and 0 < seq <= I64
            and 0 <= ts_ns <= I64
            and 0 <= domid <= I32
            and 0 <= nr <= I32
            and 0 <= subop <= I32
            and 0 <= count <= I64
            and 0 < len(domain) <= 255
            and 0 < len(kind) <= 16
            and len(label_name) <= 255
            and (domain in texts or _storable(domain, texts))
            and (kind in texts or _storable(kind, texts))
            and (label_name in texts or _storable(label_name, texts))
            and (label is None or label in texts or _storable(label, texts))
        ):
            # Consumed (counted as rejected), so a catch-up does not ask for it again.
            rejected += 1
            if seq <= I64:
                lost += seq - expected
                expected = seq + 1
                ts_last = ts_ns if type(ts_ns) is int and 0 <= ts_ns <= I64 else ts_last
            continue
        if seq > expected:
            lost += seq - expected
        enclave = label_enclave.get(label) if label is not None else None
        vm = vm_by_name.get(domain)
        vm_id = vm[0] if vm is not None and vm[1] == enclave else None
        append(
            (host_id, epoch, seq, ts_ns // 1000, domid, domain, vm_id, enclave, label,
             label_name, kind, nr, subop, peer, count)
        )  # fmt: skip
        expected = seq + 1
        ts_last = ts_ns
    if expected - 1 == cursor.seq and lost == cursor.lost:
        return rows, cursor, rejected
    return (
        rows,
        dataclasses.replace(cursor, seq=expected - 1, ts_ns=ts_last, lost=lost),
        rejected,
    )


def _num(value: object, limit: float) -> float | None:
    if type(value) is not int and type(value) is not float:
        return None
    number = float(value)
    return number if math.isfinite(number) and 0 <= number <= limit else None


def stats_item(
    host_id: str, data: Mapping[str, Any], attr: Attribution, tiers: Sequence[StatsTier]
) -> Item | None:
    """The rows of one ``stats`` event (``GetStats`` result), or None when malformed."""
    ts = _num(data.get("ts"), 1e11)
    host = data.get("host")
    domains = data.get("domains")
    if ts is None or ts == 0 or not isinstance(host, Mapping) or not isinstance(domains, list):
        return None
    if len(domains) > 65536:
        return None
    cpu = _num(host.get("cpu_pct"), 1e6)
    mem = _num(host.get("mem_kb"), 1e15)
    free = _num(host.get("free_mem_kb"), 1e15)
    if cpu is None or mem is None or free is None:
        return None
    series: list[tuple[str, float, float, float, str | None, str | None]] = []
    vcpus_total = 0.0
    for dom in domains:
        if not isinstance(dom, Mapping):
            return None
        name = dom.get("name")
        d_cpu = _num(dom.get("cpu_pct"), 1e6)
        d_mem = _num(dom.get("mem_kb"), 1e15)
        d_vcpus = _num(dom.get("vcpus"), 1e6)
        if type(name) is not str or not 0 < len(name) <= 255 or not _storable(name, set()):
            return None
        if d_cpu is None or d_mem is None or d_vcpus is None:
            return None
        vm = attr.vm_by_name.get(name)
        series.append((name, d_cpu, d_mem, d_vcpus, *(vm if vm is not None else (None, None))))
        vcpus_total += d_vcpus
    series.append(("", cpu, max(mem - free, 0.0), vcpus_total, None, None))
    item = Item(host_id)
    ts_us = int(ts * 1_000_000)
    for name, c, m, v, vm_id, enclave in series:
        item.raw.append((host_id, 0, name, ts_us, 1, c, m, v, vm_id, enclave))
        for tier, spec in enumerate(tiers[1:], 1):
            bucket_us = int(ts // spec.step_s) * spec.step_s * 1_000_000
            item.buckets.append((host_id, tier, name, bucket_us, 1, c, m, v, vm_id, enclave))
    return item
