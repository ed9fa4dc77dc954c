"""Settings every test directory shares."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

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
