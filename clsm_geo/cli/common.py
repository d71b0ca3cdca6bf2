"""Arguments, checks and printing shared by several commands.

Every command registers a ``check`` (``set_defaults(check=...)``) that reads and verifies all its options and
inputs before any computation: years, territories, formats, thresholds, files. ``main`` calls it first.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from .. import settings as _settings
from ..errors import InputError
from ..i18n import t
from ..provenance import source_line



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
                   help=t("help.common.timeout"))
    p.add_argument("--max-size", type=float, metavar="MB",
                   help=t("help.common.max_size"))


def add_year(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, default=2024,
                   help=t("help.common.year"))


def add_registry(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--registry", required=required, metavar="PATH",
                   help=t("help.common.registry"))


def add_coverage_inputs(p: argparse.ArgumentParser) -> None:
    """--year, --registry, --qpv, --method, --partial-threshold: what every coverage-based command takes."""
    add_year(p)
    add_registry(p)
    p.add_argument("--qpv", metavar="PATH_OR_URL", help=t("help.common.qpv"))
    p.add_argument("--qpv-2015", metavar="PATH_OR_URL",
                   help=t("help.common.qpv_2015"))
    p.add_argument("--population", metavar="PATH", action="append",
                   help=t("help.common.population"))
    p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto", help=t("help.common.method"))
    p.add_argument("--partial-threshold", type=float, metavar="SHARE",
                   help=t("help.common.partial_threshold"))
    add_network_options(p)
    p.set_defaults(check=check_coverage_inputs)


def add_territory(p: argparse.ArgumentParser) -> None:
    """--region and --department: a code or a name, any case, accents optional."""
    p.add_argument("--region", metavar="CODE_OR_NAME",
                   help=t("help.common.region"))
    p.add_argument("--department", metavar="CODE_OR_NAME",
                   help=t("help.common.department"))


# ------------------------------------------------------------------------------------------------ checks


def check_year(year: int, option: str = "--year") -> int:
    """``year`` when the shipped data can measure it (2015 to the last shipped COG year), else InputError."""
    from ..vintages import check_year as check

    return check(year)


def check_file(path, option: str) -> None:
    """An existing file or folder (URLs pass: they are checked when fetched)."""
    if path is None or re.match(r"^[a-z][a-z0-9+.-]*://", str(path), re.IGNORECASE):
        return
    if not Path(path).exists():
        raise InputError(t("cli.option.file_missing", option=option, path=path),
                         hint=t("cli.option.file_missing_hint", cwd=os.getcwd()))


def check_coverage_inputs(args) -> None:
    """Year, registry and QPV files, threshold; territories when the command has them."""
    check_year(args.year)
    check_file(args.registry, "--registry")
    check_file(getattr(args, "qpv", None), "--qpv")
    check_file(getattr(args, "qpv_2015", None), "--qpv-2015")
    for path in getattr(args, "population", None) or ():
        check_file(path, "--population")
    threshold = getattr(args, "partial_threshold", None)
    if threshold is not None and not 0 <= threshold < 1:
        raise InputError(t("cli.option.threshold", value=threshold))
    check_territory(args)
    args.registry_data = read_registry_once(args)


def read_registry_once(args):
    """The registry read and checked before any computation (its errors end the command with exit 2)."""
    from ..registry import read_registry

    return read_registry(args.registry)


def check_territory(args) -> None:
    """Resolve --region / --department to codes (``args.region`` becomes the region code, ``args.territory``
    the resolved :class:`~clsm_geo.territories.Territory`)."""
    from .. import territories

    region, department = getattr(args, "region", None), getattr(args, "department", None)
    args.territory = None
    if region is not None and department is not None:
        raise InputError(t("cli.option.region_and_department"))
    if region is not None:
        args.territory = territories.region(region, getattr(args, "year", 2024))
        args.region = args.territory.code
    elif department is not None:
        args.territory = territories.department(department, getattr(args, "year", 2024))
        args.department = args.territory.code


def say_territory(args) -> None:
    """One line naming the territory chosen, with the other reading of its code, then any note the checks left
    in ``args.notes`` (unless --quiet). Called once every check has passed."""
    terr = getattr(args, "territory", None)
    if terr is not None and terr.kind == "region" and terr.other_reading:
        other = terr.other_reading.split(" ", 1)[1]
        say(args, t("cli.territory.resolved_region_code", code=terr.code, name=terr.name, other=other))
    elif terr is not None and terr.kind == "region":
        say(args, t("cli.territory.resolved_region", code=terr.code, name=terr.name))
    elif terr is not None:
        say(args, t("cli.territory.resolved_department", code=terr.code, name=terr.name))
    for note in getattr(args, "notes", ()):
        say(args, note)


# ------------------------------------------------------------------------------------------------ output


def say(args, text: str = "") -> None:
    """Print unless --quiet."""
    if not args.quiet:
        print(text)


def load_layer(args, year: int):
    """The QPV layer in force in ``year`` (each territory from its geography: --qpv / --qpv-2015, the cache or
    the shipped data); prints its source and the geographies not available."""
    from .. import i18n
    from ..in_force import describe_missing, layer_for_year
    from ..qpv import qpv_geography_for_year

    sources = {qpv_geography_for_year(year): args.qpv}
    if getattr(args, "qpv_2015", None):
        sources[2015] = args.qpv_2015
    layer = layer_for_year(year, sources)
    say(args, source_line(layer.source))
    if args.verbose:
        print(t("cli.source.full", text=layer.source.describe()))
    for m in layer.missing:
        say(args, i18n.t("sources.missing_line", territory=i18n.t(f"sources.status.{m.territory}"), year=year,
                         text=describe_missing(m)))
    return layer


def load_vintage(args):
    """The settings of the options, then the vintage of ``args.year`` with the QPV layer in force (printing its
    source): what the engine needs besides the registry (:class:`clsm_geo.vintages.Vintage`)."""
    from ..vintages import vintage

    if args.partial_threshold is not None:
        _settings.configure(partial_threshold=args.partial_threshold)
    say_territory(args)
    return vintage(args.year, load_layer(args, args.year))


def run_coverage(args, vintage=None, *, warn: bool = True):
    """Run the coverage engine on the vintage (default: :func:`load_vintage`) and return the result
    (:class:`clsm_geo.api.CoverageResult`). ``warn``: print :func:`warn_scope` now (else the caller does)."""
    from ..api import coverage

    vintage = vintage if vintage is not None else load_vintage(args)
    registry = getattr(args, "registry_data", None) or args.registry
    result = coverage(registry, args.year, vintage=vintage, method=args.method,
                      population=getattr(args, "population", None))
    if warn:
        warn_scope(result.summary, args.year)
    return result


def warn_scope(summary: dict, year: int) -> None:
    """A warning on stderr when the QPV file covers only some regions (even with --quiet: it changes what the
    figures mean)."""
    import sys

    from ..territories import names

    if summary.get("qpv_scope") != "partial":
        return
    print(t("cli.warning", message=t("cli.qpv_scope.partial", present=names(summary["qpv_regions"], year),
                                     missing=names(summary["qpv_regions_missing"], year),
                                     n=summary["qpv_total"])), file=sys.stderr)
