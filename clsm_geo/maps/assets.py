"""Assets of interactive maps: the vendored Leaflet and plugin files (``maps/assets/``, see its README and
``scripts/vendor_map_assets.py``) and our own controls, inlined into the page so it needs no network."""

from __future__ import annotations

import base64
import functools
import mimetypes
import re
from pathlib import Path

from branca.element import MacroElement
from jinja2 import Template

from ..i18n import t

ASSETS_DIR = Path(__file__).resolve().with_name("assets")
#: Inlined in offline pages, in this order (Leaflet first: the plugin needs it).
OFFLINE_CSS = ("leaflet.css", "Control.FullScreen.css")
OFFLINE_JS = ("leaflet.js", "Control.FullScreen.js")
#: Our own controls, inlined in every page.
OWN_CSS = ("clsm-map.css",)
OWN_JS = ("clsm-map.js",)

_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


@functools.cache
def read(name: str) -> str:
    path = ASSETS_DIR / name
    if not path.is_file():
        from ..errors import DataSourceError

        raise DataSourceError(t("data.boundaries.asset_missing", name=name, folder=ASSETS_DIR),
                              hint=t("data.boundaries.asset_missing_hint"))
    return path.read_text(encoding="utf-8")


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@functools.cache
def css_inlined(name: str) -> str:
    """The stylesheet with every relative ``url(...)`` replaced by a data: URI (nothing left to fetch)."""

    def replace(match):
        target = match.group(2)
        if target.startswith(("data:", "#")):
            return match.group(0)
        return f"url({_data_uri(ASSETS_DIR / target)})"

    return _URL.sub(replace, read(name))


_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)


def script_safe(code: str) -> str:
    """JavaScript that cannot close its inline ``<script>`` element early (and points to no source map)."""
    code = _SOURCE_MAP.sub("", code)
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def inline_block(css: tuple[str, ...], js: tuple[str, ...]) -> str:
    parts = [f"<style>\n{css_inlined(n).replace('</style', '')}\n</style>" for n in css]
    parts += [f"<script>\n{script_safe(read(n))}\n</script>" for n in js]
    return "\n".join(parts)


class InlineAssets(MacroElement):
    """Puts the given stylesheets and scripts, inline, into the page header (after folium's own links)."""

    _template = Template("{% macro header(this, kwargs) %}{{ this.block }}{% endmacro %}")

    def __init__(self, *, offline: bool):
        super().__init__()
        self._name = "InlineAssets"
        css = (OFFLINE_CSS if offline else ()) + OWN_CSS
        js = (OFFLINE_JS if offline else ()) + OWN_JS
        self.block = inline_block(css, js)
