"""The hash chain: canonical JSON of a record, its SHA-256, and the checks of ``verify``.

A record's hash is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8, no
floats) of every field but the hash itself, ``prev_hash`` included, so each record commits
to the whole chain before it. The first record's ``prev_hash`` is :data:`GENESIS`.

What verify finds, record by record in ``seq`` order:

- *altered*: the stored hash is not the hash of the stored fields;
- *removed*: a gap in ``seq``, or a ``prev_hash`` that is not the previous record's hash;
  a removed first record shows as a first ``prev_hash`` that is not :data:`GENESIS`, a
  removed tail as a chain that ends before the head row says it does;
- *reordered*: records swapped (their contents, or their ``seq``) break both checks above.

Someone who can rewrite the whole database can recompute every hash; the fingerprint
(``oldest|newest`` hash, after xen-orchestra's audit plugin) kept elsewhere catches that:
``verify(expect=…)`` checks that the chain still contains a fingerprint taken earlier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GENESIS",
    "AuditProblem",
    "AuditRecord",
    "ChainVerifier",
    "VerifyReport",
    "canonical_json",
    "record_hash",
]

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no whitespace, no floats.

    Raises:
        TypeError: ``value`` holds a float or a non-JSON type (a hash must not depend on
            how a float is printed).
    """
    _reject_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("audit values must not contain floats")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("audit mapping keys must be strings")
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit record as stored.

    Attributes:
        seq: Position in the chain, from 1, without gaps.
        ts_us: Time, microseconds since the Unix epoch (UTC).
        actor: Who: a user name, ``service:NAME``, ``system`` or ``-`` (unknown).
        source: Where from: a client address, ``cli``, ``in-process``.
        action: What, e.g. ``user.create``, ``auth.login``.
        object: On what, e.g. ``user:alice``.
        result: ``ok`` or ``refused:<error code>``.
        enclaves: The enclaves the object belongs to (empty: enterprise-wide).
        details: Extra facts (never secrets).
        prev_hash: The previous record's hash (:data:`GENESIS` for the first).
        hash: SHA-256 of this record's canonical JSON.
    """

    seq: int
    ts_us: int
    actor: str
    source: str
    action: str
    object: str
    result: str
    enclaves: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed fields (all but ``hash``)."""
        return {
            "seq": self.seq,
            "ts_us": self.ts_us,
            "actor": self.actor,
            "source": self.source,
            "action": self.action,
            "object": self.object,
            "result": self.result,
            "enclaves": list(self.enclaves),
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }


def record_hash(record: AuditRecord) -> str:
    """Hex SHA-256 of the record's canonical JSON body."""
    return hashlib.sha256(canonical_json(record.body()).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """One inconsistency found by verify.

    Attributes:
        seq: The record it was found at (0 for the chain as a whole).
        code: ``altered``, ``broken_link``, ``gap``, ``bad_genesis``, ``truncated``,
            ``head_mismatch``, ``fingerprint_missing`` or ``unreadable``.
        message: A sentence naming the record.
    """

    seq: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verify.

    Attributes:
        ok: No problem found.
        count: Records checked.
        fingerprint: ``oldest|newest`` hash (empty chain: ``""``).
        problems: Every problem, in chain order (capped; see ``truncated_problems``).
        truncated_problems: More problems were found than are listed.
    """

    ok: bool
    count: int
    fingerprint: str
    problems: tuple[AuditProblem, ...]
    truncated_problems: bool = False


class ChainVerifier:
    """Feeds on records in ``seq`` order; :meth:`finish` returns the report.

    Args:
        max_problems: How many problems to keep (the rest are counted as truncated).
    """

    def __init__(self, max_problems: int = 100) -> None:
        self._max = max_problems
        self._problems: list[AuditProblem] = []
        self._overflow = False
        self._count = 0
        self._oldest = ""
        self._prev_seq = 0
        self._prev_hash = GENESIS
        self._expect: tuple[str, str] | None = None
        self._found_expect: set[str] = set()

    def expect(self, fingerprint: str) -> None:
        """Also check that both hashes of an earlier ``oldest|newest`` are still in the chain."""
        oldest, sep, newest = fingerprint.partition("|")
        self._expect = (oldest, newest) if sep else (fingerprint, fingerprint)

    def _problem(self, seq: int, code: str, message: str) -> None:
        if len(self._problems) < self._max:
            self._problems.append(AuditProblem(seq, code, message))
        else:
            self._overflow = True

    def feed(self, records: Iterable[AuditRecord]) -> None:
        """Checks the next records of the chain."""
        for rec in records:
            self._count += 1
            if self._count == 1:
                self._oldest = rec.hash
                if rec.seq != 1 or rec.prev_hash != GENESIS:
                    self._problem(
                        rec.seq,
                        "bad_genesis",
                        f"record {rec.seq} is the oldest but does not start the chain "
                        "(records before it were removed)",
                    )
            elif rec.seq != self._prev_seq + 1:
                self._problem(
                    rec.seq,
                    "gap",
                    f"records {self._prev_seq + 1}..{rec.seq - 1} are missing before record "
                    f"{rec.seq}",
                )
            if self._count > 1 and rec.prev_hash != self._prev_hash:
                self._problem(
                    rec.seq,
                    "broken_link",
                    f"record {rec.seq} does not follow record {self._prev_seq} "
                    "(removed or reordered records)",
                )
            actual = record_hash(rec)
            if actual != rec.hash:
                self._problem(rec.seq, "altered", f"record {rec.seq} was altered")
            if self._expect is not None and rec.hash in self._expect:
                self._found_expect.add(rec.hash)
            self._prev_seq = rec.seq
            self._prev_hash = rec.hash

    def finish(self, head: tuple[int, str] | None) -> VerifyReport:
        """The report; ``head`` is the chain head row ``(seq, hash)``; ``(0, GENESIS)`` before
        the first record, None if the row is missing."""
        if head is None:
            if self._count:
                self._problem(0, "head_mismatch", "records exist but the chain head is missing")
        elif head[0] > self._prev_seq:
            self._problem(
                head[0],
                "truncated",
                f"records {self._prev_seq + 1}..{head[0]} after the newest stored record "
                "were removed",
            )
        elif (head[0], head[1]) != (self._prev_seq, self._prev_hash):
            self._problem(
                self._prev_seq,
                "head_mismatch",
                f"the chain head names record {head[0]}, the newest stored is {self._prev_seq}",
            )
        if self._expect is not None:
            for value in dict.fromkeys(self._expect):
                if value not in self._found_expect:
                    self._problem(
                        0,
                        "fingerprint_missing",
                        f"hash {value[:16]}… of the expected fingerprint is not in the chain",
                    )
        fingerprint = f"{self._oldest}|{self._prev_hash}" if self._count else ""
        return VerifyReport(
            ok=not self._problems and not self._overflow,
            count=self._count,
            fingerprint=fingerprint,
            problems=tuple(self._problems),
            truncated_problems=self._overflow,
        )
