"""``xenon xe enclave|seclabel|vm|conflict|dhcp|policy|check`` against a real ``xenon xe serve``
(HTTPS, TLS 1.3) on 127.0.0.1 port 0: the Figure 24 refusal printed with every finding and
its hint (exit 1), a VM placed by the default rule, extra xl and its reset, the three views,
the checker, the versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from enterprise_store.cli._config import CliError
from enterprise_store.cli._policy_run import _specs
from enterprise_store.services import Principal, Services
from xenon_tui.cli._main import build_parser


def _xe(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``xenon xe ARGS``: the same parser, started without the rest of ``xenon`` (a
    fraction of its start-up: the test's 30 commands took 270 s at load 9 through
    ``xenon``, which the login below still goes through)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}
    return subprocess.run(
        [sys.executable, "-m", "enterprise_store.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


def _xenon(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XENON_XE_")}
    return subprocess.run(
        [sys.executable, "-m", "xenon_tui.cli", "xe", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )


@pytest.mark.timeout(300)  # some 30 CLI processes on a shared 2-core box
async def test_the_policy_commands_against_a_real_server(
    xe_state: Path,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
) -> None:
    # Hosts join through Compute, which reads their facts from their XPS (there is none
    # here): the Policy service's step it calls, on the store, before the server starts.
    services = await Services.open(f"sqlite:///{xe_state / 'xe.db'}")
    try:
        await services.policy.add_host(Principal.system(), name="xenon-1", address="10.0.2.101")
        await services.policy.add_host(Principal.system(), name="xenon-2", address="10.0.2.102")
    finally:
        await services.close()
    start_serve(xe_state)
    s = ["--state-dir", str(xe_state)]
    done = _xenon("login", *s, "--user", "admin", "--password-stdin", stdin=admin_password_cli)
    assert done.returncode == 0, done.stderr

    done = _xe("enclave", "create", *s, "Enclave A", "--color", "#cc2529")
    assert done.returncode == 0 and "created enclave 'Enclave A'" in done.stdout, done.stderr
    done = _xe("enclave", "assign", *s, "Enclave A", "xenon-2")
    assert done.returncode == 0, done.stderr
    vm = ["vm", "create", *s, "EA-domu-1", "--enclave", "Enclave A", "--guest-type", "pv",
          "--kernel", "/usr/local/lib/xen/boot/pv-grub-x86_64.gz", "--memory", "2048"]  # fmt: skip
    done = _xe(*vm)
    assert done.returncode == 1
    assert "XE-VM-NO-SECLABEL" in done.stderr and "hint:" in done.stderr, done.stderr
    done = _xe("seclabel", "create", *s, "EA-seclabel", "--enclave", "Enclave A",
                  "--profile", "PV-Combined", "--max-rate", "2000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = _xe(*vm, "--seclabel", "EA-seclabel")
    assert done.returncode == 0, done.stderr
    assert "on host 'xenon-2'" in done.stdout and "policy version" in done.stdout

    done = _xe("vm", "extra", *s, "EA-domu-1", "max_grant_frames=64")
    assert done.returncode == 0, done.stderr
    assert "max_grant_frames" in _xe("vm", "config", *s, "EA-domu-1").stdout
    assert _xe("vm", "reset-extra", *s, "EA-domu-1").returncode == 0
    assert "max_grant_frames" not in _xe("vm", "config", *s, "EA-domu-1").stdout
    listed = json.loads(_xe("vm", "list", *s, "--json").stdout)
    assert [(v["name"], v["memory_mb"], v["maxmem_mb"]) for v in listed] == [
        ("EA-domu-1", 2048, 2048)
    ]

    tree = _xe("policy", "show", *s, "--tree")
    assert tree.returncode == 0 and "Enclave A" in tree.stdout and "EA-domu-1" in tree.stdout
    assert _xe("policy", "show", *s, "--xml").stdout.lstrip().startswith("<")
    for check in (["policy", "check"], ["check"]):
        done = _xe(*check, *s)
        assert done.returncode == 0 and "0 errors" in done.stdout, done.stdout + done.stderr
    versions = json.loads(_xe("policy", "versions", *s, "--json").stdout)
    assert [v["version"] for v in versions] == list(range(len(versions), 0, -1))
    # 2 hosts, the enclave, its assignment, the SecLabel, the VM, extra, reset: the refused
    # VM made none.
    assert len(versions) == 8

    # A VIF and a disk (Figure 28), shown in the config; a hostile target is refused
    # naming the VM; none given removes them.
    done = _xe("vm", "vifs", *s, "EA-domu-1", "bridge=EAbr,mac=02:16:3E:00:00:01,ip=172.19.1.5")
    assert done.returncode == 0 and "set 1 VIF(s) of VM 'EA-domu-1'" in done.stdout, done.stderr
    done = _xe("vm", "disks", *s, "EA-domu-1", "target=/srv/EA/a.img,vdev=xvdb,mode=r")
    assert done.returncode == 0, done.stderr
    config = _xe("vm", "config", *s, "EA-domu-1").stdout
    assert "# vif 1: bridge=EAbr,mac=02:16:3e:00:00:01,ip=172.19.1.5" in config
    assert "# disk 1: /srv/EA/a.img,raw,xvdb,r" in config
    done = _xe("vm", "disks", *s, "EA-domu-1", "target=/srv/../etc/shadow,vdev=xvdb")
    assert done.returncode == 1 and "XE-VM-DISK" in done.stderr and "EA-domu-1" in done.stderr
    # A VIF's NIC model and a CD-ROM disk (session 10's fields), shown in the config (the
    # model is HVM only: this PV guest's line says so); an unknown model and a writable
    # CD-ROM are refused by XE (exit 1).
    done = _xe("vm", "vifs", *s, "EA-domu-1", "bridge=EAbr,model=virtio-net")
    assert done.returncode == 0, done.stderr
    done = _xe("vm", "disks", *s, "EA-domu-1", "target=/srv/EA/a.img,vdev=xvdb",
               "target=/srv/iso/install.iso,vdev=hdc,devtype=cdrom")  # fmt: skip
    assert done.returncode == 0 and "set 2 disk(s)" in done.stdout, done.stderr
    config = _xe("vm", "config", *s, "EA-domu-1").stdout
    assert "# vif 1: bridge=EAbr (model virtio-net: HVM only)" in config
    assert "# disk 1: /srv/EA/a.img,raw,xvdb,w\n" in config
    assert "# disk 2: /srv/iso/install.iso,raw,hdc,r,devtype=cdrom\n" in config
    done = _xe("vm", "vifs", *s, "EA-domu-1", "bridge=EAbr,model=ne2k_pci")
    assert done.returncode == 1 and "vifs.0.model" in done.stderr and "virtio-net" in done.stderr
    done = _xe("vm", "disks", *s, "EA-domu-1", "target=/srv/x.iso,vdev=hdc,mode=w,devtype=cdrom")
    assert done.returncode == 1 and "a CD-ROM is read-only" in done.stderr, done.stderr
    assert _xe("vm", "vifs", *s, "EA-domu-1").returncode == 0
    assert "# vif 1" not in _xe("vm", "config", *s, "EA-domu-1").stdout

    # A host's read-only port: recorded, then cleared (PATCH ro_port null).
    done = _xe("host", "ro-port", *s, "xenon-1", "9444")
    assert done.returncode == 0 and "host xenon-1: read-only port 9444" in done.stdout, done.stderr
    done = _xe("host", "ro-port", *s, "xenon-1", "--clear")
    assert done.returncode == 0 and "host xenon-1: read-only port none" in done.stdout, done.stderr
    hosts = json.loads(_xe("host", "list", *s, "--json").stdout)
    assert {h["name"]: h["ro_port"] for h in hosts} == {"xenon-1": None, "xenon-2": None}


def test_device_specs_and_the_ro_port_arguments_are_checked_before_any_request() -> None:
    # devtype is xl's word: cdrom or disk, XE's cdrom flag; an unknown key names the keys.
    disks = _specs(["target=/a.iso,vdev=hdc,devtype=cdrom", "target=/b,vdev=xvdb,devtype=disk"],
                   "disk", ("target", "vdev", "mode", "format", "devtype"))  # fmt: skip
    assert [d["cdrom"] for d in disks] == [True, False]
    with pytest.raises(CliError, match="devtype is cdrom or disk"):
        _specs(["target=/a,vdev=hdc,devtype=floppy"], "disk", ("target", "vdev", "devtype"))
    with pytest.raises(CliError, match="give bridge=…, mac=…, ip=…, model=…"):
        _specs(["bridge=br0,speed=10"], "VIF", ("bridge", "mac", "ip", "model"))
    parser = build_parser()
    args = parser.parse_args(["xe", "host", "ro-port", "xenon-1", "--clear"])
    assert (args.ref, args.port, args.clear) == ("xenon-1", None, True)
    for wrong in (["xenon-1"], ["xenon-1", "9444", "--clear"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["xe", "host", "ro-port", *wrong])
        assert exited.value.code == 2
