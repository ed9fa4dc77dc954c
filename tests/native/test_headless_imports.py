"""Headless packages never pull in Textual: each (sub)package imported alone in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADLESS = ("native", "xps", "enterprise_store")
FORBIDDEN = ("textual", "xenon_tui", "themes", "textual_plotext", "plotext")


def _packages() -> list[str]:
    found = []
    for top in HEADLESS:
        base = ROOT / top
        if not (base / "__init__.py").exists():
            continue
        for init in sorted(base.rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT)
            if any(part.startswith((".", "_")) or part == "tests" for part in rel.parts[1:]):
                continue
            found.append(".".join(rel.parts))
    return found


PACKAGES = _packages()


def test_the_headless_roots_exist() -> None:
    assert {"native", "xps"} <= set(PACKAGES)
    assert "xps.msm" in PACKAGES


def _ui_modules_after_import(package: str) -> str:
    probe = (
        f"import importlib, sys; importlib.import_module({package!r}); "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); "
        "print(','.join(bad))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


def test_the_probe_sees_textual() -> None:
    assert "textual" in _ui_modules_after_import("textual").split(",")


@pytest.mark.parametrize("package", PACKAGES)
def test_import_does_not_load_the_ui(package: str) -> None:
    loaded = _ui_modules_after_import(package)
    assert loaded == "", f"{package} imports {loaded}"
