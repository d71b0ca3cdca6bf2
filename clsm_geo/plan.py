"""Where to act first: territories without a council, and a greedy plan of creations and extensions.

* :func:`priorities`: EPCI, then departments, without any active council, ranked by the number of
  their QPV in force left uncovered, then by population.
* :func:`plan`: ``steps`` actions chosen one at a time, each the one raising QPV coverage most, with
  the coverage reached after it. An action is either the **creation** of a council on a whole EPCI
  without any active council that hosts QPV not covered, or the **extension** of a council (active, or
  created by an earlier step) to its neighbouring units (communes; arrondissements in Paris, Lyon,
  Marseille) that host QPV not covered and lie outside every council.

Every candidate is scored with the coverage engine's own rules (:func:`clsm_geo.coverage.qpv_statuses`)
on the QPV × unit relation computed once per year: a scenario is a vector of covered units and costs a
few sparse products (well under a millisecond), not a run of the engine. ``qpv_covered`` counts, like
the engine's headline, QPV in force that are covered or partial. Ties are broken by the number of
QPV fully covered, then the covered share summed over QPV, then the fewest units added, then the code.
:func:`apply_plan` turns the plan back into a registry, so that the engine can check every step;
:func:`step_sentences` says each step in the chosen language (catalogue ``plan``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _progress
from . import i18n
from .gaps import network

PLAN_COLUMNS = ["step", "action", "council_id", "council_name", "siren_epci", "lib_epci", "departments",
                "units_added", "lib_units_added", "population_added", "qpv_gained", "n_qpv_gained",
                "qpv_covered", "qpv_fully_covered", "qpv_total", "qpv_covered_share"]
PRIORITY_COLUMNS = ["level", "rank", "code", "name", "departments", "regions", "qpv_total", "qpv_uncovered",
                    "population", "n_communes", "qpv_codes"]
COUNTED = ("covered", "partial")
#: Sets of units scored together by :meth:`PlanModel.scores`.
SCORE_BLOCK = 256


class PlanModel:
    """The coverage of a result as a function of the set of covered units (engine rules, no engine run).

    ``x0``: units inside the active councils' unit perimeters; :meth:`statuses` and :meth:`score`
    evaluate any other vector ``x`` with the infra-communal perimeters and method of the result unchanged.
    """

    def __init__(self, res):
        from .coverage import _former, _own_geometry_shares, commune_indicator, uses_geometry
        from .perimeters import active_mask, councils_per_unit

        self.res = res
        self.net = network(res)
        self.rel = self.net.rel
        perims = res.perimeters
        councils = perims.councils
        active = active_mask(councils, res.year).to_numpy()
        own = councils["own_geometry"].notna().to_numpy()
        self.x0 = np.minimum(councils_per_unit(perims, active & ~own), 1.0)
        self.partly = councils_per_unit(perims, active & own) > 0
        self.own_share = _own_geometry_shares(res.qpv_layer, councils[active & own])
        # former-commune outlines of the result (measured on the units outside x0; dropped once a unit is added)
        self.former = _former(perims, active, self.rel, res.qpv_layer, self.x0, res.vintage)
        self.partly[self.former.units] = True
        self.use_geometry = uses_geometry(self.rel, res.method)
        in_force = dict(zip(res.qpv["code_qp"].tolist(), res.qpv["in_force"].tolist()))
        self.in_force = np.array([bool(in_force.get(c, False)) for c in self.rel.qpv_codes])
        self.settings = res.settings
        self._commune_indicator = commune_indicator
        self._prepare_score()

    def _prepare_score(self) -> None:
        """Flatten the relation for :meth:`score`, on the QPV in force only: QPV measured by geometry need
        only their rows of the weights, the others only their (QPV, commune) pairs; only the units that
        hold a QPV are read (a few thousand of 35,000). Each sparse product becomes
        ``bincount(row, data * x[col])`` over the matrix's own entry order: the same terms added in the
        same order as the sparse product, hence the same floats."""
        rel = self.rel
        w, p = rel.weights.tocsr(), rel.pair_units.tocsr()
        self._cols = np.union1d(w.indices, p.indices).astype(np.int64)
        f = np.flatnonzero(self.in_force)
        geo = self.use_geometry[f]
        gq, cq = f[geo], f[~geo]
        self._slots = (np.flatnonzero(geo), np.flatnonzero(~geo), len(f))
        # geometry: rows gq of the weights, renumbered 0..len(gq)
        w_row = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
        g_new = np.full(w.shape[0], -1)
        g_new[gq] = np.arange(len(gq))
        keep = g_new[w_row] >= 0
        self._g = (g_new[w_row[keep]], np.searchsorted(self._cols, w.indices[keep]), w.data[keep].astype(float),
                   len(gq), self.own_share[gq])
        # commune: pairs of the QPV cq, renumbered
        p_row = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
        c_new = np.full(len(rel.qpv_codes), -1)
        c_new[cq] = np.arange(len(cq))
        pair_keep = c_new[rel.pair_qpv] >= 0
        pair_new = np.full(p.shape[0], -1)
        pair_new[pair_keep] = np.arange(int(pair_keep.sum()))
        keep = pair_new[p_row] >= 0
        pair_qpv = c_new[rel.pair_qpv[pair_keep]]
        self._c = (pair_new[p_row[keep]], np.searchsorted(self._cols, p.indices[keep]), p.data[keep].astype(float),
                   int(pair_keep.sum()), np.maximum(rel.pair_size[pair_keep], 1), pair_qpv, len(cq),
                   np.bincount(pair_qpv, minlength=len(cq)).astype(float))
        self._partly = np.where(self.partly[self._cols], 0.5, 0.0)
        self._batch = None  # the same arrays as sparse matrices, for :meth:`scores` (made on first use)
        self._any_own = bool(np.any(self._g[4]))
        self._col_of = np.full(len(self.x0), -1, dtype=np.int64)  # unit -> its position in _cols, else -1
        self._col_of[self._cols] = np.arange(len(self._cols))

    def statuses(self, x: np.ndarray):
        from .coverage import qpv_statuses

        return qpv_statuses(self.rel, x, self._commune_indicator(x, self.partly), self.own_share,
                            self.use_geometry, self.settings, former=self.former)

    def score(self, x: np.ndarray) -> tuple[int, int, float]:
        """(QPV in force covered or partial, fully covered, summed covered share) for units ``x``.

        The rules of :func:`clsm_geo.coverage.qpv_statuses` with numeric statuses on the units that
        hold a QPV (same sums in the same order, hence the same figures; :meth:`score_slow` is the reference).
        """
        return self._score_cols(x[self._cols])

    def scorer(self, x: np.ndarray):
        """``fn(positions) == score(with_units(x, positions))`` for many sets of units added to one state ``x``:
        ``x`` read once on the units holding a QPV, no copy of the 35,000 units per scenario."""
        xs0 = x[self._cols]

        def score_with(positions) -> tuple[int, int, float]:
            at = self._col_of[np.asarray(positions, dtype=np.int64)]
            xs = xs0.copy()
            xs[at[at >= 0]] = 1.0
            return self._score_cols(xs)

        return score_with

    def scores(self, x: np.ndarray, unit_sets) -> list[tuple[int, int, float]]:
        """``[scorer(x)(units) for units in unit_sets]``, the same tuples bit for bit, computed for many sets
        at once: each sum over a QPV's units is a row of a sparse product with one column per set (the terms
        added in the same order as :meth:`_score_cols`' ``bincount``), each total a sum over one contiguous
        row, as there. By blocks of :data:`SCORE_BLOCK` sets (memory: units holding a QPV × block)."""
        unit_sets = list(unit_sets)
        out: list[tuple[int, int, float]] = []
        xs0 = x[self._cols]
        for start in range(0, len(unit_sets), SCORE_BLOCK):
            block = unit_sets[start:start + SCORE_BLOCK]
            xs = np.repeat(xs0[:, None], len(block), axis=1)  # (units holding a QPV, sets)
            sizes = [len(units) for units in block]
            flat = (np.concatenate([np.asarray(units, dtype=np.int64) for units in block]) if sum(sizes)
                    else np.zeros(0, dtype=np.int64))
            which = np.repeat(np.arange(len(block)), sizes)
            at = self._col_of[flat]
            xs[at[at >= 0], which[at >= 0]] = 1.0
            out += self._score_block(xs)
        return out

    def _batch_matrices(self):
        """:data:`_g` and :data:`_c` as CSR matrices (rows in the order of their entries: the same sums)."""
        if self._batch is None:
            from scipy import sparse

            row, col, data, n_g, _ = self._g
            g = sparse.csr_matrix((data, col, np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_g))])),
                                  shape=(n_g, len(self._cols)))
            row, col, data, n_pairs, size, pq, n_c, total = self._c
            if n_c:
                starts = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_pairs))])
                c = sparse.csr_matrix((data, col, starts), shape=(n_pairs, len(self._cols)))
                order = np.argsort(pq, kind="stable")  # pairs of each QPV in their order, as bincount adds them
                q = sparse.csr_matrix((np.ones(len(pq)), order, np.concatenate([[0], np.cumsum(np.bincount(
                    pq, minlength=n_c))])), shape=(n_c, n_pairs))
            else:
                c = q = None
            self._batch = (g, c, q)
        return self._batch

    def _score_block(self, xs: np.ndarray) -> list[tuple[int, int, float]]:
        """:meth:`_score_cols` of each column of ``xs``."""
        cfg = self.settings
        g_slot, c_slot, n = self._slots
        g, c, q = self._batch_matrices()
        own = self._g[4]
        area = np.clip(g @ xs, 0.0, 1.0)  # (QPV by geometry, sets)
        if self._any_own:
            area = area + (1.0 - area) * own[:, None]
        g_covered = area >= cfg.covered_threshold
        counted = np.count_nonzero((area > cfg.partial_threshold) | g_covered, axis=0)
        full_n = np.count_nonzero(g_covered, axis=0)
        area_rows = np.ascontiguousarray(area.T)
        if c is None:
            return [(int(a), int(b), float(r.sum())) for a, b, r in zip(counted, full_n, area_rows)]
        size, total = self._c[4], self._c[7]
        xc = np.where(xs > 0, 1.0, self._partly[:, None])
        frac = (c @ xc) / size[:, None]
        full = q @ (frac >= 1.0).astype(float)
        some = q @ ((frac > 0) & (frac < 1)).astype(float)
        c_share = (q @ frac) / np.maximum(total, 1)[:, None]
        c_covered = (total > 0)[:, None] & (full == total[:, None])
        c_partial = ~c_covered & (full > 0)
        c_undetermined = ~c_covered & ~c_partial & (some > 0)
        counted = counted + np.count_nonzero(c_covered | c_partial, axis=0)
        full_n = full_n + np.count_nonzero(c_covered, axis=0)
        share = np.empty((xs.shape[1], n))
        share[:, g_slot] = area_rows
        share[:, c_slot] = np.where(c_undetermined, np.nan, c_share).T
        return [(int(a), int(b), float(np.nansum(r))) for a, b, r in zip(counted, full_n, share)]

    def _score_cols(self, xs: np.ndarray) -> tuple[int, int, float]:
        """:meth:`score` of the units holding a QPV (``x[self._cols]``)."""
        cfg = self.settings
        g_slot, c_slot, n = self._slots
        row, col, data, n_g, own = self._g
        area = np.clip(np.bincount(row, weights=data * xs[col], minlength=n_g), 0.0, 1.0)
        if self._any_own:
            area = area + (1.0 - area) * own
        g_covered = area >= cfg.covered_threshold
        counted = int(np.count_nonzero((area > cfg.partial_threshold) | g_covered))
        full_n = int(np.count_nonzero(g_covered))
        row, col, data, n_pairs, size, pq, n_c, total = self._c
        if not n_c:  # every QPV measured by geometry (no NaN): the share vector is ``area``, nansum its sum
            return counted, full_n, float(area.sum())
        share = np.empty(n)
        share[g_slot] = area
        xc = np.where(xs > 0, 1.0, self._partly)
        frac = np.bincount(row, weights=data * xc[col], minlength=n_pairs) / size
        full = np.bincount(pq, weights=(frac >= 1.0).astype(float), minlength=n_c)
        some = np.bincount(pq, weights=((frac > 0) & (frac < 1)).astype(float), minlength=n_c)
        c_share = np.bincount(pq, weights=frac, minlength=n_c) / np.maximum(total, 1)
        c_covered = (total > 0) & (full == total)
        c_partial = ~c_covered & (full > 0)
        c_undetermined = ~c_covered & ~c_partial & (some > 0)
        counted += int((c_covered | c_partial).sum())
        full_n += int(c_covered.sum())
        share[c_slot] = np.where(c_undetermined, np.nan, c_share)
        return counted, full_n, float(np.nansum(share))

    def score_slow(self, x: np.ndarray) -> tuple[int, int, float]:
        """:meth:`score` through :func:`clsm_geo.coverage.qpv_statuses` (string statuses; the reference)."""
        st = self.statuses(x)
        status = st.status[self.in_force]
        counted = int(((status == "covered") | (status == "partial")).sum())
        return counted, int((status == "covered").sum()), float(np.nansum(st.share[self.in_force]))

    def with_units(self, x: np.ndarray, positions) -> np.ndarray:
        out = x.copy()
        out[np.asarray(list(positions), dtype=np.int64)] = 1.0
        return out


class _CandidateMemo:
    """What :func:`candidates` computes again at each step of a plan for inputs that did not change: each
    QPV's EPCI and units (as arrays), each council's neighbouring units (until the council grows)."""

    def __init__(self):
        self.qpv: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        self.around: dict[str, tuple[frozenset, np.ndarray]] = {}
        self.epci: dict[str, tuple[tuple[int, ...], np.ndarray]] = {}

    def of_epci(self, net, siren: str) -> tuple[tuple[int, ...], np.ndarray]:
        """An EPCI's units, sorted, as a tuple and as an array."""
        got = self.epci.get(siren)
        if got is None:
            units = tuple(sorted(net.epci_units.get(siren, frozenset())))
            got = self.epci[siren] = (units, np.array(units, dtype=np.int64))
        return got

    def of_qpv(self, net, code: str) -> tuple[tuple[str, ...], np.ndarray]:
        got = self.qpv.get(code)
        if got is None:
            got = self.qpv[code] = (net.qpv_epcis(code), np.fromiter(net.qpv_units[code], dtype=np.int64))
        return got

    def neighbours(self, adjacency, cid: str, units: set[int]) -> np.ndarray:
        got = self.around.get(cid)
        if got is None or got[0] != units:
            got = self.around[cid] = (frozenset(units), adjacency.neighbours_of(sorted(units)))
        return got[1]


