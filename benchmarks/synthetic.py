"""Synthetic registries built from real communes and EPCI, for benchmarks and property tests.

Councils are drawn with a fixed seed: a third whole EPCI, a third one commune hosting a QPV, a third a
commune and its neighbours' codes; statuses and creation years vary. Nothing here is real CLSM data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def synthetic_registry(n: int, year: int = 2024, seed: int = 0) -> list[dict]:
    """``n`` fictitious councils over real COG ``year`` codes (rows as dicts in the registry schema)."""
    from clsm_geo.geography import geography

    geo = geography(year)
    rng = np.random.default_rng(seed)
    communes = geo.communes["insee_com"].to_numpy()
    epci = geo.epci["siren_epci"].to_numpy()
    rows = []
    for i in range(n):
        kind = i % 3
        status = rng.choice(["actif", "actif", "actif", "en_projet", "en_sommeil"])
        created = int(rng.integers(2005, year + 1))
        row = {"id": f"S{i:06d}", "name": f"Synthetic council {i}", "status": status,
               "created": "" if status == "en_projet" else str(created),
               "closed": str(int(rng.integers(created, year + 2))) if status == "en_sommeil" else "",
               "communes": "", "epci": ""}
        if kind == 0:
            row["epci"] = str(rng.choice(epci))
        else:
            k = 1 if kind == 1 else int(rng.integers(2, 8))
            row["communes"] = ";".join(sorted(rng.choice(communes, size=k, replace=False)))
        rows.append(row)
    return rows


def write_registry(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "name", "status", "created", "closed", "communes", "epci"])
        writer.writeheader()
        writer.writerows(rows)
    return path
