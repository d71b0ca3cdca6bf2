"""Compare the clsm-geo coverage engine with general-purpose tools on the same national data, like with like.

    .venv/bin/python benchmarks/compare.py                       # 300, 3,000, 30,000 councils, all peers
    .venv/bin/python benchmarks/compare.py --sizes 300 --peers engine,duckdb --repeat 3

Data: communes/arrondissements of COG 2024 (shipped ``clsm_geo.geography(2024)``), the QPV 2024
polygons (shipped layer, or ``--qpv PATH`` read through :func:`clsm_geo.qpv`), synthetic registries
built from real communes and EPCI (:mod:`synthetic`, fixed seed).

Three comparisons, each peer in its own subprocess (so that its peak memory is its own); ratio = engine
time / peer time, below 1 the engine is faster:

* **(a) the same precomputed table**: ``qpv_unit.parquet`` (the engine's QPV × unit weights) and the
  ``council_unit`` table of each size, loaded beforehand by every tool into its own storage; timed: the
  query from covered units to a status per QPV (engine: :func:`clsm_geo.coverage.qpv_statuses`; DuckDB
  and PostgreSQL: one SQL join and aggregate). Target: engine <= the fastest peer.
* **(b) end to end from the same files**: the registry CSV and the shared lookup tables (``qpv_unit``,
  ``commune_unit``, ``epci_member``). In-process: ``clsm_geo.coverage(csv, 2024, method="geometry")`` vs
  one SQL query reading the CSV (DuckDB ``read_csv``, PostgreSQL ``COPY``); as a command: ``clsm-geo
  coverage`` vs ``python -c`` + DuckDB writing a status CSV. Target: in-process within 2x the fastest peer.
  In process, the engine and the SQL peers are also timed in one more process, in turn, in ``--rounds``
  rounds (:func:`run_paired`): the table and the target take those times and the ratio within each round,
  as ``bench_commands.py`` does for the commands, because this machine's speed drifts by ±30 % between
  the minutes in which each peer's own process runs.
* **(c) geometry every run**: the engine (relation precomputed) vs tools that dissolve the perimeters and
  overlay them with the QPV on each run: ``geopandas`` (naive dissolve + overlay), ``postgis``
  (PostgreSQL + PostGIS started here on 127.0.0.1 in a temporary folder with initdb/pg_ctl from
  ``/usr/lib/postgresql/*/bin``, stopped and removed even on error), ``duckdb`` (spatial extension
  loaded from the ``duckdb-extension-spatial`` package file). Not like with like: it shows what
  precomputing buys. A peer that cannot run is reported as SKIPPED.

Same definition for every peer of (c). The engine apportions each QPV's area among the units (communes;
arrondissements in Paris, Lyon, Marseille) of its *official* communes only, because the shipped
commune boundaries are simplified while QPV polygons are accurate to ~10 m (see
:mod:`clsm_geo.apportion`). A raw overlay of QPV polygons with perimeters hands border slivers to
neighbouring communes and so gives other statuses for a few QPV. The peers therefore work on a
``qpv_unit_piece`` table built here once, independently of the engine's code: for each QPV polygon
and each unit of its official communes, the piece = QPV ∩ unit (EPSG:4326) and its weight = the
piece's area in the department's projected CRS over the sum for the QPV (1 for a single unit; a QPV
touching none of its units gets weight 1 on the nearest, whose piece is then the unit itself). The
peers compute ``share(QPV) = Σ weight × area(piece ∩ dissolved perimeters) / area(piece)`` and the
engine's thresholds (covered ≥ 0.99, partial > 0.01). The same peers are also run on the raw QPV
polygons (``geopandas-raw``) to report how many statuses the raw definition changes, and why.

Results: a table of times (median of ``--repeat``), ratios clsm-geo / peer, peak memory, the growth
of time from the smallest to the largest size, and PASS/FAIL lines for the targets of the issue.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))          # measure this checkout's clsm_geo, not an installed copy
sys.path.insert(0, str(HERE))

YEAR = 2024
COVERED, PARTIAL = 0.99, 0.01
PEERS = ("engine", "geopandas", "postgis", "duckdb")
TARGETS = {
    "memory_mb": 1536.0,       # peak memory of the engine
}


# ============================================================================== inputs (shared)
def load_layer(qpv_source: str | None, region: str | None = None):
    """The QPV layer (shipped, or ``qpv_source`` through clsm_geo.qpv), optionally one region's QPV."""
    import clsm_geo
    from clsm_geo.qpv import QpvLayer

    layer = clsm_geo.qpv(2024, qpv_source)
    if region is None:
        return layer
    frame = layer.frame[layer.frame["insee_reg"] == region].reset_index(drop=True)
    return QpvLayer(frame, layer.geography, layer.source)


def _polygonal(geoms):
    """Keep only the polygonal parts of each geometry (intersections may add lines and points)."""
    import numpy as np
    import shapely

    out = np.array(geoms, dtype=object)
    mixed = np.flatnonzero(shapely.get_type_id(out) == 7)
    for i in mixed:
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def build_pieces(frame, year: int = YEAR):
    """The ``qpv_unit_piece`` table: one row per (QPV polygon, unit of an official commune).

    Columns ``pid, code_qp, unit, weight, geometry`` (EPSG:4326). Built from the QPV lists and the
    unit polygons only (not from clsm_geo.apportion), so the peers check the engine's apportionment.
    """
    import geopandas as gpd
    import numpy as np
    import shapely

    from clsm_geo.settings import projected_crs
    from clsm_geo.units import units

    table = units(year)
    by_commune = table.groupby("insee_com").indices
    q_idx, u_idx = [], []
    geoms = frame.geometry.to_numpy()
    for qi, communes in enumerate(frame["communes"]):
        if geoms[qi] is None or shapely.is_empty(geoms[qi]):
            continue
        seen = []
        for code in communes:
            for u in by_commune.get(code, ()):
                if u not in seen:
                    seen.append(u)
        q_idx += [qi] * len(seen)
        u_idx += seen
    q_idx, u_idx = np.asarray(q_idx, dtype=np.int64), np.asarray(u_idx, dtype=np.int64)
    q_geom = geoms[q_idx]
    u_geom = shapely.make_valid(table.geometry.to_numpy()[u_idx])
    piece = _polygonal(shapely.intersection(q_geom, u_geom))
    area = np.zeros(len(piece))
    deps = frame["insee_dep"].to_numpy()[q_idx]
    epsg = np.array([projected_crs(d) for d in deps])
    for code in np.unique(epsg):
        sel = epsg == code
        area[sel] = gpd.GeoSeries(piece[sel], crs=4326).to_crs(int(code)).area.to_numpy()
    total = np.bincount(q_idx, weights=area, minlength=len(frame))
    weight = np.where(total[q_idx] > 0, area / np.where(total[q_idx] > 0, total[q_idx], 1.0), 0.0)
    single = np.bincount(q_idx, minlength=len(frame))[q_idx] == 1
    weight[single] = 1.0
    for q in np.unique(q_idx[(total[q_idx] == 0) & ~single]):   # touches none of its units: nearest one
        rows = np.flatnonzero(q_idx == q)
        best = rows[np.argmin(shapely.distance(geoms[q], u_geom[rows]))]
        weight[best] = 1.0
    empty = shapely.is_empty(piece) | (shapely.area(piece) == 0)
    piece[empty] = u_geom[empty]                                  # weight carried by the whole unit
    keep = weight > 0
    out = gpd.GeoDataFrame({
        "code_qp": frame["code_qp"].to_numpy()[q_idx[keep]],
        "unit": table["unit"].to_numpy()[u_idx[keep]],
        "weight": weight[keep],
    }, geometry=gpd.GeoSeries(piece[keep], crs=4326))
    out.insert(0, "pid", np.arange(len(out), dtype=np.int64))
    return out.reset_index(drop=True)


