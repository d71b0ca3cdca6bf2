"""Registry reading and validation time against the number of rows: it must grow linearly.

    python benchmarks/bench_registry.py [--sizes 1000,10000,100000]

Prints seconds per size and the ratio of time per row against the smallest size (≈1 means linear).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def write_registry(path: Path, n: int, communes: np.ndarray, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    picks = rng.choice(communes, size=(n, 3))
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,name,status,created,communes\n")
        for i in range(n):
            f.write(f"C{i},Council {i},actif,{2005 + i % 20},{';'.join(picks[i])}\n")
    return path


def main() -> None:
    import clsm_geo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    communes = clsm_geo.geography(2024).communes["insee_com"].to_numpy()
    clsm_geo.validate(write_registry(Path(tempfile.mkdtemp()) / "warm.csv", 100, communes), 2024)
    base = {}
    print(f"{'rows':>8} {'read s':>8} {'validate s':>11} {'read/row ratio':>15} {'validate/row ratio':>19}")
    for n in sizes:
        path = write_registry(Path(tempfile.mkdtemp()) / f"reg{n}.csv", n, communes)
        t0 = time.perf_counter()
        clsm_geo.read_registry(path)
        t1 = time.perf_counter()
        clsm_geo.validate(path, 2024)
        t2 = time.perf_counter()
        per_row = ((t1 - t0) / n, (t2 - t1) / n)
        base.setdefault("row", per_row)
        print(f"{n:>8} {t1 - t0:>8.2f} {t2 - t1:>11.2f} {per_row[0] / base['row'][0]:>15.2f} "
              f"{per_row[1] / base['row'][1]:>19.2f}")


if __name__ == "__main__":
    main()
