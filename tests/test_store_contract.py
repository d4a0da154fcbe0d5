"""One contract for both stores: the embedded SQLite store and the PostgreSQL/PostGIS store behave alike.

Every test here runs against ``sqlite`` and ``postgresql`` (a fresh database per test, tests/services.py).
The one difference callers see is the ledger: in PostgreSQL a record's leaf is appended by the sequencer
(``sequence_pending``), so :func:`settle` runs it where the embedded store has appended already.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import native

from truceline.access.policy import Principal, Role
from truceline.cli_ledger_audit import audit_store
from truceline.domain.agreement import canonical_json as agreement_canonical_json
from truceline.domain.documents import parse_documents
from truceline.domain.incident import Incident
from truceline.domain.observation import Observation
from truceline.domain.revocation import RevocationReason
from truceline.fuse import Fuser
from truceline.ingest.validation import validate_all_or_nothing, validation_context
from truceline.ledger.audit import check_commitment
from truceline.ledger.bundle import export_bundle
from truceline.ledger.bundle_verify import verify_bundle
from truceline.ledger.canonical import canonical_json, parse_leaf
from truceline.ledger.checkpoint import load_or_create_key, verify_checkpoint
from truceline.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from truceline.service.track_intake import TrackOptions, ingest_track_file
from truceline.store.nodes import NodeRegister
from truceline.store.open import open_store_url
from truceline.store.ports import BBox, IncidentQuery, ObservationQuery
from truceline.store.prepared import PreparedColumns, prepare_batch
from truceline.store.sqlite import SqliteStore, StoreError
from truceline.store.tracks import count_track_points, get_track, list_tracks, track_minute_evidence, track_points


def obs(**overrides: Any) -> Observation:
    good, errors = validate_all_or_nothing([native(**overrides)], validation_context())
    assert not errors, errors
    return good[0]


def at(lat: float, lon: float, **overrides: Any) -> Observation:
    return obs(location={"lat": lat, "lon": lon, "cep_m": 100}, **overrides)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteStore]:
    url = request.getfixturevalue("pg_dsn") if request.param == "postgresql" else None
    s = open_store_url(tmp_path / "data", url)
    try:
        yield s
    finally:
        s.close()


def settle(store: SqliteStore) -> None:
    """Append what waits for the ledger (PostgreSQL's sequencer; the embedded store appended already)."""
    if store.engine == "postgresql":
        while store.sequence_pending(1000, None):  # type: ignore[attr-defined]
            pass


def reader(org: str, *labels: str, role: Role = Role.OBSERVER) -> Principal:
    return Principal(key_id="k", org=org, role=role, labels=frozenset({org, "PUBLIC", *labels}))


def test_batches_are_idempotent_duplicates_and_conflicts_reported(store: SqliteStore) -> None:
    first = store.add_observations([obs(id="a"), obs(id="b"), obs(id="a")])
    assert first.stored == ["a", "b"] and first.duplicates == ["a"] and first.conflicts == []
    before = store.get_observation("a")
    again = store.add_observations([obs(id="a"), obs(id="c"), obs(id="b", kind="impact")])
    assert again.accepted == ["a", "c", "b"] and again.stored == ["c"]
    assert again.duplicates == ["a"] and again.conflicts == ["b"]
    assert store.get_observation("a") == before
    assert store.get_observation("b").document["kind"] == "explosion"  # type: ignore[union-attr]
    assert store.count_observations() == 3


def test_identity_is_per_organisation_and_a_reader_resolves_its_own_first(store: SqliteStore) -> None:
    ua = obs(id="x", source={"id": "s1", "type": "acoustic", "org": "UA"}, releasable_to=["COALITION"])
    pl = obs(id="x", source={"id": "s2", "type": "radar", "org": "PL"}, releasable_to=["COALITION"])
    assert store.add_observations([ua, pl]).stored == ["x", "x"]
    assert store.count_observations() == 2
    staff = reader("PL", "COALITION")
    assert store.get_observation("x", staff).document["source"]["org"] == "PL"  # type: ignore[union-attr]
    assert [s.document["source"]["org"] for s in store.find_observations("x", staff)] == ["PL", "UA"]
    assert store.get_observation("x", org="UA").document["source"]["org"] == "UA"  # type: ignore[union-attr]


def test_releasability_filters_every_read(store: SqliteStore) -> None:
    store.add_observations([obs(id="own", releasable_to=[]), obs(id="coal", releasable_to=["COALITION"])])
    outsider = reader("RU")
    assert store.get_observation("own", outsider) is None and store.get_observation("coal", outsider) is None
    assert store.list_observations(ObservationQuery(reader=outsider)).items == []
    assert store.summarize_observations(outsider)["total"] == 0
    member = reader("PL", "COALITION")
    assert [s.id for s in store.list_observations(ObservationQuery(reader=member)).items] == ["coal"]
    assert store.summarize_observations(member)["total"] == 1
    owner = reader("UA")
    assert {s.id for s in store.list_observations(ObservationQuery(reader=owner)).items} == {"own", "coal"}


def test_pages_follow_time_order_and_a_foreign_cursor_is_refused(store: SqliteStore) -> None:
    base = datetime(2023, 4, 2, tzinfo=UTC)
    store.add_observations([obs(id=f"o{i:02d}", time=(base + timedelta(minutes=37 - i)).isoformat()) for i in range(25)])
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_observations(ObservationQuery(limit=7, cursor=cursor))
        seen.extend(s.id for s in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"o{i:02d}" for i in reversed(range(25))]
    with pytest.raises(StoreError, match="cursor"):
        store.list_observations(ObservationQuery(cursor="bm90LWEtY3Vyc29y"))


def test_time_filters_are_half_open(store: SqliteStore) -> None:
    store.add_observations([obs(id=f"t{h}", time=f"2023-04-02T0{h}:00:00Z") for h in range(5)])
    got = store.list_observations(
        ObservationQuery(since=datetime(2023, 4, 2, 1, tzinfo=UTC), until=datetime(2023, 4, 2, 3, tzinfo=UTC))
    )
    assert [s.id for s in got.items] == ["t1", "t2"]


def test_bbox_is_exact_on_its_edges_and_across_the_antimeridian(store: SqliteStore) -> None:
    store.add_observations(
        [
            at(10.0, 179.5, id="east"),
            at(10.0, -179.5, id="west"),
            at(10.0, 0.0, id="greenwich"),
            at(11.0, 179.0, id="edge"),
            at(11.0001, 179.0, id="beyond"),
        ]
    )

    def ids(box: BBox) -> set[str]:
        return {s.id for s in store.list_observations(ObservationQuery(bbox=box)).items}

    assert ids(BBox(179.0, 9.0, -179.0, 11.0)) == {"east", "west", "edge"}
    assert ids(BBox(-1.0, 9.0, 1.0, 11.0)) == {"greenwich"}
    assert ids(BBox(-180.0, -90.0, 180.0, 90.0)) == {"east", "west", "greenwich", "edge", "beyond"}


def test_keys_are_kept_hashed_and_revoked_keys_stop_working(store: SqliteStore) -> None:
    key, secret = store.create_api_key("UA", Role.CONTRIBUTOR, label="array 17")
    assert store.authenticate(secret) == key
    assert store.authenticate(secret + "x") is None
    assert secret not in repr(store.list_api_keys())
    assert store.revoke_api_key(key.key_id) is True
    assert store.authenticate(secret) is None
    assert store.revoke_api_key(key.key_id) is False
    assert store.list_api_keys()[0].revoked_at is not None
    assert "UA" in store.list_organisations()


def test_organisations_and_groups(store: SqliteStore) -> None:
    store.set_organisation("PL", ["COALITION", "EU"], name="Poland")
    store.set_organisation("PL", ["COALITION"])
    store.set_organisation("RU")
    assert store.organisation_groups("PL") == ["COALITION"]
    assert store.list_organisations() == {"PL": ["COALITION"], "RU": []}


def _incident(iid: str, founder: tuple[str, str], lat: float = 48.1, lon: float = 37.7, **kw: Any) -> Incident:
    return Incident(
        id=iid,
        time=datetime(2023, 4, 2, 3, 15, tzinfo=UTC),
        kind="explosion",
        lat=lat,
        lon=lon,
        sigma_m=100.0,
        observation_ids=(founder[1],),
        observation_orgs=(founder[0],),
        **kw,
    )


def test_incident_members_are_found_per_organisation_or_by_id_alone_on_old_incidents(store: SqliteStore) -> None:
    """Members are the named organisation's rows; an incident written before ids were per organisation (no
    organisations) rests on every row with its ids."""
    store.add_observations([obs(id="same"), obs(id="same", source={"id": "ru-s", "type": "monitor", "org": "RU"}, releasable_to=["RU"])])
    old = _incident("inc-old", ("UA", "same")).model_copy(update={"observation_orgs": ()})
    store.apply_incident_changes([(_incident("inc-ru", ("RU", "same")), False), (old, False)], [], cursor=2)
    members = store.member_documents(["inc-ru", "inc-old"])
    assert [d["source"]["org"] for d in members["inc-ru"]] == ["RU"]
    assert sorted(d["source"]["org"] for d in members["inc-old"]) == ["RU", "UA"]
    # What fusion's announcements read instead of the documents: the same members, their owner, id and labels.
    evidence = store.member_evidence(["inc-ru", "inc-old", "inc-none"])
    assert evidence["inc-ru"] == [("RU", "same", ("RU",))]
    assert sorted(evidence["inc-old"]) == [("RU", "same", ("RU",)), ("UA", "same", ("COALITION",))]
    assert evidence["inc-none"] == []
    for incident_id, docs in store.member_documents(["inc-ru", "inc-old"]).items():
        assert sorted(evidence[incident_id]) == sorted(
            (d["source"]["org"], d["id"], tuple(d.get("releasable_to", ()))) for d in docs
        )


def test_incidents_members_and_fusion_cursor(store: SqliteStore) -> None:
    store.add_observations([obs(id="m1", releasable_to=["COALITION"])])
    assert store.fusion_cursor() == 0
    store.apply_incident_changes(
        [(_incident("inc-a", ("UA", "m1")), False), (_incident("inc-b", ("UA", "m1"), lat=10.0, lon=179.9), True)], [], cursor=1
    )
    assert store.fusion_cursor() == 1
    assert [i.id for i in store.list_incidents(IncidentQuery())] == ["inc-a", "inc-b"]
    assert [i.id for i in store.list_incidents(IncidentQuery(bbox=BBox(179.0, 9.0, -179.0, 11.0)))] == ["inc-b"]
    assert [i.id for i in store.list_incidents(IncidentQuery(ids=("inc-a",)))] == ["inc-a"]
    assert store.member_documents(["inc-a"])["inc-a"][0]["id"] == "m1"
    assert store.drop_open_incidents() == 1
    assert [i.id for i in store.list_incidents(IncidentQuery())] == ["inc-b"]
    store.apply_incident_changes([], ["inc-b"])
    assert store.list_incidents(IncidentQuery()) == []
    assert [orjson.loads(doc)["id"] for _, doc in store.observations_after(0, 10)] == ["m1"]


def test_incidents_given_as_the_fuser_s_snapshots_are_stored_as_their_incidents(store: SqliteStore) -> None:
    """The fusion runner hands the store snapshots (store/incident_rows.py): same row, document and members."""
    store.add_observations([at(48.1, 37.7, id="s1"), at(48.1, 37.7, id="s1", source={"id": "ru-s", "type": "monitor", "org": "RU"}, releasable_to=["RU"])])
    fuser = Fuser()
    snapshot = next(u.snapshot for u in fuser.add(store_observations(store)) if u.snapshot is not None)
    store.apply_incident_changes([(snapshot, True)], [], cursor=2)
    assert store.list_incidents(IncidentQuery()) == [snapshot.to_incident()]
    assert sorted(d["source"]["org"] for d in store.member_documents([snapshot.id])[snapshot.id]) == sorted(
        org for org, _ in snapshot.to_incident().observation_refs()
    )
    assert store.fusion_cursor() == 2


def store_observations(store: SqliteStore) -> list[Observation]:
    return parse_documents([doc for _, doc in store.observations_after(0, 10)])


def test_reviews_are_ledger_leaves_committing_to_the_decision(store: SqliteStore) -> None:
    made = store.add_review("inc-a", "verify", "two sources agree", "key1", "UA")
    settle(store)
    listed = store.reviews(["inc-a"])["inc-a"]
    assert len(listed) == 1 and listed[0]["decision"] == "verify"
    index = listed[0]["ledger"]["index"]
    assert isinstance(index, int)
    record = {k: made[k] for k in ("incident_id", "decision", "reason", "analyst", "org", "at")}
    salt = base64.b64decode(listed[0]["ledger"]["salt"])
    assert check_commitment(store.ledger_leaf(index), "review", salt, canonical_json(record), "review", index) is None


def test_ledger_proofs_and_checkpoints_verify(store: SqliteStore, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "data", "truceline/contract")  # the data dir's key, which the sequencer signs with
    store.add_observations([obs(id=f"l{i}") for i in range(5)])
    settle(store)
    first = store.ledger_size()
    store.add_observations([obs(id=f"l{i}") for i in range(5, 12)])
    settle(store)
    assert store.ledger_size() == first + 7
    signed = verify_checkpoint(store.ledger_checkpoint(key).note, key.verifier)
    assert signed.size == store.ledger_size()
    stored = store.get_observation("l7")
    assert stored is not None and stored.ledger_index is not None
    leaf_h, path = store.ledger_inclusion(stored.ledger_index, signed.size)
    assert leaf_h == leaf_hash(store.ledger_leaf(stored.ledger_index))
    verify_inclusion(leaf_h, stored.ledger_index, signed.size, path, signed.root)
    assert check_commitment(
        store.ledger_leaves_at([stored.ledger_index])[stored.ledger_index], "observation", stored.ledger_salt or b"",
        canonical_json(stored.document), "observation", stored.ledger_index,
    ) is None
    older = store.ledger_checkpoint(key)
    store.add_observations([obs(id="late")])
    settle(store)
    newer = store.ledger_checkpoint(key)
    assert newer.size == older.size + 1
    verify_consistency(older.size, newer.size, store.ledger_consistency(older.size, newer.size), older.root, newer.root)


def test_a_compromised_key_s_work_stops_counting(store: SqliteStore) -> None:
    key, _ = store.create_api_key("UA", Role.CONTRIBUTOR)
    store.add_prepared(prepare_batch([obs(id="bad")], datetime.now(UTC)), posted_by=key.key_id)
    store.add_observations([obs(id="good")])
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert store.revoke_api_key(key.key_id, RevocationReason.COMPROMISED, since=since, by="admin") is True
    settle(store)
    [revocation] = store.key_revocations()
    assert revocation.reason is RevocationReason.COMPROMISED and isinstance(revocation.ledger_index, int)
    outsider = reader("UA")
    assert [s.id for s in store.list_observations(ObservationQuery(reader=outsider)).items] == ["good"]
    staff = reader("UA", "COALITION", role=Role.ANALYST)
    assert {s.id: s.excluded for s in store.list_observations(ObservationQuery(reader=staff)).items}["bad"]
    assert [orjson.loads(doc)["id"] for _, doc in store.observations_after(0, 10)] == ["good"]  # what fusion takes in


def test_agreement_versions_must_increase_and_are_ledger_leaves(store: SqliteStore) -> None:
    doc = {"id": "agr", "version": 1, "parties": []}
    assert store.save_agreement(doc, "d1", "admin") is not None
    assert store.save_agreement(doc, "d1", "admin") is None
    with pytest.raises(StoreError, match="does not supersede"):
        store.save_agreement({**doc, "version": 1}, "d2", "admin")
    store.save_agreement({**doc, "version": 2}, "d3", "admin")
    settle(store)
    versions = store.agreement_versions()
    assert [v["version"] for v in versions] == [1, 2] and all(isinstance(v["ledger_index"], int) for v in versions)
    assert store.current_agreement_document() == {**doc, "version": 2}


def test_an_exported_bundle_verifies_and_an_edited_document_fails_the_audit(store: SqliteStore, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = load_or_create_key(data_dir, "truceline/contract")
    store.add_observations([obs(id=f"b{i}") for i in range(6)])
    store.add_review("inc-a", "dismiss", "duplicate", "key1", "UA")
    agreement = {"id": "agr", "version": 1, "parties": []}
    digest = "sha256:" + hashlib.sha256(agreement_canonical_json(agreement).encode()).hexdigest()
    store.save_agreement(agreement, digest, "admin")
    settle(store)
    checkpoint = store.ledger_checkpoint(key)
    conn = store.reader()
    report = audit_store(conn, data_dir)
    assert report.ok, report.first_mismatch
    assert (report.observations, report.reviews, report.agreements, report.leaves) == (6, 1, 1, 8)
    bundle = export_bundle(conn, tmp_path / "bundle.tar", key.verifier, [checkpoint])
    assert bundle.leaf_count == 8
    assert verify_bundle(bundle.path, trusted_key=key.verifier_key()).ok
    with store.transaction() as writer:
        writer.execute("UPDATE observations SET doc = replace(doc, '48.105', '48.905') WHERE id = 'b3'")
    tampered = audit_store(store.reader(), data_dir)
    assert not tampered.ok and "b3" in str(tampered.first_mismatch)


def test_tracks_are_stored_once_with_ledger_leaves_and_read_back(store: SqliteStore, tmp_path: Path) -> None:
    path = tmp_path / "sample.aivdm"
    path.write_bytes((Path(__file__).parent / "data" / "ais" / "gpsd_sample.aivdm").read_bytes())
    first = ingest_track_file(store, path, "ais", TrackOptions())
    assert first.stored > 0 and first.leaves > 0
    assert ingest_track_file(store, path, "ais", TrackOptions()).stored == 0  # idempotent, no new leaf
    settle(store)
    assert store.ledger_size() == first.leaves
    ids = {t.track_id for t in list_tracks(store, kind="vessel", limit=1000)}
    assert "vessel:371798000" in ids and len(ids) == len(first.tracks)
    ever = get_track(store, "vessel:351759000")
    assert ever is not None and ever.callsign == "EVER DIADEM" and ever.positions == 0
    boxed = {t.track_id for t in list_tracks(store, bbox=BBox(-124.0, 48.0, -123.0, 49.0), limit=1000)}
    assert "vessel:371798000" in boxed and len(boxed) < len(ids)
    point = track_points(store, "vessel:371798000", positions_only=True)[0]
    evidence = track_minute_evidence(store, "vessel:371798000", point.time, point.time + timedelta(minutes=1))
    assert evidence and all(isinstance(e["ledger_index"], int) for e in evidence)
    leaf = parse_leaf(store.ledger_leaf(evidence[0]["ledger_index"]))
    document = canonical_json(evidence[0]["document"])
    assert leaf.body["commitment"] == "sha256:" + hashlib.sha256(bytes.fromhex(evidence[0]["salt"]) + document).hexdigest()
    assert count_track_points(store)["vessel_tracks"] == len(ids)


def test_the_hub_s_node_register_counts_contacts(store: SqliteStore) -> None:
    register = NodeRegister(store)
    register.record("k1", "UA", "node-ua", {"pending": 3, "sent": 10})
    register.record("k1", "UA", "node-ua", {"pending": 1})
    [node] = register.list()
    assert (node["key_id"], node["contacts"], node["pending"], node["sent"]) == ("k1", 2, 1, None)


def test_rows_validated_as_columns_store_like_observations_and_pass_the_audit(store: SqliteStore, tmp_path: Path) -> None:
    """FIRMS rows the columnar decoder validated (store.add_validated): the same documents and idempotence as
    their observations through add_observations, with ledger leaves the audit accepts."""
    import gzip

    from truceline.ingest.firms_columns import decode_firms_columns_bytes
    from truceline.ingest.records import Validated
    from truceline.ledger.commitment import canonical_observation

    demo = Path(__file__).parents[1] / "src" / "truceline" / "data" / "demo" / "firms-ukraine-2023-04-06.csv.gz"
    lines = gzip.decompress(demo.read_bytes()).splitlines(keepends=True)[:41]
    items = [item.observation for item in decode_firms_columns_bytes(b"".join(lines), datetime.now(UTC)) if isinstance(item, Validated)]
    assert len(items) == 40
    data_dir = tmp_path / "data"
    load_or_create_key(data_dir, "truceline/contract")
    first = store.add_validated(items[:30])
    assert first.stored == [v.id for v in items[:30]]
    again = store.add_validated(items[20:])
    assert again.duplicates == [v.id for v in items[20:30]] and again.stored == [v.id for v in items[30:]]
    settle(store)
    models = []
    for item in items:
        stored = store.get_observation(item.id)
        assert stored is not None and canonical_json(stored.document) == item.canonical
        models.append(Observation.model_validate(stored.document, context=validation_context()))
        assert canonical_observation(models[-1]) == item.canonical
    assert store.add_observations(models[:5]).duplicates == [v.id for v in items[:5]]  # the same content hash
    report = audit_store(store.reader(), data_dir)
    assert report.ok, report.first_mismatch
    assert report.observations == 40


def test_a_batch_as_columns_is_stored_as_the_same_batch_as_rows(store: SqliteStore) -> None:
    """What the API's parser workers hand over (columns) gives the outcome the rows give, on every store:
    new ones stored, a repeat within the batch and an id stored before counted as duplicates, other content
    under a stored id as a conflict."""
    first = PreparedColumns(prepare_batch([obs(id="c1"), obs(id="c2"), obs(id="c1")], datetime.now(UTC)))
    result = store.add_prepared(first, posted_by=None)
    assert (result.stored, result.duplicates, result.conflicts) == (["c1", "c2"], ["c1"], [])
    again = PreparedColumns(prepare_batch([obs(id="c2"), obs(id="c3"), obs(id="c1", credibility=5)], datetime.now(UTC)))
    result = store.add_prepared(again, posted_by=None)
    assert (result.stored, result.duplicates, result.conflicts) == (["c3"], ["c2"], ["c1"])
    settle(store)
    assert sorted(item.id for item in store.list_observations(ObservationQuery()).items) == ["c1", "c2", "c3"]