def raw_pieces(frame):
    """The raw definition: each QPV polygon whole, weight 1 (what a naive overlay measures)."""
    import geopandas as gpd
    import numpy as np

    has = frame.geometry.notna().to_numpy()
    out = gpd.GeoDataFrame({"code_qp": frame["code_qp"].to_numpy()[has], "unit": None, "weight": 1.0},
                           geometry=gpd.GeoSeries(frame.geometry.to_numpy()[has], crs=4326))
    out.insert(0, "pid", np.arange(len(out), dtype=np.int64))
    return out


def council_units(csv_path: Path, year: int = YEAR):
    """Councils of a synthetic registry CSV expanded to units, with the active-at-31-December rule.

    Written independently of clsm_geo.perimeters (pandas only): communes of the year, PLM cities to
    their arrondissements, EPCI to their member communes. Columns ``council, unit, active``.
    """
    import pandas as pd

    from clsm_geo.geography import geography
    from clsm_geo.units import units

    table = units(year)
    of_commune = table.groupby("insee_com")["unit"].agg(list).to_dict()
    for u in table["unit"]:
        of_commune.setdefault(u, [u])                            # an arrondissement is its own unit
    members = dict(zip(geography(year).epci["siren_epci"], geography(year).epci["members"]))
    reg = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    created = pd.to_numeric(reg["created"], errors="coerce")
    closed = pd.to_numeric(reg["closed"], errors="coerce")
    active = (created <= year) & ((reg["status"] == "actif")
                                  | (reg["status"].isin(["en_sommeil", "ferme"]) & (closed > year)))
    rows = []
    for cid, communes, epci, act in zip(reg["id"], reg["communes"], reg["epci"], active):
        codes = [c for c in communes.split(";") if c]
        for s in (e for e in epci.split(";") if e):
            codes += list(members[s])
        for u in sorted({u for c in codes for u in of_commune[c]}):
            rows.append((cid, u, bool(act)))
    return pd.DataFrame(rows, columns=["council", "unit", "active"])


def prepare(workdir: Path, sizes, qpv_source=None, region=None, seed=0) -> dict:
    """Write the registries, council×unit tables, units and pieces to ``workdir``; return timings."""
    import shapely

    from clsm_geo.units import units
    from synthetic import synthetic_registry, write_registry

    workdir.mkdir(parents=True, exist_ok=True)
    info = {}
    t = time.perf_counter()
    layer = load_layer(qpv_source, region)
    for n in sizes:
        write_registry(synthetic_registry(n, YEAR, seed=seed, region=region), workdir / f"registry_{n}.csv")
        council_units(workdir / f"registry_{n}.csv").to_parquet(workdir / f"council_unit_{n}.parquet")
    info["registries_s"] = time.perf_counter() - t
    t = time.perf_counter()
    pieces = build_pieces(layer.frame)
    info["pieces_s"] = time.perf_counter() - t
    pieces.to_parquet(workdir / "pieces.parquet")
    raw_pieces(layer.frame).to_parquet(workdir / "pieces_raw.parquet")
    table = units(YEAR)
    used = table[["unit", "geometry"]].copy()
    used["geometry"] = shapely.make_valid(used.geometry.to_numpy())
    used.to_parquet(workdir / "units.parquet")
    info["n_pieces"] = len(pieces)
    info["n_qpv_polygons"] = int(layer.frame.geometry.notna().sum())
    info["n_units"] = len(table)
    # Check the independent apportionment against the engine's relation (sanity, not timed).
    from clsm_geo.coverage import relation_for

    rel = relation_for(layer, YEAR)
    w = rel.weights.tocoo()
    pos = {c: i for i, c in enumerate(layer.frame["code_qp"])}
    upos = {u: i for i, u in enumerate(table["unit"])}
    mine = {(pos[q], upos[u]): wt for q, u, wt in zip(pieces["code_qp"], pieces["unit"], pieces["weight"])}
    theirs = {(int(r), int(c)): float(v) for r, c, v in zip(w.row, w.col, w.data)}
    keys = set(mine) | set(theirs)
    info["weights_max_abs_diff"] = float(max((abs(mine.get(k, 0) - theirs.get(k, 0)) for k in keys), default=0))
    info["region"] = region
    write_shared_tables(workdir, layer, rel)
    (workdir / "prepare.json").write_text(json.dumps(info))
    return info


def write_shared_tables(workdir: Path, layer, rel) -> None:
    """The files every tool of comparisons (a) and (b) reads: the same precomputed tables.

    ``qpv_unit.parquet`` (code_qp, unit, weight: the engine's QPV × unit relation, rows with a weight),
    ``commune_unit.parquet`` (code, unit: a commune to its units, a PLM city to its arrondissements, an
    arrondissement to itself) and ``epci_member.parquet`` (siren, insee_com) of COG 2024.
    """
    import pandas as pd

    from clsm_geo.geography import geography
    from clsm_geo.units import units

    table = units(YEAR)
    w = rel.weights.tocoo()
    codes = layer.frame["code_qp"].to_numpy()
    unit_codes = table["unit"].to_numpy()
    pd.DataFrame({"code_qp": codes[w.row].astype(str), "unit": unit_codes[w.col].astype(str),
                  "weight": w.data}).to_parquet(workdir / "qpv_unit.parquet", index=False)
    cu = pd.DataFrame({"code": table["insee_com"].astype(str), "unit": table["unit"].astype(str)})
    arm = cu[cu["code"] != cu["unit"]]
    cu = pd.concat([cu, pd.DataFrame({"code": arm["unit"], "unit": arm["unit"]})], ignore_index=True)
    cu.to_parquet(workdir / "commune_unit.parquet", index=False)
    epci = geography(YEAR).epci
    pd.DataFrame([(s, m) for s, ms in zip(epci["siren_epci"], epci["members"]) for m in ms],
                 columns=["siren", "insee_com"]).to_parquet(workdir / "epci_member.parquet", index=False)


def statuses(shares):
    """Statuses of the geometry method from area shares (numpy array)."""
    import numpy as np

    return np.where(shares >= COVERED, "covered", np.where(shares > PARTIAL, "partial", "uncovered"))


def _maxrss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's at fork)."""
    hwm = _proc_hwm_mb(os.getpid())
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


