"""``xenon policy whatif STAGED.xml --host …`` against a real daemon's read-only socket."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path

from tests._support.xps import RunningXps
from xps.msm import SUBOP_HYPERCALLS
from xps.policy import parse_policy, serialize_policy

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = "EA-domu-1"


async def _cli(rx: RunningXps, *argv: str, port: int | None = None) -> tuple[int, str, str]:
    cert, key = rx.pki.clients["console"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xps.cli.policy",
        "whatif",
        *argv,
        "--host",
        f"127.0.0.1:{rx.ro_port if port is None else port}",
        "--ca",
        str(rx.pki.ca),
        "--cert",
        str(cert),
        "--key",
        str(key),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):  # liveness bound
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_whatif_exit_status_text_and_json(xps_daemon: RunningXps, tmp_path: Path) -> None:
    rw = xps_daemon.client()
    await rw.connect()
    await rw.create_domain(DOMAIN)
    async with asyncio.timeout(20):  # liveness bound: the host has counted its calls
        while True:
            calls = (await rw.get_call_counts(10, DOMAIN))["calls"]
            if calls:
                break
            await asyncio.sleep(0.05)
    top = calls[0]
    active_xml = (await rw.get_policy())["xml"]
    same = tmp_path / "same.xml"
    same.write_text(active_xml)

    rc, out, err = await _cli(xps_daemon, str(same))
    assert rc == 0, err
    assert "denies nothing that is allowed now" in out

    active = parse_policy(active_xml.encode())
    dom = next(d for d in active.domains if d.name == DOMAIN)
    assert dom.seclabel is not None
    profile = active.profile(active.seclabel(dom.seclabel).profile)
    nr, subop = top["hypercall"], top["subop"]
    if nr in SUBOP_HYPERCALLS:
        subops = tuple((n, ops - {subop} if n == nr else ops) for n, ops in profile.subops)
        narrowed = dataclasses.replace(profile, subops=subops)
    else:
        narrowed = dataclasses.replace(profile, hypercalls=profile.hypercalls - {nr})
    staged = tmp_path / "staged.xml"
    staged.write_bytes(serialize_policy(active.with_profile(narrowed)))

    rc, out, err = await _cli(xps_daemon, str(staged), "--minutes", "10")
    assert rc == 1, err
    assert "WOULD DENY what is allowed now:" in out
    assert f"{DOMAIN} made " in out
    assert f" {top['hypercall_name']}/{subop} calls in the last 10 min; the staged " in out
    assert f"{profile.name} profile denies them" in out

    rc, out, err = await _cli(xps_daemon, str(staged), "--json")
    assert rc == 1, err
    doc = json.loads(out)
    assert doc["denies_allowed"] is True
    assert any(r["domain"] == DOMAIN and r["hypercall"] == nr for r in doc["denied_calls"])

    # The host refuses a malformed policy (1); an unreadable file or a closed port is 2.
    bad = tmp_path / "bad.xml"
    bad.write_text("<policy")
    rc, _out, err = await _cli(xps_daemon, str(bad))
    assert rc == 1 and "policy_invalid" in err
    rc, _out, err = await _cli(xps_daemon, str(tmp_path / "missing.xml"))
    assert rc == 2
    rc, _out, err = await _cli(xps_daemon, str(same), port=1)
    assert rc == 2, err
    # Nothing was staged or activated by any of it.
    assert (await rw.get_staged_diff())["staged"] is False
