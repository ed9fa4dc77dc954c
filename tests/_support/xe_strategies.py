"""Hypothesis strategies: random *consistent* enterprise policies (shared by the XE tests)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from hypothesis import strategies as st

from enterprise_store.model import (
    Assignment,
    ConflictSet,
    CpuFacts,
    DhcpServer,
    Enclave,
    EnterprisePolicy,
    Host,
    HostSwitch,
    NetworkRestrictions,
    SecLabel,
    Vm,
)
from xps.policy import ConflictLevel, GuestOS, GuestType, HypercallProfile, predefined_profiles

__all__ = ["enterprises", "names"]

# Valid XE names: 1..63 bytes, no quotes/backslashes/control characters, no edge spaces.
_NAME_CHARS = st.characters(categories=("L", "N"), include_characters="-_. +", max_codepoint=0x2FFF)
names = st.text(_NAME_CHARS, min_size=1, max_size=16).filter(lambda s: s == s.strip())

_FLAGS = ("fpu", "sse2", "ssse3", "sse4_2", "aes", "avx", "avx2", "vmx", "x2apic", "rdrand")
_PROFILES = predefined_profiles()


class _Ids:
    """Distinct UUIDs within one drawn policy (hypothesis may repeat st.uuids())."""

    def __init__(self, salt: int) -> None:
        self.salt = salt
        self.n = 0

    def __call__(self) -> uuid.UUID:
        self.n += 1
        return uuid.UUID(int=(self.salt << 64) | self.n, version=4)


def _label(prefix: str, draw: Any) -> str:
    # A unique prefix keeps names unique per type whatever hypothesis draws.
    text = f"{prefix}-{draw(names)}"
    while len(text.encode()) > 60:
        text = text[:-1]
    return text.strip()


def _rgb(draw: Any) -> tuple[int, int, int]:
    return draw(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))


def _host(draw: Any, new_id: _Ids, index: int) -> Host:
    vendor = draw(st.sampled_from(["", "GenuineIntel", "AuthenticAMD"]))
    cpu = (
        CpuFacts(
            vendor,
            draw(st.integers(0, 25)),
            draw(st.integers(0, 255)),
            draw(st.integers(0, 15)),
            frozenset(draw(st.lists(st.sampled_from(_FLAGS), max_size=6))),
        )
        if vendor
        else CpuFacts()
    )
    return Host(
        id=new_id(),
        name=_label(f"H{index}", draw),
        address=draw(
            st.sampled_from(
                [f"10.0.{index}.{index + 1}", f"host{index}.example.net", f"fd00::{index + 1}"]
            )
        ),
        port=draw(st.integers(1, 65535)),
        order=index * 10,
        color=_rgb(draw),
        cpu=cpu,
        shared_storage=tuple(
            draw(st.lists(st.sampled_from(["nfs-a", "nfs-b", "iscsi"]), max_size=2))
        ),
    )


def _boot(draw: Any, kind: GuestType) -> dict[str, Any]:
    if kind is GuestType.PV:
        if draw(st.booleans()):
            return {
                "kernel": "/usr/local/lib/xen/boot/pv-grub-x86_64.gz",
                "cmdline": "(hd0,0)/menu.lst",
            }
        return {"bootloader": "pygrub"}
    if kind is GuestType.PVH:
        return {"kernel": "/boot/vmlinuz", "ramdisk": draw(st.sampled_from([None, "/boot/initrd"]))}
    return {}


@st.composite
def enterprises(draw: Any, max_vms: int = 8) -> EnterprisePolicy:
    """A random enterprise policy that the checker accepts without findings."""
    new_id = _Ids(draw(st.integers(0, 2**63)))
    hosts = [_host(draw, new_id, i) for i in range(draw(st.integers(1, 4)))]
    enclaves = [
        Enclave(new_id(), _label(f"E{i}", draw), _rgb(draw)) for i in range(draw(st.integers(1, 4)))
    ]
    spans = {
        e.id: draw(
            st.lists(
                st.sampled_from(hosts), min_size=1, max_size=len(hosts), unique_by=lambda h: h.id
            )
        )
        for e in enclaves
    }
    hosts = [
        dataclasses.replace(
            h,
            switches=tuple(
                HostSwitch(f"sw{j}", e.id)
                for j, e in enumerate(enclaves)
                if h in spans[e.id] and draw(st.booleans())
            ),
        )
        for h in hosts
    ]
    by_id = {h.id: h for h in hosts}
    spans = {e: [by_id[h.id] for h in hs] for e, hs in spans.items()}
    profiles: list[HypercallProfile] = list(_PROFILES)
    labels: list[SecLabel] = []
    for e in enclaves:
        for _ in range(draw(st.integers(0, 2))):
            profile = draw(st.sampled_from(profiles))
            labels.append(
                SecLabel(
                    new_id(),
                    _label(f"L{len(labels)}", draw),
                    e.id,
                    profile.id,
                    draw(st.integers(1, 65535)),
                    draw(st.integers(0, 2**32 - 1)),
                )
            )
    vms: list[Vm] = []
    labelled = list(labels)
    for i in range(draw(st.integers(0, max_vms)) if labelled else 0):
        label = draw(st.sampled_from(labelled))
        family = next(p.guest_family for p in profiles if p.id == label.profile)
        kind = draw(st.sampled_from(sorted(family or set(GuestType))))
        memory = draw(st.integers(1, 8192))
        vcpus = draw(st.integers(1, 8))
        switches = draw(st.lists(st.sampled_from(["sw0", "sw1", "sw2"]), max_size=2))
        allow = draw(st.booleans()) or bool(switches)
        vms.append(
            Vm(
                id=new_id(),
                name=_label(f"V{i}", draw),
                enclave=label.enclave,
                seclabel=label.id,
                guest_type=kind,
                os=draw(st.sampled_from(list(GuestOS))),
                memory_mb=memory,
                maxmem_mb=memory + draw(st.integers(0, 1024)),
                vcpus=vcpus,
                maxvcpus=vcpus + draw(st.integers(0, 4)),
                host=draw(st.sampled_from([None, *[h.id for h in spans[label.enclave]]])),
                run=draw(st.booleans()),
                network=NetworkRestrictions(
                    allow,
                    tuple(switches) if allow else (),
                    draw(st.sampled_from([None, 1, 4])) if allow else None,
                ),
                extra=tuple(
                    draw(
                        st.lists(
                            st.sampled_from(
                                [
                                    ("localtime", "1"),
                                    ("max_grant_frames", "32"),
                                    ("rtc_timeoffset", "3600"),
                                ]
                            ),
                            max_size=2,
                            unique=True,
                        )
                    )
                ),
                **_boot(draw, kind),
            )
        )
    conflicts: list[ConflictSet] = []
    if len(enclaves) >= 2:
        pair = draw(
            st.lists(st.sampled_from(enclaves), min_size=2, max_size=3, unique_by=lambda e: e.id)
        )
        level = draw(st.sampled_from(list(ConflictLevel)))
        conflicts.append(ConflictSet(new_id(), "CS-1", level, tuple(e.id for e in pair)))
    policy = EnterprisePolicy(
        version=draw(st.integers(0, 10**6)),
        hosts=tuple(hosts),
        enclaves=tuple(enclaves),
        assignments=tuple(Assignment(e, h.id) for e, hs in spans.items() for h in hs),
        profiles=tuple(profiles),
        seclabels=tuple(labels),
        vms=tuple(vms),
        conflicts=tuple(conflicts),
        dhcp_servers=tuple(
            DhcpServer(new_id(), f"dhcp-{i}", e.id, f"eth{i}")
            for i, e in enumerate(enclaves)
            if draw(st.booleans())
        ),
    )
    return _keep_apart(policy)


def _keep_apart(policy: EnterprisePolicy) -> EnterprisePolicy:
    # A no-coresidence set: of the clashing enclaves on one host, only the first runs.
    for c in policy.conflicts:
        if c.level is not ConflictLevel.NO_CORESIDENCE:
            continue
        for host in policy.hosts:
            running = [v for v in policy.vms_on(host.id) if v.run and v.enclave in c.enclaves]
            keep = running[0].enclave if running else None
            for vm in running:
                if vm.enclave != keep:
                    policy = policy.with_vm(dataclasses.replace(vm, run=False))
    return policy