# ============================================================================== peer: engine
def run_engine(workdir: Path, sizes, repeat: int, qpv_source=None, region=None) -> dict:

    import pandas as pd

    import clsm_geo
    from clsm_geo.coverage import relation_for
    from clsm_geo.registry import read_registry
    from clsm_geo.units import unit_index

    layer = load_layer(qpv_source, region)
    t = time.perf_counter()
    rel = relation_for(layer, YEAR)
    out = {"relation_s": time.perf_counter() - t, "sizes": {}}
    codes = layer.frame["code_qp"].to_numpy()
    has = rel.has_polygon
    t = time.perf_counter()
    table_rel = engine_table_load(workdir)
    out["table_load_s"] = time.perf_counter() - t
    for n in sizes:
        reg = read_registry(workdir / f"registry_{n}.csv")
        res = {}
        for method in ("geometry", "commune"):
            clsm_geo.coverage(reg, YEAR, qpv=layer, method=method)          # warm-up (lazy imports)
            sec, result = _timed(lambda m=method: clsm_geo.coverage(reg, YEAR, qpv=layer, method=m), repeat)
            res[f"{method}_s"] = sec
            if method == "geometry":
                q = result.qpv
                res["status"] = dict(zip(codes[has], q["status_geometry"].to_numpy()[has].tolist()))
                res["share"] = dict(zip(codes[has], q["area_share"].to_numpy()[has].astype(float).tolist()))
                res["active"] = int(result.councils_table["active"].sum())
                perims = result.perimeters
        res["scenario_ms"] = _scenario_ms(rel, perims, unit_index(YEAR))
        t = time.perf_counter()
        cu = engine_council_units(table_rel, pd.read_parquet(workdir / f"council_unit_{n}.parquet"))
        out["table_load_s"] += time.perf_counter() - t
        engine_table_query(table_rel, cu)
        res["table_s"], (st, sh) = _timed(lambda: engine_table_query(table_rel, cu), repeat)
        res["table_status"] = dict(zip(table_rel[0].qpv_codes.tolist(), st.tolist()))
        res["table_share"] = dict(zip(table_rel[0].qpv_codes.tolist(), sh.astype(float).tolist()))
        csv = workdir / f"registry_{n}.csv"
        res["e2e_s"], e2e = _timed(lambda: clsm_geo.coverage(csv, YEAR, qpv=layer, method="geometry"), repeat)
        q = e2e.qpv
        res["e2e_status"] = dict(zip(codes[has], q["status_geometry"].to_numpy()[has].tolist()))
        res["e2e_share"] = dict(zip(codes[has], q["area_share"].to_numpy()[has].astype(float).tolist()))
        out["sizes"][str(n)] = res
    out["maxrss_mb"] = _maxrss_mb()
    return out


def engine_table_load(workdir: Path):
    """Comparison (a), loading: the shared ``qpv_unit`` table as the engine's sparse relation."""
    import numpy as np
    import pandas as pd
    from scipy import sparse

    from clsm_geo.apportion import QpvUnitRelation

    qu = pd.read_parquet(workdir / "qpv_unit.parquet")
    units_ = pd.Index(sorted(pd.read_parquet(workdir / "commune_unit.parquet")["unit"].unique().tolist()))
    qpv_codes = np.array(sorted(set(qu["code_qp"].tolist())), dtype=object)
    rows = pd.Index(qpv_codes).get_indexer(qu["code_qp"])
    cols = units_.get_indexer(qu["unit"])
    n_q, n_u = len(qpv_codes), len(units_)
    weights = sparse.csr_matrix((qu["weight"].to_numpy(float), (rows, cols)), shape=(n_q, n_u))
    rel = QpvUnitRelation(year=YEAR, qpv_codes=qpv_codes, has_polygon=np.ones(n_q, bool), weights=weights,
                          pair_qpv=np.zeros(0, np.int64), pair_commune=np.zeros(0, dtype=object),
                          pair_units=sparse.csr_matrix((0, n_u)), pair_size=np.zeros(0), unresolved={})
    return rel, units_


def engine_council_units(loaded, cu):
    """Comparison (a), loading: the council_unit table in the engine's storage (unit positions, as its
    perimeters hold them; the SQL peers likewise load it into their tables before the query)."""
    import numpy as np

    _, units_ = loaded
    pos = units_.get_indexer(cu["unit"].tolist())
    return {"unit": pos.astype(np.int32), "active": cu["active"].to_numpy(bool)}


def engine_table_query(loaded, cu):
    """Comparison (a), query: active councils' units -> 0/1 vector -> the engine's statuses
    (:func:`clsm_geo.coverage.qpv_statuses`: ``W @ x`` and the thresholds)."""
    import numpy as np

    from clsm_geo import settings
    from clsm_geo.coverage import qpv_statuses

    rel, units_ = loaded
    x = np.zeros(len(units_))
    pos = cu["unit"][cu["active"]]
    x[pos[pos >= 0]] = 1.0
    n = len(rel.qpv_codes)
    st = qpv_statuses(rel, x, x, np.zeros(n), np.ones(n, bool), settings.get())
    return st.status, st.share


def _scenario_ms(rel, perims, index, k: int = 200) -> float:
    """Median time to evaluate one more council (a commune or an EPCI) on top of the current network."""
    import numpy as np

    from clsm_geo.perimeters import active_mask, councils_per_unit

    active = active_mask(perims.councils, YEAR).to_numpy()
    x = np.minimum(councils_per_unit(perims, active), 1.0)
    rng = np.random.default_rng(1)
    candidates = perims.councils["units"].tolist()
    times = []
    for i in rng.integers(0, len(candidates), size=k):
        t = time.perf_counter()
        pos = index.get_indexer(list(candidates[i]))
        y = x.copy()
        y[pos[pos >= 0]] = 1.0
        share = rel.area_shares(y)
        statuses(share)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


# ============================================================================== peer: naive geopandas
def geopandas_shares(pieces, units_gdf, cu):
    """Dissolve the active perimeters, overlay with the pieces, sum weighted area ratios per QPV."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    covered_units = cu.loc[cu["active"], "unit"].unique()
    perim = units_gdf[units_gdf["unit"].isin(covered_units)]
    dissolved = perim[["geometry"]].dissolve().explode(index_parts=False).reset_index(drop=True)
    inter = gpd.overlay(pieces[["pid", "geometry"]], dissolved, how="intersection", keep_geom_type=True)
    # Area ratios within a piece: degrees are fine for a ratio (shapely.area avoids geopandas' CRS warning).
    a = pd.Series(shapely.area(inter.geometry.to_numpy()), index=inter["pid"].to_numpy()).groupby(level=0).sum()
    p = pieces.set_index("pid")
    ratio = (a.reindex(p.index, fill_value=0.0) / shapely.area(p.geometry.to_numpy())).clip(0, 1)
    return (p["weight"] * ratio).groupby(p["code_qp"]).sum()


def run_geopandas(workdir: Path, sizes, repeat: int, raw: bool = False) -> dict:
    import geopandas as gpd
    import pandas as pd

    t = time.perf_counter()
    pieces = gpd.read_parquet(workdir / ("pieces_raw.parquet" if raw else "pieces.parquet"))
    units_gdf = gpd.read_parquet(workdir / "units.parquet")
    out = {"load_s": time.perf_counter() - t, "sizes": {}}
    for n in sizes:
        cu = pd.read_parquet(workdir / f"council_unit_{n}.parquet")
        sec, share = _timed(lambda: geopandas_shares(pieces, units_gdf, cu), repeat)
        out["sizes"][str(n)] = {"query_s": sec, "status": dict(zip(share.index, statuses(share.to_numpy()).tolist())),
                                "share": {k: float(v) for k, v in share.items()}}
    out["maxrss_mb"] = _maxrss_mb()
    return out


# ============================================================================== SQL (PostGIS, DuckDB)
POSTGIS_QUERY = """
WITH cov AS (SELECT DISTINCT unit FROM council_unit WHERE size = %(size)s AND active),
dis AS (SELECT ST_Subdivide(ST_Union(u.geom), 256) AS geom FROM unit u JOIN cov USING (unit)),
hit AS (SELECT p.pid, SUM(ST_Area(ST_Intersection(p.geom, d.geom))) AS a
        FROM piece p JOIN dis d ON ST_Intersects(p.geom, d.geom) GROUP BY p.pid)
