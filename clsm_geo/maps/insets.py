"""Layout of static maps: metropolitan France in Lambert-93 with the five overseas departments as insets,
each in its own projected CRS, or one region zoomed in its department's CRS.

A :class:`Panel` is one map frame: its axes, CRS, the lon/lat box selecting what it shows and its extent.
Layers are GeoDataFrames in EPSG:4326; :func:`draw` selects the features of a panel, projects and draws them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import geopandas as gpd
import shapely

from .. import settings

#: Lon/lat box of metropolitan France with Corsica.
METRO_BOX = shapely.box(-5.8, 41.2, 10.0, 51.3)
#: Overseas departments shown as insets, top to bottom, and their names.
INSETS: dict[str, str] = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
                          "976": "Mayotte"}
#: Figure geometry (fractions of the figure): national maps.
FIGSIZE_NATIONAL = (10.4, 8.0)
MAIN_RECT = (0.165, 0.085, 0.615, 0.83)
INSET_COLUMN = (0.012, 0.10, 0.14, 0.80)  # left, bottom, width, height of the column of insets
#: Where the legend goes: a column right of the map (anchor of its upper left corner).
LEGEND_ANCHOR_NATIONAL = (0.78, 0.80)
#: Zoom inset of Paris and the petite couronne (department maps): right column, under the legend.
PARIS_KEY = "paris"
PARIS_DEPARTMENTS = ("75", "92", "93", "94")
PARIS_RECT = (0.80, 0.075, 0.185, 0.27)
FIGSIZE_REGION = (10.4, 7.6)
REGION_RECT = (0.015, 0.085, 0.69, 0.81)
LEGEND_ANCHOR_REGION = (0.715, 0.88)


@dataclass
class Panel:
    ax: object
    crs: int
    box: object  # shapely polygon in lon/lat: features intersecting it are drawn
    extent: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in ``crs``
    key: str  # "metropole", a department code, or "region-XX"


def _bounds(geoms, crs: int, margin: float) -> tuple[float, float, float, float]:
    projected = gpd.GeoSeries(geoms, crs=4326).to_crs(crs)
    x0, y0, x1, y1 = projected.total_bounds
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


#: What was computed from a layer that does not change (a geography's): ``id(layer)`` -> (a weak reference
#: to the layer, {key: value}). An entry whose layer is gone is never used again.
_KEPT: dict[int, tuple[weakref.ref, dict]] = {}


def _kept(layer) -> dict:
    """The values kept for ``layer`` (see :data:`_KEPT`)."""
    entry = _KEPT.get(id(layer))
    if entry is None or entry[0]() is not layer:
        for key in [k for k, (ref, _) in _KEPT.items() if ref() is None]:
            del _KEPT[key]
        entry = _KEPT[id(layer)] = (weakref.ref(layer), {})
    return entry[1]


def national_layout(departments: gpd.GeoDataFrame, *, keep: bool = False) -> list[tuple]:
    """(key, CRS, lon/lat box, extent, axes rectangle) of the main map and of each overseas inset present in
    ``departments``. ``keep``: ``departments`` does not change (a geography's layer): computed once."""
    kept = _kept(departments) if keep else {}
    if "layout" not in kept:
        metro = departments[~departments["overseas"]]
        layout = [("metropole", settings.METROPOLITAN_CRS, METRO_BOX,
                   _bounds(metro.geometry.values, settings.METROPOLITAN_CRS, 0.02), MAIN_RECT)]
        codes = [c for c in INSETS if c in set(departments["insee_dep"])]
        left, bottom, width, height = INSET_COLUMN
        step = height / max(1, len(codes))
        for i, code in enumerate(codes):
            geom = departments.loc[departments["insee_dep"] == code, "geometry"].iloc[0]
            crs = settings.projected_crs(code)
            rect = (left, bottom + height - (i + 1) * step + 0.004, width, step - 0.032)
            x0, y0, x1, y1 = geom.bounds
            box = shapely.box(x0 - 0.3, y0 - 0.3, x1 + 0.3, y1 + 0.3)
            layout.append((code, crs, box, _bounds([geom], crs, 0.06), rect))
        kept["layout"] = layout
    return kept["layout"]


def national_panels(fig, departments: gpd.GeoDataFrame, *, keep: bool = False) -> list[Panel]:
    """Main Lambert-93 axes and one inset per overseas department (present in ``departments``); ``keep`` as
    in :func:`national_layout`."""
    panels = []
    for key, crs, box, extent, rect in national_layout(departments, keep=keep):
        label = "metropole" if key == "metropole" else f"inset-{key}"
        ax = fig.add_axes(rect, label=label)
        if key != "metropole":
            ax.set_title(INSETS[key], fontsize=7.5, pad=2, loc="left")
        panels.append(Panel(ax, crs, box, extent, key))
    return panels


def paris_panel(fig, departments: gpd.GeoDataFrame, title: str) -> Panel:
    """Lambert-93 axes framing Paris and the petite couronne (:data:`PARIS_DEPARTMENTS`), titled ``title``."""
    mine = departments[departments["insee_dep"].isin(PARIS_DEPARTMENTS)]
    x0, y0, x1, y1 = gpd.GeoSeries(mine.geometry.values, crs=4326).total_bounds
    ax = fig.add_axes(PARIS_RECT, label=f"inset-{PARIS_KEY}")
    ax.set_title(title, fontsize=7.5, pad=2, loc="left")
    return Panel(ax, settings.METROPOLITAN_CRS, shapely.box(x0 - 0.1, y0 - 0.1, x1 + 0.1, y1 + 0.1),
                 _bounds(mine.geometry.values, settings.METROPOLITAN_CRS, 0.03), PARIS_KEY)


def mark_zoom(panels: list[Panel]) -> None:
    """Outline on the metropolitan map the area a zoom inset (Paris) shows, at the inset's final extent."""
    from matplotlib.patches import Rectangle

    main = next((p for p in panels if p.key == "metropole"), None)
    for panel in panels:
        if main is None or panel.key != PARIS_KEY:
            continue
        (x0, x1), (y0, y1) = panel.ax.get_xlim(), panel.ax.get_ylim()
        main.ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#333333",
                                    linewidth=0.7, zorder=6))


