"""Process resources the daemon sets once: file descriptors, and freed memory going back.

Both are process-wide, so only the daemon's entry points call them (as with
``lean_log_records``), never the server class that tests embed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import resource

log = logging.getLogger("xps.server")

# glibc's mallopt parameter number (malloc.h).
_M_MMAP_THRESHOLD = -3
#: Allocations from this size up get their own mapping, unmapped again when freed.
MMAP_THRESHOLD = 128 * 1024


def raise_fd_limit(needed: int) -> int:
    """Raises the soft ``RLIMIT_NOFILE`` to ``needed`` (at most the hard limit).

    The front door holds up to ``max-clients + max-unauthenticated`` sockets; a common
    soft limit of 1024 would make ``accept`` fail long before (it then sheds the oldest
    silent connection, see ``xps.server._admission``). Returns the soft limit in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("Cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft < needed:
        log.warning(
            "Open-file limit %d is below what the configured limits need (%d): "
            "raise LimitNOFILE, or lower xps.max-clients / xps.max-unauthenticated",
            soft,
            needed,
        )
    return soft


def return_freed_memory() -> bool:
    """Makes glibc hand large freed buffers back to the kernel at once.

    glibc serves a request of 128 KiB or more with its own mapping, but after such a
    mapping is freed it raises that threshold to the freed size (up to 32 MiB), so later
    buffers of that size come from the heap, whose freed middle is never returned.
    Every TLS connection allocates a 256 KiB read buffer (asyncio's ``SSLProtocol``) and
    every large request a frame buffer: measured, 1,000 connections held then closed
    left the daemon at 306 MiB instead of 41. Setting the threshold explicitly turns the
    adjustment off (``mallopt(3)``): the same run ends at 80 MiB. This is a ctypes call
    into the C library, made only where it is glibc; ``malloc_trim`` was not needed.

    Returns:
        True when the setting was applied.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
