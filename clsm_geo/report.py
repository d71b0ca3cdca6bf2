"""The yearly "état du réseau" report: one self-contained HTML page (and its Markdown twin).

Sections: the headline as the national resource centre phrases it, the table per region (or per
department for a regional mission), the trend chart, the choropleth, the interactive map (embedded,
offline by default), the uncovered QPV, the gaps and the priorities. Every user-supplied string is
HTML-escaped; images are inline SVG; the page loads nothing from the network.
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import _progress
from . import __version__
from .io import atomic_path

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;background:#fff}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;margin:.2rem 0 1rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.headline{font-size:1.15rem;background:#eef4fb;border-left:4px solid #2b6cb0;padding:.8rem 1rem}
table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{border-bottom:1px solid #e5e7eb;padding:.25rem .4rem;
text-align:left;vertical-align:top} th{background:#f7f7f7} td.num{text-align:right}
figure{margin:1rem 0} figure svg{max-width:100%;height:auto} .note{color:#555;font-size:.85rem}
iframe{width:100%;height:640px;border:1px solid #ddd} .scroll{overflow-x:auto}
"""


@dataclass(frozen=True)
class Report:
    """A rendered report: ``html`` (self-contained page) and ``markdown``."""

    html: str
    markdown: str

    def write(self, path: str | Path) -> list[Path]:
        """Write ``path`` (HTML) and the same name with ``.md``, atomically."""
        path = Path(path)
        md = path.with_suffix(".md")
        with atomic_path(path) as tmp:
            tmp.write_text(self.html, encoding="utf-8")
        with atomic_path(md) as tmp:
            tmp.write_text(self.markdown, encoding="utf-8")
        return [path, md]


def headline_for(res, region: str | None = None) -> str:
    """The headline nationally, or for one region ("In Île-de-France, …")."""
    from .result import headline

    if region is None:
        return res.headline
    row = res.regions.set_index("insee_reg").loc[region]
    figures = {**row.to_dict(), "year": res.year}
    return f"In {row['lib_reg']}: " + headline(figures)


@_progress.stepped("report")
def report(res, *, region: str | None = None, trend=None, offline: bool = True, include_map: bool = True,
           rows: int = 50) -> Report:
    """Build the report of a :class:`~clsm_geo.result.CoverageResult`.

    ``region``: an INSEE region code for a regional mission (tables per department, map zoomed).
    ``trend``: a :class:`~clsm_geo.trend.Trend` to chart (optional). ``offline``: embed the map with its
    scripts inlined (no CDN, no tiles). ``rows``: longest lists shown (uncovered QPV, gaps, priorities).
    """
    from .errors import InputError

    if region is not None:
        region = str(region).zfill(2)
        if region not in set(res.regions["insee_reg"]):
            raise InputError(f"unknown region code {region!r}", hint="use an INSEE region code such as 11 or 32")
    sections = _sections(res, region, trend, offline, include_map, rows)
    scope = "France" if region is None else res.regions.set_index("insee_reg").loc[region, "lib_reg"]
    title = f"CLSM network and priority neighbourhoods — {scope}, {res.year}"
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content, _ in sections)
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body><main>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p class=\"headline\">{html.escape(headline_for(res, region))}</p>{body}"
            f"<p class=\"note\">{html.escape(_sources(res))}</p></main></body></html>\n")
    markdown = "\n\n".join([f"# {title}", f"**{headline_for(res, region)}**"]
                           + [f"## {h}\n\n{md}" for h, _, md in sections] + [f"_{_sources(res)}_"]) + "\n"
    return Report(html=page, markdown=markdown)


