"""clsm-geo: how France's mental-health local councils (CLSM) cover the territory and its QPV.

Public API (heavy modules are imported on first use, so ``import clsm_geo`` stays fast)::

    import clsm_geo
    geo = clsm_geo.geography(2024)                      # communes, arrondissements, EPCI, departments, regions
    clsm_geo.resolve_communes(["01015"], 2024)          # codes of earlier COG vintages -> communes of 2024
    layer = clsm_geo.qpv(2024)                          # QPV layer (user file, cache, or shipped)
    reg = clsm_geo.read_registry("councils.csv")        # validated registry
    v = clsm_geo.vintage(2024)                          # the year's COG, QPV layer in force, relation, adjacency
    res = clsm_geo.coverage(reg, year=2024, vintage=v)  # CoverageResult: .summary, .qpv, .councils, ...
    res.plot(); res.map(region="11")                    # a Figure and a folium map, shown inline in notebooks
    clsm_geo.trend(reg, 2015, 2025)                     # years side by side (Trend)
    clsm_geo.region("ile-de-france"), clsm_geo.department("93")   # territories by code or name
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

__version__ = "0.1.0"

_API = {
    "geography": "clsm_geo.geography",
    "resolve_communes": "clsm_geo.codes",
    "qpv": "clsm_geo.qpv",
    "qpv_geography_for_year": "clsm_geo.qpv",
    "read_registry": "clsm_geo.registry",
    "validate": "clsm_geo.validation",
    "build_perimeters": "clsm_geo.perimeters",
    "coverage": "clsm_geo.api",
    "CoverageResult": "clsm_geo.api",
    "Registry": "clsm_geo.registry",
    "trend": "clsm_geo.trend",
    "Trend": "clsm_geo.trend",
    "ValidationReport": "clsm_geo.validation",
    "region": "clsm_geo.territories",
    "department": "clsm_geo.territories",
    "vintage": "clsm_geo.vintages",
    "Vintage": "clsm_geo.vintages",
}
__all__ = sorted(_API) + ["settings"]


class _PublicAPI(types.ModuleType):
    """The package module. Some public functions share their module's name (``clsm_geo.coverage`` is a
    function defined in ``clsm_geo/coverage.py``); when such a submodule is first imported, the import
    system would bind the module over the function. This keeps the function."""

    def __setattr__(self, name, value):
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PublicAPI


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    if name == "settings":
        return importlib.import_module("clsm_geo.settings")
    if not name.startswith("_") and importlib.util.find_spec(f"clsm_geo.{name}") is not None:
        return importlib.import_module(f"clsm_geo.{name}")  # clsm_geo.plan.priorities, clsm_geo.io, ...
    raise AttributeError(f"module 'clsm_geo' has no attribute {name!r}")
