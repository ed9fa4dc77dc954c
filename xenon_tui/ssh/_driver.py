"""The terminal driver of a console process: Textual's Linux driver, minus its idle polling.

Textual's input thread waits for the terminal with a 0.1 s timeout, forever, so that it can
notice the end of the app and time out a lone Esc: ten wake-ups a second in every console
of every session, each taking the GIL from the UI loop (about 0.1 % of a core per session
while nothing happens, a fifth of the idle budget). Here the thread sleeps until a key
arrives, an escape sequence's timeout is due, or the app stops input (a byte on a pipe).

Written against Textual 8.2.8 (pinned): it reads the parser's private ``_timeout_time``.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._loop import loop_last
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


class _WakingEvent(threading.Event):
    """An Event whose ``set`` also writes a byte to a pipe, waking a thread in select."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # full (already awake) or closed (gone)
            os.write(self._wake_fd, b"\0")


class SessionDriver(LinuxDriver):
    """Textual's Linux driver whose input thread waits without a timeout while idle."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.exit_event: _WakingEvent = _WakingEvent(self._wake_w)
        self.input_wakeups = 0
        """How often the input thread woke up (keys, escape timeouts, the stop)."""

    def input_timeout(self, parser: XTermParser) -> float | None:
        """How long the input thread may sleep: until a pending escape sequence times
        out, else until something happens."""
        due = parser._timeout_time
        return None if due is None else max(0.0, due - get_time())

    def run_input_thread(self) -> None:
        """Textual's ``LinuxDriver.run_input_thread`` with the wait of :meth:`input_timeout`
        and the stop pipe (the rest as Textual 8.2.8 has it)."""
        selector = selectors.PollSelector()  # no FD_SETSIZE limit on a forked console's fds
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        fileno, wake_r = self.fileno, self._wake_r
        parser = XTermParser(self._debug)
        feed, tick = parser.feed, parser.tick
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for last, (key, mask) in loop_last(events):
                if key.fd == wake_r:
                    with contextlib.suppress(OSError):
                        os.read(wake_r, 64)
                    continue
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break  # stdin piped and closed
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                events = selector.select(self.input_timeout(parser))
                self.input_wakeups += 1
                process(events)
            selector.unregister(fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            with contextlib.suppress(Exception):
                for _event in feed(""):
                    pass

    def close(self) -> None:
        super().close()
        self.exit_event._wake_fd = -1  # a later set() must not write to a reused number
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
