"""Interactive maps (folium / Leaflet): council perimeters by status, QPV by coverage status, a choropleth of
regions and departments; layer control, legend, tooltips and popups, search by commune, QPV, council or
territory name, one-click views of each overseas department and a list of territories, fullscreen, fitted
to France or to one region. Words in French by default (``lang="en"``), from the ``maps.*`` catalogue; the
choropleth has the classes and colours of the static map of the same indicator.

    m = res.map()                                   # folium.Map: renders in notebooks
    m = res.map(region="11", offline=True)          # self-contained: Leaflet inlined, no tiles, no CDN
    write_html(m, "idf.html")                       # atomic write (compact JSON, zoom allowed)
    page = render_page(m)                           # the same text, for clsm_geo.maps.embed

``offline=True`` inlines Leaflet, the fullscreen plugin and our controls (vendored in ``maps/assets/``) and
uses a plain background with department boundaries instead of web tiles: the page makes no network request,
also through ``m.save()`` or a notebook. Online maps load Leaflet from folium's default CDN and show
OpenStreetMap tiles. Every user-supplied text is HTML-escaped (see :mod:`clsm_geo.maps.layers`).
"""

from __future__ import annotations

import re
from pathlib import Path

import folium
import pandas as pd
from branca.element import MacroElement
from folium.plugins.fullscreen import Fullscreen  # the module alone (the program defers the other plugins)
from jinja2 import Template

from .. import _progress
from ..i18n import fmt_int, fmt_pct, get_lang, t, year_end
from ..io import atomic_path
from . import layers as _layers
from .assets import InlineAssets
from .insets import INSETS
from .layers import esc, js_json
from .static import readable
from .style import (
    COUNCIL_STATUS_COLORS,
    DEFAULT_PALETTE,
    OUTLINE,
    QPV_STATUS_COLORS,
    classify,
    council_status_label,
    indicator_label,
    indicator_values,
    qpv_status_label,
    shown_values,
    source_line,
)

__all__ = ["interactive_map", "render_page", "write_html"]

#: Page background (sea) and land of offline maps, department boundary lines: lines at least 3:1 against both.
SEA, LAND, BOUNDARY = "#dfe7ec", "#f6f5f1", "#6f6f6f"
#: Panes, bottom to top (z-index): land, choropleth, department boundaries, councils, QPV.
PANES = {"clsm-land": 402, "clsm-choropleth": 404, "clsm-boundaries": 406, "clsm-councils": 420,
         "clsm-qpv": 430}
TILES_ONLINE = "OpenStreetMap"
#: The static maps' palette: the same indicator has the same classes and colours on both.
INTERACTIVE_PALETTE = DEFAULT_PALETTE
CHOROPLETH_OPACITY = 0.75
#: branca's page with the language of its words and a title.
_PAGE = Template(
    "<!DOCTYPE html>\n<html lang=\"{{ this.lang }}\">\n<head>\n<title>{{ this.title }}</title>\n"
    "    {{ this.header.render(**kwargs) }}\n</head>\n<body>\n    {{ this.html.render(**kwargs) }}\n</body>\n"
    "<script>\n    {{ this.script.render(**kwargs) }}\n</script>\n</html>\n")


