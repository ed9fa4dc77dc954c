"""The sample app behind a zygote preload hook that always fails (tests spawn fallback)."""

from __future__ import annotations

from tests.e2e.sample_app import run

__all__ = ["preload", "run"]


def preload() -> None:
    """Called only by the zygote: makes it die before it is ready."""
    raise RuntimeError("this zygote cannot start")
