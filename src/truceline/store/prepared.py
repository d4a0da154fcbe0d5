"""An observation made ready for the store outside the write lock: its row, content hash and ledger leaf.

Preparation is the expensive part of storing (canonical JSON, hashing, commitment); it holds only plain
values, so the API's parser pool can do it in another process and the writer only assigns numbers.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from truceline.domain.observation import Observation
from truceline.ledger.commitment import canonical_observation, commit_canonical, new_salt, observation_leaf
from truceline.store.grid import grid_cell
from truceline.store.timecodes import _from_us, _iso, _us


@dataclass(frozen=True, slots=True)
class PreparedObservation:
    """Everything about one observation that can be computed before taking the write lock (and in another
    process: it holds only plain values)."""

    id: str
    owner_org: str
    labels: tuple[str, ...]
    columns: tuple[object, ...]  # the row without seq and ledger index
    doc_sha256: bytes
    salt: bytes
    leaf: bytes

    @property
    def document(self) -> str:
        """The canonical JSON document."""
        return str(self.columns[-1])

    def row(self, seq: int, ledger_index: int) -> tuple[object, ...]:
        """The full ``observations`` row."""
        return (seq, *self.columns, ledger_index, self.salt)


_sha256 = hashlib.sha256


def prepare_observation(obs: Observation, received_us: int, received_iso: str) -> PreparedObservation:
    """Row values, content hash and ledger leaf of one observation (shared with the ingest benchmark).

    The stored document is the observation's RFC 8785 canonical JSON, the very bytes its ledger
    commitment covers, so a reader can check the commitment against what the API serves.
    """
    canonical = canonical_observation(obs)
    digest = _sha256(canonical).digest()
    salt = new_salt()
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
    return PreparedObservation(str(obs.id), source.org, tuple(obs.releasable_to), columns, digest, salt, leaf)


def prepare_batch(observations: Sequence[Observation], received_at: datetime) -> list[PreparedObservation]:
    """:func:`prepare_observation` for a batch received at one moment."""
    received_us = _us(received_at)
    received_iso = _iso(_from_us(received_us))
    return [prepare_observation(obs, received_us, received_iso) for obs in observations]


INSERT_OBSERVATION_SQL = (
    "INSERT INTO observations (seq, id, t_us, time_unc_s, kind, loc_type, lat, lon, sigma_m, cell, source_id,"
    " source_type, org, reliability, credibility, doc_sha256, received_us, doc, ledger_index, ledger_salt)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
INSERT_LABEL_SQL = "INSERT INTO observation_labels VALUES (?,?)"
#: Called inside the storing transaction with the newly stored observations and their sequence numbers.
InsertHook = Callable[[sqlite3.Connection, list[tuple[int, PreparedObservation]]], None]
