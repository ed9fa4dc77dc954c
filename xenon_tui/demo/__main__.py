"""``python -m xenon_tui.demo …`` is ``xenon demo …``."""

import sys

from xps.warning_routing import route_warnings

route_warnings()  # before the demo imports asyncssh: its import-time warnings go to the log

from xenon_tui.demo._run import main  # noqa: E402

sys.exit(main())
