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
from ..io import atomic_path
from . import insets
from .style import (
    COUNCIL_STATUS_COLORS,
    COUNCIL_STATUS_LABELS,
    DEFAULT_PALETTE,
    INDICATORS,
    NO_DATA_LABEL,
    QPV_STATUS_COLORS,
    QPV_STATUS_LABELS,
    check_level,
    classify,
    indicator_values,
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
#: What ``save_figure`` fixes so that reruns give identical bytes (and SVG text stays searchable text).
SAVE_RC = {"svg.hashsalt": "clsm-geo", "svg.fonttype": "none", "pdf.fonttype": 42}
METADATA = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


# ----------------------------------------------------------------------------------------------- public


def choropleth(res, *, level: str | None = None, indicator: str = "qpv_covered_share", scheme: str = "quantiles",
               k: int = 5, bins=None, region: str | None = None, palette: str = DEFAULT_PALETTE,
               title: str | None = None, path=None, dpi: int = 150):
    """Regions or departments coloured by ``indicator`` in classes (mapclassify ``scheme``, ``k`` classes or
    ``bins`` upper bounds for ``user_defined``); territories without data hatched. Returns the Figure and
    writes it to ``path`` (.png/.svg/.pdf) when given. ``level`` defaults to region nationally, department
    in a regional zoom."""
    level = check_level(level or ("department" if region else "region"))
    if k < 1:
        raise InputError(f"the number of classes must be at least 1, got {k}")
    label, _unit = INDICATORS.get(indicator, (None, None))
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
                       palette=palette)
    frame = frame.assign(cls=classes.index)

    fig, panels = _figure(geo, region)
    for panel in panels:
        _land(panel, geo, region)
        sub = insets.select(frame, panel)
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
        insets.finish(panel, frame=panel.key not in ("metropole",) and region is None)

    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#9a9a9a", linewidth=0.4, label=f"{lab}  ({n})")
               for c, lab, n in zip(classes.colors, classes.labels, classes.counts)]
    if classes.no_data:
        handles.append(Patch(label=f"{NO_DATA_LABEL}  ({classes.no_data})", **NO_DATA_STYLE))
    territory = "regions" if level == "region" else "departments"
    scheme_text = {"quantiles": "quantiles", "fisher_jenks": "Fisher-Jenks natural breaks",
                   "equal_interval": "equal intervals", "user_defined": "user-defined bounds"}[classes.scheme]
    _legend(fig, panels, region, handles, f"{classes.title}; in brackets: number of {territory}")
    heading = title or f"{label}, by {level}, {res.year}"
    _titles(fig, res, geo, region, heading,
            f"{len(classes.labels)} classes by {scheme_text}; status at 31 December {res.year}")
    return _maybe_save(fig, path, dpi)


def councils_map(res, *, region: str | None = None, title: str | None = None, path=None, dpi: int = 150):
    """Council perimeters by status (active, in project, dormant, closed) over department boundaries."""
    geo = _geo(res)
    region = _check_region(geo, region)
    councils = res.councils
    councils = councils[councils.geometry.notna()]
    if region is not None:
        councils = councils[councils["regions"].map(lambda regs: region in tuple(regs or ()))]
    order = ["closed", "dormant", "in_project", "active"]
    fig, panels = _figure(geo, region)
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
        label = f"{COUNCIL_STATUS_LABELS[status]}  ({n})"
        if status == "closed":
            handles.append(Line2D([], [], color=colour, linestyle="--", linewidth=0.9, label=label))
        else:
            handles.append(Patch(facecolor=colour, edgecolor=_darker(colour), linewidth=0.4, label=label))
    _legend(fig, panels, region, handles, "CLSM perimeter, by status (number of councils)")
    figures, where = _figures(res, region)
    heading = title or f"CLSM perimeters at 31 December {res.year}"
    _titles(fig, res, geo, region, heading,
            f"{figures['councils_active']} active councils {where}, {figures['councils_covering_qpv']} "
            "of them covering QPV")
    return _maybe_save(fig, path, dpi)


def qpv_map(res, *, region: str | None = None, title: str | None = None, path=None, dpi: int = 150):
    """QPV in force by coverage status (covered, partly covered, not covered): points nationally,
    polygons in a regional zoom."""
    geo = _geo(res)
    region = _check_region(geo, region)
    qpv = res.qpv[res.qpv["in_force"] & res.qpv.geometry.notna()]
    if region is not None:
        qpv = qpv[qpv["insee_reg"] == region]
    order = ["undetermined", "uncovered", "partial", "covered"]
    fig, panels = _figure(geo, region)
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
                              markeredgewidth=0.3, label=f"{QPV_STATUS_LABELS[status]}  ({n})"))
    not_in_force = int((~res.qpv["in_force"]).sum()) if region is None else 0
    note = f"; {not_in_force} QPV not in force in {res.year} not shown" if not_in_force else ""
    if region is None and getattr(res.qpv_layer, "missing", ()):
        from ..in_force import describe_missing

        note += "; " + "; ".join(f"{m.territory}: {describe_missing(m)}" for m in res.qpv_layer.missing)
    _legend(fig, panels, region, handles, "QPV, by coverage by active CLSM (number of QPV)")
    figures, where = _figures(res, region)
    heading = title or f"QPV coverage by CLSM at 31 December {res.year}"
    _titles(fig, res, geo, region, heading,
            f"{figures['qpv_covered']} of {figures['qpv_total']} QPV in force covered {where} "
            f"({figures['qpv_covered_share']:.0%}){note}")
    return _maybe_save(fig, path, dpi)


