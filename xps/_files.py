"""Bounded reads of files a user names (policies, templates, keys, profiles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["read_bounded"]


def read_bounded(
    path: Path,
    limit: int,
    error: Callable[[str], Exception],
    *,
    name: str | None = None,
    size: str | None = None,
) -> bytes:
    """Reads at most ``limit`` bytes of ``path``; never more, whatever the file's size.

    Args:
        path: The file.
        limit: The largest size accepted, in bytes.
        error: Builds the exception raised, from its message.
        name: How messages name the file (default: the path).
        size: How messages state the limit (default: ``"<limit> bytes"``).

    Raises:
        Exception: ``error(message)`` when the file cannot be read or is larger than
            ``limit``.
    """
    label = str(path) if name is None else name
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"{label} is larger than {size or f'{limit} bytes'}")
    return data
