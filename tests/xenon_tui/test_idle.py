"""What an idle console redraws while data arrives (issue #16 §1): the cheap way."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from xenon_tui.widgets import ModeBand


class _BandApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ModeBand()


async def test_the_mode_bands_alert_count_repaints_without_a_layout_pass() -> None:
    # The count changes with every violation batch while another view is shown; a layout
    # pass re-flows the whole screen (22 ms at 160x48) where one line's repaint is enough.
    async with _BandApp().run_test() as pilot:
        band = pilot.app.query_one(ModeBand)
        band.server = "xenon-1"
        await pilot.pause()
        layouts: list[bool] = []
        repaint = band.refresh

        def spy(*args: Any, **kwargs: Any) -> Any:
            layouts.append(bool(kwargs.get("layout", False)))
            return repaint(*args, **kwargs)

        band.refresh = spy  # type: ignore[method-assign]
        for count in range(1, 6):
            band.alert = count
        await pilot.pause()
        assert layouts and not any(layouts)
        assert "5 new violations" in str(band.render())
