"""The report's images: the coverage map (compressed PNG, from :mod:`clsm_geo.maps.static`) and the trend
chart (SVG). Both deterministic: no dates in the metadata, a fixed SVG hash salt, text kept as text.

:class:`Drawing` draws them in a child process started before the coverage is computed (the command line
does so): the child imports matplotlib and reads the outlines meanwhile, then receives the few tables the
images show (:class:`MapInputs`), not the whole result.
"""

from __future__ import annotations

import inspect
import io
from dataclasses import dataclass

import pandas as pd

from ..i18n import t
from .territory import Territory

#: Resolution of the map (dots per inch of a 10.4 × 8 in figure): sharp on A4, light in the page.
MAP_DPI = 110
#: Colours of the PNG palette (the map has a few flat colours and anti-aliased edges).
PNG_COLOURS = 96
#: zlib level of the map's PNG (9, Pillow's ``optimize``, takes 8 times as long for 7 % fewer bytes).
PNG_LEVEL = 7
#: Okabe-Ito blue and vermillion (colour-blind safe), for bars and line.
BAR, LINE, GREY = "#0072B2", "#D55E00", "#595959"


def _with_lang(fn, lang, **options):
    """Call ``fn`` with ``lang=`` when it takes one (the maps become French with the i18n work)."""
    if "lang" in inspect.signature(fn).parameters:
        options["lang"] = lang
    return fn(**options)


@dataclass(frozen=True, eq=False)
class MapInputs:
    """What the report's map reads of a :class:`~clsm_geo.result.CoverageResult`, which
    :mod:`clsm_geo.maps.static` takes in its place: the year, COG year and method, the key figures, the
    region and department tables, the QPV table (GeoDataFrame, EPSG:4326; only for a department's map, else
    None), the vintage and its QPV layer."""

    year: int
    cog_year: int
    method: str
    summary: dict
    regions: pd.DataFrame
    departments: pd.DataFrame
    qpv: object
    vintage: object
    qpv_layer: object

    #: The fields a child started before the result receives (it has the vintage since it was started).
    SENT = ("year", "cog_year", "method", "summary", "regions", "departments", "qpv")

    @classmethod
    def sent(cls, res, territory: Territory) -> dict:
        """The fields of :data:`SENT` for ``territory``'s map."""
        qpv = res.qpv if territory.level == "department" else None
        return {"year": res.year, "cog_year": res.cog_year, "method": res.method, "summary": res.summary,
                "regions": res.regions, "departments": res.departments, "qpv": qpv}



class Drawing:
    """The images of one report drawn by a child process started now, before the result exists: the child
    imports matplotlib and reads the outlines of ``vintage`` while the caller computes the coverage, then
    draws from what :meth:`images` sends. Where no child can run (:func:`clsm_geo._worker.available`), or the
    result was computed on another vintage, the images are drawn as :func:`draw` does."""

    def __init__(self, vintage):
        import geopandas  # noqa: F401  (both processes use it: imported once, before the child is forked)

        from .. import _worker

        self.vintage = vintage
        self._job = _worker.start(_draw_sent, vintage, inbox=True)

    def images(self, res, territory: Territory, lang: str, table: pd.DataFrame):
        """The pending images of ``res`` (``.result()`` gives what :func:`draw` returns)."""
        from .. import _worker

        if res.vintage is not self.vintage or res.qpv_layer is not self.vintage.layer:
            self._job.cancel()
            return _worker.start(draw, res, territory, lang, table)
        self._job.send({"result": MapInputs.sent(res, territory), "territory": territory, "lang": lang,
                        "table": table})
        return self._job

    def cancel(self) -> None:
        """Stop the child (the report was not made)."""
        self._job.cancel()


def _draw_sent(vintage, inbox) -> dict[str, bytes]:
    """:func:`draw` in a child started by :class:`Drawing`: what does not depend on the result first
    (matplotlib imported without its generated docstrings: :mod:`clsm_geo._mpl_docs`)."""
    from .._mpl_docs import skip_generated_docs

    skip_generated_docs()
    _prepare(vintage)
    sent = inbox.get()
    data = MapInputs(vintage=vintage, qpv_layer=vintage.layer, **sent["result"])
    return draw(data, sent["territory"], sent["lang"], sent["table"])


def _prepare(vintage) -> None:
    """Import the drawing modules, read and project the outlines the maps draw (kept: :func:`clsm_geo.maps.static.prepare`)."""
    import PIL.Image  # noqa: F401

    from .. import figures  # noqa: F401  (matplotlib.figure)
    from ..maps import static

    static.prepare(vintage.geography)


