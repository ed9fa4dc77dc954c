"""The console over SSH, driven by the real OpenSSH client inside tmux."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._support.ssh import (
    Keys,
    ServerProc,
    Terminal,
    needs_ssh_tools,
    pid_alive,
    wait_until,
)

pytestmark = [needs_ssh_tools, pytest.mark.needs_tool]


@pytest.mark.parametrize("mode", ["zygote", "spawn"])
def test_login_with_key_shows_servers_panel_and_quit_ends_with_status_0(
    ssh_server, ssh_keys: Keys, terminal: Terminal, mode: str
) -> None:
    server = ssh_server(mode=mode)
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin, "-o", "SetEnv=COLORTERM=truecolor"))
    # Each line waited for: a capture can come while the app is still drawing its screen.
    terminal.wait_for("a", r"Servers panel: alpha:7001, beta:7002")
    terminal.wait_for("a", r"user=admin role=admin term=tmux-256color colorterm=truecolor")
    # The child's environment is exactly this: no COLUMNS/LINES, nothing of the server's.
    terminal.wait_for("a", r"env=COLORTERM,HOME,LANG,PATH,TERM,TMPDIR ")
    terminal.wait_for("a", r"size=100x30")
    terminal.send("a", "q")
    terminal.wait_for("a", r"EXIT=0")
    log = server.log()
    fingerprint = ssh_keys.fingerprint(ssh_keys.admin)
    assert "login user=admin role=admin addr=127.0.0.1:" in log
    assert f"key={fingerprint}" in log
    assert "reason=exit status=0" in log


def test_keys_including_function_ctrl_alt_and_escape_reach_the_console(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.wait_for("a", r"key=none")
    for tmux_key, textual_key in [("F1", "f1"), ("F12", "f12"), ("C-a", "ctrl+a"),
                                  ("M-x", "alt+x"), ("Escape", "escape"), ("BTab", "shift+tab"),
                                  ("C-Left", "ctrl+left"), ("PageDown", "pagedown"),
                                  ("w", "w")]:  # fmt: skip
        terminal.send("a", tmux_key)
        terminal.wait_for("a", rf"key={re.escape(textual_key)}(\s|$)")


def _input_thread_sleeps(pid: int) -> bool:
    """True when a thread of console ``pid`` waits in poll/ppoll without a timeout (Linux
    /proc/PID/task/TID/syscall: the call's number and arguments while it blocks)."""
    forever = {"0xffffffff", "0xffffffffffffffff"}  # poll's timeout -1
    poll, ppoll = {"x86_64": ("7", "271"), "aarch64": ("", "73")}[platform.machine()]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            nr, *args = (task / "syscall").read_text().split()
            if (nr == poll and args[2] in forever) or (nr == ppoll and args[2] == "0x0"):
                return True
    return False


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "aarch64"), reason="reads x86_64/aarch64 syscalls"
)
def test_an_idle_console_waits_for_keys_without_polling(
    ssh_server: Callable[..., ServerProc], ssh_keys: Keys, terminal: Terminal
) -> None:
    # Textual's input thread woke every 0.1 s to look for its stop and for a lone Esc's
    # timeout: ten wake-ups a second in every idle session (issue #16 §1). It now sleeps in
    # poll until a key, a due escape timeout or the stop arrives.
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    pid = int(terminal.wait_for("a", r"pid=(\d+)").group(1))
    terminal.wait_for("a", r"key=none")
    wait_until(lambda: _input_thread_sleeps(pid), what="the input thread waiting, no timeout")
    terminal.send("a", "Escape")  # a lone Esc is a key once its sequence timed out
    terminal.wait_for("a", r"key=escape(\s|$)")
    terminal.send("a", "M-x")
    terminal.wait_for("a", r"key=alt\+x(\s|$)")
    wait_until(lambda: _input_thread_sleeps(pid), what="asleep again after the keys")
    terminal.send("a", "q")  # the stop wakes the thread: the console ends at once
    terminal.wait_for("a", r"EXIT=0")
    assert "reason=exit status=0" in server.log()


def test_exit_status_of_the_console_is_the_session_status(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.wait_for("a", r"key=none")
    terminal.send("a", "z")
    terminal.wait_for("a", r"EXIT=7")


def test_resize_is_followed_and_two_sessions_are_independent(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin), cols=100, rows=30)
    terminal.open("b", server.ssh_argv("admin", ssh_keys.admin), cols=70, rows=20)
    terminal.wait_for("a", r"size=100x30")
    terminal.wait_for("b", r"size=70x20")
    terminal.resize("a", 132, 40)
    terminal.wait_for("a", r"size=132x40")
    # The layout follows: the servers box now spans the new width.
    terminal.wait_for("a", r"^╭─{130}╮$")
    assert "size=70x20" in terminal.screen("b")
    terminal.send("b", "F3")
    terminal.wait_for("b", r"key=f3")
    assert "key=none" in terminal.screen("a")


