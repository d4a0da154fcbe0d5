"""Strict reading of a party's numbers, enumerations and times: no silent coercion where data enters.

A monitor judged by both sides cannot let a sender's sloppiness, or a probe, change meaning on the way in:
pydantic's lax mode would store the string ``"48.1"`` as a latitude, ``true`` as ``1`` and a Unix number as
a time. Here a number is a JSON number (an integer is one: ``48`` is a valid latitude), an enumeration coded
by integers takes integers only, and a time is an ISO 8601 string with a UTC offset. Formats that carry only
text (CoT attributes, CSV cells) read numbers through :func:`parse_decimal`, one plain decimal grammar with
no ``nan``, ``inf``, hexadecimal, digit separators, non-ASCII digits or inner whitespace.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

#: A plain decimal number: optional sign, digits with an optional fraction, optional exponent. ASCII only.
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: A plain whole number written as text: optional sign and ASCII digits, nothing around them.
INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: The start every accepted time string must have: a calendar date and hours:minutes (then seconds, offset).
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}", re.ASCII)

E = TypeVar("E", bound=Enum)


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of 0-9 and nothing else, so that ``int(text)`` reads what a reader sees.

    ``str.isdigit()`` alone also says yes to "٣" (``int()`` makes it 3) and "²" (``int()`` raises).
    """
    return text.isascii() and text.isdigit()


def parse_decimal(text: str) -> float:
    """``text`` as a finite float, or ValueError saying why; the whole text must be :data:`DECIMAL`.

    Python's ``float()`` also reads ``"nan"``, ``"inf"``, ``"1_000"``, ``" 4\\n"`` and Arabic-Indic digits;
    a text format that meant a number never needs any of them, and a sender who uses them is probing.
    """
    if DECIMAL.fullmatch(text) is None:
        raise ValueError(f"{text[:40]!r} is not a decimal number (digits, optional sign, fraction and exponent)")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]!r} is beyond the range of a finite number")
    return value


def int_enum(enum: type[E], words: str) -> Any:
    """A before-validator for an enumeration coded by integers: accept its members and JSON integers only.

    Lax mode would take ``true`` as 1, ``"2"`` and ``2.0`` as 2; each of those is refused here, naming the
    accepted codes (``words``), so a sender learns what to send instead of having its value reinterpreted.
    """

    def check(value: Any) -> Any:
        if not _coercible(value):
            return value  # a member, a JSON integer, or something pydantic's enum check refuses in its own words
        raise PydanticCustomError(
            "strict_int_enum", "expected an integer code ({words}) as a JSON number, got {got}", {"words": words, "got": _kind(value)}
        )

    return check


def time_input(value: Any) -> Any:
    """Accept an ISO 8601 date-time string (or a datetime built by truceline itself); refuse the rest.

    Lax mode reads ``1680405300`` and ``"1680405300"`` as Unix times: a number carries no offset and no
    unit, so it is refused before pydantic's datetime parser sees it. Other strings that are not
    date-times go on to that parser, whose message says what is wrong with them.
    """
    if isinstance(value, datetime) or (type(value) is str and _ISO_DATETIME.match(value) is not None):
        return value
    if type(value) is str and not _coercible(value):
        return value  # not a number in disguise: pydantic's own parser explains what is wrong with it
    raise PydanticCustomError(
        "iso_datetime", "time must be an ISO 8601 date-time string with an offset, e.g. 2023-04-02T03:15:00Z, got {got}", {"got": _kind(value)}
    )


def _plain_integer_text(value: Any) -> Any:
    """A query string's integer must be :data:`INTEGER`: lax mode also reads ``" 3"``, ``"1_0"`` and ``"3.0"``."""
    if type(value) is str and INTEGER.fullmatch(value) is None:
        raise PydanticCustomError("plain_integer", "expected a whole number in ASCII digits, got {got}", {"got": _kind(value)})
    return value


def _plain_decimal_text(value: Any) -> Any:
    """A query string's number must be :data:`DECIMAL` and finite: lax mode also reads ``"1_0"``, ``" 3"``."""
    if type(value) is not str:
        return value
    try:
        return parse_decimal(value)
    except ValueError as exc:
        raise PydanticCustomError("plain_decimal", "{why}", {"why": str(exc)}) from None


#: An integer read from text (a query string): :data:`INTEGER` only, then the usual bounds.
PlainInt = Annotated[int, BeforeValidator(_plain_integer_text)]
#: A number read from text (a query string): :func:`parse_decimal`'s grammar, finite, then the usual bounds.
PlainFloat = Annotated[float, BeforeValidator(_plain_decimal_text)]


def _coercible(value: Any) -> bool:
    """True for what lax mode would silently turn into a number: booleans, floats, numeric strings."""
    if isinstance(value, bool | float):
        return True
    return type(value) is str and DECIMAL.fullmatch(value.strip()) is not None


def _kind(value: Any) -> str:
    """How a refused value looked, in JSON words (a boolean, a string "2", a number 2.0)."""
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"a string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"a number {value!r}"
    if value is None:
        return "null"
    return type(value).__name__
