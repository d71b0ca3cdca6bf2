"""Ways of putting a rendered page (the interactive map, or any page with inline ``<script>``/``<style>``
blocks) into a website, reusable by the report:

* :func:`split_assets` — the page plus a folder of ``.js``/``.css`` files (and the images they use) referenced by
  relative URLs: no inline script, no inline style, no ``style=`` attribute, so it runs under the strict
  Content-Security-Policy :data:`STRICT_CSP` (``default-src 'self'``).
* :func:`inline_csp` — the CSP a single-file page needs: the sha256 of each inline script and style.
* :func:`snippet` — a paste-safe HTML fragment for CMS pages: an ``<iframe srcdoc>`` holding the whole page, so
  no style leaks in either direction, fixed or responsive height, any number of them on one page.

All functions take and return text or paths; writing is atomic.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
from pathlib import Path

from ..io import atomic_path

__all__ = ["STRICT_CSP", "inline_csp", "snippet", "split_assets"]

#: The policy a page written by :func:`split_assets` works under (served with its folder).
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
              "base-uri 'none'")
#: Heights accepted for a snippet's frame.
CSS_LENGTH = re.compile(r"\d+(\.\d+)?(px|vh|em|rem)")
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_STYLE_ATTR = re.compile(r"<[^>]*\sstyle=", re.I)
#: Files the vendored stylesheets point to (relative URLs kept as they are in split pages).
_CSS_FILES = ("images", "icon-fullscreen.svg")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def inline_csp(page: str) -> str:
    """The Content-Security-Policy header a single-file page needs: each inline script and style by hash,
    images from data: URIs, nothing from the network."""
    scripts = " ".join(sorted({_sha256(s) for s in _SCRIPT.findall(page)})) or "'none'"
    styles = " ".join(sorted({_sha256(s) for s in _STYLE.findall(page)})) or "'none'"
    return (f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src data:; "
            "object-src 'none'; base-uri 'none'")


def split_assets(page: str, path) -> list[Path]:
    """Write ``page`` as ``path`` plus the folder ``<stem>_files/`` next to it, every inline script and style
    moved to a file referenced by a relative URL (vendored Leaflet assets as the original files, with their
    images). Returns the files written (the page first). Raises ``ValueError`` if a ``style=`` attribute is
    left in the page (it would be refused under :data:`STRICT_CSP`)."""
    from .assets import ASSETS_DIR, OFFLINE_CSS, OFFLINE_JS, OWN_CSS, OWN_JS, css_inlined, read, script_safe
    from .planner import PLANNER_CSS, PLANNER_JS
    from .static import readable

    path = Path(path)
    folder = path.with_name(f"{path.stem}_files")
    files: dict[str, str] = {}
    # the vendored assets, inlined (CSS images as data: URIs) in single pages: back to their own files
    for name in OFFLINE_CSS + OWN_CSS + PLANNER_CSS:
        block = f"<style>\n{css_inlined(name).replace('</style', '')}\n</style>"
        if block in page:
            files[name] = read(name)
            page = page.replace(block, f'<link rel="stylesheet" href="{folder.name}/{name}">')
    for name in OFFLINE_JS + OWN_JS + PLANNER_JS:
        block = f"<script>\n{script_safe(read(name))}\n</script>"
        if block in page:
            files[name] = read(name)
            page = page.replace(block, f'<script src="{folder.name}/{name}"></script>')
    counter = {"js": 0, "css": 0}

    def move(kind: str, code: str) -> str:
        counter[kind] += 1
        name = f"page-{counter[kind]}.{kind}"
        files[name] = code
        if kind == "js":
            return f'<script src="{folder.name}/{name}"></script>'
        return f'<link rel="stylesheet" href="{folder.name}/{name}">'

    page = _SCRIPT.sub(lambda m: move("js", m.group(1)), page)
    page = _STYLE.sub(lambda m: move("css", m.group(1)), page)
    if _STYLE_ATTR.search(page):
        raise ValueError("the page has a style= attribute: it would be refused under a strict CSP")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    written = []
    for name, text in sorted(files.items()):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
            readable(tmp)
        written.append(folder / name)
    for name in _CSS_FILES:
        source = ASSETS_DIR / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        elif source.is_file():
            shutil.copyfile(source, folder / name)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
        readable(tmp)
    return [path] + written


def snippet(page: str, *, title: str, height: str | None = None) -> str:
    """An HTML fragment to paste in a CMS page: ``<iframe srcdoc>`` with the whole ``page`` (escaped), its own
    document (no style leaks either way), ``title`` for screen readers, a fixed ``height`` (e.g. ``"600px"``)
    or, by default, a responsive one (4:3, at least 420 px, at most 85 % of the screen)."""
    if height is not None and not CSS_LENGTH.fullmatch(str(height)):
        from ..errors import InputError
        from ..i18n import t

        raise InputError(t("maps.error.height", None, height=repr(height)), hint=t("maps.error.height_hint"))
    size = f"height:{height}" if height else "aspect-ratio:4/3;min-height:420px;max-height:85vh"
    return (f'<iframe class="clsm-geo-map" title="{html.escape(title, quote=True)}" '
            f'srcdoc="{html.escape(page, quote=True)}" allow="fullscreen" allowfullscreen loading="lazy" '
            f'referrerpolicy="no-referrer" style="display:block;width:100%;{size};border:0;margin:0;padding:0">'
            "</iframe>\n")
