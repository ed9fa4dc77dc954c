"""Pure-Python reference model of the MSM semantics documented in ``native/include/msm.h``.

It mirrors the sim backend's observable behaviour (statuses in the documented order of
checks, policy tables, transactions and commit validation, the hypercall decision with the
1 ms window rule, channels, the violation ring, max-violations stop and reset, the sHype
Chinese Wall counters, domain lifecycle, domid allocation, device assignment) but not the
workload generator or guest memory contents. Errors are raised as :class:`ModelError`
carrying the ``msm_status``. Property tests drive it side by side with the C library.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from uuid import UUID

from xps.msm import (
    Backend,
    Binding,
    ChannelKind,
    CommitError,
    ConflictLevel,
    ConflictSet,
    Decision,
    Device,
    DomainConfig,
    DomainInfo,
    GuestOS,
    GuestType,
    HypercallProfile,
    Info,
    ObjType,
    PolicyObject,
    Role,
    Rule,
    RunState,
    SecLabel,
    Status,
    Tag,
    Violation,
    ViolationKind,
)

INTERFACE_VERSION = 0x00010003
EVTCHN_OP = 32  # event_channel_op: the label-level channel rule (interface 1.3)
NIL = UUID(int=0)
DOMID_MAX = 0x7FEF
DOMID_INVALID = 0xFFFFFFFF
MAX_DOMAINS = 1024
EXTENT_KB = 2048
U32_MAX = 0xFFFFFFFF
SUBOP_HYPERCALLS = frozenset({7, 12, 20, 24, 26, 27, 29, 30, 32, 33, 34, 35, 36, 41})
LIMITS = {
    ObjType.PROFILE: 1024,
    ObjType.TAG: 1024,
    ObjType.CONFLICT: 1024,
    ObjType.SECLABEL: 16384,
    ObjType.BINDING: 16384,
    ObjType.DEVICE: 4096,
}
_TYPE_OF = {
    HypercallProfile: ObjType.PROFILE,
    Tag: ObjType.TAG,
    ConflictSet: ObjType.CONFLICT,
    SecLabel: ObjType.SECLABEL,
    Binding: ObjType.BINDING,
    Device: ObjType.DEVICE,
}


class ModelError(Exception):
    """A non-zero ``msm_status`` from the model (``code`` as in :mod:`xps.msm`)."""

    def __init__(self, status: Status, commit_error: CommitError | None = None) -> None:
        super().__init__(status.code)
        self.status = status
        self.code = status.code
        self.commit_error = commit_error


def _fail(status: Status) -> ModelError:
    return ModelError(status)


def key_of(obj: PolicyObject) -> UUID | int:
    """The table key of a policy object: its uuid, a binding's domain, a device's bdf."""
    if isinstance(obj, Binding):
        return obj.domain
    if isinstance(obj, Device):
        return obj.bdf
    return obj.id


def _sort_key(key: UUID | int) -> bytes | int:
    # uuids sort by memcmp of their RFC 4122 bytes, devices by bdf.
    return key.bytes if isinstance(key, UUID) else key


Policy = dict[ObjType, dict[UUID | int, PolicyObject]]


def empty_policy() -> Policy:
    """A policy with every table empty."""
    return {t: {} for t in ObjType}


def sorted_objects(policy: Policy, objtype: ObjType) -> list[PolicyObject]:
    """The objects of one table in key order (what ``msm_policy_get`` enumerates)."""
    table = policy[objtype]
    return [table[k] for k in sorted(table, key=_sort_key)]


@dataclass(slots=True)
class Dom:
    """One live domain of the model."""

    domid: int
    uuid: UUID
    name: str
    state: RunState
    guest_type: int
    os: int
    vcpus: int
    max_vcpus: int
    maxmem_kb: int
    extents: int
    seclabel: UUID = NIL
    tag: UUID = NIL
    role: Role = Role.NONE
    profile: HypercallProfile | None = None
    max_rate: int = 0
    max_violations: int = 0
    stopped: bool = False
    violations: int = 0
    hypercalls: int = 0
    window: int = 0
    wcount: int = 0
    shutdown_reason: int = 0
    devices: set[int] = field(default_factory=set)


class RefMsm:
    """The reference model of one sim context (see the module docstring)."""

    def __init__(
        self,
        seed: int = 1,
        host_mem_kb: int = 16 * 1024 * 1024,
        host_cpus: int = 8,
        ring_capacity: int = 65536,
        dom0_mem_kb: int = 1024 * 1024,
    ) -> None:
        if (
            host_mem_kb % EXTENT_KB
            or host_mem_kb < 4 * EXTENT_KB
            or host_mem_kb > 1 << 30
            or not 1 <= host_cpus <= 1024
            or not 16 <= ring_capacity <= 1 << 22
            or ring_capacity & (ring_capacity - 1)
            or dom0_mem_kb == 0
            or dom0_mem_kb % EXTENT_KB
            or dom0_mem_kb >= host_mem_kb
        ):
            raise _fail(Status.ERANGE)
        self.seed = seed
        self.host_mem_kb = host_mem_kb
        self.host_cpus = host_cpus
        self.ring_capacity = ring_capacity
        self.dom0_mem_kb = dom0_mem_kb
        self.free_extents = (host_mem_kb - dom0_mem_kb) // EXTENT_KB
        self.active: Policy = empty_policy()
        self.staged: Policy | None = None
        self.generation = 0
        self.running: Counter[UUID] = Counter()
        self.aggregate: Counter[UUID] = Counter()
        dom0_vcpus = min(host_cpus, 128)
        self.doms: dict[int, Dom] = {
            0: Dom(
                0,
                NIL,
                "Domain-0",
                RunState.RUNNING,
                GuestType.PV,
                GuestOS.LINUX,
                dom0_vcpus,
                dom0_vcpus,
                dom0_mem_kb,
                dom0_mem_kb // EXTENT_KB,
            )
        }
        self.next_domid = 1
        self.assigned: dict[int, int] = {}  # bdf -> domid
        self.ring: deque[Violation] = deque()
        self.ring_dropped = 0
        self.dropped_since_drain = 0
        self.hc_checked = self.hc_denied = self.ch_checked = self.ch_denied = 0
        self.stopped_total = 0

    # ---------------------------------------------------------------- info

    def info(self) -> Info:
        """The model's ``msm_info`` (``pages_scrubbed`` is not modelled: always 0)."""
        a = self.active
        return Info(
            interface_version=INTERFACE_VERSION,
            backend=Backend.SIM,
            generation=self.generation,
            n_profiles=len(a[ObjType.PROFILE]),
            n_tags=len(a[ObjType.TAG]),
            n_conflicts=len(a[ObjType.CONFLICT]),
            n_seclabels=len(a[ObjType.SECLABEL]),
            n_bindings=len(a[ObjType.BINDING]),
            n_devices=len(a[ObjType.DEVICE]),
            n_domains=len(self.doms),
            host_cpus=self.host_cpus,
            host_mem_kb=self.host_mem_kb,
            free_mem_kb=self.free_extents * EXTENT_KB,
            now_ns=0,
            ring_capacity=self.ring_capacity,
            ring_used=len(self.ring),
            ring_dropped=self.ring_dropped,
            hypercalls_checked=self.hc_checked,
            hypercalls_denied=self.hc_denied,
            channels_checked=self.ch_checked,
            channels_denied=self.ch_denied,
            pages_scrubbed=0,
            txn_open=self.staged is not None,
        )

    # --------------------------------------------------------- transactions

    def txn_begin(self, empty: bool = False) -> None:
        """``msm_txn_begin``."""
        if self.staged is not None:
            raise _fail(Status.EBUSY)
        self.staged = empty_policy() if empty else {t: dict(v) for t, v in self.active.items()}

    def txn_put(self, obj: PolicyObject) -> None:
        """``msm_txn_put``: per-object checks first, then the open transaction, then room."""
        objtype = _TYPE_OF[type(obj)]
        _validate(obj)
        if self.staged is None:
            raise _fail(Status.ESTATE)
        table = self.staged[objtype]
        key = key_of(obj)
        if key not in table and len(table) >= LIMITS[objtype]:
            raise _fail(Status.ENOSPC)
        table[key] = obj

    def txn_delete(self, objtype: ObjType, key: UUID | int) -> None:
        """``msm_txn_delete``."""
        if self.staged is None:
            raise _fail(Status.ESTATE)
        if key not in self.staged[objtype]:
            raise _fail(Status.ENOENT)
        del self.staged[objtype][key]

    def txn_abort(self) -> None:
        """``msm_txn_abort``."""
        if self.staged is None:
            raise _fail(Status.ESTATE)
        self.staged = None

    def txn_commit(self) -> int:
        """``msm_txn_commit``: validate, re-admit, swap; returns the new generation."""
        if self.staged is None:
            raise _fail(Status.ESTATE)
        p = self.staged
        err = _resolve(p)
        if err is None:
            err, labels, running, aggregate = self._readmit(p)
        if err is not None:
            raise ModelError(Status.EVALIDATE, err)
        self.active = p
        self.staged = None
        self.running, self.aggregate = running, aggregate
        for dom in self.doms.values():
            if dom.domid != 0:
                self._apply_label(dom, labels[dom.domid])
        self.generation += 1
        return self.generation

    def _readmit(
        self, p: Policy
    ) -> tuple[CommitError | None, dict[int, SecLabel], Counter[UUID], Counter[UUID]]:
        running: Counter[UUID] = Counter()
        aggregate: Counter[UUID] = Counter()
        labels: dict[int, SecLabel] = {}
        admitted: list[UUID] = []
        for domid in sorted(self.doms):
            dom = self.doms[domid]
            if domid == 0:
                continue
            binding = p[ObjType.BINDING].get(dom.uuid)
            if binding is None:
                err = CommitError(Rule.RUNNING_UNLABELLED, None, dom.uuid, 0, domid, None)
                return err, labels, running, aggregate
            assert isinstance(binding, Binding)
            label = p[ObjType.SECLABEL][binding.seclabel]
            assert isinstance(label, SecLabel)
            if not _cw_admit(p, running, aggregate, label.tag):
                other = next(
                    (
                        t
                        for t in admitted
                        if t != label.tag and _share(p, t, label.tag, ConflictLevel.NO_CORESIDENCE)
                    ),
                    None,
                )
                err = CommitError(Rule.CONFLICT, None, dom.uuid, 0, domid, other)
                return err, labels, running, aggregate
            labels[domid] = label
            admitted.append(label.tag)
        for bdf in sorted(self.assigned):
            domid = self.assigned[bdf]
            dev = p[ObjType.DEVICE].get(bdf)
            if not isinstance(dev, Device) or dev.tag != labels[domid].tag:
                other = dev.tag if isinstance(dev, Device) else None
                err = CommitError(Rule.DEVICE_TAG, ObjType.DEVICE, None, bdf, domid, other)
                return err, labels, running, aggregate
        return None, labels, running, aggregate

    def _apply_label(self, dom: Dom, label: SecLabel) -> None:
        profile = self.active[ObjType.PROFILE][label.profile]
        assert isinstance(profile, HypercallProfile)
        dom.seclabel = label.id
        dom.tag = label.tag
        dom.role = label.role
        dom.profile = profile
        dom.max_rate = label.max_rate
        dom.max_violations = label.max_violations

    def policy(self, objtype: ObjType) -> list[PolicyObject]:
        """The active policy's objects of one type in key order."""
        return sorted_objects(self.active, objtype)

    # ---------------------------------------------------------- enforcement

    def _dom(self, domid: int) -> Dom:
        dom = self.doms.get(domid)
        if dom is None:
            raise _fail(Status.ENOENT)
        return dom

    def check_hypercall(self, domid: int, nr: int, subop: int, now_ns: int) -> Decision:
        """``msm_check_hypercall``."""
        dom = self.doms.get(domid)
        if dom is None:
            raise _fail(Status.ENOENT)
        if dom.state is not RunState.RUNNING:
            raise _fail(Status.ESTATE)
        if domid == 0:
            return Decision.ALLOW
        window = now_ns // 1_000_000
        if window > dom.window:
            # An earlier now_ns never moves the window back (clocks never run backwards).
            dom.window = window
            dom.wcount = 0
        dom.wcount += 1
        profile = dom.profile
        assert profile is not None
        if (
            nr >= 64
            or nr not in profile.hypercalls
            or (
                nr in SUBOP_HYPERCALLS and (subop >= 256 or subop not in profile.subops.get(nr, ()))
            )
        ):
            decision = Decision.DENY_PROFILE
        elif dom.wcount > dom.max_rate:
            decision = Decision.DENY_RATE
        else:
            decision = Decision.ALLOW
        dom.hypercalls += 1
        self.hc_checked += 1
        if decision is not Decision.ALLOW:
            self.hc_denied += 1
            kind = (
                ViolationKind.PROFILE if decision is Decision.DENY_PROFILE else ViolationKind.RATE
            )
            self._violation(dom, kind, nr, subop if nr in SUBOP_HYPERCALLS else 0, None, now_ns)
        return decision

    def _violation(
        self, dom: Dom, kind: ViolationKind, nr: int, subop: int, peer: int | None, now: int
    ) -> None:
        dom.violations += 1
        if len(self.ring) >= self.ring_capacity:
            self.ring_dropped += 1
            self.dropped_since_drain += 1
        else:
            self.ring.append(
                Violation(
                    now,
                    dom.domid,
                    kind,
                    dom.seclabel,
                    nr,
                    subop,
                    peer,
                    min(dom.violations, U32_MAX),
                )
            )
        if dom.max_violations and dom.violations >= dom.max_violations and not dom.stopped:
            dom.stopped = True
            dom.state = RunState.PAUSED
            self.stopped_total += 1

    def check_channel(self, kind: ChannelKind | int, src: int, dst: int, now_ns: int) -> Decision:
        """``msm_check_channel``."""
        if kind not in (ChannelKind.EVTCHN, ChannelKind.GRANT) or src == dst:
            raise _fail(Status.EINVAL)
        a = self._dom(src)
        b = self._dom(dst)
        if a.state is not RunState.RUNNING:
            raise _fail(Status.ESTATE)
        self.ch_checked += 1
        by_tag = (
            src == 0
            or dst == 0
            or a.tag == b.tag
            or (
                (a.role is Role.SECURITY or b.role is Role.SECURITY)
                and not _share(self.active, a.tag, b.tag, ConflictLevel.NO_COMMUNICATION)
            )
        )
        if by_tag and _may_hold_channel(src, a.profile) and _may_hold_channel(dst, b.profile):
            return Decision.ALLOW
        self.ch_denied += 1
        nr = 32 if kind == ChannelKind.EVTCHN else 20
        self._violation(a, ViolationKind.CHANNEL, nr, 0, dst, now_ns)
        return Decision.DENY_CHANNEL

    def drain_violations(self, max: int = 4096) -> tuple[list[Violation], int]:
        """``msm_ring_drain``: up to ``max`` oldest records and the drops since last drain."""
        out = [self.ring.popleft() for _ in range(min(max, len(self.ring)))]
        dropped, self.dropped_since_drain = self.dropped_since_drain, 0
        return out, dropped

    def reset_violations(self, domid: int) -> None:
        """``msm_domain_reset_violations``."""
        dom = self._dom(domid)
        dom.violations = 0
        dom.stopped = False

    def assign_device(self, domid: int, bdf: int) -> None:
        """``msm_device_assign``."""
        dom = self._dom(domid)
        dev = self.active[ObjType.DEVICE].get(bdf)
        if dev is None:
            raise _fail(Status.ENOENT)
        if bdf in self.assigned:
            raise _fail(Status.EBUSY)
        assert isinstance(dev, Device)
        if domid == 0 or dev.tag != dom.tag:
            raise _fail(Status.EDENIED)
        self.assigned[bdf] = domid

    def release_device(self, domid: int, bdf: int) -> None:
        """``msm_device_release``."""
        self._dom(domid)
        if self.assigned.get(bdf) != domid:
            raise _fail(Status.ENOENT)
        del self.assigned[bdf]

    # -------------------------------------------------------------- domains

    def create_domain(self, cfg: DomainConfig) -> int:
        """``msm_domain_create`` (argument checks, then state checks in header order)."""
        if cfg.uuid == NIL:
            raise _fail(Status.EINVAL)
        if cfg.mem_kb == 0 or cfg.maxmem_kb < cfg.mem_kb:
            raise _fail(Status.ERANGE)
        if not 1 <= cfg.max_vcpus <= 128 or not 1 <= cfg.vcpus <= cfg.max_vcpus:
            raise _fail(Status.ERANGE)
        if cfg.load_permille > 1000:
            raise _fail(Status.ERANGE)
        for domid in sorted(self.doms):
            if self.doms[domid].uuid == cfg.uuid or self.doms[domid].name == cfg.name:
                raise _fail(Status.EEXIST)
        binding = self.active[ObjType.BINDING].get(cfg.uuid)
        if binding is None:
            raise _fail(Status.ENOLABEL)
        assert isinstance(binding, Binding)
        label = self.active[ObjType.SECLABEL][binding.seclabel]
        assert isinstance(label, SecLabel)
        if self.aggregate[label.tag] > 0:
            raise _fail(Status.ECONFLICT)
        if len(self.doms) >= MAX_DOMAINS:
            raise _fail(Status.ENOSPC)
        extents = -(-cfg.mem_kb // EXTENT_KB)
        if extents > self.free_extents:
            raise _fail(Status.ENOSPC)
        self.free_extents -= extents
        _cw_admit(self.active, self.running, self.aggregate, label.tag)
        domid = self.next_domid
        while domid in self.doms:
            domid = 1 if domid >= DOMID_MAX else domid + 1
        self.next_domid = 1 if domid >= DOMID_MAX else domid + 1
        dom = Dom(
            domid,
            cfg.uuid,
            cfg.name,
            RunState.PAUSED if cfg.paused else RunState.RUNNING,
            cfg.guest_type,
            cfg.os,
            cfg.vcpus,
            cfg.max_vcpus,
            cfg.maxmem_kb,
            extents,
        )
        self._apply_label(dom, label)
        self.doms[domid] = dom
        return domid

    def _domu(self, domid: int) -> Dom:
        if domid == 0:
            raise _fail(Status.EINVAL)
        return self._dom(domid)

    def pause(self, domid: int) -> None:
        """``msm_domain_pause`` (pausing a paused domain is a no-op)."""
        dom = self._domu(domid)
        if dom.state is RunState.SHUTDOWN:
            raise _fail(Status.ESTATE)
        dom.state = RunState.PAUSED

    def unpause(self, domid: int) -> None:
        """``msm_domain_unpause`` (refused while stopped by the module)."""
        dom = self._domu(domid)
        if dom.state is RunState.SHUTDOWN:
            raise _fail(Status.ESTATE)
        if dom.stopped:
            raise _fail(Status.EVIOLATIONS)
        dom.state = RunState.RUNNING

    def shutdown(self, domid: int, reason: int = 0) -> None:
        """``msm_domain_shutdown``."""
        if reason > 5:
            raise _fail(Status.ERANGE)
        dom = self._domu(domid)
        if dom.state is RunState.SHUTDOWN:
            raise _fail(Status.ESTATE)
        dom.state = RunState.SHUTDOWN
        dom.shutdown_reason = reason

    def reboot(self, domid: int) -> None:
        """``msm_domain_reboot``: same domid, window reset, violations kept."""
        dom = self._domu(domid)
        if dom.stopped:
            raise _fail(Status.EVIOLATIONS)
        dom.window = dom.wcount = 0
        dom.shutdown_reason = 0
        dom.state = RunState.RUNNING

    def destroy(self, domid: int) -> None:
        """``msm_domain_destroy``: devices, Chinese Wall counts and memory are released."""
        dom = self._domu(domid)
        for bdf in [b for b, d in self.assigned.items() if d == domid]:
            del self.assigned[bdf]
        _cw_release(self.active, self.running, self.aggregate, dom.tag)
        self.free_extents += dom.extents
        del self.doms[domid]

    def domain(self, domid: int) -> DomainInfo:
        """``msm_domain_get`` (cpu_ns and created_ns are 0: the model has no clock)."""
        d = self._dom(domid)
        cur = d.extents * EXTENT_KB
        return DomainInfo(
            domid=d.domid,
            state=d.state,
            uuid=d.uuid,
            name=d.name,
            seclabel=d.seclabel,
            tag=d.tag,
            guest_type=d.guest_type,
            os=d.os,
            shutdown_reason=d.shutdown_reason,
            stopped_by_msm=d.stopped,
            cpu_ns=0,
            cur_mem_kb=cur,
            max_mem_kb=max(d.maxmem_kb, cur),
            vcpus_online=d.vcpus,
            max_vcpus=d.max_vcpus,
            violations=d.violations,
            hypercalls=d.hypercalls,
            created_ns=0,
        )

    def domains(self) -> list[DomainInfo]:
        """``msm_domain_list``: live domains in domid order."""
        return [self.domain(domid) for domid in sorted(self.doms)]


# ------------------------------------------------------------ pure helpers


def _validate(obj: PolicyObject) -> None:
    """The per-object checks of ``msm_txn_put`` the dataclasses leave to the module."""
    if isinstance(obj, Binding):
        if obj.domain == NIL:
            raise _fail(Status.EINVAL)
        return
    if isinstance(obj, Device):
        return
    if obj.id == NIL:
        raise _fail(Status.EINVAL)
    if isinstance(obj, ConflictSet):
        if not 2 <= len(obj.tags) <= 64:
            raise _fail(Status.ERANGE)
        for i, tag in enumerate(obj.tags):
            if tag == NIL or tag in obj.tags[:i]:
                raise _fail(Status.EINVAL)
    elif isinstance(obj, SecLabel) and not 1 <= obj.max_rate <= 65535:
        raise _fail(Status.ERANGE)


def _resolve(p: Policy) -> CommitError | None:
    """Reference and name checks of a staged policy, in the library's order."""
    for objtype in (ObjType.PROFILE, ObjType.TAG, ObjType.CONFLICT, ObjType.SECLABEL):
        err = _duplicate_names(p, objtype)
        if err is not None:
            return err
    tags = p[ObjType.TAG]
    for obj in sorted_objects(p, ObjType.CONFLICT):
        assert isinstance(obj, ConflictSet)
        for t in obj.tags:
            if t not in tags:
                return CommitError(Rule.DANGLING_TAG, ObjType.CONFLICT, obj.id, 0, None, _nz(t))
    for obj in sorted_objects(p, ObjType.SECLABEL):
        assert isinstance(obj, SecLabel)
        if obj.profile not in p[ObjType.PROFILE]:
            return CommitError(
                Rule.DANGLING_PROFILE, ObjType.SECLABEL, obj.id, 0, None, _nz(obj.profile)
            )
        if obj.tag not in tags:
            return CommitError(Rule.DANGLING_TAG, ObjType.SECLABEL, obj.id, 0, None, _nz(obj.tag))
    for obj in sorted_objects(p, ObjType.BINDING):
        assert isinstance(obj, Binding)
        if obj.seclabel not in p[ObjType.SECLABEL]:
            return CommitError(
                Rule.DANGLING_SECLABEL, ObjType.BINDING, obj.domain, 0, None, _nz(obj.seclabel)
            )
    for obj in sorted_objects(p, ObjType.DEVICE):
        assert isinstance(obj, Device)
        if obj.tag not in tags:
            return CommitError(Rule.DANGLING_TAG, ObjType.DEVICE, None, obj.bdf, None, _nz(obj.tag))
    return None


def _nz(u: UUID) -> UUID | None:
    return None if u == NIL else u


def _duplicate_names(p: Policy, objtype: ObjType) -> CommitError | None:
    # Among all name groups, the one whose second member comes first in key order; the
    # error names that second member and, as `other`, the group's first member.
    first_of: dict[str, HypercallProfile | Tag | ConflictSet | SecLabel] = {}
    for obj in sorted_objects(p, objtype):
        assert isinstance(obj, HypercallProfile | Tag | ConflictSet | SecLabel)
        if obj.name in first_of:
            other = first_of[obj.name]
            return CommitError(Rule.DUPLICATE_NAME, objtype, obj.id, 0, None, other.id)
        first_of[obj.name] = obj
    return None


def _may_hold_channel(domid: int, profile: HypercallProfile | None) -> bool:
    """The label-level channel rule for one end: dom0, or a profile with event_channel_op."""
    return domid == 0 or (profile is not None and EVTCHN_OP in profile.hypercalls)


def _sets(p: Policy, level: ConflictLevel) -> list[ConflictSet]:
    out = []
    for obj in sorted_objects(p, ObjType.CONFLICT):
        assert isinstance(obj, ConflictSet)
        if obj.level is level:
            out.append(obj)
    return out


def _share(p: Policy, a: UUID, b: UUID, level: ConflictLevel) -> bool:
    return any(a in s.tags and b in s.tags for s in _sets(p, level))


def _cw_admit(p: Policy, running: Counter[UUID], aggregate: Counter[UUID], tag: UUID) -> bool:
    """sHype chwall_domain_create for a label with the single type ``tag``."""
    if aggregate[tag] > 0:
        return False
    for s in _sets(p, ConflictLevel.NO_CORESIDENCE):
        if tag in s.tags:
            for other in s.tags:
                if other != tag:
                    aggregate[other] += 1
    running[tag] += 1
    return True


def _cw_release(p: Policy, running: Counter[UUID], aggregate: Counter[UUID], tag: UUID) -> None:
    for s in _sets(p, ConflictLevel.NO_CORESIDENCE):
        if tag in s.tags:
            for other in s.tags:
                if other != tag and aggregate[other] > 0:
                    aggregate[other] -= 1
    if running[tag] > 0:
        running[tag] -= 1


def random_uuid() -> UUID:
    """A fresh random UUID (helper for tests and benchmarks)."""
    return uuid.uuid4()


# ------------------------------------------------------------ evaluation mode

EV_HYPERCALL, EV_CHANNEL, EV_DEVICE, EV_START, EV_DESTROY = 1, 2, 3, 4, 5
(
    EVAL_ALLOW,
    EVAL_DENY_PROFILE,
    EVAL_DENY_RATE,
    EVAL_DENY_CHANNEL,
    EVAL_DENY_DEVICE,
    EVAL_DENY_UNLABELLED,
    EVAL_DENY_CONFLICT,
    EVAL_NOT_RUNNING,
) = range(8)


@dataclass(slots=True)
class _EvalDom:
    tag: UUID
    role: Role
    profile: HypercallProfile
    max_rate: int
    window: int = 0
    wcount: int = 0


class RefEval:
    """``msm_eval_*``: a recorded stream decided against a staged policy, apart from
    any context (see msm.h). Events are ``(ts_ns, kind, domid, a, b, uuid)`` tuples."""

    def __init__(self, objects: list[PolicyObject]) -> None:
        self.policy = empty_policy()
        for obj in objects:
            _validate(obj)
            self.policy[_TYPE_OF[type(obj)]][key_of(obj)] = obj
        err = _resolve(self.policy)
        if err is not None:
            raise ModelError(Status.EVALIDATE, err)
        self.running: Counter[UUID] = Counter()
        self.aggregate: Counter[UUID] = Counter()
        self.doms: dict[int, _EvalDom] = {}

    def _live(self, domid: int) -> bool:
        return domid == 0 or domid in self.doms

    def _destroy(self, domid: int) -> None:
        dom = self.doms.pop(domid)
        _cw_release(self.policy, self.running, self.aggregate, dom.tag)

    def run(self, events: list[tuple[int, int, int, int, int, UUID]]) -> list[int]:
        """Decides a batch; raises ``ModelError(EINVAL)`` before deciding a malformed one."""
        for _ts, kind, domid, a, b, _u in events:
            if not 1 <= kind <= 5 or domid > DOMID_MAX:
                raise _fail(Status.EINVAL)
            if kind in (EV_START, EV_DESTROY) and domid == 0:
                raise _fail(Status.EINVAL)
            if kind == EV_CHANNEL and (a not in (1, 2) or b > DOMID_MAX or b == domid):
                raise _fail(Status.EINVAL)
        return [self._decide(*e) for e in events]

    def _decide(self, ts: int, kind: int, domid: int, a: int, b: int, u: UUID) -> int:
        p = self.policy
        if kind == EV_HYPERCALL:
            if domid == 0:
                return EVAL_ALLOW
            dom = self.doms.get(domid)
            if dom is None:
                return EVAL_NOT_RUNNING
            window = ts // 1_000_000
            if window > dom.window:
                dom.window, dom.wcount = window, 0
            dom.wcount += 1
            prof = dom.profile
            if (
                a >= 64
                or a not in prof.hypercalls
                or (a in SUBOP_HYPERCALLS and (b >= 256 or b not in prof.subops.get(a, ())))
            ):
                return EVAL_DENY_PROFILE
            return EVAL_DENY_RATE if dom.wcount > dom.max_rate else EVAL_ALLOW
        if kind == EV_CHANNEL:
            if not self._live(domid) or not self._live(b):
                return EVAL_NOT_RUNNING
            x, y = self.doms.get(domid), self.doms.get(b)
            if x is None or y is None:  # one end is dom0: the tag rule allows it
                by_tag = True
            else:
                by_tag = x.tag == y.tag or (
                    (x.role is Role.SECURITY or y.role is Role.SECURITY)
                    and not _share(p, x.tag, y.tag, ConflictLevel.NO_COMMUNICATION)
                )
            ends = _may_hold_channel(domid, x.profile if x else None) and _may_hold_channel(
                b, y.profile if y else None
            )
            return EVAL_ALLOW if by_tag and ends else EVAL_DENY_CHANNEL
        if kind == EV_DEVICE:
            if not self._live(domid):
                return EVAL_NOT_RUNNING
            dev = p[ObjType.DEVICE].get(a)
            if domid == 0 or dev is None:
                return EVAL_DENY_DEVICE
            assert isinstance(dev, Device)
            return EVAL_ALLOW if dev.tag == self.doms[domid].tag else EVAL_DENY_DEVICE
        if kind == EV_START:
            if domid in self.doms:
                self._destroy(domid)
            binding = p[ObjType.BINDING].get(u)
            if binding is None:
                return EVAL_DENY_UNLABELLED
            assert isinstance(binding, Binding)
            label = p[ObjType.SECLABEL][binding.seclabel]
            assert isinstance(label, SecLabel)
            if not _cw_admit(p, self.running, self.aggregate, label.tag):
                return EVAL_DENY_CONFLICT
            profile = p[ObjType.PROFILE][label.profile]
            assert isinstance(profile, HypercallProfile)
            self.doms[domid] = _EvalDom(label.tag, label.role, profile, label.max_rate)
            return EVAL_ALLOW
        if domid not in self.doms:
            return EVAL_NOT_RUNNING
        self._destroy(domid)
        return EVAL_ALLOW
