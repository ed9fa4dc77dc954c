"""The remote DHCP servers' dnsmasq files of §4.3.2, generated from the model and the hosts."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from enterprise_store._errors import PolicyRefused
from enterprise_store.policy import (
    DHCP_RULES,
    remote_dnsmasq_files,
    sample_host_policies,
    sample_xe_policy,
)
from xps.policy import Policy, Vif

DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")

_XE = sample_xe_policy()
_LOCAL = sample_host_policies(_XE)


def _by_id(local: dict[str, Policy]) -> dict[uuid.UUID, Policy]:
    return {_XE.host_named(n).id: p for n, p in local.items()}


def test_every_server_gets_a_file_like_the_reports() -> None:
    files = remote_dnsmasq_files(_XE, _by_id(_LOCAL))
    assert list(files) == ["dhcp-ea", "dhcp-eb", "dhcp-ec"]
    lines = files["dhcp-ea"].splitlines()
    assert lines[0] == "# DHCP server dhcp-ea of Enclave A (XE policy version 1)"
    assert "dhcp-ignore=tag:!known" in lines
    assert "interface=eth3" in lines
    # One range for the enclave's subnet, whichever host's switch address starts it.
    ranges = [ln for ln in lines if ln.startswith("dhcp-range=")]
    assert ranges == ["dhcp-range=eth3,tag:Enclave_A,172.19.0.11,static,255.255.0.0"]
    assert "dhcp-option=eth3,tag:Enclave_A,option:router,172.19.0.1" in lines
    assert "dhcp-option=eth3,tag:Enclave_A,option:dns-server,172.19.0.1" in lines
    # The report's example host line (§4.3.2), and Enclave A's VMs on both its hosts.
    assert "dhcp-host=00:16:3e:f3:e2:d4,172.19.1.102,EA-domu-2,set:Enclave_A" in lines
    hosts = [ln.split(",")[2] for ln in lines if ln.startswith("dhcp-host=")]
    assert sorted(hosts) == [f"EA-domu-{i}" for i in range(1, 6)]
    assert "Enclave_B" not in files["dhcp-ea"] and "EB-domu" not in files["dhcp-ea"]


@pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed")
def test_dnsmasq_accepts_the_files(tmp_path: Path) -> None:
    assert DNSMASQ is not None
    for name, text in remote_dnsmasq_files(_XE, _by_id(_LOCAL)).items():
        conf = tmp_path / name
        conf.write_text(text)
        done = subprocess.run(
            [DNSMASQ, "--test", "-C", str(conf)], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, (name, done.stderr)


def test_hosts_without_a_policy_contribute_nothing() -> None:
    files = remote_dnsmasq_files(_XE, {})
    assert files["dhcp-eb"].splitlines()[1:] == [
        "dhcp-ignore=tag:!known",
        "# no host's switch of Enclave B uses this server yet",
    ]
    only_x1 = remote_dnsmasq_files(_XE, _by_id({"xenon-1": _LOCAL["xenon-1"]}))
    assert "EC-domu-1" in only_x1["dhcp-ec"] and "EC-domu-2" not in only_x1["dhcp-ec"]


def test_dhcp_rules_each_refuse() -> None:
    assert set(DHCP_RULES) == {"XE-DHCP-CONFLICT", "XE-DHCP-INVALID"}
    x2, x3 = _LOCAL["xenon-2"], _LOCAL["xenon-3"]
    # A MAC of xenon-2 reused on xenon-3 with another IP: one lease cannot serve both.
    mac = x2.vifs_of(x2.domain_named("EA-domu-1").id)[0].mac
    theirs = x3.vifs_of(x3.domain_named("EA-domu-3").id)[0]
    clash = x3.without_vif(theirs.mac).with_vif(dataclasses.replace(theirs, mac=mac))
    with pytest.raises(PolicyRefused) as refused:
        remote_dnsmasq_files(_XE, _by_id({**_LOCAL, "xenon-3": clash}))
    (finding,) = refused.value.findings
    assert finding.code == "XE-DHCP-CONFLICT"
    assert finding.objects == ("dhcp-ea", "xenon-2", "xenon-3") and mac in finding.message
    # The same IP handed to two MACs on two hosts.
    ip = x2.vifs_of(x2.domain_named("EA-domu-1").id)[0].ip
    same_ip = x3.without_vif(theirs.mac).with_vif(dataclasses.replace(theirs, ip=ip))
    with pytest.raises(PolicyRefused) as refused:
        remote_dnsmasq_files(_XE, _by_id({**_LOCAL, "xenon-3": same_ip}))
    assert refused.value.findings[0].code == "XE-DHCP-CONFLICT"
    assert f"IP {ip}" in refused.value.findings[0].message
    # A search domain dnsmasq would misread: the generator refuses it.
    switch = x2.switch_named("EAbr")
    bad = x2.with_switch(dataclasses.replace(switch, search=("a,b",)))
    with pytest.raises(PolicyRefused) as refused:
        remote_dnsmasq_files(_XE, _by_id({**_LOCAL, "xenon-2": bad}))
    assert [f.code for f in refused.value.findings] == ["XE-DHCP-INVALID"]


def test_the_same_vif_seen_twice_is_one_lease() -> None:
    # A host that still lists a migrated VM's VIF as it was is no conflict.
    x2, x3 = _LOCAL["xenon-2"], _LOCAL["xenon-3"]
    vif = x2.vifs_of(x2.domain_named("EA-domu-1").id)[0]
    copy = Vif(vif.domain, x3.switch_named("EAbr").id, vif.mac, vif.ip)
    x3b = x3.with_domain(x2.domain_named("EA-domu-1")).with_vif(copy)
    files = remote_dnsmasq_files(_XE, _by_id({**_LOCAL, "xenon-3": x3b}))
    assert files["dhcp-ea"].count(vif.mac) == 1
