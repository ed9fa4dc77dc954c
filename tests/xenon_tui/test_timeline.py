"""The incident timeline (issue #14 §3): one time axis merged from several kinds of record,
counted per column without building an object per event; the screen's scrub, replay, zoom
and export; the exported HTML (self-contained, every section, hostile names escaped), JSON
and Markdown."""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import stat
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_textual_snapshot import SVGImageExtension
from textual.app import App

from tests._support.console import console_config, stopped_by_msm, wait_connected, wait_for
from tests._support.snapshots import settled_screenshot
from xenon_tui import _timeline
from xenon_tui._incident_report import MAX_LISTED, ReportMeta, export, to_html, to_json
from xenon_tui._timeline import Timeline, TimelineEvent, add_violations, domain_cpu_series
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs._xe_help import XeHelpScreen
from xenon_tui.screens._timeline import TimelineScreen
from xenon_tui.widgets._timeline import TimelineChart, TimelineList, bar_row
from xenon_tui.widgets._viewtabs import ViewTabs

T0 = 1_780_000_000.0  # a fixed time: snapshots and reports do not move
HOSTILE = "<script>alert(1)</script>|x"


def violation(seq: int, ts: float, domain: str = "EA-domu-1", count: int = 1) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": "",
        "ts_ns": int(ts * 1e9),
        "domid": 3,
        "domain": domain,
        "seclabel": "x",
        "seclabel_name": "EA-seclabel",
        "profile": "PV-LinuxGeneric",
        "kind": "profile",
        "hypercall": 20,
        "hypercall_name": "grant_table_op",
        "subop": 0,
        "peer": None,
        "count": count,
    }


def incident() -> Timeline:
    """A small incident: a burst of violations, the operator's answer, a policy fix."""
    tl = Timeline("incident 7: EA-domu-1 on xenon-1")
    rows = [violation(i, T0 + i * 2.0) for i in range(1, 41)]
    rows.append(violation(41, T0 + 50, HOSTILE, count=5))
    add_violations(tl, rows)
    tl.add_events(
        [
            TimelineEvent(
                T0 + 85, "action", "EA-domu-1", "admin paused EA-domu-1", 1, {"user": "admin"}
            ),
            TimelineEvent(T0 + 90, "domain", "EA-domu-1", "EA-domu-1 paused (console admin)"),
            TimelineEvent(
                T0 + 120,
                "policy",
                "generation 8",
                "policy generation 8 active",
                1,
                {"sha256": "ab" * 32, "diff": "+ grant_table_op/0 in PV-LinuxGeneric"},
            ),
            TimelineEvent(T0 + 125, "propagation", "xenon-1", "xenon-1 converged at v8"),
            TimelineEvent(T0 + 130, "action", "EA-domu-1", f"admin: note {HOSTILE}", 1, {}),
        ]
    )
    samples = [
        {
            "ts": T0 + s,
            "host": {"cpu_pct": 10.0},
            "domains": [{"name": "EA-domu-1", "cpu_pct": s % 40}],
        }
        for s in range(0, 140, 5)
    ]
    tl.add_series(domain_cpu_series(samples, "EA-domu-1"))
    return tl


# -- the model -----------------------------------------------------------------------------


def test_events_of_every_kind_merge_in_time_order_and_count_what_they_stand_for() -> None:
    tl = incident()
    kinds = [tl.kind(i) for i in range(len(tl))]
    times = [tl.ts(i) for i in range(len(tl))]
    assert times == sorted(times)
    assert kinds[-5:] == ["action", "domain", "policy", "propagation", "action"]
    assert tl.totals() == {"violation": 41, "action": 2, "domain": 1, "policy": 1, "propagation": 1}
    hostile = next(e for e in tl.events(["violation"]) if e.detail["domain_count"] == 5)
    assert hostile.summary == f"{HOSTILE}: profile grant_table_op/0" and hostile.count == 1
    assert tl.index_at(T0 + 85) == 42  # 41 violation records and the pause
    assert tl.start == T0 and tl.end == T0 + 135  # the CPU series starts first


def test_a_hosts_violation_records_count_once_each_whatever_the_domains_count() -> None:
    """A record's ``count`` is the domain's violation count after it (msm.h): 46 records
    of one domain are 46 violations, not 1 + 2 + … + 46 = 1,081 (the demo's INC-1
    timeline said "violation 1081" and labelled the last record 46 times before)."""
    tl = Timeline("t")
    add_violations(tl, [violation(i, T0 + i, count=i) for i in range(1, 47)])
    assert tl.totals() == {"violation": 46}
    assert sum(tl.buckets("violation", tl.start, tl.end, 10)) == 46
    last = tl.event(45)
    assert last.count == 1 and "×" not in last.summary  # noqa: RUF001
    assert last.detail["domain_count"] == 46
    record = json.loads(to_json(tl, ReportMeta("t", "admin")))
    assert {e["count"] for e in record["events"]} == {1}


