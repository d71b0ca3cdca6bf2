"""Maps of a coverage result: static (matplotlib) and interactive (folium / Leaflet).

    from clsm_geo.maps import choropleth, councils_map, qpv_map, interactive_map, write_html
    choropleth(res, indicator="qpv_covered_share", path="share.svg")   # or res.plot(...)
    write_html(interactive_map(res, region="11", offline=True), "idf.html")   # or res.map(...)

Submodules: ``static`` (figures), ``insets`` (layout with overseas insets), ``style`` (indicators, classes,
colours, source line), ``interactive`` (folium map), ``layers`` (web-ready geometry and properties),
``assets`` (vendored Leaflet and plugins for self-contained pages), ``embed`` (strict-CSP split pages, CSP
hashes, paste-safe snippets: see ``docs/embedding.md``).
"""

from __future__ import annotations

import importlib

_API = {
    "choropleth": "static", "councils_map": "static", "qpv_map": "static", "save_figure": "static",
    "interactive_map": "interactive", "write_html": "interactive", "render_page": "interactive",
    "split_assets": "embed", "snippet": "embed", "inline_csp": "embed",
}
__all__ = ["choropleth", "councils_map", "inline_csp", "interactive_map", "qpv_map", "render_page", "save_figure",
           "snippet", "split_assets", "write_html"]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
