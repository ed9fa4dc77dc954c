"""End-to-end fixtures (defined in ``tests._support.ssh`` with the helpers they use)."""

from tests._support.ssh import ssh_keys, ssh_server, terminal  # noqa: F401
