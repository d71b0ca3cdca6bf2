#!/usr/bin/env bash
# Install what benchmarks/compare.py needs beyond the package: PostgreSQL + PostGIS (Debian packages,
# as root) and the Python "bench" dependencies (DuckDB, its spatial extension of the SAME version,
# psycopg 3). compare.py itself installs nothing: it starts a throw-away server from these binaries.
#
#   sudo bash benchmarks/setup.sh            # or as root; PYTHON defaults to .venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DUCKDB_VERSION="${DUCKDB_VERSION:-1.5.5}"   # duckdb-extension-spatial must carry the same version

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y postgresql postgis
  # Debian starts a cluster as a service; the benchmark does not use it.
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
"$PYTHON" -m pip install "duckdb==${DUCKDB_VERSION}" "duckdb-extension-spatial==${DUCKDB_VERSION}" "psycopg[binary]>=3.1,<4"
"$PYTHON" - <<'PY'
import sys
sys.path.insert(0, "benchmarks")
import compare
for peer in ("postgis", "duckdb"):
    why = compare.peer_available(peer)
    print(f"{peer}: {'ready' if why is None else why}")
PY