def save_figure(fig, path, *, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (from the suffix), atomically and deterministically."""
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise InputError(f"cannot write a map as {path.name!r}", hint="use a .png, .svg or .pdf file name")
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


def _geo(res):
    from ..geography import geography

    return geography(res.cog_year)


def _check_region(geo, region):
    if region is None:
        return None
    region = str(region).strip()
    codes = list(geo.regions["insee_reg"])
    if region not in codes:
        raise InputError(f"unknown region code {region!r} in COG {geo.year}",
                         hint="use one of " + ", ".join(f"{c} ({n})" for c, n in
                                                        zip(codes, geo.regions["lib_reg"])))
    return region


def _in_region(frame, geo, level, region):
    if level == "region":
        return frame["code"] == region
    deps = set(geo.departments.loc[geo.departments["insee_reg"] == region, "insee_dep"])
    return frame["code"].isin(deps)


def _departments_of(geo, region):
    deps = geo.departments
    return deps[deps["insee_reg"] == region].rename(columns={"lib_dep": "name"})


def _figure(geo, region):
    from matplotlib.figure import Figure

    if region is None:
        fig = Figure(figsize=insets.FIGSIZE_NATIONAL, dpi=100)
        panels = insets.national_panels(fig, geo.departments)
    else:
        fig = Figure(figsize=insets.FIGSIZE_REGION, dpi=100)
        panels = [insets.region_panel(fig, geo.departments, region)]
    fig.patch.set_facecolor("white")
    return fig, panels


def _land(panel, geo, region):
    """Every department in light grey: the land under the layers (and context around a region)."""
    land = insets.select(geo.departments, panel)
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
        deps = insets.select(geo.departments, panel)
        deps.boundary.plot(ax=ax, color="#b5b5b5" if region is None else "#8f8f8f", linewidth=0.3, zorder=2)
    regs = insets.select(geo.regions, panel)
    regs.boundary.plot(ax=ax, color=REGION_EDGE, linewidth=0.55, zorder=2)


def _labels(panel, frame, values=True):
    """Territory names at a point inside each one (regional zooms), on a light box (path-effect halos would
    turn the text into paths in SVG and PDF: it must stay text)."""
    box = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.7}
    x0, x1 = panel.extent[0], panel.extent[2]
    for name, point in zip(frame["name"], frame.geometry.representative_point()):
        if isinstance(name, str) and x0 <= point.x <= x1:
            panel.ax.annotate(textwrap.fill(name, 18), (point.x, point.y), ha="center", va="center",
                              fontsize=6.8, color="#222222", bbox=box, zorder=5)


def _legend(fig, panels, region, handles, title):
    title = textwrap.fill(title, 30)
    options = {"title": title, "fontsize": 7.5, "title_fontsize": 7.8, "frameon": True, "framealpha": 0.9,
               "edgecolor": "#d0d0d0", "alignment": "left", "handlelength": 1.8, "handleheight": 1.1}
    anchor = insets.LEGEND_ANCHOR_NATIONAL if region is None else insets.LEGEND_ANCHOR_REGION
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=anchor, **options)
    legend.set_zorder(10)
    return legend


def _titles(fig, res, geo, region, heading, subtitle):
    if region is not None:
        name = geo.regions.loc[geo.regions["insee_reg"] == region, "lib_reg"].iloc[0]
        heading = f"{heading} — {name}"
    fig.text(0.015, 0.968, heading, fontsize=12.5, weight="bold", va="top", color="#1a1a1a")
    fig.text(0.015, 0.932, subtitle, fontsize=8.5, va="top", color="#404040")
    width = 200
    fig.text(0.015, 0.012, source_line(res, width=width), fontsize=6.0, va="bottom", color="#505050",
             linespacing=1.3)


def _figures(res, region):
    """Headline figures nationally or of ``region``, and the words saying where."""
    if region is None:
        return res.summary, "nationally"
    row = res.regions.loc[res.regions["insee_reg"] == region].iloc[0]
    return row.to_dict(), "in the region"


def _darker(colour: str) -> str:
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(np.asarray(to_rgb(colour)) * 0.6)


def _maybe_save(fig, path, dpi):
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig

