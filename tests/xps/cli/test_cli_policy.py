"""``xenon policy``: every sub-command through main([...]), one run through a subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support.policy import make_policy
from tests._support.signing import make_ca, make_leaf
from xps.cli.policy import main, parse_mapping
from xps.policy import TemplateError, parse_policy, sample_policy, serialize_policy

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.xml"
    assert main(["sample", "-o", str(path)]) == 0
    return path


@pytest.fixture
def gen(tmp_path: Path) -> Path:
    path = tmp_path / "gen.xml"
    path.write_bytes(serialize_policy(make_policy()))
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sample_prints_and_writes_the_sample(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse_policy(sample) == sample_policy()
    assert _mode(sample) == 0o600
    assert main(["sample"]) == 0
    assert capsys.readouterr().out.encode() == serialize_policy(sample_policy())


def test_validate_exit_codes_and_json(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(sample)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_bytes(sample.read_bytes().replace(b'memory-mb="2048"', b'memory-mb="4096"', 1))
    assert main(["validate", str(bad), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    assert any(f["code"] == "XP024" and f["severity"] == "error" for f in doc["findings"])


def test_unreadable_or_malformed_input_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "missing.xml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xenon policy: usage: cannot read policy") and err.count("\n") == 1
    broken = tmp_path / "broken.xml"
    broken.write_text("<policy")
    assert main(["validate", str(broken)]) == 2
    assert "policy.xml" in capsys.readouterr().err


def test_diff(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(sample), str(sample)]) == 0
    assert "identical" in capsys.readouterr().out
    other = tmp_path / "other.xml"
    other.write_bytes(sample.read_bytes().replace(b'max-rate="2000"', b'max-rate="7"', 1))
    assert main(["diff", str(sample), str(other), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    section = next(s for s in doc["sections"] if s["section"] == "seclabels")
    change = section["changed"][0]["changes"][0]
    assert (change["field"], change["old"], change["new"]) == ("max_rate", 2000, 7)


def test_sign_and_verify(sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = make_ca()
    leaf = make_leaf(ca, "cli-signer")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem)
    (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
    signed = tmp_path / "signed.xml"
    rc = main(
        [
            "sign",
            str(sample),
            "--key",
            str(tmp_path / "key.pem"),
            "--cert",
            str(tmp_path / "cert.pem"),
            "-o",
            str(signed),
        ]
    )
    assert rc == 0 and _mode(signed) == 0o600
    capsys.readouterr()
    out = tmp_path / "verified.xml"
    assert (
        main(["verify", str(signed), "--ca", str(tmp_path / "ca.pem"), "--json", "-o", str(out)])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] and doc["signer"] == "CN=cli-signer,O=Xenon Test"
    assert parse_policy(out) == sample_policy()
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.read_bytes().replace(b'max-rate="2000"', b'max-rate="9"', 1))
    assert main(["verify", str(tampered), "--ca", str(tmp_path / "ca.pem")]) == 1
    assert "policy.signature.digest" in capsys.readouterr().err
    rogue = make_ca("Rogue")
    (tmp_path / "rogue.pem").write_bytes(rogue.cert_pem)
    assert main(["verify", str(signed), "--ca", str(tmp_path / "rogue.pem")]) == 1
    assert "policy.signature.untrusted" in capsys.readouterr().err


def test_sign_refuses_an_invalid_policy(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca()
    leaf = make_leaf(ca, "cli-signer")
    (tmp_path / "key.pem").write_bytes(leaf.key_pem)
    (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(sample.read_bytes().replace(b'memory-mb="2048"', b'memory-mb="4096"', 1))
    rc = main(
        [
            "sign",
            str(bad),
            "--key",
            str(tmp_path / "key.pem"),
            "--cert",
            str(tmp_path / "cert.pem"),
            "-o",
            str(tmp_path / "s.xml"),
        ]
    )
    assert rc == 1
    assert "refusing to sign" in capsys.readouterr().err
    assert not (tmp_path / "s.xml").exists()


def test_template_and_instantiate(
    gen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tpl = tmp_path / "t.xml"
    assert main(["template", str(gen), "-o", str(tpl)]) == 0
    assert b"0000:03:00.0" not in tpl.read_bytes()
    mapping = tmp_path / "map.txt"
    mapping.write_text(
        "# target host\n"
        "net-controller-Enclave-A   = 0000:03:00.0\n"
        "net-controller-Enclave-A-2 = 0000:06:00.0\n"
        "net-controller-EnclaveB    = 0000:04:00.0  # uplink of B\n"
    )
    out = tmp_path / "policy.xml"
    capsys.readouterr()
    rc = main(
        ["instantiate", str(tpl), "--mapping", str(mapping), "--hardware", str(gen), "-o", str(out)]
    )
    assert rc == 1 and not out.exists()
    captured = capsys.readouterr()
    assert "[! ] storage-controller-Enclave-A" in captured.out
    assert "[ok] net-controller-EnclaveB" in captured.out
    assert "policy.template.incomplete" in captured.err and "disk-EnclaveB" in captured.err
    mapping.write_text(
        json.dumps(
            {
                "net-controller-Enclave-A": "0000:03:00.0",
                "net-controller-Enclave-A-2": "0000:06:00.0",
                "net-controller-EnclaveB": "0000:04:00.0",
                "storage-controller-Enclave-A": "0000:05:00.0",
                "disk-EnclaveB": "/dev/sdb",
            }
        )
    )
    rc = main(
        [
            "instantiate",
            str(tpl),
            "--mapping",
            str(mapping),
            "--hardware",
            str(gen),
            "--json",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] and {p["state"] for p in doc["placeholders"]} == {"bound"}
    assert parse_policy(out) == make_policy()
    mapping.write_text("disk-EnclaveB = /dev/nope\n")
    rc = main(
        ["instantiate", str(tpl), "--mapping", str(mapping), "--hardware", str(gen), "-o", str(out)]
    )
    assert rc == 2
    assert "policy.template.unknown-hardware" in capsys.readouterr().err


def test_instantiate_discovers_this_hosts_hardware(
    gen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tpl = tmp_path / "t.xml"
    assert main(["template", str(gen), "-o", str(tpl)]) == 0
    (tmp_path / "map.txt").write_text("net-controller-EnclaveB = 0000:03:00.0\n")
    rc = main(
        [
            "instantiate",
            str(tpl),
            "--mapping",
            str(tmp_path / "map.txt"),
            "--root",
            str(tmp_path / "emptyroot"),
            "-o",
            str(tmp_path / "o.xml"),
        ]
    )
    # An empty discovery root has no PCI device at all.
    assert rc == 2
    assert "no PCI device '0000:03:00.0'" in capsys.readouterr().err


def test_parse_mapping_forms() -> None:
    assert parse_mapping('{"a": "1"}') == {"a": "1"}
    assert parse_mapping("a = 1\n\n# c\nb=2 # x\n") == {"a": "1", "b": "2"}
    for bad in ("a 1", "a = 1\na = 2", '{"a": 1}', "{nope"):
        with pytest.raises(TemplateError):
            parse_mapping(bad)


def test_generators(gen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["xlcfg", str(gen), "EA-domu-1"]) == 0
    assert 'name = "EA-domu-1"' in capsys.readouterr().out
    assert main(["xlcfg", str(gen), "EB-domu-1"]) == 1
    assert "policy.generator.vnc-password" in capsys.readouterr().err
    pw = tmp_path / "vnc.pw"
    pw.write_text("Vnc-Secret\n")
    out = tmp_path / "EB-domu-1.cfg"
    assert (
        main(["xlcfg", str(gen), "EB-domu-1", "--vnc-password-file", str(pw), "-o", str(out)]) == 0
    )
    assert 'vncpasswd = "Vnc-Secret"' in out.read_text() and _mode(out) == 0o600
    assert main(["xlcfg", str(gen), "nope"]) == 2
    capsys.readouterr()
    assert main(["dnsmasq", str(gen)]) == 0
    assert "interface=EBnat" in capsys.readouterr().out
    assert main(["dnsmasq", str(gen), "--driver-domain", "EA-net"]) == 0
    assert "interface=EAint" in capsys.readouterr().out
    assert main(["dnsmasq", str(gen), "--remote"]) == 2
    assert "--interface" in capsys.readouterr().err
    assert main(["dnsmasq", str(gen), "--remote", "--interface", "eth3"]) == 0
    assert "interface=eth3" in capsys.readouterr().out
    assert main(["firewall", str(gen), "--uplink", "eth0"]) == 0
    assert "-o eth0 -j MASQUERADE" in capsys.readouterr().out
    assert main(["firewall", str(gen), "--ovs", "--nic", "0000:03:00.0=eth1"]) == 0
    assert "ovs-vsctl --may-exist add-port EAbr eth1" in capsys.readouterr().out
    assert main(["firewall", str(gen), "--ovs", "--json", "--root", str(tmp_path)]) == 1
    assert "policy.generator.no-interface" in capsys.readouterr().err


def test_registered_in_the_xenon_command_line() -> None:
    from xenon_tui import cli

    assert "xps.cli.policy" in cli.COMMAND_MODULES


def test_subprocess_round_trip(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "xps.cli.policy"]
    sample = tmp_path / "s.xml"
    run = subprocess.run(
        [*cmd, "sample", "-o", str(sample)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    run = subprocess.run(
        [*cmd, "validate", str(sample), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0 and json.loads(run.stdout)["valid"] is True
    run = subprocess.run(
        [*cmd, "verify", str(sample), "--ca", str(sample)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode in (1, 2) and run.stderr.startswith("xenon policy: ")
    assert "Traceback" not in run.stderr


def test_template_mapping_out_binds_back(gen: Path, tmp_path: Path) -> None:
    tpl, mapping, out = tmp_path / "t.xml", tmp_path / "map.txt", tmp_path / "p.xml"
    assert main(["template", str(gen), "-o", str(tpl), "--mapping-out", str(mapping)]) == 0
    assert "net-controller-EnclaveB = 0000:04:00.0" in mapping.read_text().splitlines()
    assert _mode(mapping) == 0o600
    rc = main(
        ["instantiate", str(tpl), "--mapping", str(mapping), "--hardware", str(gen), "-o", str(out)]
    )
    assert rc == 0
    assert parse_policy(out) == make_policy()


def test_sign_and_verify_a_template(
    gen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = make_ca()
    leaf = make_leaf(ca, "template-signer")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "key.pem").write_bytes(leaf.key_pem)
    (tmp_path / "cert.pem").write_bytes(leaf.cert_pem)
    tpl, signed, out = tmp_path / "t.xml", tmp_path / "t.signed.xml", tmp_path / "t.out.xml"
    assert main(["template", str(gen), "-o", str(tpl)]) == 0
    assert (
        main(
            [
                "sign",
                str(tpl),
                "--key",
                str(tmp_path / "key.pem"),
                "--cert",
                str(tmp_path / "cert.pem"),
                "-o",
                str(signed),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["verify", str(signed), "--ca", str(tmp_path / "ca.pem"), "--json", "-o", str(out)])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "template" and doc["signer"].startswith("CN=template-signer")
    assert out.read_bytes() == tpl.read_bytes()