def candidates(model: PlanModel, x: np.ndarray, councils: dict[str, set[int]], touched: np.ndarray,
               adjacency=None, memo: _CandidateMemo | None = None) -> list[tuple[str, str, tuple[int, ...]]]:
    """Actions available in the state ``x``: (``creation``, SIREN, units) and (``extension``, council id, units).
    ``memo``: kept from one step of a plan to the next (the same actions, found sooner)."""
    net = model.net
    memo = memo or _CandidateMemo()
    st = model.statuses(x)
    status = dict(zip(model.rel.qpv_codes, st.status))
    open_qpv = [memo.of_qpv(net, c) for c in net.qpv["code_qp"] if status[c] != "covered"]
    out = []
    open_epci = {e for epcis, _ in open_qpv for e in epcis}
    for siren in sorted(open_epci):
        units, at = memo.of_epci(net, siren)
        if units and not touched[at].any():
            out.append(("creation", siren, units))
    hosts = np.zeros(len(x), bool)
    if open_qpv:
        hosts[np.concatenate([units for _, units in open_qpv])] = True
    hosts &= x == 0
    adjacency = adjacency or net.vintage.adjacency
    for cid in sorted(councils):
        around = memo.neighbours(adjacency, cid, councils[cid])
        add = tuple(int(p) for p in around[hosts[around]])
        if add:
            out.append(("extension", cid, add))
    return out


