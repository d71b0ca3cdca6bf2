"""Static maps (matplotlib + mapclassify): a choropleth of regions or departments, council perimeters, QPV
by coverage status. Metropolitan France in Lambert-93 with Guadeloupe, Martinique, Guyane, La Réunion and
Mayotte as insets (each in its local projected CRS), or one region zoomed (``region="11"``).

    fig = res.plot(indicator="qpv_covered_share", scheme="fisher_jenks", k=5)   # matplotlib Figure
    choropleth(res, level="department", region="84", path="ara.svg")           # and write the file
    councils_map(res, path="councils.png"); qpv_map(res, region="11", path="idf-qpv.pdf")

Figures are built without pyplot (no global state, nothing left open) and render in notebooks. Files are
written atomically and deterministically (no dates in the metadata, a fixed SVG hash salt, text kept as text
in SVG), so the same inputs give byte-identical files.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..i18n import fmt_int, fmt_pct, get_lang, t, tn, year_end
from ..io import atomic_path
from . import insets
from .style import (
    COUNCIL_STATUS_COLORS,
    DEFAULT_PALETTE,
    QPV_STATUS_COLORS,
    check_indicator,
    check_level,
    classify,
    council_status_label,
    indicator_label,
    indicator_values,
    qpv_status_label,
    source_line,
    territory_table,
)

__all__ = ["FORMATS", "choropleth", "councils_map", "qpv_map", "save_figure"]

FORMATS = ("png", "svg", "pdf")
LAND = "#f0f0ee"
CONTEXT = "#dcdcda"  # territories around a zoomed region
EDGE = "#ffffff"
REGION_EDGE = "#6e6e6e"
NO_DATA_STYLE = {"facecolor": "#ffffff", "edgecolor": "#9a9a9a", "hatch": "////", "linewidth": 0.3}
#: Characters per line of a legend's labels (the legend column is about 2.3 inches wide).
LEGEND_WRAP = 32
#: What ``save_figure`` fixes so that reruns give identical bytes (and SVG text stays searchable text).
SAVE_RC = {"svg.hashsalt": "clsm-geo", "svg.fonttype": "none", "pdf.fonttype": 42}
METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


# ----------------------------------------------------------------------------------------------- public


def choropleth(res, *, level: str | None = None, indicator: str = "qpv_covered_share", scheme: str = "quantiles",
               k: int = 5, bins=None, region: str | None = None, palette: str = DEFAULT_PALETTE,
               title: str | None = None, path=None, dpi: int = 150, lang: str | None = None):
    """Regions or departments coloured by ``indicator`` in classes (mapclassify ``scheme``, ``k`` classes or
    ``bins`` upper bounds for ``user_defined``; see :func:`clsm_geo.maps.style.classify`); territories without
    data hatched. Nationally at department level, Paris and the petite couronne (75, 92, 93, 94) get a zoom
    inset. Words in ``lang`` (default: French). Returns the Figure and writes it to ``path``
    (.png/.svg/.pdf) when given. ``level`` defaults to region nationally, department in a regional zoom."""
    lang = get_lang(lang)
    level = check_level(level or ("department" if region else "region"))
    if k < 1:
        raise InputError(t("maps.error.classes", None, k=k))
    check_indicator(indicator)
    geo = _geo(res)
    table = territory_table(res, level)
    shapes = geo.regions if level == "region" else geo.departments
    key = "insee_reg" if level == "region" else "insee_dep"
    frame = shapes.rename(columns={key: "code"})[["code", "geometry"]].merge(
        table, on="code", how="left")
    region = _check_region(geo, region)
    if region is not None:
        frame = frame[_in_region(frame, geo, level, region)].reset_index(drop=True)
    classes = classify(indicator_values(frame, indicator), indicator, scheme=scheme, k=k, bins=bins,
                       palette=palette, lang=lang)
    frame = frame.assign(cls=classes.index)

    fig, panels = _figure(geo, region, paris=region is None and level == "department", lang=lang)
    classes_of = dict(zip(frame["code"], frame["cls"]))
    for panel in panels:
        if region is not None:  # nationally every territory is drawn below, in its class or as without data:
            _land(panel, geo, region)  # no land would show (the context around a region does)
        # the territories projected once per panel (kept), with their class: not the frame projected again
        shown = insets.select(shapes, panel, keep=True)
        shown = shown[shown[key].isin(classes_of.keys())]
        sub = shown.rename(columns={key: "code"})[["code", "geometry"]].merge(table, on="code", how="left")
        sub["cls"] = sub["code"].map(classes_of)
        for i, colour in enumerate(classes.colors):
            part = sub[sub["cls"] == i]
            if len(part):
                part.plot(ax=panel.ax, facecolor=colour, edgecolor=EDGE, linewidth=0.35)
        missing = sub[sub["cls"] < 0]
        if len(missing):
            missing.plot(ax=panel.ax, **NO_DATA_STYLE)
        _outlines(panel, geo, region, level)
        if region is not None:
            _labels(panel, sub)
        elif panel.key == insets.PARIS_KEY:
            _codes(panel, sub[sub["code"].isin(insets.PARIS_DEPARTMENTS)])
        insets.finish(panel, frame=panel.key != "metropole" and region is None)
    insets.mark_zoom(panels)

    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#9a9a9a", linewidth=0.4, label=f"{lab}  ({fmt_int(n, lang)})")
               for c, lab, n in zip(classes.colors, classes.labels, classes.counts)]
    if classes.no_data:
        handles.append(Patch(label=f"{t('maps.legend.no_data', lang)}  ({fmt_int(classes.no_data, lang)})",
                             **NO_DATA_STYLE))
    _legend(fig, panels, region, handles, classes.title, t(f"maps.legend.note_{level}", lang))
    heading = title or t("maps.title.choropleth", lang, indicator=indicator_label(indicator, lang, title=True),
                         level=t(f"maps.level.{level}", lang))
    subtitle = " · ".join([t("maps.subtitle.date", lang, date=year_end(res.year, lang)),
                           tn("maps.subtitle.classes", len(classes.labels), lang,
                              scheme=t(f"maps.scheme.{classes.scheme}", lang))])
    _titles(fig, res, geo, region, heading, subtitle, lang)
    return _maybe_save(fig, path, dpi)


def councils_map(res, *, region: str | None = None, title: str | None = None, path=None, dpi: int = 150,
                 lang: str | None = None):
    """Council perimeters by status (active, in project, dormant, closed) over department boundaries."""
    lang = get_lang(lang)
    geo = _geo(res)
    region = _check_region(geo, region)
    councils = res.councils
    councils = councils[councils.geometry.notna()]
    if region is not None:
        councils = councils[councils["regions"].map(lambda regs: region in tuple(regs or ()))]
    order = ["closed", "dormant", "in_project", "active"]
    fig, panels = _figure(geo, region, lang=lang)
    for panel in panels:
        _land(panel, geo, region)
        sub = insets.select(councils, panel)
        for status in order:
            part = sub[sub["status"] == status]
            if not len(part):
                continue
            colour = COUNCIL_STATUS_COLORS[status]
            if status == "closed":
                part.plot(ax=panel.ax, facecolor="none", edgecolor=colour, linewidth=0.7, linestyle="--")
            else:
                part.plot(ax=panel.ax, facecolor=colour, edgecolor=_darker(colour), linewidth=0.3, alpha=0.9)
        _outlines(panel, geo, region, "department")
        if region is not None:
            _labels(panel, insets.select(_departments_of(geo, region), panel), values=False)
        insets.finish(panel, frame=panel.key != "metropole" and region is None)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for status in reversed(order):
        n = int((councils["status"] == status).sum())
        colour = COUNCIL_STATUS_COLORS[status]
        label = f"{council_status_label(status, lang)}  ({fmt_int(n, lang)})"
        if status == "closed":
            handles.append(Line2D([], [], color=colour, linestyle="--", linewidth=0.9, label=label))
        else:
            handles.append(Patch(facecolor=colour, edgecolor=_darker(colour), linewidth=0.4, label=label))
    _legend(fig, panels, region, handles, t("maps.legend.councils", lang))
    figures, where = _figures(res, region, lang)
    heading = title or t("maps.title.councils", lang)
    subtitle = " · ".join([t("maps.subtitle.date", lang, date=year_end(res.year, lang)),
                           tn("maps.subtitle.councils", int(figures["councils_active"]), lang, where=where,
                              covering=fmt_int(figures["councils_covering_qpv"], lang))])
    _titles(fig, res, geo, region, heading, subtitle, lang)
    return _maybe_save(fig, path, dpi)


def qpv_map(res, *, region: str | None = None, title: str | None = None, path=None, dpi: int = 150,
            lang: str | None = None):
    """QPV in force by coverage status (covered, partly covered, not covered): points nationally,
    polygons in a regional zoom."""
    lang = get_lang(lang)
    geo = _geo(res)
    region = _check_region(geo, region)
    qpv = res.qpv[res.qpv["in_force"] & res.qpv.geometry.notna()]
    if region is not None:
        qpv = qpv[qpv["insee_reg"] == region]
    order = ["undetermined", "uncovered", "partial", "covered"]
    fig, panels = _figure(geo, region, lang=lang)
    for panel in panels:
        _land(panel, geo, region)
        _outlines(panel, geo, region, "department")
        sub = insets.select(qpv, panel)
        for status in order:
            part = sub[sub["status"] == status]
            if not len(part):
                continue
            colour = QPV_STATUS_COLORS[status]
            if region is None:
                points = part.geometry.representative_point()
                size = 5 if panel.key == "metropole" else 4
                panel.ax.scatter(points.x, points.y, s=size, c=colour, linewidths=0.15, edgecolors="#333333",
                                 zorder=3)
            else:
                part.plot(ax=panel.ax, facecolor=colour, edgecolor=colour, linewidth=0.9, zorder=3)
        if region is not None:
            _labels(panel, insets.select(_departments_of(geo, region), panel), values=False)
        insets.finish(panel, frame=panel.key != "metropole" and region is None)

    from matplotlib.lines import Line2D

    handles = []
    for status in reversed(order):
        n = int((qpv["status"] == status).sum())
        if status == "undetermined" and not n:
            continue
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=5,
                              markerfacecolor=QPV_STATUS_COLORS[status], markeredgecolor="#333333",
                              markeredgewidth=0.3, label=f"{qpv_status_label(status, lang)}  ({fmt_int(n, lang)})"))
    not_in_force = int((~res.qpv["in_force"]).sum()) if region is None else 0
    _legend(fig, panels, region, handles, t("maps.legend.qpv", lang))
    figures, where = _figures(res, region, lang)
    heading = title or t("maps.title.qpv", lang)
    parts = [t("maps.subtitle.date", lang, date=year_end(res.year, lang)),
             tn("maps.subtitle.qpv", int(figures["qpv_covered"]), lang, total=fmt_int(figures["qpv_total"], lang),
                where=where, share=fmt_pct(figures["qpv_covered_share"] or 0, 0, lang))]
    if not_in_force:
        parts.append(tn("maps.subtitle.not_in_force", not_in_force, lang, year=res.year))
    if region is None and getattr(res.qpv_layer, "missing", ()):
        from ..in_force import describe_missing

        parts += [t("sources.missing_line", lang, territory=t(f"sources.status.{m.territory}", lang),
                    year=res.year, text=describe_missing(m, lang)) for m in res.qpv_layer.missing]
    _titles(fig, res, geo, region, heading, " · ".join(parts), lang)
    return _maybe_save(fig, path, dpi)


def save_figure(fig, path, *, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (from the suffix), atomically and deterministically."""
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InputError(t("maps.error.format", None, name=repr(path.name)), hint=t("maps.error.format_hint"))
    with matplotlib.rc_context(SAVE_RC), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=METADATA[fmt], facecolor="white")
        readable(tmp)
    return path


