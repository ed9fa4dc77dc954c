"""dnsmasq generators: the report's local and remote formats, checked by dnsmasq itself."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._support.policy import make_policy, uid
from xps.policy import Tag
from xps.policy.generators import GeneratorError, dnsmasq_tags, local_dnsmasq, remote_dnsmasq

DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
needs_dnsmasq = pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed")


def _dnsmasq_test(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    conf = tmp_path / "xenon-policy"
    conf.write_text(text)
    assert DNSMASQ is not None
    return subprocess.run(
        [DNSMASQ, "--test", "-C", str(conf)], capture_output=True, text=True, timeout=30
    )


def test_local_file_matches_the_report_format() -> None:
    text = local_dnsmasq(make_policy())
    lines = text.splitlines()
    assert lines[0] == "# xenon-policy dnsmasq configuration (auto generated on xps)"
    assert lines[1] == "dhcp-ignore=tag:!known"
    # EAbr uses the remote DHCP server and EAint is served by its driver domain.
    assert "interface=EAbr" not in lines and "interface=EAint" not in lines
    assert "interface=EBnat" in lines
    assert "dhcp-range=EBnat,tag:EnclaveB,10.20.0.1,static,255.255.255.0" in lines
    assert "dhcp-option=EBnat,tag:EnclaveB,option:netmask,255.255.255.0" in lines
    assert "dhcp-option=EBnat,tag:EnclaveB,option:router,10.20.0.1" in lines
    assert "dhcp-option=EBnat,tag:EnclaveB,option:dns-server,10.20.0.1" in lines
    assert "dhcp-host=00:16:3e:0b:00:01,10.20.0.11,EB-domu-1,set:EnclaveB" in lines
    # A VIF without an address is listed as a comment, never served.
    assert not any(line.startswith("dhcp-host=00:16:3e:0b:00:02") for line in lines)


def test_local_file_of_a_driver_domain_has_only_its_switches() -> None:
    lines = local_dnsmasq(make_policy(), driver_domain=uid("dnet")).splitlines()
    assert "interface=EAint" in lines and "interface=EBnat" not in lines
    assert "dhcp-host=00:16:3e:00:50:01,192.168.50.11,EA-domu-1,set:Enclave_A" in lines


def test_remote_file_matches_the_report_format() -> None:
    lines = remote_dnsmasq(make_policy(), "eth3").splitlines()
    assert lines[0].startswith("# xenon-enterprise dnsmasq configuration")
    assert lines[1] == "dhcp-ignore=tag:!known"
    assert lines[2] == "# Configure eth3 to serve dnsmasq requests with subnet 172.19.0.0/16"
    assert "interface=eth3" in lines
    assert "dhcp-range=eth3,tag:Enclave_A,172.19.1.3,static,255.255.0.0" in lines
    assert "dhcp-option=eth3,tag:Enclave_A,option:router,172.19.0.1" in lines
    assert "dhcp-option=eth3,tag:Enclave_A,option:dns-server,172.19.0.1" in lines
    assert "dhcp-option=eth3,tag:Enclave_A,option:domain-search,ea.example" in lines
    assert "dhcp-host=00:16:3e:f3:e2:d4,172.19.1.102,EA-domu-2,set:Enclave_A" in lines
    assert not any("EnclaveB" in line for line in lines)  # B is served locally


def test_tag_names_are_sanitised_and_unique() -> None:
    policy = make_policy()
    policy = policy.with_tag(Tag(uid("tc"), "Enclave_A"))  # collides after sanitising
    policy = policy.with_tag(Tag(uid("td"), "9 evil,tag\nx"))
    tags = dnsmasq_tags(policy)
    names = list(tags.values())
    assert len(set(names)) == len(names)
    assert all(n.replace("_", "").replace("-", "").isalnum() for n in names)
    assert tags[uid("td")] == "t9_evil_tag_x"
    assert {tags[uid("ta")], tags[uid("tc")]} == {"Enclave_A", "Enclave_A-2"}


def test_remote_without_remote_switches_is_refused() -> None:
    policy = make_policy()
    sw = dataclasses.replace(policy.switch_named("EAbr"), dhcp_disabled=False)
    with pytest.raises(GeneratorError) as err:
        remote_dnsmasq(policy.with_switch(sw), "eth3")
    assert err.value.code == "policy.generator.no-remote-switch"


def test_bad_interface_name_is_refused() -> None:
    with pytest.raises(GeneratorError) as err:
        remote_dnsmasq(make_policy(), "eth3\ndhcp-range=evil")
    assert err.value.code == "policy.generator.bad-interface"


def test_vif_outside_its_subnet_is_refused() -> None:
    policy = make_policy()
    vif = next(v for v in policy.vifs if v.mac == "00:16:3e:0b:00:01")
    policy = policy.with_vif(dataclasses.replace(vif, ip="10.99.0.5"))
    with pytest.raises(GeneratorError, match=r"outside 10\.20\.0\.0/24"):
        local_dnsmasq(policy)


@needs_dnsmasq
def test_dnsmasq_accepts_the_local_file(tmp_path: Path) -> None:
    for dd in (None, uid("dnet")):
        proc = _dnsmasq_test(tmp_path, local_dnsmasq(make_policy(), driver_domain=dd))
        assert proc.returncode == 0, proc.stderr
        assert "syntax check OK" in proc.stderr + proc.stdout


@needs_dnsmasq
def test_dnsmasq_accepts_the_remote_file(tmp_path: Path) -> None:
    proc = _dnsmasq_test(tmp_path, remote_dnsmasq(make_policy(), "eth3"))
    assert proc.returncode == 0, proc.stderr


@needs_dnsmasq
def test_dnsmasq_check_can_fail(tmp_path: Path) -> None:
    # The oracle itself must be able to say no, or the two tests above prove nothing.
    proc = _dnsmasq_test(tmp_path, local_dnsmasq(make_policy()) + "dhcp-rnage=broken\n")
    assert proc.returncode != 0