@_progress.stepped("plan")
def plan(res, steps: int = 20, lang: str | None = None) -> pd.DataFrame:
    """Greedy plan of up to ``steps`` creations/extensions (see the module doc).

    Row 0 (``action`` = ``current``) is the result's own coverage; row k the coverage after k actions.
    Stops early when no action raises coverage. ``action`` is a code (``current``, ``creation``,
    ``extension``); the name of a council to create (``CLSM <EPCI> (à créer)``) is in ``lang``.
    """
    lang = i18n.get_lang(lang)
    model = PlanModel(res)
    net = model.net
    adjacency = net.vintage.adjacency
    population = net.units["population"].to_numpy()
    x = model.x0.copy()
    councils = {cid: set(units) for cid, units in net.council_units.items()}
    names = dict(net.council_names)
    touched = net.touched.copy()
    total = int(model.in_force.sum())
    score = model.score(x)
    counted = _counted(model, x)
    memo = _CandidateMemo()
    rows = [_plan_row(0, "current", None, None, (), (), (), 0, score, total, net)]
    for step in range(1, int(steps) + 1):
        best = None
        found = candidates(model, x, councils, touched, adjacency, memo)
        for (action, key, units), s in zip(found, model.scores(x, [units for _, _, units in found])):
            rank = (s[0] - score[0], s[1] - score[1], round(s[2] - score[2], 9), -len(units))
            if best is None or rank > best[0] or (rank == best[0] and (action, key) < best[1][:2]):
                best = (rank, (action, key, units), s)
        if best is None or (best[0][0] <= 0 and best[0][1] <= 0):
            break
        _, (action, key, units), new_score = best
        x = model.with_units(x, units)
        touched[list(units)] = True
        if action == "creation":
            cid, name = f"NEW-{key}", i18n.t("plan.new_council", lang, epci=net.epci_name.get(key, key))
            councils[cid] = set(units)
            names[cid] = name
            epcis = (key,)
        else:
            cid, name = key, names[key]
            councils[cid] |= set(units)
            epcis = tuple(sorted({net.unit_epci[p] for p in units if isinstance(net.unit_epci[p], str)}))
        now = _counted(model, x)
        gained = tuple(sorted(now - counted))
        counted = now
        rows.append(_plan_row(step, action, cid, name, epcis, units, gained, int(population[list(units)].sum()),
                              new_score, total, net))
        score = new_score
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _counted(model: PlanModel, x) -> set[str]:
    st = model.statuses(x)
    keep = model.in_force & np.isin(st.status, COUNTED)
    return set(model.rel.qpv_codes[keep].tolist())


