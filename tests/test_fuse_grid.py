"""The C grid (fuse/_grid.c) is a twin of the Python one (fuse/index.py): the same results in the same order.

Fusion breaks ties by the order ``query`` returns, so "the same set" is not enough: each case runs one
sequence of puts, moves, removals and queries on both and compares every outcome exactly (the items, by
identity, in order; ``len`` and ``in``; the exception type and message when one is raised). Coordinates span
a few cells so that buckets fill, empty, collapse to a bare item and re-expand; large queries take both
branches of the coarse-map walk; times a multiple of 2**25 buckets (127 years) apart alias to one cell key (and reach
the reference's KeyError paths, which the twin reproduces). Last, the fuser itself gives the pinned
fingerprints of tests/test_fuse_differential.py on the Python grid too (on the C grid, that module checks).
"""

from __future__ import annotations

import gc
import math
import random
import sys
import tracemalloc
import weakref
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_fuse_differential import CASES, EXPECTED, fingerprint

from truceline.fuse import grid
from truceline.fuse.index import PySpaceTimeIndex

C = pytest.importorskip("truceline.fuse._grid", reason="the _grid extension is not built here").SpaceTimeIndex
ALIAS = 2**25 * 120.0  # 2**25 buckets of the finest level: the same cell key (beyond any valid pair of times)


class Token:
    """An item hashed by identity, as the fuser's IncidentState and Measurement are."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Token({self.n})"


class Clash:
    """Items that all share one hash and are equal by value: every bucket and map compares them with ``==``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Clash) and other.n == self.n

    def __repr__(self) -> str:
        return f"Clash({self.n})"


TOKENS = [Token(n) for n in range(4)]


def _item(kind: str, n: int) -> object:
    if kind == "int":
        return int(str(1000 + n))  # a new int object each time, equal to the last one
    if kind == "token":
        return TOKENS[n % 4]
    return Clash(n % 4)  # a new object equal to the others of its number


item = st.builds(_item, st.sampled_from(["int", "int", "token", "clash"]), st.integers(0, 9))
coord = st.integers(-14, 14).map(lambda v: v * 750.0) | st.floats(-12_000, 12_000)
radius = st.sampled_from([0.0, 5.0, 999.0, 2000.0, 2500.0, 9000.0, 16_000.0, 40_000.0])
instant = st.floats(0, 3000) | st.sampled_from([0.0, 119.9, 120.0, ALIAS, ALIAS + 100.0, 2 * ALIAS + 30.0])
half = st.sampled_from([0.0, 1.0, 60.0, 120.0, 500.0, 960.0, 7000.0])
big_radius = radius | st.sampled_from([30_000.0, 120_000.0, 1e6, 5e7])
big_half = half | st.sampled_from([2000.0, 20_000.0, 1e6, 2e7])
put = st.tuples(st.just("put"), item, coord, coord, radius, instant, half)
op = st.one_of(
    put,
    put,
    st.tuples(st.just("again"), st.integers(0, 30)),  # the same item and extent as an earlier put: a no-op
    st.tuples(st.just("remove"), item),
    st.tuples(st.just("query"), coord, coord, big_radius, instant, big_half),
    st.tuples(st.just("query"), coord, coord, radius, instant, half),
)
CONFIGS = {
    "default": {},
    "fine": {"base_cell_m": 300.0, "base_bucket_s": 30.0, "factor": 4.0, "levels": 4},
    "ints": {"base_cell_m": 500, "base_bucket_s": 60, "factor": 3, "levels": 5},
}


def run(make: Callable[[], object], ops: list[tuple]) -> list[object]:
    """Every outcome of ``ops`` on a new index: results as the ids of the items in order, or the exception."""
    index = make()
    puts = [o for o in ops if o[0] == "put"]
    out: list[object] = []
    for o in ops:
        if o[0] == "again":
            o = puts[o[1] % len(puts)] if puts else ("remove", 0)
        try:
            if o[0] == "put":
                result = index.put(*o[1:])  # type: ignore[attr-defined]
            elif o[0] == "remove":
                result = index.remove(o[1])  # type: ignore[attr-defined]
            else:
                result = [id(x) for x in index.query(*o[1:])]  # type: ignore[attr-defined]
        except (KeyError, ValueError, OverflowError) as e:
            result = (type(e).__name__, str(e))
        out.append((result, len(index), [x in index for x in TOKENS]))  # type: ignore[arg-type, operator]
    return out