@given(
    st.lists(st.tuples(st.floats(0, 1000), st.integers(1, 9)), max_size=200),
    st.floats(0, 500),
    st.floats(0, 1000),
    st.integers(1, 50),
)
def test_bucket_counts_equal_a_direct_count(
    points: list[tuple[float, int]], a: float, b: float, width: int
) -> None:
    start, end = min(a, b), max(a, b)
    tl = Timeline("t")
    records = list(range(len(points)))
    tl.add("violation", records, [p[0] for p in points], lambda r: None, [p[1] for p in points])  # type: ignore[arg-type, return-value]
    got = tl.buckets("violation", start, end, width)
    assert len(got) == width
    step = (end - start) / width if end > start else 1.0
    want = [0] * width
    for ts, count in points:
        if start <= ts <= end:
            i = min(width - 1, int((ts - start) / step)) if end > start else 0
            want[i] += count
    # Edges are found by bisection on the same floats; an event exactly on an edge may land
    # in the next column, never outside: the total and every event's column ± 1 agree.
    assert sum(got) == sum(want)
    for i in range(width):
        assert sum(got[: i + 1]) >= sum(want[:i])


def test_a_zero_width_range_counts_nothing_after_it() -> None:
    # start == end: the columns' starts (one step apart) pass the range's end; session 7
    # counted an event there in one column and -1 times it in the next.
    tl = Timeline("t")
    tl.add("violation", ["r"], [1.0], lambda r: None, [2])  # type: ignore[arg-type, return-value]
    tl.add("action", ["a", "b"], [1.0, 5.0], lambda r: None)  # type: ignore[arg-type, return-value]
    assert tl.buckets("violation", 0.0, 0.0, 3) == [0, 0, 0]
    assert tl.buckets("action", 0.0, 0.0, 3) == [0, 0, 0]
    assert tl.buckets("action", 1.0, 1.0, 3) == [1, 0, 0]


@given(
    st.lists(st.tuples(st.sampled_from(_timeline.KINDS), st.floats(0, 100)), max_size=120),
    st.sampled_from([1, 3]),
    st.integers(1, 30),
)
def test_every_kinds_columns_match_a_count_on_the_same_edges(
    events: list[tuple[str, float]], top: int, width: int
) -> None:
    # Counts all 1 (no sums are taken for the kind most events are of) or 1..3.
    tl = Timeline("t")
    counts = [1 + (i % top) for i in range(len(events))]
    for kind in _timeline.KINDS:
        mine = [(ts, n) for (k, ts), n in zip(events, counts, strict=True) if k == kind]
        rows = list(range(len(mine)))
        tl.add(kind, rows, [m[0] for m in mine], lambda r: None, [m[1] for m in mine])  # type: ignore[arg-type, return-value]
    start, end = tl.start, tl.end
    step = (end - start) / width if end > start else 1.0
    edges = [start + step * i for i in range(width)]
    for kind in _timeline.KINDS:
        want = [0] * width
        for (k, ts), n in zip(events, counts, strict=True):
            if k == kind and start <= ts <= end:
                # bisect_left on the column starts: the last start at or before ts.
                want[max(i for i in range(width) if i == 0 or edges[i] <= ts)] += n
        assert tl.buckets(kind, start, end, width) == want, kind
    assert tl.totals() == {
        k: sum(n for (kk, _), n in zip(events, counts, strict=True) if kk == k)
        for k in _timeline.KINDS
        if any(kk == k for kk, _ in events)
    }


@given(
    st.lists(
        st.tuples(
            st.sampled_from(_timeline.KINDS),
            st.lists(st.integers(0, 50).map(float), max_size=300),
        ),
        max_size=6,
    )
)
def test_any_order_of_adds_gives_one_stable_time_order(
    batches: list[tuple[str, list[float]]],
) -> None:
    """Small batches are inserted in place, large or out-of-order ones re-sort the columns:
    either way events end in time order, equal times in the order they arrived."""
    tl = Timeline("t")
    arrived: list[tuple[float, int, str]] = []
    for kind, times in batches:
        records = [(kind, len(arrived) + i) for i in range(len(times))]
        arrived += [(t, len(arrived) + i, kind) for i, t in enumerate(times)]
        tl.add(kind, records, times, lambda r: TimelineEvent(0.0, r[0], "", str(r[1])))
    want = sorted(arrived, key=lambda a: a[0])
    assert len(tl) == len(want)
    assert [tl.ts(i) for i in range(len(tl))] == [w[0] for w in want]
    shown = [tl.event(i) for i in range(len(tl))]
    assert [(e.kind, int(e.summary)) for e in shown] == [(w[2], w[1]) for w in want]
    assert [tl.kind(i) for i in range(len(tl))] == [w[2] for w in want]
    # Counts per kind, whether the kind is copied out (a minority) or derived (the majority).
    for kind in _timeline.KINDS:
        n = sum(1 for w in want if w[2] == kind)
        assert tl.totals().get(kind, 0) == n
        if want:
            columns = tl.buckets(kind, want[0][0], want[-1][0], 7)
            assert sum(columns) == n and min(columns) >= 0


