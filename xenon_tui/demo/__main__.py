"""``python -m xenon_tui.demo …`` is ``xenon demo …``."""

import sys

from xenon_tui.demo._run import main

sys.exit(main())
