"""The space-time index never misses an overlapping item (property test against brute force), in Python and in C."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceline.fuse.index import PySpaceTimeIndex

try:
    from truceline.fuse._grid import SpaceTimeIndex  # type: ignore[import-not-found]  # the C twin, when built
except ImportError:
    IMPLEMENTATIONS: list[type] = [PySpaceTimeIndex]
else:
    IMPLEMENTATIONS = [PySpaceTimeIndex, SpaceTimeIndex]

coord = st.floats(-50_000, 50_000, allow_nan=False)
radius = st.floats(1.0, 40_000, allow_nan=False)
instant = st.floats(0, 86_400, allow_nan=False)
width = st.floats(0.5, 20_000, allow_nan=False)
item = st.tuples(coord, coord, radius, instant, width)


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return math.hypot(a[0] - b[0], a[1] - b[1]) <= a[2] + b[2] and abs(a[3] - b[3]) <= a[4] + b[4]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__module__)
@settings(max_examples=150, deadline=None)
@given(st.lists(item, min_size=1, max_size=40), st.lists(item, min_size=1, max_size=10), st.data())
def test_query_returns_every_overlapping_item(implementation: type, items: list, queries: list, data: st.DataObject) -> None:
    index = implementation()
    for k, it in enumerate(items):
        index.put(k, *it)
    removed = set(data.draw(st.sets(st.integers(0, len(items) - 1), max_size=len(items) // 2)))
    for k in removed:
        index.remove(k)
    moved = data.draw(st.dictionaries(st.integers(0, len(items) - 1), item, max_size=5))
    for k, it in moved.items():
        if k not in removed:
            index.put(k, *it)
            items[k] = it
    assert len(index) == len(items) - len(removed)
    for q in queries:
        found = index.query(*q)
        assert len(found) == len(set(found))
        assert not removed & set(found)
        expected = {k for k, it in enumerate(items) if k not in removed and overlaps(it, q)}
        assert expected <= set(found)
