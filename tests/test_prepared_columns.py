"""A batch handed over as columns (:class:`PreparedColumns`) is the same batch as its rows: the same values
in the same order, the same pickled round trip, and the store writes the very same tables from it as from
the list of rows, whether every observation is new (the column path) or not (the row-by-row path)."""

from __future__ import annotations

import pickle
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.service import batch_parser
from truceline.store.ports import AddResult
from truceline.store.prepared import PreparedColumns, PreparedObservation, prepare_batch
from truceline.store.sqlite import SqliteStore

RECEIVED = datetime(2023, 4, 2, 4, tzinfo=UTC)
TABLES = {
    "observations": "seq",
    "observation_labels": "seq, label",
    "ledger_leaves": "first",
    "ledger_nodes": "level, first",
}


def _doc(i: int, org: str = "UA", labels: tuple[str, ...] = ("COALITION",)) -> dict[str, object]:
    return {
        "id": f"obs-{i}",
        "time": f"2023-04-02T03:{i % 60:02d}:00Z",
        "kind": ("explosion", "impact", "launch")[i % 3],
        "location": {"lat": 48.1 + i / 1000, "lon": 37.7 - i / 997, "cep_m": 100 + i},
        "source": {"id": f"{org.lower()}-acoustic-{i % 4}", "type": "acoustic", "org": org},
        "reliability": "B",
        "credibility": 2,
        "releasable_to": list(labels),
    }


def _docs(n: int, start: int = 0) -> list[dict[str, object]]:
    """Observations with zero, one and two labels and two organisations."""
    label_sets: tuple[tuple[str, ...], ...] = ((), ("COALITION",), ("COALITION", "PUBLIC"))
    return [_doc(i, "UA" if i % 5 else "FR", label_sets[i % 3]) for i in range(start, start + n)]


def _rows(docs: list[dict[str, object]]) -> list[PreparedObservation]:
    parsed = batch_parser.parse_batch(orjson.dumps(docs), RECEIVED, 300.0, 10_000)
    assert parsed.status == 0, parsed.payload
    return list(parsed.items)


def _tables(store: SqliteStore) -> dict[str, list[tuple[object, ...]]]:
    conn = store.reader()
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall() for table, order in TABLES.items()}


def test_parsed_batches_come_as_columns_holding_the_rows() -> None:
    docs = _docs(7)
    parsed = batch_parser.parse_batch(orjson.dumps(docs), RECEIVED, 300.0, 10_000)
    batch = parsed.items
    assert isinstance(batch, PreparedColumns)
    rows = list(batch)
    assert all(type(item) is PreparedObservation for item in rows)
    assert [item.id for item in rows] == [d["id"] for d in docs]
    plain = prepare_batch(validate_all_or_nothing(docs, validation_context(RECEIVED))[0], RECEIVED)  # salts differ
    assert [(p.id, p.owner_org, p.labels, p.columns, p.doc_sha256) for p in rows] == [(p.id, p.owner_org, p.labels, p.columns, p.doc_sha256) for p in plain]
    assert {len(item.labels) for item in rows} == {1, 2}
    assert PreparedColumns(rows) == rows and len(batch) == 7
    assert batch[3] == rows[3] and batch[2:5] == rows[2:5]
    assert isinstance(batch[2:5], PreparedColumns)
    assert batch.unique and orjson.loads(batch.keys_json) == [[item.owner_org, item.id] for item in rows]
    back = pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(back.items, PreparedColumns) and list(back.items) == rows
    assert not PreparedColumns(rows + rows[:1]).unique
    empty = PreparedColumns([])
    assert len(empty) == 0 and list(empty) == [] and empty.unique


def test_new_rows_come_out_of_the_columns_as_the_row_path_numbers_them() -> None:
    rows = _rows(_docs(6))
    batch = PreparedColumns(rows)
    assert list(batch.insert_rows(10, 3, "key-1")) == [(10 + k, *item.columns, 3 + k, item.salt, "key-1") for k, item in enumerate(rows)]
    assert list(batch.label_pairs(10)) == [(label, 10 + k) for k, item in enumerate(rows) for label in item.labels]


