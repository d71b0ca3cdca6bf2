"""The headline the national resource centre publishes, in the chosen language, from summary figures.

``Au 31 décembre 2024 : 298 CLSM sont actifs, dont 24 nouveaux en 2024 ; 133 CLSM sont en projet ;
197 CLSM couvrent des quartiers prioritaires, soit 56 % des 1 362 QPV au niveau national.``

Every word comes from the ``headline`` catalogue (``clsm_geo/i18n/{fr,en}/headline.toml``), with CLDR
plurals (``1 CLSM est actif``, ``aucun CLSM n'est actif``) and numbers, dates and percentages formatted
by Babel. When partly covered QPV are counted as covered the sentence says so
(``(763 QPV couverts, dont 14 partiellement)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import i18n

#: Extents of the QPV counted (``summary["qpv_scope"]``); anything else reads as "of this file".
SCOPES = ("national", "file", "region", "department")


def headline(summary: Mapping, lang: str | None = None, *, extra: Sequence[str] = ()) -> str:
    """The headline of ``summary`` (a :attr:`CoverageResult.summary` or the same keys for a territory).

    Keys used: ``year``, ``councils_active``, ``councils_new``, ``councils_in_project``,
    ``councils_covering_qpv``, ``qpv_total``, ``qpv_covered``, ``qpv_partial``, ``qpv_covered_share``
    (0–1) and, optionally, ``qpv_scope`` (:data:`SCOPES`, default ``national``). ``extra``: clauses, already
    in ``lang``, appended after the QPV share (e.g. QPV of another geography).
    """
    code = i18n.get_lang(lang)
    year = int(summary["year"])
    active = int(summary["councils_active"])
    new = int(summary.get("councils_new", 0) or 0)
    text = i18n.tn("headline.active", active, code)
    if active:
        text += i18n.tn("headline.new", new, code, year=year)
    return i18n.t("headline.sentence", code, date=i18n.year_end(year, code), active=text,
                  project=i18n.tn("headline.project", int(summary["councils_in_project"]), code),
                  covering=i18n.tn("headline.covering", int(summary["councils_covering_qpv"]), code),
                  qpv=qpv_clause(summary, code, extra=extra))


def qpv_clause(summary: Mapping, lang: str | None = None, *, extra: Sequence[str] = ()) -> str:
    """``soit 56 % des 1 362 QPV au niveau national`` [+ ``(N QPV couverts, dont M partiellement)``] [+ ``extra``].

    The figure is the national one (``qpv_total_national``: in 2024 the metropolitan QPV, the overseas ones being
    of the 2015 geography) when the summary has it; "QPV : non disponible" when the geography in force is not
    available. ``extra`` clauses starting with a conjunction (``et …``) follow with a space, others after ``;``.
    """
    code = i18n.get_lang(lang)
    scope = summary.get("qpv_scope") or "national"
    scope = scope if scope in SCOPES else "file"
    total = summary.get("qpv_total_national", summary.get("qpv_total"))
    share = summary.get("qpv_covered_share_national", summary.get("qpv_covered_share"))
    if _unknown(total) or _unknown(share):
        text = i18n.t("headline.qpv_not_available", code)
    else:
        text = i18n.tn(f"headline.share.{scope}", int(total), code, pct=i18n.fmt_pct(float(share or 0.0), 0, code))
    partial = int(summary.get("qpv_partial", 0) or 0)
    covered = summary.get("qpv_covered_national", summary.get("qpv_covered"))
    if partial > 0 and not _unknown(covered):
        text += i18n.tn("headline.partial", int(covered), code, partial=i18n.fmt_int(partial, code))
    for clause in extra:
        joined = clause.startswith((i18n.t("headline.and", code) + " "))
        text += (" " if joined else i18n.t("headline.separator", code)) + clause
    return text


def _unknown(value) -> bool:
    """None or NaN (a figure that is not available)."""
    return value is None or value != value
