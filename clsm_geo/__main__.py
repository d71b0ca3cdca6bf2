"""``python -m clsm_geo``: the ``clsm-geo`` command."""

from .cli import entry

entry()
