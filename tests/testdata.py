"""The real data the tests read, bundled in ``tests/data`` (see its README for sources and licences).

Only the seed news articles are not bundled (free text): ``shared_seeds`` skips, naming what is missing,
when ``../shared`` is not beside the checkout.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
FIRMS_2021 = REPO / "src" / "truceline" / "data" / "firms_baseline" / "firms-ukraine-2021.csv.gz"
BELLINGCAT = "bellingcat/bellingcat-civilian-harm-2022-2023-facts.json.gz"
# the file names of ../shared/datasets, so a test reads the same names from either place
DATASET_FILES = {
    "firms-ukraine-2021.csv": FIRMS_2021,
    "firms-ukraine-2022.csv": TEST_DATA / "firms" / "firms-ukraine-2022.csv.gz",
    "firms-ukraine-2023.csv": TEST_DATA / "firms" / "firms-ukraine-2023.csv.gz",
    "bellingcat-civilian-harm-2022-2023.json": TEST_DATA / BELLINGCAT,
}


def content(path: Path) -> bytes:
    """A bundled file's content, decompressed when it is gzip."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def bundled(name: str) -> bytes:
    """Content of ``tests/data/<name>``."""
    return content(TEST_DATA / name)


def merkle_vectors() -> dict[str, dict[str, Any]]:
    """transparency-dev/merkle's ``testdata/**.json``, keyed by path below ``testdata/``."""
    return json.loads(bundled("merkle/testdata.json.gz"))


def rfc6962_roots() -> dict[str, Any]:
    return json.loads(bundled("merkle/rfc6962_roots.json"))


def materialise_datasets(target: Path) -> Path:
    """Write the bundled datasets uncompressed under ``target`` with ../shared/datasets' names."""
    target.mkdir(parents=True, exist_ok=True)
    for name, path in DATASET_FILES.items():
        (target / name).write_bytes(content(path))
    return target


def shared_or_skip(*parts: str, reads: str = "free text that is not bundled (the seed articles)") -> Path:
    """``../shared/<parts>``, or skip the test saying what is missing and why it needs it (CI has it, a plain
    clone does not)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is missing: this test reads {reads} from ../shared beside the checkout")
    return path
