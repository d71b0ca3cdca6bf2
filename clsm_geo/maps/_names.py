"""Names the command line offers for maps (indicators, schemes, palettes), importable without numpy or pandas
so that ``clsm-geo --help`` stays light. :mod:`clsm_geo.maps.style` re-exports them."""

from __future__ import annotations

#: Indicator column of ``res.regions`` / ``res.departments`` -> its unit (``%`` or ``count``); words in the
#: catalogue (``maps.indicator.<name>.label`` and ``.title``).
INDICATORS: dict[str, str] = {
    "qpv_covered_share": "%", "councils_active": "count", "councils_new": "count", "councils_in_project": "count",
    "councils_covering_qpv": "count", "qpv_total": "count", "qpv_covered": "count", "qpv_partial": "count",
    "qpv_uncovered": "count", "qpv_undetermined": "count",
}
SHARE_INDICATORS = frozenset({"qpv_covered_share"})
SCHEMES = ("quantiles", "fisher_jenks", "equal_interval", "user_defined")
LEVELS = ("region", "department")
#: Sequential palettes offered (all colour-blind safe): ColorBrewer single/multi-hue and viridis family.
PALETTES = ("Purples", "YlGnBu", "Blues", "Greens", "OrRd", "viridis", "cividis")
