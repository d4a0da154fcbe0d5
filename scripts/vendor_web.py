#!/usr/bin/env python3
"""Vendor the analyst page's browser libraries from npm into ``src/truceline/web/static/vendor/``.

Why: the page must work offline (no CDN, no tile server) and ``pip install`` on a fresh machine must not
need npm, so the few files the page loads are copied into the package and kept in the tree. This script
is the only place npm is used: it runs ``npm ci`` on the pinned ``web/package.json`` + ``package-lock.json``
in a temporary directory, copies the listed files with each package's licence, and writes
``vendor/manifest.json`` (package, version, licence, npm integrity, sha256 of every copied file), which a
test checks against the files. It also regenerates ``static/data/places.geojson`` from the gazetteer.

Run from the checkout: ``python scripts/vendor_web.py`` (``--check`` only verifies, changes nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NPM_DIR = REPO / "web"
STATIC = REPO / "src" / "truceline" / "web" / "static"
VENDOR = STATIC / "vendor"
PLACES = STATIC / "data" / "places.geojson"

#: package → files to copy (path inside the npm package → path under vendor/<package>/).
FILES: dict[str, dict[str, str]] = {
    "leaflet": {
        "dist/leaflet-src.esm.js": "leaflet-src.esm.js",
        "dist/leaflet.css": "leaflet.css",
        "dist/images/layers.png": "images/layers.png",
        "dist/images/layers-2x.png": "images/layers-2x.png",
        "dist/images/marker-icon.png": "images/marker-icon.png",
        "dist/images/marker-icon-2x.png": "images/marker-icon-2x.png",
        "dist/images/marker-shadow.png": "images/marker-shadow.png",
        "LICENSE": "LICENSE",
    },
    "topojson-client": {
        "dist/topojson-client.min.js": "topojson-client.min.js",
        "LICENSE": "LICENSE",
    },
    "world-atlas": {
        "countries-50m.json": "countries-50m.json",
        "LICENSE": "LICENSE",
        "README.md": "README.md",  # states the Natural Earth (public domain) origin of the data
    },
}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm_ci(workdir: Path) -> None:
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(NPM_DIR / name, workdir / name)
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev"], cwd=workdir, check=True
    )


def vendor(workdir: Path) -> dict[str, object]:
    """Copy the listed files out of ``workdir/node_modules`` into VENDOR; return the manifest."""
    lock = json.loads((NPM_DIR / "package-lock.json").read_text())
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    packages = []
    for package, files in FILES.items():
        source = workdir / "node_modules" / package
        meta = json.loads((source / "package.json").read_text())
        locked = lock["packages"][f"node_modules/{package}"]
        if meta["version"] != locked["version"]:
            raise SystemExit(f"{package}: installed {meta['version']} but the lock pins {locked['version']}")
        copied = []
        for inner, outer in files.items():
            target = VENDOR / package / outer
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / inner, target)
            copied.append({"path": f"{package}/{outer}", "from": inner, "sha256": sha256_file(target)})
        packages.append(
            {
                "name": package,
                "version": meta["version"],
                "license": meta.get("license", "see LICENSE"),
                "integrity": locked.get("integrity", ""),
                "files": copied,
            }
        )
    manifest: dict[str, object] = {"generated_by": "scripts/vendor_web.py", "packages": packages}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_places() -> int:
    """Regenerate the bundled places layer from the gazetteer; returns how many places it holds."""
    sys.path.insert(0, str(REPO / "src"))
    from truceline.web.places import places_geojson

    document = places_geojson()
    PLACES.parent.mkdir(parents=True, exist_ok=True)
    PLACES.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return len(document["features"])


def check() -> list[str]:
    """Problems between the manifest and the vendored files (empty when they match)."""
    sys.path.insert(0, str(REPO / "src"))
    from truceline.web.assets import check_manifest

    return check_manifest(VENDOR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the manifest against the files")
    parser.add_argument("--skip-places", action="store_true", help="do not regenerate places.geojson")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        print("vendored files match the manifest" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    with tempfile.TemporaryDirectory(prefix="truceline-npm-") as tmp:
        _npm_ci(Path(tmp))
        manifest = vendor(Path(tmp))
    for package in manifest["packages"]:  # type: ignore[union-attr]
        print(f"{package['name']} {package['version']} ({package['license']}): {len(package['files'])} files")
    if not args.skip_places:
        print(f"places.geojson: {write_places()} places")
    return 0


if __name__ == "__main__":
    sys.exit(main())