def test_the_timeline_keeps_at_most_its_bound_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_timeline, "MAX_EVENTS", 100)
    tl = Timeline("t")
    add_violations(tl, [violation(i, T0 + i) for i in range(250)])
    assert len(tl) == 100 and tl.ts(0) == T0 + 150 and tl.event(99).detail["seq"] == 249


def test_a_long_timeline_holds_no_per_event_container_for_the_collector_to_walk() -> None:
    """A new list of 100k references (a copy of the records, a formatter per event) is walked
    by the garbage collector's next young collections, before the first frame: ~35 ms of a
    100k timeline's first frame on a slow machine. The timeline holds arrays and the records'
    own sequence, and a few events inserted among them split runs, not a copy."""
    n = 5_000
    rows = [violation(i, T0 + i) for i in range(n)]
    tl = Timeline("t")
    add_violations(tl, rows)
    early = TimelineEvent(T0 - 5, "action", "EA-domu-1", "admin paused EA-domu-1")
    middle = TimelineEvent(T0 + n / 2 + 0.5, "policy", "generation 2", "generation 2 active")
    tl.add_events([early, middle])
    assert len(tl) == n + 2
    walked: list[object] = []
    seen, todo = {id(rows)}, [tl]
    while todo:
        obj = todo.pop()
        for ref in gc.get_referents(obj):
            if id(ref) in seen or isinstance(ref, type | ModuleType) or callable(ref):
                continue
            seen.add(id(ref))
            if gc.is_tracked(ref):
                walked.append(ref)
                todo.append(ref)
    big = [type(o).__name__ for o in walked if len(gc.get_referents(o)) >= n]
    assert big == []
    # The same events, in the same order, one by one or all at once.
    assert tl.event(0) == early and tl.event(n // 2 + 2) == middle
    assert list(tl.events()) == [tl.event(i) for i in range(len(tl))]
    assert tl.event(-1).detail["seq"] == n - 1 and tl.event(1).detail["seq"] == 0


def test_kinds_are_checked_and_times_pair_with_records() -> None:
    tl = Timeline("t")
    with pytest.raises(ValueError, match="unknown timeline kind"):
        tl.add("coffee", [1], [1.0], lambda r: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="one time"):
        tl.add("action", [1, 2], [1.0], lambda r: None)  # type: ignore[arg-type, return-value]


def test_a_hosts_msm_log_gives_policy_versions_operator_actions_and_the_msms_own() -> None:
    lines = [
        "2026-12-07 04:10:00 MSM: policy 'enterprise' generation 8 in force",
        '2026-12-07 04:10:05 MSM: domain 3 (EA-domu-1): violations addressed by admin: "fixed"',
        "2026-12-07 04:10:06 MSM: domain 3 (EA-domu-1) stopped: maximum violations reached (50)",
        "not a log line",
        "2026-13-99 04:10:06 MSM: a date that does not exist",
    ]
    tl = Timeline("xenon-1")
    _timeline.add_host_log(tl, lines, "xenon-1")
    events = list(tl.events())
    assert [(e.kind, e.subject) for e in events] == [
        ("policy", "xenon-1 generation 8"),
        ("action", "EA-domu-1"),
        ("domain", "EA-domu-1"),
    ]
    assert events[0].ts == 1_796_616_600.0  # 2026-12-07 04:10:00 UTC
    assert events[1].summary.endswith('violations addressed by admin: "fixed"')


def test_bars_scale_to_the_row_and_a_lone_event_shows() -> None:
    assert bar_row([0, 1, 100]) == " ▁█"
    assert bar_row([0, 0]) == "  "
    assert bar_row([None, 3.0]) == " █"


# -- the report ----------------------------------------------------------------------------


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: set[str] = set()
        self.refs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in ("src", "href", "xlink:href", "action") and value:
                self.refs.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_report_is_self_contained_with_every_section(tmp_path: Path) -> None:
    meta = ReportMeta("incident 7: EA-domu-1 on xenon-1", "admin", "xenon-1", T0 + 200)
    files = export(incident(), meta, tmp_path / "reports", "incident-7")
    assert [p.name for p in files] == ["incident-7.json", "incident-7.html", "incident-7.md"]
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    page = (tmp_path / "reports" / "incident-7.html").read_text()
    parser = _Sections()
    parser.feed(page)
    parser.close()
    assert parser.ids[:7] == [
        "title",
        "summary",
        "timeline",
        "actions",
        "policy",
        "events",
        "hashes",
    ]
    assert parser.refs == [] and "script" not in parser.tags and "link" not in parser.tags
    assert "svg" in parser.tags and "rect" in parser.tags and "polyline" in parser.tags
    assert "default-src 'none'" in page
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = "".join(parser.text)
    record = (tmp_path / "reports" / "incident-7.json").read_bytes()
    assert hashlib.sha256(record).hexdigest() in text
    assert "ab" * 32 in text and "+ grant_table_op/0 in PV-LinuxGeneric" in text
    assert "admin paused EA-domu-1" in text and "by admin" in text
    markdown = (tmp_path / "reports" / "incident-7.md").read_text()
    assert hashlib.sha256(record).hexdigest() in markdown
    assert "\\|x" in markdown and "<script>" not in markdown  # no table break, no HTML


BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (chromium-headless-shell)")
def test_a_headless_browser_renders_every_section_of_the_report(tmp_path: Path) -> None:
    assert BROWSER is not None
    meta = ReportMeta("incident 7: EA-domu-1 on xenon-1", "admin", "xenon-1", T0 + 200)
    page = export(incident(), meta, tmp_path, "incident-7")[1]
    argv = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    dom = subprocess.run(
        [*argv, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90
    ).stdout
    parser = _Sections()
    parser.feed(dom)  # the DOM as the browser built it, not our text
    sections = ["title", "summary", "timeline", "actions", "policy", "events", "hashes"]
    assert parser.ids[:7] == sections
    assert "rect" in parser.tags and "polyline" in parser.tags
    assert "script" not in parser.tags  # the hostile name stayed text
    assert HOSTILE in "".join(parser.text)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*argv, f"--screenshot={shot}", "--window-size=1100,1400", page.as_uri()],
        capture_output=True,
        timeout=90,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_the_json_record_has_every_event_and_the_pages_say_what_they_leave_out() -> None:
    tl = Timeline("big")
    add_violations(tl, [violation(i, T0 + i) for i in range(MAX_LISTED + 500)])
    tl.add_events([TimelineEvent(T0, "action", "x", "the first thing the operator did")])
    meta = ReportMeta("big", "admin", generated_at=T0)
    doc = json.loads(to_json(tl, meta))
    assert doc["format"] == "xenon-incident-report/1"
    assert len(doc["events"]) == MAX_LISTED + 501
    page = to_html(tl, meta, "0" * 64)
    assert "501 older violation and domain events are left out" in page
    assert "the first thing the operator did" in page  # actions are always listed


def test_an_export_formats_each_event_once_and_lists_it_once(tmp_path: Path) -> None:
    """The JSON, HTML and Markdown come from one formatted list: session 7 formatted every
    listed event three times (the record, then the listing again for each page)."""
    formatted: Counter[int] = Counter()

    def counting(v: dict[str, Any]) -> TimelineEvent:
        formatted[v["seq"]] += 1
        return _timeline.violation_event(v)

    tl = Timeline("counted")
    rows = [violation(i, T0 + i) for i in range(1, 301)]
    tl.add("violation", rows, [r["ts_ns"] / 1e9 for r in rows], counting)
    tl.add_events([TimelineEvent(T0 + 7.5, "action", "EA-domu-1", "admin paused EA-domu-1")])
    meta = ReportMeta("counted", "admin", "xenon-1", T0 + 400)
    paths = {p.suffix: p for p in export(tl, meta, tmp_path, "counted")}
    assert set(formatted) == set(range(1, 301))
    assert max(formatted.values()) == 1
    record = json.loads(paths[".json"].read_text())
    assert len(record["events"]) == 301
    markdown = paths[".md"].read_text()
    page = paths[".html"].read_text()
    events_html = page[page.index('<section id="events">') :]
    for seq in (1, 150, 300):
        assert sum(f"seq={seq}," in line for line in markdown.splitlines()) == 1
        assert events_html.count(f"seq={seq},") == 1
    assert markdown.count("admin paused EA-domu-1") == 1
    assert events_html.count("admin paused EA-domu-1") == 1


def test_a_report_name_cannot_leave_its_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid report name"):
        export(incident(), ReportMeta("t", "admin"), tmp_path, "../escape")


# -- from the host console, against a real sim daemon ---------------------------------------


async def test_t_opens_the_servers_timeline_with_its_violations_and_its_msm_log(
    xps_daemon: Any, xps_pki: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MSM stops a misbehaving domain; an operator resolves it with a note (through the
    daemon, as another console would); `T` shows the violations, the MSM stopping it and
    the operator's action on one axis, and `x` exports them."""
    monkeypatch.chdir(tmp_path)  # the report goes to ./xenon-reports
    client = await stopped_by_msm(xps_daemon)
    await client.address_violations("EA-domu-1", user="alice", note="profile fixed", unpause=True)
    app = XenonConsole(console_config(xps_pki, xps_daemon, tmp=tmp_path))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        state = app.current_state
        assert state is not None
        await wait_for(pilot, lambda: state.violations.total > 0)
        await pilot.press("T")
        await wait_for(pilot, lambda: isinstance(app.screen, TimelineScreen), 30)
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        totals = screen.timeline.totals()
        assert totals["violation"] >= 1 and totals["action"] >= 1 and totals["domain"] >= 1
        summaries = [e.summary for e in screen.timeline.events(["action", "domain", "policy"])]
        assert any('violations addressed by alice: "profile fixed"' in s for s in summaries)
        assert any("maximum violations reached" in s for s in summaries)
        assert any("in force" in s for s in summaries)  # the policy the daemon started with
        await pilot.press("x")
        assert {p.parent for p in screen.exported} == {tmp_path / "xenon-reports"}
        # The host console's app keys are not the timeline's: "4" and "m" do nothing under
        # it, "?" is the timeline's own help.
        tabs = app.host.query_one(ViewTabs)
        mode, view = app.host.mode, tabs.active
        await pilot.press("4", "m", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, XeHelpScreen))
        assert isinstance(help_screen := app.screen, XeHelpScreen)
        assert ("Timeline", "left_square_bracket", "Prev event", "timeline.prev") in (
            help_screen._rows
        )
        await pilot.press("escape")
        assert app.screen is screen and (app.host.mode, tabs.active) == (mode, view)
        await pilot.press("escape")
        assert not isinstance(app.screen, TimelineScreen)
    await client.close()


# -- the screen ----------------------------------------------------------------------------


class _Host(App[None]):
    def __init__(self, screen: TimelineScreen) -> None:
        super().__init__()
        self._timeline_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._timeline_screen)


