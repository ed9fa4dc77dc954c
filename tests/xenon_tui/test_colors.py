"""Themes stay readable after Textual down-converts them for 256- and 16-colour terminals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.color import Color, ColorSystem
from rich.segment import Segment
from textual.geometry import Region
from textual.widget import Widget

from tests._support.console import console_config, wait_connected, wait_for
from themes import THEMES
from xenon_tui.app import XenonConsole
from xenon_tui.widgets import ModeBand, ServersPanel, ViolationLog

SYSTEMS = {"256": ColorSystem.EIGHT_BIT, "standard": ColorSystem.STANDARD}
# WCAG contrast of text against its background; 3:1 is the large/bold-text minimum, and
# every key style below is bold or a full-width band.
MIN_CONTRAST = 3.0


def _luminance(color: Color) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg: Color, bg: Color) -> float:
    """WCAG contrast ratio of two colours as the terminal shows them."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _text_segments(widget: Widget, line: int = 0) -> list[Segment]:
    width = widget.size.width
    strips = widget.render_lines(Region(0, line, width, 1))
    return [s for s in strips[0] if s.text.strip() and s.style is not None]


def _line_text(widget: Widget, y: int) -> str:
    return "".join(s.text for s in _text_segments(widget, y))


def _worst(segments: list[Segment], system: ColorSystem) -> tuple[float, str]:
    """Lowest contrast of the words; glyphs (status dots) only need another colour."""
    worst = (99.0, "")
    for seg in segments:
        style = seg.style
        assert style is not None and style.color is not None and style.bgcolor is not None
        fg, bg = style.color.downgrade(system), style.bgcolor.downgrade(system)
        if not any(ch.isalnum() for ch in seg.text):
            assert fg != bg, f"{seg.text!r} vanishes: {fg} on {bg}"
            continue
        ratio = contrast(fg, bg)
        if ratio < worst[0]:
            worst = (ratio, f"{seg.text.strip()[:20]!r} {fg.name}/{bg.name} -> {fg}/{bg}")
    return worst


async def _key_styles(pilot: Any, app: XenonConsole) -> dict[str, list[Segment]]:
    band, log = app.query_one(ModeBand), app.query_one(ViolationLog)
    styles: dict[str, list[Segment]] = {"live band + alert": _text_segments(band)}
    assert "new violations" in "".join(s.text for s in styles["live band + alert"])
    await pilot.press("m")
    await wait_for(pilot, lambda: band.has_class("-editor"))
    styles["editor band"] = _text_segments(band)
    await pilot.press("m")
    await wait_for(pilot, lambda: band.has_class("-live"))
    panel = app.query_one(ServersPanel)
    line = next(y for y in range(panel.size.height) if "simhost" in _line_text(panel, y))
    styles["selected server"] = _text_segments(panel, line)
    log.focus()
    await pilot.pause()
    styles["selected violation"] = _text_segments(log, log.cursor - int(log.scroll_y))
    app.screen.set_focus(app.query_one(ServersPanel))
    await pilot.pause()
    return styles


async def test_key_styles_readable_in_256_and_16_colours(
    scripted: Any, xps_pki: Any, tmp_path: Path
) -> None:
    running, host = scripted
    app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
    problems: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_connected(pilot, app)
        host.emit_violations(3)
        band = app.query_one(ModeBand)
        await wait_for(pilot, lambda: band.alert == 3)
        for theme in THEMES:
            app.theme = theme.name
            await pilot.pause()
            styles = await _key_styles(pilot, app)
            for key, segments in styles.items():
                assert segments, f"{theme.name}: no text in {key}"
                for label, system in SYSTEMS.items():
                    ratio, where = _worst(segments, system)
                    if ratio < MIN_CONTRAST:
                        problems.append(f"{theme.name}/{label}/{key}: {ratio:.2f} {where}")
            # The bands stay red and green: in 16 colours a red that rounds to the
            # palette's brown/yellow would say "warning", not "editing".
            editor = styles["editor band"][0].style
            live = styles["live band + alert"][0].style
            assert editor is not None and live is not None
            assert editor.bgcolor is not None and live.bgcolor is not None
            assert editor.bgcolor.downgrade(ColorSystem.STANDARD).number in (1, 9), theme.name
            assert live.bgcolor.downgrade(ColorSystem.STANDARD).number in (2, 10), theme.name
            r, g, b = editor.bgcolor.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
            assert r > 2 * max(g, b), (theme.name, "editor band in 256 colours", (r, g, b))
            r, g, b = live.bgcolor.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
            assert g > max(r, b), (theme.name, "live band in 256 colours", (r, g, b))
    assert not problems, "\n".join(problems)


async def test_status_marks_come_from_theme_variables() -> None:
    """The servers panel and the domains list draw their marks in ``$status-*``: a theme
    that sets them recolours the lines at once, and Textual's own themes (which do not
    know these variables) fall back to the console's defaults."""
    from textual.theme import Theme

    from tests._support.scripted_host import ScriptedHost
    from xenon_tui._config import ConsoleConfig, ServerEntry
    from xenon_tui._connection import LinkState
    from xenon_tui.messages import ServerData
    from xenon_tui.widgets import DomainsTable

    app = XenonConsole(ConsoleConfig(servers=(ServerEntry("h1"),), autoconnect=False))
    blue = Theme(
        name="test-status",
        primary="#4f9de8",
        dark=True,
        variables={"status-ok": "#0000ff", "status-bad": "#ff00ff"},
    )
    address = "h1:8443"
    async with app.run_test(size=(160, 48)) as pilot:
        app.register_theme(blue)
        panel = app.query_one(ServersPanel)
        app.servers[address].link = LinkState.CONNECTED
        panel.set_server(address, LinkState.CONNECTED)
        domains = (await ScriptedHost().domain_run_states())["domains"]
        domains[0]["violations"] = 3
        app.host.post_message(ServerData(address, {"domains": domains}))
        await pilot.press("4")
        table = app.query_one(DomainsTable)
        await wait_for(pilot, lambda: table.row_count == 3)

        def glyph() -> Any:
            return panel.get_option_at_index(0).prompt.spans[0].style

        def cells() -> tuple[Any, Any]:
            row = table.get_row_at(0)
            return row[3].style, row[9].style  # run state "running", violations "3"

        assert glyph().color.number == 2 and glyph().bold  # ANSI green by default
        assert cells()[0].color.number == 2 and cells()[1].color.number == 1
        app.theme = "test-status"
        await wait_for(pilot, lambda: glyph().color.triplet is not None)
        assert glyph().color.triplet.hex == "#0000ff" and glyph().bold
        await wait_for(pilot, lambda: cells()[0].color.triplet is not None)
        assert cells()[0].color.triplet.hex == "#0000ff"
        assert cells()[1].color.triplet.hex == "#ff00ff"
        app.theme = "nord"  # a Textual theme: the console's defaults apply
        await wait_for(pilot, lambda: glyph().color.number == 2)
        assert cells()[1].color.number == 1


def test_widgets_and_dialogs_name_no_colours() -> None:
    """Colours come from theme variables: no colour name in a style string of a widget
    or dialog (tag and server colours are data, passed through ``hex_color`` or as is)."""
    import re

    import xenon_tui

    root = Path(xenon_tui.__file__).parent
    colour = re.compile(
        r"style=f?\"[^\"]*\b(red|green|yellow|blue|black|white|magenta|cyan|grey|gray)\b"
    )
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for package in ("widgets", "dialogs", "screens", "flows")
        for path in sorted((root / package).glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if colour.search(line)
    ]
    assert not found, "\n".join(found)
