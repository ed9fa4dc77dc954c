"""What a console process does while it runs: counters over Textual's own hooks.

Used by ``benchmarks.ssh --idle-trace`` and ``benchmarks.console --trace`` (never by the
product: the counters are installed by patching Textual's classes in the benchmark's own
process, and removed again). Per second of a window it counts:

* ``updates``: screen updates (``Screen._on_timer_update`` that drew something), with
  their cost, and layout passes (``Screen._refresh_layout``);
* ``refresh``: ``Widget.refresh`` calls by widget class (``layout=True`` counted apart);
* ``render``: ``render_lines`` calls and their cost, by widget class;
* ``messages``: messages handled, by message class (and their cost);
* ``timers``: timer callbacks fired, by callback name.
"""

from __future__ import annotations

import inspect
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _name(obj: Any) -> str:
    return type(obj).__name__


class Trace:
    """Counters of one process; ``window()`` starts a fresh set, ``report()`` reads it."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.cost_ms: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.began = time.monotonic()
        self._undo: list[Callable[[], None]] = []

    def reset(self) -> None:
        self.counts = defaultdict(Counter)
        self.cost_ms = defaultdict(lambda: defaultdict(float))
        self.began = time.monotonic()

    def _patch(self, owner: type, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, make(original))
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        from textual.message_pump import MessagePump
        from textual.screen import Screen
        from textual.timer import Timer
        from textual.widget import Widget

        trace = self

        def refresh(original: Any) -> Any:
            def wrapper(widget: Any, *regions: Any, **kwargs: Any) -> Any:
                kind = "layout" if kwargs.get("layout") else "refresh"
                trace.counts[kind][_name(widget)] += 1
                return original(widget, *regions, **kwargs)

            return wrapper

        def timed(kind: str, key: Callable[..., str]) -> Callable[[Any], Any]:
            """Counts and times each call of a method (a coroutine's until it ends)."""

            def note(began: float, args: tuple[Any, ...]) -> None:
                name = key(*args)
                trace.counts[kind][name] += 1
                trace.cost_ms[kind][name] += (time.perf_counter() - began) * 1000

            def make(original: Any) -> Any:
                if inspect.iscoroutinefunction(original):

                    async def awaited(*args: Any, **kwargs: Any) -> Any:
                        began = time.perf_counter()
                        try:
                            return await original(*args, **kwargs)
                        finally:
                            note(began, args)

                    return awaited

                def called(*args: Any, **kwargs: Any) -> Any:
                    began = time.perf_counter()
                    try:
                        return original(*args, **kwargs)
                    finally:
                        note(began, args)

                return called

            return make

        def on_update(original: Any) -> Any:
            def wrapper(screen: Any) -> Any:
                drew = bool(
                    screen._dirty_widgets or screen._repaint_required or screen._layout_required
                )
                began = time.perf_counter()
                try:
                    return original(screen)
                finally:
                    name = f"{_name(screen)}:{'drew' if drew else 'nothing'}"
                    trace.counts["updates"][name] += 1
                    trace.cost_ms["updates"][name] += (time.perf_counter() - began) * 1000

            return wrapper

        def timer_key(timer: Any, **_: Any) -> str:
            callback = timer._callback
            if callback is None:
                return f"event->{_name(timer.target) if timer.target else '?'}"
            return str(getattr(callback, "__qualname__", callback))

        self._patch(Widget, "refresh", refresh)
        self._patch(Screen, "_on_timer_update", on_update)
        self._patch(Screen, "_refresh_layout", timed("layout_pass", lambda s, *a: _name(s)))
        self._patch(Widget, "render_lines", timed("render", lambda w, *a: _name(w)))
        self._patch(
            MessagePump,
            "_dispatch_message",
            timed("messages", lambda p, m, *a: f"{_name(m)}@{_name(p)}"),
        )
        self._patch(Timer, "_tick", timed("timers", timer_key))

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()

    def report(self, top: int = 20) -> dict[str, Any]:
        """Per second of the window: each kind's total, and its biggest entries."""
        seconds = max(1e-9, time.monotonic() - self.began)
        out: dict[str, Any] = {"seconds": round(seconds, 1)}
        for kind, counter in sorted(self.counts.items()):
            cost = self.cost_ms.get(kind, defaultdict(float))
            out[kind] = {
                "per_s": round(sum(counter.values()) / seconds, 2),
                "ms_per_s": round(sum(cost.values()) / seconds, 2) if cost else None,
                "top": [
                    [name, round(n / seconds, 2), round(cost[name] / seconds, 2)]
                    for name, n in counter.most_common(top)
                ],
            }
        return out


@contextmanager
def tracing() -> Iterator[Trace]:
    """Installs a :class:`Trace` for the ``with`` block."""
    trace = Trace()
    trace.install()
    try:
        yield trace
    finally:
        trace.remove()


def print_report(title: str, report: dict[str, Any], out: Any) -> None:
    """A report as lines a person reads (stderr)."""
    print(f"== {title} ({report['seconds']} s)", file=out)
    for kind, entry in report.items():
        if not isinstance(entry, dict):
            continue
        cost = f", {entry['ms_per_s']} ms/s" if entry["ms_per_s"] is not None else ""
        print(f"  {kind}: {entry['per_s']}/s{cost}", file=out)
        for name, n, ms in entry["top"]:
            print(f"      {n:8.2f}/s {ms:8.2f} ms/s  {name}", file=out)
