"""``python -m clsm_geo``: the ``clsm-geo`` command."""

import sys

from .cli import main

sys.exit(main())
