"""The bundled gazetteer file is exactly what the build derives from the installed GeoNames and KATOTTG packages."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from truceline.text.build import main
from truceline.text.gazetteer import load_gazetteer

BUNDLED = Path(__file__).resolve().parents[1] / "src" / "truceline" / "data" / "gazetteer" / "gazetteer.json.gz"


def test_bundled_file_matches_a_fresh_build(tmp_path: Path) -> None:
    out = tmp_path / "gazetteer.json.gz"
    assert main(["--out", str(out)]) == 0
    fresh = orjson.loads(gzip.decompress(out.read_bytes()))
    assert fresh == orjson.loads(gzip.decompress(BUNDLED.read_bytes()))
    assert len(load_gazetteer(out).places) == len(fresh["places"])
    for region in fresh["regions"]:  # centroids derived from the places lie inside Ukraine's bounding box
        if region["country"] == "UA":
            assert 44.0 < region["lat"] < 52.5 and 22.0 < region["lon"] < 40.5, region["name"]
