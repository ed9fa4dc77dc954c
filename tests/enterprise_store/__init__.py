"""Tests of enterprise_store (XE)."""
