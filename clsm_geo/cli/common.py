"""Arguments and printing shared by several commands."""

from __future__ import annotations

import argparse

from .. import settings as _settings


def add_year(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, default=2024, help="year of the figures (31 December), default 2024")


def add_coverage_inputs(p: argparse.ArgumentParser) -> None:
    """--year, --registry, --qpv, --method, --partial-threshold: what every coverage-based command takes."""
    add_year(p)
    p.add_argument("--registry", required=True, metavar="PATH",
                   help="councils' registry: CSV, XLSX, GeoJSON or GeoPackage")
    p.add_argument("--qpv", metavar="PATH_OR_URL", help="QPV file, folder or URL (default: cache, then shipped)")
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL",
                   help="QPV 2015 geography (in force overseas in 2024, everywhere 2015-2023; default: cache)")
    p.add_argument("--population", metavar="PATH", action="append",
                   help="INSEE QPV population file (pop_QPV24.csv, 2015 populations); repeatable "
                        "(default: cache, 'clsm-geo data fetch --population 2024 --from PATH')")
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto")
    p.add_argument("--partial-threshold", type=float, metavar="SHARE",
                   help="geometry method: partial above this share of the QPV area (default 0.01)")


def say(args, text: str = "") -> None:
    """Print unless --quiet."""
    if not args.quiet:
        print(text)


def run_coverage(args):
    """Load the QPV layer (printing its source), run the coverage engine, return the result."""
    from ..coverage import coverage
    from ..qpv import qpv_geography_for_year

    if args.partial_threshold is not None:
        if not 0 <= args.partial_threshold < 1:
            from ..errors import InputError

            raise InputError(f"--partial-threshold must be in [0, 1), got {args.partial_threshold}")
        _settings.configure(partial_threshold=args.partial_threshold)
    from .. import i18n
    from ..in_force import describe_missing, layer_for_year

    sources = {qpv_geography_for_year(args.year): args.qpv}
    if getattr(args, "qpv_2015", None):
        sources[2015] = args.qpv_2015
    layer = layer_for_year(args.year, sources)
    say(args, f"QPV source: {layer.source.describe()}")
    for m in layer.missing:
        say(args, i18n.t("sources.missing_line", territory=i18n.t(f"sources.status.{m.territory}"), year=args.year,
                         text=describe_missing(m)))
    return coverage(args.registry, args.year, qpv=layer, method=args.method,
                    population=getattr(args, "population", None))
