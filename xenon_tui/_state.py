"""What the console knows about each server (state flows down from here to the widgets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xenon_tui._actions import Mode
from xenon_tui._config import ServerEntry
from xenon_tui._connection import HEARTBEAT_S, LinkState, ServerConnection
from xenon_tui._ring import ViolationWindow

VIOLATION_WINDOW = 200_000
"""Violations kept in memory per server (the daemon keeps the full log)."""

FRESH_S = 2 * HEARTBEAT_S
"""A connected server heard from this recently is fresh: no "last update" is shown.
Two beats: a healthy link's silence runs up to one beat plus the ping's round trip, which
on a loaded machine can pass a second; the words must not flicker on a healthy link."""


@dataclass
class ServerState:
    """Per-server state: link, mode, and the last data fetched or pushed."""

    entry: ServerEntry
    conn: ServerConnection | None = None
    link: LinkState = LinkState.DISCONNECTED
    detail: str = ""
    mode: Mode = Mode.LIVE
    info: dict[str, Any] = field(default_factory=dict)
    domains: list[dict[str, Any]] = field(default_factory=list)
    xl_list: str = ""
    policy: dict[str, Any] | None = None
    staged: dict[str, Any] | None = None
    stats: dict[str, Any] | None = None
    stats_log: list[dict[str, Any]] = field(default_factory=list)
    violations: ViolationWindow = field(default_factory=lambda: ViolationWindow(VIOLATION_WINDOW))
    last_seq: int = 0
    alert: int = 0
    match: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    # A domain event came while another server was current: its domains are read again
    # when it becomes current (not at every event of a host nobody looks at).
    domains_dirty: bool = False
    """View id -> its `/` filter on this server (the violation log's is its window's)."""

    @property
    def address(self) -> str:
        """The server's key."""
        return self.entry.address

    def last_update(self, now: float | None = None) -> str:
        """``last update 12 s ago`` (the newest reply, event or heartbeat); empty while the
        link is fresh, and for a server never heard from or disconnected by the user."""
        silence = self.conn.silence_s(now) if self.conn is not None else None
        if silence is None or (self.link is LinkState.CONNECTED and silence < FRESH_S):
            return ""
        return f"last update {ago(silence)}"

    def take_sample(self, stats: Mapping[str, Any]) -> bool:
        """Puts a pushed statistics sample's CPU seconds in the domain rows (the Domains
        view is drawn from pushes, not by polling); True when a row changed."""
        cpu = {
            (d.get("domid"), d.get("name")): d.get("cpu_s")
            for d in stats.get("domains") or ()
            if isinstance(d, Mapping) and isinstance(d.get("cpu_s"), int | float)
        }
        return self._patch_domains(cpu, "cpu_s")

    def take_counts(self, rows: list[dict[str, Any]]) -> bool:
        """Puts pushed violations' counts in the domain rows (each record carries its
        domain's count after it; the newest wins); True when a row changed."""
        counts = {
            (r.get("domid"), r.get("domain")): r.get("count")
            for r in rows
            if isinstance(r.get("count"), int)
        }
        return self._patch_domains(counts, "violations")

    def _patch_domains(self, values: Mapping[tuple[Any, Any], Any], field_name: str) -> bool:
        if not values:
            return False
        changed = False
        rows = list(self.domains)  # a new list: the one a message brought is not changed
        for index, row in enumerate(rows):
            value = values.get((row.get("domid"), row.get("name")))
            if value is not None and row.get(field_name) != value:
                # A new dict: the rows a view was given are not changed under it.
                rows[index] = {**row, field_name: value}
                changed = True
        if changed:
            self.domains = rows
        return changed

    def take_violations(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows newer than the last one seen (pushes and fetches overlap at connect)."""
        fresh = [r for r in rows if int(r.get("seq", 0)) > self.last_seq]
        if fresh:
            self.last_seq = max(int(r.get("seq", 0)) for r in fresh)
        return fresh


def ago(seconds: float) -> str:
    """``12 s ago``, ``5 min ago``, ``3 h ago``."""
    if seconds < 120:
        return f"{int(seconds)} s ago"
    if seconds < 7200:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def find_server(servers: Mapping[str, ServerState], text: str) -> str | None:
    """The address of the server ``text`` names: its address, its host as configured, or
    the host name it reported (case-insensitive); None when none or several match."""
    wanted = text.strip().lower()
    if not wanted:
        return None
    if wanted in servers:
        return wanted
    found = {
        address
        for address, state in servers.items()
        if wanted in {address.lower(), state.entry.host.lower(), _hostname(state)}
    }
    return found.pop() if len(found) == 1 else None


def _hostname(state: ServerState) -> str:
    name = state.info.get("hostname")
    return name.lower() if isinstance(name, str) else ""