def _plan_row(step, action, cid, name, epcis, units, gained, population, score, total, net) -> dict:
    units = tuple(sorted(units))
    return {
        "step": step, "action": action, "council_id": cid, "council_name": name,
        "siren_epci": ";".join(epcis), "lib_epci": ";".join(net.epci_name.get(e, e) for e in epcis),
        "departments": tuple(sorted({net.unit_dep[p] for p in units})),
        "units_added": tuple(net.unit_codes[p] for p in units),
        "lib_units_added": tuple(net.unit_names[p] for p in units),
        "population_added": population, "qpv_gained": gained, "n_qpv_gained": len(gained),
        "qpv_covered": score[0], "qpv_fully_covered": score[1], "qpv_total": total,
        "qpv_covered_share": round(score[0] / total, 6) if total else 0.0,
    }


def step_sentences(plan_frame: pd.DataFrame, lang: str | None = None) -> list[str]:
    """One sentence per row of a :func:`plan` in ``lang`` (``étape 2 : créer un CLSM sur l'EPCI …, +12 QPV →
    305 QPV couverts sur 1 362 (22,4 %)``); row 0 says the coverage now."""
    lang = i18n.get_lang(lang)
    out = []
    for rec in plan_frame.itertuples(index=False):
        reached = i18n.t("plan.reached", lang, covered=i18n.fmt_int(rec.qpv_covered, lang),
                         total=i18n.fmt_int(rec.qpv_total, lang), share=i18n.fmt_pct(rec.qpv_covered_share, 1, lang))
        if rec.step == 0:
            out.append(i18n.t("plan.now", lang, reached=reached))
            continue
        if rec.action == "creation":
            action = i18n.t("plan.creation", lang, epci=rec.lib_epci, siren=rec.siren_epci)
        else:
            action = i18n.t("plan.extension", lang, council=rec.council_name, id=rec.council_id,
                            units=i18n.tn("plan.units", len(rec.units_added), lang))
        out.append(i18n.t("plan.step", lang, step=rec.step, action=action,
                          gained=i18n.fmt_int(rec.n_qpv_gained, lang), reached=reached))
    return out


