"""The install story: the lock matches pyproject, and third-party warnings stay off the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".uv" / "bin" / "uv"


@pytest.mark.skipif(not UV.exists(), reason="uv is installed by `make install` into .uv/")
def test_lock_is_current_with_pyproject() -> None:
    # `uv lock --check` fails when pyproject.toml asks for something uv.lock does not say;
    # --offline: the check must not depend on (or be changed by) what the index has today.
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    proc = subprocess.run(
        [str(UV), "lock", "--check", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"uv.lock is stale; run `make lock`:\n{proc.stderr}"


def test_lock_pins_every_package_with_hashes() -> None:
    text = (ROOT / "uv.lock").read_text()
    blocks = [b for b in text.split("[[package]]")[1:] if "source = { registry" in b]
    assert len(blocks) > 20
    for block in blocks:
        assert "\nversion = " in block
        assert "sha256:" in block, block.splitlines()[1]


def _run_cli(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONWARNINGS"] = "always"  # what a user with warnings on would see
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_cli_keeps_third_party_import_warnings_off_the_terminal() -> None:
    # asyncssh imports cryptography's deprecated DSA (cryptography >= 51): before the fix this
    # printed the warning, with file paths, ahead of the command's first line.
    proc = _run_cli(
        """
        import logging, sys
        from xenon_tui.cli import main
        rc = main(["msm", "info"])
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logging.getLogger("xenon.warnings").addHandler(handler)
        logging.getLogger("xenon.warnings").setLevel(logging.INFO)
        import asyncssh  # noqa: F401  (warns while importing, with cryptography >= 51)
        import warnings
        warnings.warn_explicit("third party says", DeprecationWarning, "/usr/lib/x/site.py", 3)
        print("logged", len(records), file=sys.stderr)
        sys.exit(rc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().startswith("logged "), proc.stderr
    assert int(proc.stderr.split()[-1]) >= 1


def test_cli_still_shows_our_own_warnings() -> None:
    proc = _run_cli(
        """
        import warnings
        from xenon_tui.cli import main
        main(["msm", "info"])
        import xps
        warnings.warn_explicit("ours", UserWarning, xps.__file__, 1)
        """
    )
    assert "UserWarning: ours" in proc.stderr


@pytest.mark.parametrize(
    "module", ["xenon_tui.demo", "xenon_tui.ssh", "xenon_tui.cli", "enterprise_store.cli"]
)
def test_module_entry_points_keep_import_warnings_off_the_terminal(module: str) -> None:
    # `python -m xenon_tui.demo` printed asyncssh's DSA warnings before its help text.
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