SELECT p.code_qp, SUM(p.weight * LEAST(1.0, COALESCE(h.a, 0) / NULLIF(ST_Area(p.geom), 0))) AS share
FROM piece p LEFT JOIN hit h USING (pid) GROUP BY p.code_qp
"""

DUCKDB_QUERY = """
WITH cov AS (SELECT DISTINCT unit FROM council_unit WHERE size = $size AND active),
dis AS (SELECT UNNEST(ST_Dump(ST_Union_Agg(u.geom)), recursive := true) FROM unit u JOIN cov USING (unit)),
hit AS (SELECT p.pid, SUM(ST_Area(ST_Intersection(p.geom, d.geom))) AS a
        FROM piece p JOIN dis d ON ST_Intersects(p.geom, d.geom) GROUP BY p.pid)
SELECT p.code_qp, SUM(p.weight * LEAST(1.0, COALESCE(h.a, 0) / NULLIF(ST_Area(p.geom), 0))) AS share
FROM piece p LEFT JOIN hit h USING (pid) GROUP BY p.code_qp
"""


# Comparison (a): the same precomputed QPV x unit table; statuses in SQL.
TABLE_QUERY = """
WITH cov AS (SELECT DISTINCT unit FROM council_unit WHERE size = {size} AND active),
sh AS (SELECT q.code_qp, SUM(q.weight) AS share FROM qpv_unit q JOIN cov USING (unit) GROUP BY q.code_qp)
SELECT a.code_qp, COALESCE(sh.share, 0) AS share,
       CASE WHEN COALESCE(sh.share, 0) >= {covered} THEN 'covered'
            WHEN COALESCE(sh.share, 0) > {partial} THEN 'partial' ELSE 'uncovered' END AS status
FROM (SELECT DISTINCT code_qp FROM qpv_unit) a LEFT JOIN sh USING (code_qp)
"""

# Comparison (b): from the registry CSV (same file as the engine reads) to statuses; the lookup tables
# (commune -> units, EPCI -> member communes, QPV x unit weights) are loaded once, like the engine's
# shipped data. {reg} is a table or a read_csv() call; {split_*} give one row per code.
E2E_QUERY = """
WITH reg AS (SELECT * FROM {reg}),
act AS (SELECT id, communes, epci FROM reg
        WHERE CAST(NULLIF(created, '') AS int) <= {year}
          AND (status = 'actif' OR (status IN ('en_sommeil', 'ferme') AND CAST(NULLIF(closed, '') AS int) > {year}))),
codes AS (SELECT {split_communes} AS code FROM act
          UNION ALL
          SELECT m.insee_com FROM (SELECT {split_epci} AS siren FROM act) e JOIN epci_member m USING (siren)),
cov AS (SELECT DISTINCT cu.unit FROM codes JOIN commune_unit cu USING (code)),
sh AS (SELECT q.code_qp, SUM(q.weight) AS share FROM qpv_unit q JOIN cov USING (unit) GROUP BY q.code_qp)
SELECT a.code_qp, COALESCE(sh.share, 0) AS share,
       CASE WHEN COALESCE(sh.share, 0) >= {covered} THEN 'covered'
            WHEN COALESCE(sh.share, 0) > {partial} THEN 'partial' ELSE 'uncovered' END AS status
