"""Tests of enterprise_store.api and enterprise_store.client."""
