"""The SQLite store: idempotent atomic batches, queries with indexes, migrations, keys, persistence."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.conftest import native

from truceline.access.policy import Role
from truceline.domain.observation import Observation
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.store.ports import BBox, ObservationQuery
from truceline.store.sqlite import MIGRATIONS, SqliteStore, StoreError, open_store


def obs(**overrides: object) -> Observation:
    good, errors = validate_all_or_nothing([native(**overrides)], validation_context())
    assert not errors, errors
    return good[0]


def test_pragmas_give_durable_wal_with_foreign_keys(store: SqliteStore) -> None:
    conn = store._writer
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version() == MIGRATIONS[-1].version


def test_same_id_again_is_accepted_and_changes_nothing(store: SqliteStore) -> None:
    first = store.add_observations([obs(id="a"), obs(id="b")])
    assert first.stored == ["a", "b"] and first.duplicates == []
    before = store.get_observation("a")
    again = store.add_observations([obs(id="a"), obs(id="c")])
    assert again.accepted == ["a", "c"] and again.stored == ["c"] and again.duplicates == ["a"]
    assert store.get_observation("a") == before
    assert store.count_observations() == 3


def test_reused_id_with_other_content_is_reported_and_not_overwritten(store: SqliteStore) -> None:
    store.add_observations([obs(id="a", kind="explosion")])
    result = store.add_observations([obs(id="a", kind="impact")])
    assert result.conflicts == ["a"] and result.stored == []
    assert store.get_observation("a").document["kind"] == "explosion"  # type: ignore[union-attr]


def test_duplicate_ids_within_one_batch_store_once(store: SqliteStore) -> None:
    result = store.add_observations([obs(id="a"), obs(id="a")])
    assert result.stored == ["a"] and result.duplicates == ["a"]
    assert store.count_observations() == 1


def test_batch_is_atomic_when_the_database_fails_midway(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.add_observations([obs(id="before")])
    # Make the label insert (the last statement of the batch) fail after the rows went in.
    store._writer.execute("CREATE TRIGGER fail_label BEFORE INSERT ON observation_labels WHEN NEW.label = 'BOOM' BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_observations([obs(id="x1"), obs(id="x2", releasable_to=["BOOM"])])
    assert store.count_observations() == 1
    assert store.get_observation("x1") is None


def test_everything_survives_reopening(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    s.add_observations([obs(id=f"o{i}") for i in range(50)])
    s.close()
    again = open_store(tmp_path)
    assert again.count_observations() == 50
    assert again.get_observation("o7").document["id"] == "o7"  # type: ignore[union-attr]
    again.close()


def test_newer_schema_is_refused_not_corrupted(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    s._writer.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    s.close()
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(tmp_path)


def _points(store: SqliteStore) -> None:
    places = {
        "kyiv": (50.45, 30.52),
        "kharkiv": (49.99, 36.23),
        "fiji-east": (-17.0, 179.9),
        "fiji-west": (-17.0, -179.9),
        "north-pole": (90.0, 0.0),
        "kharkiv-edge": (50.0, 36.0),
    }
    store.add_observations(
        [obs(id=name, location={"lat": lat, "lon": lon}) for name, (lat, lon) in places.items()]
        + [obs(id="bearing", location={"sensor_lat": 50.0, "sensor_lon": 36.1, "bearing_deg": 10, "bearing_sd_deg": 3})]
    )


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        (BBox(36.0, 49.5, 37.0, 50.5), {"kharkiv", "kharkiv-edge"}),  # edges are inclusive
        (BBox(36.0000001, 49.5, 37.0, 50.5), {"kharkiv"}),  # exact test after the grid
        (BBox(179.0, -18.0, -179.0, -16.0), {"fiji-east", "fiji-west"}),  # crosses the antimeridian
        (BBox(179.0, -18.0, 180.0, -16.0), {"fiji-east"}),
        (BBox(-180.0, 89.0, 180.0, 90.0), {"north-pole"}),
        (BBox(-180.0, -90.0, 180.0, 90.0), {"kyiv", "kharkiv", "kharkiv-edge", "fiji-east", "fiji-west", "north-pole"}),
    ],
)
def test_bbox_queries(store: SqliteStore, bbox: BBox, expected: set[str]) -> None:
    _points(store)
    page = store.list_observations(ObservationQuery(bbox=bbox, limit=100))
    assert {item.id for item in page.items} == expected


def test_bbox_validation() -> None:
    with pytest.raises(ValueError, match="min_lat"):
        BBox(0, 10, 1, 5)
    with pytest.raises(ValueError, match="max_lon=181"):
        BBox(0, 0, 181, 1)


def test_time_filters_and_cursor_pagination_visit_everything_once(store: SqliteStore) -> None:
    store.add_observations([obs(id=f"t{i:03d}", time=f"2023-04-{1 + i % 28:02d}T0{i % 10}:00:00Z") for i in range(120)])
    since, until = datetime(2023, 4, 5, tzinfo=UTC), datetime(2023, 4, 20, tzinfo=UTC)
    seen, cursor, pages = [], None, 0
    while True:
        page = store.list_observations(ObservationQuery(since=since, until=until, limit=7, cursor=cursor))
        seen.extend(page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    times = [item.document["time"] for item in seen]
    assert times == sorted(times)
    assert len({item.id for item in seen}) == len(seen)
    expected = [i for i in range(120) if 5 <= 1 + i % 28 < 20]
    assert len(seen) == len(expected) and pages == -(-len(expected) // 7)


def test_kind_source_and_org_filters(store: SqliteStore) -> None:
    store.add_observations(
        [
            obs(id="a", kind="impact"),
            obs(id="b", kind="launch", source={"id": "fr-1", "type": "radar", "org": "FR"}),
            obs(id="c", kind="impact", source={"id": "us-1", "type": "uav", "org": "US"}),
        ]
    )
    ids = lambda q: {i.id for i in store.list_observations(q).items}  # noqa: E731
    assert ids(ObservationQuery(kinds=("impact",))) == {"a", "c"}
    assert ids(ObservationQuery(source_types=("radar", "uav"))) == {"b", "c"}
    assert ids(ObservationQuery(orgs=("FR",))) == {"b"}


def test_bad_cursor_is_a_clear_error(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="cursor"):
        store.list_observations(ObservationQuery(cursor="not-a-cursor!"))


def test_api_keys_are_hashed_and_revocable(store: SqliteStore) -> None:
    key, secret = store.create_api_key("FR", Role.OBSERVER, label="paris")
    assert store.authenticate(secret) == key
    raw = store._writer.execute("SELECT secret_hash FROM api_keys").fetchone()[0]
    assert secret.encode() not in raw and len(raw) == 32
    assert store.authenticate(secret + "x") is None
    assert store.revoke_api_key(key.key_id) is True
    assert store.authenticate(secret) is None
    assert store.revoke_api_key(key.key_id) is False
    assert store.list_api_keys()[0].revoked_at is not None


def test_summary_counts(store: SqliteStore) -> None:
    _points(store)
    summary = store.summarize_observations()
    assert summary["total"] == 7 and summary["by_kind"] == {"explosion": 7} and summary["by_org"] == {"UA": 7}
