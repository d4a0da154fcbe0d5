"""The embedded store on SQLite: one WAL database file in the data dir, durable on every commit.

This module only assembles the store from its parts, one job each, and keeps the names callers import:
- :mod:`~truceline.store.sqlite_schema` — the numbered migrations;
- :mod:`~truceline.store.sqlite_base` — connections, transactions, schema upgrade;
- :mod:`~truceline.store.prepared` — an observation's row, hash and ledger leaf, computed before the lock;
- :mod:`~truceline.store.sqlite_observations` — observations (identity: organisation and id);
- :mod:`~truceline.store.sqlite_incidents` — incidents and fusion progress;
- :mod:`~truceline.store.sqlite_reviews` — analysts' decisions;
- :mod:`~truceline.store.sqlite_ledger` — the evidence log's proofs, checkpoints, agreement versions;
- :mod:`~truceline.store.sqlite_keys` — organisations and API keys;
- :mod:`~truceline.store.sqlite_revocations` — key revocations (retired or compromised), ledger leaves.
"""

from __future__ import annotations

from pathlib import Path

from truceline.ledger.checkpoint import KeyFileError, Verifier, load_key
from truceline.ledger.witness import WitnessError, check_against_witness
from truceline.store.prepared import (
    INSERT_LABEL_SQL,
    INSERT_OBSERVATION_SQL,
    PreparedObservation,
    prepare_batch,
    prepare_observation,
)
from truceline.store.private import DATABASE_FILENAME, create_private_file, tighten_data_dir
from truceline.store.sqlite_base import InsertHook
from truceline.store.sqlite_incidents import IncidentTables
from truceline.store.sqlite_keys import KeyTables
from truceline.store.sqlite_ledger import LedgerTables
from truceline.store.sqlite_observations import ObservationTables
from truceline.store.sqlite_reviews import ReviewTables
from truceline.store.sqlite_revocations import RevocationTables
from truceline.store.sqlite_schema import MIGRATIONS, Migration, StoreError, execute_ddl

__all__ = [
    "DATABASE_FILENAME",
    "INSERT_LABEL_SQL",
    "INSERT_OBSERVATION_SQL",
    "MIGRATIONS",
    "InsertHook",
    "Migration",
    "PreparedObservation",
    "SqliteStore",
    "StoreError",
    "execute_ddl",
    "open_store",
    "prepare_batch",
    "prepare_observation",
]


class SqliteStore(ObservationTables, IncidentTables, ReviewTables, RevocationTables, LedgerTables, KeyTables):
    """The embedded :class:`~truceline.store.ports.Store` implementation."""


def open_store(data_dir: Path) -> SqliteStore:
    """Open (creating if needed) the store of a data dir, private to its owner, for writing.

    Refuses (StoreError) a store that is behind its witness checkpoint (see :mod:`truceline.ledger.witness`).
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    create_private_file(data_dir / DATABASE_FILENAME)
    tighten_data_dir(data_dir)
    store = SqliteStore(data_dir / DATABASE_FILENAME)
    try:
        check_against_witness(store.reader(), data_dir, _ledger_verifier(data_dir))
    except WitnessError as exc:
        store.close()
        raise StoreError(str(exc)) from None
    tighten_data_dir(data_dir)  # the WAL and SHM SQLite just created
    return store


def _ledger_verifier(data_dir: Path) -> Verifier | None:
    """The data dir's public ledger key, to check the witness's signature (None before the first key)."""
    try:
        return load_key(data_dir).verifier
    except KeyFileError:
        return None
