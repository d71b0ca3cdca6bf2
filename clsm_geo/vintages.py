"""The vintage of a year studied: what depends only on the year, built once and passed down the pipeline.

:func:`vintage` gives a :class:`Vintage`: the COG geography of the year, the QPV layer in force (each territory
in its geography: in 2024, the 2024 QPV in metropolitan France and the 2015 ones overseas) and, on first use,
the tables derived from them (units, the QPV × unit relation, the unit adjacency). :func:`clsm_geo.coverage`
builds one (or takes one) and keeps it on its result, where gaps, plan, maps and report read it.

Which years can be measured: from 2015 (the QPV were created on 1 January 2015) to the last COG year shipped
(:data:`clsm_geo.geography.SHIPPED_YEARS`). Years before the first shipped COG are measured with its codes and
the 2015 QPV geography. Any other year is an error: never a silent substitution. Importing this module is
light (the CLI checks years with it before importing pandas).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .errors import InputError
from .i18n import t

__all__ = ["FIRST_YEAR", "Vintage", "check_year", "layer_of_year", "relation_for", "vintage", "years"]

#: First year the QPV exist.
FIRST_YEAR = 2015


def years() -> range:
    """Every year that can be measured."""
    from .geography import SHIPPED_YEARS

    return range(FIRST_YEAR, max(SHIPPED_YEARS) + 1)


def check_year(year, lang: str | None = None) -> int:
    """``year`` as an int when it can be measured, else :class:`InputError` (in ``lang``) listing the years and
    how to get another COG vintage."""
    from .geography import SHIPPED_YEARS

    possible = years()
    try:
        value = int(year)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(year, bool) or value not in possible:
        raise InputError(t("cli.year.unavailable", lang, year=year, first=possible[0], last=possible[-1],
                           vintages=", ".join(map(str, SHIPPED_YEARS))), hint=t("cli.year.how", lang))
    return value


@dataclass(frozen=True, eq=False)
class Vintage:
    """The data of one year studied. ``year``: the year (figures at 31 December); ``geography``: the COG
    boundaries used (:class:`clsm_geo.geography.Geography`; before the first shipped COG, the first one);
    ``layer``: the QPV layer in force (:class:`clsm_geo.qpv.QpvLayer`). The derived tables are built on first
    use and kept: :attr:`units`, :attr:`unit_attributes`, :attr:`unit_index`, :attr:`unit_arrays`, :attr:`relation`,
    :attr:`adjacency`."""

    year: int
    geography: object
    layer: object

    @property
    def cog_year(self) -> int:
        """The COG year of :attr:`geography`."""
        return self.geography.year

    @functools.cached_property
    def units(self):
        """Communes and arrondissements of the COG (:func:`clsm_geo.units.units`), EPSG:4326."""
        from .units import units

        return units(self.cog_year)

    @functools.cached_property
    def unit_attributes(self):
        """:attr:`units` without their outlines (:func:`clsm_geo.units.unit_table`): codes, names, EPCI,
        department, region, population; what gaps and plan read (they decode the outlines they need only)."""
        from .units import unit_table

        return unit_table(self.cog_year)

    @functools.cached_property
    def unit_index(self):
        """Position of each unit code in :attr:`units` (rows and columns of the sparse tables)."""
        from .units import unit_index

        return unit_index(self.cog_year)

    @functools.cached_property
    def unit_arrays(self) -> dict:
        """Sparse unit → commune, department, region and EPCI tables (:func:`clsm_geo.units.unit_arrays`)."""
        from .units import unit_arrays

        return unit_arrays(self.cog_year)

    @functools.cached_property
    def relation(self):
        """The QPV × unit relation of :attr:`layer` (:class:`clsm_geo.apportion.QpvUnitRelation`)."""
        return relation_for(self.layer, self.cog_year)

    @functools.cached_property
    def former_shares(self) -> dict | None:
        """Share of each QPV in each former commune's outline, when shipped for this layer and COG year
        (:func:`clsm_geo._prebuilt.former_shares`), else None (measured when needed)."""
        from . import _prebuilt

        return _prebuilt.former_shares(self.layer.table, self.cog_year, wkb=self.layer.wkb)

    @functools.cached_property
    def adjacency(self):
        """Which units share a boundary (:class:`clsm_geo.adjacency.UnitAdjacency`)."""
        from .adjacency import unit_adjacency

        return unit_adjacency(self.cog_year)

    def __repr__(self) -> str:
        return f"<Vintage {self.year}: COG {self.cog_year}, QPV {self.layer.geography}>"


def vintage(year, qpv=None, *, settings=None) -> Vintage:
    """The :class:`Vintage` of ``year`` (checked by :func:`check_year`); ``qpv`` as in :func:`layer_of_year`."""
    from .geography import geography

    year = check_year(year)
    return Vintage(year, geography(year, nearest=True), layer_of_year(qpv, year, settings))


_relations: dict[tuple[int, int], tuple[object, object]] = {}


def relation_for(layer, cog_year: int):
    """The QPV × unit relation of a QPV layer and COG year, memoised in the session.

    Read from the shipped tables or the user cache when their inputs match (see
    :mod:`clsm_geo._prebuilt`), else computed once and cached.
    """
    from . import _prebuilt
    from .apportion import qpv_unit_relation

    key = (id(layer.table), cog_year)
    hit = _relations.get(key)
    if hit is not None and hit[0] is layer.table:
        return hit[1]
    rel = _prebuilt.relation(layer.table, cog_year, lambda: qpv_unit_relation(layer.frame, cog_year), wkb=layer.wkb)
    if len(_relations) > 8:
        _relations.clear()
    _relations[key] = (layer.table, rel)
    return rel


def layer_of_year(qpv, year: int, cfg=None):
    """The QPV layer of ``year`` with each territory in its geography in force (see :mod:`clsm_geo.in_force`).

    ``qpv``: a :class:`~clsm_geo.qpv.QpvLayer`, a path or URL of the geography in force, a dict
    ``{2015: …, 2024: …}`` of those, or None (cache, then shipped data)."""
    from . import settings as _settings
    from .in_force import geographies_in_force, layer_for_year
    from .qpv import qpv_geography_for_year

    cfg = cfg or _settings.get()
    geography_code = qpv_geography_for_year(year)
    if hasattr(qpv, "table"):
        if qpv.parts or "qpv_geography" in qpv.table.columns:
            return qpv
        if qpv.geography not in geographies_in_force(year).values():
            raise InputError(t("engine.coverage.wrong_geography", geography=qpv.geography, year=year,
                               expected=geography_code), hint=t("engine.coverage.wrong_geography_hint"))
        return _assembled(qpv, year, cfg)
    sources = dict(qpv) if isinstance(qpv, dict) else ({geography_code: qpv} if qpv is not None else {})
    return layer_for_year(year, sources, settings=cfg)


_assembled_layers: dict[tuple, tuple[object, object]] = {}


def _assembled(layer, year: int, cfg):
    """``layer_for_year`` of a plain layer, memoised while the other geography stays unavailable, so that
    repeated runs on one layer reuse its QPV × unit relation (:func:`relation_for`)."""
    from .in_force import availability, geographies_in_force, layer_for_year

    wanted = tuple(sorted(geographies_in_force(year).items()))
    others = tuple(g for _, g in wanted if g != layer.geography)
    key = (id(layer.table), wanted, str(cfg.cache_dir))
    hit = _assembled_layers.get(key)
    if hit is not None and hit[0] is layer.table and (not others or (hit[1].missing and not any(
            availability(g, settings=cfg) for g in others))):
        return hit[1]
    out = layer_for_year(year, {layer.geography: layer}, settings=cfg)
    if len(_assembled_layers) > 8:
        _assembled_layers.clear()
    _assembled_layers[key] = (layer.table, out)
    return out
