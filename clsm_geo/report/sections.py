"""The sections of the report, in the order of the centre's yearly text: key figures, map, table by
territory, evolution, uncovered QPV, extension plan, intercommunal gaps, method and sources.

Each function takes the result, its :class:`~clsm_geo.report.analyses.Analyses`, the territory and the
language, and returns a :class:`~clsm_geo.report.model.Section` of formatted text.
"""

from __future__ import annotations

import shlex

import pandas as pd

from .. import __version__, provenance
from ..i18n import fmt_int, fmt_pct, t, tn, year_end
from .analyses import PLAN_STEPS, Analyses
from .model import Cards, Code, Figure, Items, Para, Section, Table
from .territory import Territory

FIGURE_COLUMNS = ("councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
                  "qpv_covered", "qpv_partial", "qpv_covered_share")
DASH = "–"


def _int(v, lang) -> str:
    return DASH if v is None or pd.isna(v) else fmt_int(v, lang)


def _share(row, lang) -> str:
    total = row.get("qpv_total")
    if _missing(total):
        return t("sources.not_available", lang)
    if not total:
        return DASH
    return fmt_pct(float(row["qpv_covered_share"]), 0, lang)


def _missing(value) -> bool:
    """A figure that is not available (None, NaN, <NA>: the QPV geography in force is missing), never 0."""
    return value is None or bool(pd.isna(value))


def _count(value, lang) -> str:
    """A count, or « non disponible »."""
    return t("sources.not_available", lang) if _missing(value) else fmt_int(value, lang)


# ------------------------------------------------------------------------------------------ headline


def headline(res, an: Analyses, territory: Territory, lang: str) -> str:
    """The national sentence comes from the result (its own headline function); a territory's is built
    from its figures with the same rules (plurals, French typography)."""
    if territory.national:
        return res.headline_in(lang)
    f = an.figures(territory)
    values = {
        "territory": territory.name, "date": year_end(res.year, lang),
        "active": tn("report.headline.active", int(f["councils_active"]), lang),
        "new": tn("report.headline.new", int(f["councils_new"]), lang, year=res.year),
        "project": tn("report.headline.project", int(f["councils_in_project"]), lang),
    }
    if _missing(f["qpv_total"]):
        return t("report.headline.not_available", lang, **values)  # the QPV geography in force is missing
    if not f["qpv_total"]:
        return t("report.headline.no_qpv", lang, **values)
    return t("report.headline.sentence", lang, **values,
             covering=tn("report.headline.covering", int(f["councils_covering_qpv"]), lang),
             share=fmt_pct(float(f["qpv_covered_share"]), 0, lang),
             qpv_of=tn(f"report.headline.qpv_of_{territory.level}", int(f["qpv_total"]), lang))


# ------------------------------------------------------------------------------------------ sections


def key_figures(res, an: Analyses, territory: Territory, lang: str) -> Section:
    f = an.figures(territory)
    items = [
        (fmt_int(f["councils_active"], lang), t("report.card.active", lang)),
        (fmt_int(f["councils_new"], lang), t("report.card.new", lang, year=res.year)),
        (fmt_int(f["councils_in_project"], lang), t("report.card.in_project", lang)),
        (fmt_int(f["councils_covering_qpv"], lang), t("report.card.covering", lang)),
        (_count(f["qpv_covered"], lang), t("report.card.qpv_covered", lang, total=_count(f["qpv_total"], lang))),
        (_share(f, lang), t("report.card.share", lang)),
    ]
    population = an.covered_population(territory)
    if population is not None:
        items.append((fmt_int(population, lang), t("report.card.population", lang)))
    return Section("chiffres-cles", t("report.section.key_figures", lang), (Cards(tuple(items)),))


