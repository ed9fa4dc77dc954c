"""The Xenon Enterprise (XE) store and services on SQLite."""
