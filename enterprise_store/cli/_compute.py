"""``xenon xe host|task|migrate`` and ``xenon xe vm`` lifecycle: Compute's commands (parsers).

Only argparse here (``xenon --help`` stays light); the commands run in ``_compute_run``
through the REST client. Commands that start a task wait for it by default, printing its
progress, and exit 1 if it failed (``--no-wait`` prints the task id instead).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["register", "register_vm_actions"]

Add = Callable[[Any, str, str, str], argparse.ArgumentParser]
VM_ACTIONS = {
    "start": "start a VM on its host (CreateDomain from the host's active policy)",
    "pause": "pause a VM",
    "unpause": "unpause a VM",
    "shutdown": "shut a VM down",
    "reboot": "reboot a VM",
    "destroy": "destroy a VM's domain",
}


def _run(args: argparse.Namespace) -> int:
    from enterprise_store.cli import _guard

    module = importlib.import_module("enterprise_store.cli._compute_run")
    return _guard(lambda: int(module.run(args)), "xe " + args.xe_action.replace(".", " "))


def _cmd(add: Add, sub: Any, name: str, action: str, help_text: str) -> argparse.ArgumentParser:
    p = add(sub, name, action, help_text)
    p.set_defaults(func=_run)
    return p


def _waiting(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-wait", action="store_true", help="print the task id and return")
    p.add_argument("--wait-timeout", type=float, default=600.0, metavar="SECONDS")


def _hosts(sub: Any, add: Add) -> None:
    group = sub.add_parser("host", help="hosts through their XPS, propagation state")
    hs = group.add_subparsers(dest="xe_host", metavar="ACTION", required=True)
    p = _cmd(add, hs, "list", "host.list", "list hosts with their connection and propagation")
    p.add_argument("--enclave", help="hosts carrying this enclave")
    p = _cmd(add, hs, "add", "host.add", "Add host…: connect to its XPS and read its facts")
    p.add_argument("name")
    p.add_argument("address", help="management address of its XPS")
    p.add_argument("--port", type=int, default=9443, help="XPS read-write port (9443)")
    p.add_argument("--ro-port", type=int, help="XPS read-only port (an auditor's console's)")
    p.add_argument("--color", help="#rrggbb")
    p.add_argument("--order", type=int, help="position in the Hosts panel")
    p.add_argument("--cpu-vendor", help="override the reported CPU vendor")
    p.add_argument("--cpu-family", type=int)
    p.add_argument("--cpu-model", type=int, help="CPUID model number (XPS does not report it)")
    p.add_argument("--cpu-stepping", type=int)
    p.add_argument("--cpu-flag", action="append", help="override the flags (repeat)")
    p.add_argument("--shared-storage", action="append", default=[], help="(repeat)")
    p.add_argument(
        "--takeover",
        action="store_true",
        help="propagate at once even if the host enforces its own policy",
    )
    _waiting(p)
    p = _cmd(add, hs, "ro-port", "host.ro-port", "record or clear a host's XPS read-only port")
    p.add_argument("ref")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("port", type=int, nargs="?", help="the XPS read-only port")
    which.add_argument(
        "--clear", action="store_true", help="forget it (auditors' consoles then have no port)"
    )
    p = _cmd(add, hs, "remove", "host.remove", "remove a host (refused while XE VMs run there)")
    p.add_argument("ref", help="UUID or name")
    p.add_argument("--force", action="store_true", help="even with VMs running or placed there")
    p = _cmd(add, hs, "facts", "host.facts", "what the host's XPS reported when it joined")
    p.add_argument("ref")
    p = _cmd(add, hs, "prior-policy", "host.prior-policy", "the policy it had before XE (XML)")
    p.add_argument("ref")
    p = _cmd(add, hs, "domains", "host.domains", "the domains the host runs now")
    p.add_argument("ref")
    p = _cmd(add, hs, "propagation", "host.propagation", "propagation state (desired vs observed)")
    p.add_argument("ref", nargs="?", help="one host (default: all)")
    p = _cmd(add, hs, "reconverge", "host.reconverge", "re-converge a drifted or held host")
    p.add_argument("ref")
    p = _cmd(add, hs, "propagate", "host.propagate", "propagate the current version now")
    _waiting(p)


def _tasks(sub: Any, add: Add) -> None:
    group = sub.add_parser("task", help="long-running tasks")
    ts = group.add_subparsers(dest="xe_task", metavar="ACTION", required=True)
    p = _cmd(add, ts, "list", "task.list", "list tasks, newest first")
    p.add_argument("--kind")
    p.add_argument("--state", choices=("queued", "running", "succeeded", "failed", "cancelled"))
    p.add_argument("--limit", type=int, default=50)
    p = _cmd(add, ts, "show", "task.show", "show a task")
    p.add_argument("task_id")
    p = _cmd(add, ts, "wait", "task.wait", "wait for a task to end (exit 1 unless it succeeded)")
    p.add_argument("task_id")
    p.add_argument("--wait-timeout", type=float, default=600.0, metavar="SECONDS")
    p = _cmd(add, ts, "watch", "task.watch", "print a task's changes until it ends")
    p.add_argument("task_id")
    p = _cmd(add, ts, "cancel", "task.cancel", "cancel a queued or running task")
    p.add_argument("task_id")


def register_vm_actions(vs: Any, add: Add) -> None:
    """Adds the VM lifecycle (``start`` … ``destroy``, ``state``) to ``xenon xe vm``."""
    for name, help_text in VM_ACTIONS.items():
        p = _cmd(add, vs, name, f"vm.{name}", help_text)
        p.add_argument("ref", help="UUID or name")
    p = _cmd(add, vs, "state", "vm.state", "where a VM is placed and what its host says")
    p.add_argument("ref")


def _migrate(sub: Any, add: Add) -> None:
    p = _cmd(
        add,
        sub,
        "migrate",
        "migrate",
        "live-migrate a running VM to another host (--check: the precheck table)",
    )
    p.add_argument("vm", help="VM UUID or name")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--to", metavar="HOST", help="the target host (UUID or name)")
    what.add_argument(
        "--check",
        action="store_true",
        help="print every host's verdict with every reason; move nothing",
    )
    p.add_argument("--wait", action="store_true", help="follow the task to its end (the default)")
    _waiting(p)


def register(sub: Any, add: Add) -> None:
    """Adds ``xenon xe host``, ``xenon xe task`` and ``xenon xe migrate`` (``add`` makes a
    client command parser)."""
    _hosts(sub, add)
    _tasks(sub, add)
    _migrate(sub, add)