def map_section(res, an: Analyses, territory: Territory, lang: str, image: bytes | None = None) -> Section:
    """``image``: the map already drawn (:func:`clsm_geo.report.figures.draw`), else it is drawn here."""
    from . import figures

    date = year_end(res.year, lang)
    f = an.figures(territory)
    if _missing(f["qpv_total"]) or not f["qpv_total"]:
        alt = t("report.map.alt_no_qpv", lang, territory=territory.name, date=date)
        caption = t("report.map.caption_region" if territory.level == "region" else "report.map.caption_department",
                    lang)
    elif territory.level == "department":
        alt = t("report.map.alt_department", lang, region=_region_name(res, territory.region),
                territory=territory.name, date=date, covered=fmt_int(f["qpv_covered"], lang),
                total=fmt_int(f["qpv_total"], lang))
        caption = t("report.map.caption_department", lang)
    else:
        deps = res.departments
        if not territory.national:
            deps = deps[deps["insee_reg"] == territory.code]
        shares = deps.loc[deps["qpv_total"] > 0, "qpv_covered_share"].astype(float)
        low, high = (shares.min(), shares.max()) if len(shares) else (0.0, 0.0)
        key = "alt_national" if territory.national else "alt_region"
        alt = t(f"report.map.{key}", lang, territory=territory.name, date=date, low=fmt_pct(low, 0, lang),
                high=fmt_pct(high, 0, lang), share=_share(f, lang))
        caption = t("report.map.caption_national" if territory.national else "report.map.caption_region", lang)
    figure = Figure("carte", "png", image if image is not None else figures.map_png(res, territory, lang), alt,
                    caption)
    return Section("carte", t("report.section.map", lang), (figure,))


def _region_name(res, code: str) -> str:
    regions = res.regions
    return str(regions.loc[regions["insee_reg"] == code, "lib_reg"].iloc[0])


def _figure_row(name: str, row, lang: str) -> tuple[str, ...]:
    return (name, *(_int(row[c], lang) for c in FIGURE_COLUMNS[:-1]), _share(row, lang))


def _figure_columns(first: str, lang: str) -> tuple[str, ...]:
    return (t(f"report.col.{first}", lang), *(t(f"report.col.{c}", lang) for c in FIGURE_COLUMNS[:-1]),
            t("report.col.share", lang))


def territory_table(res, an: Analyses, territory: Territory, lang: str) -> Section:
    """Regions of France, departments of a region, or the QPV of a department."""
    if territory.level == "department":
        return _qpv_table(res, an, territory, lang)
    if territory.national:
        table, name, first = res.regions, "lib_reg", "region"
        total = _figure_row(t("report.total.national", lang), an.figures(territory), lang)
        title = t("report.section.by_region", lang)
        caption = t("report.caption.by_region", lang, date=year_end(res.year, lang))
    else:
        table = res.departments[res.departments["insee_reg"] == territory.code]
        name, first = "lib_dep", "department"
        total = _figure_row(t("report.total.region", lang), an.figures(territory), lang)
        title = t("report.section.by_department", lang)
        caption = t("report.caption.by_department", lang, date=year_end(res.year, lang))
    rows = tuple(_figure_row(str(r[name]), r, lang) for r in table.to_dict("records"))
    numeric = (False,) + (True,) * (len(FIGURE_COLUMNS))
    body = Table(caption, _figure_columns(first, lang), rows, numeric, total=total)
    return Section("tableau", title, (body,))


def _qpv_table(res, an: Analyses, territory: Territory, lang: str) -> Section:

    q = an.in_territory(an.qpv_in_force, territory).sort_values("code_qp")
    lib = res.vintage.geography.commune_names
    names = dict(zip(res.councils_table["id"], res.councils_table["name"]))
    rows = tuple((str(r["code_qp"]), str(r["lib_qp"]), ", ".join(lib.get(c, c) for c in r["communes"]),
                  t(f"status.qpv.{r['status']}", lang), ", ".join(names.get(c, c) for c in r["councils"]))
                 for r in q.to_dict("records"))
    columns = tuple(t(f"report.col.{c}", lang) for c in ("code", "qpv_name", "communes", "status", "councils"))
    title = t("report.section.qpv_of_department", lang)
    caption = t("report.caption.qpv", lang, date=year_end(res.year, lang))
    return Section("tableau", title, (Table(caption, columns, rows, (False,) * 5),))


