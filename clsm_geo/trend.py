"""Years side by side: councils and QPV coverage per year, nationally and per region.

Each year is measured with the QPV geography in force that year (2015 geography through 2023, 2024 from
2024 in metropolitan France; see :func:`clsm_geo.qpv.qpv_geography_for_year`) and the COG of that year
where shipped, else the nearest shipped COG (codes resolved by :mod:`clsm_geo.codes`). Where a
geography's layer has no polygons, the commune method is used and the ``note`` column says so; where no
layer of a geography can be found, the QPV columns are empty and the note says how to provide one. Notes
and chart labels are in the chosen language (catalogues ``console.trend`` and ``charts``); columns stay codes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from . import i18n
from .errors import DataSourceError, InputError
from .registry import Registry, read_registry

NATIONAL_COLUMNS = ["year", "cog_year", "qpv_geography", "qpv_overseas_geography", "geography_switch", "method",
                    "councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
                    "qpv_covered", "qpv_partial", "qpv_covered_share", "qpv_total_overseas", "qpv_population",
                    "qpv_population_covered", "qpv_population_covered_share", "note"]


@dataclass(frozen=True)
class Trend:
    """``national``: one row per year (:data:`NATIONAL_COLUMNS`); ``regions``: one row per year and region."""

    national: pd.DataFrame
    regions: pd.DataFrame

    def _repr_html_(self) -> str:
        """Notebook display: one line per year (councils, QPV covered and share), a few kB."""
        from .i18n import fmt_int, fmt_pct, t

        table = self.national
        if table.empty:
            return "<div></div>"
        cols = ["councils_active", "councils_new", "qpv_total", "qpv_covered", "qpv_partial", "qpv_covered_share"]
        labels = {c: t(f"cli.notebook.{c}", threshold="") for c in cols}
        labels["qpv_partial"] = labels["qpv_partial"].split(" (")[0]

        def cell(col, value):
            if value != value or value is None:  # NaN: no QPV layer that year
                return "–"
            return fmt_pct(value, 1) if col == "qpv_covered_share" else fmt_int(value)

        head = "".join(f"<th>{html.escape(x)}</th>" for x in [t("cli.notebook.year")] + [labels[c] for c in cols])
        body = "".join("<tr><td>{}</td>{}</tr>".format(int(rec["year"]), "".join(
            f"<td>{html.escape(cell(c, rec[c]))}</td>" for c in cols)) for rec in table.to_dict("records"))
        title = t("cli.notebook.trend_title", first=int(table["year"].min()), last=int(table["year"].max()))
        return f"<div><p><b>{html.escape(title)}</b></p><table><tr>{head}</tr>{body}</table></div>"

    def to_files(self, directory, *, chart_formats=("png", "svg"), sources: dict | None = None,
                 lang: str | None = None) -> list:
        """Write ``trend.csv``, ``trend_regions.csv``, ``trend.xlsx`` (the workbook for people, in ``lang``,
        with ``sources`` on its Sources sheet) and the chart(s) (labels in ``lang``), all of them or none."""
        from pathlib import Path

        from . import io as _io
        from .charts import trend_chart
        from .workbook import write_workbook

        out = Path(directory)
        _io.check_outputs([out / n for n in file_names(chart_formats)], folders=[out])
        with _io.output_set(out) as stage:
            written = [_io.write_csv(self.national, stage / "trend.csv"),
                       _io.write_csv(self.regions, stage / "trend_regions.csv"),
                       write_workbook({"trend": self.national, "trend_regions": self.regions}, stage / "trend.xlsx",
                                      {"years": self.years(), **(sources or {})}, lang)]
            for fmt in chart_formats:
                written.append(trend_chart(self.national, stage / f"trend.{fmt}", lang))
        return [out / Path(p).name for p in written]


    def years(self) -> str:
        """The years covered, ``2015–2025``."""
        years = self.national["year"].tolist()
        return f"{min(years)}\u2013{max(years)}" if years else ""


def file_names(chart_formats=("png", "svg")) -> list[str]:
    """Names of the files :meth:`Trend.to_files` writes."""
    return ["trend.csv", "trend_regions.csv", "trend.xlsx"] + [f"trend.{fmt}" for fmt in chart_formats]


def trend(registry, from_year: int = 2015, to_year: int = 2025, *, qpv: dict | None = None,
          method: str = "auto", lang: str | None = None) -> Trend:
    """Coverage for every year from ``from_year`` to ``to_year`` (both included).

    ``qpv`` maps a QPV geography (2015, 2024) to a layer, path or URL; a geography not given is looked up
    in the cache and the shipped data. ``method`` as in :func:`clsm_geo.coverage`. ``note`` in ``lang``.
    """
    from .coverage import coverage
    from .in_force import describe_missing, geographies_in_force
    from .qpv import qpv as load_qpv

    from .vintages import check_year

    lang = i18n.get_lang(lang)
    from_year, to_year = check_year(from_year, lang), check_year(to_year, lang)
    if from_year > to_year:
        raise InputError(i18n.t("cli.year.range", lang, start=from_year, end=to_year))
    reg = registry if isinstance(registry, Registry) else read_registry(registry)
    given = dict(qpv or {})
    layers: dict[int, object] = {}
    missing: dict[int, str] = {}
    national, regions = [], []
    previous = None
    for year in range(from_year, to_year + 1):
        wanted = geographies_in_force(year)
        for geography in sorted(set(wanted.values())):
            if geography not in layers and geography not in missing:
                source = given.get(geography)
                try:
                    layers[geography] = source if hasattr(source, "table") else load_qpv(geography, source)
                except DataSourceError as exc:
                    missing[geography] = exc.message
        geography = wanted["metropolitan"]
        switch = previous is not None and wanted != previous
        previous = wanted
        layer = layers.get(geography)
        if layer is None:
            row = _councils_only(reg, year, geography, missing[geography], lang)
            national.append({**row, "qpv_overseas_geography": wanted["overseas"], "geography_switch": switch})
            continue
        has_polygons = layer.has_polygons
        used = method if has_polygons or method == "commune" else "commune"
        res = coverage(reg, year, qpv={g: layers[g] for g in set(wanted.values()) if g in layers}, method=used)
        notes = [] if has_polygons else [i18n.t("console.trend.no_polygons", lang, geography=geography)]
        notes += [i18n.t("sources.missing_line", lang, territory=i18n.t(f"sources.status.{m.territory}", lang),
                         year=year, text=describe_missing(m, lang)) for m in res.qpv_layer.missing]
        summary = res.summary
        national.append({**{k: summary[k] for k in NATIONAL_COLUMNS if k in summary}, "method": used,
                         "qpv_overseas_geography": wanted["overseas"], "geography_switch": switch,
                         "note": "; ".join(notes)})
        regions.append(res.regions.assign(year=year, qpv_geography=_region_geographies(res, wanted)))
    table = pd.DataFrame(national).reindex(columns=NATIONAL_COLUMNS)
    region_table = (pd.concat(regions, ignore_index=True) if regions else pd.DataFrame())
    if not region_table.empty:
        first = ["year", "qpv_geography", "insee_reg", "lib_reg"]
        region_table = region_table[first + [c for c in region_table.columns if c not in first]]
    return Trend(national=table, regions=region_table)


def _region_geographies(res, wanted: dict) -> list[int]:
    """QPV geography in force in each region of ``res.regions`` (overseas regions may differ, as in 2024)."""

    overseas = dict(zip(*res.vintage.geography.attributes("regions")[["insee_reg", "overseas"]].to_numpy().T))
    return [wanted["overseas"] if overseas.get(r) else wanted["metropolitan"] for r in res.regions["insee_reg"]]


def _councils_only(reg: Registry, year: int, geography: int, reason: str, lang: str) -> dict:
    """A year whose QPV layer is missing: council counts only."""
    from .geography import geography as load_geography
    from .perimeters import active_mask, in_project_mask, new_mask

    councils = reg.councils
    return {"year": year, "cog_year": load_geography(year, nearest=True).year, "qpv_geography": geography,
            "method": None, "councils_active": int(active_mask(councils, year).sum()),
            "councils_new": int(new_mask(councils, year).sum()),
            "councils_in_project": int(in_project_mask(councils, year).sum()),
            "note": i18n.t("console.trend.missing", lang, geography=geography, reason=reason.splitlines()[0])}