def twins(ops: list[tuple], **config: object) -> None:
    expected = run(lambda: PySpaceTimeIndex(**config), ops)  # type: ignore[arg-type]
    assert run(lambda: C(**config), ops) == expected


@pytest.mark.parametrize("config", sorted(CONFIGS))
@settings(max_examples=250, deadline=None)
@given(st.lists(op, min_size=1, max_size=60))
def test_random_sequences_give_the_same_outcomes_in_the_same_order(config: str, ops: list[tuple]) -> None:
    twins(ops, **CONFIGS[config])


def test_a_long_run_over_many_cells_grows_and_shrinks_every_table_alike() -> None:
    rng = random.Random(19)
    items = [Token(n) for n in range(600)]
    ops: list[tuple] = []
    for _ in range(12_000):
        u = rng.random()
        if u < 0.5:
            extent = (rng.choice([50.0, 900.0, 3000.0, 20_000.0]), rng.uniform(0, 86_400), rng.choice([5.0, 100.0, 900.0]))
            ops.append(("put", rng.choice(items), rng.uniform(-60_000, 60_000), rng.uniform(-60_000, 60_000), *extent))
        elif u < 0.75:
            ops.append(("remove", rng.choice(items)))
        else:
            ops.append(("query", rng.uniform(-60_000, 60_000), rng.uniform(-60_000, 60_000), rng.choice([10.0, 5000.0, 80_000.0]),
                        rng.uniform(0, 86_400), rng.choice([10.0, 3000.0, 40_000.0])))
    twins(ops)


def test_a_bucket_collapses_to_a_bare_item_and_reexpands_after_it() -> None:
    a, b, c = Token(1), Token(2), Token(3)
    for make in (PySpaceTimeIndex, C):
        index = make()
        for x in (a, b):
            index.put(x, 10.0, 10.0, 5.0, 10.0, 1.0)
        assert index.query(10.0, 10.0, 1.0, 10.0, 1.0) == [a, b]
        index.remove(a)  # {a, b} -> bare b
        index.put(c, 10.0, 10.0, 5.0, 10.0, 1.0)  # bare b -> {b, c}
        index.put(a, 10.0, 10.0, 5.0, 10.0, 1.0)
        index.put(b, 10.0, 10.0, 5.0, 10.0, 1.0)  # unchanged: keeps its place
        assert index.query(10.0, 10.0, 1.0, 10.0, 1.0) == [b, c, a]
        index.put(b, 10.0, 10.0, 5.0, 10.5, 1.5)  # the same cells: nothing moves
        assert index.query(10.0, 10.0, 1.0, 10.0, 1.0) == [b, c, a]
        index.put(b, 5000.0, 10.0, 5.0, 10.0, 1.0)
        index.put(b, 10.0, 10.0, 5.0, 10.0, 1.0)  # moved away and back: last
        assert index.query(10.0, 10.0, 1.0, 10.0, 1.0) == [c, a, b]


def test_sixteen_cells_are_read_in_cell_order_and_seventeen_through_the_coarse_map() -> None:
    ops: list[tuple] = [("put", 100 + k, 1000.0, 1000.0, 10.0, 120.0 * k + 60.0, 1.0) for k in reversed(range(17))]
    ops += [("query", 1000.0, 1000.0, 10.0, 960.0, 959.0), ("query", 1000.0, 1000.0, 10.0, 1020.0, 1019.0)]
    twins(ops)
    index = PySpaceTimeIndex()
    for o in ops[:17]:
        index.put(*o[1:])
    assert index.query(*ops[17][1:]) == [100 + k for k in range(16)]  # buckets 0..15: looked up in k order
    # buckets 0..16: the coarse cells (k >> 4 = 0, then 1), each in the order its cells were first filled
    assert index.query(*ops[18][1:]) == [100 + k for k in reversed(range(16))] + [116]


