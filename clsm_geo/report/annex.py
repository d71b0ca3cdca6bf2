"""The report's workbook annex: the full tables behind the page (every uncovered QPV, every gap, the plan,
the priorities, the evolution), restricted to the report's territory. Machine columns; the workbook writer
of the French edition labels them (``clsm_geo.workbook``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import __version__
from ..i18n import t, year_end
from .analyses import Analyses
from .territory import Territory


def tables(res, an: Analyses, territory: Territory, lang: str, evolution: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Sheet name (in ``lang``) -> table; ``evolution`` from :func:`clsm_geo.report.analyses.evolution`."""
    out: dict[str, pd.DataFrame] = {}
    if territory.national:
        out[t("report.annex.regions", lang)] = res.regions
        deps = res.departments
    elif territory.level == "region":
        deps = res.departments[res.departments["insee_reg"] == territory.code]
    else:
        deps = res.departments[res.departments["insee_dep"] == territory.code]
    out[t("report.annex.departments", lang)] = deps.reset_index(drop=True)
    if not territory.national:  # nationally the full QPV table is the coverage command's output
        out[t("report.annex.qpv", lang)] = an.in_territory(an.qpv_in_force, territory).reset_index(drop=True)
    out[t("report.annex.uncovered", lang)] = an.in_territory(an.uncovered, territory).reset_index(drop=True)
    out[t("report.annex.gaps", lang)] = an.in_territory(an.gaps, territory, "departments").reset_index(drop=True)
    plan = an.plan
    if not territory.national:
        plan = an.in_territory(plan[plan["step"] > 0], territory, "departments").reset_index(drop=True)
    out[t("report.annex.plan", lang)] = plan
    pri = an.priorities
    out[t("report.annex.priorities", lang)] = (an.in_territory(pri, territory, "departments").reset_index(drop=True)
                                              if len(pri) else pri)
    out[t("report.annex.evolution", lang)] = evolution
    return out


def sources(res, lang: str) -> dict[str, str]:
    """What the workbook's ``Sources`` sheet says (machine keys -> values)."""
    from ..provenance import edition, precision

    s = res.summary
    src = res.qpv_layer.source
    return {"registry": s["registry"], "qpv_geography": str(s["qpv_geography"]), "qpv_edition": edition(src, lang) or "",
            "qpv_precision": precision(src, lang) or "", "cog": str(s["cog_year"]), "method": s["method"],
            "threshold_covered": str(s["thresholds"]["covered"]), "threshold_partial": str(s["thresholds"]["partial"]),
            "date": year_end(res.year, lang), "version": f"clsm-geo {__version__}"}


def write(frames: dict[str, pd.DataFrame], path: str | Path, source: dict, lang: str) -> Path:
    """Write the annex workbook atomically (labelled sheets, Sources sheet: :func:`clsm_geo.workbook.write_workbook`)."""
    from ..workbook import write_workbook

    return Path(write_workbook(frames, path, source, lang))