FROM (SELECT DISTINCT code_qp FROM qpv_unit) a LEFT JOIN sh USING (code_qp)
"""


def _sql(template: str, **kw) -> str:
    return template.format(covered=COVERED, partial=PARTIAL, year=YEAR, **kw)


def _rows_result(rows) -> dict:
    return {"status": {r[0]: r[2] for r in rows}, "share": {r[0]: float(r[1]) for r in rows}}


def _tables(workdir: Path, sizes):
    """The tables every SQL peer loads: piece, unit (WKB) and council_unit (all sizes, ``size`` column)."""
    import pandas as pd
    import shapely

    pieces = pd.read_parquet(workdir / "pieces.parquet")
    units_df = pd.read_parquet(workdir / "units.parquet")
    cu = pd.concat([pd.read_parquet(workdir / f"council_unit_{n}.parquet").assign(size=int(n)) for n in sizes],
                   ignore_index=True)
    for df in (pieces, units_df):                               # GeoParquet WKB -> plain WKB bytes
        df["geometry"] = shapely.to_wkb(shapely.from_wkb(df["geometry"].to_numpy()))
    return pieces, units_df, cu


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def postgres_server():
    """A throw-away PostgreSQL server on 127.0.0.1 (PostGIS available if installed); yields a conninfo.

    As root, the server runs as the ``postgres`` system user (PostgreSQL refuses root). Stopped and its
    folder removed on exit, also on error.
    """
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL not found in /usr/lib/postgresql/*/bin (run benchmarks/setup.sh)")
    tmp = Path(tempfile.mkdtemp(prefix="clsm-geo-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(tmp, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", _free_port()
    started = False
    try:
        subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True)
        opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c work_mem=256MB -c shared_buffers=512MB -c max_parallel_workers_per_gather=0")
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-o", opts,
                                 "-w", "-t", "60", "start"], check=True, capture_output=True)
        started = True
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        if started:
            subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def run_postgis(workdir: Path, sizes, repeat: int) -> dict:
    import psycopg

    with postgres_server() as conninfo, psycopg.connect(conninfo, autocommit=True) as conn:
        cur = conn.cursor()
        t = time.perf_counter()
        cur.execute("CREATE EXTENSION postgis")
        version = cur.execute("SELECT postgis_full_version(), version()").fetchone()
        pieces, units_df, cu = _tables(workdir, sizes)
        cur.execute("CREATE TABLE piece (pid bigint PRIMARY KEY, code_qp text, unit text, weight float8, wkb bytea)")
        cur.execute("CREATE TABLE unit (unit text PRIMARY KEY, wkb bytea)")
        cur.execute("CREATE TABLE council_unit (size int, council text, unit text, active boolean)")
        with cur.copy("COPY piece (pid, code_qp, unit, weight, wkb) FROM STDIN") as cp:
            for row in pieces[["pid", "code_qp", "unit", "weight", "geometry"]].itertuples(index=False):
                cp.write_row((int(row[0]), row[1], row[2], float(row[3]), row[4]))
        with cur.copy("COPY unit (unit, wkb) FROM STDIN") as cp:
            for row in units_df[["unit", "geometry"]].itertuples(index=False):
                cp.write_row(tuple(row))
        with cur.copy("COPY council_unit (size, council, unit, active) FROM STDIN") as cp:
            for row in cu[["size", "council", "unit", "active"]].itertuples(index=False):
                cp.write_row((int(row[0]), row[1], row[2], bool(row[3])))
        for table in ("piece", "unit"):
            cur.execute(f"ALTER TABLE {table} ADD COLUMN geom geometry(Geometry, 4326)")
            cur.execute(f"UPDATE {table} SET geom = ST_SetSRID(ST_GeomFromWKB(wkb), 4326)")
            cur.execute(f"ALTER TABLE {table} DROP COLUMN wkb")
            cur.execute(f"CREATE INDEX ON {table} USING gist (geom)")
        cur.execute("CREATE INDEX ON council_unit (size, active)")
        cur.execute("VACUUM ANALYZE")
        out = {"load_s": time.perf_counter() - t, "version": f"{version[1].split(' on ')[0]}; {version[0][:40]}",
               "sizes": {}}
        backend = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
        t = time.perf_counter()
        postgres_load_shared(cur, workdir)
        out["table_load_s"] = time.perf_counter() - t
        for n in sizes:
            cur.execute(POSTGIS_QUERY, {"size": int(n)})                 # warm-up (buffers, plans)
            sec, rows = _timed(lambda: cur.execute(POSTGIS_QUERY, {"size": int(n)}).fetchall(), repeat)
            import numpy as np

            share = np.array([min(float(r[1]), 1.0) for r in rows])
            res = {"query_s": sec, "status": dict(zip([r[0] for r in rows], statuses(share).tolist())),
                   "share": {r[0]: float(r[1]) for r in rows}}
            query = _sql(TABLE_QUERY, size=int(n))
            cur.execute(query).fetchall()
            res["table_s"], rows = _timed(lambda: cur.execute(query).fetchall(), repeat)
            res["table"] = _rows_result(rows)
            csv = workdir / f"registry_{n}.csv"
            postgres_e2e(cur, csv)
            res["e2e_s"], rows = _timed(lambda: postgres_e2e(cur, csv), repeat)
            res["e2e"] = _rows_result(rows)
            out["sizes"][str(n)] = res
        out["server_peak_mb"] = _proc_hwm_mb(backend)
    out["maxrss_mb"] = _maxrss_mb()
    return out


def postgres_load_shared(cur, workdir: Path) -> None:
    """Comparisons (a) and (b): the shared lookup tables (from their Parquet files, COPY), indexed."""
    import pandas as pd

    specs = {"qpv_unit": "code_qp text, unit text, weight float8", "commune_unit": "code text, unit text",
             "epci_member": "siren text, insee_com text"}
    for name, cols in specs.items():
        df = pd.read_parquet(workdir / f"{name}.parquet")
        cur.execute(f"CREATE TABLE {name} ({cols})")
        with cur.copy(f"COPY {name} FROM STDIN") as cp:
            for row in df.itertuples(index=False):
                cp.write_row(tuple(row))
    cur.execute("CREATE INDEX ON qpv_unit (unit)")
    cur.execute("CREATE INDEX ON commune_unit (code)")
    cur.execute("CREATE INDEX ON epci_member (siren)")
    cur.execute("ANALYZE")


def postgres_e2e(cur, csv: Path):
    """Comparison (b): COPY the registry CSV into a temporary table, then one query to statuses."""
    cur.execute("DROP TABLE IF EXISTS reg")
    cur.execute("CREATE TEMP TABLE reg (id text, name text, status text, created text, closed text, "
                "communes text, epci text)")
    header = csv.open(encoding="utf-8").readline().strip().split(",")
    with cur.copy(f"COPY reg ({', '.join(header)}) FROM STDIN WITH (FORMAT csv, HEADER true)") as cp:
        cp.write(csv.read_bytes())
    return cur.execute(_sql(E2E_QUERY, reg="reg", split_communes="string_to_table(communes, ';')",
                            split_epci="string_to_table(epci, ';')")).fetchall()


def _proc_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def duckdb_spatial_path() -> str | None:
    """Path of the spatial extension file shipped by the ``duckdb-extension-spatial`` package, if any."""
    try:
        import duckdb
        import duckdb_extension_spatial
    except ImportError:
        return None
    base = Path(duckdb_extension_spatial.__file__).parent / "extensions"
    exact = base / f"v{duckdb.__version__}" / "spatial.duckdb_extension"
    if exact.is_file():
        return str(exact)
    found = sorted(base.glob("*/spatial.duckdb_extension"))
    return str(found[-1]) if found else None


def duckdb_connect():
    import duckdb

    path = duckdb_spatial_path()
    if path is None:
        raise RuntimeError("DuckDB or its spatial extension is not installed "
                           "(pip install duckdb duckdb-extension-spatial of the same version)")
    con = duckdb.connect()
    con.execute(f"LOAD '{path}'")
    return con


def duckdb_shares(con, size: int):
    rows = con.execute(DUCKDB_QUERY, {"size": int(size)}).fetchall()
    return {r[0]: min(float(r[1]), 1.0) for r in rows}


def duckdb_load(con, pieces, units_df, cu) -> None:
    con.register("pieces_df", pieces)
    con.register("units_df", units_df)
    con.register("cu_df", cu)
    con.execute("CREATE TABLE piece AS SELECT pid, code_qp, unit, weight, ST_GeomFromWKB(geometry) AS geom "
                "FROM pieces_df")
    con.execute("CREATE TABLE unit AS SELECT unit, ST_GeomFromWKB(geometry) AS geom FROM units_df")
    con.execute("CREATE TABLE council_unit AS SELECT size, council, unit, active FROM cu_df")
    con.execute("CREATE INDEX piece_rtree ON piece USING RTREE (geom)")
    con.execute("CREATE INDEX unit_rtree ON unit USING RTREE (geom)")
    for name in ("pieces_df", "units_df", "cu_df"):
        con.unregister(name)


def duckdb_load_shared(con, workdir: Path) -> None:
    """Comparisons (a) and (b): the shared lookup tables, read from their Parquet files."""
    for name in ("qpv_unit", "commune_unit", "epci_member"):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{workdir / (name + '.parquet')}')")


def duckdb_e2e(con, csv: Path):
    reg = f"read_csv('{csv}', all_varchar = true, header = true)"
    return con.execute(_sql(E2E_QUERY, reg=reg, split_communes="UNNEST(string_split(communes, ';'))",
                            split_epci="UNNEST(string_split(epci, ';'))")).fetchall()


def run_duckdb(workdir: Path, sizes, repeat: int) -> dict:
    import duckdb
    import numpy as np

    con = duckdb_connect()
    t = time.perf_counter()
    duckdb_load(con, *_tables(workdir, sizes))
    out = {"load_s": time.perf_counter() - t, "version": f"DuckDB {duckdb.__version__} + spatial", "sizes": {}}
    t = time.perf_counter()
    duckdb_load_shared(con, workdir)
    out["table_load_s"] = time.perf_counter() - t
    for n in sizes:
        duckdb_shares(con, n)
        sec, share = _timed(lambda: duckdb_shares(con, n), repeat)
        st = statuses(np.array(list(share.values())))
        res = {"query_s": sec, "status": dict(zip(share, st.tolist())), "share": share}
        query = _sql(TABLE_QUERY, size=int(n))
        con.execute(query).fetchall()
        res["table_s"], rows = _timed(lambda: con.execute(query).fetchall(), repeat)
        res["table"] = _rows_result(rows)
        csv = workdir / f"registry_{n}.csv"
        duckdb_e2e(con, csv)
        res["e2e_s"], rows = _timed(lambda: duckdb_e2e(con, csv), repeat)
        res["e2e"] = _rows_result(rows)
        out["sizes"][str(n)] = res
    out["maxrss_mb"] = _maxrss_mb()
    return out


# ============================================================================== (b) in process, in rounds
def paired_rounds(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each call in ``rounds`` rounds after one warm-up each. A round runs every call once, the
    order turned by one each round (no tool always first): the calls of a round meet the same machine phase,
    so a ratio is taken within each round (:func:`round_ratio`), as ``bench_commands.rounds`` does."""
    for fn in calls.values():
        fn()
    keys = list(calls)
    runs: dict[str, list[float]] = {key: [] for key in keys}
    for k in range(rounds):
        for key in keys[k % len(keys):] + keys[:k % len(keys)]:
            t = time.perf_counter()
            calls[key]()
            runs[key].append(time.perf_counter() - t)
    return runs


