#!/usr/bin/env python3
"""Vendor the JavaScript/CSS that self-contained (``--offline``) interactive maps inline.

Fetches pinned npm packages with ``npm pack NAME@VERSION``, checks each tarball's sha256 against the
constants below, and copies the files the maps need (plus each LICENSE) into ``clsm_geo/maps/assets/``,
with ``manifest.json`` (sha256 of every vendored file) and ``README.md`` (versions, sha256, licences).

    python scripts/vendor_map_assets.py            # fetch, verify, copy (needs npm and the npm registry)
    python scripts/vendor_map_assets.py --check    # offline: vendored files still match manifest.json

To upgrade a package: change its version, run once, read the sha256 it reports, put it in ``sha256``
after checking it against the registry (``npm view NAME@VERSION dist.integrity``), run again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "clsm_geo" / "maps" / "assets"

#: npm package -> version, sha256 of the ``npm pack`` tarball, licence, files (path in package -> vendored name).
PACKAGES: dict[str, dict] = {
    "leaflet": {
        "version": "1.9.4",
        "sha256": "84c65a256e50657896f54c33bd857b6849ebe94c817803be818bf32a3dde0b77",
        "licence": "BSD-2-Clause",
        "homepage": "https://leafletjs.com",
        "files": {
            "package/dist/leaflet.js": "leaflet.js",
            "package/dist/leaflet.css": "leaflet.css",
            "package/dist/images/layers.png": "images/layers.png",
            "package/dist/images/layers-2x.png": "images/layers-2x.png",
            "package/dist/images/marker-icon.png": "images/marker-icon.png",
            "package/dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
            "package/dist/images/marker-shadow.png": "images/marker-shadow.png",
            "package/LICENSE": "LICENSE-leaflet.txt",
        },
    },
    "leaflet.fullscreen": {
        "version": "3.0.0",
        "sha256": "b19f191d11fc2e6afbb75af9e79cb923087a630e4c35a565353d756ed6c1c77a",
        "licence": "MIT",
        "homepage": "https://github.com/brunob/leaflet.fullscreen",
        "files": {
            "package/Control.FullScreen.js": "Control.FullScreen.js",
            "package/Control.FullScreen.css": "Control.FullScreen.css",
            "package/icon-fullscreen.svg": "icon-fullscreen.svg",
            "package/LICENSE": "LICENSE-leaflet.fullscreen.txt",
        },
    },
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(name: str, version: str, folder: Path) -> Path:
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(folder), "--json"],
                         check=True, capture_output=True, text=True)
    filename = json.loads(out.stdout)[0]["filename"]
    return folder / filename


def vendor() -> dict:
    manifest: dict = {"packages": {}, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in PACKAGES.items():
            tarball = npm_pack(name, spec["version"], Path(tmp))
            digest = sha256(tarball)
            if digest != spec["sha256"]:
                sys.exit(f"{name}@{spec['version']}: sha256 {digest} differs from the pinned {spec['sha256']}")
            with tarfile.open(tarball) as tar:
                for member, target in spec["files"].items():
                    data = tar.extractfile(tar.getmember(member)).read()
                    path = ASSETS / target
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    manifest["files"][target] = {"package": name, "sha256": hashlib.sha256(data).hexdigest()}
            manifest["packages"][name] = {k: spec[k] for k in ("version", "sha256", "licence", "homepage")}
            print(f"{name}@{spec['version']}: {len(spec['files'])} files, tarball sha256 {digest}")
    (ASSETS / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (ASSETS / "README.md").write_text(readme(manifest), encoding="utf-8")
    return manifest


def readme(manifest: dict) -> str:
    rows = "\n".join(
        f"| [{name}]({p['homepage']}) | {p['version']} | {p['licence']} | `{p['sha256']}` |"
        for name, p in sorted(manifest["packages"].items()))
    files = "\n".join(f"| `{f}` | {e['package']} | `{e['sha256']}` |" for f, e in sorted(manifest["files"].items()))
    return f"""# Map assets

Inlined into self-contained interactive maps (`clsm-geo map interactive --offline`, `res.map(offline=True)`),
so that the page needs no CDN and no network. Vendored by `scripts/vendor_map_assets.py` from the npm packages
below (`npm pack NAME@VERSION`, tarball sha256 checked against the script's constants); do not edit them by hand.
`python scripts/vendor_map_assets.py --check` verifies the files against `manifest.json`.

| package | version | licence | sha256 of the npm tarball |
|---|---|---|---|
{rows}

Licence texts: `LICENSE-leaflet.txt` (BSD-2-Clause), `LICENSE-leaflet.fullscreen.txt` (MIT).
`clsm-map.js` and `clsm-map.css` are not vendored: they are part of clsm-geo (MIT), the search box and
legend of the maps, and are not listed below.

| file | from | sha256 |
|---|---|---|
{files}
"""


def check() -> int:
    manifest = json.loads((ASSETS / "manifest.json").read_text(encoding="utf-8"))
    bad = [f for f, e in manifest["files"].items()
           if not (ASSETS / f).is_file() or sha256(ASSETS / f) != e["sha256"]]
    for f in bad:
        print(f"mismatch: {f}", file=sys.stderr)
    pinned = {n: s["version"] for n, s in PACKAGES.items()}
    if {n: p["version"] for n, p in manifest["packages"].items()} != pinned:
        print("manifest versions differ from the pinned ones: rerun the script", file=sys.stderr)
        bad.append("versions")
    print("assets OK" if not bad else f"{len(bad)} problem(s)")
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify vendored files (no network)")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
