"""Numbers on the command line read as strictly as numbers in data: no ``nan``, ``inf``, ``1_0`` or ``" 3"``.

typer converts an ``int`` option with ``int()`` and a ``float`` option with ``float()``, which also read
``1_0`` as 10, ``" 3"`` as 3 and ``nan`` or ``inf`` as numbers: a ``--poll nan`` then reached ``time.sleep``
and a ``--distance-gate-m inf`` gated nothing. Options that take a number pass ``parser=plain_int`` or
``parser=finite_float`` so the operator gets a precise error instead (the grammar of :mod:`domain.strict`).
"""

from __future__ import annotations

import typer

from truceline.domain.strict import INTEGER, parse_decimal


def plain_int(text: str | int) -> int:
    """An option's integer: optional sign and ASCII digits only; a default (already an int) passes."""
    if isinstance(text, int):
        return text
    if INTEGER.fullmatch(text) is None:
        raise typer.BadParameter(f"{text[:40]!r} is not a whole number (ASCII digits with an optional sign)")
    return int(text)


def finite_float(text: str | float) -> float:
    """An option's decimal number: the plain decimal grammar, finite; a default (already a number) passes."""
    if isinstance(text, int | float):
        return float(text)
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
