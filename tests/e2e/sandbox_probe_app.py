"""A console stand-in for the sandbox tests: tries what a compromised console would try.

It reads the paths and ports to try from its settings (``probe`` in the console file, which
the server hands to every role) and prints one line ``PROBE name=ok|denied|error ...``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from xenon_tui.ssh._spec import SessionInfo


def _outcome(action: object) -> str:
    try:
        action()  # type: ignore[operator]
    except PermissionError:
        return "denied"
    except OSError as exc:
        return f"error:{exc.errno}"
    return "ok"


def _connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def run(info: SessionInfo) -> int:
    probe = info.console.get("probe", {})
    results = {}
    for name, path in sorted(probe.get("read", {}).items()):
        results[name] = _outcome(lambda path=path: Path(path).read_bytes())
    for name, path in sorted(probe.get("write", {}).items()):
        results[name] = _outcome(lambda path=path: Path(path).write_text("probe\n"))
    for name, port in sorted(probe.get("connect", {}).items()):
        results[name] = _outcome(lambda port=port: _connect(int(port)))
    results["home_write"] = _outcome(lambda: Path("note.txt").write_text("mine\n"))
    results["cwd_is_home"] = "ok" if os.getcwd() == info.home else "no"
    results["signal_parent"] = _outcome(lambda: os.kill(os.getppid(), 0))
    line = " ".join(f"{k}={v}" for k, v in sorted(results.items()))
    sys.stdout.write(f"PROBE {line} END\r\n")
    sys.stdout.flush()
    time.sleep(0.5)
    return 0