@_progress.stepped("map")
def interactive_map(res, *, region: str | None = None, offline: bool = False,
                    indicator: str = "qpv_covered_share", scheme: str = "quantiles", k: int = 5, bins=None,
                    palette: str = INTERACTIVE_PALETTE, tolerance: float | None = None,
                    lang: str | None = None, planner: bool = False) -> folium.Map:
    """A folium Map of ``res`` (national, or ``region`` zoomed), words in ``lang`` (default French);
    ``planner=True`` adds the "what if" panel (:mod:`clsm_geo.maps.planner`). See the module docstring."""
    from .static import _check_region, _geo

    lang = get_lang(lang)
    geo = _geo(res)
    region = _check_region(geo, region)
    data = _layers.build(res, region=region, tolerance=tolerance, lang=lang)

    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=False, zoom_control=True, zoomSnap=0.25)
    where = t("maps.web.france", lang) if region is None else \
        geo.regions.loc[geo.regions["insee_reg"] == region, "lib_reg"].iloc[0]
    root = m.get_root()
    root._template = _PAGE
    root.title = esc(t("maps.web.title", lang, where=where, date=year_end(res.year, lang)))
    root.lang = lang
    if offline:
        m.default_js, m.default_css = [], []
    m.add_child(InlineAssets(offline=offline))
    for pane, z in PANES.items():
        m.add_child(folium.map.CustomPane(pane, z_index=z, pointer_events=pane not in
                                          ("clsm-land", "clsm-boundaries")))
    if not offline:
        folium.TileLayer(TILES_ONLINE, name=esc(t("maps.web.background", lang)), control=True).add_to(m)

    legend_sections, layers = [], {}
    levels = ["region", "department"] if region is None else ["department"]
    for level in levels:
        section, layers[level] = _add_choropleth(m, data.territories[level], level, indicator, scheme, k, bins,
                                                 palette, show=(level == levels[0]), lang=lang,
                                                 decimals=data.decimals)
        legend_sections.append(section)
    m.add_child(_Land(layers["department"] if data.land is None else data.land, offline))
    legend_sections.insert(0, _add_councils(m, data, lang))
    legend_sections.insert(1, _add_qpv(m, data, res, lang))

    fs = Fullscreen(position="topleft", title=t("maps.web.fullscreen", lang),
                    title_cancel=t("maps.web.fullscreen_exit", lang))
    if offline:
        fs.default_js, fs.default_css = [], []
    m.add_child(fs)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    heading = t("maps.web.heading", lang, where=where, date=year_end(res.year, lang))
    m.add_child(_Controls(data.search, _legend_html(legend_sections, res, heading, lang),
                          _views(geo, data, region, lang), _words(lang)))
    south, west, north, east = data.bounds
    m.fit_bounds([[south, west], [north, east]], padding_top_left=(10, 10), padding_bottom_right=(10, 10))
    if planner:
        from .planner import add_planner

        add_planner(m, res, region=region, lang=lang)
    _stable_ids(m)
    return m


_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>')


def render_page(m: folium.Map) -> str:
    """The map's page as one HTML text, data written as compact JSON (no spaces after separators), zooming
    allowed (folium's viewport forbids it)."""
    env = folium.GeoJson._template.environment
    saved = env.policies.get("json.dumps_kwargs")
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    try:
        page = m.get_root().render()
    finally:
        env.policies["json.dumps_kwargs"] = saved
    return _VIEWPORT.sub('<meta name="viewport" content="width=device-width, initial-scale=1">', page, count=1)


def write_html(m: folium.Map, path) -> Path:
    """Write the map's page atomically (UTF-8)."""
    path = Path(path)
    page = render_page(m)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
        readable(tmp)
    return path


# ----------------------------------------------------------------------------------------------- layers


def _add_choropleth(m, table, level, indicator, scheme, k, bins, palette, show, lang, decimals):
    label = indicator_label(indicator, lang)
    values = indicator_values(table, indicator)
    classes = classify(values, indicator, scheme=scheme, k=k, bins=bins, palette=palette, lang=lang)
    shown = shown_values(values, indicator)
    share = indicator.endswith("_share")
    props, colours = [], {}
    for i, row in enumerate(table.itertuples()):
        value = shown[i]
        text = (t("maps.web.no_data", lang) if pd.isna(value) else
                fmt_pct(value / 100, 0, lang) if share else fmt_int(value, lang))
        fid = f"{level}-{row.code}"
        colours[fid] = classes.color_of(int(classes.index[i]))
        props.append({"name": esc(row.name), "code": esc(row.code), "value": esc(text),
                      "councils": _layers._fmt_int(row.councils_active, lang),
                      "qpv": _layers._fmt_int(row.qpv_total, lang),
                      "covered": _layers._fmt_int(row.qpv_covered, lang),
                      "share": _share_text(row, lang)})
    fc = _layers.feature_collection(table.geometry.values, props, [f"{level}-{c}" for c in table["code"]],
                                    decimals)

    def style(feature):
        colour = colours.get(feature["id"])
        if colour is None:
            return {"fillColor": "#ffffff", "fillOpacity": 0.85, "color": "#767676", "weight": 0.8,
                    "dashArray": "4 3"}
        return {"fillColor": colour, "fillOpacity": CHOROPLETH_OPACITY, "color": "#ffffff", "weight": 0.8}

    territories = t(f"maps.web.{level}s", lang)
    f = lambda key: esc(t(f"maps.web.field.{key}", lang))  # noqa: E731
    name = t("maps.web.layer_territories", lang, territories=territories, label=label[:1].lower() + label[1:])
    gj = folium.GeoJson(
        fc, name=esc(name),
        style_function=style, pane="clsm-choropleth", show=show,
        highlight_function=lambda feature: {"weight": 2.5, "color": "#333333"},
        tooltip=folium.GeoJsonTooltip(fields=["name", "value"], aliases=[f(level), esc(label)],
                                      class_name="clsm-popup"),
        popup=folium.GeoJsonPopup(fields=["name", "code", "value", "councils", "qpv", "covered", "share"],
                                  aliases=[f(level), f("code"), esc(label), f("councils_active"), f("qpv_total"),
                                           f("qpv_covered"), f("share")], class_name="clsm-popup"),
    )
    gj.add_to(m)
    rows = [(c, lab, n) for c, lab, n in zip(classes.colors, classes.labels, classes.counts)]
    if classes.no_data:
        rows.append((None, t("maps.legend.no_data", lang), classes.no_data))
    title = t("maps.web.legend_territories", lang, territories=territories, title=classes.title)
    return {"title": title, "kind": "fill", "rows": rows}, gj


