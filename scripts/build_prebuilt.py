#!/usr/bin/env python
"""Build the shipped prebuilt tables ``data/prebuilt/`` from the shipped boundaries and QPV layer.

For every shipped COG year: the unit adjacency (``adjacency_cog<year>.npz``, see
:func:`clsm_geo.gaps.unit_adjacency`), the unit arrays (``units_cog<year>.npz``, see
:func:`clsm_geo.units.unit_arrays`) and the QPV × unit relation of the shipped QPV 2024 layer
(``relation_qpv2024_cog<year>.npz``, see :func:`clsm_geo.apportion.qpv_unit_relation`), the share of each
of its QPV in the outline of each former commune it meets (``former_qpv2024_cog<year>.npz``, see
:func:`clsm_geo.apportion.former_share_table`), the simplified outlines of the departments and regions of
the national interactive map (``territories_cog<year>.npz``, see :func:`clsm_geo.maps.layers.national_territories`;
for the GEOS version that built them) and the outlines
of the communes holding a former commune (``parents_cog<year>.npz``, see
:meth:`clsm_geo.geography.Geography.outlines`), listed in
``data/prebuilt/manifest.json`` with their sha256 and the digest of their inputs. The output is
deterministic: a rerun on the same inputs gives byte-identical files. Rerun it whenever
``data/boundaries/`` or ``data/qpv/`` change (until then the package silently recomputes the tables
whose inputs changed, and caches them per user):

    .venv/bin/python scripts/build_prebuilt.py            # rebuild data/prebuilt/
    .venv/bin/python scripts/build_prebuilt.py --check    # exit 1 if a rebuild would change a byte
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build(folder: Path) -> dict:
    """Write every table into ``folder``; return the manifest (also written)."""
    import numpy as np

    from clsm_geo import _prebuilt
    from clsm_geo.apportion import former_share_table, qpv_unit_relation
    from clsm_geo.gaps import compute_unit_adjacency
    from clsm_geo.geography import SHIPPED_YEARS, Geography
    from clsm_geo.settings import shipped_data_dir
    from clsm_geo.qpv import load_layer_file as load_qpv_file
    from clsm_geo.maps import layers
    from clsm_geo.units import compute_unit_arrays

    folder.mkdir(parents=True, exist_ok=True)
    frame = load_qpv_file(shipped_data_dir() / "qpv" / "qpv2024.parquet")
    geoms, deps = frame.geometry.to_numpy(), frame["insee_dep"].to_numpy()
    files = {}
    for year in SHIPPED_YEARS:
        relation = {}

        def rel(y=year):
            if "rel" not in relation:
                relation["rel"] = qpv_unit_relation(frame, y)
            return relation["rel"]

        jobs = [
            (f"adjacency_cog{year}.npz", "adjacency", _prebuilt.adjacency_digest(year),
             lambda y=year: _prebuilt.encode_adjacency(compute_unit_adjacency(y))),
            (f"units_cog{year}.npz", "units", _prebuilt.units_digest(year),
             lambda y=year: _prebuilt.encode_unit_arrays(compute_unit_arrays(y), y)),
            (f"relation_qpv2024_cog{year}.npz", "relation", _prebuilt.relation_digest(frame, year),
             lambda: _prebuilt.encode_relation(rel())),
            (f"former_qpv2024_cog{year}.npz", "former", _prebuilt.former_digest(frame, year),
             lambda y=year: _prebuilt.encode_former(former_share_table(rel(), geoms, deps, y))),
            (f"territories_cog{year}.npz", "territories",
             _prebuilt.territories_digest(year, layers.TOLERANCE_NATIONAL, 3),
             lambda y=year: _prebuilt.encode_territories(layers.simplified_territories(Geography(y, y)), y)),
            (f"parents_cog{year}.npz", "parents", _prebuilt.parents_digest(year),
             lambda y=year: _prebuilt.encode_outlines(Geography(y, y)._read_parent_wkb(), y)),
        ]
        for name, kind, digest, make in jobs:
            print(f"building {name} ...", flush=True)
            path = folder / name
            _prebuilt.write_npz(path, {**make(), "digest": np.array(digest)})
            data = path.read_bytes()
            files[name] = {"kind": kind, "year": year, "qpv": "qpv2024.parquet" if kind in ("relation", "former") else None,
                           "inputs": digest, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            if kind == "territories":  # used only with this GEOS version (part of the digest)
                import shapely

                files[name]["geos"] = shapely.geos_version_string
    manifest = {"format": _prebuilt.FORMAT, "built_by": "scripts/build_prebuilt.py", "files": files}
    (folder / _prebuilt.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", type=Path, default=REPO / "data" / "prebuilt")
    ap.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare bytes")
    args = ap.parse_args(argv)
    if not args.check:
        build(args.output)
        print(f"wrote {args.output}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        differ = [p.name for p in sorted(Path(tmp).iterdir())
                  if not (args.output / p.name).is_file() or (args.output / p.name).read_bytes() != p.read_bytes()]
    print("identical" if not differ else "differ: " + ", ".join(differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
