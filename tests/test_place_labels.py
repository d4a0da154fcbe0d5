"""Places in rejections count from 1 when named in words (docs/formats.md#where-a-rejection-points)."""

from __future__ import annotations

import orjson
from tests.conftest import native

from truceline.ingest.geojson import decode_geojson
from truceline.ingest.native import decode_json, decode_json_lines
from truceline.ingest.records import Record, Rejection
from truceline.ingest.sensorthings import decode_sensorthings_document


def _where(items: list[Record | Rejection]) -> list[str]:
    return [i.where for i in items]


def test_the_second_item_of_an_array_is_item_2() -> None:
    assert _where(list(decode_json(orjson.dumps([native(id="a"), native(id="b")])))) == ["item 1", "item 2"]
    assert _where(list(decode_json(orjson.dumps(native())))) == ["item 1"]


def test_the_second_feature_is_feature_2() -> None:
    good = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.7, 48.1]}, "properties": {"id": "x"}}
    bad = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[37.7, 48.1], [37.8, 48.2]]}, "properties": {}}
    items = list(decode_geojson(orjson.dumps({"type": "FeatureCollection", "features": [good, bad]})))
    assert isinstance(items[1], Rejection) and _where(items) == ["feature 1", "feature 2"]
    assert _where(list(decode_geojson(orjson.dumps(good)))) == ["feature 1"]


def test_lines_count_from_1_like_every_editor() -> None:
    items = list(decode_json_lines([orjson.dumps(native()), b"", b"{broken"]))
    assert _where(items) == ["line 1", "line 3"] and isinstance(items[1], Rejection)


def test_json_paths_stay_array_indexes_from_0() -> None:
    doc = {"value": [{"neither": True}]}
    (item,) = list(decode_sensorthings_document(doc))
    assert isinstance(item, Rejection) and item.where == "$.value[0]"
