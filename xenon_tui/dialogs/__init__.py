"""Modal dialogs of the console (each a ModalScreen that dismisses with its value)."""

from xenon_tui.dialogs._basic import ConfirmDialog, InputDialog, TextDialog, TypedConfirmDialog
from xenon_tui.dialogs._help import HelpScreen, help_table

__all__ = [
    "ConfirmDialog",
    "HelpScreen",
    "InputDialog",
    "TextDialog",
    "TypedConfirmDialog",
    "help_table",
]