def apply_plan(res, plan_frame: pd.DataFrame, upto: int | None = None, lang: str | None = None):
    """The result's registry with the plan's steps (up to step ``upto``) applied: a new
    :class:`~clsm_geo.registry.Registry` whose coverage the engine can compute (notes in ``lang``)."""
    from .registry import Registry

    table = res.registry.councils.copy()
    by_id = {cid: i for i, cid in enumerate(table["id"])}
    rows = table.to_dict("records")
    next_row = int(table["row"].max()) + 1 if len(table) else 2
    for rec in plan_frame.itertuples(index=False):
        if rec.step == 0 or (upto is not None and rec.step > upto):
            continue
        if rec.action == "creation":
            by_id[rec.council_id] = len(rows)
            rows.append({"id": rec.council_id, "name": rec.council_name, "status": "active", "created": res.year,
                         "closed": pd.NA, "communes": (), "epci": (rec.siren_epci,), "region": "",
                         "notes": i18n.t("plan.registry_note", lang, step=rec.step), "row": next_row, "geometry": None})
            next_row += 1
        else:
            i = by_id[rec.council_id]
            rows[i] = dict(rows[i], communes=tuple(rows[i]["communes"]) + tuple(rec.units_added))
    out = pd.DataFrame(rows, columns=table.columns)
    out["created"] = out["created"].astype("Int64")
    out["closed"] = out["closed"].astype("Int64")
    return Registry(councils=out, source=str(res.registry.source), problems=res.registry.problems,
                    headers=res.registry.headers)


