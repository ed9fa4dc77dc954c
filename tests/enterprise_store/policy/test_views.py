"""The tree and text views of an XE policy (§4.2.5, Figures 23 and 30)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from enterprise_store._errors import InvalidInput, NotFound
from enterprise_store.policy import (
    TreeNode,
    domain_config_text,
    policy_text,
    policy_tree,
    render_tree,
    sample_xe_policy,
)

_XE = sample_xe_policy()


def _child(node: TreeNode, prefix: str) -> TreeNode:
    return next(c for c in node.children if c.label.startswith(prefix))


def test_hosts_panel_tree_follows_figure_23() -> None:
    tree = policy_tree(_XE)
    assert tree.label == "XE policy version 1" and tree.kind == "policy"
    hosts = _child(tree, "Hosts")
    assert [h.label.split()[0] for h in hosts.children] == ["xenon-1", "xenon-2", "xenon-3"]
    x3 = hosts.children[2]
    assert x3.id == _XE.host_named("xenon-3").id and x3.color == _XE.host_named("xenon-3").color
    by_enclave = {e.label: [v.label.split()[0] for v in e.children] for e in x3.children}
    assert by_enclave == {
        "Enclave A": ["EA-domu-3", "EA-domu-4", "EA-domu-5"],
        "Enclave B": [],
        "Enclave C": ["EC-domu-3", "EC-domu-4"],
    }
    assert {e.kind for e in x3.children} == {"enclave"}


def test_enclave_tree_follows_figure_30() -> None:
    enclaves = _child(policy_tree(_XE), "Enclaves")
    a = enclaves.children[0]
    assert a.label == "Enclave A" and a.color == (204, 37, 41)
    labels, hosts, vms = a.children
    assert labels.label == "SecLabels (1)"
    assert labels.children[0].label == "EA-seclabel (PV-Combined, max rate 2000/ms)"
    assert [h.label for h in hosts.children] == ["xenon-2", "xenon-3"]
    assert vms.children[0].label == "EA-domu-1 (pv, 2048 MB, 2 VCPUs, on xenon-2 (default))"
    assert vms.children[2].label == "EA-domu-3 (pv, 1024 MB, 1 VCPU, on xenon-3)"


def test_rendered_tree() -> None:
    text = render_tree(policy_tree(_XE))
    lines = text.splitlines()
    assert lines[0] == "XE policy version 1"
    assert lines[1] == "├── Hosts (3)"
    assert "│   ├── xenon-1 (10.0.2.101:9443)" in lines
    assert "    ├── PV-Combined (25 hypercalls)" in lines
    assert lines[-1].startswith("    └── ")
    conflicts = [ln for ln in lines if "no-coresidence" in ln]
    assert conflicts == ["│   ├── EA-EB-no-coresidence (no-coresidence: Enclave A, Enclave B)"]


def test_text_view_names_everything() -> None:
    text = policy_text(_XE)
    assert text.startswith("Xenon Enterprise policy, version 1\n\nHosts (panel order)\n")
    for needle in (
        "    1  xenon-1  10.0.2.101:9443  #4682b4",
        "       enclaves Enclave A, Enclave B, Enclave C",
        "  Enclave A  #cc2529  ",
        "    hosts xenon-2, xenon-3",
        ": profile PV-Combined, max rate 2000/ms, max violations 50, role none",
        "       pv linux, SecLabel EA-seclabel, on xenon-2 (default placement)",
        "       network: switches EAbr; at most 1 VIF",
        "       extra max_grant_frames = 64",
        "  EA-EB-no-coresidence (no-coresidence): Enclave A, Enclave B",
        "  dhcp-ea: Enclave A on eth3",
    ):
        assert needle in text, needle
    assert text == policy_text(sample_xe_policy())


def test_views_escape_control_characters_in_names() -> None:
    evil = "EA-domu-1\x1b[31m\u202e"
    vm = dataclasses.replace(_XE.vm_named("EA-domu-1"), name=evil, run=False)
    p = _XE.with_vm(vm)
    for text in (policy_text(p), render_tree(policy_tree(p))):
        assert "\x1b" not in text and "\u202e" not in text
        assert "EA-domu-1\\u001b[31m\\u202e" in text
    assert "not meant to run" in render_tree(policy_tree(p))


def test_views_of_an_inconsistent_policy_still_render() -> None:
    # Enclave B and the first host gone: B's VMs dangle, C's default host moves on.
    p = _XE.without(_XE.enclave_named("Enclave B").id).without(_XE.host_named("xenon-1").id)
    text = policy_text(p)
    assert "EB-domu-1" not in text  # listed under their enclave, which is gone
    ec1 = text.index("VM EC-domu-1")
    assert "on xenon-2 (default placement)" in text[ec1 : ec1 + 200]
    tree = render_tree(policy_tree(p))
    assert "EC-domu-1 (pv, 1024 MB, 1 VCPU, on xenon-2 (default))" in tree
    assert "xenon-1" not in tree


def test_view_domain_config_is_figure_27() -> None:
    # XE's part only: no network, disk or display lines; the extra option last.
    text = domain_config_text(_XE, _XE.vm_named("EA-domu-1").id)
    lines = text.splitlines()
    assert 'name = "EA-domu-1"' in lines and 'seclabel = "EA-seclabel"' in lines
    assert not any(ln.startswith(("vif", "disk", "vfb", "pci")) for ln in lines)
    assert lines[-2:] == ["# extra xl options of the domain", "max_grant_frames = 64"]
    # Cleared extra options give the guest type's template.
    vm = dataclasses.replace(_XE.vm_named("EA-domu-1"), extra=())
    template = domain_config_text(_XE.with_vm(vm), vm.id)
    assert "extra xl options" not in template and template.endswith('on_watchdog = "destroy"\n')


def test_view_domain_config_refusals() -> None:
    with pytest.raises(NotFound):
        domain_config_text(_XE, uuid.uuid4())
    vm = dataclasses.replace(_XE.vm_named("EA-domu-1"), extra=(("pci", "['0000:03:00.0']"),))
    with pytest.raises(InvalidInput, match="security-relevant"):
        domain_config_text(_XE.with_vm(vm), vm.id)
