"""The ``xenon xe`` parser still builds after a command module was imported.

Importing ``enterprise_store.cli._local`` (as ``xe init``/``xe serve`` do) sets the package's
attribute ``_local`` to that module; a helper function of the same name in the package was
replaced by it, and every later ``xenon`` parser build in the process failed with "'module'
object is not callable" (seen in CI once a test had run ``xe serve`` in-process).
"""

from __future__ import annotations

import importlib

import pytest

from enterprise_store.cli import main


@pytest.mark.parametrize("module", ["_local", "_remote", "_config", "_compute", "_policy"])
def test_the_parser_builds_after_its_command_modules_are_imported(
    module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    importlib.import_module(f"enterprise_store.cli.{module}")
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out
