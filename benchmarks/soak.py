"""Soak: a billion MSM decisions under adversarial injection, every allowed one checked.

``python -m benchmarks.soak --json [--decisions N] [--replay M]`` drives the C engine's
workload generator (``msm_sim_run_ex``) on the seeded soak world (``msm_soak_world``: 8
tags, no-coresidence and no-communication sets, 12 SecLabels, 48 bound domains, 32
devices) with the adversary on: domains keep opening channels to any peer, assigning other
tags' devices, issuing random hypercalls and sub-ops and rate bursts, and the toolstack
keeps starting domains of conflicting tags and destroying others. Every allowed decision
goes, in batches, to the independent invariant checker (``native/src/msm_soak_check.c``),
which counts the ones the policy forbids. A prefix of the same run is then replayed call by
call through the Python reference model (``tests._support.msm_workload``) and must decide
identically: the same counts, violation records and domain states after every chunk.

Progress goes to stderr; one JSON object is the last stdout line (also written to
benchmarks/results/soak.json). Keys: ``decisions`` (hypercalls, channels, device
assignments and domain starts decided, allowed or not; >= 10^9 by default), ``leaks``
(must be 0), ``seconds`` (wall time of the C soak, checker included),
``decisions_per_s``, ``replayed_in_reference`` (decisions of the prefix the model matched;
>= 10^7 by default), plus the breakdown and the checker's first leaks, if any.

The soak code is shared with tests/native/test_soak.py (its 10^6 slice and the test build
with an injected engine bug); :func:`soak` takes the cffi ``ffi``/``lib`` of the build to
drive, so the test can hand it a module compiled with ``-DMSM_TEST_INJECT_BUG``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests._support.msm_model import RefMsm
from tests._support.msm_workload import Adversary, RefWorkload, soak_domain_config
from xps.msm import DomainInfo, Msm, ObjType

RESULTS = Path(__file__).with_name("results") / "soak.json"
SIM_SEED = 1
WORLD_SEED = 2026
# Per million call slots of each domU (lifecycle: per million 1 ms slices). About 5 % of
# the slots are attacks; most of the rest are mix calls against profiles with holes and
# rates of 20..1000 per ms, so profile and rate denials are common too.
ADVERSARY = Adversary(channel=20_000, device=10_000, call=20_000, burst=2_000, lifecycle=50_000)
MS = 1_000_000
MAX_CHUNK_NS = 60_000 * MS  # msm_sim_run's limit per call
LEAK_RULES = {
    1: "channel",
    2: "device",
    3: "coresidence",
    4: "profile",
    5: "rate",
    6: "unlabelled",
    7: "unknown",
}
EVENT_KINDS = {1: "hypercall", 2: "channel", 3: "device", 4: "start", 5: "destroy"}


class SoakError(RuntimeError):
    """A C call of the soak failed, or the reference replay decided differently."""


@dataclass(slots=True)
class SoakResult:
    """Totals of one soak (sums over its msm_sim_run_ex chunks) and the checker's verdict."""

    decisions: int = 0
    hypercalls: int = 0
    allowed: int = 0
    denied_profile: int = 0
    denied_rate: int = 0
    channels: int = 0
    denied_channel: int = 0
    devices: int = 0
    devices_denied: int = 0
    starts: int = 0
    starts_denied: int = 0
    destroys: int = 0
    domains_stopped: int = 0
    events: int = 0
    checked: int = 0
    leaks: int = 0
    leaks_by_rule: dict[str, int] = field(default_factory=dict)
    first_leaks: list[dict[str, Any]] = field(default_factory=list)
    sim_ns: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def _check(ffi: Any, lib: Any, ctx: Any, rc: int, what: str) -> None:
    if rc != 0:
        name = ffi.string(lib.msm_status_name(rc)).decode()
        detail = ffi.string(lib.msm_last_error(ctx)).decode("utf-8", "replace")
        raise SoakError(f"{what}: {name} {detail}".rstrip())


