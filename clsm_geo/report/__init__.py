"""The yearly report "État du réseau des CLSM", national, regional or departmental, as a publication.

``report(res)`` returns a :class:`Report`: ``.html`` (one self-contained page: inline CSS with an A4 print
stylesheet, images as data URIs, no script, no external resource), ``.markdown`` (same content; images
written beside it by :meth:`Report.save`), ``.annex`` (the full tables, written as an ``.xlsx``) and
``.save(path)``. Words come from the catalogue (``report.*`` keys), French by default, numbers by Babel.

Sections, in order: headline, key figures, map, table by region (department, QPV), evolution, uncovered
QPV by department, extension plan, intercommunal gaps, method and sources. :func:`report_each` writes one
report per region or department and an ``index.html``, computing the national analyses once.
"""

from __future__ import annotations

import functools
import html as _html
from typing import Callable
from pathlib import Path

from .. import __version__
from ..i18n import fmt_pct, get_lang, t, year_end
from .. import _worker
from .. import io as _io
from ..io import atomic_path
from . import annex as _annex
from . import figures as _figures
from . import sections as _s
from . import to_html, to_markdown
from .analyses import analyses, evolution
from .model import Document
from .territory import NATION, Territory, resolve, territories
from .to_markdown import escape_markdown

__all__ = ["FIRST_YEAR", "Report", "Territory", "escape_markdown", "report", "report_each", "resolve_territory"]

#: First year of the evolution (the QPV were created on 1 January 2015).
FIRST_YEAR = 2015


class Report:
    """A built report. ``document``: the sections as data; ``annex``: sheet name -> table; ``sources``: the
    Sources sheet; ``territory``: what it covers.

    ``document`` may be given as a function that builds it: it is then built on first use (the report's
    images being drawn meanwhile by a child process, see :func:`report`).
    """

    def __init__(self, document: Document | Callable[[], Document], annex: dict, sources: dict,
                 territory: Territory, lang: str | None = None):
        self._document = document
        self._lang = lang or getattr(document, "lang", None) or get_lang()
        self.annex, self.sources, self.territory = annex, sources, territory

    @functools.cached_property
    def document(self) -> Document:
        """The sections as data (built now if they were waiting for their images)."""
        return self._document() if callable(self._document) else self._document

    @property
    def lang(self) -> str:
        """The language of the report (``fr`` or ``en``)."""
        return self._lang

    @functools.cached_property
    def html(self) -> str:
        """The self-contained HTML page."""
        return to_html.page(self.document)

    @property
    def markdown(self) -> str:
        """The Markdown twin, its images named ``report-<name>.<ext>`` (see :meth:`save`)."""
        return to_markdown.document(self.document, "report")

    def images(self, stem: str = "report") -> dict[str, bytes]:
        """File name -> bytes of each image the Markdown refers to."""
        return {to_markdown.image_name(stem, f): f.data for f in self.document.all_figures()}

    def save(self, path: str | Path, *, inputs=(), split_assets: bool = False) -> list[Path]:
        """Write the page (:func:`report_paths`: ``x.html``), the ``.md`` beside it with its images, and the
        ``.xlsx`` annex: all of them or none (:func:`clsm_geo.io.output_set`). ``inputs`` (files read: the
        registry, QPV files) are never overwritten. With ``split_assets``, the page loads its stylesheet and
        images from the folder ``x_files/`` beside it (no inline style, no data URI), so that it works under
        the strict policy :data:`clsm_geo.maps.embed.STRICT_CSP`. Returns the paths written."""
        page, md = report_paths(path)
        folder = f"{page.stem}_files"
        annex = page.with_suffix(".xlsx").name
        _io.check_outputs([page.parent / n for n in (page.name, md.name, annex)], inputs,
                          folders=[page.parent / folder] if split_assets else ())
        with _io.output_set(page.parent) as stage:
            # The annex first: it needs no image, which a child process may still be drawing.
            _annex.write(self.annex, stage / annex, self.sources, self.lang)
            images = self.images(page.stem)
            extra = to_html.assets(self.document) if split_assets else {}
            names = [page.name, md.name, *images, annex, *(f"{folder}/{n}" for n in extra)]
            _io.check_outputs([page.parent / n for n in names], inputs,
                              folders=[page.parent / folder] if extra else ())
            _write_text(stage / page.name, to_html.page(self.document, folder) if split_assets else self.html)
            _write_text(stage / md.name, to_markdown.document(self.document, page.stem))
            for name, data in [*images.items(), *((f"{folder}/{n}", d) for n, d in extra.items())]:
                (stage / name).parent.mkdir(exist_ok=True)
                with atomic_path(stage / name) as tmp:
                    tmp.write_bytes(data)
        return [page.parent / n for n in names]

    def csp(self, split_assets: bool = False) -> str:
        """The Content-Security-Policy the page needs: :data:`~clsm_geo.maps.embed.STRICT_CSP` for a page
        written with ``split_assets``, else the hash of its inline stylesheet and ``img-src data:``."""
        from ..maps.embed import STRICT_CSP, inline_csp

        return STRICT_CSP if split_assets else inline_csp(self.html)

    write = save

    def _repr_html_(self) -> str:
        doc = self.document
        e = _html.escape
        return (f"<div><p><strong>{e(doc.title)}</strong></p><p>{e(doc.headline)}</p><p><small>"
                f"{e(t('report.repr_files', doc.lang, sections=len(doc.sections)))}</small></p></div>")

    def __repr__(self) -> str:
        return f"<Report {self.document.title!r}>"