def readable(path) -> None:
    """Give a file written through a private temporary file the usual permissions (0666 minus the umask):
    maps are meant to be published."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


# ----------------------------------------------------------------------------------------------- helpers


def prepare(geo) -> None:
    """Project now what every national map of ``geo`` draws under its data (the panels' layout, the land,
    the department and region lines), kept for the maps drawn next: the report's drawing process does it
    while the coverage is computed (:class:`clsm_geo.report.figures.Drawing`)."""
    for key, crs, box, extent, _ in insets.national_layout(geo.departments, keep=True):
        panel = insets.Panel(None, crs, box, extent, key)
        insets.boundaries(geo.departments, panel)
        insets.boundaries(geo.regions, panel)


def _geo(res):
    """The COG geography of ``res`` (its vintage's)."""
    return res.vintage.geography


def _check_region(geo, region):
    if region is None:
        return None
    region = str(region).strip()
    codes = list(geo.regions["insee_reg"])
    if region not in codes:
        raise InputError(t("maps.error.region", None, region=repr(region), year=geo.year),
                         hint=t("maps.error.choices", None, choices=", ".join(
                             f"{c} ({n})" for c, n in zip(codes, geo.regions["lib_reg"]))))
    return region


def _in_region(frame, geo, level, region):
    if level == "region":
        return frame["code"] == region
    deps = set(geo.departments.loc[geo.departments["insee_reg"] == region, "insee_dep"])
    return frame["code"].isin(deps)


def _departments_of(geo, region):
    deps = geo.departments
    return deps[deps["insee_reg"] == region].rename(columns={"lib_dep": "name"})


def _figure(geo, region, *, paris: bool = False, lang: str | None = None):
    from ..figures import InlineFigure as Figure  # a plain Figure that also shows itself in notebooks

    if region is None:
        fig = Figure(figsize=insets.FIGSIZE_NATIONAL, dpi=100)
        panels = insets.national_panels(fig, geo.departments, keep=True)
        if paris:
            panels.append(insets.paris_panel(fig, geo.departments, t("maps.inset.paris", lang)))
    else:
        fig = Figure(figsize=insets.FIGSIZE_REGION, dpi=100)
        panels = [insets.region_panel(fig, geo.departments, region)]
    fig.patch.set_facecolor("white")
    return fig, panels


def _land(panel, geo, region):
    """Every department in light grey: the land under the layers (and context around a region)."""
    land = insets.select(geo.departments, panel, keep=True)
    if region is None:
        land.plot(ax=panel.ax, facecolor=LAND, edgecolor=EDGE, linewidth=0.35)
        return
    mine = land["insee_reg"] == region
    land[~mine].plot(ax=panel.ax, facecolor=CONTEXT, edgecolor=EDGE, linewidth=0.35)
    land[mine].plot(ax=panel.ax, facecolor="#fafaf8", edgecolor=EDGE, linewidth=0.35)


def _outlines(panel, geo, region, level):
    """Department lines (thin, on department maps) and region lines (darker)."""
    ax = panel.ax
    if level == "department":
        insets.boundaries(geo.departments, panel).plot(ax=ax, color="#b5b5b5" if region is None else "#8f8f8f",
                                                       linewidth=0.3, zorder=2)
    insets.boundaries(geo.regions, panel).plot(ax=ax, color=REGION_EDGE, linewidth=0.55, zorder=2)


def _labels(panel, frame, values=True):
    """Territory names at a point inside each one (regional zooms), on a light box (path-effect halos would
    turn the text into paths in SVG and PDF: it must stay text)."""
    box = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.7}
    x0, x1 = panel.extent[0], panel.extent[2]
    for name, point in zip(frame["name"], frame.geometry.representative_point()):
        if isinstance(name, str) and x0 <= point.x <= x1:
            panel.ax.annotate(textwrap.fill(name, 18), (point.x, point.y), ha="center", va="center",
                              fontsize=6.8, color="#222222", bbox=box, zorder=5)