def draw(res, territory: Territory, lang: str, table: pd.DataFrame) -> dict[str, bytes]:
    """Both images of a report: ``{"carte": map PNG, "evolution": trend SVG}`` (what a child process of
    :func:`clsm_geo.report.report` draws while the main process computes the rest)."""
    return {"carte": map_png(res, territory, lang), "evolution": trend_svg(table, lang)}


def map_png(res, territory: Territory, lang: str) -> bytes:
    """The coverage map of the territory as a palette PNG: departments by share of QPV covered nationally
    (with the insets of :mod:`clsm_geo.maps.static`), the region's departments for a region, the QPV by
    status around a department."""
    import warnings

    from ..maps import static

    with warnings.catch_warnings():  # a region without some layer: geopandas warns of an empty plot
        warnings.filterwarnings("ignore", message="The GeoSeries you are attempting to plot is empty")
        fig = _map_figure(static, res, territory, lang)
    return _png(fig)


def _map_figure(static, res, territory: Territory, lang: str):
    if territory.level == "department":
        fig = _with_lang(static.qpv_map, lang, res=res, region=territory.region,
                         title=t("report.map.title_qpv", lang))
    else:
        fig = _with_lang(static.choropleth, lang, res=res, level="department",
                         region=None if territory.national else territory.code, title=t("report.map.title", lang))
    return fig


def _png(fig) -> bytes:
    import matplotlib
    from PIL import Image

    from ..maps.static import SAVE_RC

    raw = io.BytesIO()  # the pixels as they are (RGBA): no PNG to encode here and decode again below
    with matplotlib.rc_context(SAVE_RC):
        fig.savefig(raw, format="rgba", dpi=MAP_DPI, facecolor="white")
    pixels = raw.getvalue()
    width = int(fig.get_figwidth() * MAP_DPI)  # as the Agg canvas rounds it
    image = Image.frombuffer("RGBA", (width, len(pixels) // (4 * width)), pixels, "raw", "RGBA", 0, 1)
    image = image.convert("RGB").quantize(colors=PNG_COLOURS, method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.NONE)
    out = io.BytesIO()
    # zlib level 7: 0.09 s less than Pillow's ``optimize`` (level 9) for 7 % more bytes (72 kB instead of 68 kB
    # for the national map: benchmarks/report_steps.py)
    image.save(out, format="PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


def trend_svg(table: pd.DataFrame, lang: str) -> bytes:
    """Bars of councils active per year, a line of the share of QPV covered (years measured), a dashed
    line where the QPV geography changes. ``table`` from :func:`clsm_geo.report.analyses.evolution`."""
    import matplotlib
    from matplotlib.figure import Figure

    from ..i18n import fmt_int

    years = table["year"].astype(int).tolist()
    with matplotlib.rc_context({"svg.hashsalt": "clsm-geo", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(7.4, 3.4), dpi=100)
        ax = fig.add_subplot()
        ax.bar(years, table["councils_active"], color=BAR, label=t("report.evolution.chart_active", lang))
        top = max(1, int(table["councils_active"].max()))
        ax.set_ylim(0, top * 1.3)
        ax.set_xticks(years)
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_int(v, lang)))
        ax.spines[["top"]].set_visible(False)
        ax2 = ax.twinx()
        share = pd.to_numeric(table["qpv_covered_share"], errors="coerce") * 100
        ax2.plot(years, share, color=LINE, marker="o", label=t("report.evolution.chart_share", lang))
        ax2.set_ylim(0, 100)
        ax2.set_ylabel(t("report.evolution.chart_share", lang), color="#1a1a1a")
        ax2.spines[["top"]].set_visible(False)
        geos = table["qpv_geography"].tolist()
        for i in range(1, len(years)):
            if geos[i] != geos[i - 1]:
                ax.axvline(years[i] - 0.5, color=GREY, linestyle="--", linewidth=0.8)
                ax.text(years[i] - 0.56, top * 1.27, t("report.evolution.chart_geography", lang, geography=geos[i]),
                        fontsize=7.5, color=GREY, va="top", ha="right")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
        ax.legend(handles, labels, loc="upper left", frameon=False, ncols=2, fontsize=8)
        fig.subplots_adjust(left=0.07, right=0.91, bottom=0.1, top=0.95)  # fixed: tight_layout is slow
        out = io.BytesIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
