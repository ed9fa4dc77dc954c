"""The report's sample policy (§4.2-§4.3) and its per-host slices."""

from __future__ import annotations

import ipaddress

import pytest

from xps.policy import (
    SAMPLE_HOST_NAMES,
    DeviceKind,
    GuestType,
    StorageMode,
    SwitchMode,
    parse_policy,
    sample_enterprise,
    sample_policy,
    serialize_policy,
    validate,
)


def test_sample_policy_validates_without_findings() -> None:
    assert validate(sample_policy()) == []


def test_sample_is_deterministic() -> None:
    assert sample_policy() == sample_policy()
    assert serialize_policy(sample_policy()) == serialize_policy(sample_policy())
    assert parse_policy(serialize_policy(sample_policy())) == sample_policy()


def test_enclaves_labels_switches_and_storage() -> None:
    p = sample_policy()
    assert [t.name for t in p.tags] == ["Enclave A", "Enclave B", "Enclave C"]
    red, blue, green = (p.tag_named(f"Enclave {x}").color for x in "ABC")
    assert red[0] > max(red[1:]) and blue[2] > max(blue[:2]) and green[1] > max(green[0], green[2])
    for short, enclave in (("EA", "A"), ("EB", "B"), ("EC", "C")):
        tag = p.tag_named(f"Enclave {enclave}")
        label = p.seclabel_named(f"{short}-seclabel")
        assert label.tag == tag.id and 1 <= label.max_rate <= 65535
        switch = p.switch_named(f"{short}br")
        assert switch.mode is SwitchMode.BRIDGED and switch.tag == tag.id
        assert switch.dhcp_disabled and switch.expose_driver_domain
        controller = p.hardware.pci_device(switch.controller or "")
        assert controller is not None and controller.tag == tag.id
        assert controller.kind is DeviceKind.NETWORK
        storage = p.storage_named(f"{short}storage")
        assert storage.mode is StorageMode.FILE and storage.tag == tag.id
        assert storage.base_path == f"/var/lib/xenon/{short}/" and storage.driver_domain is None
    ea = p.switch_named("EAbr")
    assert ea.gateway == "172.19.0.1" and ea.netmask == "255.255.0.0"
    assert ipaddress.IPv4Address(ea.ip or "") in ipaddress.IPv4Network("172.19.0.0/16")


def test_domains_follow_the_figures() -> None:
    p = sample_policy()
    domu1 = p.domain_named("EA-domu-1")
    assert domu1.guest_type is GuestType.PV
    assert domu1.kernel == "/usr/local/lib/xen/boot/pv-grub-x86_64.gz"
    assert domu1.cmdline == "(hd0,0)/boot/grub/menu.lst"
    assert (domu1.memory_mb, domu1.maxmem_mb, domu1.vcpus, domu1.maxvcpus) == (2048, 2048, 2, 2)
    assert domu1.disks[0].target == "/var/lib/xenon/EA/EA-domu-1.qcow2"
    assert {d.guest_type for d in p.domains} >= {GuestType.PV, GuestType.PVHVM}
    assert all(v.mac.startswith("00:16:3e:") for v in p.vifs)
    assert len(p.vifs) == len(p.domains)
    tagged = [d for d in p.hardware.pci if d.tag is not None]
    assert {d.kind for d in tagged} == {DeviceKind.NETWORK, DeviceKind.STORAGE}


def test_dnsmasq_example_vif_is_in_the_enterprise() -> None:
    host2 = sample_enterprise()["xenon-2"]
    vif = host2.vifs_of(host2.domain_named("EA-domu-2").id)[0]
    assert (vif.mac, vif.ip) == ("00:16:3e:f3:e2:d4", "172.19.1.102")


def test_enterprise_slices_follow_the_enclave_assignment() -> None:
    slices = sample_enterprise(3)
    assert tuple(slices) == SAMPLE_HOST_NAMES
    enclaves = {host: {t.name for t in p.tags} for host, p in slices.items()}
    assert enclaves == {
        "xenon-1": {"Enclave A", "Enclave B", "Enclave C"},
        "xenon-2": {"Enclave A", "Enclave B", "Enclave C"},
        "xenon-3": {"Enclave B", "Enclave C"},
    }
    names = [d.name for p in slices.values() for d in p.domains]
    assert len(names) == len(set(names)) == 12
    assert sum(n.startswith("EA-") for n in names) == 5
    assert sum(n.startswith("EC-") for n in names) == 4
    for host, policy in slices.items():
        assert validate(policy) == [], host
        assert all(d.host == host for d in policy.domains)
        assert len(policy.switches) == len(policy.storage) == len(policy.tags)
    # Global objects keep their identity across hosts; host-local ones do not.
    assert slices["xenon-1"].tag_named("Enclave B") == slices["xenon-3"].tag_named("Enclave B")
    assert slices["xenon-1"].switch_named("EBbr").id != slices["xenon-3"].switch_named("EBbr").id
    assert sample_policy() == slices["xenon-1"]


@pytest.mark.parametrize("hosts", [1, 2, 5])
def test_other_host_counts_stay_valid(hosts: int) -> None:
    slices = sample_enterprise(hosts)
    assert len(slices) == hosts
    assert sum(len(p.domains) for p in slices.values()) == 12
    for policy in slices.values():
        assert validate(policy) == []


def test_host_count_is_checked() -> None:
    with pytest.raises(ValueError):
        sample_enterprise(0)
