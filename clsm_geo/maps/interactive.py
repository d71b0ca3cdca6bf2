"""Interactive maps (folium / Leaflet): council perimeters by status, QPV by coverage status, a choropleth of
regions and departments; layer control, legend, tooltips and popups, search by commune, QPV, council or
territory name, fullscreen, fitted to France or to one region.

    m = res.map()                                   # folium.Map: renders in notebooks
    m = res.map(region="11", offline=True)          # self-contained: Leaflet inlined, no tiles, no CDN
    write_html(m, "idf.html")                       # atomic write

``offline=True`` inlines Leaflet, the fullscreen plugin and our controls (vendored in ``maps/assets/``) and
uses a plain background with department boundaries instead of web tiles: the page makes no network request,
also through ``m.save()`` or a notebook. Online maps load Leaflet from folium's default CDN and show
OpenStreetMap tiles. Every user-supplied text is HTML-escaped (see :mod:`clsm_geo.maps.layers`).
"""

from __future__ import annotations

from pathlib import Path

import folium
import pandas as pd
from branca.element import MacroElement
from folium.plugins import Fullscreen
from jinja2 import Template

from .. import _progress
from ..io import atomic_path
from . import layers as _layers
from .assets import InlineAssets
from .layers import esc, js_json
from .static import readable
from .style import (
    COUNCIL_STATUS_COLORS,
    COUNCIL_STATUS_LABELS,
    INDICATORS,
    QPV_STATUS_COLORS,
    QPV_STATUS_LABELS,
    classify,
    indicator_values,
    source_line,
)

__all__ = ["interactive_map", "write_html"]

#: Panes, bottom to top (z-index): land, choropleth, department boundaries, councils, QPV.
PANES = {"clsm-land": 402, "clsm-choropleth": 404, "clsm-boundaries": 406, "clsm-councils": 420,
         "clsm-qpv": 430}
TILES_ONLINE = "OpenStreetMap"
#: Default choropleth palette: ColorBrewer Purples, clear of the blues/vermillion of QPV and green of councils.
INTERACTIVE_PALETTE = "Purples"
CHOROPLETH_OPACITY = 0.6


@_progress.stepped("map")
def interactive_map(res, *, region: str | None = None, offline: bool = False,
                    indicator: str = "qpv_covered_share", scheme: str = "quantiles", k: int = 5, bins=None,
                    palette: str = INTERACTIVE_PALETTE, tolerance: float | None = None) -> folium.Map:
    """A folium Map of ``res`` (national, or ``region`` zoomed). See the module docstring."""
    from .static import _check_region, _geo

    geo = _geo(res)
    region = _check_region(geo, region)
    data = _layers.build(res, region=region, tolerance=tolerance)

    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, zoom_control=True, zoomSnap=0.25)
    if offline:
        m.default_js, m.default_css = [], []
    m.add_child(InlineAssets(offline=offline))
    for pane, z in PANES.items():
        m.add_child(folium.map.CustomPane(pane, z_index=z, pointer_events=pane not in
                                          ("clsm-land", "clsm-boundaries")))
    if not offline:
        folium.TileLayer(TILES_ONLINE, name="Background: OpenStreetMap", control=True).add_to(m)

    legend_sections, layers = [], {}
    levels = ["region", "department"] if region is None else ["department"]
    for level in levels:
        section, layers[level] = _add_choropleth(m, data.territories[level], level, indicator, scheme, k, bins,
                                                 palette, show=(level == levels[0]))
        legend_sections.append(section)
    m.add_child(_Land(layers["department"] if data.land is None else data.land, offline))
    legend_sections.insert(0, _add_councils(m, data))
    legend_sections.insert(1, _add_qpv(m, data, res))

    fs = Fullscreen(position="topleft", title="Full screen", title_cancel="Exit full screen")
    if offline:
        fs.default_js, fs.default_css = [], []
    m.add_child(fs)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    m.add_child(_Controls(data.search, _legend_html(legend_sections, res, region, geo)))
    south, west, north, east = data.bounds
    m.fit_bounds([[south, west], [north, east]], padding_top_left=(10, 10), padding_bottom_right=(240, 10))
    _stable_ids(m)
    return m


