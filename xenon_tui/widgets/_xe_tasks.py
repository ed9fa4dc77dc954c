"""The Enterprise screen's task panel: this session's long XE actions and XE's recent tasks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from enterprise_store.client import TaskOut

ACTIVE = frozenset({"queued", "running"})
KEEP_TASKS = 50
"""Tasks remembered (XE's recent page merged with this session's); older ones are dropped."""

BAR_WIDTH = 10

_STATE_STYLE = {
    "queued": "italic",
    "running": "bold",
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "dim",
}


def printable(text: object, limit: int = 200) -> str:
    """``text`` as one line of printable characters (XE's messages name user objects)."""
    value = "".join(c if c.isprintable() else " " for c in str(text)[:limit])
    return value


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 VM``, ``2 VMs``, ``1,000 hosts`` (``plural``: when not ``noun`` + s)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[█████░░░░░]`` for ``fraction`` in 0..1 (clamped)."""
    done = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "█" * done + "░" * (width - done) + "]"


def age_text(seconds: float) -> str:
    """A compact age: ``<1m``, ``3m``, ``2h``, ``5d`` (seconds would repaint the panel
    every poll for a number nobody needs)."""
    s = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return "<1m"


def target_name(obj: str) -> str:
    """The object a task works on, by name (``vm:EA-domu-1`` -> ``EA-domu-1``)."""
    _, _, name = obj.partition(":")
    return name or obj


def outcome(task: TaskOut) -> str:
    """What a task came to (its result or its error) as a sentence, or its latest message."""
    if task.state == "failed" and task.error is not None:
        return f"{task.error.title}: {task.error.detail}"
    result: dict[str, Any] = task.result or {}
    if task.state == "succeeded" and result:
        return result_text(task.kind, result)
    return task.message


def result_text(kind: str, result: dict[str, Any]) -> str:
    """A succeeded task's result in words, never a Python repr (the §4.2 walk showed Add
    host's result as ``cpu={'vendor': …}``). Task kinds: ``host.add``, ``propagate``,
    ``vm.migrate`` (enterprise_store.services); another kind's scalar values are listed."""
    if "downtime_ms" in result:
        moved = f"{result.get('vm', 'the VM')} moved from {result.get('source', '?')} to "
        return moved + f"{result.get('target', '?')}, downtime {result['downtime_ms']} ms"
    if result.get("recovered"):
        return (
            f"{result.get('vm', 'the VM')} did not move to {result.get('target', '?')}; it "
            f"runs on {result.get('runs_on', '?')} (version {result.get('version', '?')})"
        )
    if "converged" in result and "hosts" in result:
        text = f"{result['converged']:,}/{counted(int(result['hosts']), 'host')} converged"
        for key in ("drifted", "held"):
            if result.get(key):
                names = list(result[key])
                more = f" +{len(names) - 3}" if len(names) > 3 else ""
                text += f"; {key}: {', '.join(map(str, names[:3]))}{more}"
        return text
    if kind == "host.add" or "host_id" in result:
        return _host_added(result)
    return ", ".join(
        f"{k} {v}" for k, v in result.items() if isinstance(v, str | int | float | bool)
    )[:200]


def _host_added(result: dict[str, Any]) -> str:
    cpu: dict[str, Any] = result.get("cpu") or {}
    facts = " ".join(
        f"{label} {cpu[k]}"
        for k, label in (("family", "family"), ("model", "model"), ("stepping", "stepping"))
        if cpu.get(k) is not None
    )
    vendor = cpu.get("vendor") or "unknown vendor"
    source = {"xps": "read from the host", "operator": "as given", "xps+operator": "read, "
              "some as given"}.get(str(result.get("cpu_source")), "not read")  # fmt: skip
    text = f"host {result.get('name', '?')} added in policy v{result.get('version', '?')}"
    text += f"; CPU {vendor}{' ' + facts if facts else ''} ({source})"
    xen = (result.get("hypervisor") or {}).get("xen_version")
    if xen:
        text += f"; Xen {xen}"
    if result.get("propagation") == "held":
        text += "; it keeps its own policy until re-converged"
    if result.get("note"):
        text += f"; {result['note']}"
    return text


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _created(task: TaskOut) -> float:
    return _aware(task.created_at).timestamp()


class XeTaskPanel(Static):
    """Long XE tasks, one line each: title, target, progress bar, state, result or error,
    age. Running tasks first, then the newest. One Static: a 1,000-host propagation is one
    line whose text changes, never a row per host.
    """

    DEFAULT_CSS = """
    XeTaskPanel { height: 7; border-top: solid $primary; padding: 0 1; display: none;
                  text-wrap: nowrap; text-overflow: ellipsis; }
    XeTaskPanel.-open { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.tasks: dict[str, TaskOut] = {}
        self.titles: dict[str, str] = {}
        self._drawn: str | None = None
        self.clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        """Now, for the ages (tests fix it)."""

    @property
    def is_open(self) -> bool:
        """Shown (``t`` toggles it)."""
        return self.has_class("-open")

    def on_mount(self) -> None:
        self.border_title = "Tasks (t hides)"

    def track(self, task_id: str, title: str) -> None:
        """Names a task this session started (it stays listed while it runs)."""
        self.titles[task_id] = printable(title, 120)

    def set_task(self, task: TaskOut) -> None:
        """A task as XE reported it now (from a watch stream or a poll)."""
        self.tasks[task.id] = task
        self._prune()

    def merge(self, tasks: list[TaskOut]) -> None:
        """XE's recent tasks (one page)."""
        for task in tasks:
            self.tasks[task.id] = task
        self._prune()

    def _prune(self) -> None:
        if len(self.tasks) <= KEEP_TASKS:
            return
        keep = sorted(self.tasks.values(), key=_created, reverse=True)[:KEEP_TASKS]
        self.tasks = {t.id: t for t in keep}

    def ordered(self) -> list[TaskOut]:
        """Running and queued tasks first, then the newest."""
        return sorted(
            self.tasks.values(), key=lambda t: (t.state not in ACTIVE, -_created(t), t.id)
        )

    def line(self, task: TaskOut, now: dt.datetime) -> Text:
        """One task's line."""
        title = self.titles.get(task.id) or f"{task.kind} {printable(target_name(task.object))}"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(title, style="bold" if task.id in self.titles else "")
        text.append(f"  {progress_bar(task.progress)} {task.progress:>4.0%}  ")
        text.append(task.state, style=_STATE_STYLE.get(task.state, ""))
        # The age before the result: a narrow panel cuts the end of the line.
        text.append(f" · {age_text((now - _aware(task.created_at)).total_seconds())}", style="dim")
        said = printable(outcome(task))
        if said:
            text.append(f"  {said}")
        return text

    def redraw(self, now: dt.datetime | None = None) -> None:
        """Repaints the panel when its text changed (ages tick on every poll).

        Never a layout: the panel's height is fixed (:attr:`DEFAULT_CSS`), so a new text
        repaints its own lines only. A 1,000-host propagation changes its line at every
        progress tick; ``Static.update``'s default layout laid the whole screen out each
        time, between the keys typed meanwhile (issue #13)."""
        now = now or self.clock()
        tasks = self.ordered()
        running = sum(t.state in ACTIVE for t in tasks)
        title = f"Tasks: {running} running, {len(tasks)} recent (t hides)"
        if not tasks:
            body = Text("No XE tasks yet (P propagates the policy).", style="italic")
        else:
            shown = tasks[: max(1, self.content_size.height or 5)]
            body = Text("\n", no_wrap=True, overflow="ellipsis").join(
                self.line(t, now) for t in shown
            )
        key = body.plain + title
        if key != self._drawn:
            self._drawn = key
            if title != self.border_title:
                self.border_title = title
            self.update(body, layout=False)


__all__ = [
    "XeTaskPanel",
    "age_text",
    "counted",
    "outcome",
    "printable",
    "progress_bar",
    "result_text",
    "target_name",
]