def _codes(panel, frame):
    """Department codes at a point inside each department (the Paris inset)."""
    box = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}
    for code, point in zip(frame["code"], frame.geometry.representative_point()):
        panel.ax.annotate(str(code), (point.x, point.y), ha="center", va="center", fontsize=6.5,
                          color="#222222", bbox=box, zorder=5)


def _legend(fig, panels, region, handles, title, note=None):
    title = textwrap.fill(title, 30) + (f"\n{textwrap.fill(note, 30)}" if note else "")
    for handle in handles:  # a long label (no data...) on several lines: within the figure's right margin
        handle.set_label(textwrap.fill(handle.get_label(), LEGEND_WRAP))
    options = {"title": title, "fontsize": 7.5, "title_fontsize": 7.8, "frameon": True, "framealpha": 0.9,
               "edgecolor": "#d0d0d0", "alignment": "left", "handlelength": 1.8, "handleheight": 1.1}
    anchor = insets.LEGEND_ANCHOR_NATIONAL if region is None else insets.LEGEND_ANCHOR_REGION
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=anchor, **options)
    legend.set_zorder(10)
    return legend


def _titles(fig, res, geo, region, heading, subtitle, lang):
    if region is not None:
        name = geo.regions.loc[geo.regions["insee_reg"] == region, "lib_reg"].iloc[0]
        heading = t("maps.title.in_region", lang, title=heading, region=name)
    fig.text(0.015, 0.968, heading, fontsize=12.5, weight="bold", va="top", color="#1a1a1a")
    fig.text(0.015, 0.932, subtitle, fontsize=8.5, va="top", color="#404040")
    fig.text(0.015, 0.012, source_line(res, lang), fontsize=6.5, va="bottom", color="#505050")


def _figures(res, region, lang):
    """Headline figures nationally or of ``region``, and the words saying where."""
    if region is None:
        return res.summary, t("maps.subtitle.national", lang)
    row = res.regions.loc[res.regions["insee_reg"] == region].iloc[0]
    return row.to_dict(), t("maps.subtitle.regional", lang)


def _darker(colour: str) -> str:
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(np.asarray(to_rgb(colour)) * 0.6)


def _maybe_save(fig, path, dpi):
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig

