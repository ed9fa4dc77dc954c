"""Headless sub-commands of the ``xenon`` command line (each module has ``register``)."""
