"""``clsm-geo map``: static maps (choropleth, councils, qpv) and the interactive HTML map."""

from __future__ import annotations

import html
from pathlib import Path

from ..errors import InputError
from ..i18n import t
from .common import add_coverage_inputs, add_territory, check_coverage_inputs, check_out, run_coverage, say

SCHEMES = ("quantiles", "fisher_jenks", "equal_interval", "user_defined")


def register(sub) -> None:
    p = sub.add_parser("map", help=t("help.maps.map"))
    kinds = p.add_subparsers(dest="map_kind", required=True, metavar="KIND")

    c = kinds.add_parser("choropleth", help=t("help.maps.choropleth"))
    _common(c, "png")
    c.add_argument("--level", choices=("region", "department"),
                   help=t("help.maps.c_level"))
    _classes(c)
    c.set_defaults(handler=run_choropleth, suffix="png")

    k = kinds.add_parser("councils", help=t("help.maps.councils"))
    _common(k, "png")
    k.set_defaults(handler=run_static, draw="councils_map", suffix="png")

    q = kinds.add_parser("qpv", help=t("help.maps.qpv"))
    _common(q, "png")
    q.set_defaults(handler=run_static, draw="qpv_map", suffix="png")

    i = kinds.add_parser("interactive", help=t("help.maps.interactive"))
    _common(i, "html")
    way = i.add_mutually_exclusive_group()
    way.add_argument("--split-assets", action="store_true",
                     help=t("help.maps.way_split_assets"))
    way.add_argument("--snippet", action="store_true",
                     help=t("help.maps.way_snippet"))
    i.add_argument("--height", metavar="CSS",
                   help=t("help.maps.i_height"))
    i.add_argument("--planner", action="store_true",
                   help=t("help.maps.i_planner"))
    _classes(i)
    i.set_defaults(handler=run_interactive, suffix="html")


def _common(p, suffix: str) -> None:
    add_coverage_inputs(p)
    add_territory(p)
    p.set_defaults(check=check)
    p.add_argument("--out", metavar="FILE",
                   help=t("help.maps.out_static", suffix=suffix) if suffix != "html" else t("help.maps.out_html"))


def _classes(p) -> None:
    from ..maps._names import INDICATORS, PALETTES

    p.add_argument("--indicator", default="qpv_covered_share", choices=list(INDICATORS),
                   help=t("help.maps.p_indicator"))
    p.add_argument("--scheme", default="quantiles", choices=SCHEMES, help=t("help.maps.p_scheme"))
    p.add_argument("--classes", type=int, default=5, metavar="N", help=t("help.maps.p_classes"))
    p.add_argument("--bins", metavar="A,B,C",
                   help=t("help.maps.p_bins"))
    p.add_argument("--palette", choices=PALETTES,
                   help=t("help.maps.p_palette"))


def check(args) -> None:
    """Inputs, territory, classes and the output file name, before any computation. A department zooms the
    map on its region (the maps are drawn region by region) and says so."""
    check_coverage_inputs(args)
    if getattr(args, "classes", 1) < 1:
        raise InputError(t("cli.option.classes", value=args.classes))
    args.bin_bounds = _bins(args) if hasattr(args, "bins") else None
    if args.suffix != "html":
        _check_static(_out(args, "x", "png"))
    elif getattr(args, "height", None) is not None:
        from ..maps.embed import CSS_LENGTH

        if not CSS_LENGTH.fullmatch(args.height):
            raise InputError(t("maps.error.height", None, height=repr(args.height)), hint=t("maps.error.height_hint"))
    if args.territory is not None and args.territory.kind == "department":
        from ..territories import region

        reg = region(args.territory.region, args.year)
        args.notes = [t("cli.option.department_not_drawn", code=args.territory.code, region=reg.code,
                        region_name=reg.name)]
        args.region = reg.code


def _bins(args):
    """--bins checked before any work (numbers, finite, strictly increasing, in the indicator's range)."""
    from ..maps.style import SHARE_INDICATORS, check_bins

    if not args.bins:
        return None
    parts = [b.strip() for b in args.bins.split(",") if b.strip()]
    if not parts:
        raise InputError(t("cli.option.bins", value=repr(args.bins)))
    return check_bins(parts, args.indicator in SHARE_INDICATORS)


def _palette(args) -> dict:
    return {"palette": args.palette} if args.palette else {}


def _out(args, kind: str, suffix: str) -> Path:
    if args.out:
        return Path(args.out)
    region = f"-{args.region}" if args.region else ""
    return Path(f"clsm-geo-{kind}-{args.year}{region}.{suffix}")


def _done(args, path: Path) -> int:
    from ..i18n import fmt_decimal

    size = path.stat().st_size
    print(t("maps.cli.written_size", None, path=path, size=fmt_decimal(size / 1e6, 1)) if size >= 1e5
          else t("maps.cli.written", None, path=path))
    return 0


def run_choropleth(args) -> int:
    from ..maps.static import choropleth

    out = _out(args, "choropleth", "png")
    check_out(args, files=[out])
    result = run_coverage(args)
    choropleth(result, level=args.level, indicator=args.indicator, scheme=args.scheme, k=args.classes,
               bins=args.bin_bounds, region=args.region, path=out, **_palette(args))
    return _done(args, out)


def run_static(args) -> int:
    from ..maps import static

    kind = "councils" if args.draw == "councils_map" else "qpv"
    out = _out(args, kind, "png")
    check_out(args, files=[out])
    result = run_coverage(args)
    getattr(static, args.draw)(result, region=args.region, path=out)
    return _done(args, out)


def run_interactive(args) -> int:
    from .. import settings
    from ..io import atomic_path
    from ..maps import embed
    from ..maps.interactive import interactive_map, render_page, write_html
    from ..maps.static import readable

    out = _out(args, "map", "html")
    check_out(args, files=[out])
    offline = bool(settings.get().offline or args.split_assets or args.snippet)
    result = run_coverage(args)
    m = interactive_map(result, region=args.region, offline=offline, indicator=args.indicator,
                        scheme=args.scheme, k=args.classes, bins=args.bin_bounds, planner=args.planner,
                        **_palette(args))
    if args.split_assets:
        files = embed.split_assets(render_page(m), out)
        say(args, t("maps.cli.split", None, folder=files[1].parent, csp=embed.STRICT_CSP))
    elif args.snippet:
        text = embed.snippet(render_page(m), title=html.unescape(m.get_root().title), height=args.height)
        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
            readable(tmp)
        say(args, t("maps.cli.snippet", None))
    else:
        write_html(m, out)
        say(args, t("maps.cli.offline" if offline else "maps.cli.online", None))
        if offline:
            say(args, t("maps.cli.csp", None, csp=embed.inline_csp(out.read_text(encoding="utf-8"))))
    return _done(args, out)


def _check_static(out: Path) -> None:
    from ..maps.static import FORMATS

    if out.suffix.lstrip(".").lower() not in FORMATS:
        raise InputError(t("cli.option.map_suffix", name=repr(out.name)), hint=t("cli.option.map_suffix_hint"))
