"""Hostile-argument fuzz of every msm.h entry point; run in a subprocess by test_fuzz.py.

``python -m tests.native._fuzz_main LOGFILE`` drives the raw cffi ``lib`` (NULL pointers,
wrong struct sizes, structs full of random bytes, out-of-range numbers) and the typed
``xps.msm`` API (arbitrary ints). Every call must return a status in 0..MSM_STATUS_MAX (or
raise :class:`MsmError` in the typed API); a crash kills this process, and the parent
reports the last call written to LOGFILE.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from native._msm import ffi, lib  # type: ignore[import-not-found]

from xps.msm import (
    Binding,
    ConflictLevel,
    ConflictSet,
    Device,
    DomainConfig,
    HypercallProfile,
    Msm,
    MsmError,
    SecLabel,
    Tag,
)
from xps.msm._convert import config_to_c, object_to_c

STRUCTS = ["msm_profile", "msm_tag", "msm_conflict", "msm_seclabel", "msm_binding", "msm_device"]
U32 = st.one_of(
    st.sampled_from(
        [0, 1, 2, 3, 5, 6, 7, 63, 64, 255, 256, 1023, 1024, 0x7FEF, 0x7FF0, 0xFFFF, 0xFFFFFFFF]
    ),
    st.integers(0, 0xFFFFFFFF),
)
U64 = st.one_of(
    st.sampled_from([0, 1, 999_999, 10**6, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1)
)
SIZE = st.one_of(
    st.sampled_from([0, 1, 7, 8, 16, 48, 80, 128, 2136, 1112, 2**63]), st.integers(0, 4096)
)

LOG = os.open(
    sys.argv[1] if len(sys.argv) > 1 else os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600
)
CALLS = 0


def log(*what: object) -> None:
    global CALLS
    CALLS += 1
    os.lseek(LOG, 0, os.SEEK_SET)
    os.ftruncate(LOG, 0)
    os.write(LOG, repr(what).encode()[:4000])


def status(rc: int) -> None:
    assert 0 <= rc <= lib.MSM_STATUS_MAX, rc


def ctx_with_state() -> Any:
    """A sim context with a policy, a running and a paused domain and a full-ish ring."""
    msm = Msm.open_sim(seed=5, host_mem_kb=64 * 2048, ring_capacity=16, dom0_mem_kb=2048)
    tag = Tag(uuid.uuid4(), "t")
    prof = HypercallProfile(uuid.uuid4(), "p", frozenset({1, 29}), {29: frozenset({0})})
    label = SecLabel(uuid.uuid4(), "l", prof.id, tag.id, max_rate=5, max_violations=0)
    doms = [uuid.uuid4() for _ in range(2)]
    msm.apply([tag, prof, label, *(Binding(d, label.id) for d in doms)])
    msm.create_domain(DomainConfig(doms[0], "run", mem_kb=2048, maxmem_kb=2048))
    msm.create_domain(DomainConfig(doms[1], "paused", mem_kb=2048, maxmem_kb=2048, paused=True))
    for i in range(20):
        msm.check_hypercall(1, 40 + i, 0, i)
    return msm


def _valid_structs() -> dict[int, bytes]:
    tag = uuid.uuid4()
    objs = [
        HypercallProfile(uuid.uuid4(), "p", frozenset({1, 29}), {29: frozenset({0, 200})}),
        Tag(tag, "t2"),
        ConflictSet(uuid.uuid4(), "c", ConflictLevel.NO_CORESIDENCE, (tag, uuid.uuid4())),
        SecLabel(uuid.uuid4(), "l2", uuid.uuid4(), tag, max_rate=3),
        Binding(uuid.uuid4(), uuid.uuid4()),
        Device(0x300, tag),
    ]
    out = {}
    for obj in objs:
        objtype, c = object_to_c(obj)
        out[int(objtype)] = bytes(ffi.buffer(c))
    return out


VALID = _valid_structs()
VALID_CONFIG = bytes(
    ffi.buffer(config_to_c(DomainConfig(uuid.uuid4(), "fuzz", mem_kb=2048, maxmem_kb=2048)))
)


def struct_bytes(draw: st.DrawFn, ctype: str) -> Any:
    """A buffer of the struct's true size filled with random bytes (or all zero)."""
    size = ffi.sizeof(ctype)
    raw = draw(st.one_of(st.just(bytes(size)), st.binary(min_size=size, max_size=size)))
    buf = ffi.new("char[]", size)
    ffi.memmove(buf, raw, size)
    return ffi.cast(ctype + " *", buf), buf


