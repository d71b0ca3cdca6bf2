"""Everything configurable in one place: folders, network, thresholds and the CRS table.

Values are read once from the environment and can be overridden for a session with
:func:`configure` (the CLI does this for ``--data-dir`` and ``--offline``)::

    import clsm_geo
    clsm_geo.settings.configure(offline=True, partial_threshold=0.05)

Environment variables: ``CLSM_GEO_DATA_DIR`` (folder for downloaded official files and
their cache index), ``CLSM_GEO_OFFLINE`` (``1`` forbids any network access).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

#: Projected CRS used to compute areas and distances, by department code (INSEE).
#: Metropolitan France (and Corsica) use Lambert-93; overseas departments their local UTM systems.
METROPOLITAN_CRS = 2154  # RGF93 v1 / Lambert-93
OVERSEAS_CRS: dict[str, int] = {
    "971": 5490,  # Guadeloupe: RGAF09 / UTM zone 20N
    "972": 5490,  # Martinique: RGAF09 / UTM zone 20N
    "973": 2972,  # Guyane: RGFG95 / UTM zone 22N
    "974": 2975,  # La Réunion: RGR92 / UTM zone 40S
    "976": 4471,  # Mayotte: RGM04 / UTM zone 38S
    "975": 4467,  # Saint-Pierre-et-Miquelon: RGSPM06 / UTM zone 21N
    "977": 5490,  # Saint-Barthélemy: RGAF09 / UTM zone 20N
    "978": 5490,  # Saint-Martin: RGAF09 / UTM zone 20N
    "986": 32701,  # Wallis-et-Futuna: WGS 84 / UTM zone 1S
    "987": 3297,  # Polynésie française: RGPF / UTM zone 6S
    "988": 3163,  # Nouvelle-Calédonie: RGNC91-93 / Lambert New Caledonia
}
#: Overseas departments (DROM), shown as insets on national maps.
OVERSEAS_DEPARTMENTS: tuple[str, ...] = ("971", "972", "973", "974", "976")
#: Geographic CRS of every layer kept in memory and exported (WGS84 longitude/latitude).
STORAGE_CRS = 4326

#: CSV flavours of table outputs (see :attr:`Settings.csv_dialect`).
CSV_DIALECTS: tuple[str, ...] = ("rfc4180", "excel-fr")

#: Paris, Lyon, Marseille: whole-city code -> prefix of its arrondissement codes.
PLM_CITIES: dict[str, str] = {"75056": "751", "69123": "6938", "13055": "132"}


def _default_data_dir() -> Path:
    env = os.environ.get("CLSM_GEO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("clsm-geo", appauthor=False))


def _env_float(name: str, default: float) -> float:
    """A positive number from the environment, ``default`` when unset or not a positive number."""
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 and value == value and value != float("inf") else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Run-time settings. Thresholds are shares in [0, 1]; timeouts are seconds."""

    data_dir: Path = field(default_factory=_default_data_dir)
    offline: bool = field(default_factory=lambda: _env_flag("CLSM_GEO_OFFLINE"))
    #: Geometry method: a QPV is ``covered`` when at least this share of its area is inside perimeters.
    covered_threshold: float = 0.99
    #: Geometry method: ``partial`` above this share, ``uncovered`` at or below it.
    partial_threshold: float = 0.01
    #: Network: seconds to connect / between bytes, retries after the first attempt, first backoff delay
    #: (doubles at each retry).
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    #: Network: overall deadline of one file's download, retries included (seconds; env ``CLSM_GEO_TIMEOUT``).
    download_timeout: float = field(default_factory=lambda: _env_float("CLSM_GEO_TIMEOUT", 600.0))
    #: Network: largest body a download may bring (bytes; env ``CLSM_GEO_MAX_DOWNLOAD_MB`` in MB). The largest
    #: official QPV file is about 40 MB: the default leaves room for a few times that.
    max_download_size: int = field(
        default_factory=lambda: int(_env_float("CLSM_GEO_MAX_DOWNLOAD_MB", 200.0) * 1_000_000))
    #: Show progress bars on long work (downloads, national runs) when stderr is a terminal.
    progress: bool = True
    #: CSV flavour of table outputs: ``rfc4180`` (UTF-8, ``,``, ``.``) or ``excel-fr`` (UTF-8 with BOM, ``;``,
    #: decimal comma, codes kept as text) for a double-click in French Excel. Env ``CLSM_GEO_CSV_DIALECT``.
    csv_dialect: str = field(default_factory=lambda: os.environ.get("CLSM_GEO_CSV_DIALECT", "").strip() or "rfc4180")

    @property
    def cache_dir(self) -> Path:
        """Folder holding downloaded official files (``<data_dir>/cache``)."""
        return self.data_dir / "cache"


_current = Settings()


def get() -> Settings:
    """The settings in force."""
    return _current


def configure(**changes) -> Settings:
    """Override some settings for the rest of the session and return the new settings."""
    global _current
    if "data_dir" in changes and changes["data_dir"] is not None:
        changes["data_dir"] = Path(changes["data_dir"]).expanduser()
    _current = dataclasses.replace(_current, **{k: v for k, v in changes.items() if v is not None})
    return _current


def reset() -> Settings:
    """Back to the values read from the environment (used by tests)."""
    global _current
    _current = Settings()
    return _current


def shipped_data_dir() -> Path:
    """Folder of the data shipped with the package (``boundaries/``, ``qpv/``).

    In an installed wheel it is ``clsm_geo/_data``; in a source checkout, the repository's ``data/``.
    """
    here = Path(__file__).resolve().parent
    inside = here / "_data"
    return inside if inside.is_dir() else here.parent / "data"


def projected_crs(insee_dep: str | None) -> int:
    """EPSG code of the projected CRS for areas and distances (metres) in a department."""
    if insee_dep is None:
        return METROPOLITAN_CRS
    return OVERSEAS_CRS.get(str(insee_dep)[:3], METROPOLITAN_CRS)


def is_overseas(insee_dep: str | None) -> bool:
    """True for departments and collectivities outside metropolitan France (codes 97x, 98x)."""
    return insee_dep is not None and str(insee_dep).startswith(("97", "98"))
