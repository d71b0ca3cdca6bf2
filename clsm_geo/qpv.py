"""QPV layers (quartiers prioritaires de la politique de la ville) in one normalised schema.

:func:`qpv` returns a :class:`QpvLayer` whose ``frame`` (a GeoDataFrame) has exactly these columns, in
this order, one row per ``code_qp``, sorted, with a RangeIndex; its ``table`` has the same but ``geometry``
(what the coverage engine reads: no geopandas needed) and its ``geometries`` the polygons:

=============  =====================================================================================
``code_qp``    QPV code (``QN…`` for the 2024 geography, ``QP…`` for 2015)
``lib_qp``     name
``communes``   tuple of INSEE commune codes, sorted; Paris/Lyon/Marseille as 75056/69123/13055
``insee_dep``  department of the first commune (official department when the file gives it)
``insee_reg``  region
``siren_epci`` EPCI of the first commune, or None
``overseas``   True outside metropolitan France
``area_ha``    planar area in the projected CRS of the department (NaN without polygon)
``geometry``   EPSG:4326 MultiPolygon, valid, or None when unknown
=============  =====================================================================================

Where the layer comes from (first found): the ``source`` argument (file, folder or URL), the cache
filled by ``clsm-geo data fetch --qpv``, the layer shipped with the package (2024 geography only).
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clsm_geo import i18n
from clsm_geo import settings as _settings
from clsm_geo.errors import DataSourceError, InputError
from clsm_geo.io import file_sha256
from clsm_geo.qpv_sources import COLUMNS, QpvDataWarning, read_qpv_source  # noqa: F401  (re-exported)

__all__ = ["COLUMNS", "QpvDataWarning", "QpvLayer", "QpvSource", "catalogue", "default_source_key", "fetch_qpv",
           "load_layer_file", "qpv", "qpv_geography_for_year", "shipped_layers"]

GEOGRAPHIES = (2015, 2024)
#: Key of the parquet schema metadata holding the shipped layer's description (JSON).
METADATA_KEY = b"clsm_geo.qpv"


@dataclass(frozen=True)
class QpvSource:
    """Where a QPV layer comes from and how good it is."""

    kind: str  # "user" | "cache" | "shipped"
    location: str
    edition: str
    precision: str
    has_polygons: bool
    sha256: str | None = None
    #: ``edition`` and ``precision`` in words of the catalogue, for people (:func:`clsm_geo.provenance.edition`):
    #: parts ``(key, ((name, value), ...))`` written in the language in force; empty: the text as recorded
    #: (an official file's own description).
    edition_words: tuple = ()
    precision_words: tuple = ()

    def describe(self, lang: str | None = None) -> str:
        """Everything about the source, for people (:func:`clsm_geo.provenance.detail`)."""
        from .provenance import detail

        return detail(self, lang)


class QpvLayer:
    """A normalised QPV layer of one ``geography`` (2015/2024) from ``source``.

    ``table``: one row per QPV with the columns of the module documentation but ``geometry`` (a pandas
    DataFrame: reading it needs no geopandas); ``geometries``: the polygons in the same order (shapely,
    EPSG:4326, None where unknown) and ``wkb`` the same as WKB, each decoded or encoded on first use;
    ``frame``: the whole layer as a GeoDataFrame (EPSG:4326), built on first use.
    ``QpvLayer(frame, geography, source)`` makes a layer of a normalised GeoDataFrame.
    """

    def __init__(self, frame=None, geography: int | None = None, source: QpvSource | None = None, parts: tuple = (),
                 missing: tuple = (), *, table=None, wkb=None, geometries=None):
        if (frame is None) == (table is None):
            raise TypeError("QpvLayer: give either frame or table")
        if frame is not None:
            table = frame.drop(columns=[frame.geometry.name])
            geometries = frame.geometry.to_numpy()
            self.__dict__["frame"] = frame
        if wkb is None and geometries is None:
            raise TypeError("QpvLayer: a table needs its wkb or geometries")
        self.table = table
        self.geography = geography
        self.source = source
        #: For a layer assembled by :func:`clsm_geo.in_force.layer_for_year`: the layers it was made of and
        #: the geographies that were needed but not found (:class:`clsm_geo.in_force.MissingGeography`).
        self.parts = tuple(parts)
        self.missing = tuple(missing)
        if wkb is not None:
            self.__dict__["wkb"] = wkb
        if geometries is not None:
            self.__dict__["geometries"] = geometries

    def __repr__(self) -> str:
        return f"<QpvLayer {self.geography}: {len(self.table)} QPV from {self.source.kind if self.source else '?'}>"

    @functools.cached_property
    def geometries(self) -> np.ndarray:
        """The polygons, in the order of :attr:`table` (shapely, EPSG:4326; None where unknown)."""
        import shapely

        return shapely.from_wkb(self.wkb)

    @functools.cached_property
    def wkb(self) -> np.ndarray:
        """The polygons as WKB (bytes, little-endian, as shapely writes them; None where unknown)."""
        import shapely

        return shapely.to_wkb(self.geometries, hex=False)

    @property
    def has_polygons(self) -> bool:
        """Whether any QPV has a polygon."""
        stored = self.__dict__.get("wkb")
        values = stored if stored is not None else self.geometries
        return any(v is not None for v in values.tolist())

    @functools.cached_property
    def frame(self):
        """The layer as a GeoDataFrame (EPSG:4326): :attr:`table`'s columns with ``geometry`` in its place of
        :data:`COLUMNS` (after ``area_ha``; other columns after it)."""
        import geopandas as gpd

        columns = list(self.table.columns)
        at = columns.index("area_ha") + 1 if "area_ha" in columns else len(columns)
        frame = gpd.GeoDataFrame(self.table, geometry=gpd.GeoSeries(self.geometries, index=self.table.index,
                                                                     crs=_settings.STORAGE_CRS),
                                 crs=_settings.STORAGE_CRS)
        return frame[columns[:at] + ["geometry"] + columns[at:]]


# ----------------------------------------------------------------------------------- calendar
def qpv_geography_for_year(year: int, *, overseas: bool = False) -> int:
    """QPV geography in force in ``year``.

    Metropolitan France: 2015 geography for 2015–2023, 2024 geography from 1 January 2024
    (décret n° 2023-1314). Overseas (DROM, Saint-Martin, Polynésie française): the 2015 geography
    still applies in 2024, the new one from 1 January 2025 (décrets n° 2024-1211 and 2024-1212).
    """
    if isinstance(year, bool) or not (isinstance(year, numbers.Integral)
                                      or (isinstance(year, str) and year.strip().isdigit())):
        raise InputError(i18n.t("data.qpv.year_not_whole", year=repr(year)))
    year = int(year)
    if year < 2015:
        raise InputError(i18n.t("data.qpv.before_2015", year=year))
    if overseas:
        return 2015 if year <= 2024 else 2024
    return 2015 if year <= 2023 else 2024


def _check_geography(geography) -> int:
    try:
        g = int(geography)
    except (TypeError, ValueError):
        g = None
    if g not in GEOGRAPHIES:
        raise InputError(i18n.t("data.qpv.unknown_geography", geography=repr(geography)),
                         hint=i18n.t("data.qpv.unknown_geography_hint"))
    return g


# ----------------------------------------------------------------------------------- catalogue & shipped
def _qpv_data_dir() -> Path:
    return _settings.shipped_data_dir() / "qpv"


def catalogue() -> dict:
    """The catalogue of official QPV files (``data/qpv/catalogue.json``)."""
    path = _qpv_data_dir() / "catalogue.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataSourceError(i18n.t("data.qpv.catalogue_unreadable", path=path, error=exc)) from exc


def _default_resource(geography: int) -> dict:
    geo = catalogue()["geographies"][str(geography)]
    wanted = geo.get("default")
    for res in geo["resources"]:
        if res["id"] == wanted:
            return res
    raise DataSourceError(i18n.t("data.qpv.catalogue_no_default", geography=geography))


def _parquet_meta(path: Path) -> dict:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    try:
        return json.loads(meta.get(METADATA_KEY, b"{}"))
    except ValueError:
        return {}


def load_layer_file(path: str | Path):
    """Read a normalised layer written by ``scripts/build_qpv_layer.py`` (GeoParquet) as a GeoDataFrame."""
    table, polygons = _read_layer_file(path)
    return QpvLayer(table=table, **polygons).frame


def _read_layer_file(path: str | Path):
    """A normalised layer file as (attribute table, polygons): read by pyarrow and decoded by shapely when its
    CRS is EPSG:4326 (the shipped layers), else by geopandas and reprojected; polygons: ``QpvLayer``'s
    keyword arguments (``wkb`` as stored and ``geometries``, or ``geometries`` alone)."""
    import pyarrow.parquet as pq
    import shapely

    from clsm_geo.qpv_normalise import finalise, finalise_table

    path = Path(path)
    try:
        data = pq.ParquetFile(path).read()  # the file alone, not as a dataset (see geography._read_table)
        geo = json.loads((data.schema.metadata or {}).get(b"geo", b"{}"))
    except Exception as exc:  # pyarrow errors have many classes
        raise DataSourceError(i18n.t("data.qpv.layer_unreadable", path=path, error=f"{type(exc).__name__}: {exc}")) from exc
    missing = [c for c in COLUMNS if c not in data.column_names]
    if missing:
        raise DataSourceError(i18n.t("data.qpv.layer_columns", path=path, columns=", ".join(missing)),
                              hint=i18n.t("data.qpv.layer_columns_hint"))
    column = geo.get("columns", {}).get("geometry", {})
    crs = column.get("crs", {}) if isinstance(column.get("crs"), dict) else {}
    if column.get("encoding", "").upper() != "WKB" or crs.get("id", {}).get("code") != 4326:
        import geopandas as gpd

        gdf = gpd.read_parquet(path)
        gdf = gdf.to_crs(_settings.STORAGE_CRS) if gdf.crs is not None else gdf.set_crs(_settings.STORAGE_CRS)
        gdf["geometry"] = gdf.geometry.where(~(gdf.geometry.isna() | gdf.geometry.is_empty), None)
        layer = QpvLayer(finalise(gdf))
        return layer.table, {"geometries": layer.geometries}
    table = finalise_table(data.to_pandas())
    wkb = table.pop("geometry").to_numpy()
    geometries = shapely.from_wkb(wkb)
    empty = shapely.is_empty(geometries)
    if empty.any():
        wkb = wkb.copy()
        geometries[empty], wkb[empty] = None, None
    return table, {"wkb": wkb, "geometries": geometries}


def shipped_layers() -> list[dict]:
    """Shipped QPV layers: path, geography, rows, size, sha256, edition, precision (for ``data status``)."""
    import pyarrow.parquet as pq

    out = []
    for path in sorted(_qpv_data_dir().glob("qpv*.parquet")):
        meta = _parquet_meta(path)
        out.append({
            "path": str(path),
            "geography": meta.get("geography"),
            "rows": pq.read_metadata(path).num_rows,
            "size": path.stat().st_size,
            "sha256": file_sha256(path),
            "edition": meta.get("edition"),
            "precision": meta.get("precision"),
        })
    return out


# ----------------------------------------------------------------------------------- loading
def _describe_read(report, frame) -> tuple[str, str, bool, tuple, tuple]:
    """Edition and precision of a file read: as recorded (English, ``summary.json``) and in catalogue words."""
    has_polygons = bool(frame.geometry.notna().any())
    where = f"{report.format or 'file'}" + (f", member {report.member}" if report.member else "")
    kind = "polygons" if report.kind == "polygons" else "list"
    edition = f"user-supplied QPV {kind} ({where})"
    edition_words = ((f"provenance.user.{kind}", (("format", report.format or "?"),)),)
    if report.member:
        edition_words += (("provenance.user.member", (("member", report.member),)),)
    if has_polygons:
        precision = "polygons as supplied"
        precision_words: tuple = (("provenance.user.as_supplied", ()),)
        if report.invalid_in:
            precision += f" ({len(report.invalid_in)} invalid geometries repaired)"
            precision_words += (("provenance.user.repaired", (("n", len(report.invalid_in)),)),)
        if report.emptied:
            precision += f"; {len(report.emptied)} QPV without usable polygon"
            precision_words += (("provenance.user.emptied", (("n", len(report.emptied)),)),)
    else:
        precision = "no polygons: QPV codes and communes only (commune-based coverage only)"
        precision_words = (("provenance.user.no_polygons", ()),)
    return edition, precision, has_polygons, edition_words, precision_words


def _from_file(path: Path, geography: int, *, kind: str, location: str, sha256: str | None,
               edition: str | None = None, label: str | None = None, resource: str | None = None) -> QpvLayer:
    """``edition``: the recorded description of a cached file (else the reader's); ``resource``: the id of the
    official file in ``data/qpv/catalogue.json`` it was fetched from, described in the catalogue's words."""
    frame, report = read_qpv_source(path, geography, label=label)
    ed, precision, has_polygons, ed_words, precision_words = _describe_read(report, frame)
    if edition:  # recorded when the file was fetched; people read the official file's description
        ed = edition
        if resource:
            ed_words = ((f"provenance.official.{resource}", ()),)
    return QpvLayer(frame, geography, QpvSource(kind, location, ed, precision, has_polygons, sha256,
                                                ed_words, precision_words))


def default_source_key(geography: int, settings=None) -> tuple:
    """What :func:`qpv` reads for ``geography`` without a source: the cached file (``clsm-geo data fetch
    --qpv``), else the shipped layer, else nothing; with its recorded sha256, size and modification time
    (ns). The key changes whenever that file does; nothing is read or hashed (the cache index only)."""
    from clsm_geo.cache import cache_entries

    s = settings or _settings.get()
    wanted = f"qpv{geography}"
    found = [e for e in cache_entries(settings=s) if e.key == wanted]
    candidates = [("cache", found[0].path, found[0].sha256)] if found else []
    candidates.append(("shipped", _qpv_data_dir() / f"qpv{geography}.parquet", None))
    for kind, path, sha in candidates:
        try:
            st = Path(path).stat()
        except OSError:
            continue
        return kind, str(path), sha, st.st_size, st.st_mtime_ns
    return ("none",)


def qpv(geography: int = 2024, source: str | Path | None = None, *, settings=None) -> QpvLayer:
    """The QPV layer of ``geography`` (2015 or 2024), normalised (see the module documentation).

    ``source``: a local file or folder (any supported format) or an http(s) URL (downloaded once into
    the cache). Without it: the cached official file (``clsm-geo data fetch --qpv``), then the shipped
    layer (2024 only).
    """
    s = settings or _settings.get()
    geography = _check_geography(geography)
    if source is not None:
        text = str(source)
        if re.match(r"^https?://", text, flags=re.I):
            from clsm_geo.cache import cache_put

            key = f"qpv{geography}-url-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
            entry = cache_put(key, text, validate=_validator(geography, text, user_file=False), settings=s,
                              meta={"geography": geography, "edition": "user URL", "url": text})
            return _from_file(Path(entry.path), geography, kind="user", location=text, sha256=entry.sha256,
                              label=text)
        path = Path(text).expanduser()
        if not path.exists():
            raise InputError(i18n.t("data.qpv.not_found", path=path))
        sha = file_sha256(path) if path.is_file() else None
        return _from_file(path, geography, kind="user", location=str(path), sha256=sha)

    entry = None
    try:
        from clsm_geo.cache import cache_get
    except ImportError:
        cache_get = None
    if cache_get is not None:
        entry = cache_get(f"qpv{geography}", settings=s)
    if entry is not None:
        meta = dict(entry.meta or {})
        try:
            return _from_file(Path(entry.path), geography, kind="cache", location=str(entry.source or entry.path),
                              sha256=entry.sha256, edition=meta.get("edition"), label=str(entry.path),
                              resource=meta.get("resource"))
        except InputError as exc:
            raise DataSourceError(i18n.t("data.qpv.cache_unreadable", geography=geography, error=exc.message),
                                  hint=i18n.t("data.qpv.fetch_hint", geography=geography)) from exc

    shipped = _qpv_data_dir() / f"qpv{geography}.parquet"
    if shipped.is_file():
        meta = _parquet_meta(shipped)
        table, polygons = _read_layer_file(shipped)
        return QpvLayer(table=table, geography=geography, **polygons, source=QpvSource(
            "shipped", str(shipped), meta.get("edition", "shipped QPV layer"), meta.get("precision", "unknown"),
            any(g is not None for g in polygons["geometries"].tolist()), file_sha256(shipped),
            ((f"provenance.shipped.edition_{geography}", ()),), ((f"provenance.shipped.precision_{geography}", ()),)))
    raise DataSourceError(i18n.t("data.qpv.none_available", geography=geography),
                          hint=i18n.t("data.qpv.none_available_hint", geography=geography))


def _validator(geography: int, label: str, *, user_file: bool):
    """Check a fetched file loads; a bad local file is the user's input error, a bad download a source error."""
    error = InputError if user_file else DataSourceError

    def validate(path) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QpvDataWarning)
                read_qpv_source(Path(path), geography, attributes=False, require_communes=False, label=label)
        except InputError as exc:
            raise error(i18n.t("data.qpv.not_usable", label=label, geography=geography, error=exc.message),
                        hint=i18n.t("data.qpv.cache_unchanged")) from exc
    return validate


