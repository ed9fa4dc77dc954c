"""``xenon demo``: three simulated Xenon hosts, Xenon Enterprise, workloads, the console here
and over SSH.

Everything lives in one state directory (``--state-dir``); a second run reuses it (CA,
certificates, SSH keys and host key, the hosts' policy stores and ports, XE's store).
Policies are set only on the first run: XE (``_xe``) takes the hosts over and propagates
the report's simple policy, or with ``--no-xe`` each host gets its sample slice; a later
run keeps whatever the operator made of them. A host daemon, XE or the workload that
exits is restarted with back-off (``_procs.Processes.poll``); only the SSH console
server's exit ends the demo. Every process the demo starts dies with it: Ctrl+C or
SIGTERM stops them all, and even a ``kill -9`` of the demo takes them down (parent-death
signal).

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
