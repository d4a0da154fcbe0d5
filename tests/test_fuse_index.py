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


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__module__)
@pytest.mark.parametrize("apart_s", [2**16 * 120.0, 2**20 * 120.0, 26 * 365.25 * 86400.0], ids=["91-days", "4-years", "26-years"])
def test_items_far_apart_in_time_keep_their_own_cells(implementation: type, apart_s: float) -> None:
    """Within the times an observation may have (2000 to now), no two cells share a key: keys once aliased 2**16
    finest buckets (91 days) apart, so a late report beside a live incident corrupted the grid (KeyError)."""
    index = implementation()
    index.put("early", 10.0, 10.0, 5.0, 30.0, 1.0)
    index.put("late", 10.0, 10.0, 5.0, 30.0 + apart_s, 1.0)
    assert index.query(10.0, 10.0, 1.0, 30.0, 1.0) == ["early"]
    assert index.query(10.0, 10.0, 1.0, 30.0 + apart_s, 1.0) == ["late"]
    assert index.query(10.0, 10.0, 1e6, 30.0 + apart_s, 1e5) == ["late"]  # the coarse walk
    index.remove("early")
    index.remove("late")
    assert len(index) == 0 and index.query(10.0, 10.0, 1e6, 30.0, 1e9) == []