def fetch_qpv(geography: int, source: str | Path | None = None, *, settings=None, accept_new_edition: bool = False):
    """Download (or copy) the official QPV file of ``geography`` into the cache under ``qpv{geography}``.

    ``source`` None = the default official URL of ``data/qpv/catalogue.json``. The file is read with
    the QPV readers before it is committed, so a bad file never replaces a good cache entry. When the
    catalogue pins the edition (an optional ``sha256`` per resource), another file is refused unless
    ``accept_new_edition``. Returns the :class:`clsm_geo.cache.CacheEntry`.
    """
    from clsm_geo.errors import ChecksumMismatchError
    from clsm_geo.i18n import t

    from clsm_geo.cache import cache_put

    s = settings or _settings.get()
    geography = _check_geography(geography)
    filename = None
    pinned = None
    if source is None:
        res = _default_resource(geography)
        if not res.get("url"):
            raise DataSourceError(i18n.t("data.qpv.no_url", geography=geography, note=res.get("note", "")),
                                  hint=i18n.t("data.qpv.no_url_hint", geography=geography))
        source, edition, filename = res["url"], res.get("edition") or res["title"], res.get("filename")
        meta = {"geography": geography, "edition": edition, "url": source, "resource": res["id"]}
        pinned = (res.get("sha256") or "").strip().lower() or None  # checked when known (null until confirmed)
        if pinned and accept_new_edition:
            meta["edition"] = f"{edition}; {t('download.accepted_new_edition')}"
            pinned = None
    else:
        text = str(source)
        is_url = bool(re.match(r"^https?://", text, flags=re.I))
        if not is_url and not Path(text).expanduser().is_file():
            raise InputError(i18n.t("data.qpv.fetch_not_found", path=text))
        meta = {"geography": geography, "edition": "user-supplied file",
                ("url" if is_url else "path"): text if is_url else str(Path(text).expanduser().resolve())}
        source = text if is_url else Path(text).expanduser()
    try:
        return cache_put(f"qpv{geography}", source, filename=filename, meta=meta, sha256=pinned,
                         validate=_validator(geography, str(source), user_file=isinstance(source, Path)),
                         settings=s)
    except ChecksumMismatchError as exc:
        if pinned is None:
            raise
        raise DataSourceError(t("download.new_edition", geography=geography, url=source, expected=pinned,
                                got=exc.got or "?"), hint=t("download.new_edition_hint")) from exc

