"""Tests of enterprise_store.cli (xenon xe)."""
