"""Allowed-call counters of an MSM context (``msm_calls_drain``): per domain, per
(hypercall, sub-op), per minute, drained in batches like the violation ring."""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any

from xps.msm._lib import check, ffi, lib
from xps.msm._validate import uint

__all__ = ["CALL_COUNT_RECORD", "CallCount", "CallCounter", "call_counts_from_packed"]

CALL_COUNT_RECORD = struct.Struct("=QIIII16s")
"""One packed ``msm_call_count``: minute_ns, domid, nr, subop, count, domain uuid."""
if ffi.sizeof("msm_call_count") != CALL_COUNT_RECORD.size:  # pragma: no cover - build skew
    raise ImportError("msm_call_count layout differs from xps.msm's record format")


@dataclass(frozen=True, slots=True)
class CallCount:
    """Allowed calls of one domain to one (hypercall, sub-op) within one minute.

    Several records may name the same minute, domain and call: their counts add up.

    Attributes:
        minute_ns: Start of the minute on the context's clock.
        subop: 0 for hypercalls without sub-ops.
    """

    minute_ns: int
    domid: int
    nr: int
    subop: int
    count: int
    domain: uuid.UUID


class CallCounter:
    """Drains one context's allowed-call records (kept by :class:`xps.msm.Msm`)."""

    def __init__(self) -> None:
        self._buf: Any = None
        self._n = ffi.new("uint32_t *")
        self._dropped = ffi.new("uint64_t *")

    def drain_packed(self, ctx: Any, max: int) -> tuple[bytes, int]:
        """Up to ``max`` records as packed ``CALL_COUNT_RECORD`` structs, and the calls
        lost to a full ring since the previous drain."""
        uint("max", max)
        if self._buf is None or len(self._buf) < max:
            self._buf = ffi.new("msm_call_count[]", max if max > 1 else 1)
        check(
            lib.msm_calls_drain(
                ctx, self._buf, CALL_COUNT_RECORD.size, max, self._n, self._dropped
            ),
            ctx,
            "drain call counts",
        )
        n = int(self._n[0])
        return ffi.buffer(self._buf, n * CALL_COUNT_RECORD.size)[:], int(self._dropped[0])


def call_counts_from_packed(data: bytes) -> list[CallCount]:
    """Decodes back-to-back :data:`CALL_COUNT_RECORD` structs."""
    return [
        CallCount(minute, domid, nr, subop, count, uuid.UUID(bytes=raw))
        for minute, domid, nr, subop, count, raw in CALL_COUNT_RECORD.iter_unpack(data)
    ]
