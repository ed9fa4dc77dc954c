"""The benchmark floor of a decision: bare bitmap checks timed in C (``msm_bench_bitmap_floor``)."""

from __future__ import annotations

from dataclasses import dataclass

from xps.msm._convert import object_to_c
from xps.msm._errors import OutOfRange
from xps.msm._lib import check, ffi, lib
from xps.msm._objects import HypercallProfile
from xps.msm._validate import U64_MAX, uint

__all__ = ["BitmapFloor", "bitmap_floor"]


@dataclass(frozen=True, slots=True)
class BitmapFloor:
    """One timed run of the floor loop.

    Attributes:
        checks: Pairs drawn and checked.
        allowed: How many of them the profile's bitmaps allow (the loop's checksum).
        ns_per_check: Wall time of the loop inside C (``CLOCK_MONOTONIC``) per pair.
    """

    checks: int
    allowed: int
    ns_per_check: float


def bitmap_floor(profile: HypercallProfile, checks: int, seed: int = 1) -> BitmapFloor:
    """Times ``checks`` bare bitmap membership checks of a random pair stream in C.

    The stream is the sim workload's generator (splitmix64-seeded xoshiro256**): draw ``r``
    gives hypercall ``r & 63`` and sub-op ``(r >> 6) & 255``; a pair is allowed when the
    hypercall's bit is set and, for hypercalls with sub-ops, the sub-op's bit too. No domain,
    rate window or counter is involved, so this is the least any decision can cost.

    Raises:
        OutOfRange: ``checks`` not in 1..``MSM_BENCH_MAX_CHECKS`` or ``seed`` not a uint64.
        InvalidArgument: ``checks`` or ``seed`` is not an int.
    """
    limit = int(lib.MSM_BENCH_MAX_CHECKS)
    uint("checks", checks, limit)
    if checks == 0:
        raise OutOfRange(f"checks must be in 1..{limit}, got 0")
    uint("seed", seed, U64_MAX)
    _, c = object_to_c(profile)
    allowed, ns = ffi.new("uint64_t *"), ffi.new("double *")
    rc = lib.msm_bench_bitmap_floor(c, ffi.sizeof("msm_profile"), seed, checks, allowed, ns)
    check(rc, None, "bench floor")
    return BitmapFloor(checks, int(allowed[0]), float(ns[0]))
