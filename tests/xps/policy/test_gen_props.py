"""Generators and signing over random valid policies, checked by dnsmasq and iptables-restore."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests._support.policy_strategies import policies
from tests._support.signing import make_ca, make_leaf
from xps.policy import Policy, sign_policy, verify_policy
from xps.policy.generators import GeneratorError, iptables_rules, local_dnsmasq, xl_config

_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
DNSMASQ = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
IPT = shutil.which("iptables-restore") or shutil.which("iptables-restore", path="/usr/sbin:/sbin")
_CA = make_ca("Property CA")
_SIGNER = make_leaf(_CA, "property-signer")


@_SETTINGS
@given(policies())
def test_sign_verify_round_trip(policy: Policy) -> None:
    data = sign_policy(policy, _SIGNER.key, _SIGNER.cert_pem)
    assert verify_policy(data, _CA.cert_pem).policy == policy


@_SETTINGS
@given(policies())
def test_xl_config_renders_or_refuses_with_a_code(policy: Policy) -> None:
    for dom in policy.domains:
        try:
            text = xl_config(policy, dom.name, vnc_password="pw")
        except GeneratorError as exc:
            # Only refusals that name a real reason, never a crash.
            assert exc.code in {
                "policy.generator.no-boot",
                "policy.generator.forbidden-option",
                "policy.generator.bad-option",
                "policy.generator.vnc-listen",
                "policy.generator.unsafe-value",
            }, exc.code
            continue
        assert f'name = "{dom.name}"' in text
        assert re.search(r'^seclabel = "[^"\n]+"$', text, re.MULTILINE)
        assert 'on_crash = "destroy"' in text


@pytest.mark.skipif(DNSMASQ is None, reason="dnsmasq is not installed")
@_SETTINGS
@given(policies())
def test_local_dnsmasq_always_passes_dnsmasq_test(tmp_path: Path, policy: Policy) -> None:
    conf = tmp_path / "xenon-policy"
    conf.write_text(local_dnsmasq(policy))
    proc = subprocess.run(
        [str(DNSMASQ), "--test", "-C", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr + conf.read_text()


@pytest.mark.skipif(IPT is None, reason="iptables-restore is not installed")
@_SETTINGS
@given(policies())
def test_iptables_rules_always_pass_iptables_restore_test(tmp_path: Path, policy: Policy) -> None:
    rules = tmp_path / "rules"
    rules.write_text(iptables_rules(policy, uplink="eth0"))
    proc = subprocess.run(
        [str(IPT), "--test", str(rules)], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0 and "Permission denied" in proc.stderr:
        pytest.skip(f"the kernel refuses netfilter access here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr + rules.read_text()
