"""The on-disk policy store: atomic files, the activation journal, recovery after a crash."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xps.host import HostStateError, NotFound
from xps.host._policystore import PolicyStore, sha256_hex

OLD = b"<policy>old</policy>\n"
NEW = b"<policy>new</policy>\n"
PREV = b"<policy>prev</policy>\n"


class Crash(Exception):
    pass


def _crash_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(name: str) -> None:
        if name == step:
            raise Crash(name)

    return checkpoint


def _store_with_two_generations(state: Path) -> PolicyStore:
    store = PolicyStore(state)
    store.activate(PREV, "initial")
    store.activate(OLD, "initial")
    return store


def test_activation_moves_active_to_previous(tmp_path: Path) -> None:
    store = _store_with_two_generations(tmp_path)
    assert store.get("active").data == OLD and store.get("active").generation == 2
    assert store.get("previous").data == PREV and store.get("previous").generation == 1
    store.stage(NEW)
    assert store.get("staged").generation is None
    assert store.activate(NEW, "staged") == 3
    assert store.get("active").data == NEW and store.get("previous").data == OLD
    assert not store.has("staged")
    state = json.loads((tmp_path / "policy" / "state.json").read_bytes())
    assert state["generation"] == 3 and state["active_sha256"] == sha256_hex(NEW)
    for f in (tmp_path / "policy").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert sorted(p.name for p in (tmp_path / "policy").iterdir()) == [
        "active.xml",
        "previous.xml",
        "state.json",
    ]


def test_missing_policies(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path)
    assert store.generation == 0
    for which in ("active", "staged", "previous"):
        with pytest.raises(NotFound):
            store.get(which)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("step", "expect_new"),
    [
        ("incoming", False),
        ("journal", True),
        ("previous", True),
        ("active", True),
        ("state", True),
        ("done", True),
    ],
)
def test_crash_at_each_step_recovers_whole(tmp_path: Path, step: str, expect_new: bool) -> None:
    _store_with_two_generations(tmp_path)
    crashing = PolicyStore(tmp_path, checkpoint=_crash_at(step))
    crashing.stage(NEW)
    with pytest.raises(Crash):
        crashing.activate(NEW, "staged")
    # "restart": a fresh store over the same directory
    store = PolicyStore(tmp_path)
    active, previous = store.get("active"), store.get("previous")
    if expect_new:
        assert active.data == NEW and active.generation == 3
        assert previous.data == OLD and previous.generation == 2
        assert not store.has("staged")
        assert store.recovered in ("rolled-forward", None)
    else:
        assert active.data == OLD and active.generation == 2
        assert previous.data == PREV
        assert store.has("staged")  # the staged policy is still there to retry
    leftovers = {p.name for p in (tmp_path / "policy").iterdir()}
    assert not leftovers & {"incoming.xml", "activating.json"}
    assert not any(name.endswith(".tmp") for name in leftovers)


def test_rollback_swaps_active_and_previous(tmp_path: Path) -> None:
    store = _store_with_two_generations(tmp_path)
    store.activate(store.get("previous").data, "previous")
    assert store.get("active").data == PREV and store.get("previous").data == OLD
    assert store.generation == 3


def test_crash_during_rollback_recovers(tmp_path: Path) -> None:
    _store_with_two_generations(tmp_path)
    crashing = PolicyStore(tmp_path, checkpoint=_crash_at("previous"))
    with pytest.raises(Crash):
        # previous.xml is overwritten with the old active before active.xml is replaced:
        # the journal's incoming copy is what makes this recoverable.
        crashing.activate(crashing.get("previous").data, "previous")
    store = PolicyStore(tmp_path)
    assert store.get("active").data == PREV and store.get("previous").data == OLD


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    store = _store_with_two_generations(tmp_path)
    junk = store.dir / ".active.xml.abc123.tmp"
    junk.write_bytes(b"half")
    PolicyStore(tmp_path)
    assert not junk.exists()


def test_corrupt_state_file_is_an_error(tmp_path: Path) -> None:
    _store_with_two_generations(tmp_path)
    (tmp_path / "policy" / "state.json").write_text("{not json")
    with pytest.raises(HostStateError):
        PolicyStore(tmp_path)
