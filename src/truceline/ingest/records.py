"""Decoded records and the errors of decoding, common to every file format.

Each format module turns bytes into a stream of :class:`Record` (a native-observation-shaped dict and the
place it came from) or :class:`Rejection` (the place and why it could not even be decoded). Validation
into observations happens once, afterwards, in :mod:`truceline.ingest.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from msgspec import Struct

from truceline.domain.validated import ValidatedObservation


class FormatError(ValueError):
    """The input as a whole cannot be read in the requested format (not a single bad record)."""


class Record(NamedTuple):
    """One decoded record in native observation shape; ``where`` is e.g. ``line 12`` or ``feature 3``
    (counted from 1; docs/formats.md#where-a-rejection-points).

    A named tuple, immutable like a frozen dataclass but built in under half its time: every decoder makes
    one per record (docs/performance.md)."""

    where: str
    value: Any


@dataclass(frozen=True)
class Rejection:
    """A record refused, with its place in the input, the field concerned, and the reason."""

    where: str
    field: str
    message: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form for summaries."""
        out: dict[str, Any] = {"where": self.where, "field": self.field, "message": self.message}
        if self.value is not None:
            out["value"] = self.value
        return out


class Validated(Struct, frozen=True, gc=False):
    """A record a decoder decoded and validated in one go (:mod:`truceline.ingest.firms_columns`,
    :mod:`truceline.ingest.validated_json`): the pipeline stores it as it is, without validating it again.
    Not tracked by the cyclic collector, like :class:`~truceline.domain.validated.ValidatedObservation`."""

    where: str
    observation: ValidatedObservation
