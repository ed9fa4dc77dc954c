"""``python -m enterprise_store.cli ARGS`` runs ``xenon xe ARGS``."""

import sys

from enterprise_store.cli import main

sys.exit(main())
