"""Territorial units of a COG year: the communes, with Paris, Lyon and Marseille split into arrondissements.

Perimeters and QPV are both expressed as sets of units, so that a council made of some Marseille
arrondissements and a council made of whole communes are measured the same way.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import settings

if TYPE_CHECKING:
    import geopandas as gpd


@functools.lru_cache(maxsize=4)
def unit_table(year: int) -> pd.DataFrame:
    """The units of a COG year without their outlines, sorted by ``unit``: ``unit``, ``insee_com``,
    ``lib_unit``, ``insee_dep``, ``insee_reg``, ``siren_epci``, ``population``, and ``source``/``row``, the
    layer (``communes`` or ``arrondissements``) and row each unit comes from. What the coverage engine reads;
    :func:`units` adds the geometry."""
    from .geography import geography

    geo = geography(year)
    communes = geo.attributes("communes")  # the same rows as geo.communes, without decoding the outlines
    keep = ~communes["insee_com"].isin(list(settings.PLM_CITIES)).to_numpy()
    com = pd.DataFrame({
        "unit": communes["insee_com"], "insee_com": communes["insee_com"], "lib_unit": communes["lib_com"],
        "insee_dep": communes["insee_dep"], "insee_reg": communes["insee_reg"],
        "siren_epci": communes["siren_epci"].to_numpy(), "population": communes["population"]})
    com = com[keep].assign(source="communes", row=np.flatnonzero(keep))
    arm = geo.attributes("arrondissements")
    city_epci = communes.set_index("insee_com")["siren_epci"]
    arr = pd.DataFrame({
        "unit": arm["insee_arm"], "insee_com": arm["insee_com"], "lib_unit": arm["lib_arm"],
        "insee_dep": arm["insee_dep"], "insee_reg": arm["insee_reg"],
        "siren_epci": city_epci.reindex(arm["insee_com"]).to_numpy(), "population": arm["population"]})
    arr = arr.assign(source="arrondissements", row=np.arange(len(arr)))
    return pd.concat([com, arr], ignore_index=True).sort_values("unit", ignore_index=True)


@functools.lru_cache(maxsize=4)
def units(year: int) -> gpd.GeoDataFrame:
    """Units of a COG year, sorted by ``unit``.

    Columns: ``unit`` (commune or arrondissement code), ``insee_com`` (commune; the city for an
    arrondissement), ``lib_unit``, ``insee_dep``, ``insee_reg``, ``siren_epci``, ``population``,
    ``geometry`` (EPSG:4326). The PLM whole-city codes are not units; see :func:`units_of_commune`.
    """
    import geopandas as gpd

    from .geography import geography

    geo = geography(year)
    table = unit_table(year)
    geoms = np.empty(len(table), dtype=object)
    for source, layer in (("communes", geo.communes), ("arrondissements", geo.arrondissements)):
        at = (table["source"] == source).to_numpy()
        geoms[at] = layer.geometry.to_numpy()[table["row"].to_numpy()[at]]
    table = table.drop(columns=["source", "row"])
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, crs=settings.STORAGE_CRS), crs=settings.STORAGE_CRS)


def unit_outlines(year: int, positions) -> dict[int, object]:
    """Outlines (EPSG:4326) of the units at ``positions`` (rows of :func:`unit_arrays` of ``year``), read from
    the boundary layers without building the whole :func:`units` table."""
    from .geography import geography

    geo = geography(year)
    wanted = sorted({int(p) for p in positions})
    codes = unit_arrays(year)["unit"][wanted].tolist()
    out: dict[int, object] = {}
    for name in ("communes", "arrondissements"):
        asked = [(p, c) for p, c in zip(wanted, codes) if p not in out]
        if not asked:
            break
        found = geo.outlines(name, [c for _, c in asked])
        out.update((p, found[c]) for p, c in asked if c in found)
    return out


@functools.lru_cache(maxsize=4)
def _units_by_commune(year: int) -> dict[str, tuple[str, ...]]:
    table = unit_table(year)
    out: dict[str, list[str]] = {}
    for com, unit in zip(table["insee_com"].tolist(), table["unit"].tolist()):   # sorted by unit
        out.setdefault(com, []).append(unit)
    return {com: tuple(us) for com, us in sorted(out.items())}


def units_of_commune(insee_com: str, year: int) -> tuple[str, ...]:
    """Units making up a commune: itself, or the arrondissements of Paris, Lyon or Marseille."""
    return _units_by_commune(year).get(insee_com, ())


@functools.lru_cache(maxsize=4)
def unit_index(year: int) -> pd.Index:
    """Position of each unit code in :func:`units` (for sparse matrices)."""
    return pd.Index(unit_table(year)["unit"].to_numpy())


def indicator(unit_codes, year: int) -> np.ndarray:
    """0/1 float vector over the units of ``year`` with 1 for the given unit codes."""
    index = unit_index(year)
    vec = np.zeros(len(index))
    pos = index.get_indexer(list(unit_codes))
    vec[pos[pos >= 0]] = 1.0
    return vec


@functools.lru_cache(maxsize=4)
def unit_arrays(year: int) -> dict:
    """Arrays and 0/1 sparse matrices over the units of ``year`` for vectorised perimeters (built once).

    ``unit`` (codes, object array), ``position`` (code -> row), ``lookup`` (the codes as an index, for
    ``get_indexer``), ``population``; ``to_commune``, ``to_dep``, ``to_reg``, ``to_epci`` (units × labels)
    with their sorted labels ``communes``, ``deps``, ``regs``, ``epcis``; ``epci_units``:
    ``{"position": siren -> row, "lookup": the SIRENs as an index, "matrix": EPCI × units}``.
    Shipped for the shipped boundaries (``data/prebuilt/units_cog<year>.npz``), else computed
    (:func:`compute_unit_arrays`) and kept in the user cache (:mod:`clsm_geo._prebuilt`).
    """
    from . import _prebuilt

    return _prebuilt.unit_arrays(year, lambda: compute_unit_arrays(year))


def compute_unit_arrays(year: int) -> dict:
    """:func:`unit_arrays` computed from the boundaries of ``year``."""
    from scipy import sparse

    from .geography import geography

    t = unit_table(year)
    codes = np.array(t["unit"].tolist(), dtype=object)
    out = {"unit": codes, "position": dict(zip(codes.tolist(), range(len(codes)))),
           "lookup": pd.Index(codes, dtype=object),
           "population": t["population"].to_numpy(dtype=float)}
    for key, col, labels in (("to_commune", "insee_com", "communes"), ("to_dep", "insee_dep", "deps"),
                             ("to_reg", "insee_reg", "regs"), ("to_epci", "siren_epci", "epcis")):
        values = t[col]
        ok = values.notna().to_numpy()
        pos, uniq = pd.factorize(values[ok], sort=True)
        out[key] = sparse.csr_matrix((np.ones(int(ok.sum())), (np.flatnonzero(ok), pos)),
                                     shape=(len(codes), len(uniq)))
        out[labels] = np.asarray(uniq, dtype=object)
    epci = geography(year).epci
    sirens = epci["siren_epci"].tolist()
    # EPCI -> units: a member commune is its own unit, except Paris/Lyon/Marseille (their arrondissements).
    members = pd.DataFrame({"row": np.arange(len(epci)), "insee_com": epci["members"].to_numpy()})
    members = members.explode("insee_com").dropna(subset=["insee_com"])
    plm = t.loc[t["insee_com"].isin(list(settings.PLM_CITIES)), ["insee_com", "unit"]]
    whole = members[~members["insee_com"].isin(plm["insee_com"])].assign(unit=lambda f: f["insee_com"])
    split = members.merge(plm, on="insee_com", sort=False)
    pairs = pd.concat([whole, split], ignore_index=True)
    cols = pd.Index(codes).get_indexer(pairs["unit"].astype(object))
    keep = cols >= 0
    rows = pairs["row"].to_numpy(dtype=np.int64)[keep]
    out["epci_units"] = {"position": dict(zip(sirens, range(len(sirens)))),
                         "lookup": pd.Index(sirens, dtype=object),
                         "matrix": sparse.csr_matrix((np.ones(int(keep.sum())), (rows, cols[keep])),
                                                     shape=(len(sirens), len(codes)))}
    return out
