"""Fixtures of the native tests: a small sim context and the C-or-model scenario runner.

Imports of ``xps.msm`` happen inside the fixtures, so a missing or broken build of
``native._msm`` fails the tests that need it, not the collection of the whole directory
(``test_c_suite.py`` reports the build itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(params=["c", "model"])
def both(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The scenario runs twice: on the C library and on the reference model."""
    from tests._support.msm_model import RefMsm
    from tests._support.msm_scenario import SMALL, Both
    from xps.msm import Msm

    if request.param == "c":
        with Msm.open_sim(**SMALL) as ctx:  # type: ignore[arg-type]
            yield Both(ctx, "c")
    else:
        yield Both(RefMsm(**SMALL), "model")


@pytest.fixture
def sim() -> Iterator[Any]:
    """A fresh small sim context."""
    from tests._support.msm_scenario import SMALL
    from xps.msm import Msm

    with Msm.open_sim(**SMALL) as ctx:  # type: ignore[arg-type]
        yield ctx
