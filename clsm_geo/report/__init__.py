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
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..i18n import fmt_pct, get_lang, t, year_end
from .. import io as _io
from ..io import atomic_path
from . import annex as _annex
from . import sections as _s
from . import to_html, to_markdown
from .analyses import analyses, evolution
from .model import Document
from .territory import NATION, Territory, resolve, territories
from .to_markdown import escape_markdown

__all__ = ["FIRST_YEAR", "Report", "Territory", "escape_markdown", "report", "report_each", "resolve_territory"]

#: First year of the evolution (the QPV were created on 1 January 2015).
FIRST_YEAR = 2015


@dataclass(frozen=True, eq=False)
class Report:
    """A built report. ``document``: the sections as data; ``annex``: sheet name -> table."""

    document: Document
    annex: dict
    sources: dict
    territory: Territory

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
        images = self.images(page.stem)
        folder = f"{page.stem}_files"
        extra = to_html.assets(self.document) if split_assets else {}
        names = [page.name, md.name, *images, page.with_suffix(".xlsx").name, *(f"{folder}/{n}" for n in extra)]
        _io.check_outputs([page.parent / n for n in names], inputs, folders=[page.parent / folder] if extra else ())
        with _io.output_set(page.parent) as stage:
            _write_text(stage / page.name, to_html.page(self.document, folder) if split_assets else self.html)
            _write_text(stage / md.name, to_markdown.document(self.document, page.stem))
            for name, data in [*images.items(), *((f"{folder}/{n}", d) for n, d in extra.items())]:
                (stage / name).parent.mkdir(exist_ok=True)
                with atomic_path(stage / name) as tmp:
                    tmp.write_bytes(data)
            _annex.write(self.annex, stage / page.with_suffix(".xlsx").name, self.sources, self.document.lang)
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
           trend=None, first_year: int = FIRST_YEAR, lang: str | None = None, command: str | None = None) -> Report:
    """The report of a :class:`~clsm_geo.result.CoverageResult` for France, a ``region`` or a ``department``
    (code or name). ``trend``: a :class:`~clsm_geo.trend.Trend` giving the QPV figures of earlier years
    (without it, earlier years count councils only). ``first_year``: first year of the evolution.
    ``command``: the command line shown under "how to reproduce" (default: built from the result)."""
    lang = get_lang(lang)
    if territory is None:
        territory = resolve_territory(res, region=region, department=department, lang=lang)
    an = analyses(res)
    first = int(first_year)
    command = command or _s.command(res, territory, lang, first)
    years = evolution(res, territory, first, trend)
    sections = (
        _s.key_figures(res, an, territory, lang),
        _s.map_section(res, an, territory, lang),
        _s.territory_table(res, an, territory, lang),
        _s.evolution_section(res, an, territory, lang, years),
        _s.uncovered_section(res, an, territory, lang),
        _s.plan_section(res, an, territory, lang),
        _s.gaps_section(res, an, territory, lang),
        _s.method_section(res, an, territory, lang, command),
    )
    scope = t("report.scope_national", lang) if territory.national else territory.name
    title = t("report.doc_title", lang, title=t("report.title", lang), scope=scope, year=res.year)
    date = year_end(res.year, lang)
    footer = t("report.footer", lang, source=t("report.footer_source", lang, registry=res.summary["registry"]),
               date=date, version=__version__)
    doc = Document(lang=lang, title=title, subtitle=t("report.subtitle", lang, date=date),
                   headline=_s.headline(res, an, territory, lang), sections=sections, footer=footer)
    tables = _annex.tables(res, an, territory, lang, years)
    return Report(doc, tables, _annex.sources(res, lang), territory)


def report_each(res, level: str, directory: str | Path, *, trend=None, first_year: int = FIRST_YEAR,
                lang: str | None = None, command: str | None = None, split_assets: bool = False) -> list[Path]:
    """One report per region (``level="region"``) or department in ``directory`` (``<code>-<name>.html``
    with its Markdown, images and annex) and an ``index.html`` linking them. The analyses of the result
    are computed once for all territories. ``split_assets`` as in :meth:`Report.save` (the index then loads
    ``index_files/report.css``)."""

    lang = get_lang(lang)
    directory = Path(directory)
    geo = res.vintage.geography
    written: list[Path] = []
    entries = []
    for terr in territories(geo, level):
        rep = report(res, territory=terr, trend=trend, first_year=first_year, lang=lang,
                     command=command.replace("{code}", terr.code) if command else None)
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


