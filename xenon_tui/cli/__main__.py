"""``python -m xenon_tui.cli …`` is ``xenon …``."""

import sys

from xenon_tui.cli._main import main

sys.exit(main())
