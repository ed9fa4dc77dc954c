"""The console and XE use xps through its public modules only (issue #15: the console
imported the private ``xps._atomic``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _private_xps_imports(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "xps" and any(p.startswith("_") for p in parts[1:]):
                    found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


@pytest.mark.parametrize("package", ["xenon_tui", "enterprise_store"])
def test_no_private_xps_module_is_imported(package: str) -> None:
    assert _private_xps_imports(package) == []


def test_the_scan_sees_a_private_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "m.py").write_text("from xps._atomic import write_atomic\nimport xps.host._host\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    found = _private_xps_imports("probe")
    assert found == ["probe/m.py: xps._atomic", "probe/m.py: xps.host._host"]
