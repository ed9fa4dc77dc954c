"""XPS tests' fixtures come from the ``tests._support.xps`` plugin (see ``tests/conftest.py``).

The names below are re-exported only while older imports of ``tests.xps.conftest`` are
being moved to ``tests._support.xps``.
"""

from tests._support.xps import (  # noqa: F401
    FakeHost,
    RunningXps,
    XpsPki,
    make_config,
    start_xps,
    xps_daemon,
    xps_pki,
)
