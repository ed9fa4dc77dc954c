"""The layering of enterprise_store, checked on the source (every import statement):
services never import the web stack, the API never imports the database stack, the client
needs neither, and the console reaches XE only through ``enterprise_store.client``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ("fastapi", "starlette", "uvicorn")
DATABASE = ("sqlalchemy", "alembic", "asyncpg", "aiosqlite", "enterprise_store.store")

CONTRACTS = {
    "enterprise_store/services": (*WEB, "httpx", "enterprise_store.api", "enterprise_store.client"),
    "enterprise_store/store": (*WEB, "httpx", "enterprise_store.services", "enterprise_store.api"),
    "enterprise_store/audit": (*WEB, "httpx", "enterprise_store.services"),
    "enterprise_store/api": DATABASE,
    "enterprise_store/client": WEB
    + DATABASE
    + ("enterprise_store.services", "enterprise_store.api"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def _violations(directory: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    files = sorted((ROOT / directory).rglob("*.py"))
    assert files, directory
    for path in files:
        for module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    return bad


@pytest.mark.parametrize("directory", sorted(CONTRACTS))
def test_layer_imports(directory: str) -> None:
    assert _violations(directory, CONTRACTS[directory]) == []


def test_the_scanner_sees_a_violation(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from sqlalchemy import select\nimport fastapi.routing\n")
    assert _imports(probe) == {"sqlalchemy", "fastapi.routing"}


def _allowed_in(path: Path, module: str) -> bool:
    if module == "enterprise_store.client" or module.startswith("enterprise_store.client."):
        return True
    # The demo builds the report's sample enterprise through the REST client; it reads the
    # sample's objects (plain data, no store or service) from enterprise_store.policy.
    demo = ROOT / "xenon_tui" / "demo"
    return path.is_relative_to(demo) and module == "enterprise_store.policy"


def test_the_console_reaches_xe_only_through_the_client() -> None:
    bad = []
    for path in sorted((ROOT / "xenon_tui").rglob("*.py")):
        for module in _imports(path):
            if module.startswith("enterprise_store") and not _allowed_in(path, module):
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert bad == []


def test_importing_the_client_loads_neither_the_database_nor_the_web_server() -> None:
    code = (
        "import sys, enterprise_store.client; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB + DATABASE[:4]!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout.strip() == "[]"
