"""Helpers shared by test modules; fixtures stay in the ``conftest.py`` files.

Test modules import helpers from here, never from another test module or a conftest.
"""
