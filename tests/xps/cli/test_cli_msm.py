"""``xenon msm info`` and ``xenon msm simulate`` through the real ``xenon`` dispatcher."""

from __future__ import annotations

import json

import pytest

import xps.msm
from xenon_tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["msm", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_info_sim_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert rc == 0
    assert (info["backend"], info["generation"], info["n_domains"]) == ("sim", 0, 1)
    assert info["interface_version"] == xps.msm.EXPECTED_INTERFACE_VERSION


def test_info_text(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "info")
    v = xps.msm.EXPECTED_INTERFACE_VERSION
    assert rc == 0 and "interface" in out and f"{v >> 16}.{v & 0xFFFF}" in out


def test_info_xen_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "info", "--backend", "xen")
    assert rc == 2 and out == ""
    assert "/dev/xen/privcmd" in err and "not running in a Xen dom0" in err


def test_simulate_json_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    first = json.loads(run(capsys, "simulate", "--seconds", "2", "--seed", "4", "--json")[1])
    again = json.loads(run(capsys, "simulate", "--seconds", "2", "--seed", "4", "--json")[1])
    other = json.loads(run(capsys, "simulate", "--seconds", "2", "--seed", "5", "--json")[1])
    assert first == again and first["run"] != other["run"]
    counts = first["run"]
    assert counts["hypercalls"] == (
        counts["allowed"] + counts["denied_profile"] + counts["denied_rate"]
    )
    assert counts["elapsed_ns"] == 2_000_000_000
    assert first["refused"] == {"vault": "MSM_ECONFLICT"}
    kinds = {v["kind"] for v in first["violations"]}
    assert kinds == {"profile", "rate", "channel"}
    total = sum(v["count"] for v in first["violations"]) + first["dropped"]
    assert total == counts["denied_profile"] + counts["denied_rate"] + counts["denied_channel"]
    stopped = [d["name"] for d in first["domains"] if d["stopped_by_msm"]]
    assert len(stopped) == counts["domains_stopped"]


def test_simulate_text(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "simulate", "--seconds", "1")
    assert rc == 0
    assert "start of vault refused: MSM_ECONFLICT" in out
    assert "web-1" in out and "Domain-0" in out
    rc, _, err = run(capsys, "simulate", "--seconds", "0")
    assert rc == 2 and "--seconds" in err
