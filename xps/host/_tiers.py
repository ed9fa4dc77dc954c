"""Tier persistence shared by the statistics and allowed-call histories.

Both histories are saved as one JSON document ``{"version", "last_ts", "tiers", ...}``;
this module owns that envelope (:func:`encode`, :func:`decode`) and the file
(:class:`TierFile`): bounded reads, atomic 0600 writes made only when the history changed
since the last save, a size bound checked before writing (a file the host could not read
back is never written), and a corrupt file set aside as ``NAME.bad`` (the newest one only,
so crashes cannot fill the disk) with one warning, the host starting with an empty history.
Each history keeps the shape of its own tiers; the envelope is the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from xps.files import fsync_dir, read_bounded, write_atomic

from ._errors import InvalidArgument

__all__ = ["Persisted", "TierFile", "decode", "encode", "encode_parts", "malformed"]

log = logging.getLogger("xps.host")

H = TypeVar("H")


class Persisted(Protocol):
    """A history :class:`TierFile` can save: ``revision`` grows on every change."""

    @property
    def revision(self) -> int: ...

    def to_json(self) -> bytes: ...


def encode(version: int, last_ts: float, tiers: list[Any], **extra: Any) -> bytes:
    """The envelope around one history's tiers, as compact JSON."""
    doc = {"version": version, "last_ts": last_ts, **extra, "tiers": tiers}
    return json.dumps(doc, separators=(",", ":")).encode()


def encode_parts(version: int, last_ts: float, tiers: list[list[bytes]], **extra: Any) -> bytes:
    """:func:`encode` with each tier given as its items, each already JSON-encoded."""
    head = json.dumps({"version": version, "last_ts": last_ts, **extra}, separators=(",", ":"))
    body = b"],[".join(b",".join(parts) for parts in tiers)
    return head[:-1].encode() + b',"tiers":[[' + body + b"]]}"


@contextlib.contextmanager
def malformed(what: str) -> Iterator[None]:
    """Turns the errors of picking a document apart into :class:`InvalidArgument`."""
    try:
        yield
    except InvalidArgument:
        raise
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidArgument(f"malformed {what}: {exc}") from exc


def decode(data: bytes, what: str, versions: Collection[int], tiers: int) -> dict[str, Any]:
    """Parses and checks the envelope: a known ``version``, a finite ``last_ts`` and
    exactly ``tiers`` tiers (their bodies are the caller's to check).

    Raises:
        InvalidArgument: The document is not such an envelope.
    """
    with malformed(what):
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc["version"] not in versions or isinstance(doc["version"], bool):
            raise ValueError(f"unsupported version {doc['version']!r}")
        last_ts = float(doc["last_ts"])
        if not math.isfinite(last_ts) or last_ts < 0:
            raise ValueError("last_ts is not a time")
        if not isinstance(doc["tiers"], list) or len(doc["tiers"]) != tiers:
            raise ValueError(f"expected {tiers} tiers")
        doc["last_ts"] = last_ts
        return doc


class TierFile:
    """The file one history is kept in.

    Args:
        path: The file (in the host's state directory).
        what: How log lines name it ("statistics history").
        max_bytes: The largest file read or written.
    """

    def __init__(self, path: Path, what: str, max_bytes: int) -> None:
        self.path = path
        self.what = what
        self.max_bytes = max_bytes
        self._saved = -1  # the revision on disk (-1: unknown, so the first save writes)

    @property
    def aside(self) -> Path:
        """Where a corrupt file is moved to."""
        return self.path.with_name(self.path.name + ".bad")

    def load(self, parse: Callable[[bytes], H], empty: Callable[[], H]) -> H:
        """The saved history, or ``empty()`` when there is none or it is unreadable.

        An unreadable file (too large, or ``parse`` raises :class:`InvalidArgument`) is
        moved aside and logged once; a file that cannot be opened is left where it is.
        Blocking: call it in a worker thread.
        """
        if not self.path.exists():
            return empty()
        try:
            data = read_bounded(self.path, self.max_bytes, InvalidArgument)
            history = parse(data)
        except InvalidArgument as exc:
            if not self.path.exists() or not os.access(self.path, os.R_OK):
                log.warning("cannot read the %s %s: %s", self.what, self.path, exc.message)
                return empty()
            try:
                os.replace(self.path, self.aside)
                fsync_dir(self.path.parent)
            except OSError as move:
                kept = f"left in place ({move.strerror or move})"
            else:
                kept = f"set aside as {self.aside.name}"
            log.warning(
                "the %s %s is corrupt (%s): %s; starting with an empty history",
                self.what,
                self.path,
                exc.message,
                kept,
            )
            return empty()
        self._saved = getattr(history, "revision", -1)
        return history

    async def save(self, history: Persisted) -> bool:
        """Writes ``history`` when it changed since the last save; returns whether it did.

        The document is built on the caller's (event loop) thread, because the history is
        not thread-safe, and written in a worker thread.

        Raises:
            OSError: The write failed (the old file is intact).
        """
        revision = history.revision
        if revision == self._saved:
            return False
        data = history.to_json()
        if len(data) > self.max_bytes:
            log.warning(
                "the %s is %d bytes, over %d: not saved", self.what, len(data), self.max_bytes
            )
            return False
        await asyncio.to_thread(write_atomic, self.path, data, mode=0o600)
        self._saved = revision
        return True
