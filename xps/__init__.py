"""XPS: the per-host Xenon policy server, its client library and the policy model."""
