"""Hypercall names and sub-op sets from the library, and PCI address (BDF) helpers."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping

from xps.msm._errors import InvalidArgument, OutOfRange
from xps.msm._lib import ffi, lib
from xps.msm._objects import NR_HYPERCALLS, SUBOP_HYPERCALL_NUMBERS
from xps.msm._validate import U32_MAX

__all__ = [
    "HYPERCALL_NAMES",
    "SUBOP_HYPERCALLS",
    "format_bdf",
    "hypercall_number",
    "parse_bdf",
]


def _names() -> Mapping[int, str]:
    names = {}
    for nr in range(NR_HYPERCALLS):
        ptr = lib.msm_hypercall_name(nr)
        if ptr != ffi.NULL:
            names[nr] = ffi.string(ptr).decode("ascii")
    return types.MappingProxyType(names)


HYPERCALL_NAMES: Mapping[int, str] = _names()
"""Hypercall number -> Xen's name (``"domctl"``), for the numbers in Xen's table."""

SUBOP_HYPERCALLS: frozenset[int] = frozenset(
    nr for nr in range(NR_HYPERCALLS) if lib.msm_hypercall_has_subops(nr)
)
"""Hypercalls whose profile carries an enforced 256-bit sub-op bitmap."""

if SUBOP_HYPERCALLS != SUBOP_HYPERCALL_NUMBERS:  # pragma: no cover - build skew
    raise ImportError(
        f"native._msm sub-op hypercalls {sorted(SUBOP_HYPERCALLS)} differ from msm.h's "
        f"{sorted(SUBOP_HYPERCALL_NUMBERS)}"
    )

_BY_NAME = {name: nr for nr, name in HYPERCALL_NAMES.items()}


def hypercall_number(name: str) -> int:
    """The number of a hypercall by Xen name (``"domctl"`` or ``"__HYPERVISOR_domctl"``).

    Raises:
        InvalidArgument: The name is not in Xen's hypercall table.
    """
    key = name.strip().lower().removeprefix("__hypervisor_")
    try:
        return _BY_NAME[key]
    except KeyError:
        raise InvalidArgument(f"unknown hypercall name {name!r}") from None


_BDF = re.compile(
    r"(?:(?P<seg>[0-9a-fA-F]{1,4}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<dev>[0-9a-fA-F]{1,2})"
    r"\.(?P<fn>[0-7])"
)


def parse_bdf(text: str) -> int:
    """Parses ``"0000:03:00.0"`` (segment optional) into ``seg<<16 | bus<<8 | dev<<3 | fn``.

    Raises:
        InvalidArgument: Malformed address or a device number above 31.
    """
    m = _BDF.fullmatch(text.strip())
    if m is None:
        raise InvalidArgument(f"not a PCI address (SSSS:BB:DD.F): {text!r}")
    seg = int(m["seg"] or "0", 16)
    bus, dev, fn = int(m["bus"], 16), int(m["dev"], 16), int(m["fn"])
    if dev > 31:
        raise InvalidArgument(f"PCI device number above 31 in {text!r}")
    return seg << 16 | bus << 8 | dev << 3 | fn


def format_bdf(bdf: int) -> str:
    """Formats a packed BDF as ``"ssss:bb:dd.f"``."""
    if isinstance(bdf, bool) or not isinstance(bdf, int):
        raise InvalidArgument("bdf must be an int")
    if not 0 <= bdf <= U32_MAX:
        raise OutOfRange(f"bdf must be a uint32, got {bdf}")
    return f"{bdf >> 16:04x}:{(bdf >> 8) & 0xFF:02x}:{(bdf >> 3) & 0x1F:02x}.{bdf & 7}"
