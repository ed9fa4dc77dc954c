"""Tests of enterprise_store.audit."""
