"""Years side by side: councils and QPV coverage per year, nationally and per region.

Each year is measured with the QPV geography in force that year (2015 geography through 2023, 2024 from
2024 in metropolitan France; see :func:`clsm_geo.qpv.qpv_geography_for_year`) and the COG of that year
where shipped, else the nearest shipped COG (codes resolved by :mod:`clsm_geo.codes`). Where a
geography's layer has no polygons, the commune method is used and the ``note`` column says so; where no
layer of a geography can be found, the QPV columns are empty and the note says how to provide one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .errors import DataSourceError, InputError
from .registry import Registry, read_registry

NATIONAL_COLUMNS = ["year", "cog_year", "qpv_geography", "method", "councils_active", "councils_new",
                    "councils_in_project", "councils_covering_qpv", "qpv_total", "qpv_covered", "qpv_partial",
                    "qpv_covered_share", "note"]


@dataclass(frozen=True)
class Trend:
    """``national``: one row per year (:data:`NATIONAL_COLUMNS`); ``regions``: one row per year and region."""

    national: pd.DataFrame
    regions: pd.DataFrame

    def to_files(self, directory, *, chart_formats=("png", "svg")) -> list:
        """Write ``trend.csv``, ``trend_regions.csv`` and the chart(s), all of them or none."""
        from pathlib import Path

        from . import io as _io
        from .charts import trend_chart

        out = Path(directory)
        _io.check_outputs([out / n for n in file_names(chart_formats)], folders=[out])
        with _io.output_set(out) as stage:
            written = [_io.write_csv(self.national, stage / "trend.csv"),
                       _io.write_csv(self.regions, stage / "trend_regions.csv")]
            for fmt in chart_formats:
                written.append(trend_chart(self.national, stage / f"trend.{fmt}"))
        return [out / Path(p).name for p in written]


def file_names(chart_formats=("png", "svg")) -> list[str]:
    """Names of the files :meth:`Trend.to_files` writes."""
    return ["trend.csv", "trend_regions.csv"] + [f"trend.{fmt}" for fmt in chart_formats]


def trend(registry, from_year: int = 2015, to_year: int = 2025, *, qpv: dict | None = None,
          method: str = "auto") -> Trend:
    """Coverage for every year from ``from_year`` to ``to_year`` (both included).

    ``qpv`` maps a QPV geography (2015, 2024) to a layer, path or URL; a geography not given is looked up
    in the cache and the shipped data. ``method`` as in :func:`clsm_geo.coverage`.
    """
    from .coverage import coverage
    from .qpv import qpv as load_qpv
    from .qpv import qpv_geography_for_year

    if from_year > to_year:
        raise InputError(f"--from {from_year} is after --to {to_year}")
    reg = registry if isinstance(registry, Registry) else read_registry(registry)
    given = dict(qpv or {})
    layers: dict[int, object] = {}
    missing: dict[int, str] = {}
    national, regions = [], []
    for year in range(from_year, to_year + 1):
        geography = qpv_geography_for_year(year)
        if geography not in layers and geography not in missing:
            source = given.get(geography)
            try:
                layers[geography] = source if hasattr(source, "frame") else load_qpv(geography, source)
            except DataSourceError as exc:
                missing[geography] = exc.message
        layer = layers.get(geography)
        if layer is None:
            row = _councils_only(reg, year, geography, missing[geography])
            national.append(row)
            continue
        has_polygons = layer.frame.geometry.notna().any()
        used = method if has_polygons or method == "commune" else "commune"
        res = coverage(reg, year, qpv=layer, method=used)
        note = "" if has_polygons else f"no polygons in the {geography} QPV layer: commune method"
        national.append({**{k: res.summary[k] for k in NATIONAL_COLUMNS if k in res.summary}, "method": used,
                         "note": note})
        regions.append(res.regions.assign(year=year, qpv_geography=geography))
    table = pd.DataFrame(national).reindex(columns=NATIONAL_COLUMNS)
    region_table = (pd.concat(regions, ignore_index=True) if regions else pd.DataFrame())
    if not region_table.empty:
        first = ["year", "qpv_geography", "insee_reg", "lib_reg"]
        region_table = region_table[first + [c for c in region_table.columns if c not in first]]
    return Trend(national=table, regions=region_table)


def _councils_only(reg: Registry, year: int, geography: int, reason: str) -> dict:
    """A year whose QPV layer is missing: council counts only."""
    from .geography import geography as load_geography
    from .perimeters import active_mask, in_project_mask, new_mask

    councils = reg.councils
    return {"year": year, "cog_year": load_geography(year, nearest=True).year, "qpv_geography": geography,
            "method": None, "councils_active": int(active_mask(councils, year).sum()),
            "councils_new": int(new_mask(councils, year).sum()),
            "councils_in_project": int(in_project_mask(councils, year).sum()),
            "note": f"QPV {geography} geography not available ({reason.splitlines()[0]}); "
                    f"give it with --qpv-{geography} or 'clsm-geo data fetch --qpv {geography}'"}
