"""What static and interactive maps share: indicators and their units, classification into classes,
colour-blind-safe palettes, status colours and the source line.

Colours: QPV and council statuses use the Okabe-Ito palette (distinguishable with every common colour
vision deficiency); choropleths use ColorBrewer sequential schemes (``YlGnBu`` by default) or viridis/cividis.
"""

from __future__ import annotations

import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:  # numpy and pandas are imported where used: `clsm-geo --help` reads INDICATORS
    import numpy as np
    import pandas as pd

#: Indicator column of ``res.regions`` / ``res.departments`` -> (label, unit shown in the legend).
INDICATORS: dict[str, tuple[str, str]] = {
    "qpv_covered_share": ("Share of QPV covered by an active CLSM", "%"),
    "councils_active": ("CLSM active", "councils"),
    "councils_new": ("CLSM created in the year", "councils"),
    "councils_in_project": ("CLSM in project", "councils"),
    "councils_covering_qpv": ("Active CLSM covering QPV", "councils"),
    "qpv_total": ("QPV in force", "QPV"),
    "qpv_covered": ("QPV covered, fully or partly", "QPV"),
    "qpv_partial": ("QPV partly covered", "QPV"),
    "qpv_uncovered": ("QPV not covered", "QPV"),
    "qpv_undetermined": ("QPV undetermined by the commune method", "QPV"),
}
SHARE_INDICATORS = frozenset({"qpv_covered_share"})
SCHEMES = ("quantiles", "fisher_jenks", "equal_interval", "user_defined")
LEVELS = ("region", "department")
#: Sequential palettes offered (all colour-blind safe): ColorBrewer single/multi-hue and viridis family.
PALETTES = ("YlGnBu", "Blues", "Greens", "Purples", "OrRd", "viridis", "cividis")
DEFAULT_PALETTE = "YlGnBu"

#: Okabe-Ito colours for statuses.
QPV_STATUS_COLORS = {"covered": "#0072B2", "partial": "#56B4E9", "uncovered": "#D55E00", "undetermined": "#F0E442"}
QPV_STATUS_LABELS = {"covered": "covered", "partial": "partly covered", "uncovered": "not covered",
                     "undetermined": "undetermined"}
COUNCIL_STATUS_COLORS = {"active": "#009E73", "in_project": "#CC79A7", "dormant": "#999999", "closed": "#000000"}
COUNCIL_STATUS_LABELS = {"active": "active", "in_project": "in project", "dormant": "dormant", "closed": "closed"}
NO_DATA_LABEL = "no data (no QPV in force)"


def check_indicator(indicator: str) -> tuple[str, str]:
    if indicator not in INDICATORS:
        raise InputError(f"unknown indicator {indicator!r}", hint="use one of " + ", ".join(INDICATORS))
    return INDICATORS[indicator]


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r}", hint="use region or department")
    return level


def indicator_values(table: pd.DataFrame, indicator: str) -> pd.Series:
    """Values of ``indicator`` per territory as floats; NaN where it has no meaning (a share without QPV)."""
    import pandas as pd

    check_indicator(indicator)
    values = pd.to_numeric(table[indicator], errors="coerce").astype(float)
    if indicator in SHARE_INDICATORS:
        values = values.where(pd.to_numeric(table["qpv_total"], errors="coerce") > 0)
    return values


@dataclass(frozen=True)
class Classes:
    """Territories put into classes: ``index`` per value (-1 for no data), one label and colour per class."""

    index: np.ndarray
    labels: list[str]
    colors: list[str]
    counts: list[int]
    no_data: int
    title: str
    scheme: str

    def color_of(self, i: int) -> str | None:
        return None if i < 0 else self.colors[i]


