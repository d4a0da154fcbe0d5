"""Canonical observation bytes, commitments, leaves and store rows stay byte-identical to the golden digests.

Parties verify reports against the ledger with their own verifiers: a faster encoder or validator that
changed one byte of one observation's canonical JSON would break every proof of it. The corpus and how the
digests were made: ``tests/vectors/canonical_golden/make_golden.py`` (digests from the code before any
speed-up; never regenerate them to make this test pass).
"""

from __future__ import annotations

import csv
import functools
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError
from tests.script_modules import load_script

from truceline.domain.grading import Credibility
from truceline.domain.observation import _check_portable, _plainly_portable
from truceline.ingest.firms import _CellError, _cells
from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.canonical import canonical_json
from truceline.ledger.commitment import canonical_observation

HERE = Path(__file__).resolve().parent / "vectors" / "canonical_golden"


def _load() -> ModuleType:
    return load_script(HERE / "make_golden.py", "make_golden")


golden_module = _load()
GOLDEN: dict[str, Any] = json.loads((HERE / "golden.json").read_text())


@functools.cache
def corpus() -> dict[str, list[Any]]:
    return dict(golden_module.corpus())


def test_every_group_is_there() -> None:
    assert set(corpus()) == set(GOLDEN["groups"])


@pytest.mark.parametrize("name", sorted(GOLDEN["groups"]))
def test_group_digests_are_unchanged(name: str) -> None:
    got = golden_module.group_digests(corpus()[name])
    want = GOLDEN["groups"][name]
    assert (got["records"], got["valid"], got["errors"]) == (want["records"], want["valid"], want["errors"])
    changed = [i for i, (a, b) in enumerate(zip(got["blocks"], want["blocks"], strict=True)) if a != b]
    assert not changed, f"{name}: observations {[i * golden_module.BLOCK for i in changed][:5]}… (blocks of {golden_module.BLOCK}) changed"


def test_validation_outcomes_of_bad_records_are_unchanged() -> None:
    got = golden_module.invalid_digests()
    changed = [i for i, (a, b) in enumerate(zip(got, GOLDEN["invalid"], strict=True)) if a != b]
    assert not changed, f"records {changed} of make_golden.invalid_records() are now judged differently"


def test_observation_json_schema_is_unchanged() -> None:
    assert golden_module.schema_digests() == GOLDEN["schema"]


def test_more_random_observations_match_the_reference_encoder() -> None:
    """Beyond the stored corpus: fresh seeds, fast paths against the path-tracking reference encoder."""
    records = golden_module.random_records(300, seed=random.randrange(2**32))
    good, _ = validate_batch(records, validation_context(now=golden_module.NOW))
    assert len(good) > 250
    for obs in good:
        document = obs.model_dump(mode="json", exclude_none=True)
        assert canonical_observation(obs) == canonical_json(document) == golden_module.reference_bytes(document), obs.id


_json_leaves = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.floats(), st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([2**53 - 1, 2**53, -(2**53), float("nan"), float("-inf"), (1, 2), {1}, b"x", Credibility.CONFIRMED]),
)
_json_values = st.recursive(
    _json_leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=40
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {"n": value} if depth % 2 else [value]
    return value


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=3), _json_values, min_size=1, max_size=4), st.integers(min_value=0, max_value=9))
def test_quick_portability_check_never_accepts_what_the_full_check_refuses(attributes: dict[str, Any], depth: int) -> None:
    """The one-pass check may only say "fine" where the path-building check raises nothing."""
    attributes = {**attributes, "deep": _nest(attributes.get("", 1), depth)}
    try:
        _check_portable(attributes, "attributes", 0)
        refused = False
    except PydanticCustomError:
        refused = True
    if _plainly_portable(attributes, 0):
        assert not refused
    elif not refused:  # unusual but portable types (subclasses) go the long way and are accepted there
        assert any(type(v) not in (str, bool, type(None), float, int, dict, list) for v in _walk(attributes))


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab ,,"\r\n\x00é\t')), max_size=30), st.sampled_from([5, 20, 131072]))
def test_firms_line_splitting_matches_the_csv_module(line: str, limit: int) -> None:
    old_limit = csv.field_size_limit(limit)
    try:
        try:
            want: Any = next(csv.reader([line]), [])
        except csv.Error:
            want = "unreadable"  # the row is rejected with the reason (tests/test_firms_evidence.py), not the file
        try:
            got: Any = _cells(line, limit)
        except _CellError as exc:
            assert exc.field == "(row)" and str(exc).startswith("not a readable CSV line: ")
            got = "unreadable"
    finally:
        csv.field_size_limit(old_limit)
    assert got == want
