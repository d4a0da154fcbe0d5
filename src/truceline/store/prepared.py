"""An observation made ready for the store outside the write lock: its row, content hash and ledger leaf.

Preparation is the expensive part of storing (canonical JSON, hashing, commitment, the leaf's RFC 6962
hash); it holds only plain values in a tuple, so the API's parser pool can do it in another process, the
result crosses the process boundary as plain pickled tuples (no per-object Python hooks), and the writer
only assigns numbers and hashes the tree's interior nodes.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from truceline.domain.observation import Observation
from truceline.domain.observation_fast import collector_paused
from truceline.domain.validated import ValidatedObservation
from truceline.ledger.commitment import SALT_BYTES, canonical_observation, commit_canonical, observation_leaf
from truceline.store.grid import grid_cell
from truceline.store.timecodes import _from_us, _iso, _us


class PreparedObservation(NamedTuple):
    """Everything about one observation that can be computed before taking the write lock (and in another
    process: it holds only plain values, and as a tuple it pickles and unpickles without Python code)."""

    id: str
    owner_org: str
    labels: tuple[str, ...]
    columns: tuple[object, ...]  # the row without seq and ledger index
    doc_sha256: bytes
    salt: bytes
    leaf: bytes
    leaf_hash: bytes  # RFC 6962 hash of ``leaf`` (sha256(0x00 || leaf)), so the writer does not hash it again

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Unpickle with C-level ``tuple.__new__`` (a NamedTuple's own ``__new__`` is Python code: on the
        writer's side of the parser pool that was 4x the cost of reading the values themselves)."""
        return tuple.__new__, (PreparedObservation, tuple(self))

    @property
    def document(self) -> str:
        """The canonical JSON document."""
        return str(self.columns[-1])

    def row(self, seq: int, ledger_index: int) -> tuple[object, ...]:
        """The full ``observations`` row."""
        return (seq, *self.columns, ledger_index, self.salt)


_sha256 = hashlib.sha256


def prepare_observation(obs: Observation, received_us: int, received_iso: str, salt: bytes | None = None) -> PreparedObservation:
    """Row values, content hash and ledger leaf of one observation (shared with the ingest benchmark).

    The stored document is the observation's RFC 8785 canonical JSON, the very bytes its ledger
    commitment covers, so a reader can check the commitment against what the API serves. ``salt`` is the
    commitment's fresh randomness (drawn here when not given).
    """
    canonical = canonical_observation(obs)
    digest = _sha256(canonical).digest()
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    leaf = observation_leaf(commit_canonical(salt, canonical), received_iso)
    point = obs.point
    source = obs.source
    columns = (
        obs.id,
        _us(obs.time),
        obs.time_sd_s,  # the query column holds what fusion uses: as stated, or as assumed
        obs.kind._value_,  # the enums' plain values (``.value`` is a slow descriptor, and this runs per row)
        obs.location.type,
        point[0] if point else None,
        point[1] if point else None,
        obs.sigma_m,
        grid_cell(point[0], point[1]) if point else None,
        source.id,
        source.type._value_,
        source.org,
        obs.reliability._value_,
        int(obs.credibility),
        digest,
        received_us,
        canonical.decode(),
    )
    leaf_hash = _sha256(b"\x00" + leaf).digest()
    return PreparedObservation(str(obs.id), source.org, tuple(obs.releasable_to), columns, digest, salt, leaf, leaf_hash)


def prepare_batch(observations: Sequence[Observation], received_at: datetime) -> list[PreparedObservation]:
    """:func:`prepare_observation` for a batch received at one moment.

    The salts come from one ``os.urandom`` call for the whole batch (one system call, not one per
    observation), cut into independent 16-byte pieces: the same randomness per commitment.
    """
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    pool = os.urandom(SALT_BYTES * len(observations))
    return [
        prepare_observation(obs, received_us, received_iso, pool[i * SALT_BYTES : (i + 1) * SALT_BYTES])
        for i, obs in enumerate(observations)
    ]


def prepare_validated_batch(items: Sequence[ValidatedObservation], received_at: datetime) -> list[PreparedObservation]:
    """:func:`prepare_batch` for observations validated as columns: the same row, hash, salt and leaf.

    The canonical document comes with the item (the decoder wrote it without a model object); everything
    else is computed as :func:`prepare_observation` does.
    """
    with collector_paused():  # tuples and bytes per row, no cycles: the collector's passes would only cost
        return _prepare_validated(items, received_at)


def _prepare_validated(items: Sequence[ValidatedObservation], received_at: datetime) -> list[PreparedObservation]:
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    pool = os.urandom(SALT_BYTES * len(items))
    out: list[PreparedObservation] = []
    times: dict[datetime, int] = {}  # a file's rows share few distinct times
    for i, item in enumerate(items):
        canonical = item.canonical
        digest = _sha256(canonical).digest()
        salt = pool[i * SALT_BYTES : (i + 1) * SALT_BYTES]
        leaf = observation_leaf(commit_canonical(salt, canonical), received_iso)
        lat, lon = item.lat, item.lon
        t_us = times.get(item.time)
        if t_us is None:
            t_us = times[item.time] = _us(item.time)
        columns = (
            item.id,
            t_us,
            item.time_sd_s,
            item.kind,
            item.loc_type,
            lat,
            lon,
            item.sigma_m,
            grid_cell(lat, lon),
            item.source_id,
            item.source_type,
            item.org,
            item.reliability,
            item.credibility,
            digest,
            received_us,
            canonical.decode(),
        )
        out.append(PreparedObservation(item.id, item.org, item.releasable_to, columns, digest, salt, leaf, _sha256(b"\x00" + leaf).digest()))
    return out


INSERT_OBSERVATION_SQL = (
    "INSERT INTO observations (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,"
    " source_type, org, reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_POSTED_SQL = (
    "INSERT INTO observations (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,"
    " source_type, org, reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt, posted_by)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
""":data:`INSERT_OBSERVATION_SQL` with the submitting key (``posted_by``) as a 21st value."""
INSERT_LABEL_SQL = "INSERT INTO observation_labels VALUES (?,?)"
#: Called inside the storing transaction with the newly stored observations and their sequence numbers.
InsertHook = Callable[[sqlite3.Connection, list[tuple[int, PreparedObservation]]], None]
