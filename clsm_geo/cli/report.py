"""``clsm-geo report``: the yearly report (HTML, Markdown with its images, xlsx annex), national, for one
region or department (code or name), or one per region/department with an index."""

from __future__ import annotations

from ..errors import InputError
from ..i18n import t
from .common import (add_coverage_inputs, check_coverage_inputs, check_out, check_year, inputs, load_vintage,
                     run_coverage, say)


def register(sub) -> None:
    p = sub.add_parser("report", help=t("help.report.report"))
    add_coverage_inputs(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--region", metavar="CODE_OR_NAME",
                       help=t("help.report.where_region"))
    where.add_argument("--department", metavar="CODE_OR_NAME", help=t("help.report.where_department"))
    where.add_argument("--each", choices=("region", "department"),
                       help=t("help.report.where_each"))
    p.add_argument("--from", dest="from_year", type=int, default=2015,
                   help=t("help.report.p_from"))
    p.add_argument("--out", metavar="FILE.html|DIR",
                   help=t("help.report.p_out"))
    p.add_argument("--split-assets", action="store_true", help=t("report.cli.split_help"))
    p.set_defaults(handler=run, check=check)


def check(args) -> None:
    """Inputs, territory and the first year of the evolution, before any computation."""
    check_coverage_inputs(args)
    check_year(args.from_year, "--from")
    if args.from_year > args.year:
        raise InputError(t("cli.year.range", start=args.from_year, end=args.year))


def run(args) -> int:
    from ..errors import InputError
    from ..i18n import fmt_int, get_lang, t
    from ..report import resolve_territory

    lang = get_lang()
    # Bad territory names and years are reported before anything is computed.
    territory = resolve_territory(args.year, region=args.region, department=args.department, lang=lang)
    if not 2015 <= args.from_year <= args.year:
        raise InputError(t("report.error.from_year", lang, first=args.from_year, year=args.year))
    if not args.each:  # outputs that would overwrite an input are refused before any work
        from ..report import report_paths

        check_out(args, files=report_paths(args.out or "report.html"))
    vintage = load_vintage(args)
    drawing = None
    if not args.each:  # the images are drawn meanwhile by a child that starts now (report.figures.Drawing)
        from ..report.figures import Drawing

        drawing = Drawing(vintage)
    try:
        written, rep = _make(args, vintage, territory, lang, drawing)
    except BaseException:
        if drawing is not None:
            drawing.cancel()  # no child is left waiting
        raise
    files = ", ".join(map(str, written[:6]))
    if len(written) > 6:
        files = t("report.cli.more", lang, files=files, n=fmt_int(len(written) - 6, lang))
    say(args, t("report.cli.written", lang, files=files))
    if args.split_assets:
        from ..maps.embed import STRICT_CSP

        say(args, t("report.cli.csp_split", lang, csp=STRICT_CSP))
    elif not args.each:
        say(args, t("report.cli.csp", lang, csp=rep.csp()))
    return 0


def _make(args, vintage, territory, lang, drawing):
    """Coverage, trend and the report(s) written: (paths, the report or None with --each)."""
    from ..report import report, report_each
    from ..report.sections import command as reproduce

    res = run_coverage(args, vintage)
    series, sources = None, {}
    if args.from_year < args.year:  # earlier years measured where their QPV layer is given, cached or shipped
        from ..trend import trend

        sources = {2015: args.qpv_2015} if args.qpv_2015 else {}
        series = trend(res.registry, args.from_year, args.year - 1, qpv=sources, method=args.method)
    if args.each:
        out = args.out or f"reports-{args.year}"
        line = reproduce(res, territory, lang, args.from_year, sources).replace(
            " report ", f" report --{args.each} {{code}} ", 1)
        return report_each(res, args.each, out, trend=series, first_year=args.from_year, lang=lang,
                           command=line, split_assets=args.split_assets, parallel=True), None
    rep = report(res, territory=territory, trend=series, first_year=args.from_year, lang=lang,
                 command=reproduce(res, territory, lang, args.from_year, sources), parallel=True, drawing=drawing)
    written = rep.save(args.out or "report.html", inputs=inputs(args), split_assets=args.split_assets)
    print(rep.document.headline)
    return written, rep
