"""The "what if" planner of the interactive map (``interactive_map(res, planner=True)``, ``clsm-geo map
interactive --planner``): a panel listing the QPV in force not fully covered, the EPCI and the units (communes;
arrondissements in Paris, Lyon, Marseille) holding them; ticking one adds its units to a new or an existing
council and the page recomputes, in the browser, the headline figures and the QPV statuses on the map with the
engine's own rules (:func:`clsm_geo.coverage.qpv_statuses`); the selection is exported as registry rows.

What the page embeds (:func:`planner_data`, compact JSON, no geometry):

* ``units``: the units of the QPV × unit relation of every QPV in force (:mod:`clsm_geo.apportion`):
  ``[code, label, covered now (0/1), reached only by an own-geometry perimeter (0/1), EPCI index or -1,
  listed in the panel (0/1)]``;
* ``qpv``: every QPV in force nationally (the national figures stay exact on a regional page):
  ``[code, name, measured by geometry (0/1), share inside own-geometry perimeters, [unit, weight, ...]
  (the relation's weights, full precision, in the engine's summation order), [[units of each official
  commune], ...], status now (index in STATUSES), in the page's region (0/1), units a tick adds (where its
  polygon lies when measured by geometry, else its official communes' units; none already covered)]``;
* ``epci``: ``[SIREN, name, [units]]`` for the EPCI of listed units, members (as the engine expands an EPCI)
  restricted to units of the relation (the others cannot change any QPV's status);
* ``councils``: active councils of the page's scope that can be extended (not those drawn by their own
  geometry: codes added to them would not change their perimeter), as registry cells
  ``[id, name, status, created, closed, communes, epci]``.

The statuses are then exact, not approximate: QPV without polygon are measured by the commune method as in the
engine, councils with their own geometry keep their (fixed) share and their "partly" mark of units, and
``undetermined`` statuses come out of the same rule. :func:`evaluate` is the reference of what
``assets/planner.js`` computes (the tests check both against the engine).
"""

from __future__ import annotations

from branca.element import MacroElement
from jinja2 import Template

from ..i18n import fmt_decimal, fmt_int, fmt_pct, get_lang, t
from .assets import inline_block
from .layers import js_json
from .style import QPV_STATUS_COLORS, qpv_status_label

__all__ = ["PLANNER_CSS", "PLANNER_JS", "Planner", "add_planner", "evaluate", "planner_data"]

PLANNER_CSS = ("planner.css",)
PLANNER_JS = ("planner.js",)
STATUSES = ("covered", "partial", "uncovered", "undetermined")
COLUMNS = ("id", "name", "status", "created", "closed", "communes", "epci")
#: Registry words of council statuses (``read_registry`` reads them back).
STATUS_WORDS = {"active": "actif", "in_project": "en_projet", "dormant": "en_sommeil", "closed": "ferme"}
_WORDS = ("toggle", "title", "intro", "fold", "unfold", "councils_active", "qpv_covered", "share", "of_total",
          "region", "council", "new_group", "existing_group", "new_council", "new_name", "name", "filter",
          "group_qpv", "group_epci", "group_unit", "truncated", "none", "assigned", "simulated", "export",
          "export_note", "download", "clear", "points", "selection_empty", "in_council")


