"""The Xenon console: a Textual app, its SSH server and the demo."""
