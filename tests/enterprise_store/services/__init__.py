"""Tests of enterprise_store.services."""
