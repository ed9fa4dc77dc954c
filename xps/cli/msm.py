"""``xenon msm``: inspect the MSM security module and run the simulated hypervisor."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from xps.msm import HYPERCALL_NAMES, Backend, Msm, MsmError, RunState, install_demo

EXIT_ERROR = 2


def _open(backend: str, seed: int = 1) -> Msm:
    return Msm.open_xen() if backend == "xen" else Msm.open_sim(seed=seed)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _info(args: argparse.Namespace) -> int:
    with _open(args.backend) as msm:
        info = msm.info()
    if args.json:
        print(json.dumps(_jsonable(info), sort_keys=True))
        return 0
    backend = info.backend.name.lower() if isinstance(info.backend, Backend) else info.backend
    version = f"{info.interface_version >> 16}.{info.interface_version & 0xFFFF}"
    rows = [
        ("backend", backend),
        ("interface", version),
        ("policy generation", info.generation),
        ("profiles / tags / sets", f"{info.n_profiles} / {info.n_tags} / {info.n_conflicts}"),
        ("seclabels / bindings", f"{info.n_seclabels} / {info.n_bindings}"),
        ("devices", info.n_devices),
        ("domains", info.n_domains),
        ("host cpus", info.host_cpus),
        ("memory free / total", f"{info.free_mem_kb // 1024} / {info.host_mem_kb // 1024} MiB"),
        (
            "violation ring",
            f"{info.ring_used}/{info.ring_capacity} used, {info.ring_dropped} dropped",
        ),
        ("hypercalls checked", f"{info.hypercalls_checked} ({info.hypercalls_denied} denied)"),
        ("channels checked", f"{info.channels_checked} ({info.channels_denied} denied)"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 600:
        print("error: --seconds must be in (0, 600]", file=sys.stderr)
        return EXIT_ERROR
    with Msm.open_sim(seed=args.seed) as msm:
        started = install_demo(msm)
        total = None
        remaining = int(args.seconds * 1e9)
        violations: Counter[tuple[int, str, str]] = Counter()
        dropped = 0
        while remaining > 0:  # msm_sim_run advances at most 60 s per call
            step = min(remaining, 60_000_000_000)
            counts = msm.run(step)
            total = (
                counts
                if total is None
                else dataclasses.replace(
                    total,
                    **{
                        f.name: getattr(total, f.name) + getattr(counts, f.name)
                        for f in dataclasses.fields(counts)
                    },
                )
            )
            remaining -= step
            while True:
                records, lost = msm.drain_violations()
                dropped += lost
                for r in records:
                    call = HYPERCALL_NAMES.get(r.nr, str(r.nr))
                    violations[(r.domid, r.kind.name.lower(), call)] += 1
                if not records:
                    break
        domains = msm.domains()
    names = {d.domid: d.name for d in domains}
    refused = {name: err.code for name, err in started if isinstance(err, MsmError)}
    if args.json:
        print(
            json.dumps(
                {
                    "seed": args.seed,
                    "seconds": args.seconds,
                    "run": _jsonable(total),
                    "refused": refused,
                    "domains": _jsonable(domains),
                    "violations": [
                        {
                            "domid": d,
                            "domain": names.get(d, "?"),
                            "kind": k,
                            "hypercall": c,
                            "count": n,
                        }
                        for (d, k, c), n in sorted(violations.items())
                    ],
                    "dropped": dropped,
                },
                sort_keys=True,
            )
        )
        return 0
    assert total is not None
    print(
        f"simulated {args.seconds:g} s (seed {args.seed}): {total.hypercalls} hypercalls, "
        f"{total.allowed} allowed, {total.denied_profile} out of profile, "
        f"{total.denied_rate} over rate, {total.channels} channel attempts "
        f"({total.denied_channel} denied), {total.domains_stopped} domains stopped"
    )
    for name, code in refused.items():
        print(f"start of {name} refused: {code}")
    print(f"{'domid':>5}  {'name':<10} {'state':<8} {'hypercalls':>10} {'violations':>10}  cpu s")
    for d in domains:
        state = d.state.name.lower() if isinstance(d.state, RunState) else str(d.state)
        if d.stopped_by_msm:
            state += "*"
        print(
            f"{d.domid:>5}  {d.name:<10} {state:<8} {d.hypercalls:>10} {d.violations:>10}"
            f"  {d.cpu_ns / 1e9:.2f}"
        )
    if violations:
        print("violations (domain, kind, hypercall: count):")
        for (domid, kind, call), n in sorted(violations.items()):
            print(f"  {names.get(domid, domid)}  {kind:<8} {call}: {n}")
    if dropped:
        print(f"{dropped} violation records were dropped (ring full)")
    print("* stopped by the module after reaching its max violations")
    return 0


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except MsmError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return wrapped


def register(subparsers: Any) -> None:
    """Adds ``xenon msm info`` and ``xenon msm simulate``."""
    parser = subparsers.add_parser("msm", help="the MSM security module (sim or Xen)")
    sub = parser.add_subparsers(dest="msm_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("info", help="interface version, policy and enforcement counters")
    p.add_argument(
        "--backend",
        choices=["sim", "xen"],
        default="sim",
        help="sim (default) or xen (/dev/xen/privcmd)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run(_info))
    p = sub.add_parser("simulate", help="run a built-in policy and workload on the sim")
    p.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    p.add_argument("--seconds", type=float, default=5.0, help="simulated seconds (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run(_simulate))


def main(argv: list[str] | None = None) -> int:
    """Runs ``xenon msm …`` on its own (``python -m xps.cli.msm …``)."""
    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["msm", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
