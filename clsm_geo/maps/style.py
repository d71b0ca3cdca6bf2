"""What static and interactive maps share: indicators and their units, classification into classes,
colour-blind-safe palettes, status colours and the source line.

Colours: QPV and council statuses use the Okabe-Ito palette (distinguishable with every common colour
vision deficiency); choropleths use ColorBrewer sequential schemes (``Purples`` by default, static and interactive) or
viridis/cividis. Every word comes from the catalogue (``maps.*`` keys of ``clsm_geo/i18n/<lang>/maps.toml``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..i18n import fmt_decimal, fmt_int, fmt_pct, get_lang, t

from ._names import INDICATORS, LEVELS, PALETTES, SCHEMES, SHARE_INDICATORS  # noqa: E402,F401  (re-exported)

#: One default for static and interactive maps (same indicator, same classes, same colours): ColorBrewer
#: Purples, single hue (readable by every colour vision), clear of the blues/vermillion/green of statuses.
DEFAULT_PALETTE = "Purples"
#: Part of the palette used (light to dark): the darkest class keeps 3:1 contrast with the black outlines of
#: QPV and councils drawn over it (WCAG 1.4.11, tested).
PALETTE_RANGE = (0.15, 0.75)
#: Outline of QPV and council shapes on interactive maps: at least 3:1 against land, sea and every class.
OUTLINE = "#000000"

#: Okabe-Ito colours for statuses (labels: ``maps.status.qpv.*`` / ``maps.status.council.*``).
QPV_STATUS_COLORS = {"covered": "#0072B2", "partial": "#56B4E9", "uncovered": "#D55E00", "undetermined": "#F0E442"}
COUNCIL_STATUS_COLORS = {"active": "#009E73", "in_project": "#CC79A7", "dormant": "#999999", "closed": "#000000"}


def qpv_status_label(status: str, lang: str | None = None) -> str:
    return t(f"maps.status.qpv.{status}", lang) if status in QPV_STATUS_COLORS else str(status)


def council_status_label(status: str, lang: str | None = None) -> str:
    return t(f"maps.status.council.{status}", lang) if status in COUNCIL_STATUS_COLORS else str(status)


def indicator_label(indicator: str, lang: str | None = None, *, title: bool = False) -> str:
    """The indicator in words (``Part des QPV couverts``); ``title=True`` for the longer map title."""
    check_indicator(indicator)
    return t(f"maps.indicator.{indicator}.{'title' if title else 'label'}", lang)


def check_indicator(indicator: str) -> str:
    """The unit of ``indicator`` (``%`` or ``count``), or an :class:`InputError` listing the choices."""
    if indicator not in INDICATORS:
        raise InputError(t("maps.error.indicator", None, indicator=repr(indicator)),
                         hint=t("maps.error.choices", None, choices=", ".join(INDICATORS)))
    return INDICATORS[indicator]


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(t("maps.error.level", None, level=repr(level)),
                         hint=t("maps.error.choices", None, choices=", ".join(LEVELS)))
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
    """Territories put into classes: ``index`` per value (-1 for no data), one label, colour and count per
    class, the legend title and the scheme. ``zero_class``: the first class is exactly 0."""

    index: np.ndarray
    labels: list[str]
    colors: list[str]
    counts: list[int]
    no_data: int
    title: str
    scheme: str
    zero_class: bool = False

    def color_of(self, i: int) -> str | None:
        return None if i < 0 else self.colors[i]


def shown_values(values, indicator: str) -> np.ndarray:
    """Values as the legend and popups show them: counts as they are; shares in whole percentages, 0 only
    for exactly 0 and 100 only for exactly 100 (a share of 0.3 % is shown and classed as 1 %). NaN = no data."""
    check_indicator(indicator)
    raw = np.asarray(values, dtype=float)
    if indicator not in SHARE_INDICATORS:
        return raw
    pct = raw * 100.0
    whole = np.clip(np.round(pct), 1, 99)
    return np.where(pct <= 0, 0.0, np.where(pct >= 100, 100.0, whole))


def check_bins(bins, share: bool) -> list[float]:
    """``bins`` as floats if they are finite, strictly increasing and in range: shares in [0, 1] or
    percentages in [0, 100]; counts 0 or more. Else :class:`InputError` giving the valid range."""
    from ..i18n import t

    text = ",".join(map(str, bins))
    try:
        values = [float(b) for b in bins]
    except (TypeError, ValueError):
        raise InputError(t("io.bins.not_numbers", value=repr(text)), hint=t("io.bins.hint")) from None
    for v in values:
        if not np.isfinite(v):
            raise InputError(t("io.bins.not_finite", value=v), hint=t("io.bins.hint"))
    if any(b <= a for a, b in zip(values, values[1:])):
        raise InputError(t("io.bins.not_increasing", value=text), hint=t("io.bins.hint"))
    if values and (min(values) < 0 or (share and max(values) > 100)):
        bad = min(values) if min(values) < 0 else max(values)
        raise InputError(t("io.bins.out_of_range", value=f"{bad:g}"), hint=t("io.bins.hint"))
    return values


def classify(values: pd.Series, indicator: str, *, scheme: str = "quantiles", k: int = 5, bins=None,
             palette: str = DEFAULT_PALETTE, lang: str | None = None) -> Classes:
    """Put ``values`` (NaN = no data) into classes with mapclassify; labels in the indicator's display unit.

    The one function giving classes and colours to static and interactive maps. Shares are classed in whole
    percentages (:func:`shown_values`). When some values are exactly 0 and others are not, 0 is a class of
    its own and the ``k - 1`` other classes split the non-zero values (labels ``0``, ``1 à 20 %``, ...),
    except with ``user_defined`` bins. ``bins`` (upper bounds, for ``user_defined``) are in the indicator's
    unit; for a share they may be fractions (``0.1,0.25``) or percentages (``10,25``): when any bound is above
    1 they are percentages.
    """
    import numpy as np

    from ._palettes import LUT

    unit = check_indicator(indicator)
    if scheme not in SCHEMES:
        raise InputError(t("maps.error.scheme", lang, scheme=repr(scheme)),
                         hint=t("maps.error.choices", lang, choices=", ".join(SCHEMES)))
    if palette not in LUT:  # another matplotlib colormap: matplotlib itself (its import takes about 0.1 s)
        from matplotlib import colormaps

        if palette not in colormaps:
            raise InputError(t("maps.error.palette", lang, palette=repr(palette)),
                             hint=t("maps.error.choices", lang, choices=", ".join(PALETTES)))
    share = indicator in SHARE_INDICATORS
    shown = shown_values(values, indicator)
    valid = ~np.isnan(shown)
    y = shown[valid]
    index = np.full(len(shown), -1, dtype=int)
    label = indicator_label(indicator, lang)
    title = t("maps.legend.share" if unit == "%" else "maps.legend.count", lang, label=label)
    if scheme == "user_defined":
        if bins is None or len(bins) == 0:
            raise InputError(t("maps.error.bins", lang), hint=t("maps.error.bins_hint", lang))
        user = check_bins(bins, share)
        if share and max(user) <= 1:
            user = [b * 100 for b in user]
    if len(y) == 0:
        return Classes(index, [], [], [], int((~valid).sum()), title, scheme)
    zero_class = scheme != "user_defined" and bool((y == 0).any() and (y != 0).any())
    rest = y[y != 0] if zero_class else y
    kk = max(1, k - 1) if zero_class else k
    distinct = np.unique(rest)
    per_value = scheme != "user_defined" and len(distinct) <= kk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if scheme == "user_defined":
            upper = [b for b in user if b < y.max()] + [max(y.max(), user[-1])]
        elif per_value:
            upper = list(distinct)  # fewer distinct values than classes: one class per value
        else:
            upper = upper_bounds(scheme, rest, kk)
    if zero_class:
        upper = [0.0] + upper
    upper = sorted({float(u) for u in upper})
    upper[-1] = max(upper[-1], float(y.max()))
    cls = np.minimum(np.searchsorted(np.asarray(upper), y, side="left"), len(upper) - 1)
    index[valid] = cls
    lowers = list(upper) if per_value else [min(float(y.min()), upper[0])] + upper[:-1]
    integral = bool(np.all(np.equal(np.mod(y, 1), 0)))
    labels = _labels(lowers, upper, integral, share, get_lang(lang))
    n = len(upper)
    stops = [0.45] if n == 1 else list(np.linspace(*PALETTE_RANGE, n))
    colors = palette_colours(palette, stops)
    counts = [int((cls == i).sum()) for i in range(n)]
    return Classes(index, labels, colors, counts, int((~valid).sum()), title, scheme, zero_class)


def palette_colours(palette: str, stops) -> list[str]:
    """``#rrggbb`` of ``palette`` at each of ``stops`` (0 to 1), as ``to_hex(matplotlib.colormaps[palette](s))``
    gives them: from :data:`clsm_geo.maps._palettes.LUT` for the palettes offered, without matplotlib."""
    from ._palettes import LUT

    table = LUT.get(palette)
    if table is None:
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        return [to_hex(colormaps[palette](s)) for s in stops]
    out = []
    for s in stops:  # the entry matplotlib's Colormap.__call__ takes for a float
        x = float(s) * len(table)
        i = len(table) - 1 if x == len(table) else int(x)
        out.append(table[min(max(i, 0), len(table) - 1)])
    return out


def upper_bounds(scheme: str, y, k: int) -> list[float]:
    """Upper bounds of the ``k`` classes of ``y`` by ``scheme``, as mapclassify gives them.

    Quantiles and equal intervals are computed here with numpy, by the same formulas as mapclassify's
    ``Quantiles`` and ``EqualInterval`` (a property test compares them on random data): importing mapclassify
    pulls in scipy.stats and scikit-learn, about 1 s of every run that draws a map. Fisher-Jenks and any other
    scheme come from mapclassify itself.
    """
    y = np.asarray(y, dtype=float).ravel()
    if scheme == "quantiles":
        w = 100.0 / k
        p = np.arange(w, 100 + w, w)
        if p[-1] > 100.0:
            p[-1] = 100.0
        ys = np.sort(y)
        return list(np.unique(np.array([_score_at(ys, per) for per in p])))
    if scheme == "equal_interval":
        low, high = y.min(), y.max()
        width = (high - low) * 1.0 / k
        cuts = np.arange(low + width, high + width, width)
        if len(cuts) > k:
            cuts = cuts[0:k]
        cuts[-1] = high
        return list(cuts)
    import mapclassify

    return list(mapclassify.FisherJenks(y, k=k).bins)


def _score_at(ys: np.ndarray, per: float) -> float:
    """The value at percentile ``per`` of the sorted ``ys``, interpolated as ``scipy.stats.scoreatpercentile``
    does (mapclassify's quantiles; numpy's percentile may differ in the last digit)."""
    idx = per / 100.0 * (len(ys) - 1)
    i = int(idx)
    if i == idx:
        return ys[i]
    weights = np.array([(i + 1 - idx), (idx - i)], float)
    return np.add.reduce(ys[i:i + 2] * weights) / weights.sum()


def _labels(lowers, uppers, integral: bool, share: bool, lang: str) -> list[str]:
    """Class labels in ``lang``: ``0``, ``1 à 20 %``, ``21 à 40 %`` (integral values: each class starts one
    above the previous upper bound), or decimal bounds with as few decimals as keep them apart."""

    def number(x, decimals=0, last=False):
        if share and last and x != 0:
            return fmt_pct(x / 100.0, decimals, lang)
        return fmt_decimal(x, decimals, lang) if decimals else fmt_int(x, lang)

    out = []
    if integral:
        for i, (lo, hi) in enumerate(zip(lowers, uppers)):
            first = int(np.floor(lo)) if i == 0 or lo == hi else int(np.floor(lo)) + 1
            last = int(np.floor(hi))
            out.append(number(first, last=True) if first >= last else
                       t("maps.class.range", lang, lo=number(first), hi=number(last, last=True)))
        return out
    for decimals in range(4):
        bounds = [round(b, decimals) for b in uppers]
        if len(set(bounds)) == len(bounds) or decimals == 3:
            break
    for i, (lo, hi) in enumerate(zip(lowers, uppers)):
        a, b = number(lo, decimals), number(hi, decimals, last=True)
        if a == number(hi, decimals):
            out.append(b)
        elif i and out[-1] in (a, number(lo, decimals, last=True)):  # the previous class is the single value a
            out.append(t("maps.class.above", lang, lo=a, hi=b))
        else:
            out.append(t("maps.class.range", lang, lo=a, hi=b))
    return out


def source_line(res, lang: str | None = None) -> str:
    """One short line: producers (ANCT, INSEE, IGN) with their editions, the registry and the precision of the
    coverage (method). The full provenance stays in the output files' metadata and the docs."""
    method = res.method if res.method in ("auto", "geometry", "commune") else "auto"
    if not getattr(res.qpv_layer.source, "has_polygons", True):
        method = "commune"
    return t("maps.source.line", lang, qpv_year=res.qpv_layer.geography, cog_year=res.cog_year,
             precision=t(f"maps.source.{method}", lang))


def territory_table(res, level: str) -> pd.DataFrame:
    """``res.regions`` or ``res.departments`` keyed by ``code`` with a ``name`` column."""
    check_level(level)
    if level == "region":
        table = res.regions.rename(columns={"insee_reg": "code", "lib_reg": "name"})
    else:
        table = res.departments.rename(columns={"insee_dep": "code", "lib_dep": "name"})
    return table
