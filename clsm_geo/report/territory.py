"""The territory a report is about: France, one region or one department, named by code or by name.

Names match whatever their case, accents, hyphens or apostrophes (``"hauts de france"``, ``"ILE-DE-FRANCE"``,
``"seine saint denis"``). A name that matches no territory exactly is never guessed: it is an
:class:`~clsm_geo.errors.InputError` listing the closest names (rapidfuzz), raised before any computation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ..errors import InputError
from ..i18n import t

LEVELS = ("region", "department")


@dataclass(frozen=True)
class Territory:
    """``level``: ``nation``, ``region`` or ``department``; ``code``: INSEE code (``""`` for France);
    ``region``: the region code of a department (its own code for a region)."""

    level: str
    code: str
    name: str
    region: str = ""
    departments: frozenset[str] = frozenset()

    @property
    def national(self) -> bool:
        return self.level == "nation"

    @property
    def slug(self) -> str:
        """A file-name-safe name: ``11-ile-de-france``."""
        return f"{self.code}-{re.sub(r'[^a-z0-9]+', '-', normalise(self.name)).strip('-')}"


NATION = Territory("nation", "", "France")


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by one space (``Île-d'Yeu`` -> ``ile d yeu``)."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.split(r"[^a-z0-9]+", plain)).strip()


def _table(geo, level: str):
    if level == "region":
        table = geo.regions[["insee_reg", "lib_reg"]].rename(columns={"insee_reg": "code", "lib_reg": "name"})
        table["region"] = table["code"]
    else:
        table = geo.departments[["insee_dep", "lib_dep", "insee_reg"]].rename(
            columns={"insee_dep": "code", "lib_dep": "name", "insee_reg": "region"})
    return table.reset_index(drop=True)


def territory(geo, level: str, code: str) -> Territory:
    """The :class:`Territory` of an exact INSEE ``code`` of ``level`` in the geography ``geo``."""
    table = _table(geo, level).set_index("code")
    row = table.loc[code]
    deps = geo.departments
    members = deps.loc[deps["insee_reg"] == code, "insee_dep"] if level == "region" else [code]
    return Territory(level, code, row["name"], row["region"], frozenset(members))


def territories(geo, level: str) -> list[Territory]:
    """Every region or department of ``geo``, in code order."""
    return [territory(geo, level, code) for code in sorted(_table(geo, level)["code"])]


def resolve(geo, level: str, text: str, lang: str | None = None) -> Territory:
    """The region or department named ``text`` (a code, ``1`` for ``01``, or a name in any case, with or
    without accents) in the geography ``geo``; else an :class:`InputError` naming the closest ones."""
    if level not in LEVELS:
        raise InputError(t("engine.coverage.territory_level", lang, level=repr(level)),
                         hint=t("engine.coverage.territory_level_hint", lang))
    table = _table(geo, level)
    raw = str(text).strip()
    code = raw.upper()
    if code.isdigit() and len(code) == 1:
        code = code.zfill(2)
    if code in set(table["code"]):
        return territory(geo, level, code)
    wanted = normalise(raw)
    names = [normalise(n) for n in table["name"]]
    if wanted in names:
        return territory(geo, level, table["code"].iloc[names.index(wanted)])
    raise InputError(t(f"report.error.unknown_{level}", lang, name=raw, choices=_closest(table, wanted, lang)),
                     hint=t(f"report.error.hint_{level}", lang))


def _closest(table, wanted: str, lang: str | None, limit: int = 3) -> str:
    from rapidfuzz import fuzz, process

    labels = list(table["name"])
    choices = [normalise(n) for n in labels]
    found = process.extract(wanted, choices, scorer=fuzz.WRatio, limit=limit)
    best = found[0][1] if found else 0
    kept = [labels[i] for _, score, i in found if score >= best - 10]
    return t("report.error.or", lang).join(kept)
