"""Which units (communes; arrondissements in Paris, Lyon and Marseille) of a COG year share a boundary.

A table of the vintage (:class:`clsm_geo.vintages.Vintage`): it depends only on the boundaries of the year,
is shipped for the shipped years and cached for others (:mod:`clsm_geo._prebuilt`). Lengths are metres in the
projected CRS of each unit's department. Gaps (enclaves) and the plan (neighbours) read it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse

from . import _progress

__all__ = ["MIN_SHARED_M", "NEIGHBOUR_TOLERANCE_M", "SURROUNDED_SHARE", "UnitAdjacency", "compute_unit_adjacency",
           "unit_adjacency"]

#: Distance under which two unit boundaries are taken as one (metres, projected CRS).
NEIGHBOUR_TOLERANCE_M = 5.0
#: Shared boundary length from which two units are neighbours (shorter: they touch at a point).
MIN_SHARED_M = 50.0
#: Share of a unit's boundary that must run along its neighbours for it to be enclosed (not on a coast
#: or a national border).
SURROUNDED_SHARE = 0.98


@dataclass(frozen=True)
class UnitAdjacency:
    """Neighbourhood of the units of a COG year (rows/columns in :func:`clsm_geo.units.unit_index` order).

    ``shared[a, b]``: metres of boundary shared by units a and b (symmetric, only pairs sharing at
    least :data:`MIN_SHARED_M`). ``surrounded``: share of each unit's boundary that runs along other
    units (below 1 on coasts and national borders).
    """

    year: int
    shared: sparse.csr_matrix
    surrounded: np.ndarray

    def neighbours(self, i: int) -> np.ndarray:
        return self.shared.indices[self.shared.indptr[i]:self.shared.indptr[i + 1]]

    def neighbours_of(self, positions) -> np.ndarray:
        """Units neighbouring any of ``positions`` (the positions themselves excluded)."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) == 0:
            return positions
        # the column indices of those rows, read from the CSR arrays (no sub-matrix built)
        starts = self.shared.indptr[positions]
        lengths = self.shared.indptr[positions + 1] - starts
        at = np.arange(int(lengths.sum())) + np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        out = np.unique(self.shared.indices[at])
        return np.setdiff1d(out, positions, assume_unique=True)


@functools.lru_cache(maxsize=2)
def unit_adjacency(year: int) -> UnitAdjacency:
    """Which units share a boundary (see :func:`compute_unit_adjacency`).

    Shipped for the shipped boundaries, else computed once (5–20 s nationally) and kept in the user
    cache (:mod:`clsm_geo._prebuilt`).
    """
    from . import _prebuilt

    return _prebuilt.adjacency(year, lambda: compute_unit_adjacency(year))


@_progress.stepped("adjacency")
def compute_unit_adjacency(year: int, only=None) -> UnitAdjacency:
    """Which units share a boundary, computed from the boundaries (about 5 s nationally).

    ``only``: positions of units to restrict the pairs to (tests compare a part with the shipped table).

    The shipped boundaries are simplified but form a clean coverage; to stay robust anyway, the length
    a unit shares with another is the length of its boundary lying within :data:`NEIGHBOUR_TOLERANCE_M`
    of the other (in the department's projected CRS), and units touching at a corner (less than
    :data:`MIN_SHARED_M` in common) are not neighbours.
    """
    from .geography import crs_by_department, project_by_department
    from .units import units

    table = units(year)
    geoms = project_by_department(table)
    crs = crs_by_department(table)
    n = len(table)
    firsts, seconds = [], []
    for code in np.unique(crs):
        idx = np.flatnonzero(crs == code)
        if only is not None:
            idx = np.intersect1d(idx, np.asarray(only, dtype=np.int64))
        a, b = shapely.STRtree(geoms[idx]).query(geoms[idx], predicate="dwithin", distance=NEIGHBOUR_TOLERANCE_M)
        keep = a < b
        firsts.append(idx[a[keep]])
        seconds.append(idx[b[keep]])
    a = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
    b = np.concatenate(seconds) if seconds else np.zeros(0, np.int64)
    boundary = shapely.boundary(geoms)
    sel = np.arange(n) if only is None else np.asarray(only, dtype=np.int64)
    buffered = np.full(n, None, dtype=object)
    buffered[sel] = shapely.buffer(geoms[sel], NEIGHBOUR_TOLERANCE_M, quad_segs=2)
    length = shapely.length(shapely.intersection(boundary[a], buffered[b])) if len(a) else np.zeros(0)
    along = np.bincount(a, weights=length, minlength=n) + np.bincount(b, weights=length, minlength=n)
    surrounded = np.clip(along / np.maximum(shapely.length(boundary), 1e-9), 0.0, 1.0)
    keep = length >= MIN_SHARED_M
    a, b, length = a[keep], b[keep], length[keep]
    shared = sparse.csr_matrix((np.concatenate([length, length]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                               shape=(n, n))
    return UnitAdjacency(year=year, shared=shared, surrounded=surrounded)
