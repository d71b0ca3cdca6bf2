"""``clsm-geo report``: the yearly self-contained HTML report (and Markdown), national or regional."""

from __future__ import annotations

from .common import add_coverage_inputs, check_out, inputs, run_coverage, say


def register(sub) -> None:
    p = sub.add_parser("report", help="the yearly 'état du réseau' report (HTML + Markdown)")
    add_coverage_inputs(p)
    p.add_argument("--region", metavar="CODE", help="regional variant, e.g. 11 (Île-de-France) or 32")
    p.add_argument("--from", dest="from_year", type=int, help="first year of the trend chart (default: none)")
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL", help="QPV 2015 geography for the trend years before 2024")
    p.add_argument("--online-map", action="store_true",
                   help="embed the map with CDN scripts and web tiles (default: fully offline page)")
    p.add_argument("--out", metavar="FILE.html", default="report.html", help="output page (default report.html)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..report import report, report_paths
    from ..trend import trend

    check_out(args, files=report_paths(args.out))
    res = run_coverage(args)
    series = None
    if args.from_year is not None:
        sources = {2015: args.qpv_2015} if args.qpv_2015 else {}
        series = trend(res.registry, args.from_year, args.year, qpv=sources, method=args.method)
    written = report(res, region=args.region, trend=series, offline=not args.online_map).write(args.out, inputs=inputs(args))
    print(res.headline)
    say(args, "written: " + ", ".join(map(str, written)))
    return 0