def round_ratio(runs: dict[str, list[float]], peers: list[str]) -> float:
    """Median over the rounds of (engine time / the fastest of ``peers`` in the same round)."""
    return statistics.median(e / min(runs[p][k] for p in peers) for k, e in enumerate(runs["engine"]))


def run_paired(workdir: Path, sizes, rounds: int, peers: list[str], qpv_source=None, region=None) -> dict:
    """Comparison (b) in process, the engine and the SQL peers in one process and in :func:`paired_rounds`:
    ``clsm_geo.coverage(csv, …)`` against DuckDB's and PostgreSQL's query from the same CSV file (the
    functions each peer's own worker times, :func:`duckdb_e2e` and :func:`postgres_e2e`). Each tool's own
    worker times the same calls in a separate process, minutes apart; on a machine whose speed drifts by
    ±30 % (this one), only ratios taken within a round compare like with like."""
    import clsm_geo

    layer = load_layer(qpv_source, region)
    out: dict = {"rounds": rounds, "peers": [], "sizes": {}}
    with contextlib.ExitStack() as stack:
        calls: dict[str, object] = {}
        if "duckdb" in peers:
            con = duckdb_connect()
            stack.callback(con.close)
            duckdb_load_shared(con, workdir)
            calls["duckdb"] = lambda csv: duckdb_e2e(con, csv)
        if "postgis" in peers:
            import psycopg

            conn = stack.enter_context(psycopg.connect(stack.enter_context(postgres_server()), autocommit=True))
            cur = conn.cursor()
            postgres_load_shared(cur, workdir)
            calls["postgis"] = lambda csv: postgres_e2e(cur, csv)
        out["peers"] = list(calls)
        for n in sizes:
            csv = workdir / f"registry_{n}.csv"
            fns = {"engine": lambda: clsm_geo.coverage(csv, YEAR, qpv=layer, method="geometry")}
            fns.update({p: (lambda fn=fn: fn(csv)) for p, fn in calls.items()})
            out["sizes"][str(n)] = paired_rounds(fns, rounds)
    return out


# ============================================================================== whole CLI
#: The CLI of the clsm_geo package being measured (this checkout, or --engine-path), not an installed script.
CLI = [sys.executable, "-c", "from clsm_geo.cli import entry; entry()"]  # the clsm-geo program

#: Comparison (b) as a command: DuckDB reading the same files and writing the statuses to a CSV file.
DUCKDB_COMMAND = """
import sys, duckdb, duckdb_extension_spatial  # noqa: F401 (same environment as the in-process run)
workdir, csv, out = sys.argv[1:4]
con = duckdb.connect()
for name in ("qpv_unit", "commune_unit", "epci_member"):
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{workdir}/{name}.parquet')")
con.execute("COPY (" + sys.argv[4] + ") TO '" + out + "' (HEADER)")
"""