def write_html(m: folium.Map, path) -> Path:
    """Write the map's page atomically (UTF-8)."""
    path = Path(path)
    page = m.get_root().render()
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
        readable(tmp)
    return path


# ----------------------------------------------------------------------------------------------- layers


def _add_choropleth(m, table, level, indicator, scheme, k, bins, palette, show):
    label, _unit = INDICATORS[indicator]
    classes = classify(indicator_values(table, indicator), indicator, scheme=scheme, k=k, bins=bins,
                       palette=palette)
    values = indicator_values(table, indicator)
    share = indicator.endswith("_share")
    props, colours = [], {}
    for i, row in enumerate(table.itertuples()):
        value = values.iloc[i]
        shown = "no data" if pd.isna(value) else (f"{value * 100:.0f}\u202f%" if share else f"{value:,.0f}")
        fid = f"{level}-{row.code}"
        colours[fid] = classes.color_of(int(classes.index[i]))
        props.append({"name": esc(row.name), "code": esc(row.code), "value": esc(shown),
                      "councils": _layers._fmt_int(row.councils_active), "qpv": _layers._fmt_int(row.qpv_total),
                      "covered": _layers._fmt_int(row.qpv_covered),
                      "share": _layers._fmt_share(row.qpv_covered_share) if row.qpv_total else "no QPV"})
    fc = _layers.feature_collection(table.geometry.values, props, [f"{level}-{c}" for c in table["code"]])

    def style(feature):
        colour = colours.get(feature["id"])
        if colour is None:
            return {"fillColor": "#ffffff", "fillOpacity": 0.85, "color": "#888888", "weight": 0.8,
                    "dashArray": "4 3"}
        return {"fillColor": colour, "fillOpacity": CHOROPLETH_OPACITY, "color": "#ffffff", "weight": 0.8}

    plural = "Regions" if level == "region" else "Departments"
    gj = folium.GeoJson(
        fc, name=esc(f"{plural}: {label.lower()}"), style_function=style, pane="clsm-choropleth", show=show,
        highlight_function=lambda f: {"weight": 2.5, "color": "#333333"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=[level.capitalize(), label],
                                      class_name="clsm-popup"),
        popup=folium.GeoJsonPopup(fields=["name", "code", "value", "councils", "qpv", "covered", "share"],
                                  aliases=[level.capitalize(), "code", label, "CLSM active", "QPV in force",
                                           "QPV covered", "share covered"], class_name="clsm-popup"),
    )
    gj.add_to(m)
    rows = [(c, lab, n) for c, lab, n in zip(classes.colors, classes.labels, classes.counts)]
    if classes.no_data:
        rows.append((None, "no data (no QPV in force)", classes.no_data))
    return {"title": f"{plural}: {classes.title}", "kind": "fill", "rows": rows}, gj


def _add_councils(m, data):
    rows = []
    fields = ["name", "id", "status", "scale", "communes", "population", "qpv", "created", "notes"]
    aliases = ["CLSM", "id", "status", "perimeter", "communes", "population", "QPV covered", "created", "notes"]
    for status in ("active", "in_project", "dormant", "closed"):
        fc = data.councils.get(status)
        n = len(fc["features"]) if fc else 0
        colour = COUNCIL_STATUS_COLORS[status]
        rows.append((colour, COUNCIL_STATUS_LABELS[status], n, "line" if status == "closed" else "box"))
        if not n:
            continue
        if status == "closed":
            style = {"fill": False, "color": colour, "weight": 2, "dashArray": "6 4"}
        else:
            style = {"fillColor": colour, "fillOpacity": 0.45, "color": colour, "weight": 1.5}
        folium.GeoJson(
            fc, name=esc(f"CLSM {COUNCIL_STATUS_LABELS[status]} ({n})"), style_function=lambda f, s=style: s,
            pane="clsm-councils", show=status != "closed",
            highlight_function=lambda f: {"weight": 3.5},
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False, class_name="clsm-popup"),
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, class_name="clsm-popup"),
        ).add_to(m)
    return {"title": "CLSM perimeters, by status", "kind": "mixed", "rows": rows}


