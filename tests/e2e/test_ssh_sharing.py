"""The zygote's memory sharing: one parse of each CSS source per set of CSS variables."""

from __future__ import annotations

import pytest
from textual.css.stylesheet import Stylesheet, StylesheetParseError

from xenon_tui.ssh._sharing import share_parsed_css

CSS = "Static { color: $text; } #x { background: red; }"


def _rules(variables: dict[str, str]) -> list[object]:
    sheet = Stylesheet(variables=variables)
    sheet.add_source(CSS, read_from=("test", "CSS"))
    return list(sheet.rules)


def test_stylesheets_share_parsed_rules_per_variables() -> None:
    assert share_parsed_css()
    assert share_parsed_css()  # idempotent: the second call does not wrap again
    first = _rules({"text": "white"})
    second = _rules({"text": "white"})
    other = _rules({"text": "black"})
    assert len(first) == 2
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert not any(a is b for a, b in zip(first, other, strict=True))
    # The variables still reach the parsed styles.
    assert str(first[0].styles.color) != str(other[0].styles.color)  # type: ignore[attr-defined]


def test_invalid_css_is_still_reported() -> None:
    assert share_parsed_css()
    sheet = Stylesheet(variables={})
    sheet.add_source("Static { colr: red; }", read_from=("test", "bad"))
    with pytest.raises(StylesheetParseError):
        sheet.parse()
    # Not cached: a second stylesheet with the same bad source fails again.
    again = Stylesheet(variables={})
    again.add_source("Static { colr: red; }", read_from=("test", "bad"))
    with pytest.raises(StylesheetParseError):
        again.parse()
