"""The bounded violation window: newest first, eviction, incremental filter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xenon_tui._ring import ViolationWindow


def _rows(start: int, count: int) -> list[dict[str, object]]:
    return [
        {"seq": i, "domain": f"d{i % 3}", "kind": "profile"} for i in range(start, start + count)
    ]


def test_newest_first_and_bounded() -> None:
    window = ViolationWindow(capacity=5)
    window.extend(_rows(1, 8))
    assert len(window) == 5 and window.total == 8
    assert [window.row(i)["seq"] for i in range(5)] == [8, 7, 6, 5, 4]


def test_filter_follows_new_rows_and_eviction() -> None:
    window = ViolationWindow(capacity=6)
    window.extend(_rows(0, 6))
    window.set_filter("D1")
    assert [window.row(i)["seq"] for i in range(len(window))] == [4, 1]
    assert window.extend(_rows(6, 3)) == 1  # seq 7 matches
    # seq 0..2 were evicted: seq 1 is gone from the filtered view too.
    assert [window.row(i)["seq"] for i in range(len(window))] == [7, 4]
    window.set_filter("")
    assert len(window) == 6


@settings(max_examples=60, deadline=None)
@given(
    cap=st.integers(1, 40),
    batches=st.lists(st.integers(0, 30), max_size=8),
    needle=st.sampled_from(["", "d0", "d2"]),
)
def test_matches_a_plain_list(cap: int, batches: list[int], needle: str) -> None:
    window = ViolationWindow(capacity=cap)
    window.set_filter(needle)
    everything: list[dict[str, object]] = []
    for count in batches:
        rows = _rows(len(everything), count)
        everything += rows
        window.extend(rows)
    kept = everything[-cap:]
    expected = [r["seq"] for r in reversed(kept) if needle in str(r["domain"])]
    assert [window.row(i)["seq"] for i in range(len(window))] == expected


def test_ring_memory_grows_with_rows_then_wraps() -> None:
    window = ViolationWindow(capacity=4)
    assert len(window._buf) == 0  # nothing reserved up front
    window.extend([{"seq": i} for i in range(3)])
    assert len(window._buf) == 3 and [window.row(i)["seq"] for i in range(3)] == [2, 1, 0]
    window.extend([{"seq": i} for i in range(3, 7)])
    assert len(window._buf) == 4
    assert [window.row(i)["seq"] for i in range(len(window))] == [6, 5, 4, 3]
    window.clear()
    assert len(window) == 0 and len(window._buf) == 0
    window.extend([{"seq": 9}])
    assert window.row(0)["seq"] == 9
