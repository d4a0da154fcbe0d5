"""Canonical leaf bytes: RFC 8785 vectors, refusals with their path, the leaf envelope, parse = inverse."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truceline.ledger.canonical import (
    CanonicalError,
    _write,
    canonical_json,
    leaf_bytes,
    parse_canonical,
    parse_leaf,
)

# RFC 8785 Appendix B: IEEE-754 binary64 bit patterns and their ECMAScript/JCS spelling.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), NUMBERS)
def test_rfc8785_number_vectors(bits: str, text: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json(value) == text.encode()
    assert canonical_json([value]) == f"[{text}]".encode()
    assert parse_canonical(text.encode()) == value


def test_rfc8785_property_sorting_uses_utf16_code_units() -> None:
    """The RFC's §3.2.3 example: U+1F600 (surrogates D83D DE00) sorts before U+FB33, unlike by code point."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    got = canonical_json(value).decode()
    keys = [k for k, _ in json.loads(got, object_pairs_hook=lambda pairs: pairs)]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert parse_canonical(got.encode()) == value


def test_strings_use_minimal_escapes_and_raw_utf8() -> None:
    value = "\u20ac$\u000f\nA'B\"\\\\\"/\u007f\u2028"
    assert canonical_json(value) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/\u007f\u2028"'.encode()
    assert canonical_json({"b": [True, False, None], "a": {}}) == b'{"a":{},"b":[true,false,null]}'


def test_integral_floats_and_ints_have_one_spelling() -> None:
    assert canonical_json({"cep_m": 150.0}) == canonical_json({"cep_m": 150}) == b'{"cep_m":150}'
    assert canonical_json(2**53 - 1) == b"9007199254740991"


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"a": [1, float("nan")]}, "$.a[1]", "no JSON representation"),
        ({"a": {"b": float("inf")}}, "$.a.b", "no JSON representation"),
        ({"n": 2**53}, "$.n", "beyond"),
        ({"s": "ok\ud800"}, "$.s", "lone surrogate"),
        ({"k": {1: "x"}}, "$.k", "not a string"),
        ({"t": {1, 2}}, "$.t", "set is not a JSON value"),
        ({"b": b"raw"}, "$.b", "bytes is not a JSON value"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_path(value: Any, path: str, reason: str) -> None:
    with pytest.raises(CanonicalError, match=reason) as err:
        canonical_json(value)
    assert err.value.path == path


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"b":1,"a":2}', "not canonical"),
        (b'{"a": 1}', "not canonical"),
        (b"[1.0]", "not canonical"),
        (b"[1e-07]", "not canonical"),
        (b"[-0]", "not canonical"),
        (b'["\\u00e9"]', "not canonical"),
        (b'{"a":1,"a":1}', "duplicate object key"),
        (b"[NaN]", "NaN is not JSON"),
        (b"[1e400]", "no JSON representation"),
        (b"[9007199254740993]", "not canonical"),  # no double is spelled like that
        (b'["\xff"]', "not UTF-8"),
        (b"[1,]", "not JSON"),
    ],
)
def test_non_canonical_bytes_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(CanonicalError, match=reason):
        parse_canonical(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_and_path_tracking_encoders_agree_and_parse_inverts(value: Any) -> None:
    out: list[str] = []
    try:
        _write(value, "$", out, 0)
        slow: bytes | None = "".join(out).encode("utf-8")
    except CanonicalError:
        slow = None
    if slow is None:  # only lone surrogates in generated text can make it refuse
        with pytest.raises(CanonicalError, match="lone surrogate"):
            canonical_json(value)
        return
    data = canonical_json(value)
    assert data == slow
    back = parse_canonical(data)
    assert canonical_json(back) == data
    assert _same(back, value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return bool(a == b or (math.isnan(a) and math.isnan(b)))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_leaf_envelope() -> None:
    body = {"id": "ua-ac17-000123", "location": {"lat": 48.105, "lon": 37.712, "cep_m": 150}}
    data = leaf_bytes("observation", body)
    assert data == (
        b'{"body":{"id":"ua-ac17-000123","location":{"cep_m":150,"lat":48.105,"lon":37.712}},'
        b'"type":"observation","v":1}'
    )
    leaf = parse_leaf(data)
    assert (leaf.type, leaf.v, leaf.body) == ("observation", 1, body)
    with pytest.raises(CanonicalError, match="leaf type"):
        leaf_bytes("rumour", body)  # type: ignore[arg-type]
    with pytest.raises(CanonicalError, match="leaf version 2"):
        parse_leaf(b'{"body":{},"type":"review","v":2}')
    with pytest.raises(CanonicalError, match="leaf members"):
        parse_leaf(b'{"body":{},"type":"review"}')
    with pytest.raises(CanonicalError, match="leaf body is not a JSON object"):
        parse_leaf(b'{"body":[],"type":"review","v":1}')


# The orjson fast path must give byte-identical output to the reference encoder for any JSON value.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


@given(_json_values)
def test_fast_path_is_byte_identical_to_reference_encoder(value: object) -> None:
    from truceline.ledger.canonical import _write

    reference: list[str] = []
    _write(value, "$", reference, 0)
    assert canonical_json(value) == "".join(reference).encode("utf-8")
