"""``clsm-geo data status|fetch|clean``: shipped layers and the cache of official files."""

from __future__ import annotations

import json
from pathlib import Path

from .. import i18n
from .. import settings as _settings
from ..i18n import fmt_decimal, t, tn
from .common import add_network_options


def register(sub) -> None:
    parser = sub.add_parser("data", help=t("help.data.data"))
    data = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data.add_parser("status", help=t("help.data.status"))
    p.set_defaults(handler=status)
    p = data.add_parser("fetch", help=t("help.data.fetch"))
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--qpv", type=int, choices=(2015, 2024), help=t("help.data.what_qpv"))
    what.add_argument("--population", type=int, choices=(2015, 2024),
                      help=t("help.data.what_population"))
    p.add_argument("--from", dest="source", metavar="PATH_OR_URL",
                   help=t("help.data.p_from"))
    p.add_argument("--accept-new-edition", action="store_true",
                   help=t("help.data.p_accept_new_edition"))
    add_network_options(p)
    p.set_defaults(handler=fetch)
    p = data.add_parser("clean", help=t("help.data.clean"))
    p.set_defaults(handler=clean)


def fetch(args) -> int:
    from ..qpv import fetch_qpv

    if args.population:
        from ..population import fetch_population

        entry = fetch_population(args.population, args.source) if args.source else _population_hint(args.population)
        print(i18n.t("console.data.fetched_population", None, geography=args.population, path=entry.path,
                     size=i18n.fmt_int(entry.size), sha=entry.sha256[:12], source=entry.source))
        return 0

    entry = fetch_qpv(args.qpv, args.source, accept_new_edition=args.accept_new_edition)
    print(i18n.t("console.data.fetched", None, geography=args.qpv, path=entry.path, size=i18n.fmt_int(entry.size),
                 sha=entry.sha256[:12], source=entry.source))
    return 0


def _population_hint(geography: int):
    from ..errors import DataSourceError
    from ..qpv import catalogue

    page = catalogue().get("population", {}).get(str(geography), {}).get("page", "")
    raise DataSourceError(t("data.population.no_url", geography=geography),
                          hint=t("data.population.no_url_hint", page=page, geography=geography))


def status(args) -> int:
    from ..cache import cache_entries
    from ..provenance import words
    from ..qpv import shipped_layers

    cfg = _settings.get()
    shipped = _settings.shipped_data_dir()
    print(i18n.t("console.data.shipped", None, path=shipped))
    manifest = shipped / "boundaries" / "manifest.json"
    if manifest.is_file():
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for name, meta in sorted(files.items()):
            sources = ", ".join(meta.get("sources", [])) or "?"
            rows = meta.get("rows")
            print(i18n.t("console.data.boundaries", None, name=name, sources=sources,
                         rows="?" if rows is None else i18n.fmt_int(rows), size=i18n.fmt_int(meta.get("size", 0))))
    else:
        print(i18n.t("console.data.boundaries_missing"))
    for layer in shipped_layers():
        print(i18n.t("console.data.qpv_layer", None, name=Path(layer["path"]).name, geography=layer["geography"],
                     rows=i18n.fmt_int(layer["rows"]), size=i18n.fmt_int(layer["size"]),
                     edition=words(((f"provenance.shipped.edition_{layer['geography']}", ()),)) or layer["edition"],
                     precision=words(((f"provenance.shipped.precision_{layer['geography']}", ()),))
                     or layer["precision"]))
    print(i18n.t("console.data.cache_offline" if cfg.offline else "console.data.cache", None, path=cfg.cache_dir))
    entries = cache_entries()
    if not entries:
        print(i18n.t("console.data.cache_empty"))
    for e in entries:
        print(i18n.t("console.data.cache_entry", None, key=e.key, name=e.path.name, size=i18n.fmt_int(e.size),
                     when=e.fetched_at, source=e.source))
    from ..in_force import status_lines

    print("\n".join(status_lines()))
    _print_leftovers()
    return 0


def _mb(n: int) -> str:
    return fmt_decimal(n / 1e6, 1)


def _print_leftovers() -> None:
    from ..cache import cache_leftovers, path_size

    found = [(p, path_size(p)) for p in cache_leftovers()]
    if found:
        print(tn("download.leftovers", len(found), size=_mb(sum(s for _, s in found))))
        for path, size in found:
            print(t("download.leftover", path=path, size=_mb(size)))


def clean(args) -> int:
    from ..cache import cache_clean

    removed = cache_clean()
    if not removed:
        print(t("download.nothing_to_clean", path=_settings.get().cache_dir))
    else:
        print(tn("download.cleaned", len(removed), size=_mb(sum(s for _, s in removed))))
    return 0
