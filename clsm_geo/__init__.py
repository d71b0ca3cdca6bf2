"""clsm-geo: how France's mental-health local councils (CLSM) cover the territory and its QPV."""

__version__ = "0.1.0"