def _params(ffi: Any, duration_ns: int, adversary: Adversary) -> Any:
    p = ffi.new("msm_run_params *")
    p.duration_ns = duration_ns
    a = p.adversary
    a.channel_per_million = adversary.channel
    a.device_per_million = adversary.device
    a.call_per_million = adversary.call
    a.burst_per_million = adversary.burst
    a.lifecycle_per_million = adversary.lifecycle
    return p


def _add_counts(res: SoakResult, out: Any) -> int:
    """Adds one chunk's counts; returns its decisions."""
    run = out.run
    decisions = int(run.hypercalls + run.channels + out.devices + out.starts)
    res.decisions += decisions
    res.hypercalls += run.hypercalls
    res.allowed += run.allowed
    res.denied_profile += run.denied_profile
    res.denied_rate += run.denied_rate
    res.channels += run.channels
    res.denied_channel += run.denied_channel
    res.devices += out.devices
    res.devices_denied += out.devices_denied
    res.starts += out.starts
    res.starts_denied += out.starts_denied
    res.destroys += out.destroys
    res.domains_stopped += run.domains_stopped
    res.events += out.events
    res.sim_ns += run.elapsed_ns
    return decisions


def soak(
    ffi: Any,
    lib: Any,
    decisions: int,
    *,
    seed: int = SIM_SEED,
    world_seed: int = WORLD_SEED,
    adversary: Adversary = ADVERSARY,
    check: bool = True,
    progress: Callable[[SoakResult], None] | None = None,
) -> SoakResult:
    """Runs the soak on a fresh sim of ``lib`` until at least ``decisions`` were decided.

    Chunks are sized from the rate measured so far, so the total overshoots by less than a
    chunk. ``check`` False runs without the checker (no sink: what the checker costs).
    ``progress`` is called after every chunk. ``seconds`` is wall time, ``cpu_seconds`` this
    process's CPU time (on a shared machine the wall time mostly measures the others).

    Raises:
        SoakError: A C call failed.
    """
    res = SoakResult()
    cfg = ffi.new("msm_sim_config *")
    _check(ffi, lib, ffi.NULL, lib.msm_sim_config_default(cfg, ffi.sizeof(cfg[0])), "config")
    cfg.seed = seed
    ctxp, chkp = ffi.new("msm_ctx **"), ffi.new("msm_checker **")
    _check(ffi, lib, ffi.NULL, lib.msm_open_sim(cfg, ffi.sizeof(cfg[0]), ctxp), "open")
    ctx = ffi.gc(ctxp[0], lib.msm_close)
    _check(ffi, lib, ffi.NULL, lib.msm_checker_new(chkp), "checker")
    chk = ffi.gc(chkp[0], lib.msm_checker_free)
    _check(ffi, lib, ctx, lib.msm_soak_world(ctx, world_seed, chk), "soak world")
    out = ffi.new("msm_run_ex_counts *")
    sink = ffi.addressof(lib, "msm_checker_feed")
    chunk_ns = 10 * MS
    t0, c0 = time.perf_counter(), time.process_time()
    while res.decisions < decisions:
        p = _params(ffi, chunk_ns, adversary)
        if check:
            p.sink = sink
            p.sink_user = chk
        _check(
            ffi,
            lib,
            ctx,
            lib.msm_sim_run_ex(ctx, p, ffi.sizeof(p[0]), out, ffi.sizeof(out[0])),
            "sim_run_ex",
        )
        got = _add_counts(res, out)
        res.seconds = time.perf_counter() - t0
        res.cpu_seconds = time.process_time() - c0
        if progress is not None:
            progress(res)
        # Next chunk from the decisions per simulated ns so far (never 0: time moves on
        # even when every domain is stopped, and the toolstack starts new ones).
        per_ns = max(res.decisions / res.sim_ns, 1e-9) if got else 1e-9
        left = decisions - res.decisions
        # Whole milliseconds: the 1 ms slices, and with them every draw, are then the same
        # however the run is cut, so the replay's 2 ms chunks replay this very run.
        chunk_ns = int(min(MAX_CHUNK_NS, max(MS, left / per_ns + MS))) // MS * MS
    res.seconds = time.perf_counter() - t0
    res.cpu_seconds = time.process_time() - c0
    cres = ffi.new("msm_check_result *")
    _check(ffi, lib, ffi.NULL, lib.msm_checker_result(chk, cres, ffi.sizeof(cres[0])), "result")
    res.checked = int(cres.events)
    res.leaks = int(cres.leaks)
    res.leaks_by_rule = {name: int(cres.by_rule[rule]) for rule, name in LEAK_RULES.items()}
    for i in range(cres.n_first):
        leak = cres.first[i]
        ev = leak.event
        res.first_leaks.append(
            {
                "rule": LEAK_RULES.get(int(leak.rule), str(leak.rule)),
                "event": EVENT_KINDS.get(int(ev.kind), str(ev.kind)),
                "ts_ns": int(ev.ts_ns),
                "domid": int(ev.domid),
                "a": int(ev.a),
                "b": int(ev.b),
            }
        )
    return res


