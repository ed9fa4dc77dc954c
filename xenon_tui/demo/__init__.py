"""``xenon demo``: three simulated Xenon hosts, their workloads, the console here and over SSH.

Everything lives in one state directory (``--state-dir``); a second run reuses it (CA,
certificates, SSH keys and host key, the hosts' policy stores). Every process the demo
starts dies with it: Ctrl+C or SIGTERM stops them all, and even a ``kill -9`` of the demo
takes them down (parent-death signal).

``run_demo`` and ``main`` are imported lazily: the demo's own child processes
(``python -m xenon_tui.demo._workload``, ``…demo._xps``) start without asyncssh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xenon_tui.demo._run import main, run_demo

__all__ = ["main", "run_demo"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'xenon_tui.demo' has no attribute {name!r}")
    return getattr(importlib.import_module("xenon_tui.demo._run"), name)
