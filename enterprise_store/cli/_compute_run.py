"""Compute's commands of ``xenon xe``, run through the REST client (``xe.compute``).

A command that starts a task follows it (one line per progress message on stderr) and
prints its result; it exits 1 if the task failed or was cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from enterprise_store.cli._config import CliError, resolve_remote, state_dir_of
from enterprise_store.cli._remote import _dump, _table

__all__ = ["COMMANDS", "run"]

Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


def _short(value: str | None, n: int = 12) -> str:
    return "-" if not value else value[:n]


async def _follow(xe: Any, args: argparse.Namespace, task_id: str) -> int:
    """Follows a task to its end; prints the result (JSON) or the error; 0 if it succeeded."""
    if getattr(args, "no_wait", False):
        print(task_id)
        return 0
    last = ""
    task = None
    async with asyncio.timeout(getattr(args, "wait_timeout", 600.0)):
        async for task in xe.compute.watch_task(task_id):
            if task.message != last and not args.json:
                last = task.message
                print(f"[{task.progress:4.0%}] {task.message}", file=sys.stderr)
    if task is None:
        raise CliError(f"task {task_id} sent nothing")
    if args.json:
        print(_dump(task))
    elif task.state == "succeeded":
        print(_dump(task.result))
    elif task.error is not None:
        print(f"task {task.state}: {task.error.code}: {task.error.detail}", file=sys.stderr)
        for finding in task.error.findings or ():
            print(f"  {finding.code}: {finding.message}", file=sys.stderr)
    else:
        print(f"task {task.state}", file=sys.stderr)
    return 0 if task.state == "succeeded" else 1


# -- hosts ---------------------------------------------------------------------------------


async def _host_list(xe: Any, args: argparse.Namespace) -> int:
    hosts = []
    cursor = None
    while True:
        page = await xe.policy.list_hosts(enclave=args.enclave, cursor=cursor)
        hosts.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    states = {p.host_id: p for p in await xe.compute.propagation()}
    if args.json:
        out = [
            {
                **h.model_dump(mode="json"),
                "propagation": None
                if states.get(h.id) is None
                else states[h.id].model_dump(mode="json"),
            }
            for h in hosts
        ]
        print(_dump(out))
        return 0
    rows = []
    for h in hosts:
        p = states.get(h.id)
        rows.append(
            [
                h.name,
                f"{h.address}:{h.port}",
                "-" if p is None else p.connection,
                "-" if p is None else p.state,
                "-" if p is None else f"{p.observed.version or 0}/{p.desired.version}",
                "-" if p is None else _short(p.observed.enforced_hash),
            ]
        )
    print(_table(rows, ["NAME", "XPS", "CONNECTION", "PROPAGATION", "VERSION", "ENFORCED"]))
    hold = (await xe.policy.approvals()).hold_summary()
    if hold is not None:
        print(f"\nheld: {hold} (xenon xe policy approvals to review)")
    return 0


async def _host_add(xe: Any, args: argparse.Namespace) -> int:
    cpu: dict[str, Any] = {}
    for key in ("vendor", "family", "model", "stepping"):
        value = getattr(args, f"cpu_{key}")
        if value is not None:
            cpu[key] = value
    if args.cpu_flag:
        cpu["flags"] = list(args.cpu_flag)
    accepted = await xe.compute.add_host(
        args.name,
        args.address,
        args.port,
        color=args.color,
        order=args.order,
        cpu=cpu or None,
        shared_storage=args.shared_storage,
        takeover=args.takeover,
        ro_port=args.ro_port,
    )
    return await _follow(xe, args, accepted.task_id)


async def _host_ro_port(xe: Any, args: argparse.Namespace) -> int:
    written = await xe.policy.update_host(args.ref, ro_port=None if args.clear else args.port)
    item = written.item
    port = "none" if item.ro_port is None else item.ro_port
    print(_dump(written) if args.json else f"host {item.name}: read-only port {port}")
    return 0


async def _host_remove(xe: Any, args: argparse.Namespace) -> int:
    removed = await xe.compute.remove_host(args.ref, force=args.force)
    print(_dump(removed) if args.json else f"host {args.ref} removed (version {removed.version})")
    return 0


async def _host_facts(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.compute.host_facts(args.ref)))
    return 0


async def _host_prior(xe: Any, args: argparse.Namespace) -> int:
    sys.stdout.write(await xe.compute.prior_policy(args.ref))
    return 0


async def _host_domains(xe: Any, args: argparse.Namespace) -> int:
    domains = await xe.compute.host_domains(args.ref)
    if args.json:
        print(_dump(domains))
        return 0
    rows = [[str(d.domid), d.name, d.run_state, d.vm_id or "-"] for d in domains]
    print(_table(rows, ["DOMID", "NAME", "STATE", "XE VM"]))
    return 0


def _propagation_rows(states: list[Any]) -> str:
    rows = [
        [
            p.host,
            p.state,
            str(p.desired.version),
            "-" if p.observed.version is None else str(p.observed.version),
            _short(p.observed.enforced_hash),
            str(p.observed.attempts),
            f"{p.lag_s:g}",
            (p.observed.last_error or "")[:60],
        ]
        for p in states
    ]
    header = ["HOST", "STATE", "DESIRED", "OBSERVED", "ENFORCED", "ATTEMPTS", "LAG S", "ERROR"]
    return _table(rows, header)


async def _host_propagation(xe: Any, args: argparse.Namespace) -> int:
    if args.ref:
        states = [await xe.compute.host_propagation(args.ref)]
    else:
        states = await xe.compute.propagation()
    print(_dump(states) if args.json else _propagation_rows(states))
    return 0


async def _host_reconverge(xe: Any, args: argparse.Namespace) -> int:
    state = await xe.compute.reconverge(args.ref)
    print(_dump(state) if args.json else f"host {state.host}: re-converging (was {state.state})")
    return 0


async def _host_propagate(xe: Any, args: argparse.Namespace) -> int:
    accepted = await xe.compute.propagate()
    return await _follow(xe, args, accepted.task_id)


# -- VMs -----------------------------------------------------------------------------------


def _vm_action(action: str) -> Handler:
    async def act(xe: Any, args: argparse.Namespace) -> int:
        state = await xe.compute.vm_action(args.ref, action)
        if args.json:
            print(_dump(state))
        else:
            where = f"domain {state.domid}" if state.domid is not None else "no domain"
            print(f"VM {state.name} on {state.host}: {state.run_state} ({where})")
        return 0

    return act


async def _vm_state(xe: Any, args: argparse.Namespace) -> int:
    state = await xe.compute.vm_state(args.ref)
    if args.json:
        print(_dump(state))
    else:
        domid = "-" if state.domid is None else str(state.domid)
        print(f"VM {state.name} on {state.host}: {state.run_state} (domid {domid})")
    return 0


def _check_rows(targets: list[Any]) -> str:
    rows = []
    for t in targets:
        verdict = "allowed" if t.allowed else "refused"
        if not t.reasons:
            rows.append([t.host, verdict, "-", ""])
        for i, r in enumerate(t.reasons):
            first = i == 0
            rows.append([t.host if first else "", verdict if first else "", r.code, r.message])
    return _table(rows, ["HOST", "VERDICT", "REASON", "MESSAGE"])


async def _migrate(xe: Any, args: argparse.Namespace) -> int:
    if args.check:
        targets = await xe.compute.migration_targets(args.vm)
        print(_dump(targets) if args.json else _check_rows(targets))
        return 0 if any(t.allowed for t in targets) else 1
    if args.wait and args.no_wait:
        raise CliError("--wait and --no-wait exclude each other")
    accepted = await xe.compute.migrate(args.vm, args.to)
    return await _follow(xe, args, accepted.task_id)


# -- tasks ---------------------------------------------------------------------------------


async def _task_list(xe: Any, args: argparse.Namespace) -> int:
    tasks = await xe.compute.tasks(kind=args.kind, state=args.state, limit=args.limit)
    if args.json:
        print(_dump(tasks))
        return 0
    rows = [
        [
            t.id,
            t.kind,
            t.state,
            f"{t.progress:.0%}",
            f"{t.created_at:%Y-%m-%d %H:%M:%S}",
            t.created_by,
            t.message[:60],
        ]
        for t in tasks
    ]
    print(_table(rows, ["ID", "KIND", "STATE", "DONE", "CREATED (UTC)", "BY", "MESSAGE"]))
    return 0


async def _task_show(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.compute.task(args.task_id)))
    return 0


async def _task_wait(xe: Any, args: argparse.Namespace) -> int:
    task = await xe.compute.wait_task(args.task_id, args.wait_timeout)
    print(_dump(task))
    return 0 if task.state == "succeeded" else 1


async def _task_watch(xe: Any, args: argparse.Namespace) -> int:
    args.no_wait = False
    args.wait_timeout = 24 * 3600.0
    return await _follow(xe, args, args.task_id)


async def _task_cancel(xe: Any, args: argparse.Namespace) -> int:
    task = await xe.compute.cancel_task(args.task_id)
    print(_dump(task) if args.json else f"task {task.id}: {task.state}")
    return 0


COMMANDS: dict[str, Handler] = {
    "host.list": _host_list,
    "host.add": _host_add,
    "host.remove": _host_remove,
    "host.ro-port": _host_ro_port,
    "host.facts": _host_facts,
    "host.prior-policy": _host_prior,
    "host.domains": _host_domains,
    "host.propagation": _host_propagation,
    "host.reconverge": _host_reconverge,
    "host.propagate": _host_propagate,
    "vm.state": _vm_state,
    "migrate": _migrate,
    "task.list": _task_list,
    "task.show": _task_show,
    "task.wait": _task_wait,
    "task.watch": _task_watch,
    "task.cancel": _task_cancel,
    **{
        f"vm.{a}": _vm_action(a)
        for a in ("start", "pause", "unpause", "shutdown", "reboot", "destroy")
    },
}


def run(args: argparse.Namespace) -> int:
    """Runs the Compute command ``args.xe_action`` against the service."""
    from enterprise_store._errors import XeError
    from enterprise_store.client import XeClient

    handler = COMMANDS[args.xe_action]
    remote = resolve_remote(
        state_dir=state_dir_of(args.state_dir, required=False),
        url=args.url,
        token_file=args.token_file,
        ca=args.ca,
    )

    async def main() -> int:
        async with XeClient(
            remote.url, token=remote.token, ca=remote.ca, timeout=args.timeout
        ) as xe:
            return await handler(xe, args)

    try:
        return asyncio.run(main())
    except TimeoutError:
        print(f"xenon xe {args.xe_action.replace('.', ' ')}: still running", file=sys.stderr)
        return 1
    except XeError as exc:
        what = "xenon xe " + args.xe_action.replace(".", " ")
        print(f"{what}: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
