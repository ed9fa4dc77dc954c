"""Colour themes (Textual Theme objects) and TCSS for the Xenon console."""
