"""Pure-Python model of the sim's workload generator (``msm_sim_run``, msm_workload.c).

It drives a :class:`~tests._support.msm_model.RefMsm` call by call, every hypercall through
``check_hypercall`` and every cross-tag channel through ``check_channel``: the semantics
the C loop must keep however it is optimised (its window step hoisted to the slice, its
counters and generator kept in registers, a branch-free profile test). Same generator
(splitmix64-seeded xoshiro256**), same mix tables, same draw order: per 1 ms slice, every
running domain in domid order draws once for its CPU charge, then a domU draws once per
call of its share (and a rate burst once per burst call).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tests._support.msm_model import ModelError, RefMsm, sorted_objects
from xps.msm import (
    Binding,
    ChannelKind,
    Decision,
    Device,
    DomainConfig,
    GuestOS,
    GuestType,
    Misbehaviour,
    ObjType,
    RunCounts,
    RunState,
)

M64 = (1 << 64) - 1
MIX_SIZE = 1024
MS = 1_000_000

# (nr, sub-op, weight) per mix, as in msm_workload.c.
_PV_LINUX = [
    (1, 0, 110), (14, 0, 100), (13, 0, 80), (23, 0, 70), (3, 0, 60), (15, 0, 40), (5, 0, 30),
    (25, 0, 20), (10, 0, 10), (17, 0, 8), (18, 0, 2), (26, 5, 50), (26, 6, 30), (26, 7, 30),
    (26, 0, 8), (26, 4, 8), (29, 0, 30), (29, 1, 40), (32, 4, 100), (32, 9, 15), (20, 0, 20),
    (20, 1, 20), (20, 5, 20), (12, 0, 4), (12, 1, 4), (12, 6, 4), (24, 8, 35), (24, 9, 5),
    (33, 12, 15), (30, 0, 1),
]  # fmt: skip
_PVH_LINUX = [
    (29, 0, 60), (29, 1, 100), (32, 4, 220), (32, 9, 30), (20, 0, 40), (20, 1, 40),
    (20, 5, 40), (12, 0, 10), (12, 1, 10), (12, 6, 10), (12, 7, 4), (24, 8, 140), (24, 9, 20),
    (24, 4, 10), (34, 0, 6), (34, 1, 20), (33, 12, 40), (17, 0, 10), (18, 0, 2),
]  # fmt: skip
_PVHVM_LINUX = [
    (29, 0, 60), (29, 1, 110), (32, 4, 220), (32, 9, 20), (20, 0, 50), (20, 1, 50),
    (20, 5, 40), (12, 0, 8), (12, 1, 8), (12, 7, 6), (24, 8, 150), (24, 9, 20), (24, 10, 2),
    (34, 0, 10), (34, 1, 30), (34, 10, 10), (33, 12, 20), (17, 0, 8),
]  # fmt: skip
_HVM_LINUX = [
    (34, 1, 80), (34, 0, 20), (34, 10, 60), (34, 5, 20), (12, 7, 20), (12, 3, 10),
    (29, 0, 120), (29, 1, 160), (32, 4, 150), (32, 9, 30), (24, 8, 150), (24, 4, 40),
    (20, 5, 30), (20, 6, 10), (17, 0, 10),
]  # fmt: skip
_HVM_WINDOWS = [
    (34, 1, 150), (34, 0, 40), (34, 10, 100), (12, 7, 40), (12, 3, 20), (29, 0, 150),
    (29, 1, 120), (32, 4, 80), (24, 8, 80), (24, 4, 30), (20, 5, 20), (20, 6, 10),
    (17, 0, 30),
]  # fmt: skip
_PVHVM_WINDOWS = [
    (34, 1, 80), (34, 0, 20), (34, 10, 60), (12, 7, 20), (12, 0, 5), (12, 1, 5),
    (29, 0, 100), (29, 1, 120), (32, 4, 200), (32, 9, 40), (20, 0, 60), (20, 1, 60),
    (20, 5, 60), (24, 8, 100), (17, 0, 20),
]  # fmt: skip
# Index (guest_type - 1) * 2 + (os - 1).
_MIXES = [
    _PV_LINUX, _PV_LINUX, _PVH_LINUX, _PVH_LINUX,
    _PVHVM_LINUX, _PVHVM_WINDOWS, _HVM_LINUX, _HVM_WINDOWS,
]  # fmt: skip
BASE_RATES = (10000, 10000, 5000, 5000, 4000, 2000, 3000, 1000)
BAD_CALLS = ((37, 0), (36, 1), (36, 2), (36, 3), (35, 1), (7, 1), (8, 0), (22, 0))
DOM0_LOAD_PERMILLE = 50


def _table(mix: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    total = sum(w for _, _, w in mix)
    out: list[tuple[int, int]] = []
    for nr, subop, weight in mix:
        out += [(nr, subop)] * (weight * MIX_SIZE // total)
    return (out + [mix[0][:2]] * MIX_SIZE)[:MIX_SIZE]  # leftovers: the first call


MIX_TABLES = [_table(m) for m in _MIXES]


def _rotl(x: int, k: int) -> int:
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    """xoshiro256** seeded by splitmix64 (``msm_rng_seed``/``msm_rng_next``)."""

    def __init__(self, seed: int) -> None:
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & M64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self) -> int:
        s = self.s
        r = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return r


@dataclass(frozen=True, slots=True)
class Adversary:
    """``msm_adversary``: events per million call slots of every running domU (channel,
    device, call, burst) and per million 1 ms slices (lifecycle); see msm.h."""

    channel: int = 0
    device: int = 0
    call: int = 0
    burst: int = 0
    lifecycle: int = 0

    def thresholds(self) -> tuple[int, int, int, int]:
        """The cumulative per-call thresholds scaled to 2^32, in msm.h's order."""
        out, cum = [], 0
        for pm in (self.channel, self.device, self.call, self.burst):
            cum += pm
            out.append((cum << 32) // 1_000_000)
        return (out[0], out[1], out[2], out[3])


_SOAK_KINDS = (
    (GuestType.PV, GuestOS.LINUX),
    (GuestType.PVH, GuestOS.LINUX),
    (GuestType.PVHVM, GuestOS.LINUX),
    (GuestType.PVHVM, GuestOS.WINDOWS),
    (GuestType.HVM, GuestOS.LINUX),
    (GuestType.HVM, GuestOS.WINDOWS),
)


def soak_domain_config(domain: UUID) -> DomainConfig:
    """``msm_soak_domain_config``: the config a soak start gives a bound domain."""
    b = domain.bytes
    gt, os_ = _SOAK_KINDS[b[15] % 6]
    return DomainConfig(domain, "soak-" + b[:8].hex(), gt, os_, 2048, 2048, 1 + b[14] % 8, 8, 1000)


@dataclass(slots=True)
class Load:
    """A domain's workload state beside the model's Dom (what msm_dom keeps for the sim)."""

    load_permille: int
    cpu_ns: int = 0
    rate_acc: int = 0
    burst_window: int = 0
    mis: tuple[int, int, int] = (0, 0, 0)
    mis_cum: tuple[int, int, int] = (0, 0, 0)


class RefWorkload:
    """``msm_sim_run`` and ``msm_sim_set_misbehaviour`` over a RefMsm, call by call."""

    def __init__(self, model: RefMsm) -> None:
        self.m = model
        self.rng = Rng(model.seed)
        self.now_ns = 0
        self.load: dict[int, Load] = {0: Load(DOM0_LOAD_PERMILLE)}
        self.by_dec = [0, 0, 0]
        self.channels = self.denied_channel = 0
        # The adversary of the current run (msm_sim_run_ex) and its counts.
        self.adv = (0, 0, 0, 0)
        self.lifecycle = 0
        self.devices = self.devices_denied = self.starts = self.starts_denied = 0
        self.destroys = 0

    def created(self, domid: int, load_permille: int) -> None:
        """Records the workload state of a domain the model just created."""
        self.load[domid] = Load(load_permille)

    def set_misbehaviour(self, domid: int, kind: Misbehaviour, per_million: int) -> None:
        ld = self.load[domid]
        mis = list(ld.mis)
        mis[kind - 1] = per_million
        ld.mis = (mis[0], mis[1], mis[2])
        cum, out = 0, []
        for pm in mis:
            cum += (pm << 32) // 1_000_000
            out.append(cum)
        ld.mis_cum = (out[0], out[1], out[2])

    def run(self, duration_ns: int, adversary: Adversary | None = None) -> RunCounts:
        """``msm_sim_run``, or ``msm_sim_run_ex`` with an adversary (its extra counts are
        left in ``devices``, ``devices_denied``, ``starts``, ``starts_denied``,
        ``destroys``)."""
        m = self.m
        hc0, stopped0, dropped0 = m.hc_checked, m.stopped_total, m.ring_dropped
        self.by_dec = [0, 0, 0]
        self.channels = self.denied_channel = 0
        adv = adversary or Adversary()
        self.adv = adv.thresholds()
        self.lifecycle = (adv.lifecycle << 32) // 1_000_000
        self.devices = self.devices_denied = self.starts = self.starts_denied = 0
        self.destroys = 0
        t, end = self.now_ns, self.now_ns + duration_ns
        while t < end:
            slice_end = min((t // MS + 1) * MS, end)
            length = slice_end - t
            for domid in sorted(m.doms):
                dom = m.doms[domid]
                if dom.state is not RunState.RUNNING:
                    continue
                self._account(domid, length)
                if domid != 0:
                    self._run_domain(domid, t, length)
            if self.lifecycle:
                r = self.rng.next()
                if (r >> 32) < self.lifecycle:
                    self._lifecycle(r)
            t = slice_end
        self.now_ns = end
        return RunCounts(
            hypercalls=m.hc_checked - hc0,
            allowed=self.by_dec[Decision.ALLOW],
            denied_profile=self.by_dec[Decision.DENY_PROFILE],
            denied_rate=self.by_dec[Decision.DENY_RATE],
            denied_channel=self.denied_channel,
            channels=self.channels,
            domains_stopped=m.stopped_total - stopped0,
            ring_dropped=m.ring_dropped - dropped0,
            elapsed_ns=duration_ns,
        )

    def _account(self, domid: int, length: int) -> None:
        dom, ld = self.m.doms[domid], self.load[domid]
        cap = length * dom.vcpus
        base = cap * ld.load_permille // 1000
        cpu = base * (980 + self.rng.next() % 41) // 1000
        ld.cpu_ns += min(cpu, cap)

    def _hypercall(self, domid: int, call: tuple[int, int], ts: int) -> None:
        self.by_dec[self.m.check_hypercall(domid, call[0], call[1], ts)] += 1

    def _run_domain(self, domid: int, t: int, length: int) -> None:
        dom, ld = self.m.doms[domid], self.load[domid]
        mi = (dom.guest_type - 1) * 2 + (dom.os - 1)
        rate = BASE_RATES[mi] * dom.vcpus * ld.load_permille // 1000
        ld.rate_acc += rate * length
        n, ld.rate_acc = divmod(ld.rate_acc, 1_000_000_000)
        if not n:
            return
        mix, step, ts = MIX_TABLES[mi], length // n, t
        for _ in range(n):
            r = self.rng.next()
            if (r >> 32) < ld.mis_cum[2] + self.adv[3]:
                self._misbehave(domid, mix, r, ts)
            else:
                self._hypercall(domid, mix[r & (MIX_SIZE - 1)], ts)
            if dom.state is not RunState.RUNNING:
                break
            ts += step

    def _misbehave(self, domid: int, mix: list[tuple[int, int]], r: int, ts: int) -> None:
        m, dom, ld = self.m, self.m.doms[domid], self.load[domid]
        u = r >> 32
        if u < ld.mis_cum[0]:
            self._hypercall(domid, BAD_CALLS[(r >> 10) & 7], ts)
            return
        if u < ld.mis_cum[1]:
            self._burst(domid, mix, r, ts)
            return
        if u >= ld.mis_cum[2]:
            self._adversary(domid, mix, r, u - ld.mis_cum[2], ts)
            return
        others = [o for o in sorted(m.doms) if o != 0 and m.doms[o].tag != dom.tag]
        if not others:
            self._hypercall(domid, mix[r & (MIX_SIZE - 1)], ts)
            return
        self._channel(domid, others[(r & 0xFFFFFF) % len(others)], r, ts)

    def _burst(self, domid: int, mix: list[tuple[int, int]], r: int, ts: int) -> None:
        dom, ld = self.m.doms[domid], self.load[domid]
        w = ts // MS + 1
        if ld.burst_window == w:  # one burst per domain per window
            self._hypercall(domid, mix[r & (MIX_SIZE - 1)], ts)
            return
        ld.burst_window = w
        for _ in range(dom.max_rate * 2):
            if dom.state is not RunState.RUNNING:
                break
            self._hypercall(domid, mix[self.rng.next() & (MIX_SIZE - 1)], ts)

    def _channel(self, domid: int, peer: int, r: int, ts: int) -> None:
        kind = ChannelKind.GRANT if (r >> 24) & 1 else ChannelKind.EVTCHN
        self.channels += 1
        if self.m.check_channel(kind, domid, peer, ts) is Decision.DENY_CHANNEL:
            self.denied_channel += 1

    def _adversary(self, domid: int, mix: list[tuple[int, int]], r: int, a: int, ts: int) -> None:
        m = self.m
        if a < self.adv[0]:
            others = [o for o in sorted(m.doms) if o != domid]
            if not others:
                self._hypercall(domid, mix[r & (MIX_SIZE - 1)], ts)
                return
            self._channel(domid, others[(r & 0xFFFFFF) % len(others)], r, ts)
            return
        if a < self.adv[1]:
            devs = sorted_objects(m.active, ObjType.DEVICE)
            if not devs:
                self._hypercall(domid, mix[r & (MIX_SIZE - 1)], ts)
                return
            dev = devs[(r & 0xFFFFFF) % len(devs)]
            assert isinstance(dev, Device)
            self.devices += 1
            try:
                m.assign_device(domid, dev.bdf)
            except ModelError:
                self.devices_denied += 1
                return
            m.release_device(domid, dev.bdf)
            return
        if a < self.adv[2]:
            self._hypercall(domid, ((r & 0xFFFF) % 72, ((r >> 16) & 0xFFFF) % 264), ts)
            return
        self._burst(domid, mix, r, ts)

    def _lifecycle(self, r: int) -> None:
        """The toolstack's move after a slice: destroy a domU or start a bound domain."""
        m = self.m
        domus = [d for d in sorted(m.doms) if d != 0]
        if (r >> 16) & 3 == 0 and domus:
            domid = domus[(r & 0xFFFF) % len(domus)]
            m.destroy(domid)
            del self.load[domid]
            self.destroys += 1
            return
        live = {d.uuid for d in m.doms.values()}
        free = [
            b
            for b in sorted_objects(m.active, ObjType.BINDING)
            if isinstance(b, Binding) and b.domain not in live
        ]
        if not free:
            return
        cfg = soak_domain_config(free[(r & 0xFFFF) % len(free)].domain)
        self.starts += 1
        try:
            domid = m.create_domain(cfg)
        except ModelError:
            self.starts_denied += 1
            return
        self.created(domid, cfg.load_permille)
