"""Keys as one read over SSH brings them (a fast typist, a paste, ``tmux send-keys 'web'
Enter``): every key is posted to the app before it hands out the first, so a key that
moves the focus must do so before the next one is given to a widget.

``one_read(app, "EA-domu-1\\tnote\\r")`` types text (``\\t`` Tab, ``\\r`` Enter);
``one_read(app, [*"bob", "enter", "shift+tab"])`` mixes characters and key names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import events

# Characters whose key Textual's driver names otherwise.
_NAMES = {
    " ": "space",
    "-": "minus",
    ":": "colon",
    "/": "slash",
    "\t": "tab",
    "\r": "enter",
}
_CHARS = {name: ch for ch, name in _NAMES.items()}


def key_event(key: str) -> events.Key:
    """The event the driver makes for one character or one key name."""
    if len(key) == 1:
        return events.Key(_NAMES.get(key, key), key)
    return events.Key(key, _CHARS.get(key))


def one_read(app: Any, keys: str | Iterable[str]) -> None:
    """Posts every key to ``app`` at once (no pause between them)."""
    for key in keys:
        app.post_message(key_event(key))
