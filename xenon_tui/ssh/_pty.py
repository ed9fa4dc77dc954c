"""Pseudo-terminal helpers: open a pair with an initial size, resize, non-blocking master."""

from __future__ import annotations

import fcntl
import os
import struct
import termios


def set_winsize(fd: int, cols: int, rows: int, xpixel: int = 0, ypixel: int = 0) -> None:
    """Sets the window size of the terminal behind ``fd`` (TIOCSWINSZ)."""
    packed = struct.pack("HHHH", _clamp(rows), _clamp(cols), _clamp(ypixel), _clamp(xpixel))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)


def get_winsize(fd: int) -> tuple[int, int]:
    """Returns ``(cols, rows)`` of the terminal behind ``fd``."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return cols, rows


def open_pty(cols: int, rows: int) -> tuple[int, int]:
    """Opens a pty pair sized before any child sees it.

    Returns:
        ``(master, slave)``; both are close-on-exec, the master is non-blocking.
    """
    master, slave = os.openpty()
    try:
        # The child reads its size at start-up: it must be right before the child exists.
        set_winsize(slave, cols or 80, rows or 24)
        os.set_blocking(master, False)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


# A window's pixel size is only passed on (for image protocols); 16384 covers an 8K screen
# and stays clear of asyncssh's signed 16-bit TIOCSWINSZ packing.
MAX_PIXELS = 16384
DEFAULT_SIZE = (80, 24)


def cap_term_size(
    size: tuple[int, int, int, int], max_cols: int, max_rows: int
) -> tuple[int, int, int, int]:
    """A client's ``(cols, rows, xpixel, ypixel)`` made safe for a console.

    A console allocates per cell: 10000x10000 once took one to 935 MiB. Cells are capped
    at ``max_cols`` x ``max_rows``, pixels at :data:`MAX_PIXELS`; an unknown (0) size
    becomes 80x24.
    """
    cols, rows, xpixel, ypixel = (max(0, int(v)) for v in size)
    return (
        min(cols, max_cols) if cols else DEFAULT_SIZE[0],
        min(rows, max_rows) if rows else DEFAULT_SIZE[1],
        min(xpixel, MAX_PIXELS),
        min(ypixel, MAX_PIXELS),
    )


def _clamp(value: int) -> int:
    return max(0, min(int(value), 0xFFFF))
