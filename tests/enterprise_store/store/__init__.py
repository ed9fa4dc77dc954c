"""Tests of enterprise_store.store."""