def evolution_section(res, an: Analyses, territory: Territory, lang: str, table: pd.DataFrame,
                      image: bytes | None = None) -> Section:
    """``table``: from :func:`clsm_geo.report.analyses.evolution`; ``image``: its chart already drawn."""
    from . import figures

    measured = table[table["measured"]]
    blocks: list = [Para(t("report.evolution.intro", lang))]
    missing = table[~table["measured"]]
    for geography, group in missing.groupby("qpv_geography"):
        years = group["year"].tolist()
        span = str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"
        blocks.append(Para(t("report.evolution.missing", lang, geography=geography, years=span), "note"))
    alt = t("report.evolution.alt", lang, first=table["year"].iloc[0], last=table["year"].iloc[-1],
            low=fmt_int(table["councils_active"].min(), lang), high=fmt_int(table["councils_active"].max(), lang),
            measured=", ".join(str(y) for y in measured["year"]))
    chart = image if image is not None else figures.trend_svg(table, lang)
    blocks.append(Figure("evolution", "svg", chart, alt, t("report.evolution.caption", lang)))
    columns = tuple(t(f"report.col.{c}", lang) for c in ("year", "geography", "councils_active", "councils_new",
                                                         "councils_in_project", "councils_covering_qpv",
                                                         "qpv_total", "qpv_covered", "share"))
    rows = []
    for r in table.to_dict("records"):
        key = "geography" if r["measured"] else "geography_missing"
        rows.append((str(r["year"]), t(f"report.evolution.{key}", lang, geography=r["qpv_geography"]),
                     *(_int(r[c], lang) for c in ("councils_active", "councils_new", "councils_in_project",
                                                  "councils_covering_qpv", "qpv_total", "qpv_covered")),
                     _share(r, lang) if r["measured"] else DASH))
    blocks.append(Table(t("report.evolution.table", lang), columns, tuple(rows), (False, False) + (True,) * 7))
    return Section("evolution", t("report.section.evolution", lang, first=table["year"].iloc[0]), tuple(blocks))


def uncovered_section(res, an: Analyses, territory: Territory, lang: str) -> Section:
    q = an.in_territory(an.qpv_in_force, territory)
    title = t("report.section.uncovered", lang)
    uncovered = q[q["status"] == "uncovered"]
    partial = int((q["status"] == "partial").sum())
    if uncovered.empty and not partial:
        return Section("qpv-non-couverts", title, (Para(t("report.uncovered.none", lang)),))
    sentence = t("report.uncovered.sentence", lang,
                 count=tn("report.uncovered.count", len(uncovered), lang, total=fmt_int(len(q), lang)),
                 where=tn("report.uncovered.where", uncovered["insee_dep"].nunique(), lang),
                 partial=tn("report.uncovered.partial", partial, lang))
    blocks: list = [Para(sentence)]
    if territory.level != "department":
        by_dep = q.groupby("insee_dep")["status"].agg(
            qpv_total="size", qpv_uncovered=lambda s: int((s == "uncovered").sum()),
            qpv_partial=lambda s: int((s == "partial").sum()),
            qpv_covered=lambda s: int(s.isin(["covered", "partial"]).sum())).reset_index()
        by_dep = by_dep[by_dep["qpv_uncovered"] > 0].sort_values(["qpv_uncovered", "insee_dep"],
                                                                ascending=[False, True]).head(10)
        names = dict(zip(res.departments["insee_dep"], res.departments["lib_dep"]))
        rows = tuple((f"{names.get(r['insee_dep'], r['insee_dep'])} ({r['insee_dep']})",
                      fmt_int(r["qpv_total"], lang), fmt_int(r["qpv_uncovered"], lang), fmt_int(r["qpv_partial"], lang),
                      fmt_pct(r["qpv_covered"] / r["qpv_total"], 0, lang)) for r in by_dep.to_dict("records"))
        columns = tuple(t(f"report.col.{c}", lang) for c in ("department", "qpv_total", "qpv_uncovered",
                                                             "qpv_partial", "share"))
        caption = t("report.uncovered.top" if territory.national else "report.uncovered.top_region", lang)
        blocks.append(Table(caption, columns, rows, (False, True, True, True, True)))
    blocks.append(Para(t("report.uncovered.annex", lang, sheet=t("report.annex.uncovered", lang)),
                       "note"))
    return Section("qpv-non-couverts", title, tuple(blocks))