def planner_data(res, *, region: str | None = None, lang: str | None = None) -> dict:
    """What the planner of a page of ``res`` needs (see the module doc), words in ``lang``."""
    import numpy as np
    import pandas as pd

    from .. import settings as _settings
    from ..coverage import _own_geometry_shares, uses_geometry
    from ..perimeters import active_mask, councils_per_unit
    from ..units import unit_arrays

    lang = get_lang(lang)
    rel = res.vintage.relation
    perims = res.perimeters
    base = perims.base
    active = active_mask(base, res.year).to_numpy()
    own = base["own_geometry"].notna().to_numpy()
    x0 = np.minimum(councils_per_unit(perims, active & ~own), 1.0)
    partly = councils_per_unit(perims, active & own) > 0
    own_share = _own_geometry_shares(res.qpv_layer, base[active & own])
    use_geometry = uses_geometry(rel, res.method)

    table = res.qpv.set_index("code_qp")
    codes = rel.qpv_codes
    in_force = table["in_force"].reindex(codes).fillna(False).to_numpy(dtype=bool)
    status = table["status"].reindex(codes).to_numpy()
    names = table["lib_qp"].reindex(codes).to_numpy()
    regions = table["insee_reg"].reindex(codes).to_numpy()
    weights, pairs = rel.weights.tocsr(), rel.pair_units.tocsr()
    pairs_of: dict[int, list[int]] = {}
    for k, q in enumerate(rel.pair_qpv.tolist()):
        pairs_of.setdefault(q, []).append(k)

    def row_units(mat, k) -> list[int]:
        """Column indices of row ``k`` of a CSR matrix, in stored (summation) order."""
        return mat.indices[mat.indptr[k]:mat.indptr[k + 1]].tolist()

    force = np.flatnonzero(in_force)
    relevant = sorted({u for q in force for u in row_units(weights, q)}
                      | {u for q in force for k in pairs_of.get(q, ()) for u in row_units(pairs, k)})
    local = {u: i for i, u in enumerate(relevant)}
    utable = res.vintage.units
    unit_codes = utable["unit"].to_numpy()
    unit_names = utable["lib_unit"].to_numpy()
    unit_epci = utable["siren_epci"].to_numpy()
    unit_reg = utable["insee_reg"].to_numpy()

    qpv_rows, candidate_units = [], set()
    for q in force:
        w = weights.data[weights.indptr[q]:weights.indptr[q + 1]].tolist()
        flat = [v for u, wt in zip(row_units(weights, q), w) for v in (local[u], float(wt))]
        commune_units = [[local[u] for u in row_units(pairs, k)] for k in pairs_of.get(q, ())]
        mine = region is None or regions[q] == region
        st = STATUSES.index(status[q])
        adds: list[int] = []
        if mine and st != 0:
            # the units that make it covered: where its polygon lies (geometry), or its official communes
            reach = ([u for u, wt in zip(row_units(weights, q), w) if wt > 0] if use_geometry[q] else
                     [u for k in pairs_of.get(q, ()) for u in row_units(pairs, k)])
            adds = sorted({local[u] for u in reach if x0[u] == 0}, key=lambda i: unit_codes[relevant[i]])
            candidate_units.update(adds)
        qpv_rows.append([str(codes[q]), str(names[q]) if mine and st != 0 else "", int(use_geometry[q]),
                         float(own_share[q]), flat, commune_units, st, int(mine), adds])

    epci = res.vintage.geography.epci
    epci_names = dict(zip(epci["siren_epci"].tolist(), epci["lib_epci"].tolist()))
    by_epci = unit_arrays(res.cog_year)["epci_units"]  # the engine's EPCI -> units (build_perimeters)
    sirens = sorted({unit_epci[relevant[i]] for i in candidate_units
                     if isinstance(unit_epci[relevant[i]], str) and unit_epci[relevant[i]] in by_epci["position"]})
    members = {s: sorted(local[u] for u in row_units(by_epci["matrix"], by_epci["position"][s]) if u in local)
               for s in sirens}
    epci_of = {i: j for j, s in enumerate(sirens) for i in members[s]}
    unit_rows = [[str(unit_codes[u]), str(unit_names[u]) if i in candidate_units else "", int(x0[u] > 0),
                  int(partly[u]), epci_of.get(i, -1),
                  int(i in candidate_units and (region is None or unit_reg[u] == region))]
                 for i, u in enumerate(relevant)]
    epci_rows = [[s, str(epci_names.get(s, s)), members[s]] for s in sirens]

    councils = perims.councils
    council_rows = []
    for i, c in enumerate(councils.itertuples(index=False)):
        if not active[i] or own[i] or (region is not None and region not in tuple(c.regions or ())):
            continue
        council_rows.append([str(c.id), str(c.name), STATUS_WORDS.get(c.status, str(c.status)),
                             "" if pd.isna(c.created) else str(int(c.created)),
                             "" if pd.isna(c.closed) else str(int(c.closed)),
                             list(c.communes_listed), list(c.epci_listed)])

    councils_active = int(active.sum())
    region_name = None
    if region is not None:
        regs = res.vintage.geography.regions
        region_name = str(regs.loc[regs["insee_reg"] == region, "lib_reg"].iloc[0])
    return {
        "year": int(res.year), "thresholds": [res.settings.covered_threshold, res.settings.partial_threshold],
        "councils_active": councils_active, "region": region_name,
        "units": unit_rows, "qpv": qpv_rows, "epci": epci_rows, "councils": council_rows,
        "new_id": _new_id_prefix(res.registry.councils["id"], res.year),
        "sep": ";" if _settings.get().csv_dialect == "excel-fr" else ",",
        "bom": _settings.get().csv_dialect == "excel-fr",  # the download starts with a BOM, as Excel wants
        "statuses": list(STATUSES), "colors": [QPV_STATUS_COLORS[s] for s in STATUSES],
        "labels": [qpv_status_label(s, lang) for s in STATUSES],
        "columns": list(COLUMNS), "format": _number_format(lang),
        "file": f"clsm-geo-simulation-{int(res.year)}.csv",
    }


