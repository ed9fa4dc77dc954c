"""SVG snapshots of XE's propagate what-if (``P`` on the Enterprise screen, issue #14 §1)
at 160x48 and 80x24: the dialog ``confirm_propagation`` builds from XE's per-host answer.

The answer is fixed (a picture needs the same numbers every run; a sim host's counts are
random): version 42 reaches four hosts: xenon-2 would deny calls its running VM makes
and a channel (the word ``propagate`` must be typed), xenon-3 denies nothing and fixes
recorded violations, xenon-1's slice is unchanged, xenon-4 could not answer. The real
flow (XE over sim hosts) is piloted in tests/xenon_tui/test_whatif_enterprise.py and
tests/e2e/test_xe_flows_serve.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension

from enterprise_store.schemas_whatif import HostWhatIfOut, WhatIfOut
from tests._support.console import wait_for
from tests._support.screens import injected_app
from tests._support.snapshots import SIZES, settle, settled_screenshot
from xenon_tui.dialogs._whatif import WhatIfConfirmDialog, confirm_propagation

DENIED = "the staged PV-Combined profile denies them"
ANSWER = WhatIfOut(
    version=42,
    requested_version=None,
    minutes=10,
    denies_allowed=True,
    unanswered=["xenon-4"],
    hosts=[
        HostWhatIfOut(
            host_id="h1", host="xenon-1", state="unchanged", denies_allowed=False, result=None
        ),
        HostWhatIfOut(
            host_id="h2",
            host="xenon-2",
            state="answered",
            denies_allowed=True,
            result={
                "minutes": 10,
                "denies_allowed": True,
                "denied_calls": [
                    {
                        "text": f"EA-domu-1 made 1,204 grant_table_op/0 calls in the last 10 min; "
                        f"{DENIED}"
                    },
                    {
                        "text": f"EA-domu-1 made 88 event_channel_op/6 calls in the last 10 min; "
                        f"{DENIED}"
                    },
                ],
                "domains": [],
                "channels": [{"a": "EA-domu-1", "b": "EA-domu-2", "active": True, "staged": False}],
                "devices": [],
                "fixed": [],
                "rate_not_evaluated": 0,
            },
        ),
        HostWhatIfOut(
            host_id="h3",
            host="xenon-3",
            state="answered",
            denies_allowed=False,
            result={
                "minutes": 10,
                "denies_allowed": False,
                "denied_calls": [],
                "domains": [],
                "channels": [],
                "devices": [],
                "fixed": [
                    {
                        "domain": "EA-domu-3",
                        "domid": 4,
                        "kind": "profile",
                        "hypercall": 35,
                        "hypercall_name": "sysctl",
                        "subop": 1,
                        "peer": None,
                        "count": 42,
                    },
                ],
                "rate_not_evaluated": 0,
            },
        ),
        HostWhatIfOut(
            host_id="h4",
            host="xenon-4",
            state="unanswered",
            denies_allowed=False,
            result=None,
            error="host 'xenon-4' (192.0.2.14:8443): no answer within 20 s",
        ),
    ],
)


async def _whatif() -> WhatIfOut:
    return ANSWER


@pytest.mark.parametrize("size", SIZES)
async def test_xe_propagate_whatif(snapshot: Any, size: tuple[int, int]) -> None:
    """Drawn by the real console (its theme and CSS) over its host console, which connects
    to nothing: ``confirm_propagation`` asks as the Enterprise screen's ``P`` does."""
    app = injected_app()
    asking = SimpleNamespace(
        data=SimpleNamespace(client=SimpleNamespace(policy=SimpleNamespace(whatif=_whatif))),
        ask=app.push_screen_wait,
    )
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.screen is app.host)
        app.run_worker(confirm_propagation(asking))
        await wait_for(pilot, lambda: isinstance(app.screen, WhatIfConfirmDialog))
        dialog = app.screen
        assert isinstance(dialog, WhatIfConfirmDialog) and dialog.expected == "propagate"
        await settle(pilot, app)
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
