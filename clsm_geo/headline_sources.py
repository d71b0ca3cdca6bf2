"""Clauses the headline adds about its sources: the overseas QPV of another geography, a geography not
available, the QPV population. Words from the ``sources.headline.*`` catalogue keys."""

from __future__ import annotations


def source_clauses(summary: dict, lang: str | None = None) -> list[str]:
    """``["et 222 QPV ultramarins de la géographie 2015", …]`` and the like, in ``lang`` (empty when nothing to
    add); :func:`clsm_geo.headline.headline` joins them to the QPV share."""
    from . import i18n

    parts = []
    over_geo = summary.get("qpv_overseas_geography")
    missing = summary.get("qpv_missing_geographies") or []
    if summary.get("qpv_total_national", summary.get("qpv_total")) != summary.get("qpv_total") and over_geo:
        n = summary.get("qpv_total_overseas", 0)
        parts.append(i18n.tn("sources.headline.overseas", n, lang, geography=over_geo))
    for m in missing:
        if m.get("territory") == "overseas":
            parts.append(i18n.t("sources.headline.overseas_missing", lang, geography=m["geography"]))
    if _known(summary.get("qpv_population")):
        parts.append(i18n.t("sources.headline.population", lang,
                            covered=i18n.fmt_int(summary["qpv_population_covered"], lang),
                            total=i18n.fmt_int(summary["qpv_population"], lang),
                            share=i18n.fmt_pct(summary["qpv_population_covered_share"] or 0, 0, lang)))
    return parts


def _known(value) -> bool:
    """Not None and not NaN."""
    import pandas as pd

    return value is not None and not pd.isna(value)
