"""What the console's snapshot tests share: the two terminal sizes every view is drawn at,
and a staged policy beside the active one (for the diff and what-if pictures)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from .scripted_host import small_policy

SIZES = [pytest.param((160, 48), id="160x48"), pytest.param((80, 24), id="80x24")]
"""``@pytest.mark.parametrize("size", SIZES)``: the largest and the smallest terminal."""


def staged_policies() -> tuple[Any, Any]:
    """An active policy and a staged one: a sub-op added, a label moved, a domain removed."""
    active = small_policy()
    profile = active.profile_named("PV-LinuxGeneric")
    subops = dict(profile.subops)
    subops[35] = frozenset({1})
    staged = active.with_profile(
        dataclasses.replace(
            profile, hypercalls=profile.hypercalls | {35}, subops=tuple(sorted(subops.items()))
        )
    )
    label = staged.seclabel_named("EA-seclabel")
    staged = staged.with_seclabel(
        dataclasses.replace(label, tag=staged.tag_named("EB").id, max_rate=250)
    )
    return active, staged.without(staged.domain_named("EB-domu-1").id)