def _states(infos: list[DomainInfo]) -> list[tuple[int, Any, bool, int, int]]:
    return [(d.domid, d.state, d.stopped_by_msm, d.violations, d.hypercalls) for d in infos]


def replay(
    decisions: int,
    *,
    seed: int = SIM_SEED,
    world_seed: int = WORLD_SEED,
    adversary: Adversary = ADVERSARY,
    chunk_ns: int = 2 * MS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replays the soak's first ``decisions`` (at least) through the reference model.

    Both cut the run at whole milliseconds, so this is the prefix of :func:`soak`'s run
    with the same seeds and adversary, decision for decision.

    The C sim (``native._msm``) and :class:`RefWorkload` over :class:`RefMsm` run the same
    world chunk by chunk; after each chunk the counts, the drained violation records (in
    order) and every domain's state and counters must be equal. Returns the decisions
    replayed.

    Raises:
        SoakError: They differ (the message names the chunk and what differs).
    """
    from native._msm import ffi, lib  # the shipped build: the model checks that one

    done = 0
    with Msm.open_sim(seed=seed) as msm:
        _check(ffi, lib, msm.ctx, lib.msm_soak_world(msm.ctx, world_seed, ffi.NULL), "world")
        model = RefMsm(seed=seed)
        model.txn_begin(True)
        for objtype in ObjType:
            for obj in msm.policy(objtype):
                model.txn_put(obj)
        model.txn_commit()
        work = RefWorkload(model)
        for info in msm.domains()[1:]:
            cfg = soak_domain_config(info.uuid)
            if (cfg.name, cfg.guest_type, cfg.os, cfg.vcpus) != (
                info.name,
                info.guest_type,
                info.os,
                info.vcpus_online,
            ):
                raise SoakError(f"domain {info.domid}: config differs from msm_soak_domain_config")
            if model.create_domain(cfg) != info.domid:
                raise SoakError(f"domain {info.domid}: the model gave another domid")
            work.created(info.domid, cfg.load_permille)
        out = ffi.new("msm_run_ex_counts *")
        chunk = 0
        while done < decisions:
            chunk += 1
            p = _params(ffi, chunk_ns, adversary)
            _check(
                ffi,
                lib,
                msm.ctx,
                lib.msm_sim_run_ex(msm.ctx, p, ffi.sizeof(p[0]), out, ffi.sizeof(out[0])),
                "sim_run_ex",
            )
            want = work.run(chunk_ns, adversary)
            run = out.run
            got_counts = (
                run.hypercalls,
                run.allowed,
                run.denied_profile,
                run.denied_rate,
                run.channels,
                run.denied_channel,
                run.domains_stopped,
                run.ring_dropped,
                out.devices,
                out.devices_denied,
                out.starts,
                out.starts_denied,
                out.destroys,
            )
            want_counts = (
                want.hypercalls,
                want.allowed,
                want.denied_profile,
                want.denied_rate,
                want.channels,
                want.denied_channel,
                want.domains_stopped,
                want.ring_dropped,
                work.devices,
                work.devices_denied,
                work.starts,
                work.starts_denied,
                work.destroys,
            )
            if got_counts != want_counts:
                raise SoakError(f"chunk {chunk}: counts {got_counts} != model {want_counts}")
            if msm.drain_violations(1 << 16) != model.drain_violations(1 << 16):
                raise SoakError(f"chunk {chunk}: violation records differ")
            if _states(msm.domains()) != _states(model.domains()):
                raise SoakError(f"chunk {chunk}: domain states differ")
            done += int(run.hypercalls + run.channels + out.devices + out.starts)
            if progress is not None:
                progress(done)
    return done


def _log(msg: str) -> None:
    print(f"[soak] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Runs the soak and the replay and prints the JSON result last."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--json", action="store_true", help="print only JSON on stdout")
    parser.add_argument("--decisions", type=int, default=10**9, help="decisions to soak")
    parser.add_argument(
        "--replay", type=int, default=10**7, help="decisions replayed in the reference model"
    )
    parser.add_argument(
        "--unchecked",
        type=int,
        default=10**8,
        help="decisions of the same soak without the checker (its cost); 0 to skip",
    )
    args = parser.parse_args(argv)
    if args.decisions < 1 or args.replay < 0 or args.unchecked < 0:
        parser.error("--decisions must be >= 1, --replay and --unchecked >= 0")

    from native._msm import ffi, lib

    last = [0.0]

    def show(res: SoakResult) -> None:
        if res.seconds - last[0] >= 5 or res.decisions >= args.decisions:
            last[0] = res.seconds
            rate = res.decisions / max(res.seconds, 1e-9)
            _log(
                f"{res.decisions:,} decisions ({100 * res.decisions / args.decisions:.1f} %), "
                f"{rate / 1e6:.1f} M/s"
            )

    _log(f"soak: {args.decisions:,} decisions, checker on")
    res = soak(ffi, lib, args.decisions, progress=show)
    _log(f"leaks: {res.leaks}")
    plain = soak(ffi, lib, args.unchecked, check=False) if args.unchecked else None
    _log(f"replaying {args.replay:,} decisions in the reference model")
    replay_t0 = time.perf_counter()
    shown = [0]

    def show_replay(done: int) -> None:
        if done - shown[0] >= 500_000:
            shown[0] = done
            _log(f"replayed {done:,}")

    replayed = replay(args.replay, progress=show_replay) if args.replay else 0
    replay_s = time.perf_counter() - replay_t0
    result: dict[str, Any] = {
        "benchmark": "soak",
        "decisions": res.decisions,
        "leaks": res.leaks,
        "seconds": round(res.seconds, 2),
        "decisions_per_s": round(res.decisions / max(res.seconds, 1e-9)),
        "cpu_seconds": round(res.cpu_seconds, 2),
        "decisions_per_cpu_s": round(res.decisions / max(res.cpu_seconds, 1e-9)),
        "replayed_in_reference": replayed,
        "replay_seconds": round(replay_s, 1),
        "soak": {
            k: v
            for k, v in asdict(res).items()
            if k not in {"decisions", "leaks", "seconds", "cpu_seconds"}
        },
        "adversary": asdict(ADVERSARY),
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
    }
    if plain is not None:
        # The checker's share of the CPU time, from the rate of the same soak without it.
        plain_rate = plain.decisions / max(plain.cpu_seconds, 1e-9)
        result["unchecked_decisions_per_cpu_s"] = round(plain_rate)
        result["checker_cost_pct"] = round(
            100 * (1 - result["decisions_per_cpu_s"] / plain_rate), 1
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if not args.json:
        for key, value in result.items():
            print(f"{key}: {value}")
    print(json.dumps(result, sort_keys=True))
    return 0 if res.leaks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