def test_killing_one_sessions_process_leaves_the_other_working(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.open("b", server.ssh_argv("admin", ssh_keys.admin))
    pid_a = int(terminal.wait_for("a", r"pid=(\d+)").group(1))
    pid_b = int(terminal.wait_for("b", r"pid=(\d+)").group(1))
    assert pid_a != pid_b
    os.kill(pid_a, signal.SIGKILL)
    terminal.wait_for("a", r"EXIT=137")
    terminal.send("b", "F7")
    terminal.wait_for("b", r"key=f7")
    wait_until(lambda: "status=137" in server.log(), what="logout logged")


def test_wrong_key_is_refused_and_logged(ssh_server, ssh_keys: Keys) -> None:
    server = ssh_server()
    result = subprocess.run(
        server.ssh_argv("admin", ssh_keys.stranger, "-tt"),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 255
    assert "Permission denied" in result.stderr
    fingerprint = ssh_keys.fingerprint(ssh_keys.stranger)
    wait_until(lambda: "login refused user=admin" in server.log(), what="refusal logged")
    assert f"key={fingerprint}: key not authorized" in server.log()
    # A valid key of another account does not open this one either.
    result = subprocess.run(
        server.ssh_argv("admin", ssh_keys.viewer, "-tt"), capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 255


def test_no_pty_exec_and_forwarding_are_refused(ssh_server, ssh_keys: Keys) -> None:
    server = ssh_server()
    no_pty = subprocess.run(
        server.ssh_argv("admin", ssh_keys.admin, "-T"),
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert no_pty.returncode != 0
    exec_ = subprocess.run(
        [*server.ssh_argv("admin", ssh_keys.admin), "id"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert exec_.returncode != 0
    assert "uid=" not in exec_.stdout
    forward = subprocess.run(
        server.ssh_argv(
            "admin", ssh_keys.admin, "-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"
        ),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert forward.returncode == 255
    assert "forwarding failed" in forward.stderr
    log = server.log()
    assert "refused session without a pty user=admin" in log
    assert "refused exec request user=admin" in log
    assert "refused remote forwarding user=admin" in log
    assert not server.session_pids()


def test_read_only_user_gets_only_read_only_sockets(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("v", server.ssh_argv("viewer", ssh_keys.viewer))
    screen = terminal.wait_for("v", r"Servers panel: .*").group(0)
    # alpha's read-write port 7001 is never handed out; beta has no read-only socket.
    assert "alpha:7101" in screen
    assert "7001" not in screen and "beta" not in screen
    terminal.wait_for("v", r"role=read-only")
    terminal.wait_for("v", r"read_only=True")


def test_crash_goes_to_the_log_not_the_screen(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.wait_for("a", r"key=none")
    terminal.send("a", "!")
    terminal.wait_for("a", r"EXIT=1")
    screen = terminal.screen("a")
    assert "the console stopped unexpectedly" in screen
    assert "Traceback" not in screen and "RuntimeError" not in screen
    assert "sample app asked to crash" in server.session_log()


def test_idle_timeout_and_max_sessions(ssh_server, ssh_keys: Keys, terminal: Terminal) -> None:
    server = ssh_server("--idle-timeout", "3", "--max-sessions", "1")
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.wait_for("a", r"key=none")
    full = subprocess.run(
        server.ssh_argv("admin", ssh_keys.admin, "-tt"),
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert full.returncode == 1
    assert "full" in full.stdout + full.stderr
    terminal.wait_for("a", r"session closed after being idle", timeout=20)
    wait_until(lambda: "reason=idle timeout" in server.log(), what="idle logout logged")


def test_kill_9_of_the_server_leaves_no_console_processes(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    for mode in ("zygote", "spawn"):
        server = ssh_server(mode=mode)
        terminal.open(mode, server.ssh_argv("admin", ssh_keys.admin))
        child = int(terminal.wait_for(mode, r"pid=(\d+)").group(1))
        server.proc.kill()
        server.proc.wait()
        wait_until(lambda pid=child: not pid_alive(pid), what=f"{mode} console {child} to die")
        terminal.wait_for(mode, r"EXIT=255")


def test_stopping_the_server_ends_sessions_with_a_word_and_no_leftovers(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server()
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    child = int(terminal.wait_for("a", r"pid=(\d+)").group(1))
    server.stop()
    assert server.proc.returncode == 0
    terminal.wait_for("a", r"the console server is shutting down")
    terminal.wait_for("a", r"EXIT=129")  # the console was hung up (128 + SIGHUP)
    assert not pid_alive(child)
    assert "reason=server stop" in server.log()


def test_a_memory_blow_up_ends_only_its_own_session(
    ssh_server, ssh_keys: Keys, terminal: Terminal
) -> None:
    server = ssh_server("--session-memory", "512")
    terminal.open("a", server.ssh_argv("admin", ssh_keys.admin))
    terminal.open("b", server.ssh_argv("admin", ssh_keys.admin))
    terminal.wait_for("a", r"key=none")
    terminal.wait_for("b", r"key=none")
    terminal.send("a", "m")
    terminal.wait_for("a", r"EXIT=1")
    assert "MemoryError" in server.session_log()
    terminal.send("b", "F9")
    terminal.wait_for("b", r"key=f9")
