"""The scale-out store on PostgreSQL 15 + PostGIS 3: the same contract as the embedded SQLite store.

This module only assembles the store from its parts, one job each:
- :mod:`~truceline.store.postgres_conn` — the psycopg pool behind ``sqlite3``'s interface, typed errors;
- :mod:`~truceline.store.postgres_schema` — migrations (advisory-locked), monthly partitions;
- :mod:`~truceline.store.postgres_base` — pool, transactions, schema upgrade on start;
- :mod:`~truceline.store.postgres_observations` — COPY intake, identities, PostGIS search;
- :mod:`~truceline.store.postgres_incidents` — incidents, fusion cursors per sector, lease fences;
- :mod:`~truceline.store.postgres_ledger` — records queued for the ledger, the sequencer, proofs;
- organisations, keys and the plain reads: the SQLite store's own SQL, through the adapter.

See docs/store-postgres.md for the schema and what differs from SQLite and why.
"""

from __future__ import annotations

from pathlib import Path

from truceline.ledger.checkpoint import KEY_FILE, KeyFileError, load_key
from truceline.ledger.witness import WitnessError, check_against_witness
from truceline.store.ports import StoreUnavailable
from truceline.store.postgres_incidents import LeaseLost, PgIncidentTables
from truceline.store.postgres_ledger import PgLedgerTables
from truceline.store.postgres_observations import PgObservationTables
from truceline.store.sqlite import SqliteStore, StoreError

__all__ = ["LeaseLost", "PostgresStore", "StoreUnavailable", "open_postgres"]


class PostgresStore(PgObservationTables, PgIncidentTables, PgLedgerTables, SqliteStore):
    """The PostgreSQL :class:`~truceline.store.ports.Store`: any number of processes may share one database.

    A subclass of :class:`~truceline.store.sqlite.SqliteStore` so that it offers every method the callers
    (typed against it) use, by construction: the ``Pg*`` parts and :class:`~truceline.store.postgres_base.PgBase`
    come first in the method order and replace whatever speaks SQLite; ``engine`` tells the two apart.
    """


def open_postgres(dsn: str, data_dir: Path | None = None, *, pool_size: int = 8, timeout_s: float = 10.0) -> PostgresStore:
    """Connect (StoreUnavailable if the server cannot be reached) and migrate the schema if needed.

    ``data_dir`` holds what stays a file: the ledger signing key (the sequencer creates it if missing) and
    the witness of the latest checkpoint the sequencer signed there; a database behind that witness (restored
    from an old backup) is refused with StoreError, as the embedded store does.
    """
    if data_dir is not None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = PostgresStore(dsn, data_dir, pool_size=pool_size, timeout_s=timeout_s)
    if data_dir is not None:
        try:
            verifier = load_key(data_dir).verifier if (data_dir / KEY_FILE).exists() else None
            check_against_witness(store.reader(), data_dir, verifier)
        except (WitnessError, KeyFileError) as exc:
            store.close()
            raise StoreError(str(exc)) from None
    return store