def _command_seconds(cmd: list[str], repeat: int, env=None) -> float:
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=REPO)     # warm-up (OS cache)
    times = []
    for _ in range(max(repeat, 3)):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=REPO)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _engine_env(engine_path=None) -> dict:
    """As ``bench_commands.process_env``: the engine's modules on the path, byte-compiled once (the warm-up run)
    as an installed package's are."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [engine_path or str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "clsm-geo-bench-pycache")
    return env


def cli_seconds(registry: Path, repeat: int, qpv_source=None, engine_path=None) -> float:
    """Median wall time of ``clsm-geo --offline coverage`` in a subprocess, after one warm-up run."""
    with tempfile.TemporaryDirectory() as out:
        cmd = CLI + ["--offline", "--quiet", "coverage", "--year", str(YEAR), "--registry", str(registry),
                     "--method", "geometry", "--out", out]
        if qpv_source:
            cmd += ["--qpv", str(qpv_source)]
        return _command_seconds(cmd, repeat, _engine_env(engine_path))


def duckdb_command_seconds(workdir: Path, registry: Path, repeat: int) -> float:
    """Median wall time of the DuckDB command of comparison (b) (python + duckdb, files to a status CSV)."""
    reg = f"read_csv('{registry}', all_varchar = true, header = true)"
    query = _sql(E2E_QUERY, reg=reg, split_communes="UNNEST(string_split(communes, ';'))",
                 split_epci="UNNEST(string_split(epci, ';'))")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-c", DUCKDB_COMMAND, str(workdir), str(registry), str(Path(out) / "status.csv"),
               query]
        return _command_seconds(cmd, repeat, _engine_env())  # same environment as the engine's command


# ============================================================================== orchestration
def _worker(args) -> None:
    if args.engine_path and args.worker in ("engine", "paired"):         # a patched copy of clsm_geo comes first
        sys.path.insert(0, args.engine_path)
    workdir, sizes = Path(args.workdir), [int(s) for s in args.sizes.split(",")]
    peer = args.worker
    if peer == "engine":
        res = run_engine(workdir, sizes, args.repeat, args.qpv, args.region)
    elif peer == "geopandas":
        res = run_geopandas(workdir, sizes, args.repeat)
    elif peer == "geopandas-raw":
        res = run_geopandas(workdir, sizes, 1, raw=True)
    elif peer == "postgis":
        res = run_postgis(workdir, sizes, args.repeat)
    elif peer == "duckdb":
        res = run_duckdb(workdir, sizes, args.repeat)
    elif peer == "paired":
        res = run_paired(workdir, sizes, args.rounds, args.paired.split(","), args.qpv, args.region)
    else:
        raise SystemExit(f"unknown peer {peer}")
    (workdir / f"result_{peer}.json").write_text(json.dumps(res))


def _spawn(peer: str, workdir: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", peer, "--workdir", str(workdir), "--sizes", args.sizes,
           "--repeat", str(args.repeat)]
    if args.qpv:
        cmd += ["--qpv", args.qpv]
    if args.region:
        cmd += ["--region", args.region]
    if peer == "paired":
        cmd += ["--rounds", str(args.rounds), "--paired", args.paired]
    env = dict(os.environ)
    if peer in ("engine", "paired") and args.engine_path:                   # measure a patched copy of clsm_geo
        cmd += ["--engine-path", args.engine_path]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "stderr": proc.stderr[-3000:]}
    res = json.loads((workdir / f"result_{peer}.json").read_text())
    res["wall_s"] = wall
    return res


def peer_available(peer: str) -> str | None:
    """None when the peer can run here, else why not."""
    if peer == "postgis":
        if postgres_bindir() is None:
            return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin missing): run benchmarks/setup.sh"
        if not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
            return "PostGIS is not installed (postgis.control missing): run benchmarks/setup.sh"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg (v3) is not installed: pip install 'psycopg[binary]'"
    if peer == "duckdb" and duckdb_spatial_path() is None:
        return ("DuckDB spatial is not installable here as a registry package or not installed: "
                "pip install duckdb==X duckdb-extension-spatial==X")
    return None


def disagreements(engine: dict, peer: dict) -> list[tuple]:
    """(code, engine status, peer status, engine share, peer share) where statuses differ."""
    out = []
    for code, status in engine["status"].items():
        other = peer["status"].get(code, "uncovered")
        if other != status:
            out.append((code, status, other, engine["share"].get(code), peer["share"].get(code, 0.0)))
    return out


def _fmt_s(x) -> str:
    if x is None:
        return "—"
    if x < 0.01:
        return f"{x * 1000:.2f} ms"
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a is not None and b else "—"


def _table(head, rows) -> list[str]:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in [head, *rows]]


def _agree(eng_status, eng_share, peer) -> list:
    return disagreements({"status": eng_status, "share": eng_share}, peer)


def report(results: dict, prep: dict, sizes, commands: dict, skipped: dict) -> tuple[str, bool]:
    """The text report of comparisons (a), (b), (c) and whether every status agreed."""
    lines = []
    eng = results.get("engine")
    eng = eng if eng and "error" not in eng else None
    sql = [p for p in ("duckdb", "postgis") if p in results and "error" not in results[p]]
    geo = [p for p in ("geopandas", "duckdb", "postgis") if p in results and "error" not in results[p]]
    lines.append(f"Data: {prep['n_qpv_polygons']} QPV polygons, {prep['n_units']} units (COG {YEAR}), "
                 f"{prep['n_pieces']} qpv_unit_piece rows (built in {prep['pieces_s']:.2f} s; max |weight - "
                 f"engine weight| = {prep['weights_max_abs_diff']:.1e})")
    if eng:
        lines.append(f"Engine QPV x unit relation obtained in {eng['relation_s']:.2f} s (shipped/cached table, "
                     "see clsm_geo/_prebuilt.py)")
    for p in sql + (["geopandas"] if "geopandas" in geo else []):
        extra = f", server peak {results[p]['server_peak_mb']:.0f} MB" if results[p].get("server_peak_mb") else ""
        shared = f"; shared tables {results[p]['table_load_s']:.2f} s" if "table_load_s" in results[p] else ""
        lines.append(f"{p}: load geometry {results[p]['load_s']:.2f} s{shared}{extra}  ({results[p].get('version', '')})")
    for p, why in skipped.items():
        lines.append(f"{p}: SKIPPED: {why}")
    for p in ("engine", "geopandas", "postgis", "duckdb", "geopandas-raw", "paired"):
        if p in results and "error" in results[p]:
            lines.append(f"{p}: FAILED: {results[p]['error']}")
    all_agree = True
    if eng:
        # (a) same precomputed table
        lines += ["", "(a) Same precomputed QPV x unit table (qpv_unit.parquet) and council_unit table -> statuses "
                  "(query only; tables already loaded)"]
        head, rows = ["councils", "engine"] + [x for p in sql for x in (p, "ratio")] + ["agree"], []
        for n in sizes:
            e = eng["sizes"][str(n)]
            row, agree = [f"{n:,}", _fmt_s(e["table_s"])], []
            for p in sql:
                r = results[p]["sizes"][str(n)]
                row += [_fmt_s(r["table_s"]), _ratio(e["table_s"], r["table_s"])]
                d = _agree(e["table_status"], e["table_share"], r["table"])
                agree.append(f"{p} {'yes' if not d else f'{len(d)} differ'}")
                all_agree &= not d
            rows.append(row + ["; ".join(agree)])
        lines += _table(head, rows)
        # (b) end to end
        lines += ["", "(b) End to end from the same files (registry CSV + the shared tables) to statuses"]
        head = ["councils", "engine in-process"] + [x for p in sql for x in (p, "ratio")] + ["agree",
                "engine command", "duckdb command", "ratio"]
        rows = []
        paired = _paired(results)
        for n in sizes:
            e = eng["sizes"][str(n)]
            times = _in_process(results, sql, str(n))
            row, agree = [f"{n:,}", _fmt_s(times["engine"])], []
            for p in sql:
                r = results[p]["sizes"][str(n)]
                row += [_fmt_s(times[p]), f"{times[p + '_ratio']:.2f}"]
                d = _agree(e["e2e_status"], e["e2e_share"], r["e2e"])
                agree.append(f"{p} {'yes' if not d else f'{len(d)} differ'}")
                all_agree &= not d
            c = commands.get(str(n), {})
            row += ["; ".join(agree), _fmt_s(c.get("engine")), _fmt_s(c.get("duckdb")),
                    _ratio(c.get("engine"), c.get("duckdb"))]
            rows.append(row)
        lines += _table(head, rows)
        if paired and set(sql) <= set(paired["peers"]):
            lines.append(f"(in process: {paired['rounds']} rounds in one process, engine and {', '.join(paired['peers'])} "
                         "in turn; times = medians, ratio = median over the rounds of engine / peer in the same round)")
            lines.append("(the same calls timed by each tool's own process, minutes apart, engine / peer: " + "; ".join(
                f"{int(n):,}: " + ", ".join(f"{p} {eng['sizes'][str(n)]['e2e_s'] / results[p]['sizes'][str(n)]['e2e_s']:.2f}"
                                            for p in sql) for n in sizes) + ")")
        lines.append("(engine in-process: clsm_geo.coverage(csv, 2024, method='geometry') in a warm session: reads, "
                     "checks and resolves the registry, builds perimeters and the result tables; engine command: "
                     "clsm-geo --offline -q coverage ... --out DIR, which also writes six files; duckdb command: "
                     "python + duckdb reading the same files, writing one status CSV)")
    # (c) geometry peers
    lines += ["", "(c) Geometry every run: the engine with its precomputed relation vs tools that dissolve the "
              "perimeters and overlay them with the QPV pieces (not like with like: shows what precomputing buys)"]
    head = ["councils", "active", "engine geom", "engine commune", "scenario"] + [x for p in geo for x in (p, "ratio")]
    rows = []
    for n in sizes:
        e = eng["sizes"][str(n)] if eng else None
        row = [f"{n:,}", f"{e['active']:,}" if e else "—", _fmt_s(e and e["geometry_s"]),
               _fmt_s(e and e["commune_s"]), f"{e['scenario_ms']:.2f} ms" if e else "—"]
        for p in geo:
            r = results[p]["sizes"][str(n)]
            row += [_fmt_s(r["query_s"]), _ratio(e and e["geometry_s"], r["query_s"])]
            if e:
                d = disagreements(e, r)
                all_agree &= not d
                for x in d[:5]:
                    lines.append(f"  {p} at {n}: {x[0]} engine {x[1]} ({x[3]:.4f}) vs {x[2]} ({x[4]:.4f})")
        rows.append(row)
    lines += _table(head, rows)
    lines.append("(times: median of --repeat; ratio = engine time / peer time: below 1 the engine is faster)")
    mem = [f"{p} {results[p]['maxrss_mb']:.0f} MB" for p in ("engine", *geo) if p in results
           and "error" not in results[p]]
    lines.append("Peak memory (max RSS of each peer's process): " + ", ".join(mem))
    raw = results.get("geopandas-raw")
    if raw and "error" not in raw and eng:
        lines.append("")
        lines.append("Raw overlay definition (QPV polygons not clipped to their official units), vs the engine:")
        for n in sizes:
            d = disagreements(eng["sizes"][str(n)], raw["sizes"][str(n)])
            kinds: dict[str, int] = {}
            for _, a, b, *_ in d:
                kinds[f"{a}->{b}"] = kinds.get(f"{a}->{b}", 0) + 1
            desc = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none"
            lines.append(f"  {n:>6,} councils: {len(d)} QPV differ ({desc})")
        lines.append("  (border slivers: a QPV polygon overlapping a neighbouring commune that is not one of its "
                     "official communes, on simplified commune boundaries)")
    lines.append("")
    lines += _targets(results, sizes, commands)
    return "\n".join(lines), all_agree


def _paired(results: dict) -> dict | None:
    """The run of comparison (b) in rounds (:func:`run_paired`), if it ran."""
    paired = results.get("paired")
    return paired if paired and "error" not in paired else None


def _in_process(results: dict, sql: list[str], n: str) -> dict[str, float]:
    """Comparison (b) in process at size ``n``: seconds of the engine and of each peer, each peer's ratio and
    the ratio to the fastest peer; within rounds when :func:`run_paired` ran for every peer, else between the
    medians of the tools' own processes."""
    paired = _paired(results)
    if paired and set(sql) <= set(paired["peers"]):
        runs = paired["sizes"][n]
        out = {k: statistics.median(runs[k]) for k in ["engine", *sql]}
        out.update({f"{p}_ratio": round_ratio(runs, [p]) for p in sql})
        out["fastest_ratio"] = round_ratio(runs, sql)
        out["how"] = "within rounds, one process"
        return out
    out = {"engine": results["engine"]["sizes"][n]["e2e_s"]}
    out.update({p: results[p]["sizes"][n]["e2e_s"] for p in sql})
    out.update({f"{p}_ratio": out["engine"] / out[p] for p in sql})
    out["fastest_ratio"] = out["engine"] / min(out[p] for p in sql)
    out["how"] = "medians of separate processes"
    return out


