"""The quarantine SecLabel (issue #14 §2): same tag, minimal profile, created on first use,
reused, and undone by binding the recorded SecLabel again."""

from __future__ import annotations

import pytest

from xps.policy import (
    PolicyLookupError,
    hypercall_name,
    quarantined,
    sample_policy,
    unquarantined,
    validate,
)
from xps.policy._quarantine import QUARANTINE_PROFILE, quarantine_label_name, quarantined_domains
from xps.policy._validate import errors_only


def _label_of(policy, domain):  # type: ignore[no-untyped-def]
    d = next(d for d in policy.domains if d.name == domain)
    return next(s for s in policy.seclabels if s.id == d.seclabel)


def test_quarantine_rebinds_in_the_same_tag_with_a_minimal_profile() -> None:
    policy = sample_policy()
    new, before, label = quarantined(policy, "EA-domu-1")
    assert before == _label_of(policy, "EA-domu-1")
    assert _label_of(new, "EA-domu-1") == label
    assert label.tag == before.tag and label.name == "Enclave A-quarantine"
    profile = next(p for p in new.profiles if p.id == label.profile)
    assert profile.name == QUARANTINE_PROFILE
    names = {hypercall_name(n) for n in profile.hypercalls}
    assert names == {"sched_op", "set_timer_op"}
    for channel in ("event_channel_op", "grant_table_op", "physdev_op", "memory_op"):
        assert channel not in names
    assert not errors_only(validate(new))
    # Other domains keep their labels; only this binding changed.
    for d in policy.domains:
        if d.name != "EA-domu-1":
            assert _label_of(new, d.name) == _label_of(policy, d.name)


def test_the_label_is_created_once_and_reused_per_tag() -> None:
    first, _, label = quarantined(sample_policy(), "EA-domu-1")
    second, _, again = quarantined(first, "EA-domu-3")
    assert again == label
    assert len(second.seclabels) == len(first.seclabels)
    assert len(second.profiles) == len(first.profiles)
    with pytest.raises(PolicyLookupError, match="quarantined already"):
        quarantined(second, "EA-domu-1")


def test_unquarantine_restores_the_recorded_label() -> None:
    policy = sample_policy()
    new, before, _ = quarantined(policy, "EA-domu-1")
    back, label = unquarantined(new, "EA-domu-1", before.id)
    assert label == before and _label_of(back, "EA-domu-1") == before
    # The last quarantine undone: the policy it was (label and profile gone).
    assert back == policy
    # While another domain of the tag is quarantined, its label and profile stay.
    two, _, q = quarantined(new, "EA-domu-3")
    one, _ = unquarantined(two, "EA-domu-1", before.id)
    assert _label_of(one, "EA-domu-3") == q and q in one.seclabels
    with pytest.raises(PolicyLookupError):
        unquarantined(new, "nope", before.id)


def test_a_changed_quarantine_profile_is_refused() -> None:
    import dataclasses

    new, _, label = quarantined(sample_policy(), "EA-domu-1")
    widened = tuple(
        dataclasses.replace(p, hypercalls=p.hypercalls | {20}) if p.id == label.profile else p
        for p in new.profiles
    )
    with pytest.raises(PolicyLookupError, match="no longer minimal"):
        quarantined(dataclasses.replace(new, profiles=widened), "EA-domu-3")


def test_long_tag_names_fit_the_msm() -> None:
    assert len(quarantine_label_name("x" * 63).encode()) == 63
    assert quarantine_label_name("x" * 63).endswith("-quarantine")


def test_quarantined_domains_names_those_on_a_quarantine_label() -> None:
    import dataclasses

    policy = sample_policy()
    assert quarantined_domains(policy) == []
    one, _, _ = quarantined(policy, "EA-domu-1")
    two, _, _ = quarantined(one, "EA-domu-3")
    assert quarantined_domains(two) == ["EA-domu-1", "EA-domu-3"]
    # A label named like a quarantine one but with another profile is not one.
    label = _label_of(policy, "EA-domu-1")
    fake = dataclasses.replace(label, name="Enclave A-quarantine")
    renamed = dataclasses.replace(
        policy, seclabels=tuple(fake if s.id == label.id else s for s in policy.seclabels)
    )
    assert quarantined_domains(renamed) == []
