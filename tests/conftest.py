"""Shared fixtures. Real reference data is read in place from ``../shared/data``.

Set ``CLSM_GEO_SHARED_DATA`` to point elsewhere. A missing folder is an error, never a skip:
the tests are only meaningful on the real data.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLSM_GEO_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()

if not (SHARED / "SOURCES.md").is_file():
    raise pytest.UsageError(
        f"Reference data not found at {SHARED}. Set CLSM_GEO_SHARED_DATA to the shared/data folder."
    )


@pytest.fixture(scope="session")
def shared() -> Path:
    """Root of the shared reference data (read only)."""
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Each test gets its own empty data/cache folder and the default thresholds."""
    from clsm_geo import i18n, settings

    data_dir = tmp_path_factory.mktemp("clsm-data")
    monkeypatch.setenv("CLSM_GEO_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CLSM_GEO_OFFLINE", raising=False)
    monkeypatch.delenv("CLSM_GEO_LANG", raising=False)
    settings.reset()
    i18n.set_lang(None)
    yield
    settings.reset()
    i18n.set_lang(None)