def _targets(results, sizes, commands) -> list[str]:
    out = []
    eng = results.get("engine")
    if not eng or "error" in eng:
        return ["engine did not run: no targets"]
    es = eng["sizes"]
    small, big = str(min(sizes)), str(max(sizes))
    sql = [p for p in ("duckdb", "postgis") if p in results and "error" not in results[p]]

    def line(ok, text):
        out.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    if sql:
        worst = max((es[n]["table_s"] / min(results[p]["sizes"][n]["table_s"] for p in sql), n) for n in es)
        line(worst[0] <= 1.0, f"(a) engine <= fastest peer on the same precomputed table, every size: worst ratio "
             f"{worst[0]:.2f} at {int(worst[1]):,} councils")
        ratio, n, how = max((b["fastest_ratio"], n, b["how"]) for n, b in
                            ((n, _in_process(results, sql, n)) for n in es))
        line(ratio <= 2.0, f"(b) engine in-process <= 2x fastest peer end to end, every size: worst ratio "
             f"{ratio:.2f} at {int(n):,} councils ({how})")
    else:
        out.append("SKIP  (a), (b): neither DuckDB nor PostgreSQL ran")
    for n, c in commands.items():
        if c.get("engine") and c.get("duckdb"):
            out.append(f"INFO  (b) as a command at {int(n):,} councils: clsm-geo coverage / duckdb command = "
                       f"{c['engine'] / c['duckdb']:.2f} (no target: the command also validates and writes six files)")
    gp = results.get("geopandas")
    if gp and "error" not in gp:
        speed = min(gp["sizes"][s]["query_s"] / es[s]["geometry_s"] for s in es)
        out.append(f"INFO  (c) naive geopandas / engine, worst size: {speed:.1f}x (precomputed relation vs "
                   "dissolve-and-overlay every run)")
    line(eng["maxrss_mb"] <= TARGETS["memory_mb"], f"engine peak memory <= {TARGETS['memory_mb'] / 1024:.1f} GB: "
         f"{eng['maxrss_mb']:.0f} MB")
    if small != big:
        size = int(big) / int(small)
        for key, what in (("geometry_s", "coverage(registry)"), ("e2e_s", "coverage(csv)")):
            g = es[big][key] / es[small][key]
            line(g <= size, f"{what} grows at most linearly, {int(small):,} -> {int(big):,} councils: time x{g:.1f} "
                 f"for size x{size:.0f} ({_fmt_s(es[small][key])} -> {_fmt_s(es[big][key])})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="300,3000,30000", help="registry sizes (councils), comma separated")
    ap.add_argument("--peers", default="engine,geopandas,postgis,duckdb",
                    help="comma separated among engine, geopandas, postgis, duckdb (engine is always run)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    ap.add_argument("--qpv", default=None, help="QPV 2024 file read through clsm_geo.qpv (default: shipped layer)")
    ap.add_argument("--region", default=None, help="restrict QPV and registries to one region code (smoke runs)")
    ap.add_argument("--rounds", type=int, default=9,
                    help="rounds of comparison (b) in process, the engine and the SQL peers in turn (median)")
    ap.add_argument("--paired", default="", help=argparse.SUPPRESS)
    ap.add_argument("--no-raw", action="store_true", help="skip the raw-overlay comparison")
    ap.add_argument("--no-cli", action="store_true", help="skip the command timings of comparison (b)")
    ap.add_argument("--engine-path", default=None,
                    help="folder holding a (patched) clsm_geo package to measure as the engine (PYTHONPATH)")
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="also write every measure to this JSON file")
    ap.add_argument("--report-json", default=None, metavar="FILE",
                    help="print the report of a run saved with --json (no measurement)")
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    if args.report_json:
        saved = json.loads(Path(args.report_json).read_text())
        found = sorted(int(n) for n in saved["results"]["engine"]["sizes"])
        text, agree = report(saved["results"], saved["prepare"], found, saved.get("commands", {}), {})
        print(text)
        return 0 if agree else 1
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.sizes = ",".join(map(str, sizes))
    wanted = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = set(wanted) - set(PEERS)
    if unknown:
        ap.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    if "engine" not in wanted:
        wanted.insert(0, "engine")
    skipped = {p: why for p in wanted if (why := peer_available(p))}
    with tempfile.TemporaryDirectory(prefix="clsm-geo-bench-") as tmp:
        workdir = Path(tmp)
        print(f"Preparing registries {args.sizes} and the qpv_unit_piece table ...", flush=True)
        prep = prepare(workdir, sizes, args.qpv, args.region)
        results = {}
        run = [p for p in wanted if p not in skipped] + ([] if args.no_raw else ["geopandas-raw"])
        for peer in run:
            print(f"Running {peer} ...", flush=True)
            results[peer] = _spawn(peer, workdir, args)
            if "error" in results[peer]:
                print(results[peer]["stderr"], file=sys.stderr)
        sql_ok = [p for p in ("duckdb", "postgis") if p in results and "error" not in results[p]]
        if sql_ok and "error" not in results.get("engine", {"error": 1}):
            print(f"Running (b) in process in {args.rounds} rounds: engine, {', '.join(sql_ok)} in turn ...", flush=True)
            args.paired = ",".join(sql_ok)
            results["paired"] = _spawn("paired", workdir, args)
            if "error" in results["paired"]:
                print(results["paired"]["stderr"], file=sys.stderr)
        commands: dict = {}
        if not args.no_cli and not args.region:
            for n in sizes:
                print(f"Timing the commands at {n:,} councils ...", flush=True)
                registry = workdir / f"registry_{n}.csv"
                commands[str(n)] = {"engine": cli_seconds(registry, args.repeat, args.qpv, args.engine_path)}
                if "duckdb" in results and "error" not in results["duckdb"]:
                    commands[str(n)]["duckdb"] = duckdb_command_seconds(workdir, registry, args.repeat)
        text, agree = report(results, prep, sizes, commands, skipped)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"prepare": prep, "results": results, "commands": commands},
                                              default=str))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