def _new_id_prefix(ids, year: int) -> str:
    """A prefix for new councils' ids (``NOUVEAU-2024-``) that no id of the registry starts with."""
    taken = [str(i) for i in ids]
    prefix = f"NOUVEAU-{year}-"
    while any(i.startswith(prefix) for i in taken):
        prefix = "X" + prefix
    return prefix


def _number_format(lang: str) -> dict:
    """Separators and the percent pattern of ``lang``, as the catalogue's helpers (Babel) write them."""
    thousand = fmt_int(1000, lang)
    return {"group": thousand[1] if len(thousand) == 5 else "", "decimal": fmt_decimal(1.5, 1, lang)[1],
            "percent": fmt_pct(0.5, 0, lang).replace("50", "{n}", 1)}


def words(lang: str | None = None) -> dict:
    """The panel's words, placeholders (``{n}``, ``{year}``…) left for the page to fill."""
    keep = {k: "{" + k + "}" for k in ("n", "year", "covered", "total", "region", "council", "status")}
    return {k: t(f"planner.web.{k}", lang, **keep) for k in _WORDS}


def evaluate(data: dict, added: set[int] | frozenset = frozenset()) -> dict:
    """The figures and statuses the page shows when the units ``added`` (indices in ``data["units"]``) join
    councils, with ``new`` new councils: the Python twin of ``planner.js`` (same operations, same order)."""
    cov, par = data["thresholds"]
    x = [1.0 if (u[2] or i in added) else 0.0 for i, u in enumerate(data["units"])]
    xc = [1.0 if x[i] > 0 else (0.5 if u[3] else 0.0) for i, u in enumerate(data["units"])]
    statuses = []
    for q in data["qpv"]:
        if q[2]:
            s = 0.0
            w = q[4]
            for k in range(0, len(w), 2):
                s += w[k + 1] * x[w[k]]
            s = min(max(s, 0.0), 1.0)
            s = s + (1.0 - s) * q[3]
            st = 0 if s >= cov else (1 if s > par else 2)
        else:
            full = some = 0
            for pair in q[5]:
                f = sum(xc[u] for u in pair) / max(len(pair), 1)
                full += f >= 1.0
                some += 0 < f < 1
            total = len(q[5])
            st = 0 if total and full == total else (1 if full else (3 if some else 2))
        statuses.append(st)
    covered = sum(1 for s in statuses if s in (0, 1))
    total = len(statuses)
    return {"statuses": [data["statuses"][s] for s in statuses], "qpv_covered": covered, "qpv_total": total,
            "qpv_covered_share": round(covered / total, 6) if total else 0.0}


class Planner(MacroElement):
    """The planner panel: its stylesheet and script in the header, ``L.clsmPlanner(map, data, words)``."""

    _template = Template("""
        {% macro header(this, kwargs) %}{{ this.block }}{% endmacro %}
        {% macro script(this, kwargs) %}
            L.clsmPlanner({{ this._parent.get_name() }}, {{ this.data }}, {{ this.words }});
        {% endmacro %}
    """)

    def __init__(self, data: dict, words_: dict):
        super().__init__()
        self._name = "ClsmPlanner"
        self.block = inline_block(PLANNER_CSS, PLANNER_JS)
        self.data = js_json(data)
        self.words = js_json(words_)


def add_planner(m, res, *, region: str | None = None, lang: str | None = None) -> None:
    """Add the planner panel to the folium map ``m`` of ``res`` (drawn for ``region``, or nationally)."""
    m.add_child(Planner(planner_data(res, region=region, lang=lang), words(lang)))
