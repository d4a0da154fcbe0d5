"""Times as the store keeps them: exact integer microseconds since the Unix epoch, and ISO 8601 with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(value: datetime) -> int:
    """Exact integer microseconds since the Unix epoch (floats would lose the last digits)."""
    return (value - _EPOCH) // _MICROSECOND


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
