"""The console's colour themes as registered Textual Theme objects."""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

# Bands use $error (Policy Editor, red) and $success (Live, green), so every theme must keep
# those two unmistakably red and green; truecolour values are down-sampled by Textual for
# 256- and 16-colour terminals, which is why the palettes keep strong hue separation
# (tests/xenon_tui/test_colors.py checks the key styles after that down-conversion).
XENON_DARK = Theme(
    name="xenon-dark",
    primary="#4f9de8",
    secondary="#8a7cf0",
    accent="#f0a73c",
    warning="#e8c33c",
    error="#f03a3a",
    success="#3fb45a",
    foreground="#dfe3ea",
    background="#11151c",
    surface="#1a2029",
    panel="#232b36",
    dark=True,
    # The default cursor (primary, dark text) becomes black on bright blue in 16 colours.
    variables={
        "block-cursor-background": "#2f6fb8",
        "block-cursor-foreground": "#ffffff",
        "status-stale": "ansi_magenta",
    },
)

XENON_LIGHT = Theme(
    name="xenon-light",
    primary="#1d5fb8",
    secondary="#5a3fc0",
    accent="#b0600a",
    warning="#9a7500",
    error="#c0161d",
    success="#1b7f34",
    foreground="#1a1d22",
    background="#f5f6f8",
    surface="#ffffff",
    panel="#e3e7ee",
    dark=False,
    variables={"status-stale": "ansi_magenta"},
)

XENON_HIGH_CONTRAST = Theme(
    name="xenon-high-contrast",
    primary="#00ffff",
    secondary="#ffff00",
    accent="#ff00ff",
    warning="#ffff00",
    error="#ff0000",
    success="#00ff00",
    foreground="#ffffff",
    background="#000000",
    surface="#000000",
    panel="#202020",
    dark=True,
    luminosity_spread=0.3,
    text_alpha=1.0,
    variables={"status-stale": "ansi_bright_magenta"},
)

VARIABLE_DEFAULTS: dict[str, str] = {
    # Status marks of the servers panel, the domains list and the import dialogs (link up /
    # lost / connecting, running / paused, policies equal / different, violation counts,
    # placeholders missing / bound). ANSI colours, as these marks have always been:
    # Textual maps them through its ANSI palette in every theme, so they stay plain
    # green / yellow / red. A theme may override any of them.
    "status-ok": "ansi_green",
    "status-warn": "ansi_yellow",
    "status-bad": "ansi_red",
    # A link that is open but has said nothing for a few heartbeats: neither the green of
    # a live link nor the red of a lost one, so frozen numbers are not read as current.
    "status-stale": "ansi_magenta",
    "status-text": "ansi_black",  # a mark's text on one of the colours above
}
"""The console's own theme variables (``$status-ok``…) with their values when a theme
(Textual's built-in ones too) does not set them."""

THEMES: tuple[Theme, ...] = (XENON_DARK, XENON_LIGHT, XENON_HIGH_CONTRAST)
"""Every console theme, in the order ``next theme`` cycles through them."""

CONSOLE_TCSS: Path = Path(__file__).with_name("console.tcss")
"""Layout and overrides shared by all themes."""
