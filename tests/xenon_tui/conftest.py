"""Console test fixtures: real XPS daemons (real TLS, protocol, client) on 127.0.0.1:0.

Helpers (configs, waits, key sequences, the scripted host) live in ``tests._support``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests._support.scripted_host import ScriptedHost

# The Enterprise screen's world (XE services over three sim hosts with the §4.2 policy).
from tests._support.xe_console import db_url, empty_world, world

__all__ = ["db_url", "empty_world", "scripted", "world"]


@pytest.fixture
async def scripted(start_xps: Any) -> tuple[Any, ScriptedHost]:
    """A real daemon serving a :class:`ScriptedHost`."""
    host = ScriptedHost()
    running = await start_xps(host)
    return running, host
