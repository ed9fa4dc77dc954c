"""The ``xenon`` command line (``xenon_tui.cli:main``) and the console's own commands.

The parser and the list of sub-command modules (``COMMAND_MODULES``) are in
:mod:`xenon_tui.cli._main`; ``xenon console`` and ``xenon console serve`` are in
:mod:`xenon_tui.cli.console`. Importing this package imports neither Textual nor any
sub-command module.
"""

from xenon_tui.cli._main import (
    COMMAND_MODULES,
    build_parser,
    main,
    policy_gui_main,
    policy_server_main,
)

__all__ = ["COMMAND_MODULES", "build_parser", "main", "policy_gui_main", "policy_server_main"]
