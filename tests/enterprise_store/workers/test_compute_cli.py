"""``xenon xe host|vm|task`` against a real ``xenon xe serve`` and real XPS daemons.

The CLI runs as subprocesses started with asyncio (the XPS daemons answer on this test's
event loop, which must keep running while a command waits).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import Principal, Services
from tests._support.xe_cli import serve_xe, xe_env, xenon

PASSWORD = "compute-cli-admin-password"
HELP = (
    ["host", "list"], ["host", "add"], ["host", "remove"], ["host", "facts"],
    ["host", "prior-policy"], ["host", "domains"], ["host", "propagation"],
    ["host", "reconverge"], ["host", "propagate"], ["vm", "start"], ["vm", "pause"],
    ["vm", "unpause"], ["vm", "shutdown"], ["vm", "reboot"], ["vm", "destroy"],
    ["vm", "state"], ["task", "list"], ["task", "show"], ["task", "wait"],
    ["task", "watch"], ["task", "cancel"],
)  # fmt: skip


@pytest.mark.parametrize("words", HELP, ids=" ".join)
def test_every_compute_command_has_help(words: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", *words, "--help"],
        capture_output=True, text=True, timeout=60, env=xe_env(), check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "usage: xenon xe" in done.stdout


async def test_hosts_vms_and_tasks_from_the_command_line(
    tmp_path: Path, xps_hosts: Any, xps_pki: Any
) -> None:
    hosts = await xps_hosts(3)
    (extra,) = await xps_hosts(1)
    state = tmp_path / "xe"
    code, _, err = await xenon(
        "xe", "init", "--state-dir", str(state), "--password-stdin",
        "--ca-dir", str(xps_pki.ca_dir), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, err
    writer = await Services.open(f"sqlite:///{state / 'xe.db'}")
    try:
        policy = sample_xe_policy({h.name: ("127.0.0.1", h.port) for h in hosts})
        await writer.policy.import_policy(Principal.system(), policy)
    finally:
        await writer.close()
    proc, _ = await serve_xe(state)
    try:
        xe = ("xe",)
        at = ("--state-dir", str(state))
        code, out, err = await xenon(*xe, "login", *at, "--user", "admin", "--password-stdin",
                                      stdin=PASSWORD + "\n")  # fmt: skip
        assert code == 0, err
        code, out, err = await xenon(*xe, "host", "propagate", *at)
        assert code == 0, err
        assert json.loads(out)["converged"] == 3 and "hosts enforce version" in err
        code, out, err = await xenon(*xe, "host", "list", *at)
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].split()[:4] == ["NAME", "XPS", "CONNECTION", "PROPAGATION"]
        assert [ln.split()[0] for ln in lines[1:]] == ["xenon-1", "xenon-2", "xenon-3"]
        assert all("converged" in ln and "connected" in ln for ln in lines[1:])
        code, out, err = await xenon(*xe, "vm", "start", "EB-domu-1", *at)
        assert code == 0, err
        assert out.startswith("VM EB-domu-1 on xenon-1: running (domain ")
        code, out, err = await xenon(*xe, "vm", "state", "EB-domu-1", *at, "--json")
        assert code == 0 and json.loads(out)["run_state"] == "running", err
        code, out, err = await xenon(*xe, "host", "domains", "xenon-1", *at)
        assert code == 0 and "EB-domu-1" in out, err
        code, out, err = await xenon(*xe, "host", "remove", "xenon-1", *at)
        assert code == 1 and "conflict" in err and "EB-domu-1" in err
        code, out, err = await xenon(
            *xe, "host", "add", "xenon-4", "127.0.0.1", "--port", str(extra.port),
            "--cpu-model", "85", *at,
        )  # fmt: skip
        assert code == 0, err
        added = json.loads(out)
        assert added["propagation"] == "held" and added["cpu"]["model"] == 85
        code, out, err = await xenon(*xe, "host", "propagation", "xenon-4", *at)
        assert code == 0 and out.splitlines()[1].split()[:2] == ["xenon-4", "held"], out
        code, out, err = await xenon(*xe, "host", "reconverge", "xenon-4", *at)
        assert code == 0 and "re-converging (was held)" in out, err
        code, out, err = await xenon(*xe, "task", "list", *at, "--json")
        assert code == 0, err
        kinds = sorted(t["kind"] for t in json.loads(out))
        assert kinds == ["host.add", "propagate"]
        code, out, err = await xenon(*xe, "task", "wait", json.loads(out)[0]["id"], *at)
        assert code == 0 and json.loads(out)["state"] == "succeeded", err
    finally:
        proc.kill()
        proc.wait(timeout=30)
