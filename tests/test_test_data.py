"""The bundled test data (tests/data) is what its README says: unchanged facts from ../shared, cut as stated.

Each bundled file's content has its SHA-256 recorded in tests/data/MANIFEST.json; for a full copy that is
also the source file's digest. Where ../shared is beside the checkout (CI), every file is rebuilt from it
and compared; a plain clone checks the recorded digests only.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from scripts.bundle_test_data import REUSED, SOURCES, build
from tests.testdata import BELLINGCAT, REPO, TEST_DATA, bundled, content, shared_or_skip

MANIFEST = json.loads((TEST_DATA / "MANIFEST.json").read_text())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_manifest_lists_every_bundled_file_and_nothing_else() -> None:
    # Decoder samples (AIS, Mode S) come from the libraries' and GPSD's own repositories, not from ../shared:
    # each such folder names its sources in a SOURCES.md beside them instead.
    elsewhere = {p.parent for p in TEST_DATA.rglob("SOURCES.md")}
    on_disk = {str(p.relative_to(TEST_DATA)) for p in TEST_DATA.rglob("*") if p.is_file() and p.parent not in elsewhere}
    assert on_disk - {"MANIFEST.json", "README.md"} == set(SOURCES)
    assert elsewhere, "the AIS and Mode S samples name their sources"
    assert set(MANIFEST) == set(SOURCES) | set(REUSED)


@pytest.mark.parametrize("name", sorted(SOURCES) + sorted(REUSED))
def test_bundled_content_matches_its_recorded_digest(name: str) -> None:
    path = REPO / name if name in REUSED else TEST_DATA / name
    assert _sha(content(path)) == MANIFEST[name]["content_sha256"]


def test_full_copies_are_the_source_files_unchanged() -> None:
    copies = [n for n, (_, derive) in SOURCES.items() if derive.__name__ == "_copy"] + list(REUSED)
    assert len(copies) == 6
    for name in copies:
        assert MANIFEST[name]["content_sha256"] == MANIFEST[name]["source_sha256"], name


def test_bellingcat_facts_carry_no_free_text() -> None:
    records = json.loads(bundled(BELLINGCAT))
    assert len(records) == 1646 and sum(1 for r in records if "location" in r) == 720
    assert {k for r in records for k in r} == {"date", "latitude", "longitude", "location"}


def test_bundle_is_small() -> None:
    total = sum(p.stat().st_size for p in TEST_DATA.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_every_bundled_file_rebuilds_from_shared() -> None:
    shared = shared_or_skip(reads="the sources of tests/data, to rebuild and compare it")
    for name, rebuilt in build(shared).items():
        assert _sha(rebuilt) == MANIFEST[name]["content_sha256"], f"{name} differs from {SOURCES[name][0]}: rerun scripts/bundle_test_data.py"
    for name, source in REUSED.items():
        assert _sha((shared / source).read_bytes()) == MANIFEST[name]["content_sha256"], name
