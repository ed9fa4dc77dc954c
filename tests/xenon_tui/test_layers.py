"""The console's packages import one way: app -> screens -> flows -> dialogs | widgets.

Every import statement counts, also those under ``TYPE_CHECKING`` and inside functions
(the import-linter contracts see the same ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import xenon_tui

ROOT = Path(xenon_tui.__file__).parent
# Package -> the console packages its modules must not import.
FORBIDDEN = {
    "screens": {"xenon_tui.app"},
    "flows": {"xenon_tui.app", "xenon_tui.screens"},
    "dialogs": {"xenon_tui.app", "xenon_tui.screens", "xenon_tui.flows", "xenon_tui.widgets"},
    "widgets": {"xenon_tui.app", "xenon_tui.screens", "xenon_tui.flows", "xenon_tui.dialogs"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _hits(imported: set[str], forbidden: set[str]) -> list[str]:
    return sorted(
        name for name in imported for bad in forbidden if name == bad or name.startswith(bad + ".")
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    modules = sorted((ROOT / package).glob("*.py"))
    assert modules, package
    found = {
        str(path.relative_to(ROOT)): hits
        for path in modules
        if (hits := _hits(_imports(path), FORBIDDEN[package]))
    }
    assert not found


def test_the_check_sees_imports_under_type_checking_and_in_functions(tmp_path: Path) -> None:
    module = tmp_path / "flow.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from xenon_tui.app import XenonConsole\n"
        "def later():\n"
        "    import xenon_tui.screens._host\n"
    )
    hits = _hits(_imports(module), FORBIDDEN["flows"])
    assert hits == ["xenon_tui.app", "xenon_tui.app.XenonConsole", "xenon_tui.screens._host"]