def report_paths(path: str | Path) -> tuple[Path, Path]:
    """``(page, markdown)`` for ``--out path``: ``x.html`` gives ``x.html`` + ``x.md``, ``x.md`` gives
    ``x.html`` + ``x.md`` (the two never share a name); ``x`` gives ``x`` + ``x.md``."""
    path = Path(path)
    if path.suffix.lower() == ".md":
        return path.with_suffix(".html"), path
    return path, path.with_suffix(".md") if path.suffix else path.with_name(path.name + ".md")


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def resolve_territory(res_or_year, *, region: str | None = None, department: str | None = None,
                      lang: str | None = None) -> Territory:
    """France, or the region / department named by code or name (an :class:`InputError` with the closest
    names otherwise). ``res_or_year``: a result or a COG year."""
    from ..errors import InputError
    from ..geography import geography

    if region is not None and department is not None:
        raise InputError(t("report.error.both", lang))
    if region is None and department is None:
        return NATION
    year = getattr(res_or_year, "cog_year", res_or_year)
    geo = geography(int(year), nearest=True)
    return resolve(geo, "region" if region is not None else "department",
                   region if region is not None else department, lang)


def report(res, *, region: str | None = None, department: str | None = None, territory: Territory | None = None,
           trend=None, first_year: int = FIRST_YEAR, lang: str | None = None, command: str | None = None,
           parallel: bool = False, drawing: _figures.Drawing | None = None) -> Report:
    """The report of a :class:`~clsm_geo.result.CoverageResult` for France, a ``region`` or a ``department``
    (code or name). ``trend``: a :class:`~clsm_geo.trend.Trend` giving the QPV figures of earlier years
    (without it, earlier years count councils only). ``first_year``: first year of the evolution.
    ``command``: the command line shown under "how to reproduce" (default: built from the result).
    ``parallel``: draw the map and the chart in a child process meanwhile (Linux, two cores or more; the
    command line does so): the same report, sooner. ``drawing``: a :class:`~clsm_geo.report.figures.Drawing`
    started before ``res`` was computed (the command line starts one): it draws them instead."""
    lang = get_lang(lang)
    if territory is None:
        territory = resolve_territory(res, region=region, department=department, lang=lang)
    first = int(first_year)
    years = evolution(res, territory, first, trend)
    if drawing is not None:
        images = drawing.images(res, territory, lang, years)
    else:
        images = _worker.start(_figures.draw, res, territory, lang, years) if parallel else None
    an = analyses(res)
    command = command or _s.command(res, territory, lang, first)
    built = {  # the sections that need no image first, while the child draws
        "key_figures": _s.key_figures(res, an, territory, lang),
        "territory_table": _s.territory_table(res, an, territory, lang),
        "uncovered": _s.uncovered_section(res, an, territory, lang),
        "plan": _s.plan_section(res, an, territory, lang),
        "gaps": _s.gaps_section(res, an, territory, lang),
        "method": _s.method_section(res, an, territory, lang, command),
    }
    scope = t("report.scope_national", lang) if territory.national else territory.name
    title = t("report.doc_title", lang, title=t("report.title", lang), scope=scope, year=res.year)
    date = year_end(res.year, lang)
    footer = t("report.footer", lang, source=t("report.footer_source", lang, registry=res.summary["registry"]),
               date=date, version=__version__)
    headline = _s.headline(res, an, territory, lang)

    def document() -> Document:
        drawn = images.result() if images is not None else {}
        sections = (
            built["key_figures"],
            _s.map_section(res, an, territory, lang, drawn.get("carte")),
            built["territory_table"],
            _s.evolution_section(res, an, territory, lang, years, drawn.get("evolution")),
            built["uncovered"], built["plan"], built["gaps"], built["method"],
        )
        return Document(lang=lang, title=title, subtitle=t("report.subtitle", lang, date=date), headline=headline,
                        sections=sections, footer=footer)

    tables = _annex.tables(res, an, territory, lang, years)
    # With a child drawing the images, the document waits for them until first used (Report.save writes the
    # annex meanwhile); otherwise it is built now.
    return Report(document if images is not None else document(), tables, _annex.sources(res, lang), territory,
                  lang)