@st.composite
def raw_calls(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    """One entry point and hostile arguments for it (ctx filled in by the runner)."""
    name = draw(
        st.sampled_from(
            [
                "get_info",
                "txn_begin",
                "txn_put",
                "txn_delete",
                "txn_commit",
                "txn_abort",
                "policy_get",
                "check_hypercall",
                "check_channel",
                "ring_drain",
                "reset",
                "assign",
                "release",
                "create",
                "pause",
                "unpause",
                "shutdown",
                "reboot",
                "destroy",
                "get",
                "list",
                "write",
                "read",
                "misbehave",
                "run",
                "names",
                "open_sim",
                "open_xen",
                "config_default",
            ]
        )
    )
    return name, (draw(st.data()),)


def run_raw(ctx: Any, name: str, data: st.DataObject) -> None:
    null = data.draw(st.integers(0, 9)) == 0
    c = ffi.NULL if null else ctx
    draw = data.draw
    keep: list[Any] = []

    def buf(ctype: str) -> Any:
        if draw(st.integers(0, 9)) == 0:
            return ffi.NULL
        ptr, owner = struct_bytes(lambda s: draw(s), ctype)
        keep.append(owner)
        return ptr

    def mutated(ctype: str, base: bytes | None) -> Any:
        """A valid struct with a few random bytes changed: reaches the deeper checks."""
        if base is None:
            return buf(ctype)
        raw = bytearray(base)
        for _ in range(draw(st.integers(0, 3))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        owner = ffi.new("char[]", len(raw))
        ffi.memmove(owner, bytes(raw), len(raw))
        keep.append(owner)
        return ffi.cast(ctype + " *", owner)

    def out(ctype: str) -> Any:
        return ffi.NULL if draw(st.integers(0, 9)) == 0 else ffi.new(ctype)

    args: tuple[Any, ...]
    if name == "get_info":
        args = (c, out("msm_info *"), draw(st.one_of(st.just(ffi.sizeof("msm_info")), SIZE)))
        log(name, null, args[2])
        status(lib.msm_get_info(*args))
    elif name == "txn_begin":
        flags = draw(U32)
        log(name, null, flags)
        status(lib.msm_txn_begin(c, flags))
    elif name == "txn_put":
        objtype = draw(st.one_of(st.integers(1, 6), U32))
        ctype = STRUCTS[(objtype - 1) % 6] if 1 <= objtype <= 6 else "msm_profile"
        obj = mutated(ctype, VALID.get(objtype)) if draw(st.booleans()) else buf(ctype)
        size = draw(st.one_of(st.just(ffi.sizeof(ctype)), SIZE))
        log(name, null, objtype, size, bytes(ffi.buffer(obj)) if obj != ffi.NULL else None)
        status(lib.msm_txn_put(c, objtype, obj, size))
    elif name == "txn_delete":
        objtype, bdf = draw(U32), draw(U32)
        uid = buf("msm_uuid")
        log(name, null, objtype, bdf)
        status(lib.msm_txn_delete(c, objtype, uid, bdf))
    elif name == "txn_commit":
        err = out("msm_commit_error *")
        size = draw(st.one_of(st.just(ffi.sizeof("msm_commit_error")), SIZE))
        log(name, null, size)
        status(lib.msm_txn_commit(c, err, size))
    elif name == "txn_abort":
        log(name, null)
        status(lib.msm_txn_abort(c))
    elif name == "policy_get":
        objtype, index = draw(U32), draw(U32)
        o = ffi.new("char[]", 4096)
        size = draw(SIZE.filter(lambda s: s <= 4096))
        log(name, null, objtype, index, size)
        status(lib.msm_policy_get(c, objtype, index, o, size))
    elif name == "check_hypercall":
        args = (c, draw(U32), draw(U32), draw(U32), draw(U64), out("uint32_t *"))
        log(name, null, args[1:5])
        status(lib.msm_check_hypercall(*args))
    elif name == "check_channel":
        args = (c, draw(U32), draw(U32), draw(U32), draw(U64), out("uint32_t *"))
        log(name, null, args[1:5])
        status(lib.msm_check_channel(*args))
    elif name == "ring_drain":
        cap = draw(st.integers(0, 64))
        o = ffi.new("msm_violation[]", cap + 1) if draw(st.integers(0, 9)) else ffi.NULL
        size = draw(st.one_of(st.just(ffi.sizeof("msm_violation")), SIZE))
        mx = draw(st.integers(0, cap + 1))
        log(name, null, size, mx)
        status(lib.msm_ring_drain(c, o, size, mx, out("uint32_t *"), out("uint64_t *")))
    elif name in ("reset", "pause", "unpause", "reboot", "destroy"):
        domid = draw(U32)
        fn = {
            "reset": lib.msm_domain_reset_violations,
            "pause": lib.msm_domain_pause,
            "unpause": lib.msm_domain_unpause,
            "reboot": lib.msm_domain_reboot,
            "destroy": lib.msm_domain_destroy,
        }[name]
        log(name, null, domid)
        status(fn(c, domid))
    elif name in ("assign", "release"):
        domid, bdf = draw(U32), draw(U32)
        log(name, null, domid, bdf)
        fn = lib.msm_device_assign if name == "assign" else lib.msm_device_release
        status(fn(c, domid, bdf))
    elif name == "create":
        cfg = (
            mutated("msm_domain_config", VALID_CONFIG)
            if draw(st.booleans())
            else buf("msm_domain_config")
        )
        size = draw(st.one_of(st.just(ffi.sizeof("msm_domain_config")), SIZE))
        log(name, null, size, bytes(ffi.buffer(cfg)) if cfg != ffi.NULL else None)
        status(lib.msm_domain_create(c, cfg, size, out("uint32_t *")))
    elif name == "shutdown":
        domid, reason = draw(U32), draw(U32)
        log(name, null, domid, reason)
        status(lib.msm_domain_shutdown(c, domid, reason))
    elif name == "get":
        domid = draw(U32)
        size = draw(st.one_of(st.just(ffi.sizeof("msm_domain_info")), SIZE))
        log(name, null, domid, size)
        status(lib.msm_domain_get(c, domid, out("msm_domain_info *"), size))
    elif name == "list":
        cap = draw(st.integers(0, 8))
        o = ffi.new("msm_domain_info[]", cap) if cap and draw(st.integers(0, 9)) else ffi.NULL
        size = draw(st.one_of(st.just(ffi.sizeof("msm_domain_info")), SIZE))
        log(name, null, cap, size)
        status(lib.msm_domain_list(c, o, size, cap, out("uint32_t *")))
    elif name in ("write", "read"):
        domid = draw(st.one_of(st.sampled_from([0, 1, 2]), U32))
        length = draw(st.one_of(st.sampled_from([0, 1, 4096, 4097]), st.integers(0, 1 << 16)))
        offset = draw(
            st.one_of(st.sampled_from([0, 4095, 2 * 2**20 - 1, 2 * 2**20, 2**64 - 1]), U64)
        )
        b = ffi.new("char[]", max(length, 1)) if draw(st.integers(0, 9)) else ffi.NULL
        log(name, null, domid, offset, length, b == ffi.NULL)
        fn = lib.msm_domain_write if name == "write" else lib.msm_domain_read
        status(fn(c, domid, offset, b, length))
    elif name == "misbehave":
        args = (c, draw(U32), draw(U32), draw(U32))
        log(name, null, args[1:])
        status(lib.msm_sim_set_misbehaviour(*args))
    elif name == "run":
        dur = draw(st.one_of(st.integers(0, 3_000_000), st.integers(60 * 10**9 + 1, 2**64 - 1)))
        size = draw(st.one_of(st.just(ffi.sizeof("msm_run_counts")), SIZE))
        log(name, null, dur, size)
        status(lib.msm_sim_run(c, dur, out("msm_run_counts *"), size))
    elif name == "names":
        n = draw(st.one_of(U32, st.integers(-(2**31), 2**31 - 1)))
        log(name, n)
        assert ffi.string(lib.msm_status_name(n & 0x7FFFFFFF if n > 0x7FFFFFFF else n))
        lib.msm_hypercall_has_subops(n & 0xFFFFFFFF)
        lib.msm_hypercall_name(n & 0xFFFFFFFF)
        ffi.string(lib.msm_last_error(ffi.NULL))
        ffi.string(lib.msm_last_error(c))
    elif name == "config_default":
        size = draw(st.one_of(st.just(ffi.sizeof("msm_sim_config")), SIZE))
        log(name, size)
        status(lib.msm_sim_config_default(out("msm_sim_config *"), size))
    elif name == "open_sim":
        cfg = buf("msm_sim_config")
        if cfg != ffi.NULL and draw(st.booleans()):
            # Mostly-valid configs with one hostile field open for real.
            lib.msm_sim_config_default(cfg, ffi.sizeof("msm_sim_config"))
            field = draw(
                st.sampled_from(
                    ["host_mem_kb", "host_cpus", "ring_capacity", "dom0_mem_kb", "seed"]
                )
            )
            value = draw(
                st.sampled_from(
                    [0, 1, 15, 16, 2048, 8192, 1 << 22, 1 << 23, 1 << 30, (1 << 30) + 2048]
                )
            )
            setattr(cfg, field, value)
        size = draw(st.one_of(st.just(ffi.sizeof("msm_sim_config")), SIZE))
        pp = out("msm_ctx **")
        log(name, size, bytes(ffi.buffer(cfg)) if cfg != ffi.NULL else None)
        rc = lib.msm_open_sim(cfg, size, pp)
        status(rc)
        if rc == 0:
            lib.msm_close(pp[0])
    elif name == "open_xen":
        path = draw(st.sampled_from([b"/nonexistent/privcmd", b"", b"/dev/null", None]))
        pp = out("msm_ctx **")
        log(name, path)
        rc = lib.msm_open_xen(ffi.NULL if path is None else path, ffi.NULL, ffi.NULL, pp)
        status(rc)
        if rc == 0:
            lib.msm_close(pp[0])
    lib.msm_close(ffi.NULL)


@settings(max_examples=700, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(raw_calls(), min_size=1, max_size=12))
def fuzz_raw(calls: list[tuple[str, tuple[Any, ...]]]) -> None:
    with ctx_with_state() as msm:
        for name, (data,) in calls:
            run_raw(msm.ctx, name, data)


TYPED = [
    "check_hypercall",
    "check_channel",
    "pause",
    "unpause",
    "reboot",
    "destroy",
    "reset_violations",
    "assign_device",
    "release_device",
    "domain",
    "shutdown",
    "set_misbehaviour",
    "drain_violations",
    "read_memory",
    "write_memory",
    "run",
]
ANY_INT = st.one_of(U32, st.integers(-(2**70), 2**70), st.sampled_from([-1, 2**32, 2**64]))


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(TYPED), st.lists(ANY_INT, min_size=4, max_size=4)), max_size=10
    )
)
def fuzz_typed(ops: list[tuple[str, list[int]]]) -> None:
    with ctx_with_state() as msm:
        for name, ints in ops:
            a, b, c, d = ints
            log("typed", name, ints)
            args: tuple[Any, ...] = {
                "check_hypercall": (a, b, c, d),
                "check_channel": (a, b, c, d),
                "assign_device": (a, b),
                "release_device": (a, b),
                "shutdown": (a, b),
                "set_misbehaviour": (a, b, c),
                "drain_violations": (a % 5000 if a >= 0 else a,),
                "read_memory": (a, b, c % 70000 if c >= 0 else c),
                "write_memory": (a, b, b"x" * (c % 5000 if c >= 0 else 1)),
                "run": (a % 2_000_000 if a >= 0 else a,),
            }.get(name, (a,))
            with contextlib.suppress(MsmError):
                getattr(msm, name)(*args)


def main() -> int:
    faulthandler.enable()
    fuzz_raw()
    fuzz_typed()
    print(f"fuzz ok: {CALLS} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
