"""Tables that depend only on a COG vintage and a QPV layer, built once and reused (private plumbing).

* the unit adjacency of a COG year (:func:`clsm_geo.adjacency.unit_adjacency`, 5–20 s nationally);
* the unit arrays of a COG year (:func:`clsm_geo.units.unit_arrays`: unit codes, unit → commune, department,
  region and EPCI, EPCI → units; 0.06 s, read back in a few milliseconds);
* the QPV × unit relation of a QPV layer and a COG year (:func:`clsm_geo.apportion.qpv_unit_relation`);
* the share of each QPV in the outline of each former commune it meets (:func:`clsm_geo.apportion.
  former_share_table`: measured in each department's projected CRS, read back without a projection library);
* the simplified outlines of the departments and regions of an interactive map of France
  (:func:`clsm_geo.maps.layers.national_territories`, 0.2 s to simplify, for a given GEOS version);
* the outlines of the communes of a COG year that hold a former commune (:meth:`clsm_geo.geography.Geography.
  outlines`: a council listing a former commune is measured inside its commune's outline, and those 2,650
  outlines, read apart, spare decoding the 35,000 of France).

Where they come from, in order:

1. **shipped** with the package in ``data/prebuilt/`` (built by ``scripts/build_prebuilt.py`` for the
   shipped boundaries and the shipped QPV layer, listed with their sha256 in ``data/prebuilt/manifest.json``);
   used only when the digest of their inputs, recorded in the manifest, equals the digest of the
   inputs in use (so new boundaries or another QPV file never get a stale table);
2. the **user cache** (``<cache_dir>/prebuilt/``), keyed by the same digest: a user's QPV file is
   measured once, then read back; a changed file has another sha256, hence another key;
3. otherwise **computed**, silently, and written to the user cache (atomically; a read-only cache
   folder only costs the recomputation next time).

Input digests: the sha256 of the boundary files a table is made from (read from
``data/boundaries/manifest.json``), the QPV frame's content (codes, official communes, departments,
polygons as WKB), the COG year and a format version. Files are ``.npz`` written deterministically
(fixed zip timestamps, no pickled objects), so a rebuild gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

#: Bumped when the content or meaning of a prebuilt table changes.
FORMAT = 1
MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------------------------- digests
def _boundary_digest(year: int, names: tuple[str, ...]) -> str:
    """sha256 over the manifest checksums of the shipped boundary files a table is built from."""
    from .geography import _manifest, boundaries_dir

    files = _manifest(boundaries_dir()).get("files", {})
    h = hashlib.sha256(f"format={FORMAT};year={year}".encode())
    for name in names:
        h.update(f";{name}={files.get(name, {}).get('sha256', 'missing')}".encode())
    return h.hexdigest()


def adjacency_digest(year: int) -> str:
    """Digest of what the unit adjacency of ``year`` depends on (boundaries and the adjacency constants)."""
    from . import adjacency

    base = _boundary_digest(year, (f"communes_{year}.parquet", f"arrondissements_{year}.parquet"))
    extra = f"adjacency;{adjacency.NEIGHBOUR_TOLERANCE_M};{adjacency.MIN_SHARED_M}"
    return hashlib.sha256((base + extra).encode()).hexdigest()


def units_digest(year: int) -> str:
    """Digest of what the unit arrays of ``year`` depend on (communes, arrondissements, EPCI)."""
    base = _boundary_digest(year, (f"communes_{year}.parquet", f"arrondissements_{year}.parquet",
                                   f"epci_{year}.parquet"))
    return hashlib.sha256(f"units;{base}".encode()).hexdigest()


def frame_digest(frame, wkb=None) -> str:
    """Digest of a normalised QPV frame's content used by the relation (codes, communes, polygons).

    ``wkb``: the polygons as WKB when ``frame`` is a layer's attribute table (:attr:`clsm_geo.qpv.QpvLayer.wkb`),
    else those of ``frame``'s geometry column, as shapely writes them."""
    h = hashlib.sha256()
    for col in ("code_qp", "insee_dep"):
        h.update("\x1f".join(map(str, frame[col].tolist())).encode())
    h.update("\x1e".join(";".join(cs) for cs in frame["communes"]).encode())
    if wkb is None and "geometry" in frame:
        import shapely

        wkb = shapely.to_wkb(frame.geometry.to_numpy(), hex=False)
    for one in () if wkb is None else wkb:
        h.update(b"\x1d" + (one or b""))
    return h.hexdigest()