def _sections(res, region, trend, offline, include_map, rows) -> list[tuple[str, str, str]]:
    from . import gaps as _gaps
    from . import plan as _plan

    out = []
    if region is None:
        table = res.regions
        label = "By region"
    else:
        table = res.departments[res.departments["insee_reg"] == region]
        label = "By department"
    table = _share_as_percent(table.drop(columns=[c for c in ("insee_reg",) if region and c in table]))
    out.append((label, _html_table(table), _md_table(table)))
    if trend is not None:
        series = trend.national if region is None else _regional_series(trend, region)
        if len(series):
            out.append(("Trend", _svg_figure(lambda p: _trend_chart(series, p)),
                        _md_table(series[["year", "councils_active", "councils_new", "qpv_total",
                                          "qpv_covered"]])))
    out.append(("Share of QPV covered", _svg_figure(lambda p: _choropleth(res, region, p)),
                "(see the HTML report for the map)"))
    if include_map:
        out.append(("Interactive map", _map_iframe(res, region, offline), "(see the HTML report for the map)"))
    uncovered = _in_region(_gaps.uncovered(res), region)
    cols = ["code_qp", "lib_qp", "status", "lib_dep", "lib_communes", "nearest_council_name",
            "nearest_distance_km", "approach"]
    shown = pd.DataFrame(uncovered[cols]).head(rows)
    out.append((f"Uncovered and partial QPV ({len(uncovered):,})", _html_table(shown), _md_table(shown)))
    gaps = _in_region(_gaps.gaps(res), region, column="departments", cog_year=res.cog_year)
    counts = gaps["kind"].value_counts().sort_index()
    listing = "".join(f"<li>{html.escape(s)}</li>" for s in gaps["sentence"].head(rows))
    out.append((f"Gaps ({len(gaps):,})",
                _html_table(counts.rename_axis("kind").reset_index(name="count")) + f"<ul>{listing}</ul>",
                "\n".join(f"- {s}" for s in gaps["sentence"].head(rows))))
    priorities = _plan.priorities(res)
    if region is not None:
        priorities = priorities[priorities["regions"].map(lambda r: region in _as_tuple(r))]
    cols = ["level", "rank", "code", "name", "qpv_uncovered", "population"]
    shown = pd.DataFrame(priorities[cols]).head(rows)
    out.append(("Priorities: territories without a council", _html_table(shown), _md_table(shown)))
    return out


def _as_tuple(value) -> tuple:
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    return tuple(value) if value is not None else ()


def _in_region(frame: pd.DataFrame, region, column: str = "insee_reg", cog_year: int = 2024) -> pd.DataFrame:
    if region is None:
        return frame
    if column == "insee_reg":
        return frame[frame["insee_reg"] == region]
    from .geography import geography

    departments = geography(cog_year).departments
    deps = set(departments.loc[departments["insee_reg"] == region, "insee_dep"])
    return frame[frame[column].map(lambda d: bool(set(_as_tuple(d)) & deps))]


def _share_as_percent(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    if "qpv_covered_share" in out:
        out["qpv_covered_share"] = (out["qpv_covered_share"] * 100).round(0).astype("Int64").astype(str) + " %"
    return out


def _html_table(frame: pd.DataFrame) -> str:
    table = frame.to_html(index=False, escape=True, border=0, na_rep="", float_format=lambda v: f"{v:,.2f}")
    return f'<div class="scroll">{table}</div>'



def _md_table(frame: pd.DataFrame) -> str:
    def cell(v) -> str:
        text = "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
        return text.replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(map(cell, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _svg_figure(draw) -> str:
    """Run ``draw(path)`` into a temporary SVG and return it inline (no XML prolog)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "figure.svg"
        draw(path)
        text = path.read_text(encoding="utf-8")
    start = text.find("<svg")
    return f"<figure>{text[start:]}</figure>"


def _regional_series(trend, region: str) -> pd.DataFrame:
    """The trend rows of one region (years whose QPV layer was available)."""
    regions = trend.regions
    if regions.empty:
        return regions
    return regions[regions["insee_reg"] == region].sort_values("year", ignore_index=True)


def _trend_chart(series: pd.DataFrame, path):
    from .charts import trend_chart

    return trend_chart(series, path)


def _choropleth(res, region, path):
    import matplotlib.pyplot as plt

    from .maps.static import choropleth

    fig = choropleth(res, region=region, path=path)
    plt.close(fig)


def _map_iframe(res, region, offline) -> str:
    from .maps.interactive import interactive_map

    page = interactive_map(res, region=region, offline=offline).get_root().render()
    return f'<iframe title="Interactive map" srcdoc="{html.escape(page, quote=True)}"></iframe>'


def _sources(res) -> str:
    s = res.summary
    return (f"Sources: councils' registry {s['registry']}; QPV {s['qpv_geography']} geography, "
            f"{s['qpv_source']['edition']} ({s['qpv_source']['precision']}); INSEE COG {s['cog_year']} "
            f"(IGN ADMIN-EXPRESS outlines, simplified). Method: {s['method']}. Generated by clsm-geo {__version__}.")