def classify(values: pd.Series, indicator: str, *, scheme: str = "quantiles", k: int = 5, bins=None,
             palette: str = DEFAULT_PALETTE) -> Classes:
    """Put ``values`` (NaN = no data) into classes with mapclassify; labels in the indicator's display unit.

    ``bins`` (upper bounds, for ``user_defined``) are in the indicator's unit; for a share they may be
    fractions (``0.1,0.25``) or percentages (``10,25``): when any bound is above 1 they are percentages.
    """
    import mapclassify
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    label, unit = check_indicator(indicator)
    if scheme not in SCHEMES:
        raise InputError(f"unknown classification scheme {scheme!r}", hint="use one of " + ", ".join(SCHEMES))
    if palette not in colormaps:
        raise InputError(f"unknown palette {palette!r}", hint="use one of " + ", ".join(PALETTES))
    share = indicator in SHARE_INDICATORS
    shown = np.asarray(values, dtype=float) * (100.0 if share else 1.0)
    valid = ~np.isnan(shown)
    y = shown[valid]
    index = np.full(len(shown), -1, dtype=int)
    title = f"{label} ({unit})" if unit == "%" else f"{label} (number of {unit})"
    if scheme == "user_defined":
        if bins is None or len(bins) == 0:
            raise InputError("the user_defined scheme needs bins", hint="give --bins a,b,c (upper bounds)")
        user = sorted(float(b) for b in bins)
        if share and max(user) <= 1:
            user = [b * 100 for b in user]
    if len(y) == 0:
        return Classes(index, [], [], [], int((~valid).sum()), title, scheme)
    integral = not share and bool(np.all(np.equal(np.mod(y, 1), 0)))
    distinct = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if scheme == "user_defined":
            upper = [b for b in user if b < y.max()] + [max(y.max(), user[-1])]
        elif len(distinct) <= k:
            upper = list(distinct)  # fewer distinct values than classes: one class per value
        elif scheme == "quantiles":
            upper = list(mapclassify.Quantiles(y, k=k).bins)
        elif scheme == "fisher_jenks":
            upper = list(mapclassify.FisherJenks(y, k=k).bins)
        else:
            upper = list(mapclassify.EqualInterval(y, k=k).bins)
    upper = sorted({float(u) for u in upper})
    upper[-1] = max(upper[-1], float(y.max()))
    cls = np.searchsorted(np.asarray(upper), y, side="left")
    cls = np.minimum(cls, len(upper) - 1)
    index[valid] = cls
    lowers = [min(float(y.min()), upper[0])] + upper[:-1]
    labels = _labels(lowers, upper, integral, share)
    n = len(upper)
    cmap = colormaps[palette]
    stops = [0.6] if n == 1 else list(np.linspace(0.22, 0.95, n))
    colors = [to_hex(cmap(s)) for s in stops]
    counts = [int((cls == i).sum()) for i in range(n)]
    return Classes(index, labels, colors, counts, int((~valid).sum()), title, scheme)


def _labels(lowers, uppers, integral: bool, share: bool) -> list[str]:
    import numpy as np

    if integral:
        out = []
        for i, (lo, hi) in enumerate(zip(lowers, uppers)):
            first = int(np.floor(lo)) if i == 0 else int(np.floor(lo)) + 1
            last = int(np.floor(hi))
            out.append(f"{first}" if first >= last else f"{first} – {last}")
        return out
    for decimals in range(4):
        bounds = [round(b, decimals) for b in uppers]
        if len(set(bounds)) == len(bounds) or decimals == 3:
            break
    fmt = f"{{:.{decimals}f}}"
    out = []
    for i, (lo, hi) in enumerate(zip(lowers, uppers)):
        a, b = fmt.format(lo), fmt.format(hi)
        if a == b:
            out.append(a)
        elif i and out[-1] == a:  # the previous class is the single value a: say this one starts above it
            out.append(f"> {a} – {b}")
        else:
            out.append(f"{a} – {b}")
    return out


def source_line(res, *, width: int | None = None) -> str:
    """Provenance of a map: registry file name, QPV geography and edition, COG year, date of the figures."""
    from .. import __version__

    layer = res.qpv_layer
    edition = (layer.source.edition or "").strip()
    registry = Path(str(res.registry.source)).name
    text = (f"Figures at 31 December {res.year}. Sources: CLSM registry {registry}; "
            f"QPV: ANCT {layer.geography} geography ({edition}); "
            f"boundaries: IGN/INSEE COG {res.cog_year}. Map: clsm-geo {__version__}.")
    return "\n".join(textwrap.wrap(text, width)) if width else text


def territory_table(res, level: str) -> pd.DataFrame:
    """``res.regions`` or ``res.departments`` keyed by ``code`` with a ``name`` column."""
    check_level(level)
    if level == "region":
        table = res.regions.rename(columns={"insee_reg": "code", "lib_reg": "name"})
    else:
        table = res.departments.rename(columns={"insee_dep": "code", "lib_dep": "name"})
    return table