def test_times_2_16_buckets_apart_share_a_key_and_the_twin_fails_where_the_reference_does() -> None:
    a, b, c = Token(1), Token(2), Token(3)
    ops: list[tuple] = [
        ("put", a, 10.0, 10.0, 5.0, 10.0, 1.0),
        ("put", b, 10.0, 10.0, 5.0, 10.0 + ALIAS, 1.0),  # the same cell key as a's, another coarse cell
        ("query", 10.0, 10.0, 1.0, 10.0, 1.0),  # b too: the key aliases
        ("query", 10.0, 10.0, 1.0, 10.0 + ALIAS, 1.0),
        ("query", 10.0, 10.0, 1e5, 10.0 + ALIAS, 1e4),  # the coarse walk
        ("remove", a),  # {a, b} -> bare b
        ("remove", b),  # its coarse cell holds no such key: KeyError in the reference
        ("put", c, 9000.0, 10.0, 5.0, 10.0, 1.0),
        ("query", 10.0, 10.0, 1.0, 10.0, 1.0),
        ("query", 10.0, 10.0, 1e5, 10.0, 1e4),  # the coarse map still names the key the table lost: KeyError
        ("put", c, 10.0, 10.0, 5.0, 10.0, 1.0),
        ("put", b, 10.0, 10.0, 5.0, 10.0, 1.0),
        ("query", 10.0, 10.0, 1e5, 10.0, 1e4),
        ("remove", c),
        ("remove", b),
        ("put", a, 10.0, 10.0, 5.0, 10.0 + ALIAS, 1.0),
        ("query", 10.0, 10.0, 1e5, 10.0, 1e4),
    ]
    expected = run(PySpaceTimeIndex, ops)
    assert [i for i, o in enumerate(expected) if isinstance(o[0], tuple)] == [6, 9]  # the remove and the walk
    assert run(C, ops) == expected


@pytest.mark.parametrize(
    "args",
    [
        (math.nan, 0.0, 10.0, 0.0, 1.0),
        (0.0, 0.0, math.nan, 0.0, 1.0),
        (0.0, 0.0, 10.0, math.inf, 1.0),
        (-math.inf, 0.0, 10.0, 0.0, 1.0),
        (1e30, 0.0, 10.0, 0.0, 1.0),
        (0.0, 2.0**60 * 2001.0, 1.0, 0.0, 1.0),
        (0.0, 0.0, 10.0, 2.0**60 * 120.0 - 1e3, 1e4),
        (0.0, 0.0, 1e30, 0.0, 1.0),
        (0.0, 0.0, 10.0, 0.0, math.inf),
    ],
)
def test_absurd_coordinates_raise_the_same_errors(args: tuple[float, ...]) -> None:
    outcomes = []
    for make in (PySpaceTimeIndex, C):
        index = make()
        index.put(0, 0.0, 0.0, 10.0, 0.0, 1.0)
        raised = []
        for method, given_args in ((index.put, (1, *args)), (index.query, args)):
            with pytest.raises((ValueError, OverflowError)) as info:
                method(*given_args)
            raised.append((info.type, str(info.value)))
        outcomes.append(raised)
    assert outcomes[0] == outcomes[1]


def test_the_bound_on_cells_is_explicit_and_what_it_allows_works() -> None:
    for make in (PySpaceTimeIndex, C):
        index = make()
        with pytest.raises(OverflowError, match=r"beyond 2\*\*60 cells"):
            index.put(0, 2.0**61 * 2000.0, 0.0, 10.0, 0.0, 1.0)
        edge = 2.0**59 * 2000.0
        index.put(1, edge, -edge, 10.0, 2.0**59 * 120.0, 1.0)
        assert index.query(edge, -edge, 1.0, 2.0**59 * 120.0, 1.0) == [1]


