"""Policy diffs in human terms (issue #12 §5): names and colours, not UUIDs; warnings about
running domains first; "no changes" for an empty diff. Against a real daemon as well."""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path
from typing import Any

from tests._support.console import console_config, enter_editor, wait_for
from tests._support.scripted_host import small_policy
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import ConfirmDialog, TextDialog
from xenon_tui.widgets._diffview import NO_CHANGES, diff_text
from xps.policy import Policy, Tag

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")
RUNNING = [
    {"name": "EA-domu-1", "run_state": "running"},
    {"name": "EA-domu-2", "run_state": "shutdown"},
    {"name": "EB-domu-1", "run_state": "paused"},
]


def _edited(policy: Policy) -> Policy:
    """sysctl (35) and its sub-op 1 added; EA-seclabel moved to tag EB at rate 250;
    EB-domu-1 removed; a new green tag EC."""
    profile = policy.profile_named("PV-LinuxGeneric")
    subops = dict(profile.subops)
    subops[35] = subops.get(35, frozenset()) | {1}
    policy = policy.with_profile(
        dataclasses.replace(
            profile,
            hypercalls=(profile.hypercalls - {35}) | {35},
            subops=tuple(sorted(subops.items())),
        )
    )
    label = policy.seclabel_named("EA-seclabel")
    policy = policy.with_seclabel(
        dataclasses.replace(label, tag=policy.tag_named("EB").id, max_rate=250)
    )
    policy = policy.without(policy.domain_named("EB-domu-1").id)
    return policy.with_tag(Tag(uuid.UUID(int=0xC), "EC", (10, 200, 10)))


def _without_35(policy: Policy) -> Policy:
    profile = policy.profile_named("PV-LinuxGeneric")
    return policy.with_profile(
        dataclasses.replace(
            profile,
            hypercalls=profile.hypercalls - {35},
            subops=tuple((nr, ops) for nr, ops in profile.subops if nr != 35),
        )
    )


def test_diff_in_human_terms() -> None:
    old = _without_35(small_policy())
    text = diff_text(old, _edited(old), RUNNING)
    lines = text.plain.splitlines()
    assert lines[0] == "⚠ removes bindings of running domains: EB-domu-1"
    assert lines[1] == "⚠ changes bindings of running domains: EA-domu-1"
    assert "      + sysctl (35)" in lines
    assert any(line.startswith("      + sysctl (35) sub-op 1") for line in lines)
    assert "      tag: EA → EB" in lines
    assert "      max rate: 1000 → 250" in lines
    assert "  - domain EB-domu-1" in lines
    assert "  + tag EC ■ #0ac80a" in lines
    assert not UUID_RE.search(text.plain)
    # Tag names carry their colour.
    eb = text.plain.index("EA → EB") + len("EA → ")
    styles = {str(span.style) for span in text.spans if span.start <= eb < span.end}
    assert any("#2850dc" in s for s in styles), styles


def test_empty_diff_says_no_changes() -> None:
    policy = small_policy()
    assert diff_text(policy, policy, RUNNING).plain == NO_CHANGES


def test_stopped_domains_raise_no_warning() -> None:
    old = _without_35(small_policy())
    stopped = [dict(d, run_state="shutdown") for d in RUNNING]
    assert "⚠" not in diff_text(old, _edited(old), stopped).plain


async def test_staged_diff_and_activation_preview_read_as_names(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    host.active = _without_35(host.active)
    host.staged = _edited(host.active)
    host.run["EB-domu-1"] = "running"
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await enter_editor(pilot, app)
        await wait_for(pilot, lambda: bool(app.current_state.domains))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, TextDialog))
        body = str(app.screen.query_one("#text").render())
        assert "+ sysctl (35)" in body and "tag: EA → EB" in body
        assert not UUID_RE.search(body)
        await pilot.press("escape")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        preview = str(app.screen.query_one("#confirm-body").render())
        assert preview.startswith("⚠ removes bindings of running domains: EB-domu-1")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert ("ActivatePolicy", None) not in host.calls
