"""Approvals in the Enterprise view (key ``V``, issue #14 §4) against real XE services over
sim hosts with the §4.2 policy: alice (admin) changes a VM of an enclave that requires a
second admin; root sees the version, its diff and who may approve, and approves it with a
note; alice's own attempt is refused by XE and the refusal is shown; propagation is held
until the approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input, OptionList, Static

from enterprise_store.services import Principal
from tests._support.console import wait_for
from tests._support.snapshots import settled_screenshot
from tests._support.xe_approvals import alice, alice_changes_a_vm, open_approvals
from tests._support.xe_console import World, ready
from tests._support.xe_whatif import DOM, narrowing
from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, WhatIfReport
from xenon_tui.screens._xe_approvals import XeApprovalsScreen


async def _alice_narrows_a_running_vm(world: World) -> tuple[int, str]:
    """Alice narrows the profile of Enclave A's running VM (Enclave A requires approval):
    the version's what-if denies calls the VM makes on its host. (version, host name)."""
    services = world.services
    by = await alice(world)
    n = await narrowing(services, world.hosts)
    await services.policy.update_enclave(by, n.vm.enclave, {"requires_approval": True})
    written = await services.policy.update_seclabel(by, n.label.id, {"profile": n.profile})
    return written.version, n.host.name


def _decisions(screen: XeApprovalsScreen) -> list[str]:
    """The decisions the screen offers (what its footer and help would list)."""
    actions = (b.binding.action for b in screen.active_bindings.values())
    return sorted(a for a in actions if a.startswith("decide"))


def _whatif_text(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return str(screen.query_one("#approvals-whatif-report", WhatIfReport).text)


def _text(app: object, selector: str) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    return str(screen.query_one(selector, Static).render())


async def test_a_second_admin_approves_in_the_console_and_the_author_cannot(
    world: World, tmp_path: Path
) -> None:
    version = await alice_changes_a_vm(world)
    assert await world.services.policy.approval_hold() is not None

    app = world.console(await world.link("alice"), tmp_path / "alice")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        await pilot.press("a")
        assert screen.query_one("#approvals-note", Input).has_focus
        await pilot.press(*"mine", "enter")
        await wait_for(pilot, lambda: "XE refused" in _text(app, "#approvals-status"), 30)
        assert "admins other than alice" in _text(app, "#approvals-status")
    assert await world.services.policy.approval_hold() is not None

    app = world.console(await world.link("root"), tmp_path / "root")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        assert screen.answer is not None and screen.answer.held
        [item] = screen.answer.items
        assert (item.version, item.state, item.authors) == (version, "pending", ["alice"])
        shown = _text(app, "#approvals-text")
        assert f"version {version}" in shown and "admins other than alice" in shown
        assert "-       memory" in shown and "+       memory" in shown
        assert screen.query_one(OptionList).option_count == 1
        assert _decisions(screen) == ["decide('approve')", "decide('reject')"]
        # A note is required: Enter on an empty note sends nothing.
        await pilot.press("a", "enter")
        assert "A note is required" in _text(app, "#approvals-status")
        await pilot.press(*"db needs it", "enter")
        await wait_for(pilot, lambda: "approved" in _text(app, "#approvals-status"), 30)
        await wait_for(pilot, lambda: "Nothing waits" in _text(app, "#approvals-text"), 30)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, XeApprovalsScreen), 30)
    assert await world.services.policy.approval_hold() is None
    [done] = await world.services.policy.approvals(Principal.system(), version=version)
    assert (done.state, done.decided_by, done.note) == ("approved", "root", "db needs it")


async def test_the_what_if_is_beside_the_diff_and_a_denial_needs_the_host_typed(
    world: World, tmp_path: Path
) -> None:
    """Issue #14 §4: the approver reviews the diff *and* the what-if. The version narrows
    the running VM's profile, so its host would deny calls the VM makes: the what-if says
    so beside the diff, and approving needs that host's name typed (a wrong name or Esc
    approves nothing). An auditor reads the same what-if."""
    version, host = await _alice_narrows_a_running_vm(world)

    app = world.console(await world.link("aud"), tmp_path / "aud")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        await wait_for(pilot, lambda: version in screen.whatifs, 60)
        await pilot.pause()
        assert f"⚠ Would deny behaviour allowed now on {host}" in _whatif_text(app)

    app = world.console(await world.link("root"), tmp_path / "root")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        await wait_for(pilot, lambda: version in screen.whatifs, 60)
        await pilot.pause()
        shown = _whatif_text(app)
        assert shown.splitlines()[0].startswith(f"What-if of version {version} on its hosts")
        assert f"⚠ Would deny behaviour allowed now on {host}" in shown
        assert f"{DOM} made" in shown  # the denied calls' text
        body = screen.query_one("#approvals-body")
        assert not body.has_class("-narrow")  # beside the diff at 160 columns

        await pilot.press("a", *"ok", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), 30)
        dialog = app.screen
        assert isinstance(dialog, WhatIfConfirmDialog) and dialog.expected == host
        assert (
            f"⚠ Would deny behaviour allowed now on {host}"
            in dialog.query_one("#whatif", WhatIfReport).text
        )
        await pilot.press(*"xenon-0", "enter")  # the wrong name: nothing is done
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press("escape")
        await wait_for(pilot, lambda: "was not approved" in _text(app, "#approvals-status"), 30)
        assert await world.services.policy.approval_hold() is not None

        await pilot.press("a", *"ok", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), 30)
        await pilot.press(*host, "enter")
        await wait_for(pilot, lambda: "approved" in _text(app, "#approvals-status"), 30)
    assert await world.services.policy.approval_hold() is None
    [done] = await world.services.policy.approvals(Principal.system(), version=version)
    assert (done.state, done.decided_by) == ("approved", "root")


