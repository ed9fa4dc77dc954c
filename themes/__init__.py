"""Colour themes (Textual Theme objects) and TCSS for the Xenon console."""

from themes._themes import (
    CONSOLE_TCSS,
    THEMES,
    VARIABLE_DEFAULTS,
    XENON_DARK,
    XENON_HIGH_CONTRAST,
    XENON_LIGHT,
)

__all__ = [
    "CONSOLE_TCSS",
    "THEMES",
    "VARIABLE_DEFAULTS",
    "XENON_DARK",
    "XENON_HIGH_CONTRAST",
    "XENON_LIGHT",
]
