"""``clsm-geo map``: static maps (choropleth, councils, qpv) and the interactive HTML map."""

from __future__ import annotations

from pathlib import Path

from .common import add_coverage_inputs, check_out, run_coverage, say

SCHEMES = ("quantiles", "fisher_jenks", "equal_interval", "user_defined")


def register(sub) -> None:
    p = sub.add_parser("map", help="maps: choropleth, councils, qpv (PNG/SVG/PDF) and interactive (HTML)")
    kinds = p.add_subparsers(dest="map_kind", required=True, metavar="KIND")

    c = kinds.add_parser("choropleth", help="regions or departments coloured by an indicator, overseas insets")
    _common(c, "png")
    c.add_argument("--level", choices=("region", "department"),
                   help="territories to colour (default: region nationally, department with --region)")
    _classes(c)
    c.set_defaults(handler=run_choropleth)

    k = kinds.add_parser("councils", help="council perimeters by status over departments")
    _common(k, "png")
    k.set_defaults(handler=run_static, draw="councils_map")

    q = kinds.add_parser("qpv", help="QPV by coverage status (covered, partly covered, not covered)")
    _common(q, "png")
    q.set_defaults(handler=run_static, draw="qpv_map")

    i = kinds.add_parser("interactive", help="interactive HTML map (Leaflet): councils, QPV, choropleth, search")
    _common(i, "html")
    i.add_argument("--offline", dest="offline_page", action="store_true",
                   help="self-contained page: Leaflet inlined, no CDN, no web tiles (implied by the global "
                        "--offline)")
    _classes(i)
    i.set_defaults(handler=run_interactive)


def _common(p, suffix: str) -> None:
    add_coverage_inputs(p)
    p.add_argument("--region", metavar="CODE", help="zoom on one region (INSEE code, e.g. 11)")
    p.add_argument("--out", metavar="FILE",
                   help=f"output file (.png, .svg or .pdf for static maps; default clsm-geo-KIND-YEAR.{suffix})"
                   if suffix != "html" else "output HTML file (default clsm-geo-map-YEAR.html)")


def _classes(p) -> None:
    from ..maps.style import INDICATORS, PALETTES

    p.add_argument("--indicator", default="qpv_covered_share", choices=list(INDICATORS),
                   help="figure to map (default qpv_covered_share)")
    p.add_argument("--scheme", default="quantiles", choices=SCHEMES, help="classification (default quantiles)")
    p.add_argument("--classes", type=int, default=5, metavar="N", help="number of classes (default 5)")
    p.add_argument("--bins", metavar="A,B,C",
                   help="upper class bounds for --scheme user_defined (shares as 0.1,0.25 or 10,25)")
    p.add_argument("--palette", choices=PALETTES,
                   help="colour scheme (default YlGnBu for static maps, Purples for the interactive map)")


def _bins(args):
    """--bins checked before any work (numbers, finite, strictly increasing, in the indicator's range)."""
    from ..errors import InputError
    from ..maps.style import SHARE_INDICATORS, check_bins

    if args.classes < 1:
        raise InputError(f"--classes must be 1 or more, got {args.classes}", hint="for example --classes 5")
    if args.bins is None:
        return None
    parts = [b.strip() for b in args.bins.split(",") if b.strip()]
    if not parts:
        raise InputError(f"--bins must be numbers separated by commas, got {args.bins!r}",
                         hint="for example --bins 0.1,0.25,0.5")
    return check_bins(parts, args.indicator in SHARE_INDICATORS)


def _palette(args) -> dict:
    return {"palette": args.palette} if args.palette else {}


def _out(args, kind: str, suffix: str) -> Path:
    if args.out:
        return Path(args.out)
    region = f"-{args.region}" if args.region else ""
    return Path(f"clsm-geo-{kind}-{args.year}{region}.{suffix}")


def _done(args, path: Path) -> int:
    size = path.stat().st_size
    print(f"map written to {path} ({size / 1e6:.1f} MB)" if size >= 1e5 else f"map written to {path}")
    return 0


def run_choropleth(args) -> int:
    from ..maps.static import choropleth

    out = _out(args, "choropleth", "png")
    _check_static(out)
    check_out(args, files=[out])
    bins = _bins(args)
    result = run_coverage(args)
    choropleth(result, level=args.level, indicator=args.indicator, scheme=args.scheme, k=args.classes,
               bins=bins, region=args.region, path=out, **_palette(args))
    return _done(args, out)


def run_static(args) -> int:
    from ..maps import static

    kind = "councils" if args.draw == "councils_map" else "qpv"
    out = _out(args, kind, "png")
    _check_static(out)
    check_out(args, files=[out])
    result = run_coverage(args)
    getattr(static, args.draw)(result, region=args.region, path=out)
    return _done(args, out)


def run_interactive(args) -> int:
    from .. import settings
    from ..maps.interactive import interactive_map, write_html

    out = _out(args, "map", "html")
    check_out(args, files=[out])
    bins = _bins(args)
    offline = bool(args.offline_page or settings.get().offline)
    result = run_coverage(args)
    m = interactive_map(result, region=args.region, offline=offline, indicator=args.indicator,
                        scheme=args.scheme, k=args.classes, bins=bins, **_palette(args))
    write_html(m, out)
    say(args, "self-contained page: no CDN, no tiles" if offline else
        "the page loads Leaflet from a CDN and OpenStreetMap tiles (use --offline for a self-contained page)")
    return _done(args, out)


def _check_static(out: Path) -> None:
    from ..errors import InputError
    from ..maps.static import FORMATS

    if out.suffix.lstrip(".").lower() not in FORMATS:
        raise InputError(f"cannot write a map as {out.name!r}", hint="use a .png, .svg or .pdf file name")