def region_panel(fig, departments: gpd.GeoDataFrame, region: str) -> Panel:
    """One axes framing ``region`` in the projected CRS of its departments."""
    mine = departments[departments["insee_reg"] == region]
    crs = settings.projected_crs(mine["insee_dep"].iloc[0])
    x0, y0, x1, y1 = gpd.GeoSeries(mine.geometry.values, crs=4326).total_bounds
    dx, dy = (x1 - x0) * 0.15 + 0.05, (y1 - y0) * 0.15 + 0.05
    ax = fig.add_axes(REGION_RECT, label=f"region-{region}")
    return Panel(ax, crs, shapely.box(x0 - dx, y0 - dy, x1 + dx, y1 + dy),
                 _bounds(mine.geometry.values, crs, 0.04), f"region-{region}")


def select(layer: gpd.GeoDataFrame, panel: Panel, *, keep: bool = False) -> gpd.GeoDataFrame:
    """Features of ``layer`` (EPSG:4326) inside the panel's box, projected to its CRS. ``keep``: ``layer``
    does not change (a geography's layer): projected once per box and CRS, and the same frame returned
    again (not to be modified)."""
    kept = _kept(layer) if keep else {}
    key = ("select", panel.crs, panel.box.wkb)
    if key not in kept:
        shown = layer[layer.geometry.notna() & ~layer.geometry.is_empty]
        kept[key] = shown[shown.geometry.intersects(panel.box)].to_crs(panel.crs)
    return kept[key]


def boundaries(layer: gpd.GeoDataFrame, panel: Panel) -> gpd.GeoSeries:
    """The outlines' boundaries of :func:`select` ``(layer, panel, keep=True)``, kept as it is."""
    kept = _kept(layer)
    key = ("boundaries", panel.crs, panel.box.wkb)
    if key not in kept:
        kept[key] = select(layer, panel, keep=True).boundary
    return kept[key]


def finish(panel: Panel, *, frame: bool) -> None:
    """Fix the extent (equal aspect, filling the axes box) and hide axes; insets keep a thin frame."""
    ax = panel.ax
    x0, y0, x1, y1 = panel.extent
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position(original=True)
    box_ratio = (pos.width * fig_w) / (pos.height * fig_h)
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if w / h < box_ratio:
        w = h * box_ratio
    else:
        h = w / box_ratio
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_visible(frame)
        spine.set_edgecolor("#8c8c8c")
        spine.set_linewidth(0.6)
    ax.set_facecolor("none")
