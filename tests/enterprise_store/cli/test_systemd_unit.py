"""``packaging/systemd/xenon-enterprise.service``: runs ``xenon xe serve`` with JSON logs,
locked down like the XPS unit (and further: XE needs no root)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "packaging" / "systemd" / "xenon-enterprise.service"
XPS_UNIT = ROOT / "packaging" / "systemd" / "xenon-policy-server.service"


def _directives(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_serves_xe_with_json_logs_and_the_flags_parse() -> None:
    import argparse

    from enterprise_store.cli import register

    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    unit = _directives(UNIT)
    (exec_start,) = unit["ExecStart"]
    argv = shlex.split(exec_start.replace("${XE_LISTEN}", "127.0.0.1:8443").replace(
        "$XE_OPTS", ""))  # fmt: skip
    assert argv[:3] == ["/usr/bin/xenon", "xe", "serve"]
    args = parser.parse_args(argv[1:])
    assert args.log_format == "json" and args.listen == "127.0.0.1:8443"
    assert str(args.state_dir) == "/var/lib/xenon-enterprise"
    assert unit["User"] == ["xenon-xe"] and unit["StateDirectory"] == ["xenon-enterprise"]


def test_the_unit_keeps_every_hardening_directive_of_the_xps_unit() -> None:
    xe, xps = _directives(UNIT), _directives(XPS_UNIT)
    hardening = [k for k in xps if k.startswith(("Protect", "Restrict", "Private"))]
    hardening += ["NoNewPrivileges", "LockPersonality", "UMask"]
    for key in hardening:
        assert key in xe, key
        if xps[key] == ["yes"]:
            assert xe[key] == ["yes"], key
    # Stricter than XPS: no root, no capabilities, a read-only system.
    assert xe["ProtectSystem"] == ["strict"] and xe["CapabilityBoundingSet"] == [""]
    assert xe["UMask"] == ["0077"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_finds_nothing_but_the_missing_binary(tmp_path: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(UNIT)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    problems = [
        line for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "/usr/bin/xenon is not executable" not in line
    ]  # fmt: skip
    assert not problems, problems