def priorities(res) -> pd.DataFrame:
    """EPCI, then departments, without any active council, ranked by QPV in force left uncovered
    (status neither covered nor partial), then population, then code."""
    from .perimeters import active_mask

    net = network(res)
    status = net.status
    unit_reg = net.units["insee_reg"].to_numpy()  # once: converting the column costs more than the loop
    rows = []
    for siren, qpv in net.epci_qpv.items():
        units = net.epci_units.get(siren, frozenset())
        if not units or net.touched[list(units)].any():
            continue
        left = sorted(c for c in qpv if status[c] not in COUNTED)
        if not left:
            continue
        rows.append({"level": "epci", "code": siren, "name": net.epci_name.get(siren, siren),
                     "departments": tuple(sorted({net.unit_dep[p] for p in units})),
                     "regions": tuple(sorted({r for r in unit_reg[list(units)]})),
                     "qpv_total": len(qpv), "qpv_uncovered": len(left),
                     "population": int(net.epci_population.get(siren, 0)),
                     "n_communes": len(net.epci_members.get(siren, ())), "qpv_codes": tuple(left)})
    councils = res.perimeters.councils
    with_council = {d for deps in councils.loc[active_mask(councils, res.year).to_numpy(), "departments"]
                    for d in deps}
    communes = net.geo.attributes("communes")
    dep_population = communes.groupby("insee_dep")["population"].sum()
    dep_communes = communes.groupby("insee_dep").size()
    deps = net.geo.attributes("departments")
    dep_reg = dict(zip(deps["insee_dep"], deps["insee_reg"]))
    for dep, group in net.qpv.groupby("insee_dep", sort=True):
        if dep in with_council:
            continue
        left = sorted(c for c in group["code_qp"] if status[c] not in COUNTED)
        if not left:
            continue
        rows.append({"level": "department", "code": dep, "name": net.dep_name.get(dep, dep), "departments": (dep,),
                     "regions": (dep_reg.get(dep),), "qpv_total": len(group), "qpv_uncovered": len(left),
                     "population": int(dep_population.get(dep, 0)), "n_communes": int(dep_communes.get(dep, 0)),
                     "qpv_codes": tuple(left)})
    out = pd.DataFrame(rows, columns=PRIORITY_COLUMNS)
    if out.empty:
        return out
    out["order"] = out["level"].map({"epci": 0, "department": 1})
    out = out.sort_values(["order", "qpv_uncovered", "population", "code"], ascending=[True, False, False, True],
                          ignore_index=True)
    out["rank"] = out.groupby("level").cumcount() + 1
    return out.drop(columns="order")[PRIORITY_COLUMNS]
