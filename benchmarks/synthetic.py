"""Synthetic registries built from real communes, arrondissements and EPCI, for benchmarks and tests.

Nothing here is real CLSM data. Councils are drawn with a fixed seed so that a benchmark is
reproducible, and so that coverage looks like the real network's (most councils sit where the
priority neighbourhoods are):

* a third are whole EPCI, 70 % of them drawn among the EPCI hosting at least one QPV;
* a third are one commune, 80 % of them drawn among the communes hosting a QPV (for Paris, Lyon
  and Marseille, half of these are one arrondissement whose area a QPV polygon touches);
* a third are a commune and 1 to 6 of its real neighbours (communes whose boundary touches it),
  the seed commune drawn among the QPV communes 60 % of the time.

Statuses and years vary (3/5 active, 1/5 in project, 1/5 dormant with a closing year), so the
active mask matters. ``region`` restricts every draw to one region (for small smoke runs).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

FIELDS = ["id", "name", "status", "created", "closed", "communes", "epci"]


@functools.lru_cache(maxsize=4)
def _pools(year: int, region: str | None) -> dict:
    """Candidate codes for the draws (computed once per year and region)."""
    import shapely

    import clsm_geo
    from clsm_geo.geography import geography
    from clsm_geo.settings import PLM_CITIES

    geo = geography(year)
    communes = geo.communes
    if region is not None:
        communes = communes[communes["insee_reg"] == region]
    codes = communes["insee_com"].to_numpy()
    layer = clsm_geo.qpv(2024).frame
    if region is not None:
        layer = layer[layer["insee_reg"] == region]
    qpv_communes = sorted({c for cs in layer["communes"] for c in cs} & set(codes.tolist()))
    epci = geo.epci
    epci_in = sorted(set(communes["siren_epci"].dropna()))
    epci_qpv = sorted(set(communes.loc[communes["insee_com"].isin(qpv_communes), "siren_epci"].dropna()))
    arm = geo.arrondissements
    polys = layer.geometry.dropna().to_numpy()
    hit = arm.sindex.query(polys, predicate="intersects")[1] if len(polys) else np.zeros(0, dtype=int)
    arm_qpv: dict[str, list[str]] = {}
    for i in sorted(set(hit.tolist())):
        arm_qpv.setdefault(arm["insee_com"].iloc[i], []).append(arm["insee_arm"].iloc[i])
    return {
        "communes": codes, "geoms": communes.geometry.to_numpy(), "qpv_communes": np.array(qpv_communes),
        "epci": np.array([e for e in epci["siren_epci"] if e in set(epci_in)]), "epci_qpv": np.array(epci_qpv),
        "arm_qpv": {c: sorted(v) for c, v in arm_qpv.items() if c in PLM_CITIES}, "shapely": shapely,
    }


def synthetic_registry(n: int, year: int = 2024, seed: int = 0, region: str | None = None) -> list[dict]:
    """``n`` fictitious councils over real COG ``year`` codes (rows as dicts in the registry schema)."""
    pools = _pools(year, region)
    rng = np.random.default_rng(seed)
    communes, qpv_communes = pools["communes"], pools["qpv_communes"]
    epci_all = pools["epci"]
    epci_qpv = pools["epci_qpv"] if len(pools["epci_qpv"]) else epci_all
    if len(qpv_communes) == 0:
        qpv_communes = communes
    position = {c: i for i, c in enumerate(communes)}
    rows = []
    seeds: dict[int, str] = {}
    for i in range(n):
        kind = i % 3
        status = str(rng.choice(["actif", "actif", "actif", "en_projet", "en_sommeil"]))
        created = int(rng.integers(2005, year + 1))
        row = {"id": f"S{i:06d}", "name": f"Synthetic council {i}", "status": status,
               "created": "" if status == "en_projet" else str(created),
               "closed": str(int(rng.integers(created, year + 2))) if status == "en_sommeil" else "",
               "communes": "", "epci": ""}
        if kind == 0 and len(epci_all):
            row["epci"] = str(rng.choice(epci_qpv if rng.random() < 0.7 else epci_all))
        elif kind == 1 or kind == 0:
            code = str(rng.choice(qpv_communes if rng.random() < 0.8 else communes))
            arms = pools["arm_qpv"].get(code)
            if arms and rng.random() < 0.5:
                code = str(rng.choice(arms))
            row["communes"] = code
        else:
            seeds[i] = str(rng.choice(qpv_communes if rng.random() < 0.6 else communes))
            row["_k"] = int(rng.integers(1, 7))
        rows.append(row)
    if seeds:
        _add_neighbours(rows, seeds, pools, position, rng)
    return rows


def _add_neighbours(rows, seeds: dict[int, str], pools, position, rng) -> None:
    """Give each council of the third kind its seed commune and up to k touching communes."""
    shapely = pools["shapely"]
    geoms = pools["geoms"]
    tree = shapely.STRtree(geoms)
    order = list(seeds)
    seed_geoms = geoms[[position[seeds[i]] for i in order]]
    left, right = tree.query(seed_geoms, predicate="intersects")
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(left.tolist(), right.tolist()):
        neighbours.setdefault(a, []).append(b)
    for j, i in enumerate(order):
        own = position[seeds[i]]
        others = sorted(b for b in neighbours.get(j, []) if b != own)
        k = min(rows[i].pop("_k"), len(others))
        picked = rng.choice(others, size=k, replace=False).tolist() if k else []
        rows[i]["communes"] = ";".join(sorted([seeds[i]] + [str(pools["communes"][b]) for b in picked]))


def write_registry(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return path
