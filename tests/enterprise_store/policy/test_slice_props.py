"""Properties of slicing random enterprises: valid, round-trips, keeps what the host owns."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enterprise_store.model import EnterprisePolicy
from enterprise_store.policy import build_slice, host_owned, slice_policy
from tests._support.xe_strategies import enterprises
from xps.policy import (
    DomainDisk,
    Hardware,
    NetworkSwitch,
    PciDevice,
    Policy,
    StorageLocation,
    StorageMode,
    SwitchMode,
    Tag,
    Vif,
    errors_only,
    parse_policy,
    validate,
)

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def hosts_with_parts(draw: Any) -> tuple[EnterprisePolicy, uuid.UUID, Policy]:
    """A random enterprise, one of its hosts, and a current policy of that host whose
    host-owned parts are random but consistent with the slice (so none may be lost)."""
    policy = draw(enterprises())
    host = draw(st.sampled_from(policy.hosts))
    part = slice_policy(policy, host.id)
    local_tag = Tag(uuid.uuid4(), "host-local", (1, 2, 3))
    tags = [*part.tags, local_tag]
    pci, switches, storage = [], [], []
    for i, tag in enumerate(tags):
        nic = PciDevice(f"0000:{i + 1:02x}:00.0", tag=tag.id if draw(st.booleans()) else None)
        pci.append(nic)
        for j in range(draw(st.integers(0, 2))):
            k = len(switches)
            switches.append(
                NetworkSwitch(
                    uuid.uuid4(),
                    f"sw{k}",
                    draw(st.sampled_from(list(SwitchMode))),
                    tag.id,
                    controller=nic.bdf if nic.tag == tag.id and j == 0 else None,
                    dhcp_disabled=draw(st.booleans()),
                    ip=f"10.{k}.0.1",
                    netmask="255.255.255.0",
                )
            )
        if draw(st.booleans()):
            storage.append(
                StorageLocation(
                    uuid.uuid4(), f"st{i}", StorageMode.FILE, tag.id, base_path=f"/var/lib/st{i}/"
                )
            )
    label_tag = {s.id: s.tag for s in part.seclabels}
    vms = policy.ids("vms")
    domains, vifs = [], []
    for d in part.domains:
        tag = label_tag[d.seclabel] if d.seclabel is not None else None
        vm = vms[d.id]
        allowed = [
            s
            for s in switches
            if s.tag == tag
            and vm.network.allow_network
            and (not vm.network.switches or s.name in vm.network.switches)
        ]
        cap = vm.network.max_vifs if vm.network.max_vifs is not None else 3
        for s in draw(st.lists(st.sampled_from(allowed), max_size=min(cap, 3))) if allowed else []:
            n = len(vifs) + 1
            vifs.append(
                Vif(
                    d.id,
                    s.id,
                    f"00:16:3e:00:{n >> 8:02x}:{n & 255:02x}",
                    f"10.{switches.index(s)}.0.{n + 1}",
                )
            )
        mine = [s for s in storage if s.tag == tag]
        disks = tuple(
            DomainDisk(loc.id, f"{d.name}-{n}.qcow2", vdev=f"xvd{'abc'[n]}")
            for n, loc in enumerate(
                draw(st.lists(st.sampled_from(mine), max_size=2)) if mine else []
            )
        )
        domains.append(
            dataclasses.replace(
                d,
                disks=disks,
                vnc=draw(st.booleans()),
                vnc_display=draw(st.sampled_from([None, 5])),
            )
        )
    current = dataclasses.replace(
        part,
        tags=tuple(tags),
        domains=tuple(domains),
        switches=tuple(switches),
        storage=tuple(storage),
        vifs=tuple(vifs),
        hardware=Hardware(pci=tuple(pci)),
    )
    return policy, host.id, current


@_SETTINGS
@given(enterprises())
def test_slices_of_a_random_enterprise_validate_and_round_trip(policy: EnterprisePolicy) -> None:
    for host in policy.hosts:
        built = build_slice(policy, host.id, None)
        assert errors_only(validate(built.policy)) == []
        assert parse_policy(built.xml) == built.policy
        assert built.slice_sha256 == build_slice(policy, host.id, None).slice_sha256


@_SETTINGS
@given(hosts_with_parts())
def test_merge_never_loses_a_host_owned_object(
    case: tuple[EnterprisePolicy, uuid.UUID, Policy],
) -> None:
    policy, host, current = case
    assert errors_only(validate(current)) == []
    built = build_slice(policy, host, current)
    merged = built.policy
    assert merged.hardware == current.hardware
    assert merged.switches == current.switches
    assert merged.storage == current.storage
    assert set(merged.vifs) == set(current.vifs)
    for d in current.domains:
        m = merged.domain(d.id)
        assert (m.disks, m.pci, m.vnc, m.vnc_display) == (d.disks, d.pci, d.vnc, d.vnc_display)
    # The host-local tag survives when something of the host still uses it.
    used = {s.tag for s in current.switches} | {s.tag for s in current.storage}
    used |= {p.tag for p in current.hardware.pci if p.tag is not None}
    assert used <= {t.id for t in merged.tags}
    assert built.released == ()
    # What the host owns, extracted again from the merged policy, is what it had.
    assert host_owned(merged).switches == host_owned(current).switches
    assert parse_policy(built.xml) == merged


@_SETTINGS
@given(hosts_with_parts())
def test_slicing_is_deterministic(case: tuple[EnterprisePolicy, uuid.UUID, Policy]) -> None:
    policy, host, current = case
    first = build_slice(policy, host, current)
    shuffled = dataclasses.replace(
        current,
        switches=tuple(reversed(current.switches)),
        vifs=tuple(reversed(current.vifs)),
        domains=tuple(reversed(current.domains)),
    )
    second = build_slice(
        dataclasses.replace(policy, vms=tuple(reversed(policy.vms))), host, shuffled
    )
    assert second.slice_sha256 == first.slice_sha256
    assert second.xml == first.xml