def _plan_rows(frame: pd.DataFrame, lang: str) -> tuple[tuple[str, ...], ...]:
    rows = []
    for r in frame.to_dict("records"):
        name = (t("report.plan.to_create", lang, name=r["lib_epci"]) if r["action"] == "creation"
                else str(r["council_name"]))
        rows.append((fmt_int(r["step"], lang), t(f"report.plan.{r['action']}", lang), name,
                     str(r["lib_epci"]).replace(";", ", "), ", ".join(r["departments"]),
                     fmt_int(len(r["units_added"]), lang), fmt_int(r["population_added"], lang),
                     fmt_int(r["n_qpv_gained"], lang), fmt_pct(r["qpv_covered_share"], 1, lang)))
    return tuple(rows)


PLAN_COLUMNS = ("step", "action", "council", "epci", "departments", "units_added", "population_added",
                "qpv_gained", "share_after")


def plan_section(res, an: Analyses, territory: Territory, lang: str) -> Section:
    plan = an.plan
    steps = plan[plan["step"] > 0]
    columns = tuple(t(f"report.col.{c}", lang) for c in PLAN_COLUMNS)
    numeric = (True, False, False, False, False, True, True, True, True)
    if territory.national:
        title = t("report.section.plan", lang, n=PLAN_STEPS)
        if steps.empty:
            return Section("plan", title, (Para(t("report.plan.none", lang)),))
        last = steps.iloc[-1]
        result = t("report.plan.result", lang, n=fmt_int(len(steps), lang), covered=fmt_int(last["qpv_covered"], lang),
                   total=fmt_int(last["qpv_total"], lang), share=fmt_pct(last["qpv_covered_share"], 0, lang),
                   now=fmt_pct(plan.iloc[0]["qpv_covered_share"], 0, lang))
        return Section("plan", title, (Para(t("report.plan.intro", lang)),
                                       Table(t("report.caption.plan", lang), columns, _plan_rows(steps, lang),
                                             numeric, row_header=False),
                                       Para(result), Para(t("report.plan.annex", lang), "note")))
    title = t("report.section.plan_territory", lang)
    blocks: list = [Para(t("report.plan.intro", lang))]
    here = an.in_territory(steps, territory, "departments")
    if here.empty:
        blocks.append(Para(t("report.plan.in_territory_none", lang, n=PLAN_STEPS, territory=territory.name)))
    else:
        caption = t("report.plan.in_territory", lang, n=PLAN_STEPS, territory=territory.name)
        blocks.append(Table(caption, columns, _plan_rows(here, lang), numeric, row_header=False))
    pri = an.priorities
    pri = an.in_territory(pri[pri["level"] == "epci"], territory, "departments").head(10) if len(pri) else pri
    if pri.empty:
        blocks.append(Para(t("report.plan.priorities_none", lang, territory=territory.name)))
    else:
        columns = tuple(t(f"report.col.{c}", lang) for c in ("epci", "departments", "qpv_total", "qpv_uncovered",
                                                             "population"))
        rows = tuple((str(r["name"]), ", ".join(r["departments"]), fmt_int(r["qpv_total"], lang),
                      fmt_int(r["qpv_uncovered"], lang), fmt_int(r["population"], lang))
                     for r in pri.to_dict("records"))
        blocks.append(Table(t("report.plan.priorities", lang), columns, rows, (False, False, True, True, True)))
    blocks.append(Para(t("report.plan.annex", lang), "note"))
    return Section("plan", title, tuple(blocks))