def _share_text(row, lang) -> str:
    """Share covered; "non disponible" where the QPV geography in force is missing (never "aucun QPV")."""
    if pd.isna(row.qpv_total):
        return esc(t("sources.not_available", lang))
    return _layers._fmt_share(row.qpv_covered_share, lang) if row.qpv_total else esc(t("maps.web.no_qpv", lang))


def _add_councils(m, data, lang):
    rows = []
    f = lambda key: esc(t(f"maps.web.field.{key}", lang))  # noqa: E731
    fields = ["name", "id", "status", "scale", "communes", "population", "qpv", "created", "notes"]
    aliases = [f("council"), f("id"), f("status"), f("scale"), f("communes"), f("population"), f("qpv_covered"),
               f("created"), f("notes")]
    for status in COUNCIL_STATUS_COLORS:
        fc = data.councils.get(status)
        n = len(fc["features"]) if fc else 0
        colour = COUNCIL_STATUS_COLORS[status]
        words = council_status_label(status, lang)
        rows.append((colour, words, n, "line" if status == "closed" else "box"))
        if not n:
            continue
        if status == "closed":
            style = {"fill": False, "color": OUTLINE, "weight": 2, "dashArray": "6 4"}
        else:
            style = {"fillColor": colour, "fillOpacity": 0.45, "color": OUTLINE, "weight": 1.2}
        folium.GeoJson(
            fc, name=esc(t("maps.web.layer_councils", lang, status=words, n=fmt_int(n, lang))),
            style_function=lambda feature, s=style: s, pane="clsm-councils", show=status != "closed",
            highlight_function=lambda feature: {"weight": 3.5},
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False, class_name="clsm-popup"),
            popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, class_name="clsm-popup"),
        ).add_to(m)
    return {"title": t("maps.web.legend_councils", lang), "kind": "mixed", "rows": rows}


def _add_qpv(m, data, res, lang):
    rows = []
    f = lambda key: esc(t(f"maps.web.field.{key}", lang))  # noqa: E731
    for status, fc in data.qpv.items():
        n = len(fc["features"])
        colour = QPV_STATUS_COLORS[status]
        words = qpv_status_label(status, lang)
        rows.append((colour, words, n, "dot"))
        if not n:
            continue
        style = {"fillColor": colour, "fillOpacity": 0.9, "color": OUTLINE, "weight": 0.6}
        folium.GeoJson(
            fc, name=esc(t("maps.web.layer_qpv", lang, status=words, n=fmt_int(n, lang))),
            style_function=lambda feature, s=style: s, pane="clsm-qpv",
            highlight_function=lambda feature: {"weight": 3.5},
            tooltip=folium.GeoJsonTooltip(fields=["name", "status"], labels=False, class_name="clsm-popup"),
            popup=folium.GeoJsonPopup(fields=["name", "code", "status", "share", "councils"],
                                      aliases=[f("qpv"), f("code"), f("coverage"), f("area"), f("council")],
                                      class_name="clsm-popup"),
        ).add_to(m)
    return {"title": t("maps.web.legend_qpv", lang, year=res.year), "kind": "dot",
            "rows": [(c, lab, n) for c, lab, n, _ in rows]}


