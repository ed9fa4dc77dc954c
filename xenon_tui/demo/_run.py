"""The demo's run: start the hosts, their workload and the SSH server, then the console."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from xenon_tui.demo._procs import DemoError, Processes, wait_for_listen_line, wait_for_ports
from xenon_tui.demo._setup import (
    XPS_CERT_NAME,
    DemoPaths,
    console_settings,
    prepare,
    tls_settings,
    write_json,
)

HOST_COUNT = 3


def _say(message: str) -> None:
    print(f"xenon demo: {message}", flush=True)


def ssh_command(paths: DemoPaths, user: str, port: int) -> str:
    """The exact command that opens the demo console over SSH as ``user``."""
    return shlex.join(
        ["ssh", "-p", str(port), "-i", str(paths.user_key(user)), f"{user}@127.0.0.1"]
    )


def start_hosts(paths: DemoPaths, procs: Processes, seed: int) -> list[dict[str, Any]]:
    """Starts one XPS daemon (sim backend) per sample host; returns their addresses."""
    from xps.policy import SAMPLE_HOST_NAMES

    started = []
    for index, name in enumerate(SAMPLE_HOST_NAMES[:HOST_COUNT]):
        state = paths.host_dir(name)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        # faulthandler: a crash of the C module leaves its stack in logs/xps-NAME.out.
        argv = ["-X", "faulthandler", "-m", "xenon_tui.demo._xps", "xps", "serve",
                "--state-dir", str(state), "--listen", "127.0.0.1:0",
                "--ro-listen", "127.0.0.1:0", "--backend", "sim",
                "--ca", str(paths.ca), "--cert", str(paths.cert(XPS_CERT_NAME)),
                "--key", str(paths.key(XPS_CERT_NAME)), "-D", f"xps.seed={seed + index}",
                "-D", f"xps.hostname={name}",
                "--quiet"]  # fmt: skip
        started.append((name, state, procs.start(f"xps-{name}", argv)))
    hosts = []
    for name, state, proc in started:
        ports = wait_for_ports(state, proc)
        hosts.append(
            {
                "name": name,
                "host": "127.0.0.1",
                "port": ports["read_write"],
                "ro_port": ports["read_only"],
            }
        )
    return hosts


def start_ssh(paths: DemoPaths, procs: Processes, port: int) -> int:
    """Starts the console over SSH (admin and read-only accounts); returns its port."""
    argv = ["-m", "xenon_tui.ssh", "--listen", f"127.0.0.1:{port}",
            "--state-dir", str(paths.ssh),
            "--user", f"admin={paths.user_key('admin').with_suffix('.pub')}",
            "--read-only-user", f"viewer={paths.user_key('viewer').with_suffix('.pub')}",
            "--console-file", str(paths.console_file)]  # fmt: skip
    return wait_for_listen_line(procs.start("ssh", argv, capture_stdout=True))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    """Runs the demo until Ctrl+C / SIGTERM (headless) or until the local console quits."""
    from xps.policy import sample_enterprise

    paths = DemoPaths(Path(args.state_dir).expanduser().resolve())
    procs = Processes(paths.root / "logs")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _say(f"state in {paths.root}")
        prepare(paths)
        tls = tls_settings(paths)
        hosts = start_hosts(paths, procs, args.seed)
        policies = sample_enterprise(HOST_COUNT)
        from xenon_tui.demo._workload import seed

        counts = asyncio.run(seed(hosts, policies, tls))
        for host in hosts:
            _say(
                f"host {host['name']}: read-write 127.0.0.1:{host['port']}, read-only "
                f"127.0.0.1:{host['ro_port']}, {counts[host['name']]} domains running"
            )
        write_json(paths.hosts_file, {"hosts": hosts, "tls": tls, "seed": args.seed})
        write_json(paths.console_file, console_settings(paths, hosts))
        procs.start("workload", ["-m", "xenon_tui.demo._workload", str(paths.hosts_file)])
        ssh_port = start_ssh(paths, procs, args.ssh_port)
        _say(f"console over SSH:  {ssh_command(paths, 'admin', ssh_port)}")
        _say(f"read-only console: {ssh_command(paths, 'viewer', ssh_port)}")
        if args.headless:
            _say("ready; Ctrl+C stops everything")
            _wait(procs)
        else:
            _run_local_console(hosts, tls)
    except DemoError as exc:
        _say(f"{exc.message} (logs in {paths.root / 'logs'})")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        signal.signal(signal.SIGTERM, previous)
    _say("stopped")
    return 0


def _wait(procs: Processes) -> None:
    while True:
        gone = procs.check_alive()
        if gone is not None:
            raise DemoError(f"{gone} stopped unexpectedly")
        time.sleep(0.5)


def _run_local_console(hosts: list[dict[str, Any]], tls: dict[str, str]) -> None:
    from xenon_tui.ssh._config import console_for_role
    from xenon_tui.ssh._consolecfg import console_config
    from xenon_tui.ssh._spec import Role

    settings = console_for_role({"servers": hosts, **tls}, Role.ADMIN)
    from xenon_tui.app import run_console

    with contextlib.suppress(KeyboardInterrupt):
        run_console(console_config(settings))


def main(argv: list[str] | None = None) -> int:
    """``python -m xenon_tui.demo …`` is ``xenon demo …`` (same parser, same behaviour)."""
    from xenon_tui.ssh_cli import register

    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))
