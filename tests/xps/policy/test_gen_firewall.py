"""OVS commands and iptables rules: enclave isolation, NAT, anti-spoofing, checked by iptables."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._support.policy import make_policy, uid
from xps.policy.generators import GeneratorError, iptables_rules, ovs_commands

IPT = shutil.which("iptables-restore") or shutil.which("iptables-restore", path="/usr/sbin:/sbin")


def _restore_test(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    if IPT is None:
        pytest.skip("iptables-restore is not installed")
    rules = tmp_path / "rules"
    rules.write_text(text)
    proc = subprocess.run([IPT, "--test", str(rules)], capture_output=True, text=True, timeout=30)
    kernel_refused = ("Permission denied", "Could not fetch rule set", "can't initialize")
    if proc.returncode != 0 and any(s in proc.stderr for s in kernel_refused):
        pytest.skip(f"the kernel refuses netfilter access here: {proc.stderr.strip()}")
    return proc


def _rules() -> list[str]:
    return iptables_rules(make_policy()).splitlines()


def test_forward_drops_by_default_and_between_enclaves() -> None:
    rules = _rules()
    assert ":FORWARD DROP [0:0]" in rules
    assert "-A FORWARD -i EAbr -o EBnat -j DROP" in rules
    assert "-A FORWARD -i EBnat -o EAbr -j DROP" in rules
    assert "-A FORWARD -i EAbr -o EAint -j ACCEPT" not in rules  # EAint is not dom0's
    # Inter-enclave drops come before any accept that could match the same packet.
    first_accept = min(
        i for i, r in enumerate(rules) if r.startswith("-A FORWARD") and "ACCEPT" in r
    )
    assert rules.index("-A FORWARD -i EBnat -o EAbr -j DROP") < first_accept


def test_same_enclave_switches_may_talk() -> None:
    policy = make_policy()
    policy = policy.with_switch(
        dataclasses.replace(policy.switch_named("EAint"), driver_domain=None)
    )
    rules = iptables_rules(policy).splitlines()
    assert "-A FORWARD -i EAbr -o EAint -j ACCEPT" in rules
    assert "-A FORWARD -i EAint -o EBnat -j DROP" in rules


def test_bridged_is_confined_to_its_bridge() -> None:
    rules = _rules()
    assert "-A FORWARD -i EAbr -o EAbr -m physdev --physdev-is-bridged -j ACCEPT" in rules
    assert not any(r.startswith("-A FORWARD -i EAbr ! -o") for r in rules)


def test_nat_masquerades_its_subnet_and_lets_replies_back() -> None:
    text = iptables_rules(make_policy(), uplink="eth0")
    assert "-A POSTROUTING -s 10.20.0.0/24 ! -d 10.20.0.0/24 -o eth0 -j MASQUERADE" in text
    assert "-A FORWARD -i EBnat -s 10.20.0.0/24 -o eth0 -j ACCEPT" in text
    assert (
        "-A FORWARD -o EBnat -d 10.20.0.0/24 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"
        in text
    )
    assert text.index("*nat") > text.index("*filter")


def test_internal_switch_never_forwards_off_the_switch() -> None:
    rules = iptables_rules(make_policy(), driver_domain=uid("dnet")).splitlines()
    own = [
        r
        for r in rules
        if r.startswith("-A FORWARD -i EAint") or r.startswith("-A FORWARD -o EAint")
    ]
    assert own == [
        "-A FORWARD -i EAint -m physdev --physdev-in vif+ -j XS-SPOOF-EAint",
        "-A FORWARD -i EAint -o EAint -j ACCEPT",
    ]
    assert "*nat" not in "\n".join(rules)


def test_anti_spoofing_per_vif() -> None:
    rules = _rules()
    assert "-A FORWARD -i EAbr -m physdev --physdev-in vif+ -j XS-SPOOF-EAbr" in rules
    assert (
        "-A XS-SPOOF-EAbr -m mac --mac-source 00:16:3e:f3:e2:d1 -s 172.19.1.101/32 -j RETURN"
        in rules
    )
    spoof = [r for r in rules if r.startswith("-A XS-SPOOF-EAbr")]
    assert spoof[-1] == "-A XS-SPOOF-EAbr -j DROP"


def test_dom0_accepts_only_dhcp_dns_from_guests() -> None:
    rules = _rules()
    assert "-A INPUT -i EBnat -p udp --dport 67 -j ACCEPT" in rules
    assert rules.index("-A INPUT -i EBnat -j DROP") > rules.index(
        "-A INPUT -i EBnat -p udp --dport 67 -j ACCEPT"
    )
    # DHCP for EAbr comes from the remote server: dom0 accepts none of it.
    assert "-A INPUT -i EAbr -p udp --dport 67 -j ACCEPT" not in rules
    assert "-A INPUT -i EAbr -j DROP" in rules


def test_nat_without_subnet_is_refused() -> None:
    policy = make_policy()
    policy = policy.with_switch(dataclasses.replace(policy.switch_named("EBnat"), netmask=None))
    with pytest.raises(GeneratorError) as err:
        iptables_rules(policy)
    assert err.value.code == "policy.generator.no-address"


def test_iptables_restore_accepts_the_rules(tmp_path: Path) -> None:
    for text in (
        iptables_rules(make_policy()),
        iptables_rules(make_policy(), uplink="eth0"),
        iptables_rules(make_policy(), driver_domain=uid("dnet")),
    ):
        proc = _restore_test(tmp_path, text)
        assert proc.returncode == 0, proc.stderr


def test_iptables_restore_check_can_fail(tmp_path: Path) -> None:
    # (iptables-nft --test does not resolve jump targets, but it does parse matches.)
    bad = iptables_rules(make_policy()).replace("--ctstate INVALID", "--ctstate BOGUS", 1)
    proc = _restore_test(tmp_path, bad)
    assert proc.returncode != 0


def test_ovs_builds_secure_bridges_with_uplink_and_flows() -> None:
    cmds = ovs_commands(make_policy(), {"0000:03:00.0": "eth1"})
    assert ["ovs-vsctl", "--may-exist", "add-br", "EAbr"] in cmds
    assert ["ovs-vsctl", "set-fail-mode", "EAbr", "secure"] in cmds
    assert ["ovs-vsctl", "--may-exist", "add-port", "EAbr", "eth1"] in cmds
    assert ["ip", "addr", "replace", "10.20.0.1/24", "dev", "EBnat"] in cmds
    assert not any("EAint" in c for cmd in cmds for c in cmd)  # the driver domain's switch
    flows = [c[3] for c in cmds if c[:3] == ["ovs-ofctl", "add-flow", "EAbr"]]
    assert "priority=200,dl_src=00:16:3e:f3:e2:d1,ip,nw_src=172.19.1.101,actions=NORMAL" in flows
    assert flows[-1] == "priority=0,actions=drop"
    assert all(isinstance(a, str) for cmd in cmds for a in cmd)


def test_ovs_reads_the_uplink_name_from_sysfs(tmp_path: Path) -> None:
    (tmp_path / "bus/pci/devices/0000:03:00.0/net/enp3s0").mkdir(parents=True)
    cmds = ovs_commands(make_policy(), sysfs=tmp_path)
    assert ["ovs-vsctl", "--may-exist", "add-port", "EAbr", "enp3s0"] in cmds


def test_ovs_unknown_uplink_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError) as err:
        ovs_commands(make_policy(), sysfs=tmp_path)
    assert err.value.code == "policy.generator.no-interface"
    assert "0000:03:00.0" in str(err.value)