def _screen(tmp_path: Path) -> TimelineScreen:
    meta = ReportMeta("incident 7: EA-domu-1 on xenon-1", "admin", "xenon-1", T0 + 200)
    return TimelineScreen(incident(), meta, tmp_path / "reports")


async def test_scrub_zoom_replay_and_export(tmp_path: Path) -> None:
    screen = _screen(tmp_path)
    app = _Host(screen)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        n = len(screen.timeline)
        assert screen.index == n  # opens at the end: everything has happened
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.index == n - 2 and screen.cursor == T0 + 120  # the policy version
        listing = screen.query_one(TimelineList)
        assert "policy generation 8 active" in str(listing.render())
        await pilot.press("g")
        assert screen.index == 1 and screen.cursor == T0 + 2
        await pilot.press("right_square_bracket")
        assert screen.index == 2
        chart = screen.query_one(TimelineChart)
        full = chart.span
        await pilot.press("plus")
        start, end = chart.span
        assert end - start == pytest.approx((full[1] - full[0]) / 2)
        assert start <= screen.cursor <= end
        await pilot.press("minus", "minus")
        assert chart.span == full
        await pilot.press("space")  # replay from the cursor
        before = screen.cursor
        await wait_for(pilot, lambda: screen.cursor > before + 5, 10)
        await pilot.press("space")
        stopped = screen.cursor
        await pilot.pause(0.3)
        assert screen.cursor == stopped  # paused: no timer left running
        assert screen._player is None
        await pilot.press("x")
        assert sorted(p.suffix for p in screen.exported) == [".html", ".json", ".md"]
        assert all(p.parent == tmp_path / "reports" for p in screen.exported)
        await pilot.press("escape")
        assert app.screen is not screen


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
async def test_snapshot(tmp_path: Path, snapshot: Any, size: tuple[int, int]) -> None:
    app = _Host(_screen(tmp_path))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        svg = await settled_screenshot(pilot, app)
    assert snapshot.use_extension(SVGImageExtension) == svg
