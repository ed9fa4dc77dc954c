"""``xenon xe history …``: the hosts' violations and statistics as XE stored them.

Importing this module is cheap (argparse only); the client is imported when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["HANDLERS", "register"]

Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]
AddCommand = Callable[[Any, str, str, str], argparse.ArgumentParser]


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--enclave", help="enclave name or UUID")
    p.add_argument("--host", help="host name or UUID")
    p.add_argument("--vm", help="VM name or UUID")
    p.add_argument("--domain", help="domain name on its host (also domains XE does not manage)")
    p.add_argument("--kind", choices=("profile", "rate", "channel"))
    p.add_argument("--hypercall", type=int, metavar="NR")
    _window(p)


def _window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", metavar="ISO8601", help="at or after (UTC unless it says)")
    p.add_argument("--until", metavar="ISO8601", help="before")


def _run(args: argparse.Namespace) -> int:
    import importlib

    from enterprise_store.cli._config import CliError

    # By module name: the package's own ``_remote`` attribute is its runner function.
    remote: Any = importlib.import_module("enterprise_store.cli._remote")
    remote.COMMANDS.update(HANDLERS)
    try:
        return int(remote.run(args))
    except CliError as exc:
        print(f"xenon xe history: {exc}", file=sys.stderr)
        return 2


def register(sub: Any, add: AddCommand) -> None:
    """Adds ``history`` to ``xenon xe`` (``add`` makes a client command parser)."""
    history = sub.add_parser("history", help="violations and statistics of every host")
    hs = history.add_subparsers(dest="xe_history", metavar="ACTION", required=True)
    p = add(hs, "violations", "history.violations", "list violations, newest first")
    _filters(p)
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.set_defaults(func=_run)
    p = add(
        hs,
        "summary",
        "history.summary",
        "violation counts by enclave, host, VM and hypercall (default: the last hour)",
    )
    _filters(p)
    p.add_argument("--limit", type=int, default=100, help="groups (default 100)")
    p.set_defaults(func=_run)
    p = add(hs, "stats", "history.stats", "CPU and memory series of a host or its domains")
    p.add_argument("--host", help="host name or UUID")
    p.add_argument("--vm", help="VM name or UUID")
    p.add_argument("--domain", help="domain name on its host")
    p.add_argument("--whole-host", action="store_true", help="the host's own series")
    p.add_argument("--range", choices=("10m", "2h", "1d", "1w"), help="default 10m")
    _window(p)
    p.set_defaults(func=_run)
    p = add(hs, "ingest", "history.ingest", "how far each host's violations are stored")
    p.set_defaults(func=_run)


def _stamp(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "enclave": args.enclave, "host": args.host, "vm": args.vm, "domain": args.domain,
        "kind": args.kind, "hypercall": args.hypercall, "since": args.since, "until": args.until,
    }  # fmt: skip


async def _violations(xe: Any, args: argparse.Namespace) -> int:
    from enterprise_store.cli._config import CliError
    from enterprise_store.cli._remote import _dump, _table

    if not 1 <= args.limit <= 100_000:
        raise CliError("--limit is 1 to 100000")
    items = []
    async for v in xe.history.iter_violations(**_common(args)):
        items.append(v)
        if len(items) >= args.limit:
            break
    if args.json:
        print(_dump(items))
        return 0
    rows = [
        [_stamp(v.ts), v.host_name or v.host_id[:8], v.vm_name or v.domain,
         v.enclave_name or "-", v.kind, f"{v.hypercall_name}({v.hypercall})", str(v.subop),
         str(v.count)]
        for v in items
    ]  # fmt: skip
    print(_table(rows, ["TIME (UTC)", "HOST", "VM", "ENCLAVE", "KIND", "HYPERCALL", "SUBOP",
                        "COUNT"]))  # fmt: skip
    return 0


async def _summary(xe: Any, args: argparse.Namespace) -> int:
    from enterprise_store.cli._remote import _dump, _table

    summary = await xe.history.summary(limit=args.limit, **_common(args))
    if args.json:
        print(_dump(summary))
        return 0
    rows = [
        [g.enclave_name or "-", g.host_name or g.host_id[:8], g.vm_name or g.domain,
         f"{g.hypercall_name}({g.hypercall})", str(g.violations), f"{g.per_minute:g}"]
        for g in summary.groups
    ]  # fmt: skip
    print(_table(rows, ["ENCLAVE", "HOST", "VM", "HYPERCALL", "VIOLATIONS", "PER MIN"]))
    more = " (more groups not shown)" if summary.truncated else ""
    print(
        f"{summary.total} violations from {_stamp(summary.since)} to {_stamp(summary.until)} "
        f"UTC{more}"
    )
    return 0


async def _stats(xe: Any, args: argparse.Namespace) -> int:
    import datetime as dt

    from enterprise_store.cli._remote import _dump, _table

    domain = "" if args.whole_host else args.domain
    result = await xe.history.stats(
        host=args.host, vm=args.vm, domain=domain, range=args.range, since=args.since,
        until=args.until,
    )  # fmt: skip
    if args.json:
        print(_dump(result))
        return 0
    for series in result.series:
        name = series.domain or "(whole host)"
        print(f"{series.host_name or series.host_id}: {name}  step {result.step_s or 'raw'}")
        rows = [
            [_stamp(dt.datetime.fromtimestamp(p.ts_us / 1e6, tz=dt.UTC)), f"{p.cpu_pct:.2f}",
             f"{p.mem_kb:.0f}", f"{p.vcpus:g}"]
            for p in series.points
        ]  # fmt: skip
        print(_table(rows, ["TIME (UTC)", "CPU %", "MEM KB", "VCPUS"]))
    if result.truncated:
        print("(more points not shown: narrow the range)")
    return 0


async def _ingest(xe: Any, args: argparse.Namespace) -> int:
    from enterprise_store.cli._remote import _dump, _table

    hosts = await xe.history.ingest_status()
    if args.json:
        print(_dump(hosts))
        return 0
    rows = [
        [h.host_name or h.host_id, str(h.epoch), str(h.seq), str(h.lost), str(h.host_dropped),
         _stamp(h.updated_at)]
        for h in hosts
    ]  # fmt: skip
    print(_table(rows, ["HOST", "EPOCH", "SEQ", "LOST", "HOST DROPPED", "UPDATED (UTC)"]))
    return 0


HANDLERS: dict[str, Handler] = {
    "history.violations": _violations,
    "history.summary": _summary,
    "history.stats": _stats,
    "history.ingest": _ingest,
}
