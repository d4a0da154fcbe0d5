"""An observation validated without building an :class:`~truceline.domain.observation.Observation`.

Columnar decoders (FIRMS CSV, :mod:`truceline.ingest.firms_columns`) check whole columns as arrays with
rules at least as strict as the model's, so a row they accept is one the model accepts unchanged. Such a
row reaches the store as its canonical document (the RFC 8785 bytes of what
``Observation.model_dump(mode="json", exclude_none=True)`` would give) and the few values the store
indexes, skipping a model object per row that nothing reads.
Rows the array checks do not accept go through the model as before, so every refusal is the model's.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct


class ValidatedObservation(Struct, frozen=True, gc=False):
    """The stored form of a valid observation: its canonical document and the columns the store derives.

    A Struct without garbage-collector support (it holds strings, numbers, a datetime and a tuple of strings,
    never a cycle): a file's worth of them, handed from a decoder to the store, are nothing for the cyclic
    collector to walk (as tuples, its first pass after decoding took a tenth of JSON ingest's time).

    Every field equals what the validated ``Observation`` would give (``canonical_observation``,
    ``time_sd_s``, ``point``, ``sigma_m``, the enums' values); ``tests/test_firms_columns.py`` checks that
    against the model on real files and mutated ones.
    """

    canonical: bytes
    id: str
    time: datetime
    time_sd_s: float
    kind: str
    loc_type: str
    lat: float
    lon: float
    sigma_m: float
    source_id: str
    source_type: str
    org: str
    reliability: str
    credibility: int
    releasable_to: tuple[str, ...]
