"""The columns of every output table: which hold codes, shares, counts, and their words for people.

Machine files (CSV, JSON, GeoJSON, Parquet) keep the stable snake_case column names and codes; people read
a column's label, unit and meaning from the catalogue (``i18n/<lang>/columns.toml``, keys
``columns.<code>.label|unit|meaning``). :func:`clsm_geo.data_dictionary.output_tables` lists every output
table and its columns; ``docs/data-dictionary.md`` is generated from both by ``scripts/build_data_dictionary.py``.
"""

from __future__ import annotations

from . import i18n

#: Columns holding codes (INSEE, SIREN, QPV, council ids) or lists of codes: always text, never numbers
#: (department ``01`` must not become ``1``, commune ``01053`` not ``1053``).
CODE_COLUMNS: frozenset[str] = frozenset({
    "code_qp", "insee_dep", "insee_reg", "insee_com", "siren_epci", "communes", "councils", "id", "departments",
    "regions", "epci_listed", "epci_touched", "qpv_codes", "territory_code", "council_ids", "nearest_council_id",
    "council_id", "units_added", "qpv_gained", "code", "value", "communes_added", "communes_removed",
    "epci_added", "epci_removed", "councils_before", "councils_after", "qpv_regions", "qpv_regions_missing",
})

#: Share columns (numbers in [0, 1], shown as percentages) and the decimals shown in a workbook.
SHARE_DECIMALS: dict[str, int] = {
    "qpv_covered_share": 1, "covered_share": 1, "area_share": 1, "thresholds.covered": 0, "thresholds.partial": 0,
}

#: Integer columns shown without a thousands separator (years, steps, ranks, row numbers).
PLAIN_INTEGERS: frozenset[str] = frozenset({
    "year", "cog_year", "qpv_geography", "created", "closed", "step", "rank", "row",
})

#: Decimal columns and the decimals shown in a workbook (the files keep every decimal computed).
DECIMALS: dict[str, int] = {"area_ha": 1, "nearest_distance_km": 1}

#: Columns whose values are codes of an enumeration, shown in words in a workbook: column -> catalogue prefix.
#: ``status`` holds a QPV status or a council status depending on the table (the two sets do not overlap).
VALUE_WORDS: dict[str, tuple[str, ...]] = {
    "status": ("status.qpv", "status.council"),
    "status_commune": ("status.qpv",),
    "status_geometry": ("status.qpv",),
    "action": ("workbook.values.action",),
    "approach": ("workbook.values.approach",),
    "kind": ("workbook.values.kind",),
    "level": ("workbook.values.level",),
    "territory_type": ("workbook.values.territory_type",),
    "method": ("workbook.values.method",),
    "scale": ("workbook.values.scale",),
    "severity": ("workbook.values.severity",),
    "qpv_source.kind": ("workbook.sources.kind",),
    "change": ("compare.council", "compare.qpv"),
    "change_reason": ("compare.reason",),
    "status_before": ("status.qpv", "status.council"),
    "status_after": ("status.qpv", "status.council"),
}

#: Council statuses as the registry keeps them (canonical English) -> keys of ``status.council``.
_COUNCIL_STATUS_KEYS = {"active": "actif", "in_project": "en_projet", "dormant": "en_sommeil", "closed": "ferme"}


def is_share(column: str) -> bool:
    """True for columns holding a share in [0, 1]."""
    return column in SHARE_DECIMALS or column.endswith("_share")


def label(column: str, lang: str | None = None) -> str:
    """The label of ``column`` for people (``Part des QPV couverts``); a missing label is a ``KeyError``."""
    return i18n.t(f"columns.{column}.label", lang)


def unit(column: str, lang: str | None = None) -> str:
    """The unit of ``column`` in words (``part (0 à 1, affichée en %)``)."""
    return i18n.t(f"columns.{column}.unit", lang)


def meaning(column: str, lang: str | None = None) -> str:
    """What ``column`` holds, in one or two sentences."""
    return i18n.t(f"columns.{column}.meaning", lang)


def has_label(column: str, lang: str | None = None) -> bool:
    """True when the catalogue of ``lang`` has a label for ``column``."""
    return i18n.has(f"columns.{column}.label", lang)


def value_words(column: str, value, lang: str | None = None):
    """``value`` of an enumerated column in words (``covered`` -> ``couvert``), else ``value`` unchanged."""
    if not isinstance(value, str) or column not in VALUE_WORDS:
        return value
    for prefix in VALUE_WORDS[column]:
        for key in (value, _COUNCIL_STATUS_KEYS.get(value), value.replace(" ", "_")):
            if key and i18n.has(f"{prefix}.{key}", lang):
                return i18n.t(f"{prefix}.{key}", lang)
    return value
