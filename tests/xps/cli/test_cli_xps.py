"""``xenon pki`` and ``xenon xps`` as real subprocesses: CA to daemon to ``xps call``."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

PY = sys.executable
ROOT = Path(__file__).resolve().parents[3]


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-pki")
    assert run("xps.cli.pki", "init", "--dir", str(d)).returncode == 0
    out = run("xps.cli.pki", "issue", "xps-server", "--server", "--dir", str(d), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["cert"].endswith("xps-server-cert.pem")
    for name in ("console", "laptop"):
        assert run("xps.cli.pki", "issue", name, "--client", "--dir", str(d)).returncode == 0
    return d


def test_pki_commands(pki_dir: Path, tmp_path: Path) -> None:
    assert stat.S_IMODE((pki_dir / "ca-key.pem").stat().st_mode) == 0o600
    again = run("xps.cli.pki", "init", "--dir", str(pki_dir))
    assert again.returncode == 1 and "pki_invalid_input" in again.stderr
    pw = tmp_path / "pw"
    pw.write_text("p12-secret\n")
    out = run("xps.cli.pki", "pkcs12", "console", "--dir", str(pki_dir), "--password-file", str(pw))
    assert out.returncode == 0, out.stderr
    p12 = pki_dir / "console.p12"
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    check = subprocess.run(
        ["openssl", "pkcs12", "-in", str(p12), "-nokeys", "-passin", "pass:p12-secret"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and "subject=CN = console" in check.stdout

    store = tmp_path / "authstore.json"
    env = {"XENON_AUTHSTORE_PASS": "store-pass"}
    cert = str(pki_dir / "laptop-cert.pem")
    add = run("xps.cli.pki", "authstore", "add", "laptop", cert, "--store", str(store), env=env)
    assert add.returncode == 0 and "CN=laptop" in add.stdout
    listed = run("xps.cli.pki", "authstore", "list", "--store", str(store), "--json", env=env)
    assert [a["alias"] for a in json.loads(listed.stdout)["authorizations"]] == ["laptop"]
    wrong = run(
        "xps.cli.pki",
        "authstore",
        "list",
        "--store",
        str(store),
        env={"XENON_AUTHSTORE_PASS": "nope"},
    )
    assert wrong.returncode == 1 and "authstore_tampered" in wrong.stderr
    nopass = run("xps.cli.pki", "authstore", "remove", "laptop", "--store", str(store))
    assert nopass.returncode == 1 and "authstore_locked" in nopass.stderr
    rm = run("xps.cli.pki", "authstore", "remove", "laptop", "--store", str(store), env=env)
    assert rm.returncode == 0


def _wait_ports(state: Path, proc: subprocess.Popen[str]) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (state / "ports").exists():
            return json.loads((state / "ports").read_text())
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError("no ports file")


def test_serve_and_call(pki_dir: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    props = tmp_path / "xenon-policy.properties"
    props.write_text(
        "xps.listen = 127.0.0.1:1\n"  # the flag below wins
        "xps.ro-listen = 127.0.0.1:0\n"
        f"xps.tls.ca = {pki_dir / 'ca-cert.pem'}\n"
        f"xps.tls.cert = {pki_dir / 'xps-server-cert.pem'}\n"
        f"xps.tls.key = {pki_dir / 'xps-server-key.pem'}\n"
        "xps.stats-interval = 60\n"
    )
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "xps.cli.xps",
            "serve",
            "--properties-file",
            str(props),
            "--state-dir",
            str(state),
            "--listen",
            "127.0.0.1:0",
            "-Dxps.stats-interval=30",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ports = _wait_ports(state, proc)
        tls = [
            "--ca",
            str(pki_dir / "ca-cert.pem"),
            "--cert",
            str(pki_dir / "console-cert.pem"),
            "--key",
            str(pki_dir / "console-key.pem"),
        ]
        rw, ro = f"127.0.0.1:{ports['read_write']}", f"127.0.0.1:{ports['read_only']}"
        info = run("xps.cli.xps", "call", rw, "GetHypervisorInfo", *tls)
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["backend"] == "sim"
        logs = run("xps.cli.xps", "call", ro, "GetLogMsgs", '{"limit": 3}', *tls)
        assert logs.returncode == 0 and "lines" in json.loads(logs.stdout)
        refused = run("xps.cli.xps", "call", ro, "PauseDomain", '{"domain": "EA-domu-1"}', *tls)
        assert refused.returncode == 1 and "read_only" in refused.stderr
        bad = run("xps.cli.xps", "call", rw, "Ping", "[1]", *tls)
        assert bad.returncode == 2
        untrusted = run("xps.cli.xps", "call", rw, "Ping", "--ca", str(pki_dir / "ca-cert.pem"))
        assert untrusted.returncode == 1 and "tls_error" in untrusted.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    log = (state / "xenon-policy-server.log").read_text()
    assert f"ReadWrite socket: Listening on 127.0.0.1:{ports['read_write']}" in log
    assert "Received request GetHypervisorInfo" in log
    assert "Xenon Policy Server stopped" in log
    assert stat.S_IMODE((state / "xenon-policy-server.log").stat().st_mode) == 0o600


def test_serve_refuses_bad_configuration(tmp_path: Path) -> None:
    out = run(
        "xps.cli.xps",
        "serve",
        "--state-dir",
        str(tmp_path),
        "--backend",
        "sim",
        "--properties-file",
        str(tmp_path / "missing.properties"),
    )
    assert out.returncode == 2 and "config_invalid" in out.stderr
