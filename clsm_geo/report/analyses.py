"""What a report needs from a coverage result, computed once per result and shared by every territory
(``--each region`` computes the national analyses once, then only filters them)."""

from __future__ import annotations

import functools

import pandas as pd

from .territory import Territory

PLAN_STEPS = 10


class Analyses:
    """Lazily computed tables of one result: uncovered QPV, gaps, the plan, the priorities, QPV figures per
    department. All are plain data (machine columns); the sections format them."""

    def __init__(self, res):
        self.res = res

    @functools.cached_property
    def uncovered(self) -> pd.DataFrame:
        from ..gaps import uncovered

        return pd.DataFrame(uncovered(self.res).drop(columns="geometry"))

    @functools.cached_property
    def gaps(self) -> pd.DataFrame:
        from ..gaps import gaps

        return pd.DataFrame(gaps(self.res, geometry=False).drop(columns="geometry"))  # the report draws none

    @functools.cached_property
    def plan(self) -> pd.DataFrame:
        from ..plan import plan

        return plan(self.res, PLAN_STEPS)

    @functools.cached_property
    def priorities(self) -> pd.DataFrame:
        from ..plan import priorities

        return priorities(self.res)

    @functools.cached_property
    def qpv_in_force(self) -> pd.DataFrame:
        q = self.res.qpv_table
        return pd.DataFrame(q[q["in_force"]])

    @functools.cached_property
    def population_available(self) -> bool:
        frame = self.res.qpv_layer.table
        return "population" in frame and bool(pd.to_numeric(frame["population"], errors="coerce").notna().any())

    def covered_population(self, territory: Territory) -> int | None:
        """Inhabitants of the QPV covered (fully or partly) in the territory, when the layer gives them."""
        if not self.population_available:
            return None
        frame = self.res.qpv_layer.table.set_index("code_qp")
        q = self.in_territory(self.qpv_in_force, territory)
        q = q[q["status"].isin(["covered", "partial"])]
        return int(pd.to_numeric(frame["population"].reindex(q["code_qp"]), errors="coerce").fillna(0).sum())

    def figures(self, territory: Territory) -> dict:
        """Headline figures of the territory (``res.summary``, or its row of ``res.regions``/``departments``)."""
        if territory.national:
            return dict(self.res.summary)
        table = self.res.regions if territory.level == "region" else self.res.departments
        key = "insee_reg" if territory.level == "region" else "insee_dep"
        return table.loc[table[key] == territory.code].iloc[0].to_dict()

    @staticmethod
    def in_territory(frame: pd.DataFrame, territory: Territory, column: str | None = None) -> pd.DataFrame:
        """Rows of ``frame`` in the territory: by ``insee_dep`` (a code) or by a tuple of departments."""
        if territory.national:
            return frame
        if column is None:
            return frame[frame["insee_dep"].isin(territory.departments)]
        deps = territory.departments
        return frame[frame[column].map(lambda d: bool(set(_as_tuple(d)) & deps))]


def _as_tuple(value) -> tuple:
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    return tuple(value) if value is not None else ()


def analyses(res) -> Analyses:
    """The :class:`Analyses` of a result, built once and kept on it."""
    found = res.__dict__.get("_report_analyses")
    if found is None:
        found = res.__dict__["_report_analyses"] = Analyses(res)
    return found


def evolution(res, territory: Territory, first: int, trend=None) -> pd.DataFrame:
    """One row per year from ``first`` to the result's year: councils active/new/in project in the territory
    (from the registry, cheap), and the QPV figures where measured: the result's own year, and the years of
    ``trend`` (a :class:`~clsm_geo.trend.Trend`) whose QPV layer was available. ``measured`` says which."""
    from ..perimeters import active_mask, in_project_mask, new_mask
    from ..qpv import qpv_geography_for_year

    councils = res.perimeters.councils
    if not territory.national:
        column = "regions" if territory.level == "region" else "departments"
        councils = councils[councils[column].map(lambda codes: territory.code in tuple(codes or ()))]
    measured: dict[int, dict] = {}
    if trend is not None:
        source = trend.national if territory.national else trend.regions
        if not source.empty and territory.level in ("nation", "region"):
            if territory.level == "region":
                source = source[source["insee_reg"] == territory.code]
            for rec in source.to_dict("records"):
                if pd.notna(rec.get("qpv_total")):
                    measured[int(rec["year"])] = rec
    measured[res.year] = analyses(res).figures(territory)
    rows = []
    for year in range(min(first, res.year), res.year + 1):
        m = measured.get(year, {})
        row = {"year": year, "qpv_geography": qpv_geography_for_year(year),
               "councils_active": int(active_mask(councils, year).sum()),
               "councils_new": int(new_mask(councils, year).sum()),
               "councils_in_project": int(in_project_mask(councils, year).sum()),
               "measured": bool(m)}
        for key in ("councils_covering_qpv", "qpv_total", "qpv_covered", "qpv_covered_share"):
            row[key] = m.get(key) if m else None
        if year == res.year:
            row.update({k: m[k] for k in ("councils_active", "councils_new", "councils_in_project")})
        rows.append(row)
    return pd.DataFrame(rows)
