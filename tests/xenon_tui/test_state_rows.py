"""A server's domain rows follow pushes without changing the data a message brought: the
snapshots' injected data was changed by an earlier test's pushed samples (CPU 202.0 in every
Domains picture of the clean CI run, where the tests share a worker process)."""

from __future__ import annotations

import copy

import pytest

from xenon_tui._config import ServerEntry
from xenon_tui._state import ServerState

pytestmark = pytest.mark.timeout(30)


def test_a_pushed_sample_leaves_the_brought_rows_alone() -> None:
    brought = [{"domid": 1, "name": "EA-domu-1", "cpu_s": 1.5, "violations": 0}]
    kept = copy.deepcopy(brought)
    state = ServerState(ServerEntry("xenon-host-1", 8443))
    state.domains = brought
    given = state.domains
    assert state.take_sample({"domains": [{"domid": 1, "name": "EA-domu-1", "cpu_s": 202.0}]})
    assert state.take_counts([{"domid": 1, "domain": "EA-domu-1", "count": 3}])
    assert brought == kept and given is brought
    assert state.domains == [{"domid": 1, "name": "EA-domu-1", "cpu_s": 202.0, "violations": 3}]


def test_an_unchanged_sample_changes_nothing() -> None:
    state = ServerState(ServerEntry("xenon-host-1", 8443))
    state.domains = rows = [{"domid": 1, "name": "a", "cpu_s": 1.0}]
    assert not state.take_sample({"domains": [{"domid": 1, "name": "a", "cpu_s": 1.0}]})
    assert state.domains is rows