def _add_qpv(m, data, res):
    rows = []
    for status, fc in data.qpv.items():
        n = len(fc["features"])
        colour = QPV_STATUS_COLORS[status]
        rows.append((colour, QPV_STATUS_LABELS[status], n, "dot"))
        if not n:
            continue
        style = {"fillColor": colour, "fillOpacity": 0.85, "color": colour, "weight": 2.5}
        folium.GeoJson(
            fc, name=esc(f"QPV {QPV_STATUS_LABELS[status]} ({n})"), style_function=lambda f, s=style: s,
            pane="clsm-qpv", highlight_function=lambda f: {"weight": 5, "color": "#222222"},
            tooltip=folium.GeoJsonTooltip(fields=["name", "status"], labels=False, class_name="clsm-popup"),
            popup=folium.GeoJsonPopup(fields=["name", "code", "status", "share", "councils"],
                                      aliases=["QPV", "code", "coverage", "area covered", "CLSM"],
                                      class_name="clsm-popup"),
        ).add_to(m)
    return {"title": f"QPV in force in {res.year}, by coverage by active CLSM", "kind": "dot",
            "rows": [(c, lab, n) for c, lab, n, _ in rows]}


# ----------------------------------------------------------------------------------------------- controls


def _legend_html(sections, res, region, geo) -> str:
    """The legend's HTML, every dynamic text escaped."""
    parts = [('<button class="clsm-legend-toggle" type="button" title="Fold the legend" '
              'aria-label="Fold the legend">&#8211;</button><div class="clsm-legend-body">')]
    where = "France"
    if region is not None:
        where = geo.regions.loc[geo.regions["insee_reg"] == region, "lib_reg"].iloc[0]
    parts.append(f"<h4>{esc(f'CLSM and QPV, {where}, {res.year}')}</h4>")
    for section in sections:
        parts.append(f"<h4>{esc(section['title'])}</h4>")
        for row in section["rows"]:
            colour, label, n = row[:3]
            kind = row[3] if len(row) > 3 else section["kind"]
            if colour is None:
                swatch = '<span class="sw nodata"></span>'
            elif kind == "line":
                swatch = f'<span class="sw line" style="border-top-color:{esc(colour)}"></span>'
            elif kind == "dot":
                swatch = f'<span class="sw dot" style="background:{esc(colour)}"></span>'
            elif kind == "fill":
                swatch = (f'<span class="sw" style="background:{esc(colour)};opacity:{CHOROPLETH_OPACITY}">'
                          '</span>')
            else:
                swatch = f'<span class="sw" style="background:{esc(colour)}"></span>'
            parts.append(f'<div class="row">{swatch}<span>{esc(label)} ({n})</span></div>')
    parts.append(f'<details class="source"><summary>Sources</summary>{esc(source_line(res))}</details></div>')
    return "".join(parts)


class _Land(MacroElement):
    """Departments, not interactive: a light land fill under everything offline (on the plain sea colour of
    the page) and boundary lines above the choropleth. Taken from a GeoJson layer's data, or given."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.clsmLand({{ this.source }}, {{ this.fill }}, {{ this.line }})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, source, offline: bool):
        super().__init__()
        self._name = "ClsmLand"
        self._source = source
        self.fill = js_json({"fillColor": "#f6f5f1", "fillOpacity": 1, "stroke": False} if offline else None)
        self.line = js_json({"fill": False, "color": "#6f6f6f", "weight": 0.7, "opacity": 0.9})

    def render(self, **kwargs):
        src = self._source
        self.source = src.get_name() if hasattr(src, "get_name") else js_json(src)
        super().render(**kwargs)


class _Controls(MacroElement):
    """Search box and legend (``L.Control.ClsmSearch`` / ``ClsmLegend`` from ``assets/clsm-map.js``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            new L.Control.ClsmSearch({{ this.index }}).addTo({{ this._parent.get_name() }});
            new L.Control.ClsmLegend({{ this.legend }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, index, legend_html: str):
        super().__init__()
        self._name = "ClsmControls"
        self.index = js_json(index)
        self.legend = js_json(legend_html)


def _stable_ids(m) -> None:
    """Number the elements in tree order instead of folium's random ids: same inputs, same page."""
    counter = 0

    def walk(element):
        nonlocal counter
        counter += 1
        element._id = f"{counter:05d}"
        for child in element._children.values():
            walk(child)

    walk(m.get_root())  # children stay keyed by their old names: keys are not rendered