def report_each(res, level: str, directory: str | Path, *, trend=None, first_year: int = FIRST_YEAR,
                lang: str | None = None, command: str | None = None, split_assets: bool = False,
                parallel: bool = False) -> list[Path]:
    """One report per region (``level="region"``) or department in ``directory`` (``<code>-<name>.html``
    with its Markdown, images and annex) and an ``index.html`` linking them. The analyses of the result
    are computed once for all territories. ``split_assets`` as in :meth:`Report.save` (the index then loads
    ``index_files/report.css``); ``parallel`` as in :func:`report`."""

    lang = get_lang(lang)
    directory = Path(directory)
    geo = res.vintage.geography
    written: list[Path] = []
    entries = []
    for terr in territories(geo, level):
        rep = report(res, territory=terr, trend=trend, first_year=first_year, lang=lang,
                     command=command.replace("{code}", terr.code) if command else None, parallel=parallel)
        written += rep.save(directory / f"{terr.slug}.html", split_assets=split_assets)
        figures = analyses(res).figures(terr)
        share = fmt_pct(float(figures["qpv_covered_share"]), 0, lang) if figures["qpv_total"] else "–"
        entries.append((f"{terr.slug}.html", f"{terr.name} ({terr.code})", share))
    if split_assets:
        css = directory / "index_files" / "report.css"
        css.parent.mkdir(parents=True, exist_ok=True)
        written.insert(0, _write_text(css, to_html.css()))
    written.insert(0, _write_text(directory / "index.html", _index(res, level, entries, lang, split_assets)))
    return written


def _index(res, level: str, entries, lang: str, split_assets: bool = False) -> str:
    e = _html.escape
    title = t("report.index.title", lang, title=t("report.title", lang), level=t(f"report.index.{level}", lang),
              year=res.year)
    items = "".join(f'<li><a href="{e(href)}">{e(name)}</a> ({e(share)})</li>' for href, name, share in entries)
    return (f'<!DOCTYPE html>\n<html lang="{e(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            + ('<link rel="stylesheet" href="index_files/report.css">' if split_assets
               else f"<style>{to_html.css()}</style>")
            + f"</head><body><main><h1>{e(title)}</h1>"
            f'<p class="subtitle">{e(t("report.index.intro", lang, date=year_end(res.year, lang)))}</p>'
            f"<ul>{items}</ul></main></body></html>\n")


