"""Arguments and printing shared by several commands."""

from __future__ import annotations

import argparse

from .. import settings as _settings


#: Options naming files a command reads: no output may overwrite them.
INPUT_OPTIONS = ("registry", "qpv", "qpv_2015", "qpv_2024", "population", "source")


def inputs(args) -> list:
    """The files and folders given to the command as inputs (registry, QPV files, ...)."""
    return [getattr(args, name, None) for name in INPUT_OPTIONS]


def check_out(args, *, files=(), folders=()) -> None:
    """Refuse, before any work, outputs that would overwrite an input or are the wrong kind of path."""
    from ..io import check_outputs

    check_outputs(files, inputs(args), folders=folders)


def add_network_options(p: argparse.ArgumentParser) -> None:
    """--timeout and --max-size for commands that may download a file."""
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="overall deadline of each download, retries included (default 600; env CLSM_GEO_TIMEOUT)")
    p.add_argument("--max-size", type=float, metavar="MB",
                   help="largest file a download may bring, in MB (default 200; env CLSM_GEO_MAX_DOWNLOAD_MB)")


def add_year(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, default=2024, help="year of the figures (31 December), default 2024")


def add_coverage_inputs(p: argparse.ArgumentParser) -> None:
    """--year, --registry, --qpv, --method, --partial-threshold: what every coverage-based command takes."""
    add_year(p)
    p.add_argument("--registry", required=True, metavar="PATH",
                   help="councils' registry: CSV, XLSX, GeoJSON or GeoPackage")
    p.add_argument("--qpv", metavar="PATH_OR_URL", help="QPV file, folder or URL (default: cache, then shipped)")
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto")
    p.add_argument("--partial-threshold", type=float, metavar="SHARE",
                   help="geometry method: partial above this share of the QPV area (default 0.01)")
    add_network_options(p)


def say(args, text: str = "") -> None:
    """Print unless --quiet."""
    if not args.quiet:
        print(text)


def run_coverage(args):
    """Load the QPV layer (printing its source), run the coverage engine, return the result."""
    from ..coverage import coverage
    from ..qpv import qpv as load_qpv
    from ..qpv import qpv_geography_for_year

    if args.partial_threshold is not None:
        if not 0 <= args.partial_threshold < 1:
            from ..errors import InputError

            raise InputError(f"--partial-threshold must be in [0, 1), got {args.partial_threshold}")
        _settings.configure(partial_threshold=args.partial_threshold)
    layer = load_qpv(qpv_geography_for_year(args.year), args.qpv)
    say(args, f"QPV source: {layer.source.describe()}")
    return coverage(args.registry, args.year, qpv=layer, method=args.method)
