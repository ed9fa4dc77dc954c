"""The on-disk policy store: active / staged / previous, activated through a redo journal.

Activation protocol (each file write is atomic: temp, fsync, rename, fsync dir):

1. ``incoming.xml`` := the new policy;
2. ``activating.json`` := {new, old sha256, generation, source}  <- the commit point;
3. redo: unless ``active.xml`` already is the new one, ``previous.xml`` := the old
   active and then ``active.xml`` := incoming; ``state.json`` := generation and hashes;
   ``staged.xml`` removed (when activated from it); ``incoming.xml`` removed; the
   journal removed.

A crash before step 2 leaves the old policy in force (the leftover incoming file is
discarded at start); a crash after it is rolled forward at start by the same redo,
which is idempotent. Either way ``active.xml`` is always one whole version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from xps.files import remove_durably, write_atomic

from ._errors import HostStateError, NotFound

__all__ = ["ActivationPending", "PolicyStore", "StoredPolicy", "sha256_hex"]

#: Under the daemon's ``xps`` logger: recovery reaches its log file, not only the host's
#: in-memory message ring (``GetLogMsgs``).
log = logging.getLogger("xps.host")

Which = Literal["active", "staged", "previous"]
_MAX_POLICY_BYTES = 64 * 1024 * 1024


_SOURCES = ("staged", "previous", "initial", "incident")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class ActivationPending(HostStateError):
    """The activation is committed (journal durable) but its files are not all in place."""


@dataclass(frozen=True)
class StoredPolicy:
    """One stored policy document with its generation (None for staged) and hash."""

    which: Which
    data: bytes
    sha256: str
    generation: int | None


class PolicyStore:
    """Policy files under ``<state_dir>/policy``; blocking I/O, call it from a worker thread.

    Args:
        state_dir: The host's state directory.
        checkpoint: Test hook called with a step name between the activation steps
            (a test raises there to simulate a crash).
    """

    def __init__(self, state_dir: Path, checkpoint: Callable[[str], None] | None = None) -> None:
        self.dir = state_dir / "policy"
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._checkpoint = checkpoint or (lambda step: None)
        self.state: dict[str, Any] = {}
        self.recovered: str | None = None
        self.recover()

    def _path(self, name: str) -> Path:
        return self.dir / name

    def _read(self, name: str) -> bytes | None:
        try:
            with self._path(name).open("rb") as fh:
                data = fh.read(_MAX_POLICY_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > _MAX_POLICY_BYTES:
            raise HostStateError(f"{name} is larger than {_MAX_POLICY_BYTES} bytes")
        return data

    def _load_state(self) -> dict[str, Any]:
        raw = self._read("state.json")
        if raw is None:
            return {"generation": 0, "previous_generation": None}
        try:
            state = json.loads(raw)
            if not isinstance(state, dict) or not isinstance(state.get("generation"), int):
                raise ValueError("no generation")
        except ValueError as exc:
            raise HostStateError(f"corrupt policy state file {self._path('state.json')}") from exc
        return state

    # ------------------------------------------------------------------ recovery

    def recover(self) -> None:
        """Finishes or discards an interrupted activation; removes stale temp files."""
        for entry in self.dir.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                entry.unlink()
        journal_raw = self._read("activating.json")
        self.recovered = None
        if journal_raw is not None:
            try:
                journal = json.loads(journal_raw)
                new_sha, generation = str(journal["new"]), int(journal["generation"])
                source = str(journal["source"])
            except (ValueError, KeyError, TypeError) as exc:
                raise HostStateError("corrupt activation journal") from exc
            incoming = self._read("incoming.xml")
            active = self._read("active.xml")
            if (incoming is not None and sha256_hex(incoming) == new_sha) or (
                active is not None and sha256_hex(active) == new_sha
            ):
                self._redo(incoming, new_sha, generation, source)
                self.recovered = "rolled-forward"
                log.warning(
                    "Policy store: interrupted activation of generation %d (%s policy, "
                    "SHA-256 %s) rolled forward: it is the active policy",
                    generation,
                    source if source in _SOURCES else "unknown",
                    new_sha,
                )
            else:  # cannot happen unless files were removed by hand: keep the old policy
                remove_durably(self._path("activating.json"))
                self.recovered = "discarded"
                log.error(
                    "Policy store: activation journal of generation %d discarded: its new "
                    "policy is missing from %s; the previous active policy stays in force",
                    generation,
                    self.dir,
                )
        if remove_durably(self._path("incoming.xml")):
            if self.recovered is None:
                log.warning(
                    "Policy store: interrupted activation discarded (it had not reached its "
                    "commit point); the active policy is unchanged"
                )
            self.recovered = self.recovered or "discarded"
        self.state = self._load_state()

    # --------------------------------------------------------------------- reads

    def get(self, which: Which) -> StoredPolicy:
        """Reads one stored policy.

        Raises:
            NotFound: There is no such policy on disk.
        """
        data = self._read(f"{which}.xml")
        if data is None:
            raise NotFound(f"there is no {which} policy")
        gen: int | None = None
        if which == "active":
            gen = int(self.state.get("generation", 0))
        elif which == "previous":
            prev = self.state.get("previous_generation")
            gen = int(prev) if prev is not None else None
        return StoredPolicy(which, data, sha256_hex(data), gen)

    def has(self, which: Which) -> bool:
        """Whether that policy exists on disk."""
        return self._path(f"{which}.xml").exists()

    @property
    def generation(self) -> int:
        """Generation of the active policy (0 = none activated yet)."""
        return int(self.state.get("generation", 0))

    # -------------------------------------------------------------------- writes

    def stage(self, data: bytes) -> str:
        """Writes the staged policy; returns its sha256."""
        try:
            write_atomic(self._path("staged.xml"), data)
        except OSError as exc:
            raise HostStateError(f"cannot write the staged policy: {exc.strerror or exc}") from exc
        return sha256_hex(data)

    def unstage(self) -> None:
        """Drops the staged policy, if any."""
        remove_durably(self._path("staged.xml"))

    def activate(
        self, data: bytes, source: Literal["staged", "previous", "initial", "incident"]
    ) -> int:
        """Makes ``data`` the active policy (old active becomes previous); returns its generation.

        The caller has already committed ``data`` to the MSM; this makes it durable.
        """
        active = self._read("active.xml")
        generation = self.generation + 1
        new_sha = sha256_hex(data)
        journal = {
            "new": new_sha,
            "old": sha256_hex(active) if active is not None else None,
            "generation": generation,
            "source": source,
        }
        try:
            write_atomic(self._path("incoming.xml"), data)
            self._checkpoint("incoming")
            write_atomic(self._path("activating.json"), json.dumps(journal).encode())
        except OSError as exc:
            remove_durably(self._path("incoming.xml"))
            raise HostStateError(f"cannot write the policy store: {exc.strerror or exc}") from exc
        self._checkpoint("journal")
        try:
            self._redo(data, new_sha, generation, source)
        except OSError as exc:
            # The journal is durable: the activation is decided and the next start
            # finishes it. Callers must keep the new policy in force.
            raise ActivationPending(
                f"policy activation committed but not finished on disk: {exc}; "
                "it is completed at the next start"
            ) from exc
        self.state = self._load_state()
        return generation

    def _redo(self, incoming: bytes | None, new_sha: str, generation: int, source: str) -> None:
        active = self._read("active.xml")
        previous_gen = self._load_state().get("generation", 0)
        if active is None or sha256_hex(active) != new_sha:
            if incoming is None:
                raise HostStateError("activation journal without its incoming policy")
            if active is not None:
                write_atomic(self._path("previous.xml"), active)
                self._checkpoint("previous")
            write_atomic(self._path("active.xml"), incoming)
            self._checkpoint("active")
        state = self._load_state()
        if state.get("generation") != generation:
            # state.json still describes the old active policy: its generation moves to previous.
            state = {
                "generation": generation,
                "active_sha256": new_sha,
                "previous_generation": previous_gen or None,
            }
            write_atomic(self._path("state.json"), json.dumps(state).encode())
            self._checkpoint("state")
        if source == "staged":
            remove_durably(self._path("staged.xml"))
        remove_durably(self._path("incoming.xml"))
        remove_durably(self._path("activating.json"))
        self._checkpoint("done")
