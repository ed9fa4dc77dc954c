"""The one import of the compiled module ``native._msm``: version check and ``check(rc)``.

No other module of the project touches ``ffi``/``lib``; cffi objects are ``Any`` here and
never leave :mod:`xps.msm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The compiled module has no stub; whether mypy sees it depends on how it was installed.
from native import _msm  # type: ignore[attr-defined,unused-ignore]
from xps.msm._errors import CommitError, CommitNames, VersionMismatch, error_for

__all__ = [
    "EXPECTED_INTERFACE_VERSION",
    "check",
    "check_interface_version",
    "ffi",
    "last_error",
    "lib",
]

# The msm.h this Python was written against; a different major is refused at import.
# 1.3: the label-level channel rule (both ends' profiles must allow event_channel_op).
EXPECTED_INTERFACE_VERSION = 0x00010003

ffi: Any = _msm.ffi
lib: Any = _msm.lib


def check_interface_version(found: int) -> None:
    """Refuses a library whose MSM interface major differs from the one expected here.

    Raises:
        VersionMismatch: The majors differ (minor versions only add).
    """
    if found >> 16 != EXPECTED_INTERFACE_VERSION >> 16:
        raise VersionMismatch(
            f"native._msm implements MSM interface {found >> 16}.{found & 0xFFFF}, "
            f"xps.msm needs {EXPECTED_INTERFACE_VERSION >> 16}.x; rebuild native/ "
            "(python native/build_msm.py) or update xps.msm"
        )


check_interface_version(int(lib.MSM_INTERFACE_VERSION))


def last_error(ctx: Any) -> str:
    """The library's detail text for the last failure on ``ctx`` ("" for none).

    With ``ctx`` ``None``: the detail of the calling thread's last failed open.
    """
    ptr = lib.msm_last_error(ffi.NULL if ctx is None else ctx)
    if ptr == ffi.NULL:
        return ""
    return str(ffi.string(ptr).decode("utf-8", "replace"))


def check(
    rc: int,
    ctx: Any = None,
    what: str = "",
    commit_error: CommitError | None = None,
    names: Callable[[], CommitNames] | None = None,
) -> None:
    """Raises the mapped :class:`MsmError` subclass when ``rc`` is not ``MSM_OK``.

    Every C return code of :mod:`xps.msm` passes through here, so the mapping from
    ``msm_status`` to exception lives in one place (:func:`error_for`). ``names`` is
    asked only on failure, after the detail text is read (it may call into C).
    """
    if rc != 0:
        detail = last_error(ctx)
        raise error_for(
            int(rc),
            detail,
            what=what,
            commit_error=commit_error,
            names=names() if names is not None else None,
        )
