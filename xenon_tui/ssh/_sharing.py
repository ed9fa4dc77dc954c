"""Memory sharing between consoles forked by the zygote: shared parsed CSS, heap trimming."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
from typing import Any

# The first trim waits for the first frame; the later ones return what the session freed.
TRIM_FIRST_S = 1.0
TRIM_EVERY_S = 30.0
_shared_rules: dict[tuple[Any, ...], Any] = {}


def share_parsed_css() -> bool:
    """Makes every Textual stylesheet in this process share one parse cache.

    Textual caches parsed rules per ``Stylesheet``, so each console parsed all of its CSS
    again after the fork (about 20 ms and a few hundred KiB per session). Parsing is a
    pure function of the source, its location, its flags and the CSS variables (the
    theme), so those are the key; the warm-up in the zygote fills the cache and every
    console reads it copy-on-write. Returns False (and changes nothing) if this Textual
    has no ``Stylesheet._parse_rules`` with the expected shape.
    """
    try:
        from textual.css.stylesheet import Stylesheet
    except ImportError:
        return False
    original = getattr(Stylesheet, "_parse_rules", None)
    if original is None or getattr(original, "_xenon_shared", False):
        return original is not None

    def _parse_rules(
        self: Any,
        css: str,
        read_from: Any,
        is_default_rules: bool = False,
        tie_breaker: int = 0,
        scope: str = "",
    ) -> Any:
        variables = self._variables
        memo = self.__dict__.get("_xenon_variables")
        if memo is None or memo[0] is not variables:
            memo = (variables, frozenset(variables.items()))
            self.__dict__["_xenon_variables"] = memo
        key = (css, read_from, is_default_rules, tie_breaker, scope, memo[1])
        rules = _shared_rules.get(key)
        if rules is None:
            rules = original(self, css, read_from, is_default_rules, tie_breaker, scope)
            if not any(rule.errors for rule in rules):
                _shared_rules[key] = rules
        return rules

    _parse_rules._xenon_shared = True  # type: ignore[attr-defined]
    Stylesheet._parse_rules = _parse_rules  # type: ignore[method-assign]
    return True


def trim_heap() -> None:
    """Gives the C heap's free pages back to the kernel (glibc ``malloc_trim``).

    Start-up garbage leaves megabytes of free, but touched, heap in every console; they
    count in its private memory until returned.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


async def trim_periodically() -> None:
    """Trims the heap shortly after start (past the first frame), then now and then."""
    await asyncio.sleep(TRIM_FIRST_S)
    while True:
        trim_heap()
        await asyncio.sleep(TRIM_EVERY_S)


def _immortal_refcount_supported() -> bool:
    """True on the CPython builds whose refcount layout :func:`immortalize` knows: 3.12
    to 3.14, 64-bit, with the GIL (a set low 32-bit half means immortal there)."""
    import sys
    import sysconfig

    return (
        sys.implementation.name == "cpython"
        and (3, 12) <= sys.version_info[:2] <= (3, 14)
        and sys.maxsize > 2**32
        and not sysconfig.get_config_var("Py_GIL_DISABLED")
        and not hasattr(sys, "gettotalrefcount")  # a debug build counts references apart
    )


def immortalize() -> int:
    """Marks the objects this process holds now immortal (CPython 3.12+, PEP 683).

    Called in the zygote just before it starts forking: every console forked afterwards
    touches the preloaded modules' functions, classes, code and constants, and each
    ``Py_INCREF``/``Py_DECREF`` on one of them writes its page, which the kernel then
    copies into that console. An immortal object's refcount is never written, so those
    pages stay shared. The objects are the garbage collector's (every container: modules'
    dicts, classes, functions, caches) and what they refer to directly (code objects,
    strings, numbers, bytes). Immortal objects are never freed: only call this in a
    process whose objects live as long as it does, after the start-up garbage is gone.

    Returns:
        How many objects were marked (0 where the build's refcount layout is unknown).
    """
    import gc
    import sys

    if not _immortal_refcount_supported():
        return 0
    ob_refcnt = ctypes.c_uint32  # the low half of ob_refcnt (little-endian x86-64/arm64)
    if sys.byteorder != "little":
        return 0
    seen: set[int] = set()
    objects = gc.get_objects()
    marked = 0
    for holder in objects:
        for obj in (holder, *gc.get_referents(holder)):
            address = id(obj)
            if address in seen:
                continue
            seen.add(address)
            field = ob_refcnt.from_address(address)
            if field.value != 0xFFFFFFFF:
                field.value = 0xFFFFFFFF
                marked += 1
    return marked


def _free_blocks_per_size_class() -> dict[int, int]:
    """pymalloc's free blocks in its partly used pools, per block size (bytes)."""
    import os
    import re
    import sys

    debug_stats = getattr(sys, "_debugmallocstats", None)
    if debug_stats is None:
        return {}
    # _debugmallocstats writes to the C stderr: read it through a pipe.
    read_end, write_end = os.pipe()
    saved = os.dup(2)
    try:
        sys.stderr.flush()
        os.dup2(write_end, 2)
        try:
            debug_stats()
        finally:
            os.dup2(saved, 2)
        os.close(write_end)
        write_end = -1
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(saved)
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    text = b"".join(chunks).decode("ascii", "replace")
    table = re.findall(r"^\s*\d+\s+(\d+)\s+\d+\s+\d+\s+(\d+)\s*$", text, re.MULTILINE)
    return {int(size): int(avail) for size, avail in table if int(avail)}


_fillers: list[object] = []


def fill_heap_holes() -> int:
    """Takes every free block of pymalloc's partly used pools with a small object that
    lives as long as the process.

    The start-up work of a zygote frees objects all over its heap. A console forked
    afterwards would put its own new objects into those holes, and every page it writes
    that way is copied from the zygote. With the holes taken, a console's objects go to
    pools of its own. Returns how many blocks were taken (0 without pymalloc statistics).
    """
    import sys

    empty_bytes = sys.getsizeof(b"")
    taken = 0
    for size, avail in sorted(_free_blocks_per_size_class().items()):
        if size == 16:
            make: Any = object
        elif size <= empty_bytes:
            make = lambda: int.from_bytes(b"\xff\xff\x01", "little")  # noqa: E731 (28 bytes)
        else:
            length = size - empty_bytes  # bytes(length) is exactly ``size`` bytes
            make = lambda n=length: bytes(n)  # noqa: E731
        for _ in range(avail):
            _fillers.append(make())
        taken += avail
    return taken