def _store_both(tmp_path: Path, batches: list[list[PreparedObservation]]) -> tuple[list[AddResult], list[AddResult], SqliteStore, SqliteStore]:
    """The same prepared batches into two new stores: as rows, and as columns."""
    by_rows, by_columns = SqliteStore(tmp_path / "rows.db"), SqliteStore(tmp_path / "columns.db")
    hooked: dict[str, list[list[tuple[int, PreparedObservation]]]] = {"rows": [], "columns": []}
    by_rows.add_insert_hook(lambda _conn, new: hooked["rows"].append(new))
    by_columns.add_insert_hook(lambda _conn, new: hooked["columns"].append(new))
    results_rows = [by_rows.add_prepared(items, posted_by="key-1") for items in batches]
    results_columns = [by_columns.add_prepared(PreparedColumns(items), posted_by="key-1") for items in batches]
    assert hooked["rows"] == hooked["columns"] and hooked["rows"]
    return results_rows, results_columns, by_rows, by_columns


@pytest.mark.parametrize("sizes", [[1], [5, 3], [300, 1, 40]])
def test_the_column_path_writes_the_same_tables_as_the_row_path(tmp_path: Path, sizes: list[int]) -> None:
    batches, start = [], 0
    for size in sizes:
        batches.append(_rows(_docs(size, start)))
        start += size
    results_rows, results_columns, by_rows, by_columns = _store_both(tmp_path, batches)
    try:
        assert results_columns == results_rows
        assert all(result.stored == result.accepted for result in results_columns)
        tables = _tables(by_columns)
        assert tables == _tables(by_rows)
        assert len(tables["observation_labels"]) == sum(len(item.labels) for items in batches for item in items)
        assert by_columns.ledger_checkpoint is not None
        assert by_columns._log.root(by_columns.reader()) == by_rows._log.root(by_rows.reader())
    finally:
        by_rows.close()
        by_columns.close()


def test_repeats_and_stored_ids_take_the_row_path_with_the_same_outcome(tmp_path: Path) -> None:
    first = _rows(_docs(4))
    again = _rows(_docs(6))  # ids 0-3 again (same content, new salts): duplicates; 4 and 5 new
    changed = _rows([{**_doc(1), "credibility": 3}, *_docs(1, 7)])  # id 1 with other content: a conflict
    repeated = _rows(_docs(2, 9) + _docs(1, 9))  # id 9 twice in one batch
    results_rows, results_columns, by_rows, by_columns = _store_both(tmp_path, [first, again, changed, repeated])
    try:
        assert results_columns == results_rows
        assert results_columns[1].duplicates == ["obs-0", "obs-1", "obs-2", "obs-3"]
        assert results_columns[1].stored == ["obs-4", "obs-5"]
        assert results_columns[2].conflicts == ["obs-1"]
        assert results_columns[3].stored == ["obs-9", "obs-10"] and results_columns[3].duplicates == ["obs-9"]
        assert _tables(by_columns) == _tables(by_rows)
    finally:
        by_rows.close()
        by_columns.close()


def test_a_failing_column_write_stores_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    try:
        def refuse(_conn: sqlite3.Connection, _new: list[tuple[int, PreparedObservation]]) -> None:
            raise RuntimeError("hook refused")

        store.add_insert_hook(refuse)
        with pytest.raises(RuntimeError, match="hook refused"):
            store.add_prepared(PreparedColumns(_rows(_docs(3))), posted_by="key-1")
        assert all(rows == [] for rows in _tables(store).values())
    finally:
        store.close()


def test_an_all_new_batch_is_not_looked_up_and_a_stored_key_sends_it_to_the_lookup(tmp_path: Path) -> None:
    """The ``(org, id)`` unique index decides whether a batch of distinct keys is all new; a stored key undoes the
    attempt (nothing of it stays) and the batch is looked up as before, with the same outcome and tables as rows."""
    first = _rows(_docs(5))
    mixed = _rows([*_docs(2, 5), {**_doc(1), "credibility": 3}, *_docs(2, 2)])  # 5, 6 new; 1 conflicts; 2, 3 stored
    store, by_rows = SqliteStore(tmp_path / "columns.db"), SqliteStore(tmp_path / "rows.db")
    statements: list[str] = []
    store._writer.set_trace_callback(statements.append)
    try:
        assert store.add_prepared(PreparedColumns(first), posted_by="key-1").stored == [f"obs-{i}" for i in range(5)]
        assert not [s for s in statements if "json_each" in s]  # no lookup
        statements.clear()
        result = store.add_prepared(PreparedColumns(mixed), posted_by="key-2")
        assert (result.stored, result.conflicts, result.duplicates) == (["obs-5", "obs-6"], ["obs-1"], ["obs-2", "obs-3"])
        assert "ROLLBACK TO all_new" in statements and [s for s in statements if "json_each" in s]
        assert [by_rows.add_prepared(first, posted_by="key-1"), by_rows.add_prepared(mixed, posted_by="key-2")][1] == result
        assert _tables(store) == _tables(by_rows)
    finally:
        store.close()
        by_rows.close()