def gaps_section(res, an: Analyses, territory: Territory, lang: str) -> Section:
    from ..gaps import KINDS

    title = t("report.section.gaps", lang)
    gaps = an.in_territory(an.gaps, territory, "departments")
    if gaps.empty:
        return Section("lacunes", title, (Para(t("report.gaps.intro", lang)), Para(t("report.gaps.none", lang))))
    rows = []
    for kind in KINDS:
        part = gaps[gaps["kind"] == kind]
        if len(part):
            qpv = {c for codes in part["qpv_codes"] for c in codes}
            rows.append((t(f"report.gaps.kind.{kind}", lang), fmt_int(len(part), lang), fmt_int(len(qpv), lang)))
    every = {c for codes in gaps["qpv_codes"] for c in codes}
    total = (t("report.gaps.total", lang), fmt_int(len(gaps), lang), fmt_int(len(every), lang))
    columns = tuple(t(f"report.col.{c}", lang) for c in ("kind", "findings", "qpv_concerned"))
    return Section("lacunes", title, (Para(t("report.gaps.intro", lang)),
                                      Table(t("report.caption.gaps", lang), columns, tuple(rows), (False, True, True),
                                            total=total)))


def method_section(res, an: Analyses, territory: Territory, lang: str, command: str) -> Section:
    s = res.summary
    thresholds = s["thresholds"]
    pct = {"covered": fmt_pct(thresholds["covered"], 0, lang), "partial": fmt_pct(thresholds["partial"], 0, lang)}
    source = res.qpv_layer.source
    items = [t("report.method.councils", lang, year=res.year),
             t(f"report.method.{res.method}", lang, **pct), t("report.method.counted", lang),
             t("report.method.registry", lang, registry=s["registry"]),
             t("report.method.qpv", lang, geography=s["qpv_geography"], edition=provenance.edition(source, lang)),
             t("report.method.precision", lang, precision=provenance.precision(source, lang)),
             t("report.method.cog", lang, cog=s["cog_year"]),
             tn("report.method.not_in_force", int(s["qpv_not_in_force"]), lang, year=res.year)]
    if s["qpv_undetermined"]:
        items.append(tn("report.method.undetermined", int(s["qpv_undetermined"]), lang))
    if not an.population_available:
        items.append(t("report.method.population_missing", lang))
    return Section("methode", t("report.section.method", lang),
                   (Items(tuple(items)), Para(t("report.method.reproduce", lang)), Code(command),
                    Para(t("report.method.version", lang, version=__version__), "note")), box=True)


def command(res, territory: Territory, lang: str, first: int | None = None, trend_sources: dict | None = None) -> str:
    """The ``clsm-geo`` command that makes this report again."""
    args = ["clsm-geo"] + (["--lang", lang] if lang != "fr" else []) + ["report", "--registry",
                                                                        str(res.registry.source), "--year", str(res.year)]
    source = res.summary["qpv_source"]
    if source["kind"] == "user":
        args += ["--qpv", source["location"]]
    if res.method != "auto":
        args += ["--method", res.method]
    if res.settings.partial_threshold != 0.01:
        args += ["--partial-threshold", str(res.settings.partial_threshold)]
    if territory.level != "nation":
        args += [f"--{territory.level}", territory.code]
    if first is not None and first != 2015:
        args += ["--from", str(first)]
    for geography, path in sorted((trend_sources or {}).items()):
        args += [f"--qpv-{geography}", str(path)]
    return shlex.join(args)
