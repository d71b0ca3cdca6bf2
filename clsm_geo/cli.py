"""The ``clsm-geo`` command. It parses arguments, calls the public API and prints; no logic of its own.

Exit codes: 0 success, 2 bad input (with the validation report), 1 any other failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from . import settings as _settings
from .errors import ClsmGeoError, RegistryError


def _add_common(p: argparse.ArgumentParser, *, registry: bool = True, qpv: bool = True) -> None:
    p.add_argument("--year", type=int, default=2024, help="year of the figures (31 December), default 2024")
    if registry:
        p.add_argument("--registry", required=True, metavar="PATH",
                       help="councils' registry: CSV, XLSX, GeoJSON or GeoPackage")
    if qpv:
        p.add_argument("--qpv", metavar="PATH_OR_URL", help="QPV file, folder or URL (default: cache, then shipped)")
        p.add_argument("--method", choices=("auto", "commune", "geometry"), default="auto")
        p.add_argument("--partial-threshold", type=float, metavar="SHARE",
                       help="geometry method: partial above this share of the QPV area (default 0.01)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clsm-geo", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"clsm-geo {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help="folder for downloaded official files "
                        "(env CLSM_GEO_DATA_DIR; default: the user cache folder)")
    parser.add_argument("--offline", action="store_true", default=None, help="never use the network")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("coverage", help="QPV coverage by active councils: headline, tables, files")
    _add_common(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default: clsm-geo-coverage-YEAR)")
    p.add_argument("--format", default="csv", help="comma-separated: csv,xlsx,geojson,parquet (default csv)")

    p = sub.add_parser("validate", help="check a registry and list every problem")
    p.add_argument("registry", metavar="REGISTRY")
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--out", metavar="FILE.csv", help="also write the report as CSV")

    data = sub.add_parser("data", help="shipped and cached data").add_subparsers(dest="data_command", required=True)
    data.add_parser("status", help="what is shipped and cached: vintages, sizes, sources")
    p = data.add_parser("fetch", help="fetch an official QPV file into the cache")
    p.add_argument("--qpv", type=int, choices=(2015, 2024), required=True, help="QPV geography")
    p.add_argument("--from", dest="source", metavar="PATH_OR_URL", help="local file/folder or URL instead of "
                   "the official default")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _settings.configure(data_dir=args.data_dir, offline=args.offline,
                        progress=False if args.quiet or not sys.stderr.isatty() else None)
    try:
        handler = {"coverage": _coverage, "validate": _validate, "data": _data}[args.command]
        return handler(args) or 0
    except RegistryError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except ClsmGeoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: say so plainly; the traceback only with --debug
        if args.debug:
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n  rerun with --debug and report it", file=sys.stderr)
        return 1


def _say(args, text: str = "") -> None:
    if not args.quiet:
        print(text)


def _coverage(args) -> int:
    from . import coverage
    from .qpv import qpv as load_qpv
    from .qpv import qpv_geography_for_year

    if args.partial_threshold is not None:
        _settings.configure(partial_threshold=args.partial_threshold)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    layer = load_qpv(qpv_geography_for_year(args.year), args.qpv)
    _say(args, f"QPV source: {layer.source.describe()}")
    result = coverage(args.registry, args.year, qpv=layer, method=args.method)
    out = Path(args.out or f"clsm-geo-coverage-{args.year}")
    written = result.to_files(out, formats)
    print(result.headline)
    _say(args)
    _say(args, _region_table(result.regions))
    if result.summary["qpv_undetermined"]:
        _say(args, f"\nnote: {result.summary['qpv_undetermined']} QPV undetermined by the commune method "
                   "(councils covering part of Paris, Lyon or Marseille): use --method geometry")
    _say(args, f"\n{len(written)} file(s) written to {out}/")
    return 0


def _region_table(regions) -> str:
    cols = ["insee_reg", "lib_reg", "councils_active", "councils_covering_qpv", "qpv_total", "qpv_covered",
            "qpv_covered_share"]
    table = regions[cols].copy()
    table["qpv_covered_share"] = (table["qpv_covered_share"] * 100).round(0).astype(int).astype(str) + " %"
    table.columns = ["reg", "region", "active", "covering", "QPV", "covered", "share"]
    return table.to_string(index=False)


def _validate(args) -> int:
    from .validation import validate

    report = validate(args.registry, args.year)
    print(report)
    if args.out:
        from .io import write_csv

        write_csv(report.to_frame(), args.out)
    return 0 if report.ok else 2


def _data(args) -> int:
    if args.data_command == "status":
        return _data_status(args)
    from .qpv import fetch_qpv

    entry = fetch_qpv(args.qpv, args.source)
    print(f"QPV {args.qpv}: cached {entry.path} ({entry.size:,} bytes, sha256 {entry.sha256[:12]}…) "
          f"from {entry.source}")
    return 0


def _data_status(args) -> int:
    import json

    from .cache import cache_entries
    from .qpv import shipped_layers

    cfg = _settings.get()
    shipped = _settings.shipped_data_dir()
    print(f"shipped data: {shipped}")
    manifest = shipped / "boundaries" / "manifest.json"
    if manifest.is_file():
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for name, meta in sorted(files.items()):
            print(f"  boundaries/{name}: {meta.get('rows', '?')} rows, {meta.get('size', 0):,} bytes, "
                  f"source {meta.get('source', '?')}")
    else:
        print("  boundaries: missing (rebuild with scripts/build_boundaries.py)")
    for layer in shipped_layers():
        print(f"  qpv/{Path(layer['path']).name}: QPV {layer['geography']}, {layer['rows']} rows, "
              f"{layer['size']:,} bytes, {layer['edition']}; {layer['precision']}")
    print(f"cache: {cfg.cache_dir}{' (offline)' if cfg.offline else ''}")
    entries = cache_entries()
    if not entries:
        print("  empty (fill it with 'clsm-geo data fetch --qpv 2024')")
    for e in entries:
        print(f"  {e.key}: {e.path.name}, {e.size:,} bytes, fetched {e.fetched_at} from {e.source}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
