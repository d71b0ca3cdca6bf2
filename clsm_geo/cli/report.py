"""``clsm-geo report``: the yearly self-contained HTML report (and Markdown), national or regional."""

from __future__ import annotations

from ..errors import InputError
from ..i18n import t
from .common import add_coverage_inputs, add_territory, check_coverage_inputs, check_file, check_year, run_coverage, say


def register(sub) -> None:
    p = sub.add_parser("report", help="the yearly 'état du réseau' report (HTML + Markdown)")
    add_coverage_inputs(p)
    add_territory(p)
    p.add_argument("--from", dest="from_year", type=int, help="first year of the trend chart (default: none)")
    p.add_argument("--online-map", action="store_true",
                   help="embed the map with CDN scripts and web tiles (default: fully offline page)")
    p.add_argument("--out", metavar="FILE.html", default="report.html", help="output page (default report.html)")
    p.set_defaults(handler=run, check=check)


def check(args) -> None:
    """Inputs, territory, trend years and files before any computation (a department: its region's report)."""
    check_coverage_inputs(args)
    check_file(args.qpv_2015, "--qpv-2015")
    if args.from_year is not None:
        check_year(args.from_year, "--from")
        if args.from_year > args.year:
            raise InputError(t("cli.year.range", start=args.from_year, end=args.year))
    if args.territory is not None and args.territory.kind == "department":
        from ..territories import region

        reg = region(args.territory.region, args.year)
        args.notes = [t("cli.option.department_not_drawn", code=args.territory.code, region=reg.code,
                        region_name=reg.name)]
        args.region = reg.code


def run(args) -> int:
    from ..report import report
    from ..trend import trend

    res = run_coverage(args)
    series = None
    if args.from_year is not None:
        sources = {2015: args.qpv_2015} if args.qpv_2015 else {}
        series = trend(res.registry, args.from_year, args.year, qpv=sources, method=args.method)
    written = report(res, region=args.region, trend=series, offline=not args.online_map).write(args.out)
    print(res.headline)
    say(args, "written: " + ", ".join(map(str, written)))
    return 0