@pytest.mark.parametrize(
    "args", [(0.0, 120.0, 8.0, 7), (2000.0, -1.0, 8.0, 7), (2000.0, 120.0, 1.0, 7), (2000.0, 120.0, 8.0, 0), (1e300, 120.0, 1e200, 3)]
)
def test_construction_is_validated_alike(args: tuple) -> None:
    errors = []
    for make in (PySpaceTimeIndex, C):
        with pytest.raises((ValueError, OverflowError)) as info:
            make(*args)
        errors.append((info.type, str(info.value)))
    assert errors[0] == errors[1]


def test_an_extent_beyond_the_top_level_and_unhashable_items_are_refused_alike() -> None:
    errors = []
    for make in (PySpaceTimeIndex, C):
        index = make(levels=2)
        for given_args in ((0, 0.0, 0.0, 1e9, 0.0, 1.0), ([], 0.0, 0.0, 1.0, 0.0, 1.0)):
            with pytest.raises((ValueError, TypeError)) as info:
                index.put(*given_args)
            errors.append((info.type, str(info.value)))
    assert errors[:2] == errors[2:]


def test_references_are_released_and_cycles_through_the_index_are_collected() -> None:
    index = C()
    token = Token(0)
    before = sys.getrefcount(token)
    for t in range(50):
        index.put(token, 0.0, 0.0, 2500.0, float(t), 200.0)  # several cells; moves each time
        index.query(0.0, 0.0, 1e5, 0.0, 1e5)
    assert sys.getrefcount(token) > before
    index.remove(token)
    assert sys.getrefcount(token) == before

    class Holder(Token):
        pass

    holder = Holder(1)
    holder.index = C()  # type: ignore[attr-defined]
    holder.index.put(holder, 0.0, 0.0, 10.0, 0.0, 1.0)  # type: ignore[attr-defined]  # holder -> index -> holder
    gone = weakref.ref(holder)
    del holder
    gc.collect()
    assert gone() is None


def test_a_long_loop_does_not_grow_memory() -> None:
    index = C()
    rng = random.Random(7)
    items = [Token(n) for n in range(300)]

    def churn() -> None:
        for _ in range(4000):
            x = rng.choice(items)
            index.put(x, rng.uniform(-30_000, 30_000), rng.uniform(-30_000, 30_000), rng.choice([100.0, 3000.0]), rng.uniform(0, 9000), 60.0)
            index.query(rng.uniform(-30_000, 30_000), rng.uniform(-30_000, 30_000), 50_000.0, rng.uniform(0, 9000), 5000.0)
            index.remove(rng.choice(items))

    churn()
    tracemalloc.start()
    try:
        churn()
        first = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            churn()
        assert tracemalloc.get_traced_memory()[0] - first < 64 * 1024
    finally:
        tracemalloc.stop()


def test_an_item_that_uses_the_index_from_its_eq_gets_an_error_not_a_crash() -> None:
    index = C()

    class Meddler(Clash):
        def __eq__(self, other: object) -> bool:
            index.put(Token(9), 0.0, 0.0, 10.0, 0.0, 1.0)  # would resize the tables being probed
            return super().__eq__(other)

        __hash__ = Clash.__hash__

    index.put(Meddler(1), 0.0, 0.0, 10.0, 0.0, 1.0)
    with pytest.raises(RuntimeError, match="from inside one of its own calls"):
        index.put(Meddler(2), 0.0, 0.0, 10.0, 0.0, 1.0)  # same hash: compared with the first
    assert len(index) == 1 and index.query(0.0, 0.0, 10.0, 0.0, 1.0)[0].n == 1


@pytest.mark.parametrize("name", ["salvo-sector", "sparse-day"])
def test_the_fuser_decides_the_same_on_the_python_grid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grid, "SpaceTimeIndex", PySpaceTimeIndex)
    assert grid.backend() == "python"
    make, batch = CASES[name]
    digest, count, stats = fingerprint(make(), batch)
    assert (digest, count, stats.moves, stats.merges, stats.reassociations) == EXPECTED[name]
