"""``Msm``: one open MSM context (sim or xen backend) and its ``Transaction``."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

from xps.msm._calls import CallCount, CallCounter, call_counts_from_packed
from xps.msm._convert import (
    C_TYPES,
    VIOLATION_RECORD,
    config_to_c,
    domain_info_from_c,
    info_from_c,
    object_from_c,
    object_to_c,
    run_counts_from_c,
    violations_from_packed,
)
from xps.msm._enums import (
    ChannelKind,
    Decision,
    Misbehaviour,
    ObjType,
    Rule,
    ShutdownReason,
    Status,
)
from xps.msm._errors import (
    DOMID_INVALID,
    CommitError,
    CommitNames,
    HypercallFailed,
    InvalidArgument,
    MsmError,
    NoXen,
    WrongState,
)
from xps.msm._lib import check, ffi, lib
from xps.msm._objects import (
    ConflictSet,
    DomainConfig,
    HypercallProfile,
    PolicyObject,
    SecLabel,
    Tag,
    objtype_of,
)
from xps.msm._records import DomainInfo, Info, RunCounts, Violation
from xps.msm._validate import U64_MAX, a_uuid, member, uint, uuid_or_none

__all__ = ["IoctlFn", "Msm", "Transaction"]

IoctlFn = Callable[[int, int, int], int]
"""An injected privcmd ioctl: ``(fd, request, arg_address) -> result`` (``-errno`` on error)."""

DRAIN_BATCH = 4096
_NAMED = (HypercallProfile, Tag, ConflictSet, SecLabel)
_DEC = {int(d): d for d in Decision}


class Transaction:
    """The open policy transaction of an :class:`Msm` context.

    Use as a context manager: leaving the block normally commits (if still open), leaving
    it with an exception aborts. ``commit`` may also be called explicitly; after a
    :class:`CommitRefused` the transaction stays open to be fixed or aborted.
    """

    def __init__(
        self,
        msm: Msm,
        *,
        from_active: bool = True,
        names: Mapping[uuid.UUID, str] | None = None,
    ) -> None:
        """Wraps the context's open transaction.

        Args:
            msm: The context whose transaction this is.
            from_active: Whether it began from the active policy (names of objects not
                staged here are then looked up there when a commit is refused).
            names: Names the staged objects do not carry, e.g. domains by UUID, used to
                name the objects of a :class:`CommitRefused`.
        """
        self._msm = msm
        self.open = True
        self.generation: int | None = None
        self._from_active = from_active
        self._names: dict[uuid.UUID, str] = dict(names or {})
        self._staged: dict[uuid.UUID, str] = {}
        self._deleted: set[uuid.UUID] = set()

    def put(self, obj: PolicyObject) -> None:
        """Stages one object, replacing a staged object with the same key."""
        objtype_of(obj)  # refuses anything that is not a policy object
        objtype, c = object_to_c(obj)
        m = self._msm
        check(
            lib.msm_txn_put(m.ctx, objtype, c, ffi.sizeof(C_TYPES[objtype])),
            m.ctx,
            f"put {objtype.name.lower()}",
        )
        if isinstance(obj, _NAMED):
            self._staged[obj.id] = obj.name

    def delete(self, objtype: ObjType, key: uuid.UUID | int) -> None:
        """Deletes a staged object by key: its UUID (a binding's domain UUID) or a BDF."""
        objtype = member("objtype", ObjType, objtype)
        m = self._msm
        if objtype is ObjType.DEVICE:
            rc = lib.msm_txn_delete(m.ctx, objtype, ffi.NULL, uint("bdf", key))
        else:
            cid = ffi.new("msm_uuid *")
            ffi.memmove(cid.b, a_uuid("key", key).bytes, 16)
            rc = lib.msm_txn_delete(m.ctx, objtype, cid, 0)
        check(rc, m.ctx, f"delete {objtype.name.lower()}")
        if isinstance(key, uuid.UUID) and objtype is not ObjType.BINDING:
            self._staged.pop(key, None)
            self._deleted.add(key)

    def name_objects(self, names: Mapping[uuid.UUID, str]) -> None:
        """Adds names the staged objects do not carry (domains by UUID) for refusals."""
        self._names.update(names)

    def commit(self) -> int:
        """Validates and swaps in the staged policy.

        Returns:
            The new policy generation.

        Raises:
            CommitRefused: Validation failed; nothing changed, the transaction stays open.
        """
        m = self._msm
        err = ffi.new("msm_commit_error *")
        rc = lib.msm_txn_commit(m.ctx, err, ffi.sizeof("msm_commit_error"))
        if rc == Status.EVALIDATE:
            check(rc, m.ctx, "commit", _commit_error(err), self._commit_names)
        check(rc, m.ctx, "commit")
        self.open = False
        self.generation = m.info().generation
        return self.generation

    def _commit_names(self) -> CommitNames:
        """Names for a refused commit, asked only when one is refused.

        Staged objects win over the active policy, which wins over the caller's names
        and the live domains.
        """
        m = self._msm
        objects: dict[uuid.UUID, str] = {}
        domids: dict[int, str] = {}
        with contextlib.suppress(MsmError):
            for d in m.domains():
                domids[d.domid] = d.name
                if d.name:
                    objects[d.uuid] = d.name
        objects.update(self._names)
        if self._from_active:
            with contextlib.suppress(MsmError):
                for objtype in (ObjType.PROFILE, ObjType.TAG, ObjType.CONFLICT, ObjType.SECLABEL):
                    for obj in m.policy(objtype):
                        if isinstance(obj, _NAMED) and obj.id not in self._deleted:
                            objects[obj.id] = obj.name
        objects.update(self._staged)
        return CommitNames(objects, domids)

    def abort(self) -> None:
        """Drops the staged policy; the active one stays in force."""
        m = self._msm
        check(lib.msm_txn_abort(m.ctx), m.ctx, "abort")
        self.open = False

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.open:
            return
        if exc_type is not None:
            # The original exception is the one worth reporting.
            with contextlib.suppress(MsmError):
                self.abort()
            return
        try:
            self.commit()
        except BaseException:
            self.abort()
            raise


def _commit_error(err: Any) -> CommitError:
    objtype = int(err.type)
    domid = int(err.domid)
    rule = int(err.rule)
    return CommitError(
        rule=Rule(rule) if rule in Rule._value2member_map_ else rule,
        objtype=ObjType(objtype) if objtype in ObjType._value2member_map_ else None,
        id=uuid_or_none(bytes(ffi.buffer(err.id.b))),
        bdf=int(err.bdf),
        domid=None if domid == DOMID_INVALID else domid,
        other=uuid_or_none(bytes(ffi.buffer(err.other.b))),
    )


class Msm:
    """An open MSM context. Not thread-safe: one thread drives it at a time.

    Open with :meth:`open_sim` or :meth:`open_xen`; close with :meth:`close` or a ``with``
    block (the C context is also freed when the object is garbage collected).
    """

    def __init__(self, ctx: Any, keepalive: object = None) -> None:
        self._ctx: Any = ffi.gc(ctx, lib.msm_close)
        self._keepalive = keepalive  # the ioctl callback must outlive the context
        self._decision = ffi.new("uint32_t *")
        self._drain_buf: Any = None
        self._dropped = ffi.new("uint64_t *")
        self._n = ffi.new("uint32_t *")
        self._calls = CallCounter()

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def open_sim(
        cls,
        seed: int = 1,
        host_mem_kb: int = 16 * 1024 * 1024,
        host_cpus: int = 8,
        ring_capacity: int = 65536,
        dom0_mem_kb: int = 1024 * 1024,
    ) -> Msm:
        """Opens a simulated hypervisor: boot policy (generation 0) and dom0 running."""
        cfg = ffi.new("msm_sim_config *")
        check(lib.msm_sim_config_default(cfg, ffi.sizeof("msm_sim_config")), None, "defaults")
        cfg.seed = uint("seed", seed, U64_MAX)
        cfg.host_mem_kb = uint("host_mem_kb", host_mem_kb, U64_MAX)
        cfg.host_cpus = uint("host_cpus", host_cpus)
        cfg.ring_capacity = uint("ring_capacity", ring_capacity)
        cfg.dom0_mem_kb = uint("dom0_mem_kb", dom0_mem_kb, U64_MAX)
        out = ffi.new("msm_ctx **")
        check(lib.msm_open_sim(cfg, ffi.sizeof("msm_sim_config"), out), None, "open sim")
        return cls(out[0])

    @classmethod
    def open_xen(
        cls, privcmd_path: str | os.PathLike[str] | None = None, ioctl: IoctlFn | None = None
    ) -> Msm:
        """Opens the xen backend (``/dev/xen/privcmd``, falling back to ``/proc/xen/privcmd``).

        Args:
            privcmd_path: Device to open instead of the defaults.
            ioctl: Injected ioctl for tests; then no device is opened (fd -1 is passed).

        Raises:
            NoXen: No privcmd device (not a Xen dom0); the message names the path(s).
            NoMsm: The hypervisor has no MSM module.
            VersionMismatch: The hypervisor's MSM interface major differs.
        """
        path = ffi.NULL
        shown = "/dev/xen/privcmd or /proc/xen/privcmd"
        if privcmd_path is not None:
            raw = os.fsencode(privcmd_path)
            if b"\0" in raw:
                raise InvalidArgument("privcmd path contains NUL")
            path = ffi.new("char[]", raw)
            shown = os.fsdecode(raw)
        failures: list[BaseException] = []
        callback: Any = None
        if ioctl is not None:
            callback = _ioctl_callback(ioctl, failures)
        out = ffi.new("msm_ctx **")
        rc = lib.msm_open_xen(path, callback if callback is not None else ffi.NULL, ffi.NULL, out)
        if failures:
            if rc == 0:
                lib.msm_close(out[0])
            raise HypercallFailed("injected ioctl raised", status=Status.EIO) from failures[0]
        try:
            check(rc, None, "open xen")
        except NoXen as exc:
            raise NoXen(
                f"no Xen privcmd device at {shown}: not running in a Xen dom0 ({exc.detail})",
                status=exc.status,
                detail=exc.detail,
            ) from None
        return cls(out[0], callback)

    @property
    def ctx(self) -> Any:
        """The raw ``msm_ctx *`` (for :mod:`xps.msm` internals; never pass it around)."""
        if self._ctx is None:
            raise WrongState("the MSM context is closed", status=Status.ESTATE)
        return self._ctx

    def close(self) -> None:
        """Frees the C context now (idempotent)."""
        if self._ctx is not None:
            ffi.release(self._ctx)
            self._ctx = None

    def __enter__(self) -> Msm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._ctx is None

    def info(self) -> Info:
        """Context state and counters."""
        c = ffi.new("msm_info *")
        check(lib.msm_get_info(self.ctx, c, ffi.sizeof("msm_info")), self.ctx, "info")
        return info_from_c(c)

    # --------------------------------------------------------------- policy

    def transaction(self, empty: bool = False) -> Transaction:
        """Opens the context's one transaction, from the active policy or from empty.

        Raises:
            Busy: A transaction is already open.
        """
        check(lib.msm_txn_begin(self.ctx, 1 if empty else 0), self.ctx, "begin")
        return Transaction(self, from_active=not empty)

    def apply(
        self,
        objects: Iterable[PolicyObject],
        empty: bool = True,
        *,
        names: Mapping[uuid.UUID, str] | None = None,
    ) -> int:
        """Stages ``objects`` in one transaction and commits it.

        Args:
            objects: The policy objects to stage.
            empty: Begin from an empty policy (else from the active one).
            names: Names the objects do not carry (domains by UUID), for the message
                of a :class:`CommitRefused`.

        Returns:
            The new generation. On any error the transaction is aborted and the error raised.
        """
        with self.transaction(empty=empty) as txn:
            if names:
                txn.name_objects(names)
            for obj in objects:
                txn.put(obj)
            return txn.commit()

    def policy(self, objtype: ObjType) -> list[PolicyObject]:
        """The active policy's objects of one type, sorted by key."""
        objtype = member("objtype", ObjType, objtype)
        ctype = C_TYPES[objtype]
        c = ffi.new(ctype + " *")
        size = ffi.sizeof(ctype)
        out: list[PolicyObject] = []
        while True:
            rc = lib.msm_policy_get(self.ctx, objtype, len(out), c, size)
            if rc == Status.ENOENT:
                return out
            check(rc, self.ctx, "policy get")
            out.append(object_from_c(objtype, c))

    # ---------------------------------------------------------- enforcement

    def check_hypercall(self, domid: int, nr: int, subop: int, now_ns: int) -> Decision:
        """Decides one hypercall of a running domain (see ``msm_check_hypercall``)."""
        check(
            lib.msm_check_hypercall(
                self.ctx, _u32(domid), _u32(nr), _u32(subop), _u64(now_ns), self._decision
            ),
            self.ctx,
            "check hypercall",
        )
        return _DEC[self._decision[0]]

    def check_channel(self, kind: ChannelKind, src: int, dst: int, now_ns: int) -> Decision:
        """Decides an inter-domain channel from ``src`` to ``dst``.

        Allowed only when the tag rule (dom0, one tag, or a SECURITY-role end outside
        no-communication sets) and the label rule (every end but dom0 has a profile that
        allows ``event_channel_op``, 32) both allow it: a domain whose profile lacks it
        (a quarantined one) can hold no channel at all. On the xen backend the
        hypervisor decides; one reporting an interface below 1.3 applies the tag rule
        only (see ``msm_check_channel`` in native/include/msm.h).
        """
        check(
            lib.msm_check_channel(
                self.ctx, _u32(kind), _u32(src), _u32(dst), _u64(now_ns), self._decision
            ),
            self.ctx,
            "check channel",
        )
        return _DEC[self._decision[0]]

    def drain_violations(self, max: int = DRAIN_BATCH) -> tuple[list[Violation], int]:
        """Moves up to ``max`` oldest records out of the ring.

        Returns:
            The records (FIFO) and how many records were dropped since the previous drain.
        """
        data, dropped = self.drain_violations_packed(max)
        return violations_from_packed(data), dropped

    def drain_violations_packed(self, max: int = DRAIN_BATCH) -> tuple[bytes, int]:
        """Like :meth:`drain_violations`, without building a :class:`Violation` per record.

        For consumers of high record rates (the XPS host): one copy of the drained
        records, to be decoded with ``VIOLATION_RECORD.iter_unpack``.

        Returns:
            The records (FIFO) as back-to-back ``VIOLATION_RECORD`` structs, and how many
            records were dropped since the previous drain.
        """
        uint("max", max)
        if self._drain_buf is None or len(self._drain_buf) < max:
            self._drain_buf = ffi.new("msm_violation[]", builtin_max(max, 1))
        check(
            lib.msm_ring_drain(
                self.ctx,
                self._drain_buf,
                VIOLATION_RECORD.size,
                max,
                self._n,
                self._dropped,
            ),
            self.ctx,
            "drain",
        )
        n = int(self._n[0])
        return ffi.buffer(self._drain_buf, n * VIOLATION_RECORD.size)[:], int(self._dropped[0])

    def drain_call_counts(self, max: int = DRAIN_BATCH) -> tuple[list[CallCount], int]:
        """Moves the allowed-call counts out (every live domain's current minute first).

        Returns:
            Up to ``max`` records (FIFO) and how many calls were lost to a full record
            ring since the previous drain.

        Raises:
            NotSupported: The backend keeps no counters (xen).
        """
        data, dropped = self.drain_call_counts_packed(max)
        return call_counts_from_packed(data), dropped

    def drain_call_counts_packed(self, max: int = DRAIN_BATCH) -> tuple[bytes, int]:
        """Like :meth:`drain_call_counts`, as packed ``CALL_COUNT_RECORD`` structs."""
        return self._calls.drain_packed(self.ctx, max)

    def reset_violations(self, domid: int) -> None:
        """Marks a domain's violations as addressed (count 0, ``stopped_by_msm`` cleared)."""
        check(lib.msm_domain_reset_violations(self.ctx, _u32(domid)), self.ctx, "reset violations")

    def assign_device(self, domid: int, bdf: int) -> None:
        """Assigns a PCI device to a live domain of the device's tag."""
        check(lib.msm_device_assign(self.ctx, _u32(domid), _u32(bdf)), self.ctx, "assign device")

    def release_device(self, domid: int, bdf: int) -> None:
        """Releases a PCI device from a domain."""
        check(lib.msm_device_release(self.ctx, _u32(domid), _u32(bdf)), self.ctx, "release device")

    # -------------------------------------------------------------- domains

    def create_domain(self, cfg: DomainConfig) -> int:
        """Creates and starts (or creates paused) a sim domain; returns its domid."""
        c = config_to_c(cfg)
        out = ffi.new("uint32_t *")
        check(
            lib.msm_domain_create(self.ctx, c, ffi.sizeof("msm_domain_config"), out),
            self.ctx,
            "create domain",
        )
        return int(out[0])

    def pause(self, domid: int) -> None:
        """Pauses a running domain."""
        check(lib.msm_domain_pause(self.ctx, _u32(domid)), self.ctx, "pause")

    def unpause(self, domid: int) -> None:
        """Unpauses a domain (``ViolationsPending`` while it is stopped by the module)."""
        check(lib.msm_domain_unpause(self.ctx, _u32(domid)), self.ctx, "unpause")

    def shutdown(self, domid: int, reason: ShutdownReason | int = ShutdownReason.POWEROFF) -> None:
        """Shuts a domain down; it keeps memory and Chinese Wall counts until destroyed."""
        check(lib.msm_domain_shutdown(self.ctx, _u32(domid), _u32(reason)), self.ctx, "shutdown")

    def reboot(self, domid: int) -> None:
        """Restarts a domain in place (same domid, memory scrubbed, violations kept)."""
        check(lib.msm_domain_reboot(self.ctx, _u32(domid)), self.ctx, "reboot")

    def destroy(self, domid: int) -> None:
        """Frees a domain: memory (scrubbed), devices and Chinese Wall counts."""
        check(lib.msm_domain_destroy(self.ctx, _u32(domid)), self.ctx, "destroy")

    def domain(self, domid: int) -> DomainInfo:
        """One live domain."""
        c = ffi.new("msm_domain_info *")
        check(
            lib.msm_domain_get(self.ctx, _u32(domid), c, ffi.sizeof("msm_domain_info")),
            self.ctx,
            "domain get",
        )
        return domain_info_from_c(c)

    def domains(self) -> list[DomainInfo]:
        """All live domains in domid order, dom0 included."""
        cap = 64
        while True:
            buf = ffi.new("msm_domain_info[]", cap)
            check(
                lib.msm_domain_list(self.ctx, buf, ffi.sizeof("msm_domain_info"), cap, self._n),
                self.ctx,
                "domain list",
            )
            n = int(self._n[0])
            if n <= cap:
                return [domain_info_from_c(buf[i]) for i in range(n)]
            cap = n

    def write_memory(self, domid: int, offset: int, data: bytes) -> None:
        """Writes guest memory of a sim domain (as the guest itself would)."""
        check(
            lib.msm_domain_write(self.ctx, _u32(domid), _u64(offset), bytes(data), len(data)),
            self.ctx,
            "write memory",
        )

    def read_memory(self, domid: int, offset: int, length: int) -> bytes:
        """Reads ``length`` bytes of guest memory of a sim domain."""
        length = uint("length", length, 1 << 40)
        buf = ffi.new("char[]", builtin_max(length, 1))
        check(
            lib.msm_domain_read(self.ctx, _u32(domid), _u64(offset), buf, length),
            self.ctx,
            "read memory",
        )
        return bytes(ffi.buffer(buf, length))

    # ------------------------------------------------------------- workload

    def set_misbehaviour(self, domid: int, kind: Misbehaviour, per_million: int) -> None:
        """Makes a sim domain misbehave ``per_million`` times per million hypercalls."""
        check(
            lib.msm_sim_set_misbehaviour(self.ctx, _u32(domid), _u32(kind), _u32(per_million)),
            self.ctx,
            "set misbehaviour",
        )

    def run(self, duration_ns: int) -> RunCounts:
        """Advances the simulated clock, driving every running domain's workload."""
        c = ffi.new("msm_run_counts *")
        check(
            lib.msm_sim_run(self.ctx, _u64(duration_ns), c, ffi.sizeof("msm_run_counts")),
            self.ctx,
            "run",
        )
        return run_counts_from_c(c)


builtin_max = max


def _u32(value: object) -> int:
    return uint("argument", value)


def _u64(value: object) -> int:
    return uint("argument", value, U64_MAX)


def _ioctl_callback(fn: IoctlFn, failures: list[BaseException]) -> Any:
    def call(fd: int, request: int, arg: Any, user: Any) -> int:
        return int(fn(fd, request, int(ffi.cast("uintptr_t", arg))))

    def onerror(exc_type: type[BaseException], exc: BaseException, tb: object) -> None:
        failures.append(exc)

    return ffi.callback("msm_ioctl_fn", call, error=-5, onerror=onerror)
