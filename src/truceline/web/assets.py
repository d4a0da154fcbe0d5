"""Where the page's static files live, and the check that the vendored npm files are the ones recorded.

Why a manifest: vendored files are kept in the tree so that installing needs no npm; the manifest
(written by ``scripts/vendor_web.py``) names each file's package, version, licence and SHA-256, so a
reviewer or a test can tell that nobody edited a vendored file by hand.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

STATIC_PACKAGE = "truceline.web"


def static_dir() -> Path:
    """The folder of the page's static files (inside the installed package)."""
    return Path(str(resources.files(STATIC_PACKAGE).joinpath("static")))


def check_manifest(vendor_dir: Path) -> list[str]:
    """Problems between ``vendor_dir/manifest.json`` and the files beside it; empty when they match.

    Reports files listed but missing or altered, files present but not listed, and packages whose licence
    file was not copied.
    """
    manifest_path = vendor_dir / "manifest.json"
    if not manifest_path.is_file():
        return [f"{manifest_path} is missing: run scripts/vendor_web.py"]
    manifest = json.loads(manifest_path.read_text())
    problems: list[str] = []
    listed: set[str] = set()
    for package in manifest["packages"]:
        paths = {item["path"] for item in package["files"]}
        if not any(Path(p).name.upper().startswith("LICEN") for p in paths):
            problems.append(f"{package['name']}: no licence file vendored")
        for item in package["files"]:
            listed.add(item["path"])
            target = vendor_dir / item["path"]
            if not target.is_file():
                problems.append(f"{item['path']}: listed in the manifest but missing")
            elif hashlib.sha256(target.read_bytes()).hexdigest() != item["sha256"]:
                problems.append(f"{item['path']}: content differs from the manifest's sha256")
    present = {p.relative_to(vendor_dir).as_posix() for p in vendor_dir.rglob("*") if p.is_file()} - {"manifest.json"}
    for extra in sorted(present - listed):
        problems.append(f"{extra}: present but not in the manifest")
    return problems
