"""Year-on-year comparison: what changed between two coverage results and why.

:func:`compare` takes two :class:`~clsm_geo.result.CoverageResult` (the same registry for two years, or two
registries) and returns a :class:`Comparison` with

* ``councils``: one row per council whose situation changed (``change``: created, activated, closed, paused,
  removed, deactivated, enlarged, reduced, perimeter_changed, commune_merger, new_project) with the codes
  added and removed (as written in the registries);
* ``qpv``: one row per QPV whose coverage changed (``change``: newly_covered, no_longer_covered,
  status_changed, entered_geography, left_geography) with its ``reason`` (new_council, extension, closure,
  pause, council_removed, reduction, commune_merger, qpv_geography_change, other);
* ``summary``: the headline figures before and after, their change and the count of QPV per reason, with
  the change as a sentence (``+24 CLSM actifs, +31 QPV couverts, dont 18 par des créations``).

A change of COG vintage between the two years shows as ``commune_merger`` where a council's listed codes are
the same but resolve to other communes; a change of QPV geography as ``entered_geography``/``left_geography``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import i18n

COUNCIL_COLUMNS = ["id", "name", "change", "status_before", "status_after", "communes_added", "communes_removed",
                   "epci_added", "epci_removed", "qpv_before", "qpv_after"]
QPV_COLUMNS = ["code_qp", "lib_qp", "insee_dep", "insee_reg", "change", "change_reason", "status_before",
               "status_after", "councils_before", "councils_after"]
FIGURE_COLUMNS = ("indicator", "value_before", "value_after", "difference")
FIGURES = ("councils_active", "councils_new", "councils_in_project", "councils_covering_qpv", "qpv_total",
           "qpv_covered", "qpv_partial")
_COVERED = ("covered", "partial")
_GAIN = (("new_council", ("created", "activated")), ("extension", ("enlarged", "perimeter_changed")),
         ("commune_merger", ("commune_merger",)))
_LOSS = (("closure", ("closed",)), ("pause", ("paused",)), ("council_removed", ("removed", "deactivated")),
         ("reduction", ("reduced", "perimeter_changed")), ("commune_merger", ("commune_merger",)))


def compare(before, after) -> Comparison:
    """Compare two coverage results (``before`` the earlier year) and explain each change."""
    return Comparison(before, after)


@dataclass(frozen=True, eq=False)
class Comparison:
    """What changed from ``before`` to ``after`` (two coverage results); tables are built on first use."""

    before: object
    after: object

    @functools.cached_property
    def councils(self) -> pd.DataFrame:
        """One row per council whose situation changed, sorted by id."""
        a = _councils(self.before)
        b = _councils(self.after)
        grown = _grown_communes(self.before.cog_year, self.after.cog_year)
        rows = []
        for cid in sorted(set(a) | set(b)):
            ra, rb = a.get(cid), b.get(cid)
            change = _council_change(ra, rb, grown)
            if change is None:
                continue
            listed = lambda r, k: set(r[k]) if r is not None else set()  # noqa: E731
            added = lambda k: ";".join(sorted(listed(rb, k) - listed(ra, k)))  # noqa: E731
            removed = lambda k: ";".join(sorted(listed(ra, k) - listed(rb, k)))  # noqa: E731
            rows.append({
                "id": cid, "name": (rb if rb is not None else ra)["name"], "change": change,
                "status_before": ra["status"] if ra is not None else "", "status_after": rb["status"] if rb is not None else "",
                "communes_added": added("communes_listed"), "communes_removed": removed("communes_listed"),
                "epci_added": added("epci_listed"), "epci_removed": removed("epci_listed"),
                "qpv_before": len(ra["qpv_codes"]) if ra is not None and ra["active"] else 0,
                "qpv_after": len(rb["qpv_codes"]) if rb is not None and rb["active"] else 0,
            })
        return pd.DataFrame(rows, columns=COUNCIL_COLUMNS)

    @functools.cached_property
    def qpv(self) -> pd.DataFrame:
        """One row per QPV whose coverage changed, with the reason, sorted by code."""
        kinds = dict(zip(self.councils["id"], self.councils["change"]))
        a, b = _qpv(self.before), _qpv(self.after)
        rows = []
        for code in sorted(set(a.index) | set(b.index)):
            ra = a.loc[code] if code in a.index else None
            rb = b.loc[code] if code in b.index else None
            if ra is None or rb is None:
                change, reason = ("entered_geography" if ra is None else "left_geography"), "qpv_geography_change"
            else:
                cov_a, cov_b = ra["status"] in _COVERED, rb["status"] in _COVERED
                if ra["status"] == rb["status"]:
                    continue
                change = ("newly_covered" if cov_b and not cov_a else "no_longer_covered" if cov_a and not cov_b
                          else "status_changed")
                gained = rb["status"] == "covered" or (cov_b and not cov_a)
                reason = _reason(rb["councils"] if gained else ra["councils"], kinds, _GAIN if gained else _LOSS)
            info = rb if rb is not None else ra
            rows.append({
                "code_qp": code, "lib_qp": info["lib_qp"], "insee_dep": info["insee_dep"],
                "insee_reg": info["insee_reg"], "change": change, "change_reason": reason,
                "status_before": ra["status"] if ra is not None else "",
                "status_after": rb["status"] if rb is not None else "",
                "councils_before": ";".join(ra["councils"]) if ra is not None else "",
                "councils_after": ";".join(rb["councils"]) if rb is not None else "",
            })
        return pd.DataFrame(rows, columns=QPV_COLUMNS)

    @functools.cached_property
    def summary(self) -> dict:
        """Figures before and after, their change, and the QPV newly covered / lost per reason."""
        sa, sb = self.before.summary, self.after.summary
        q = self.qpv
        gained = q[(q["status_after"].isin(_COVERED)) & ~(q["status_before"].isin(_COVERED))]
        lost = q[(q["status_before"].isin(_COVERED)) & ~(q["status_after"].isin(_COVERED))]
        return {
            "year_before": sa["year"], "year_after": sb["year"],
            "qpv_geography_before": sa["qpv_geography"], "qpv_geography_after": sb["qpv_geography"],
            "cog_year_before": sa["cog_year"], "cog_year_after": sb["cog_year"],
            "before": {k: sa[k] for k in FIGURES}, "after": {k: sb[k] for k in FIGURES},
            "change": {k: sb[k] - sa[k] for k in FIGURES},
            "qpv_gained_by_reason": {k: int(v) for k, v in gained["change_reason"].value_counts().sort_index().items()},
            "qpv_lost_by_reason": {k: int(v) for k, v in lost["change_reason"].value_counts().sort_index().items()},
            "councils_by_change": {k: int(v) for k, v in self.councils["change"].value_counts().sort_index().items()},
            "no_change": self.councils.empty and q.empty and all(sa[k] == sb[k] for k in FIGURES),
        }

    def sentence(self, lang: str | None = None) -> str:
        """The change of the headline figures as one sentence in ``lang`` (French by default)."""
        s = self.summary
        span = i18n.t("compare.span", lang, a=s["year_before"], b=s["year_after"])
        if s["no_change"]:
            return i18n.t("compare.no_change", lang, span=span)
        d = s["change"]
        parts = [_signed("compare.sentence.councils", d["councils_active"], lang),
                 _signed("compare.sentence.qpv", d["qpv_covered"], lang)]
        created = s["qpv_gained_by_reason"].get("new_council", 0)
        if created:
            parts[-1] += " " + i18n.tn("compare.sentence.created", created, lang)
        if s["qpv_geography_before"] != s["qpv_geography_after"]:
            parts.append(i18n.t("compare.sentence.geography", lang, a=s["qpv_geography_before"],
                                b=s["qpv_geography_after"]))
        return i18n.t("compare.sentence.format", lang, span=span, parts=", ".join(parts))

    def figures(self, lang: str | None = None) -> pd.DataFrame:
        """The key figures before and after and their difference, the indicator named in ``lang``."""
        from .columns import label

        s = self.summary
        return pd.DataFrame({"indicator": [label(k, lang) for k in FIGURES],
                             "value_before": [s["before"][k] for k in FIGURES],
                             "value_after": [s["after"][k] for k in FIGURES],
                             "difference": [s["change"][k] for k in FIGURES]}, columns=list(FIGURE_COLUMNS))

    def to_files(self, directory: str | Path, lang: str | None = None) -> list[Path]:
        """``compare_councils.csv``, ``compare_qpv.csv`` (codes), ``compare.json`` and ``compare.xlsx`` (words)."""
        from .io import write_csv, write_json
        from .workbook import write_workbook

        out = Path(directory)
        summary = {**self.summary, "sentence": self.sentence(lang)}
        sources = {"years": f"{summary['year_before']}, {summary['year_after']}",
                   "registry": self.after.summary.get("registry"), "method": self.after.summary.get("method"),
                   "thresholds": self.after.summary.get("thresholds")}
        return [
            write_csv(self.councils, out / "compare_councils.csv"),
            write_csv(self.qpv, out / "compare_qpv.csv"),
            write_json(summary, out / "compare.json"),
            write_workbook({"compare_summary": self.figures(lang), "compare_councils": self.councils,
                            "compare_qpv": self.qpv}, out / "compare.xlsx", sources, lang),
        ]

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(self.sentence())}</p>"


def _councils(result) -> dict[str, dict]:
    table = result.councils_table
    keep = ["id", "name", "status", "active", "in_project", "communes_listed", "epci_listed", "communes",
            "qpv_codes"]
    return {r["id"]: r for r in table[keep].to_dict("records")}


def _qpv(result) -> pd.DataFrame:
    q = result.qpv
    q = q[q["in_force"]]
    return pd.DataFrame(q[["code_qp", "lib_qp", "insee_dep", "insee_reg", "status", "councils"]]).set_index(
        "code_qp", drop=False)


def _grown_communes(year_a: int, year_b: int) -> frozenset[str]:
    """Communes of COG ``year_b`` that absorbed communes of COG ``year_a`` (communes nouvelles in between)."""
    if year_a == year_b:
        return frozenset()
    from .codes import resolve_communes
    from .geography import geography

    gone = sorted(set(geography(year_a).communes["insee_com"]) - set(geography(year_b).communes["insee_com"]))
    if not gone:
        return frozenset()
    resolved = resolve_communes(gone, year_b, strict=False)
    return frozenset(resolved["insee_com"].dropna())


def _council_change(ra, rb, grown: frozenset[str] = frozenset()) -> str | None:
    """The change of one council between the two years (None when nothing changed that matters)."""
    act_a = ra is not None and ra["active"]
    act_b = rb is not None and rb["active"]
    if act_b and not act_a:
        return "activated" if ra is not None else "created"
    if act_a and not act_b:
        if rb is None:
            return "removed"
        return {"closed": "closed", "dormant": "paused"}.get(rb["status"], "deactivated")
    if not act_a and not act_b:
        return "new_project" if rb is not None and rb["in_project"] and (ra is None or not ra["in_project"]) else None
    grew = shrank = False
    for key in ("communes_listed", "epci_listed"):
        grew |= bool(set(rb[key]) - set(ra[key]))
        shrank |= bool(set(ra[key]) - set(rb[key]))
    if grew or shrank:
        return "perimeter_changed" if grew and shrank else "enlarged" if grew else "reduced"
    if set(ra["communes"]) != set(rb["communes"]) or set(rb["communes"]) & grown:
        return "commune_merger"
    return None


def _reason(councils, kinds: dict[str, str], rules) -> str:
    seen = {kinds.get(c) for c in councils}
    for reason, changes in rules:
        if seen & set(changes):
            return reason
    return "other"


def _signed(key: str, n: int, lang: str | None) -> str:
    """``+24 CLSM actifs``: the count with its sign (the language's plus and minus signs)."""
    from babel.numbers import get_minus_sign_symbol, get_plus_sign_symbol

    locale = i18n.locale(lang)
    sign = get_plus_sign_symbol(locale) if n > 0 else get_minus_sign_symbol(locale) if n < 0 else ""
    return sign + i18n.tn(key, abs(int(n)), lang)
