"""Compare the clsm-geo coverage engine with general-purpose peers on the same national data.

    .venv/bin/python benchmarks/compare.py                       # 300, 3,000, 30,000 councils, all peers
    .venv/bin/python benchmarks/compare.py --sizes 300 --peers engine,geopandas --repeat 3

Data: communes/arrondissements of COG 2024 (shipped ``clsm_geo.geography(2024)``), the QPV 2024
polygons (shipped layer, or ``--qpv PATH`` read through :func:`clsm_geo.qpv`), synthetic registries
built from real communes and EPCI (:mod:`synthetic`, fixed seed).

Peers (each in its own subprocess, so that its peak memory is its own):

* ``engine``: ``clsm_geo.coverage(registry, 2024, qpv=layer, method=...)``, geometry and commune
  methods, with the QPV × unit relation memoised (as in a session); the relation build is timed apart.
* ``geopandas``: the naive approach: dissolve the active perimeters, ``overlay`` with the QPV, areas.
* ``postgis``: PostgreSQL + PostGIS started here on 127.0.0.1 in a temporary folder (initdb/pg_ctl from
  ``/usr/lib/postgresql/*/bin``; nothing is installed), tables with GiST indexes, the same coverage
  as one SQL query; the server is stopped and the folder removed even on error.
* ``duckdb``: DuckDB with its spatial extension loaded from the ``duckdb-extension-spatial`` package
  file (no network); the same SQL. Skipped with a message when not installed.

Same definition for every peer. The engine apportions each QPV's area among the units (communes;
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
sys.path.insert(0, str(HERE))

YEAR = 2024
COVERED, PARTIAL = 0.99, 0.01
PEERS = ("engine", "geopandas", "postgis", "duckdb")
TARGETS = {
    "naive_speedup": 5.0,      # engine >= 5x faster than naive geopandas
    "scenario_ms": 5.0,        # one more perimeter
    "cli_s": 5.0,              # whole clsm-geo coverage CLI, warm cache
    "memory_mb": 1536.0,       # peak memory of the engine
    "growth": 10.0,            # time(30,000) / time(300)
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
    (workdir / "prepare.json").write_text(json.dumps(info))
    return info


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
        out["sizes"][str(n)] = res
    out["maxrss_mb"] = _maxrss_mb()
    return out


def _scenario_ms(rel, perims, index, k: int = 200) -> float:
    """Median time to evaluate one more council (a commune or an EPCI) on top of the current network."""
    import numpy as np

    from clsm_geo.perimeters import active_mask, unit_matrix

    active = active_mask(perims.councils, YEAR).to_numpy()
    x = np.minimum(np.asarray(unit_matrix(perims, active).sum(axis=0)).ravel(), 1.0)
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
        for n in sizes:
            cur.execute(POSTGIS_QUERY, {"size": int(n)})                 # warm-up (buffers, plans)
            sec, rows = _timed(lambda: cur.execute(POSTGIS_QUERY, {"size": int(n)}).fetchall(), repeat)
            import numpy as np

            share = np.array([min(float(r[1]), 1.0) for r in rows])
            out["sizes"][str(n)] = {"query_s": sec, "status": dict(zip([r[0] for r in rows], statuses(share).tolist())),
                                    "share": {r[0]: float(r[1]) for r in rows}}
        out["server_peak_mb"] = _proc_hwm_mb(backend)
    out["maxrss_mb"] = _maxrss_mb()
    return out


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


def run_duckdb(workdir: Path, sizes, repeat: int) -> dict:
    import duckdb
    import numpy as np

    con = duckdb_connect()
    t = time.perf_counter()
    duckdb_load(con, *_tables(workdir, sizes))
    out = {"load_s": time.perf_counter() - t, "version": f"DuckDB {duckdb.__version__} + spatial", "sizes": {}}
    for n in sizes:
        duckdb_shares(con, n)
        sec, share = _timed(lambda: duckdb_shares(con, n), repeat)
        st = statuses(np.array(list(share.values())))
        out["sizes"][str(n)] = {"query_s": sec, "status": dict(zip(share, st.tolist())), "share": share}
    out["maxrss_mb"] = _maxrss_mb()
    return out


# ============================================================================== whole CLI
def cli_seconds(registry: Path, repeat: int, qpv_source=None) -> float:
    """Median wall time of ``clsm-geo --offline coverage`` in a subprocess, after one warm-up run."""
    exe = Path(sys.executable).with_name("clsm-geo")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "clsm_geo.cli"]
    with tempfile.TemporaryDirectory() as out:
        cmd = cmd + ["--offline", "--quiet", "coverage", "--year", str(YEAR), "--registry", str(registry), "--out", out]
        if qpv_source:
            cmd += ["--qpv", str(qpv_source)]
        subprocess.run(cmd, check=True, capture_output=True)
        times = []
        for _ in range(max(repeat, 3)):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


# ============================================================================== orchestration
def _worker(args) -> None:
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
    env = dict(os.environ)
    if peer == "engine" and args.engine_path:                   # measure a patched copy of clsm_geo
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.engine_path, env.get("PYTHONPATH")]))
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
    return f"{x * 1000:.0f} ms" if x < 10 else f"{x:.1f} s"


def report(results: dict, prep: dict, sizes, cli_s, skipped: dict) -> tuple[str, bool]:
    """The text report and whether every status agreed."""
    lines = []
    eng = results.get("engine")
    peers = [p for p in ("geopandas", "postgis", "duckdb") if p in results and "error" not in results[p]]
    lines.append(f"Data: {prep['n_qpv_polygons']} QPV polygons, {prep['n_units']} units (COG {YEAR}), "
                 f"{prep['n_pieces']} qpv_unit_piece rows (built in {prep['pieces_s']:.2f} s; max |weight - "
                 f"engine weight| = {prep['weights_max_abs_diff']:.1e})")
    if eng and "error" not in eng:
        lines.append(f"Engine QPV x unit relation built once in {eng['relation_s']:.2f} s (memoised afterwards)")
    for p in peers:
        extra = f", server peak {results[p]['server_peak_mb']:.0f} MB" if results[p].get("server_peak_mb") else ""
        lines.append(f"{p}: load {results[p]['load_s']:.2f} s{extra}  ({results[p].get('version', '')})")
    for p, why in skipped.items():
        lines.append(f"{p}: SKIPPED: {why}")
    for p in ("engine", "geopandas", "postgis", "duckdb", "geopandas-raw"):
        if p in results and "error" in results[p]:
            lines.append(f"{p}: FAILED: {results[p]['error']}")
    lines.append("")
    head = ["councils", "active", "engine geom", "engine commune", "scenario"]
    for p in peers:
        head += [p, "ratio"]
    head += ["agree"]
    rows = [head]
    all_agree = True
    for n in sizes:
        e = eng["sizes"][str(n)] if eng and "error" not in eng else None
        row = [f"{n:,}", f"{e['active']:,}" if e else "—", _fmt_s(e and e["geometry_s"]),
               _fmt_s(e and e["commune_s"]), f"{e['scenario_ms']:.2f} ms" if e else "—"]
        agree = []
        for p in peers:
            r = results[p]["sizes"][str(n)]
            row += [_fmt_s(r["query_s"]), f"{e['geometry_s'] / r['query_s']:.3f}" if e else "—"]
            if e:
                d = disagreements(e, r)
                agree.append(f"{p} {'yes' if not d else f'{len(d)} differ'}")
                all_agree &= not d
        row.append("; ".join(agree))
        rows.append(row)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
    lines.append("(times: median of --repeat; ratio = clsm-geo geometry time / peer query time, lower is better)")
    mem = [f"{p} {results[p]['maxrss_mb']:.0f} MB" for p in ("engine", *peers) if p in results
           and "error" not in results[p]]
    lines.append("Peak memory (max RSS of each peer's process): " + ", ".join(mem))
    if eng and "error" not in eng:
        for p in peers:
            for n in sizes:
                for d in disagreements(eng["sizes"][str(n)], results[p]["sizes"][str(n)])[:5]:
                    lines.append(f"  {p} at {n}: {d[0]} engine {d[1]} ({d[3]:.4f}) vs {d[2]} ({d[4]:.4f})")
    raw = results.get("geopandas-raw")
    if raw and "error" not in raw and eng and "error" not in eng:
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
    lines += _targets(results, sizes, cli_s)
    return "\n".join(lines), all_agree


def _targets(results, sizes, cli_s) -> list[str]:
    out = []
    eng = results.get("engine")
    if not eng or "error" in eng:
        return ["engine did not run: no targets"]
    es = eng["sizes"]
    small, big = str(min(sizes)), str(max(sizes))

    def line(ok, text):
        out.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    gp = results.get("geopandas")
    if gp and "error" not in gp:
        speed = min(gp["sizes"][s]["query_s"] / es[s]["geometry_s"] for s in es)
        line(speed >= TARGETS["naive_speedup"], f"engine >= {TARGETS['naive_speedup']:.0f}x faster than naive "
             f"geopandas at every size: worst {speed:.1f}x")
    pg = results.get("postgis")
    if pg and "error" not in pg:
        e, p = es[small]["geometry_s"], pg["sizes"][small]["query_s"]
        line(e <= p, f"engine <= PostGIS query at {int(small):,} councils: {_fmt_s(e)} vs {_fmt_s(p)}")
    else:
        out.append("SKIP  engine <= PostGIS query: PostGIS did not run")
    worst = max(v["scenario_ms"] for v in es.values())
    line(worst <= TARGETS["scenario_ms"], f"scenario (one more perimeter) <= {TARGETS['scenario_ms']:.0f} ms: "
         f"{worst:.2f} ms (median, worst size)")
    if cli_s is not None:
        line(cli_s <= TARGETS["cli_s"], f"whole CLI run (clsm-geo coverage, {int(small):,} councils, warm cache) "
             f"<= {TARGETS['cli_s']:.0f} s: {cli_s:.2f} s")
    line(eng["maxrss_mb"] <= TARGETS["memory_mb"], f"engine peak memory <= {TARGETS['memory_mb'] / 1024:.1f} GB: "
         f"{eng['maxrss_mb']:.0f} MB")
    if small != big:
        g = es[big]["geometry_s"] / es[small]["geometry_s"]
        line(g <= TARGETS["growth"], f"time at {int(big):,} councils <= {TARGETS['growth']:.0f}x time at "
             f"{int(small):,}: {g:.1f}x ({_fmt_s(es[small]['geometry_s'])} -> {_fmt_s(es[big]['geometry_s'])})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="300,3000,30000", help="registry sizes (councils), comma separated")
    ap.add_argument("--peers", default="engine,geopandas,postgis,duckdb",
                    help="comma separated among engine, geopandas, postgis, duckdb (engine is always run)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measure (median)")
    ap.add_argument("--qpv", default=None, help="QPV 2024 file read through clsm_geo.qpv (default: shipped layer)")
    ap.add_argument("--region", default=None, help="restrict QPV and registries to one region code (smoke runs)")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw-overlay comparison")
    ap.add_argument("--no-cli", action="store_true", help="skip the whole-CLI timing")
    ap.add_argument("--engine-path", default=None,
                    help="folder holding a (patched) clsm_geo package to measure as the engine (PYTHONPATH)")
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help="also write every measure to this JSON file")
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
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
        cli_s = None
        if not args.no_cli and not args.region:
            print("Timing the whole CLI ...", flush=True)
            cli_s = cli_seconds(workdir / f"registry_{sizes[0]}.csv", args.repeat, args.qpv)
        text, agree = report(results, prep, sizes, cli_s, skipped)
    print()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"prepare": prep, "results": results, "cli_s": cli_s}, default=str))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
