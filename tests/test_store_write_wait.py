"""A write transaction waits for another process's write in sleeps of its own (store/sqlite_base.py: begin_immediate)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from truceline.store.sqlite import SqliteStore
from truceline.store.sqlite_base import WRITE_WAIT_S, begin_immediate

_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO fusion_state VALUES ('holder', 1)")
print("holding", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("committed", flush=True)
"""


def _busy_timeout_ms(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA busy_timeout").fetchone()[0])


def test_a_write_waits_for_another_process_and_then_stores(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "t.db")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        done = threading.Event()

        def write() -> None:
            with store.transaction() as conn:
                conn.execute("INSERT INTO fusion_state VALUES ('waiter', 2)")
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        assert not done.wait(0.5), "the write went ahead while another process held the write lock"
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed"
        thread.join(timeout=WRITE_WAIT_S)
        assert done.is_set()
        rows = dict(store.reader().execute("SELECT key, value FROM fusion_state WHERE key IN ('holder', 'waiter')").fetchall())
        assert rows == {"holder": 1, "waiter": 2}
        assert _busy_timeout_ms(store._writer) == int(WRITE_WAIT_S * 1000)
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_a_write_that_waits_too_long_fails_as_sqlite_would_and_leaves_the_connection_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked") as caught:
            begin_immediate(conn, wait_s=0.05)
        assert caught.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
        assert not conn.in_transaction
        assert _busy_timeout_ms(conn) == int(WRITE_WAIT_S * 1000)
        other.execute("COMMIT")
        begin_immediate(conn, wait_s=0.05)  # free now: taken at the first try
        assert conn.in_transaction
        conn.execute("ROLLBACK")
    finally:
        other.close()
        conn.close()


def test_an_error_other_than_busy_is_raised_at_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        conn.execute("BEGIN")
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            begin_immediate(conn, wait_s=WRITE_WAIT_S)  # would loop for 30 s if it took this for a busy database
        assert _busy_timeout_ms(conn) == int(WRITE_WAIT_S * 1000)
    finally:
        conn.close()
