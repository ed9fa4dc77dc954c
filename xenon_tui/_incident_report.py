"""An incident's timeline exported as one self-contained HTML file, JSON and Markdown.

The HTML has no external asset: styles inline, the chart an inline SVG, a Content-Security-
Policy that forbids fetching anything, every untrusted string (domain names, notes, diffs
come from hosts and operators) escaped. The JSON is the full record; the HTML and Markdown
list at most :data:`MAX_LISTED` events and say how many they leave out. The JSON's SHA-256
is printed in the other two, so a reader can check they describe the same record.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xenon_tui._timeline import KIND_LABELS, KINDS, Timeline, TimelineEvent
from xps.files import write_atomic

FORMAT = "xenon-incident-report/1"
MAX_LISTED = 2_000
"""Events listed in the HTML and Markdown (all of them are in the JSON)."""
CHART_BUCKETS = 120

_KIND_COLOURS = {
    "violation": "#d64545",
    "action": "#2f80d1",
    "domain": "#9b6bd6",
    "policy": "#2e9e6a",
    "propagation": "#d69a2d",
}


@dataclass(frozen=True)
class ReportMeta:
    """Who made the report, when, and of what.

    Attributes:
        title: The incident or scope (``incident 7: EA-domu-1 on xenon-1``).
        generated_by: The operator (the SSH user or the XE user).
        scope: Hosts/domains it covers, for the header.
        generated_at: Epoch seconds (now by default).
    """

    title: str
    generated_by: str
    scope: str = ""
    generated_at: float = 0.0


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def _event_json(e: TimelineEvent) -> dict[str, Any]:
    return {
        "ts": round(e.ts, 6),
        "time": _iso(e.ts),
        "kind": e.kind,
        "subject": e.subject,
        "summary": e.summary,
        "count": e.count,
        "detail": dict(e.detail),
    }


@dataclass(frozen=True)
class _Formatted:
    """A timeline's events formatted once, for the record and both pages."""

    events: list[TimelineEvent]
    listed: list[TimelineEvent]
    left_out: int

    @classmethod
    def of(cls, timeline: Timeline) -> _Formatted:
        """Every operator action, policy and propagation event is listed, then the newest
        violations and domain events up to MAX_LISTED in all (in time order)."""
        events = list(timeline.events())
        keep_all = {"action", "policy", "propagation"}
        firm = [i for i, e in enumerate(events) if e.kind in keep_all]
        rest_room = max(0, MAX_LISTED - len(firm))
        others = [i for i, e in enumerate(events) if e.kind not in keep_all]
        chosen = sorted(firm + others[len(others) - rest_room :] if rest_room else firm)
        return cls(events, [events[i] for i in chosen], len(events) - len(chosen))


def to_json(timeline: Timeline, meta: ReportMeta) -> str:
    """The full record: every event, every metric series, totals."""
    return _json(timeline, meta, _Formatted.of(timeline))


def _json(timeline: Timeline, meta: ReportMeta, done: _Formatted) -> str:
    at = meta.generated_at or time.time()
    doc = {
        "format": FORMAT,
        "title": meta.title,
        "scope": meta.scope,
        "generated_by": meta.generated_by,
        "generated_at": _iso(at),
        "range": {"start": _iso(timeline.start), "end": _iso(timeline.end)},
        "totals": timeline.totals(),
        "events": [_event_json(e) for e in done.events],
        "series": [
            {"name": s.name, "unit": s.unit, "points": [list(p) for p in s.points]}
            for s in timeline.series
        ],
    }
    return json.dumps(doc, indent=1, sort_keys=False, default=str) + "\n"


def _svg_chart(timeline: Timeline) -> str:
    """Rows of bars per kind and a line per metric, over the timeline's range."""
    start, end = timeline.start, timeline.end
    width, row_h, label_w = 960, 36, 110
    bar_w = (width - label_w) / CHART_BUCKETS
    kinds = [k for k in KINDS if timeline.totals().get(k)]
    height = row_h * (len(kinds) + len(timeline.series)) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline chart">'
    ]
    y = 0
    for kind in kinds:
        counts = timeline.buckets(kind, start, end, CHART_BUCKETS)
        top = max(counts) or 1
        label = html.escape(KIND_LABELS[kind])
        parts.append(f'<text x="4" y="{y + row_h - 12}" font-size="12">{label}</text>')
        for i, c in enumerate(counts):
            if c:
                h = max(1.0, (row_h - 8) * c / top)
                parts.append(
                    f'<rect x="{label_w + i * bar_w:.1f}" y="{y + row_h - 4 - h:.1f}" '
                    f'width="{max(1.0, bar_w - 1):.1f}" height="{h:.1f}" '
                    f'fill="{_KIND_COLOURS[kind]}"><title>{c}</title></rect>'
                )
        y += row_h
    for series in timeline.series:
        values = series.buckets(start, end, CHART_BUCKETS)
        peak = max((v for v in values if v is not None), default=0.0) or 1.0
        points = " ".join(
            f"{label_w + (i + 0.5) * bar_w:.1f},{y + row_h - 4 - (row_h - 8) * v / peak:.1f}"
            for i, v in enumerate(values)
            if v is not None
        )
        parts.append(
            f'<text x="4" y="{y + row_h - 12}" font-size="12">{html.escape(series.name)}</text>'
        )
        if points:
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="#555" stroke-width="1.5"/>'
            )
        y += row_h
    parts.append(
        f'<text x="{label_w}" y="{y + 16}" font-size="11">{html.escape(_iso(start))}</text>'
        f'<text x="{width - 4}" y="{y + 16}" font-size="11" text-anchor="end">'
        f"{html.escape(_iso(end))}</text></svg>"
    )
    return "".join(parts)


