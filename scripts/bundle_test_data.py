"""Rebuild ``tests/data`` from the project's shared real data (``../shared``): the facts and figures the
tests read, cut to what they read and gzip-compressed, so that a plain clone tests without ``../shared``.

    python scripts/bundle_test_data.py [--shared ../shared]

``tests/test_test_data.py`` rebuilds the same bytes in memory whenever ``../shared`` is there, so a bundled
file that drifts from its source fails the suite. Free text (Bellingcat's descriptions, the seed articles)
is never bundled: see ``tests/data/README.md``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
DEFAULT_SHARED = REPO.parent / "shared"
MANIFEST = "MANIFEST.json"


def _copy(source: Path) -> bytes:
    return source.read_bytes()


def _bellingcat_facts(source: Path) -> bytes:
    """Date, place reference and verified point of every incident; descriptions and sources left out."""
    out = []
    for record in json.loads(source.read_text(encoding="utf-8")):
        fact = {"date": record["date"], "latitude": record["latitude"], "longitude": record["longitude"]}
        if record.get("location"):
            fact["location"] = record["location"]
        out.append(fact)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def _merkle_testdata(source: Path) -> bytes:
    """Every vector file of ``testdata/`` as one JSON object keyed by its path below ``testdata/``."""
    files = {str(p.relative_to(source)): json.loads(p.read_text()) for p in sorted(source.rglob("*.json"))}
    return json.dumps(files, sort_keys=True, separators=(",", ":")).encode()


# bundled path (below tests/data, ".gz" means gzip of the content) → (source below ../shared, derivation)
SOURCES: dict[str, tuple[str, Callable[[Path], bytes]]] = {
    "firms/firms-ukraine-2022.csv.gz": ("datasets/firms-ukraine-2022.csv", _copy),
    "firms/firms-ukraine-2023.csv.gz": ("datasets/firms-ukraine-2023.csv", _copy),
    "bellingcat/bellingcat-civilian-harm-2022-2023-facts.json.gz": ("datasets/bellingcat-civilian-harm-2022-2023.json", _bellingcat_facts),
    "merkle/rfc6962_roots.json": ("vectors/merkle/rfc6962_roots.json", _copy),
    "merkle/testdata.json.gz": ("vectors/merkle/testdata", _merkle_testdata),
    "merkle/LICENSE": ("vectors/merkle/LICENSE", _copy),
    "merkle/SOURCE_COMMIT": ("vectors/merkle/SOURCE_COMMIT", _copy),
}
# package data the tests reuse instead of a second copy (repository path → source below ../shared)
REUSED = {"src/truceline/data/firms_baseline/firms-ukraine-2021.csv.gz": "datasets/firms-ukraine-2021.csv"}


def build(shared: Path) -> dict[str, bytes]:
    """The content (uncompressed) of every bundled file, derived from ``shared``."""
    return {name: derive(shared / source) for name, (source, derive) in SOURCES.items()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(shared: Path, target: Path = TEST_DATA) -> dict[str, dict[str, str | int]]:
    """Write the bundle and its manifest (digest of each file's content and of its source file)."""
    manifest: dict[str, dict[str, str | int]] = {}
    for name, content in build(shared).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(content, 9, mtime=0) if name.endswith(".gz") else content)
        source = shared / SOURCES[name][0]
        entry: dict[str, str | int] = {"source": SOURCES[name][0], "content_sha256": sha256(content), "bytes": path.stat().st_size}
        if source.is_file():
            entry["source_sha256"] = sha256(source.read_bytes())
        manifest[name] = entry
    for name, source_name in REUSED.items():
        content = gzip.decompress((REPO / name).read_bytes())
        manifest[name] = {"source": source_name, "content_sha256": sha256(content), "source_sha256": sha256((shared / source_name).read_bytes())}
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared real data (default ../shared)")
    args = parser.parse_args(argv)
    for name, entry in write(args.shared).items():
        print(f"{name}: {entry['bytes']:,} bytes" if 'bytes' in entry else f"{name}: reused package data")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
