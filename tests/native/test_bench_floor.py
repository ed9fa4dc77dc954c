"""The benchmark floor (``msm_bench_bitmap_floor``): it does the work it claims, on the stream
it documents, and refuses bad arguments like every other entry point."""

from __future__ import annotations

import math
import uuid

import pytest

from native import _msm  # type: ignore[attr-defined,unused-ignore]
from xps.msm import (
    SUBOP_HYPERCALLS,
    WORKLOAD_PROFILES,
    HypercallProfile,
    OutOfRange,
    bitmap_floor,
)
from xps.msm._lib import last_error

M64 = (1 << 64) - 1


def _splitmix_seed(seed: int) -> list[int]:
    state = []
    for _ in range(4):
        seed = (seed + 0x9E3779B97F4A7C15) & M64
        z = seed
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        state.append(z ^ (z >> 31))
    return state


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & M64


def _stream(seed: int, n: int) -> list[tuple[int, int]]:
    """The documented pair stream: xoshiro256** seeded by splitmix64, nr = r & 63, sub-op =
    (r >> 6) & 255."""
    s = _splitmix_seed(seed)
    pairs = []
    for _ in range(n):
        r = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        pairs.append((r & 63, (r >> 6) & 255))
    return pairs


def _allowed(profile: HypercallProfile, nr: int, subop: int) -> bool:
    if nr not in profile.hypercalls:
        return False
    return nr not in SUBOP_HYPERCALLS or subop in profile.subops.get(nr, frozenset())


EVEN = HypercallProfile(
    uuid.uuid4(),
    "even",
    frozenset(range(0, 64, 2)),
    {nr: frozenset(range(0, 256, 2)) for nr in SUBOP_HYPERCALLS if nr % 2 == 0},
)
ALL = HypercallProfile(
    uuid.uuid4(),
    "all",
    frozenset(range(64)),
    {nr: frozenset(range(256)) for nr in SUBOP_HYPERCALLS},
)
NONE = HypercallProfile(uuid.uuid4(), "none", frozenset())


@pytest.mark.parametrize("profile", [*WORKLOAD_PROFILES, EVEN], ids=lambda p: p.name)
@pytest.mark.parametrize("seed", [1, 42, 2**64 - 1])
def test_checksum_matches_python_on_the_same_stream(profile: HypercallProfile, seed: int) -> None:
    n = 3000
    want = sum(_allowed(profile, nr, sub) for nr, sub in _stream(seed, n))
    got = bitmap_floor(profile, n, seed)
    assert got.checks == n
    assert got.allowed == want
    # Neither trivially 0 nor n: the loop really tested bits that differ along the stream.
    assert 0 < got.allowed < n


def test_all_and_nothing() -> None:
    assert bitmap_floor(ALL, 5000, 7).allowed == 5000
    assert bitmap_floor(NONE, 5000, 7).allowed == 0


def test_rows_of_hypercalls_without_subops_are_ignored() -> None:
    """Like msm_check_hypercall: only sub-op hypercalls consult their row."""
    ffi, lib = _msm.ffi, _msm.lib
    p = ffi.new("msm_profile *")
    p.hypercalls = 1 << 1 | 1 << 29  # mmu_update (no sub-ops), sched_op (row left empty)
    p.subops[1][0] = 0  # a no-sub-op row full of zeros must not deny mmu_update
    p.subops[3][0] = M64  # and a row of a hypercall outside the profile must not allow it
    allowed, ns = ffi.new("uint64_t *"), ffi.new("double *")
    n = 4000
    assert lib.msm_bench_bitmap_floor(p, ffi.sizeof("msm_profile"), 9, n, allowed, ns) == 0
    assert allowed[0] == sum(nr == 1 for nr, _ in _stream(9, n))


def test_time_is_a_positive_finite_number() -> None:
    got = bitmap_floor(WORKLOAD_PROFILES[0], 200_000)
    assert math.isfinite(got.ns_per_check)
    assert got.ns_per_check > 0


def test_argument_checks() -> None:
    ffi, lib = _msm.ffi, _msm.lib
    limit = int(lib.MSM_BENCH_MAX_CHECKS)
    with pytest.raises(OutOfRange):
        bitmap_floor(ALL, 0)
    with pytest.raises(OutOfRange):
        bitmap_floor(ALL, limit + 1)
    with pytest.raises(OutOfRange):
        bitmap_floor(ALL, 10, seed=-1)

    p = ffi.new("msm_profile *")
    allowed, ns = ffi.new("uint64_t *"), ffi.new("double *")
    size = ffi.sizeof("msm_profile")
    call = lib.msm_bench_bitmap_floor
    assert call(ffi.NULL, size, 1, 10, allowed, ns) == lib.MSM_EINVAL
    assert "profile is NULL" in last_error(None)
    assert call(p, size, 1, 10, ffi.NULL, ns) == lib.MSM_EINVAL
    assert call(p, size, 1, 10, allowed, ffi.NULL) == lib.MSM_EINVAL
    assert "ns_per_check is NULL" in last_error(None)
    assert call(p, size - 8, 1, 10, allowed, ns) == lib.MSM_ESIZE
    assert call(p, size, 1, 0, allowed, ns) == lib.MSM_ERANGE
    assert call(p, size, 1, limit + 1, allowed, ns) == lib.MSM_ERANGE
    assert "not in 1.." in last_error(None)
    # Nothing is written when a call fails.
    allowed[0] = 12345
    assert call(p, size, 1, 0, allowed, ns) == lib.MSM_ERANGE
    assert allowed[0] == 12345
