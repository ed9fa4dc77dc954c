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

from enterprise_store.services import Principal, Services


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


@pytest.mark.timeout(300)  # some 20 CLI processes on a shared 2-core box
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

    done = _xenon("enclave", "create", *s, "Enclave A", "--color", "#cc2529")
    assert done.returncode == 0 and "created enclave 'Enclave A'" in done.stdout, done.stderr
    done = _xenon("enclave", "assign", *s, "Enclave A", "xenon-2")
    assert done.returncode == 0, done.stderr
    vm = ["vm", "create", *s, "EA-domu-1", "--enclave", "Enclave A", "--guest-type", "pv",
          "--kernel", "/usr/local/lib/xen/boot/pv-grub-x86_64.gz", "--memory", "2048"]  # fmt: skip
    done = _xenon(*vm)
    assert done.returncode == 1
    assert "XE-VM-NO-SECLABEL" in done.stderr and "hint:" in done.stderr, done.stderr
    done = _xenon("seclabel", "create", *s, "EA-seclabel", "--enclave", "Enclave A",
                  "--profile", "PV-Combined", "--max-rate", "2000")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = _xenon(*vm, "--seclabel", "EA-seclabel")
    assert done.returncode == 0, done.stderr
    assert "on host 'xenon-2'" in done.stdout and "policy version" in done.stdout

    done = _xenon("vm", "extra", *s, "EA-domu-1", "max_grant_frames=64")
    assert done.returncode == 0, done.stderr
    assert "max_grant_frames" in _xenon("vm", "config", *s, "EA-domu-1").stdout
    assert _xenon("vm", "reset-extra", *s, "EA-domu-1").returncode == 0
    assert "max_grant_frames" not in _xenon("vm", "config", *s, "EA-domu-1").stdout
    listed = json.loads(_xenon("vm", "list", *s, "--json").stdout)
    assert [(v["name"], v["memory_mb"], v["maxmem_mb"]) for v in listed] == [
        ("EA-domu-1", 2048, 2048)
    ]

    tree = _xenon("policy", "show", *s, "--tree")
    assert tree.returncode == 0 and "Enclave A" in tree.stdout and "EA-domu-1" in tree.stdout
    assert _xenon("policy", "show", *s, "--xml").stdout.lstrip().startswith("<")
    for check in (["policy", "check"], ["check"]):
        done = _xenon(*check, *s)
        assert done.returncode == 0 and "0 errors" in done.stdout, done.stdout + done.stderr
    versions = json.loads(_xenon("policy", "versions", *s, "--json").stdout)
    assert [v["version"] for v in versions] == list(range(len(versions), 0, -1))
    # 2 hosts, the enclave, its assignment, the SecLabel, the VM, extra, reset: the refused
    # VM made none.
    assert len(versions) == 8

    # A VIF and a disk (Figure 28), shown in the config; a hostile target is refused
    # naming the VM; none given removes them.
    done = _xenon("vm", "vifs", *s, "EA-domu-1", "bridge=EAbr,mac=02:16:3E:00:00:01,ip=172.19.1.5")
    assert done.returncode == 0 and "set 1 VIF(s) of VM 'EA-domu-1'" in done.stdout, done.stderr
    done = _xenon("vm", "disks", *s, "EA-domu-1", "target=/srv/EA/a.img,vdev=xvdb,mode=r")
    assert done.returncode == 0, done.stderr
    config = _xenon("vm", "config", *s, "EA-domu-1").stdout
    assert "# vif 1: bridge=EAbr,mac=02:16:3e:00:00:01,ip=172.19.1.5" in config
    assert "# disk 1: /srv/EA/a.img,raw,xvdb,r" in config
    done = _xenon("vm", "disks", *s, "EA-domu-1", "target=/srv/../etc/shadow,vdev=xvdb")
    assert done.returncode == 1 and "XE-VM-DISK" in done.stderr and "EA-domu-1" in done.stderr
    done = _xenon("vm", "vifs", *s, "EA-domu-1", "bridge=EAbr,model=e1000")
    assert done.returncode != 0 and "give bridge=" in done.stderr
    assert _xenon("vm", "vifs", *s, "EA-domu-1").returncode == 0
    assert "# vif 1" not in _xenon("vm", "config", *s, "EA-domu-1").stdout
