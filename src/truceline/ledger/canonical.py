"""Canonical bytes for ledger leaves: RFC 8785 (JCS) JSON inside a small versioned envelope.

A leaf's hash commits to its exact bytes, so the same record must always serialize to the same bytes, in any
language, years later. JCS gives that: members sorted by UTF-16 code units, no insignificant whitespace, minimal
string escaping, numbers written the way ECMAScript writes an IEEE-754 double, UTF-8 output. We refuse, rather
than approximate, what JCS cannot carry faithfully: NaN and infinities, integers beyond ±(2^53−1), lone
surrogates, non-string keys. The exact rules are written out for auditors in ``docs/ledger.md``.

Every leaf is ``{"body": {...}, "type": "observation"|"review"|"agreement"|"revocation", "v": 1}`` so that a verifier knows
what a leaf records without any context, and a future format can change ``v`` without ambiguity.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

import orjson

__all__ = [
    "LEAF_TYPES",
    "LEAF_VERSION",
    "MAX_SAFE_INTEGER",
    "CanonicalError",
    "Leaf",
    "LeafType",
    "canonical_json",
    "leaf_bytes",
    "parse_canonical",
    "parse_leaf",
]

LeafType = Literal["observation", "review", "agreement", "track", "revocation"]
LEAF_TYPES: Final[tuple[str, ...]] = get_args(LeafType)
LEAF_VERSION: Final = 1
MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Largest integer every JSON implementation (doubles included) reads back exactly."""

_MAX_DEPTH = 200
_encode_string = cast(Any, json.encoder).encode_basestring  # JCS escaping: \" \\ \b \f \n \r \t, \u00xx


class CanonicalError(ValueError):
    """A value that has no canonical form, or bytes that are not canonical; ``path`` says where (``$.a[2]``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _number(value: float, path: str) -> str:
    """ECMAScript Number::toString for a finite double, from Python's shortest round-trip digits."""
    if not math.isfinite(value):
        raise CanonicalError(path, f"{value!r} has no JSON representation")
    if value == 0:
        return "0"  # also -0.0, as in ECMAScript
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + int(exp or 0)  # decimal point position relative to the start of ``digits``
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        exp_text = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        text = digits + exp_text if k == 1 else digits[0] + "." + digits[1:] + exp_text
    return sign + text


def _string(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError(path, f"string contains a lone surrogate at position {exc.start}") from None
    return cast(str, _encode_string(value))


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _write(value: Any, path: str, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise CanonicalError(path, f"nested deeper than {_MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalError(path, f"integer {value} is beyond ±(2^53−1); encode it as a string")
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_number(value, path))
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalError(path, f"object key {key!r} is not a string")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key, f"{path}.{key}"))
            out.append(":")
            _write(value[key], f"{path}.{key}", out, depth + 1)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, f"{path}[{i}]", out, depth + 1)
        out.append("]")
    else:
        raise CanonicalError(path, f"{type(value).__name__} is not a JSON value")


class _Fallback(Exception):
    """Raised by the fast encoder for anything unusual; the path-tracking encoder then explains it."""


_SIMPLE_FLOAT_MIN, _SIMPLE_FLOAT_MAX = 1e-4, 1e16


def _fast_float(value: float) -> str:
    # Between 1e-4 and 1e16, a non-integral double's repr is already its ECMAScript form.
    if _SIMPLE_FLOAT_MIN <= abs(value) < _SIMPLE_FLOAT_MAX and not value.is_integer():
        return repr(value)
    return _number(value, "$")


