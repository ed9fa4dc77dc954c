"""An incident's report (issue #14 §2/§3) says which form its quarantine took: the VIF
detach of a real sim host's incident, and its unquarantine, with every VIF (MAC, switch,
IP) in the JSON record, the Markdown and the HTML (parsed)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from xenon_tui._incident_report import ReportMeta, export
from xenon_tui._timeline import Timeline
from xenon_tui.flows._timeline import _step_events
from xps.host import Host

DOM = "EA-domu-1"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._in = dict(attrs).get("id")
            self.sections.setdefault(self._in or "", [])

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.sections[self._in].append(data)


async def test_the_report_names_the_form_and_the_vifs(sim_host: Host, tmp_path: Path) -> None:
    inc = await sim_host.open_incident(DOM, "alice")
    await sim_host.incident_step(inc["id"], "quarantine", "done", "alice", form="vifs")
    record = await sim_host.incident_step(inc["id"], "unquarantine", "done", "alice")
    vifs = record["steps"][1]["vifs"]
    assert vifs
    timeline = Timeline(f"{inc['id']}: {DOM}")
    timeline.add_events(_step_events(record))

    paths = export(timeline, ReportMeta(f"Incident {inc['id']}", "alice"), tmp_path, "inc")

    by = {p.suffix: p.read_text() for p in paths}
    doc = json.loads(by[".json"])
    steps = [e["detail"] for e in doc["events"] if e["kind"] == "action"]
    assert [(d["step"], d.get("form")) for d in steps] == [
        ("capture", None),
        ("quarantine", "vifs"),
        ("unquarantine", "vifs"),
    ]
    for v in vifs:
        want = f"{v['mac']} ({v['switch_name']}, {v['ip']})"
        assert want in steps[1]["vifs"] and want in steps[2]["vifs"]
        assert f"VIFs detached: {want}" in by[".md"]
        assert f"VIFs attached: {want}" in by[".md"]
    assert "## Quarantine" in by[".md"] and "| quarantine | VIFs detached |" in by[".md"]
    page = _Text()
    page.feed(by[".html"])
    section = " ".join(page.sections["quarantine"])
    assert "VIFs detached" in section and all(v["mac"] in section for v in vifs)
    assert "unquarantine" in section


async def test_the_seclabel_form_is_named_too(sim_host: Host, tmp_path: Path) -> None:
    await sim_host.create_domain(DOM)
    inc = await sim_host.open_incident(DOM, "alice")
    record = await sim_host.incident_step(inc["id"], "quarantine", "done", "alice")
    timeline = Timeline(f"{inc['id']}: {DOM}")
    timeline.add_events(_step_events(record))

    paths = export(timeline, ReportMeta(f"Incident {inc['id']}", "alice"), tmp_path, "inc")

    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "| quarantine SecLabel | SecLabel EA-seclabel → Enclave A-quarantine |" in md
