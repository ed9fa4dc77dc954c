"""The demo's run: start the hosts, their workload and the SSH server, then the console."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

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
SUPERVISE_EVERY_S = 0.25


class _Say:
    """The demo's messages: on stdout (unless the local console owns the terminal) and in
    ``logs/demo.log`` (0600, with the time)."""

    def __init__(self) -> None:
        self.echo = True
        self._file: TextIO | None = None
        self._lock = threading.Lock()

    def open(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(log_dir / "demo.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __call__(self, message: str) -> None:
        # Our own text only (host names, statuses, paths); one line each.
        line = " ".join(message.splitlines())
        with self._lock:
            if self.echo:
                print(f"xenon demo: {line}", flush=True)
            if self._file is not None:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                self._file.write(f"{stamp} {line}\n")
                self._file.flush()


_say = _Say()


def ssh_command(paths: DemoPaths, user: str, port: int) -> str:
    """The exact command that opens the demo console over SSH as ``user``."""
    return shlex.join(
        ["ssh", "-p", str(port), "-i", str(paths.user_key(user)), f"{user}@127.0.0.1"]
    )


def _xps_argv(paths: DemoPaths, name: str, seed: int, rw_port: int, ro_port: int) -> list[str]:
    # faulthandler: a crash of the C module leaves its stack in logs/xps-NAME.out.
    return ["-X", "faulthandler", "-m", "xenon_tui.demo._xps", "xps", "serve",
            "--state-dir", str(paths.host_dir(name)), "--listen", f"127.0.0.1:{rw_port}",
            "--ro-listen", f"127.0.0.1:{ro_port}", "--backend", "sim",
            "--ca", str(paths.ca), "--cert", str(paths.cert(XPS_CERT_NAME)),
            "--key", str(paths.key(XPS_CERT_NAME)), "-D", f"xps.seed={seed}",
            "-D", f"xps.hostname={name}",
            "--quiet"]  # fmt: skip


def start_hosts(paths: DemoPaths, procs: Processes, seed: int) -> list[dict[str, Any]]:
    """Starts one XPS daemon (sim backend) per sample host; returns their addresses."""
    from xps.policy import SAMPLE_HOST_NAMES

    # The ports of the last run when they are free again: XE and the operator know them.
    previous = _previous_ports(paths)
    started = []
    for index, name in enumerate(SAMPLE_HOST_NAMES[:HOST_COUNT]):
        state = paths.host_dir(name)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        rw, ro = previous.get(name, (0, 0))
        argv = _xps_argv(paths, name, seed + index, rw, ro)
        started.append((index, name, state, procs.start(f"xps-{name}", argv)))
    hosts = []
    for index, name, state, proc in started:
        try:
            ports = wait_for_ports(state, proc)
        except DemoError:
            if name not in previous:
                raise
            _say(f"host {name}: its last ports are taken; it gets new ones")
            proc = procs.start(f"xps-{name}", _xps_argv(paths, name, seed + index, 0, 0))
            ports = wait_for_ports(state, proc)
        hosts.append(
            {
                "name": name,
                "host": "127.0.0.1",
                "port": ports["read_write"],
                "ro_port": ports["read_only"],
                "_proc": proc,
            }
        )
    return hosts


def _previous_ports(paths: DemoPaths) -> dict[str, tuple[int, int]]:
    try:
        doc = json.loads(paths.hosts_file.read_text(encoding="utf-8"))
        return {
            str(h["name"]): (int(h["port"]), int(h["ro_port"]))
            for h in doc["hosts"]
            if 0 < int(h["port"]) < 65536 and 0 < int(h["ro_port"]) < 65536
        }
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def supervise_hosts(
    paths: DemoPaths,
    procs: Processes,
    hosts: list[dict[str, Any]],
    tls: dict[str, str],
    seed: int,
) -> None:
    """Restarts each host's daemon when it exits: on the same ports (the consoles reconnect
    on their own), with its policy store as it was, and its domains started again."""
    for index, host in enumerate(hosts):
        proc = host.pop("_proc")
        procs.supervise(
            f"xps-{host['name']}",
            f"host {host['name']}",
            proc,
            _host_restarter(paths, procs, dict(host), tls, seed + index),
        )


def _host_restarter(
    paths: DemoPaths, procs: Processes, host: dict[str, Any], tls: dict[str, str], seed: int
) -> Any:
    from xenon_tui.demo._workload import start_domains
    from xps.client import XpsError

    def restart() -> subprocess.Popen[bytes]:
        name = host["name"]
        argv = _xps_argv(paths, name, seed, host["port"], host["ro_port"])
        proc = procs.start(f"xps-{name}", argv)
        ports = wait_for_ports(paths.host_dir(name), proc)
        if (ports["read_write"], ports["read_only"]) != (host["port"], host["ro_port"]):
            raise DemoError(f"host {name} came back on other ports ({ports})")
        try:
            count = asyncio.run(start_domains(host, tls))
        except (XpsError, OSError) as exc:
            raise DemoError(f"host {name} came back but its domains did not start: {exc}") from exc
        _say(f"host {name}: {count} domains running again")
        return proc

    return restart


@dataclass(frozen=True)
class DemoXe:
    """The demo's running XE: its URL, CA and the SSH server's service credential."""

    state: Path
    url: str
    ca: Path
    credential: Path


def start_ssh(paths: DemoPaths, procs: Processes, port: int, xe: DemoXe | None = None) -> int:
    """Starts the console over SSH; returns its port. With XE its logins are XE users
    (``admin``, and ``viewer`` an auditor: read-only), each console opening on the
    Enterprise view; without, local admin and read-only accounts."""
    argv = ["-m", "xenon_tui.ssh", "--listen", f"127.0.0.1:{port}",
            "--state-dir", str(paths.ssh), "--console-file", str(paths.console_file)]  # fmt: skip
    if xe is None:
        admin, viewer = (paths.user_key(u).with_suffix(".pub") for u in ("admin", "viewer"))
        argv += ["--user", f"admin={admin}", "--read-only-user", f"viewer={viewer}"]
    else:
        argv += ["--xe", xe.url, "--xe-ca", str(xe.ca), "--xe-credential", str(xe.credential)]
    return wait_for_listen_line(procs.start("ssh", argv, capture_stdout=True))


def start_xe(paths: DemoPaths, procs: Processes, hosts: list[dict[str, Any]]) -> DemoXe:
    """Runs ``xenon xe serve`` on ``STATE/xe`` (supervised, restarted on its port); on its
    first run, XE takes the hosts over and propagates the report's simple policy to them.
    Every run: the demo's SSH users in XE and the SSH server's credential."""
    from xenon_tui.demo import _xe

    state = _xe.xe_dir(paths.root)
    _xe.init(state, paths.pki)
    proc, url = _xe.start_server(state, procs)
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    procs.supervise("xe", "Xenon Enterprise", proc, lambda: _xe.start_server(state, procs, port)[0])
    if not _xe.is_set_up(state):
        _say("Xenon Enterprise: adding the hosts and propagating the policy of §4.2")
        done = asyncio.run(_xe.set_up(state, url, hosts))
        _say(f"Xenon Enterprise: policy version {done['version']} on {len(hosts)} hosts")
    else:
        for name in asyncio.run(_xe.follow_ports(state, url, hosts)):
            _say(f"Xenon Enterprise: host {name}'s new port recorded")
    _say(f"Xenon Enterprise:  {url} (xenon xe … --state-dir {state})")
    _say(
        f"XE admin {_xe.ADMIN}: password in {state / _xe.PASSWORD_FILE}, "
        f"API token in {state / _xe.TOKEN_FILE}"
    )
    keys = {
        user: paths.user_key(user).with_suffix(".pub").read_text(encoding="utf-8")
        for user in _xe.SSH_USERS
    }
    credential = asyncio.run(_xe.ssh_access(state, url, keys))
    return DemoXe(state, url, _xe.ca_file(state), credential)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_demo(args: argparse.Namespace) -> int:
    """Runs the demo until Ctrl+C / SIGTERM (headless) or until the local console quits."""
    from xps.policy import Policy, sample_enterprise

    paths = DemoPaths(Path(args.state_dir).expanduser().resolve())
    use_xe = not getattr(args, "no_xe", False)
    procs = Processes(paths.root / "logs", say=_say)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    supervisor: _Supervisor | None = None
    status = 0
    _say.echo = True
    try:
        _say.open(paths.root / "logs")
        _say(f"state in {paths.root}")
        prepare(paths)
        tls = tls_settings(paths)
        hosts = start_hosts(paths, procs, args.seed)
        # Seed only on a host's first run: later runs keep the operator's policy. With XE,
        # XE gives the hosts their policies (on its own first run).
        samples = sample_enterprise(HOST_COUNT)
        policies: dict[str, Policy | None] = {
            h["name"]: None if paths.seeded(h["name"]).exists() or use_xe else samples[h["name"]]
            for h in hosts
        }
        xe = start_xe(paths, procs, hosts) if use_xe else None
        from xenon_tui.demo._workload import seed

        counts = asyncio.run(seed(hosts, policies, tls))
        for host in hosts:
            if not paths.seeded(host["name"]).exists():
                source = "xe" if use_xe else "sample"
                write_json(paths.seeded(host["name"]), {"policy_from": source})
        for host in hosts:
            _say(
                f"host {host['name']}: read-write 127.0.0.1:{host['port']}, read-only "
                f"127.0.0.1:{host['ro_port']}, {counts[host['name']]} domains running"
            )
        supervise_hosts(paths, procs, hosts, tls, args.seed)
        write_json(paths.hosts_file, {"hosts": hosts, "tls": tls, "seed": args.seed})
        write_json(paths.console_file, console_settings(paths, hosts))
        workload = ["-m", "xenon_tui.demo._workload", str(paths.hosts_file)]
        proc = procs.start("workload", workload)
        procs.supervise("workload", "workload", proc, lambda: procs.start("workload", workload))
        ssh_port = start_ssh(paths, procs, args.ssh_port, xe)
        _say(f"console over SSH:  {ssh_command(paths, 'admin', ssh_port)}")
        _say(f"read-only console: {ssh_command(paths, 'viewer', ssh_port)}")
        if xe is not None:
            _say("SSH logins are XE users (admin; viewer an auditor): the Enterprise view first")
        supervisor = _Supervisor(procs)
        if args.headless:
            _say("ready; Ctrl+C stops everything")
            supervisor.run()
        else:
            supervisor.start()
            _say(f"the local console starts; the demo's messages go to {paths.root / 'logs'}")
            _say.echo = False
            _run_local_console(hosts, tls, xe)
    except DemoError as exc:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stopping already
        _say(f"{exc.message} (logs in {paths.root / 'logs'})")
        status = 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop()
        procs.stop_all()
        signal.signal(signal.SIGTERM, previous)
        _say.echo = True
        _say("stopped")
        _say.close()
    return status


class _Supervisor(threading.Thread):
    """Keeps the demo's children up: restarts hosts and the workload with back-off (logged).

    ``run`` in the main thread (headless) raises DemoError when a child that is not
    restarted (the SSH console server) exits; as a thread it only logs that.
    """

    def __init__(self, procs: Processes) -> None:
        super().__init__(name="demo-supervisor", daemon=True)
        self._procs = procs
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            gone = self._procs.poll()
            if gone is not None:
                message = f"{gone} stopped unexpectedly"
                if threading.current_thread() is threading.main_thread():
                    raise DemoError(message)
                _say(message)
                return
            time.sleep(SUPERVISE_EVERY_S)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join()


def local_console(hosts: list[dict[str, Any]], tls: dict[str, str], link: Any = None) -> Any:
    """The local console: the hosts read-write; with an XE link, on the Enterprise view."""
    from xenon_tui.app import XenonConsole
    from xenon_tui.ssh._config import console_for_role
    from xenon_tui.ssh._consolecfg import console_config
    from xenon_tui.ssh._spec import Role

    settings = console_for_role({"servers": hosts, **tls}, Role.ADMIN)
    extra = {} if link is None else {"xe": link}
    return XenonConsole(console_config(settings), **extra)


def xe_link(xe: DemoXe, token: str) -> Any:
    """The local console's link to the demo's XE as its admin."""
    from xenon_tui._xe import XeLink
    from xenon_tui.demo import _xe

    return XeLink(xe.url, token, _xe.ADMIN, "admin", xe.ca)


def _run_local_console(
    hosts: list[dict[str, Any]], tls: dict[str, str], xe: DemoXe | None = None
) -> None:
    from xenon_tui.app import tune_gc
    from xenon_tui.demo import _xe

    token = None if xe is None else asyncio.run(_xe.console_login(xe.state, xe.url))
    app = local_console(hosts, tls, None if xe is None or token is None else xe_link(xe, token))
    tune_gc()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            app.run()
    finally:
        if xe is not None and token is not None:
            asyncio.run(_xe.console_logout(xe.state, xe.url, token))


def main(argv: list[str] | None = None) -> int:
    """``python -m xenon_tui.demo …`` is ``xenon demo …`` (same parser, same behaviour)."""
    from xenon_tui.cli.demo import register

    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))
