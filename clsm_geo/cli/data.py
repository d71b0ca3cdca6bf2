"""``clsm-geo data status|fetch|clean``: shipped layers and the cache of official files."""

from __future__ import annotations

import json
from pathlib import Path

from .. import settings as _settings
from ..i18n import fmt_decimal, t
from .common import add_network_options


def register(sub) -> None:
    data = sub.add_parser("data", help="shipped and cached data").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("status", help="what is shipped and cached: vintages, sizes, sources")
    p.set_defaults(handler=status)
    p = data.add_parser("fetch", help="fetch an official QPV file into the cache")
    p.add_argument("--qpv", type=int, choices=(2015, 2024), required=True, help="QPV geography")
    p.add_argument("--from", dest="source", metavar="PATH_OR_URL",
                   help="local file/folder or URL instead of the official default")
    p.add_argument("--accept-new-edition", action="store_true",
                   help="accept an official file whose sha256 differs from the edition pinned in the catalogue")
    add_network_options(p)
    p.set_defaults(handler=fetch)
    p = data.add_parser("clean", help="remove what interrupted downloads left in the cache")
    p.set_defaults(handler=clean)


def fetch(args) -> int:
    from ..qpv import fetch_qpv

    entry = fetch_qpv(args.qpv, args.source, accept_new_edition=args.accept_new_edition)
    print(f"QPV {args.qpv}: cached {entry.path} ({entry.size:,} bytes, sha256 {entry.sha256[:12]}…) "
          f"from {entry.source}")
    return 0


def status(args) -> int:
    from ..cache import cache_entries
    from ..qpv import shipped_layers

    cfg = _settings.get()
    shipped = _settings.shipped_data_dir()
    print(f"shipped data: {shipped}")
    manifest = shipped / "boundaries" / "manifest.json"
    if manifest.is_file():
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for name, meta in sorted(files.items()):
            sources = ", ".join(meta.get("sources", [])) or "?"
            print(f"  boundaries/{name}: {meta.get('rows', '?')} rows, {meta.get('size', 0):,} bytes; from {sources}")
    else:
        print("  boundaries: missing (rebuild with scripts/build_boundaries.py)")
    for layer in shipped_layers():
        print(f"  qpv/{Path(layer['path']).name}: QPV {layer['geography']}, {layer['rows']} rows, "
              f"{layer['size']:,} bytes; {layer['edition']}; {layer['precision']}")
    print(f"cache: {cfg.cache_dir}{' (offline)' if cfg.offline else ''}")
    entries = cache_entries()
    if not entries:
        print("  empty (fill it with 'clsm-geo data fetch --qpv 2024')")
    for e in entries:
        print(f"  {e.key}: {e.path.name}, {e.size:,} bytes, fetched {e.fetched_at} from {e.source}")
    _print_leftovers()
    return 0


def _mb(n: int) -> str:
    return fmt_decimal(n / 1e6, 1)


def _print_leftovers() -> None:
    from ..cache import cache_leftovers, path_size

    found = [(p, path_size(p)) for p in cache_leftovers()]
    if found:
        print(t("download.leftovers", n=len(found), size=_mb(sum(s for _, s in found))))
        for path, size in found:
            print(t("download.leftover", path=path, size=_mb(size)))


def clean(args) -> int:
    from ..cache import cache_clean

    removed = cache_clean()
    if not removed:
        print(t("download.nothing_to_clean", path=_settings.get().cache_dir))
    else:
        print(t("download.cleaned", n=len(removed), size=_mb(sum(s for _, s in removed))))
    return 0
