#!/usr/bin/env python
"""Compare the arrondissement outlines of Paris, Lyon and Marseille shipped at two git revisions.

For every QPV of the three cities and every arrondissement it reaches, the share of its area in that
arrondissement as the coverage engine apportions it (``clsm_geo.apportion``), under the outlines of
``--old-rev`` (default: the commit before the precise outlines) and under those of the working tree; the
class a council made of that arrondissement alone gives it: ``covered`` (inside, share >= 99 %),
``partial`` (straddling, > 1 %) or ``uncovered``. Prints the Hausdorff distance (metres, Lambert-93) between
the two outlines of each arrondissement and every (QPV, arrondissement) whose class changes.

    python scripts/compare_plm_outlines.py [--old-rev af0f1a5] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clsm_geo import settings  # noqa: E402
from clsm_geo.apportion import _apportion, _project, qpv_unit_relation  # noqa: E402
from clsm_geo.qpv import qpv  # noqa: E402
from clsm_geo.units import units  # noqa: E402

YEAR = 2024


def old_arrondissements(rev: str) -> gpd.GeoDataFrame:
    raw = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:data/boundaries/arrondissements_{YEAR}.parquet"],
                         check=True, capture_output=True).stdout
    return gpd.read_parquet(io.BytesIO(raw))


def classify(share: np.ndarray) -> np.ndarray:
    cfg = settings.get()
    return np.where(share >= cfg.covered_threshold, "covered",
                    np.where(share > cfg.partial_threshold, "partial", "uncovered"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old-rev", default="af0f1a5")
    parser.add_argument("--csv", type=Path, default=None, help="write every (QPV, arrondissement) row here")
    args = parser.parse_args(argv)
    frame = qpv(2024).frame
    rel = qpv_unit_relation(frame, YEAR)
    new_units = units(YEAR)
    old = old_arrondissements(args.old_rev).set_index("insee_arm").geometry
    old_units = new_units.copy()
    is_arm = old_units["unit"].isin(old.index)
    old_units.loc[is_arm, "geometry"] = old.reindex(old_units.loc[is_arm, "unit"]).to_numpy()

    plm = set(settings.PLM_CITIES)
    qs = [i for i, cs in enumerate(frame["communes"]) if plm & set(cs)]
    coo = rel.pair_units.tocoo()
    cand = sorted({(int(rel.pair_qpv[k]), int(u)) for k, u in zip(coo.row, coo.col) if int(rel.pair_qpv[k]) in set(qs)})
    cand_q = np.array([c[0] for c in cand], dtype=np.int64)
    cand_u = np.array([c[1] for c in cand], dtype=np.int64)
    w_new = _apportion(frame, new_units, cand_q, cand_u)
    w_old = _apportion(frame, old_units, cand_q, cand_u)
    codes = new_units["unit"].to_numpy()
    table = pd.DataFrame({"code_qp": frame["code_qp"].to_numpy()[cand_q], "unit": codes[cand_u],
                          "share_old": np.round(w_old, 4), "share_new": np.round(w_new, 4)})
    table = table[table["unit"].isin(old.index) & ((table["share_old"] > 0) | (table["share_new"] > 0))]
    table["class_old"] = classify(table["share_old"].to_numpy())
    table["class_new"] = classify(table["share_new"].to_numpy())
    table = table.sort_values(["code_qp", "unit"]).reset_index(drop=True)

    new_arm = new_units[is_arm].set_index("unit").geometry
    arms = sorted(old.index)
    a = _project(np.array([old[k] for k in arms], dtype=object), settings.METROPOLITAN_CRS)
    b = _project(np.array([new_arm[k] for k in arms], dtype=object), settings.METROPOLITAN_CRS)
    haus = pd.Series(shapely.hausdorff_distance(a, b), index=arms)
    print("Hausdorff distance old -> new outlines (m), per city: min / median / max")
    for city, prefix in settings.PLM_CITIES.items():
        h = haus[[k.startswith(prefix) for k in haus.index]]
        print(f"  {city}: {h.min():.0f} / {h.median():.0f} / {h.max():.0f} ({len(h)} arrondissements)")
    n_qpv = table["code_qp"].nunique()
    changed = table[table["class_old"] != table["class_new"]]
    print(f"{n_qpv} QPV of Paris, Lyon and Marseille; {len(table)} (QPV, arrondissement) pairs; "
          f"{len(changed)} pairs in {changed['code_qp'].nunique()} QPV change class:")
    print(changed.to_string(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
