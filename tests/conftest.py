"""Settings every test directory shares."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings

# Each test process (one per pytest-xdist worker) gets XDG directories of its own, so no test
# reads or writes the user's ~/.config/xenon, and two workers never share a console config.
_XDG = tempfile.mkdtemp(prefix=f"xenon-tests-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-")
for _name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
    os.environ[_name] = os.path.join(_XDG, _name.lower())
atexit.register(shutil.rmtree, _XDG, ignore_errors=True)

# Fixtures shared across directories live in plugins under tests/_support (no test module
# imports another one's fixtures).
pytest_plugins = ["tests._support.xps", "tests._support.xe_hosts"]

# This machine (and CI on it) is shared: a property test's data generation may be slowed
# several-fold by other work, which is no finding about the code. Deadlines and the
# "data generation is slow" health check measure time; correctness checks stay on.
settings.register_profile(
    "xenon",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("xenon")
