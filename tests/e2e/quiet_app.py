"""A console that draws nothing until asked: ``d`` fills the screen once (its first
frame) and writes ``drawn-PID``; ``q`` quits. Served by the start-slot tests."""

from __future__ import annotations

import os

from xenon_tui.ssh._spec import SessionInfo


def run(info: SessionInfo) -> int:
    """Entry point used by the SSH server (``tests.e2e.quiet_app:run``)."""
    while True:
        key = os.read(0, 1)
        if not key or key == b"q":
            return 0
        if key == b"d":
            size = os.get_terminal_size(1)
            os.write(1, b"." * (size.columns * size.lines) + f"drawn-{os.getpid()}".encode())