def _fast(value: Any, out: list[str]) -> None:
    """The common case without path bookkeeping: exact builtin types only."""
    t = type(value)
    if t is str:
        out.append(_encode_string(value))
    elif t is dict:
        keys = list(value)
        if not all(type(k) is str for k in keys):
            raise _Fallback
        if any(k and max(k) >= "\ud800" for k in keys):
            keys.sort(key=_utf16_key)
        else:
            keys.sort()
        out.append("{")
        first = True
        for key in keys:
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _fast(value[key], out)
        out.append("}")
    elif t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            out.append(int.__repr__(value))
        else:
            raise _Fallback
    elif t is float:
        out.append(_fast_float(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif t is list or t is tuple:
        out.append("[")
        first = True
        for item in value:
            if not first:
                out.append(",")
            first = False
            _fast(item, out)
        out.append("]")
    else:
        raise _Fallback


_ORJSON_SAFE_INT = float(MAX_SAFE_INTEGER)
_Fragment = orjson.Fragment
_isfinite = math.isfinite


def _float_for_orjson(value: float) -> Any:
    """What orjson must be given so that it writes ``value`` as RFC 8785 does (a finite double).

    orjson already writes non-integral doubles from 1e-4 to 1e16 as ECMAScript does; integral ones within
    ±(2^53−1) become ints; any other finite double is written by :func:`_number` (the reference rule) and
    handed over as a pre-serialised fragment. NaN and infinities fall back to the reference encoder, which
    refuses them with a path.
    """
    if value.is_integer():
        if -_ORJSON_SAFE_INT <= value <= _ORJSON_SAFE_INT:
            return int(value)
    elif _SIMPLE_FLOAT_MIN <= abs(value) < _SIMPLE_FLOAT_MAX:
        return value
    if not _isfinite(value):
        raise _Fallback
    return _Fragment(_number(value, "$").encode())


def _for_orjson(value: Any) -> Any:
    """A copy orjson serialises exactly as RFC 8785 does, or _Fallback when that cannot be promised.

    orjson (sorted keys) already matches JCS for strings, non-integral doubles from 1e-4 and safe integers;
    it differs on integral doubles (``150.0`` vs ``150``), on small and huge doubles, and on key order when
    keys hold characters at or above U+D800 (code points vs UTF-16 units). Doubles are converted by
    :func:`_float_for_orjson`; anything else unusual falls back. Leaves (str, float, bool, None) in
    containers are handled inline: this runs once per ingested observation.
    """
    t = type(value)
    if t is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) < "\ud800"):
                raise _Fallback
            ti = type(item)
            if ti is str or item is None or ti is bool:
                out[key] = item
            elif ti is float:
                out[key] = _float_for_orjson(item)
            else:
                out[key] = _for_orjson(item)
        return out
    if t is float:
        return _float_for_orjson(value)
    if t is list or t is tuple:
        items = []
        for item in value:
            ti = type(item)
            if ti is float:
                items.append(_float_for_orjson(item))
            elif ti is str or item is None or ti is bool:
                items.append(item)
            else:
                items.append(_for_orjson(item))
        return items
    if t is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _Fallback
    if t is str or value is None or t is bool:
        return value
    raise _Fallback


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-like value (dict, list, tuple, str, int, float, bool, None).

    The common case goes through orjson (several times faster, identical bytes, see :func:`_for_orjson`);
    mappings and str/int/float subclasses are accepted too, via a slower encoder that also names the path of
    anything it refuses.
    """
    with contextlib.suppress(_Fallback, orjson.JSONEncodeError, RecursionError):  # not orjson's case: next encoder
        return orjson.dumps(_for_orjson(value), option=orjson.OPT_SORT_KEYS)
    out: list[str] = []
    with contextlib.suppress(_Fallback, CanonicalError, UnicodeEncodeError, RecursionError):  # the slow path names the error
        _fast(value, out)
        return "".join(out).encode("utf-8")
    out = []
    _write(value, "$", out, 0)
    return "".join(out).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, val in pairs:
        if key in obj:
            raise CanonicalError("$", f"duplicate object key {key!r}")
        obj[key] = val
    return obj


def _no_constant(name: str) -> Any:
    raise CanonicalError("$", f"{name} is not JSON")


_C_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
_WIDE = re.compile("[\ue000-\U0010ffff]")  # chars whose code point order differs from UTF-16 order


def parse_canonical(data: bytes) -> Any:
    """Parse JSON bytes and require them to be canonical, i.e. exactly what ``canonical_json`` would write.

    Fast path for verifiers: when every number is spelled the way Python also spells it and no character
    sorts differently in UTF-16, the C encoder's sorted compact output *is* the canonical form, so comparing
    with it is exact. Anything else is re-encoded by ``canonical_json``.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError("$", f"not UTF-8: invalid byte at offset {exc.start}") from None
    simple = [True]

    def _float(literal: str) -> float:
        value = float(literal)
        if not (_SIMPLE_FLOAT_MIN <= abs(value) < _SIMPLE_FLOAT_MAX and not value.is_integer()):
            simple[0] = False
        return value

    def _int(literal: str) -> int | float:
        value = int(literal)
        if abs(value) <= MAX_SAFE_INTEGER:
            return value
        simple[0] = False  # beyond 2^53 JCS reads digits as a double, canonical only if it spells one
        return float(literal)

    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise CanonicalError("$", f"not JSON: {exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        raise CanonicalError("$", "nested too deeply") from None
    again: bytes | None = None
    if simple[0] and not _WIDE.search(text):
        try:
            again = _C_ENCODER.encode(value).encode("utf-8")
        except UnicodeEncodeError:
            again = None
    if again is None:
        again = canonical_json(value)
    if again != data:
        json.loads(text, object_pairs_hook=_no_duplicates)  # a duplicate key is the likeliest, clearest reason
        at = next((i for i, (a, b) in enumerate(zip(again, data, strict=False)) if a != b), min(len(again), len(data)))
        raise CanonicalError("$", f"not canonical JSON: first difference at byte {at}")
    return value


@dataclass(frozen=True)
class Leaf:
    """A decoded leaf envelope."""

    type: LeafType
    v: int
    body: dict[str, Any]


def leaf_bytes(leaf_type: LeafType, body: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a leaf recording ``body`` as an observation, review decision, agreement version or
    track minute (the raw ADS-B/AIS messages of one aircraft or vessel in one minute)."""
    if leaf_type not in LEAF_TYPES:
        raise CanonicalError("$.type", f"leaf type {leaf_type!r} is not one of {', '.join(LEAF_TYPES)}")
    if not isinstance(body, Mapping):
        raise CanonicalError("$.body", f"leaf body must be a JSON object, not {type(body).__name__}")
    return canonical_json({"body": body, "type": leaf_type, "v": LEAF_VERSION})


def parse_leaf(data: bytes) -> Leaf:
    """Decode leaf bytes, requiring canonical JSON and a well-formed version-1 envelope."""
    value = parse_canonical(data)
    if not isinstance(value, dict):
        raise CanonicalError("$", "leaf is not a JSON object")
    if set(value) != {"body", "type", "v"}:
        raise CanonicalError("$", f"leaf members are {sorted(value)}, want ['body', 'type', 'v']")
    if value["v"] != LEAF_VERSION or isinstance(value["v"], bool):
        raise CanonicalError("$.v", f"leaf version {value['v']!r} is not {LEAF_VERSION}")
    if value["type"] not in LEAF_TYPES:
        raise CanonicalError("$.type", f"leaf type {value['type']!r} is not one of {', '.join(LEAF_TYPES)}")
    if not isinstance(value["body"], dict):
        raise CanonicalError("$.body", "leaf body is not a JSON object")
    return Leaf(value["type"], value["v"], value["body"])
