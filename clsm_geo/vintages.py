"""Which years clsm-geo can measure with the data it ships: from 2015 (the QPV were created on 1 January 2015)
to the last COG year shipped (:data:`clsm_geo.geography.SHIPPED_YEARS`). Years before the first shipped COG are
measured with its codes and the 2015 QPV geography. Any other year is an error: never a silent substitution.
"""

from __future__ import annotations

from .errors import InputError
from .i18n import t

__all__ = ["FIRST_YEAR", "check_year", "years"]

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
