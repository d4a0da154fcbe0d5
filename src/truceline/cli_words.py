"""Numbers with their nouns for the command line's sentences: ``1 violation``, ``2 violations``."""

from __future__ import annotations


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` (thousands separated) and the noun that agrees with it; ``plural`` defaults to ``singular + "s"``."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


__all__ = ["counted"]
