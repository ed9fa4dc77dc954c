"""Small text helpers shared by the generators."""

from __future__ import annotations

import re

__all__ = ["one_line"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Returns ``text`` with control characters (newlines too) folded to one space.

    Names from a policy end up in comments; a newline there would start a new,
    attacker-chosen directive in the generated file.
    """
    return _CONTROL.sub(" ", text)
