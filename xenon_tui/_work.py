"""Every fallible task of the console runs as a worker of the app, whose failure it shows."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, ParamSpec

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.worker import Worker

P = ParamSpec("P")


def run_flow(
    node: DOMNode,
    group: str,
    flow: Callable[P, Coroutine[Any, Any, Any]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Worker[Any]:
    """Runs ``flow(*args, **kwargs)`` as an exclusive worker (per ``group``) of the app.

    The app's one ``Worker.StateChanged`` handler shows the error a failed worker ended
    with, so flows, dialogs and views raise ``ConsoleError`` instead of each reporting
    it: a widget's own worker would report to the widget, which does not listen. The
    coroutine is made when the worker starts, so a worker replaced before it started
    leaves no coroutine un-awaited.
    """
    return node.app.run_worker(
        partial(flow, *args, **kwargs), group=group, exclusive=True, exit_on_error=False
    )