@pytest.mark.parametrize("user", ["aud", "oper"])
async def test_only_admins_are_offered_a_decision_and_xe_refuses_one_forced(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    """Issue #13: an auditor or operator reads the waiting version, but ``a`` and ``r``
    are not offered (hidden, not disabled: no binding, the status line says who may, the
    keys open nothing). Through a patched screen that offers them anyway, XE refuses each
    decision with its own message, and the version still waits."""
    version = await alice_changes_a_vm(world)
    link = await world.link(user)
    app = world.console(link, tmp_path / "offered-nothing")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        assert screen.answer is not None
        assert [i.version for i in screen.answer.items] == [version]
        assert _decisions(screen) == []
        status = _text(app, "#approvals-status")
        assert "approve/reject: admins only" in status and "a approve" not in status
        await pilot.press("a")
        await pilot.press("r")
        assert screen.verb is None
        assert not screen.query_one("#approvals-note", Input).has_class("-open")

    monkeypatch.setattr(XeApprovalsScreen, "decides", property(lambda self: True))
    app = world.console(link, tmp_path / "patched")
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        assert _decisions(screen) == ["decide('approve')", "decide('reject')"]
        for verb in ("approve", "reject"):
            await pilot.press(verb[0])
            assert screen.query_one("#approvals-note", Input).has_focus
            await pilot.press(*f"{user} tries", "enter")
            refused = f"XE refused: {verb} a policy version needs the admin role (you are "
            await wait_for(pilot, lambda r=refused: r in _text(app, "#approvals-status"), 60)
            assert f"(you are {link.role})" in _text(app, "#approvals-status")
    [waiting] = await world.services.policy.approvals(Principal.system(), version=version)
    assert (waiting.state, waiting.decided_by) == ("pending", None)
    assert await world.services.policy.approval_hold() is not None


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(world: World, tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    version = await alice_changes_a_vm(world)
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        await wait_for(pilot, lambda: version in screen.whatifs, 60)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg


def test_the_what_if_lines_say_which_version_they_are_about() -> None:
    """An older waiting version's what-if is the newest version's (XE keeps only its
    policy): the pane says so; an XE error is shown with its message; while XE answers the
    pane says the hosts are being asked."""
    from enterprise_store.client import HostWhatIfOut, WhatIfOut
    from xenon_tui._xe import EnterpriseError
    from xenon_tui.screens._xe_approvals import approval_whatif_lines

    answer = WhatIfOut(
        version=9,
        requested_version=7,
        minutes=10,
        denies_allowed=False,
        unanswered=["xenon-3"],
        hosts=[
            HostWhatIfOut(host_id="h1", host="xenon-1", state="unchanged", denies_allowed=False),
            HostWhatIfOut(
                host_id="h3",
                host="xenon-3",
                state="unanswered",
                denies_allowed=False,
                error="host 'xenon-3' (127.0.0.1:9): no answer within 20 s",
            ),
        ],
    )
    lines = [text for _, text in approval_whatif_lines(7, answer)]
    assert lines[0] == (
        "What-if of version 9, the newest: it holds version 7's change and newer ones (last 10 min)"
    )
    assert "Could not answer: xenon-3" in lines
    assert "xenon-3: could not answer: host 'xenon-3' (127.0.0.1:9): no answer within 20 s" in (
        lines
    )
    same = answer.model_copy(update={"version": 7, "requested_version": None})
    assert approval_whatif_lines(7, same)[0][1].startswith("What-if of version 7 on its hosts")
    failed = approval_whatif_lines(7, EnterpriseError("no answer from XE in 60 s"))
    assert ("warn", "What-if unavailable: XE: no answer from XE in 60 s") in failed
    assert "asking the hosts" in approval_whatif_lines(7, None)[1][1]


async def test_a_host_that_cannot_answer_asks_for_a_confirmation(
    world: World, tmp_path: Path
) -> None:
    """The VM's host is down: its what-if is named as unanswered with why, and approving
    asks for a confirmation (no name to type: nothing is known to be denied); Esc
    approves nothing, Approve approves."""
    version = await alice_changes_a_vm(world)
    policy = await world.services.policy.current()
    host = policy.host_of(policy.vm_named("EA-domu-1"))
    assert host is not None
    await next(h for h in world.hosts if h.name == host.name).stop()

    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        screen = await open_approvals(pilot, app)
        await wait_for(pilot, lambda: version in screen.whatifs, 60)
        await pilot.pause()
        assert f"{host.name}: could not answer: host '{host.name}'" in _whatif_text(app)

        async def approve_asks() -> None:
            await pilot.press("a", *"ok", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog), 30)
            dialog = app.screen
            assert isinstance(dialog, WhatIfConfirmDialog) and dialog.expected is None

        await approve_asks()
        await pilot.press("escape")
        await wait_for(pilot, lambda: "was not approved" in _text(app, "#approvals-status"), 30)
        await approve_asks()
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: "approved" in _text(app, "#approvals-status"), 30)
    [done] = await world.services.policy.approvals(Principal.system(), version=version)
    assert (done.state, done.decided_by) == ("approved", "root")