# ----------------------------------------------------------------------------------------------- controls


def _views(geo, data, region, lang) -> list[list]:
    """One-click views nationally: metropolitan France and each overseas department,
    ``[label, south, west, north, east]``; none in a regional zoom."""
    if region is not None:
        return []
    south, west, north, east = data.bounds
    views = [[t("maps.web.metropole", lang), south, west, north, east]]
    deps = geo.departments
    for code, name in INSETS.items():
        geom = deps.loc[deps["insee_dep"] == code, "geometry"]
        if len(geom):
            x0, y0, x1, y1 = (round(float(v), 3) for v in geom.iloc[0].bounds)
            views.append([name, y0, x0, y1, x1])
    return views


def _words(lang) -> dict:
    """Words of the page's own controls (search, legend, views), as plain text."""
    return {"search": t("maps.web.search", lang), "kinds": [t(f"maps.web.kind.{k}", lang)
                                                              for k in _layers.SEARCH_KINDS],
            "fold": t("maps.web.fold", lang), "unfold": t("maps.web.unfold", lang),
            "legend": t("maps.web.legend", lang), "views": t("maps.web.views", lang),
            "zoomIn": t("maps.web.zoom_in", lang), "zoomOut": t("maps.web.zoom_out", lang),
            "layers": t("maps.web.layers", lang), "territories": t("maps.web.territories", lang)}


def _legend_html(sections, res, heading, lang) -> str:
    """The legend's HTML, every dynamic text escaped."""
    parts = [f'<h4>{esc(heading)}</h4>']
    for section in sections:
        parts.append(f"<h4>{esc(section['title'])}</h4>")
        for row in section["rows"]:
            colour, label, n = row[:3]
            kind = row[3] if len(row) > 3 else section["kind"]
            # colours as data-* attributes, set by clsm-map.js through the CSSOM: no style= attribute, so the
            # page runs under a strict Content-Security-Policy
            if colour is None:
                swatch = '<span class="sw nodata"></span>'
            elif kind == "line":
                swatch = f'<span class="sw line" data-line="{esc(colour)}"></span>'
            elif kind == "dot":
                swatch = f'<span class="sw dot" data-fill="{esc(colour)}"></span>'
            elif kind == "fill":
                swatch = f'<span class="sw" data-fill="{esc(colour)}" data-opacity="{CHOROPLETH_OPACITY}"></span>'
            else:
                swatch = f'<span class="sw" data-fill="{esc(colour)}"></span>'
            parts.append(f'<div class="row">{swatch}<span>{esc(label)} ({esc(fmt_int(n, lang))})</span></div>')
    parts.append(f'<details class="source"><summary>{esc(t("maps.web.sources", lang))}</summary>'
                 f'{esc(source_line(res, lang))}</details>')
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
        self.fill = js_json({"fillColor": LAND, "fillOpacity": 1, "stroke": False} if offline else None)
        self.line = js_json({"fill": False, "color": BOUNDARY, "weight": 0.8, "opacity": 1})

    def render(self, **kwargs):
        src = self._source
        self.source = src.get_name() if hasattr(src, "get_name") else js_json(src)
        super().render(**kwargs)


class _Controls(MacroElement):
    """Search box, one-click views and legend (``L.Control.ClsmSearch`` / ``ClsmViews`` / ``ClsmLegend`` from
    ``assets/clsm-map.js``), with their words."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            L.clsmControls({{ this._parent.get_name() }}, {{ this.index }}, {{ this.legend }}, {{ this.views }},
                           {{ this.words }});
        {% endmacro %}
    """)

    def __init__(self, index, legend_html: str, views: list, words: dict):
        super().__init__()
        self._name = "ClsmControls"
        self.index = js_json(index)
        self.legend = js_json(legend_html)
        self.views = js_json(views)
        self.words = js_json(words)


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
