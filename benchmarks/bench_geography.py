"""Time to load the reference geography of a COG year in a fresh process (target: well under 1 s warm).

    python benchmarks/bench_geography.py [--repeat 5]

Baseline in the same run: reading the same communes with geopandas from the 30 MB GeoPackage of the
shared reference data (``CLSM_GEO_SHARED_DATA``, default ../shared/data), when it is there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

SHARED = Path(os.environ.get("CLSM_GEO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
GPKG = SHARED / "admin/cog2024_communes_datafrance_0.15.0/communes_cog2024_datafrance.gpkg"

CLSM = """
import time; t = time.perf_counter()
import clsm_geo
g = clsm_geo.geography({year}); g.load_all()
print(time.perf_counter() - t)
"""
BASELINE = """
import time; t = time.perf_counter()
import geopandas as gpd
gpd.read_file({path!r}, layer="communes", engine="pyogrio")
print(time.perf_counter() - t)
"""


def timed(code: str, repeat: int) -> float:
    runs = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
                  .stdout.split()[-1]) for _ in range(repeat)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {f"clsm_geo.geography({y}) all layers, incl. import": timed(CLSM.format(year=y), args.repeat)
               for y in (2024, 2025)}
    baseline = timed(BASELINE.format(path=str(GPKG)), args.repeat) if GPKG.is_file() else None
    for name, seconds in results.items():
        ratio = f"  ratio to baseline {seconds / baseline:.2f}" if baseline else ""
        status = "PASS" if seconds < 1.0 else "FAIL"
        print(f"{name:<50} {seconds:6.3f} s  [{status} < 1 s]{ratio}")
    if baseline:
        print(f"{'baseline: geopandas read of the shared GeoPackage':<50} {baseline:6.3f} s")
    else:
        print(f"baseline skipped: {GPKG} not found")


if __name__ == "__main__":
    main()