def relation_digest(frame, year: int, wkb=None) -> str:
    """Digest of what the QPV × unit relation depends on (QPV frame, boundaries, code history)."""
    base = _boundary_digest(year, (f"communes_{year}.parquet", f"arrondissements_{year}.parquet",
                                   f"former_communes_{year}.parquet", "code_history.parquet"))
    return hashlib.sha256(f"relation;{base};{frame_digest(frame, wkb)}".encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- files
def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` byte-for-byte reproducibly and atomically (no pickles)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            arr = np.asarray(arrays[name])
            if arr.dtype == object:
                raise TypeError(f"{name}: object arrays are not stored (use fixed-width strings)")
            data = io.BytesIO()
            np.lib.format.write_array(data, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of ``path``, or None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, KeyError, EOFError):
        return None


def shipped_dir() -> Path:
    from .settings import shipped_data_dir

    return shipped_data_dir() / "prebuilt"


def _shipped(kind: str, digest: str) -> dict[str, np.ndarray] | None:
    """A shipped table whose recorded input digest is ``digest`` (checksum verified), else None."""
    folder = shipped_dir()
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for name, entry in manifest.get("files", {}).items():
        if entry.get("kind") == kind and entry.get("inputs") == digest:
            path = folder / name
            try:
                data = path.read_bytes()
            except OSError:
                return None
            if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                return None
            return read_npz(io.BytesIO(data))  # type: ignore[arg-type]
    return None


def _cache_path(kind: str, digest: str) -> Path:
    from . import settings

    return settings.get().cache_dir / "prebuilt" / f"{kind}-{digest[:32]}.npz"


def _get_or_build(kind: str, digest: str, build, encode, decode):
    arrays = _shipped(kind, digest)
    if arrays is None:
        arrays = read_npz(_cache_path(kind, digest))
    if arrays is not None and str(arrays.get("digest", np.array(""))) == digest:
        try:
            return decode(arrays)
        except (KeyError, ValueError, IndexError):
            pass                                             # damaged or foreign: rebuild below
    value = build()
    try:
        write_npz(_cache_path(kind, digest), {**encode(value), "digest": np.array(digest)})
    except OSError:
        pass                                                 # read-only cache: recompute next time
    return value


# ---------------------------------------------------------------------------------------------- adjacency
def encode_adjacency(adj) -> dict[str, np.ndarray]:
    from .units import unit_index

    coo = adj.shared.tocoo()
    upper = coo.row < coo.col
    return {"year": np.array(adj.year), "unit": unit_index(adj.year).to_numpy().astype(str),
            "a": coo.row[upper].astype(np.int32), "b": coo.col[upper].astype(np.int32),
            "length": coo.data[upper].astype(np.float64), "surrounded": np.asarray(adj.surrounded, np.float64)}


def decode_adjacency(arrays: dict[str, np.ndarray]):
    from scipy import sparse

    from .adjacency import UnitAdjacency
    from .units import unit_index

    year = int(arrays["year"])
    codes = unit_index(year).to_numpy().astype(str)
    if not np.array_equal(arrays["unit"], codes):
        raise ValueError("unit order differs")
    a, b, length = arrays["a"].astype(np.int64), arrays["b"].astype(np.int64), arrays["length"]
    n = len(codes)
    shared = sparse.csr_matrix((np.concatenate([length, length]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                               shape=(n, n))
    return UnitAdjacency(year=year, shared=shared, surrounded=arrays["surrounded"].copy())


def adjacency(year: int, build):
    """The unit adjacency of ``year``: shipped, cached or ``build()`` (then cached)."""
    return _get_or_build("adjacency", adjacency_digest(year), build, encode_adjacency, decode_adjacency)


# ---------------------------------------------------------------------------------------------- unit arrays
#: (matrix key, labels key) of the unit → territory tables of :func:`clsm_geo.units.unit_arrays`.
_UNIT_TABLES = (("to_commune", "communes"), ("to_dep", "deps"), ("to_reg", "regs"), ("to_epci", "epcis"))


def encode_unit_arrays(ua: dict, year: int) -> dict[str, np.ndarray]:
    out = {"year": np.array(year), "unit": ua["unit"].astype(str), "population": np.asarray(ua["population"], float)}
    for key, labels in _UNIT_TABLES:
        coo = ua[key].tocoo()
        of_unit = np.full(len(ua["unit"]), -1, dtype=np.int32)
        of_unit[coo.row] = coo.col
        out[f"{key}_of_unit"] = of_unit
        out[labels] = ua[labels].astype(str)
    epci = ua["epci_units"]
    coo = epci["matrix"].tocoo()
    out["epci_sirens"] = np.array(sorted(epci["position"], key=epci["position"].get), dtype=str)
    out["epci_row"], out["epci_col"] = coo.row.astype(np.int32), coo.col.astype(np.int32)
    return out


def decode_unit_arrays(arrays: dict[str, np.ndarray]) -> dict:
    import pandas as pd
    from scipy import sparse

    codes = arrays["unit"].astype(object)
    n = len(codes)
    out = {"unit": codes, "position": dict(zip(codes.tolist(), range(n))), "lookup": pd.Index(codes, dtype=object),
           "population": arrays["population"].copy()}
    for key, labels in _UNIT_TABLES:
        of_unit = arrays[f"{key}_of_unit"].astype(np.int64)
        ok = of_unit >= 0
        out[labels] = arrays[labels].astype(object)
        out[key] = sparse.csr_matrix((np.ones(int(ok.sum())), (np.flatnonzero(ok), of_unit[ok])),
                                     shape=(n, len(out[labels])))
    sirens = arrays["epci_sirens"].tolist()
    rows, cols = arrays["epci_row"].astype(np.int64), arrays["epci_col"].astype(np.int64)
    out["epci_units"] = {"position": dict(zip(sirens, range(len(sirens)))),
                         "lookup": pd.Index(sirens, dtype=object),
                         "matrix": sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sirens), n))}
    return out


def unit_arrays(year: int, build):
    """The unit arrays of COG ``year``: shipped, cached or ``build()`` (then cached)."""
    return _get_or_build("units", units_digest(year), build, lambda ua: encode_unit_arrays(ua, year),
                         decode_unit_arrays)


# ---------------------------------------------------------------------------------------------- relation
def encode_relation(rel) -> dict[str, np.ndarray]:
    w, p = rel.weights.tocoo(), rel.pair_units.tocoo()
    unres_q = [q for q, cs in rel.unresolved.items() for _ in cs]
    unres_c = [c for cs in rel.unresolved.values() for c in cs]
    return {"year": np.array(rel.year), "qpv_codes": np.asarray(rel.qpv_codes).astype(str),
            "has_polygon": np.asarray(rel.has_polygon, bool),
            "w_row": w.row.astype(np.int32), "w_col": w.col.astype(np.int32), "w_data": w.data.astype(np.float64),
            "pair_qpv": np.asarray(rel.pair_qpv, np.int64), "pair_commune": np.asarray(rel.pair_commune).astype(str),
            "p_row": p.row.astype(np.int32), "p_col": p.col.astype(np.int32),
            "pair_size": np.asarray(rel.pair_size, np.float64), "n_units": np.array(rel.weights.shape[1]),
            "unresolved_qpv": np.array(unres_q, dtype=str), "unresolved_commune": np.array(unres_c, dtype=str)}


def decode_relation(arrays: dict[str, np.ndarray], frame=None):
    from scipy import sparse

    from .apportion import QpvUnitRelation

    codes = arrays["qpv_codes"]
    if frame is not None and not np.array_equal(codes, frame["code_qp"].to_numpy().astype(str)):
        raise ValueError("QPV order differs")
    n_q, n_u, n_p = len(codes), int(arrays["n_units"]), len(arrays["pair_qpv"])
    weights = sparse.csr_matrix((arrays["w_data"], (arrays["w_row"], arrays["w_col"])), shape=(n_q, n_u))
    pair_units = sparse.csr_matrix((np.ones(len(arrays["p_row"])), (arrays["p_row"], arrays["p_col"])),
                                   shape=(n_p, n_u))
    unresolved: dict[str, list[str]] = {}
    for q, c in zip(arrays["unresolved_qpv"].tolist(), arrays["unresolved_commune"].tolist()):
        unresolved.setdefault(q, []).append(c)
    qpv_codes = frame["code_qp"].to_numpy() if frame is not None else codes.astype(object)
    return QpvUnitRelation(year=int(arrays["year"]), qpv_codes=qpv_codes, has_polygon=arrays["has_polygon"].copy(),
                           weights=weights, pair_qpv=arrays["pair_qpv"].copy(),
                           pair_commune=arrays["pair_commune"].copy(), pair_units=pair_units,
                           pair_size=arrays["pair_size"].copy(), unresolved=unresolved)


def relation(frame, year: int, build, wkb=None):
    """The QPV × unit relation of ``frame`` and COG ``year``: shipped, cached or ``build()`` (then cached).
    ``wkb``: see :func:`frame_digest`."""
    return _get_or_build("relation", relation_digest(frame, year, wkb), build, encode_relation,
                         lambda arrays: decode_relation(arrays, frame))


# ---------------------------------------------------------------------------------------------- former communes
def former_digest(frame, year: int, wkb=None) -> str:
    """Digest of what the former-commune shares depend on: the relation's inputs (QPV frame, communes and their
    codes) and the outlines of the former communes of ``year``."""
    base = _boundary_digest(year, (f"former_outlines_{year}.parquet",))
    return hashlib.sha256(f"former;{base};{relation_digest(frame, year, wkb)}".encode()).hexdigest()


def encode_former(shares: dict) -> dict[str, np.ndarray]:
    keys = sorted(shares)
    return {"q": np.array([k[0] for k in keys], dtype=np.int32), "u": np.array([k[1] for k in keys], dtype=np.int32),
            "code": np.array([k[2] for k in keys], dtype=str),
            "piece": np.array([shares[k][0] for k in keys], dtype=np.float64),
            "union": np.array([shares[k][1] for k in keys], dtype=np.float64)}


def decode_former(arrays: dict[str, np.ndarray]) -> dict:
    return {(q, u, c): (a, b) for q, u, c, a, b in zip(arrays["q"].tolist(), arrays["u"].tolist(),
                                                       arrays["code"].tolist(), arrays["piece"].tolist(),
                                                       arrays["union"].tolist())}


def former_shares(frame, year: int, wkb=None) -> dict | None:
    """The shares of :func:`clsm_geo.apportion.former_share_table` for ``frame`` and COG ``year`` when shipped (or
    cached) for exactly these inputs, else None: the engine then measures the few it needs (never built here: a
    user's QPV file would pay for every former commune of France to spare a few measures)."""
    digest = former_digest(frame, year, wkb)
    arrays = _shipped("former", digest)
    if arrays is None:
        arrays = read_npz(_cache_path("former", digest))
    if arrays is None or str(arrays.get("digest", np.array(""))) != digest:
        return None
    try:
        return decode_former(arrays)
    except (KeyError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- map territories
def territories_digest(year: int, tolerance: float, decimals: int) -> str:
    """Digest of the simplified department and region outlines of an interactive map: the two layers, the
    tolerance and rounding, and the GEOS version (which draws the simplification)."""
    import shapely

    base = _boundary_digest(year, (f"departements_{year}.parquet", f"regions_{year}.parquet"))
    extra = f"territories;{tolerance!r};{decimals};geos={shapely.geos_version_string}"
    return hashlib.sha256(f"{base};{extra}".encode()).hexdigest()


def encode_territories(shapes: dict[str, tuple[list[str], np.ndarray]], year: int) -> dict[str, np.ndarray]:
    """``{"department": (codes, outlines), "region": ...}`` as stored: per level, codes in layer order and the
    WKB of each outline in one byte array with its offsets."""
    import shapely

    out: dict[str, np.ndarray] = {"year": np.array(year)}
    for level, (codes, geoms) in shapes.items():
        wkb = shapely.to_wkb(np.asarray(geoms, dtype=object), hex=False)
        sizes = np.fromiter((len(w) for w in wkb), dtype=np.int64, count=len(wkb))
        out[f"{level}_code"] = np.array(codes, dtype=str)
        out[f"{level}_offset"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        out[f"{level}_wkb"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    return out


def decode_territories(arrays: dict[str, np.ndarray], codes_of: dict[str, list[str]] | None = None
                       ) -> dict[str, tuple[list[str], np.ndarray]]:
    """``codes_of``: the codes each level must have, in this order (else ValueError)."""
    import shapely

    out = {}
    for level in ("department", "region"):
        data, bounds = arrays[f"{level}_wkb"].tobytes(), arrays[f"{level}_offset"].tolist()
        codes = arrays[f"{level}_code"].tolist()
        if len(bounds) != len(codes) + 1 or bounds[-1] != len(data):
            raise ValueError("offsets do not match the outlines")
        if codes_of is not None and codes != codes_of[level]:
            raise ValueError(f"{level} order differs")
        out[level] = (codes, shapely.from_wkb([data[a:b] for a, b in zip(bounds[:-1], bounds[1:])]))
    return out


def territories(year: int, tolerance: float, decimals: int, build, codes_of: dict[str, list[str]]):
    """The simplified department and region outlines of an interactive map of COG ``year``, in the order of
    ``codes_of`` (level -> codes): shipped, cached or ``build()`` (then cached)."""
    return _get_or_build("territories", territories_digest(year, tolerance, decimals), build,
                         lambda shapes: encode_territories(shapes, year),
                         lambda arrays: decode_territories(arrays, codes_of))


# ---------------------------------------------------------------------------------------------- parent outlines
def parents_digest(year: int) -> str:
    """Digest of what the outlines of the communes holding a former commune depend on (communes, former
    communes' outlines)."""
    base = _boundary_digest(year, (f"communes_{year}.parquet", f"former_outlines_{year}.parquet"))
    return hashlib.sha256(f"parents;{base}".encode()).hexdigest()


def encode_outlines(outlines: dict[str, bytes], year: int) -> dict[str, np.ndarray]:
    """Outlines as stored: codes in order, the offsets of each one's WKB in one byte array."""
    codes = sorted(outlines)
    sizes = np.fromiter((len(outlines[c]) for c in codes), dtype=np.int64, count=len(codes))
    return {"year": np.array(year), "code": np.array(codes, dtype=str),
            "offset": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            "wkb": np.frombuffer(b"".join(outlines[c] for c in codes), dtype=np.uint8)}


def decode_outlines(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """code -> WKB (EPSG:4326), as the boundary layer stores it."""
    data, bounds = arrays["wkb"].tobytes(), arrays["offset"].tolist()
    if len(bounds) != len(arrays["code"]) + 1 or bounds[-1] != len(data):
        raise ValueError("offsets do not match the outlines")
    return {c: data[a:b] for c, a, b in zip(arrays["code"].tolist(), bounds[:-1], bounds[1:])}


def parent_outlines(year: int, build) -> dict[str, bytes]:
    """WKB outline of each commune of COG ``year`` holding a former commune: shipped, cached or ``build()``
    (then cached)."""
    return _get_or_build("parents", parents_digest(year), build, lambda v: encode_outlines(v, year),
                         decode_outlines)
