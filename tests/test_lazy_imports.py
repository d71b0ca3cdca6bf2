"""`clsm-geo --help`, `--version` and a bad option import neither pandas, geopandas nor matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from clsm_geo.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--no-such-option"], ["coverage", "--help"],
                                  ["map", "interactive", "--help"]])
def test_cli_help_and_errors_stay_light(argv):
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True, text=True, timeout=60)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], (argv, line, out.stderr[-500:])


def test_an_offline_run_imports_no_network_library(tmp_path):
    """``--offline`` reads the shipped data and the cache: requests (and urllib3) are imported only to download."""
    probe = PROBE.replace('("pandas", "geopandas", "matplotlib", "numpy", "scipy", "shapely")',
                          '("requests", "urllib3", "matplotlib", "xlsxwriter")')
    argv = ["--offline", "-q", "coverage", "--year", "2024", "--registry", str(REPO / "examples" /
            "registry_fictitious.csv"), "--format", "csv", "--out", str(tmp_path / "out")]
    out = subprocess.run([sys.executable, "-c", probe, *argv], cwd=REPO, capture_output=True, text=True, timeout=300)
    line = [x for x in out.stdout.splitlines() if x.startswith("HEAVY=")]
    assert line == ["HEAVY="], (line, out.stderr[-500:])
    assert (tmp_path / "out" / "qpv.csv").is_file()