def _detail_text(detail: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", {}))


def _quarantines(listed: list[TimelineEvent]) -> list[tuple[TimelineEvent, str, str]]:
    """The quarantine and unquarantine steps performed: (event, form, what moved)."""
    out = []
    for x in listed:
        d = x.detail
        if x.kind != "action" or d.get("step") not in ("quarantine", "unquarantine"):
            continue
        if d.get("form") == "vifs":
            verb = "attached" if d.get("step") == "unquarantine" else "detached"
            out.append((x, "VIFs detached", f"VIFs {verb}: {d.get('vifs') or '—'}"))
        elif d.get("form") == "seclabel":
            moved = f"SecLabel {d.get('label_before')} → {d.get('label_after')}"
            out.append((x, "quarantine SecLabel", moved))
    return out


def to_html(timeline: Timeline, meta: ReportMeta, json_sha256: str) -> str:
    """One self-contained page: header, totals, chart, operator actions, policy versions
    (hashes and diffs), events, and the JSON record's SHA-256."""
    return _html(timeline, meta, json_sha256, _Formatted.of(timeline))


def _html(timeline: Timeline, meta: ReportMeta, json_sha256: str, done: _Formatted) -> str:
    e = html.escape
    listed, left_out = done.listed, done.left_out
    totals = timeline.totals()
    at = meta.generated_at or time.time()
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{e(meta.title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:left;vertical-align:top}pre{background:#f5f5f5;"
        "padding:6px;overflow:auto}code{font-size:12px}</style></head><body>",
        f'<h1 id="title">{e(meta.title)}</h1>',
        '<section id="summary"><h2>Summary</h2><table>',
        f"<tr><th>Scope</th><td>{e(meta.scope or '—')}</td></tr>",
        f"<tr><th>From</th><td>{e(_iso(timeline.start))}</td></tr>",
        f"<tr><th>To</th><td>{e(_iso(timeline.end))}</td></tr>",
        f"<tr><th>Generated</th><td>{e(_iso(at))} by {e(meta.generated_by)}</td></tr>",
    ]
    for kind in KINDS:
        out.append(f"<tr><th>{e(KIND_LABELS[kind])}</th><td>{totals.get(kind, 0)}</td></tr>")
    out.append("</table></section>")
    out.append(f'<section id="timeline"><h2>Timeline</h2>{_svg_chart(timeline)}</section>')
    actions = [x for x in listed if x.kind == "action"]
    out.append('<section id="actions"><h2>Operator actions</h2>')
    out.append(_html_table(actions) if actions else "<p>None recorded.</p>")
    out.append("</section>")
    held = _quarantines(listed)
    if held:
        out.append('<section id="quarantine"><h2>Quarantine</h2><table>')
        out.append("<tr><th>Time (UTC)</th><th>Step</th><th>Form</th><th>Changed</th></tr>")
        for x, form, moved in held:
            out.append(
                f"<tr><td>{e(_iso(x.ts))}</td><td>{e(str(x.detail.get('step')))}</td>"
                f"<td>{e(form)}</td><td>{e(moved)}</td></tr>"
            )
        out.append("</table></section>")
    policies = [x for x in listed if x.kind in ("policy", "propagation")]
    out.append('<section id="policy"><h2>Policy versions and propagation</h2>')
    if not policies:
        out.append("<p>No policy change in this range.</p>")
    for p in policies:
        out.append(f"<h3>{e(_iso(p.ts))} — {e(p.summary)}</h3>")
        facts = {k: v for k, v in p.detail.items() if k != "diff"}
        if facts:
            out.append(f"<p><code>{e(_detail_text(facts))}</code></p>")
        if p.detail.get("diff"):
            out.append(f"<pre>{e(str(p.detail['diff']))}</pre>")
    out.append("</section>")
    out.append('<section id="events"><h2>Events</h2>')
    if left_out:
        out.append(
            f"<p>{left_out} older violation and domain events are left out here; "
            "the JSON record has every event.</p>"
        )
    out.append(_html_table(listed))
    out.append("</section>")
    out.append(
        '<section id="hashes"><h2>Hashes</h2><table>'
        f"<tr><th>JSON record (SHA-256)</th><td><code>{e(json_sha256)}</code></td></tr>"
    )
    for p in policies:
        sha = p.detail.get("sha256")
        if sha:
            out.append(f"<tr><th>{e(p.subject)}</th><td><code>{e(str(sha))}</code></td></tr>")
    out.append("</table></section></body></html>")
    return "\n".join(out) + "\n"


def _html_table(events: list[TimelineEvent]) -> str:
    e = html.escape
    rows = [
        "<table><tr><th>Time (UTC)</th><th>Kind</th><th>Subject</th><th>What</th>"
        "<th>Detail</th></tr>"
    ]
    for x in events:
        rows.append(
            f"<tr><td>{e(_iso(x.ts))}</td><td>{e(x.kind)}</td><td>{e(x.subject)}</td>"
            f"<td>{e(x.summary)}</td><td>{e(_detail_text(x.detail))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (no pipes, no line breaks, no HTML)."""
    return html.escape(" ".join(text.split())).replace("|", "\\|")


def to_markdown(timeline: Timeline, meta: ReportMeta, json_sha256: str) -> str:
    """The report as Markdown (for a ticket): summary, totals, actions, policy, events."""
    return _markdown(timeline, meta, json_sha256, _Formatted.of(timeline))


def _markdown(timeline: Timeline, meta: ReportMeta, json_sha256: str, done: _Formatted) -> str:
    listed, left_out = done.listed, done.left_out
    totals = timeline.totals()
    at = meta.generated_at or time.time()
    lines = [
        f"# {_md(meta.title)}",
        "",
        f"- Scope: {_md(meta.scope or '—')}",
        f"- From {_iso(timeline.start)} to {_iso(timeline.end)}",
        f"- Generated {_iso(at)} by {_md(meta.generated_by)}",
        f"- JSON record SHA-256: `{json_sha256}`",
        "",
        "## Totals",
        "",
        "| Kind | Count |",
        "|---|---|",
    ]
    lines += [f"| {KIND_LABELS[k]} | {totals.get(k, 0)} |" for k in KINDS]
    held = _quarantines(listed)
    if held:
        lines += [
            "",
            "## Quarantine",
            "",
            "| Time (UTC) | Step | Form | Changed |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {_iso(x.ts)} | {_md(str(x.detail.get('step')))} | {_md(form)} | {_md(moved)} |"
            for x, form, moved in held
        ]
    diffs = [x for x in listed if x.kind == "policy" and x.detail.get("diff")]
    if diffs:
        lines += ["", "## Policy diffs"]
    for x in diffs:
        text = str(x.detail["diff"])
        # A fence longer than any run of backticks in the (untrusted) diff.
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
        lines += ["", f"### {_iso(x.ts)} — {_md(x.subject)}: {_md(x.summary)}", ""]
        lines += [f"{fence}diff", text.rstrip("\n"), fence]
    lines += ["", "## Events", ""]
    if left_out:
        lines += [f"{left_out} older violation and domain events are left out (see the JSON).", ""]
    lines += ["| Time (UTC) | Kind | Subject | What | Detail |", "|---|---|---|---|---|"]
    lines += [
        f"| {_iso(x.ts)} | {x.kind} | {_md(x.subject)} | {_md(x.summary)} | "
        f"{_md(_detail_text(x.detail))} |"
        for x in listed
    ]
    return "\n".join(lines) + "\n"


def export(timeline: Timeline, meta: ReportMeta, directory: Path, stem: str) -> list[Path]:
    """Writes ``stem.json``, ``stem.html`` and ``stem.md`` into ``directory`` (created
    0700 if missing), each atomically (temp file, fsync, rename) and 0600; returns them."""
    if not stem or any(c in stem for c in "/\\\0") or stem.startswith("."):
        raise ValueError(f"invalid report name {stem[:64]!r}")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = _Formatted.of(timeline)  # each event formatted once for all three files
    record = _json(timeline, meta, done)
    sha = hashlib.sha256(record.encode()).hexdigest()
    outputs = {
        "json": record,
        "html": _html(timeline, meta, sha, done),
        "md": _markdown(timeline, meta, sha, done),
    }
    paths = []
    for suffix, text in outputs.items():
        path = directory / f"{stem}.{suffix}"
        write_atomic(path, text.encode(), mode=0o600)
        paths.append(path)
    return paths


__all__ = [
    "FORMAT",
    "MAX_LISTED",
    "ReportMeta",
    "export",
    "to_html",
    "to_json",
    "to_markdown",
]
