"""The policy side of the migration precheck: every reason a host may not take a VM, at once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

import pytest

from enterprise_store.checker import MIGRATION_RULES, check_migration, migration_targets
from enterprise_store.model import CpuFacts, EnterprisePolicy
from enterprise_store.policy import sample_xe_policy

_BASE = sample_xe_policy()
_VM = _BASE.vm_named("EA-domu-1").id  # on xenon-2 by the default rule
_X1, _X2, _X3 = (_BASE.host_named(f"xenon-{i}").id for i in (1, 2, 3))
_Edit = Callable[[EnterprisePolicy], EnterprisePolicy]


def _on_x3(**changes: object) -> _Edit:
    return lambda p: p.with_host(dataclasses.replace(p.host_named("xenon-3"), **changes))  # type: ignore[arg-type]


def _flags(p: EnterprisePolicy) -> EnterprisePolicy:
    x3 = p.host_named("xenon-3")
    cpu = dataclasses.replace(x3.cpu, flags=x3.cpu.flags - {"avx2", "aes"})
    return p.with_host(dataclasses.replace(x3, cpu=cpu))


# code -> (edit, target, live running VMs per host or None, codes expected together)
CASES: dict[str, tuple[_Edit, uuid.UUID, dict[uuid.UUID, list[uuid.UUID]] | None, set[str]]] = {
    "XE-MIG-UNKNOWN": (lambda p: p, uuid.uuid4(), None, set()),
    "XE-MIG-SAME-HOST": (lambda p: p, _X2, None, set()),
    # Every reason at once: xenon-1 carries no Enclave A, has no A switch, and runs B.
    "XE-MIG-ENCLAVE": (lambda p: p, _X1, None, {"XE-MIG-SWITCH", "XE-MIG-CONFLICT"}),
    "XE-MIG-CPU-UNKNOWN": (_on_x3(cpu=CpuFacts()), _X3, None, set()),
    "XE-MIG-CPU-VENDOR": (
        _on_x3(cpu=CpuFacts("AuthenticAMD", 23, 49, 0, frozenset({"sse2"}))),
        _X3,
        None,
        set(),
    ),
    "XE-MIG-CPU-FLAGS": (_flags, _X3, None, set()),
    "XE-MIG-STORAGE": (_on_x3(shared_storage=("other-nfs",)), _X3, None, set()),
    "XE-MIG-SWITCH": (_on_x3(switches=()), _X3, None, set()),
    "XE-MIG-CONFLICT": (
        lambda p: p,
        _X3,
        {_X3: [_BASE.vm_named("EB-domu-1").id]},
        set(),
    ),
}


def test_every_migration_rule_has_a_test() -> None:
    assert set(CASES) == set(MIGRATION_RULES)


def test_the_sample_vm_may_move_within_its_enclave() -> None:
    assert check_migration(_BASE, _VM, _X3) == []


@pytest.mark.parametrize("code", sorted(CASES))
def test_migration_rule(code: str) -> None:
    edit, target, running, together = CASES[code]
    findings = check_migration(edit(_BASE), _VM, target, running=running)
    assert {f.code for f in findings} == {code} | together, [f.message for f in findings]
    for f in findings:
        assert f.objects[0] in f.message
    # The same move without the edit (or the live state) is allowed, except where the
    # target itself is the problem.
    if code not in {"XE-MIG-UNKNOWN", "XE-MIG-SAME-HOST", "XE-MIG-ENCLAVE"}:
        assert check_migration(_BASE, _VM, target) == []


def test_flags_finding_names_the_missing_flags() -> None:
    (finding,) = check_migration(_flags(_BASE), _VM, _X3)
    assert "aes avx2" in finding.message
    assert finding.objects == ("EA-domu-1", "xenon-2", "xenon-3")


def test_conflict_uses_placement_when_no_live_state_is_given() -> None:
    p = _BASE.with_vm(dataclasses.replace(_BASE.vm_named("EB-domu-1"), host=_X3, run=True))
    (finding,) = check_migration(p, _VM, _X3)
    assert finding.code == "XE-MIG-CONFLICT" and "EB-domu-1" in finding.message
    stopped = p.with_vm(dataclasses.replace(p.vm_named("EB-domu-1"), run=False))
    assert check_migration(stopped, _VM, _X3) == []


def test_targets_list_every_other_host_with_reasons() -> None:
    targets = migration_targets(_BASE, _VM)
    assert [(h.name, sorted(f.code for f in fs)) for h, fs in targets] == [
        ("xenon-1", ["XE-MIG-CONFLICT", "XE-MIG-ENCLAVE", "XE-MIG-SWITCH"]),
        ("xenon-3", []),
    ]
