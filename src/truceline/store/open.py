"""One factory for every store a command line may name: the embedded SQLite store or PostgreSQL.

``--store`` absent keeps the data dir's SQLite file exactly as before; ``postgresql://…`` (or
``postgres://…``) selects :class:`~truceline.store.postgres.PostgresStore`; anything else is refused with
a message that says what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truceline.store.ports import StoreUnavailable
from truceline.store.sqlite import SqliteStore, open_store
from truceline.store.sqlite_schema import StoreError

if TYPE_CHECKING:
    from truceline.store.postgres import PostgresStore

__all__ = ["StoreUnavailable", "is_postgres_url", "open_store_url"]


def is_postgres_url(store_url: str | None) -> bool:
    """Whether ``store_url`` names a PostgreSQL database."""
    return store_url is not None and store_url.startswith(("postgresql://", "postgres://"))


def open_store_url(data_dir: Path, store_url: str | None) -> SqliteStore | PostgresStore:
    """The store of ``data_dir`` (None) or the PostgreSQL database ``store_url``, migrated and ready.

    Raises StoreError for a URL that is neither, StoreUnavailable when PostgreSQL cannot be reached.
    """
    if store_url is None:
        return open_store(data_dir)
    if is_postgres_url(store_url):
        from truceline.store.postgres import open_postgres  # psycopg only when asked for

        return open_postgres(store_url, data_dir)
    scheme = store_url.split("://", 1)[0] if "://" in store_url else store_url
    raise StoreError(f"--store {scheme!r} is not supported: give postgresql://USER@HOST:PORT/DB, or no --store for the data dir's SQLite file")
