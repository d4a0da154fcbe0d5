"""Ids per organisation: an observation's identity is (source.org, id).

Two organisations may use one id and each reads back its own; a re-post stays idempotent per organisation;
no reply tells one organisation that another used an id; a store written by the previous schema (ids
unique across organisations) upgrades in place and keeps everything.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from tests.conftest import ApiClient, native

from truceline.access.policy import Principal, Role
from truceline.domain.observation import Observation
from truceline.ledger.log import MerkleLog
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import INSERT_LABEL_SQL, INSERT_OBSERVATION_SQL, MIGRATIONS, SqliteStore, prepare_batch


def _key(api: ApiClient, org: str, role: Role = Role.CONTRIBUTOR) -> dict[str, str]:
    _, secret = api.store.create_api_key(org, role)
    return {"Authorization": f"Bearer {secret}"}


def _post(api: ApiClient, headers: dict[str, str], payload: object):  # type: ignore[no-untyped-def]
    return api.client.post("/api/v1/observations", content=orjson.dumps(payload), headers={**headers, "Content-Type": "application/json"})


def _doc(org: str, oid: str = "x-1", **overrides: object) -> dict[str, object]:
    source = {"id": f"{org.lower()}-acoustic-1", "type": "acoustic", "org": org}
    return native(id=oid, source=source, releasable_to=[], **overrides)


def test_same_id_as_ru_then_as_ua_stores_both_and_each_reads_its_own(api: ApiClient) -> None:
    ru, ua = _key(api, "RU"), _key(api, "UA")
    first = _post(api, ru, _doc("RU", "x-1", location={"lat": 47.9, "lon": 37.5, "cep_m": 100}))
    assert first.status_code == 201 and first.json()["stored"] == 1
    second = _post(api, ua, _doc("UA", "x-1"))
    assert second.status_code == 201
    assert second.json() == {"accepted": ["x-1"], "stored": 1, "duplicates": [], "conflicts": []}
    as_ua = api.client.get("/api/v1/observations/x-1", headers=ua)
    as_ru = api.client.get("/api/v1/observations/x-1", headers=ru)
    assert as_ua.status_code == 200 and as_ua.json()["source"]["org"] == "UA" and as_ua.json()["location"]["lat"] == 48.105
    assert as_ru.status_code == 200 and as_ru.json()["source"]["org"] == "RU" and as_ru.json()["location"]["lat"] == 47.9
    assert api.store.count_observations() == 2


def test_a_reply_to_ru_reveals_nothing_about_a_ua_only_id(api: ApiClient) -> None:
    ru, ua = _key(api, "RU"), _key(api, "UA")
    assert _post(api, ua, _doc("UA", "shared-id")).status_code == 201
    # RU posts, with its own content, the id UA used, and separately an id nobody used: same answer.
    taken = _post(api, ru, _doc("RU", "shared-id", kind="impact"))
    fresh = _post(api, ru, _doc("RU", "fresh-id", kind="impact"))
    assert taken.status_code == fresh.status_code == 201
    assert taken.json() == {**fresh.json(), "accepted": ["shared-id"]}
    assert taken.json()["conflicts"] == [] and taken.json()["duplicates"] == []
    # Reading the id back shows RU its own observation, never UA's.
    got = api.client.get("/api/v1/observations/shared-id", headers=ru)
    assert got.json()["source"]["org"] == "RU" and got.json()["kind"] == "impact"
    # An id only UA has (not releasable to RU) reads as 404 for RU, exactly like an id nobody has.
    assert _post(api, ua, _doc("UA", "ua-only")).status_code == 201
    hidden = api.client.get("/api/v1/observations/ua-only", headers=ru)
    missing = api.client.get("/api/v1/observations/never-posted", headers=ru)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace("ua-only", "ID") == missing.json()["detail"].replace("never-posted", "ID")


def test_repost_is_idempotent_per_organisation_and_other_content_is_a_conflict_in_that_organisation(api: ApiClient) -> None:
    ru, ua = _key(api, "RU"), _key(api, "UA")
    for headers, org in ((ru, "RU"), (ua, "UA")):
        assert _post(api, headers, _doc(org, "same")).json()["stored"] == 1
    for headers, org in ((ru, "RU"), (ua, "UA")):
        again = _post(api, headers, _doc(org, "same")).json()
        assert again == {"accepted": ["same"], "stored": 0, "duplicates": ["same"], "conflicts": []}
        other = _post(api, headers, _doc(org, "same", kind="impact")).json()
        assert other == {"accepted": ["same"], "stored": 0, "duplicates": [], "conflicts": ["same"]}
    assert api.store.count_observations() == 2


def test_a_reader_who_sees_several_organisations_under_one_id_is_asked_to_choose(api: ApiClient) -> None:
    ru, ua = _key(api, "RU"), _key(api, "UA")
    for headers, org in ((ru, "RU"), (ua, "UA")):
        assert _post(api, headers, native(id="both", source={"id": "s", "type": "radar", "org": org})).status_code == 201
    choose = api.client.get("/api/v1/observations/both", headers=api.auth)  # the admin (its own org has none)
    assert choose.status_code == 300
    assert [c["org"] for c in choose.json()["candidates"]] == ["RU", "UA"]
    for org in ("RU", "UA"):
        one = api.client.get(f"/api/v1/observations/both?org={org}", headers=api.auth)
        assert one.status_code == 200 and one.json()["source"]["org"] == org
    # A coalition reader of another organisation sees both too (both releasable to COALITION): same choice.
    api.store.set_organisation("FR", ["COALITION"])
    fr = _key(api, "FR", Role.OBSERVER)
    assert api.client.get("/api/v1/observations/both", headers=fr).status_code == 300
    # An organisation's own id still resolves to its own for that organisation, without ?org=.
    assert api.client.get("/api/v1/observations/both", headers=ua).json()["source"]["org"] == "UA"
    # Only one visible: no choice needed, and the other organisation's use is not hinted at.
    assert api.client.get("/api/v1/observations/both?org=PL", headers=api.auth).status_code == 404


def _old_store(path: Path) -> None:
    """A store exactly as schema version 6 (ids unique across organisations) left it, with data in every
    table that refers to an observation: labels, an incident's members, a review, the ledger."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")  # as the old code ran its migrations
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_us INTEGER NOT NULL)")
    for migration in MIGRATIONS[:6]:
        migration.apply(conn)
        conn.execute("INSERT INTO schema_migrations VALUES (?,?,?)", (migration.version, migration.description, 0))
    observations = [
        Observation.model_validate(native(id="old-ua", releasable_to=["COALITION"])),
        Observation.model_validate(_doc("RU", "old-ru")),
    ]
    prepared = prepare_batch(observations, datetime(2023, 4, 2, 4, tzinfo=UTC))
    rows = []
    for seq, item in enumerate(prepared, start=1):
        old_row = item.row(seq, seq - 1)
        rows.append(old_row)
    conn.executemany(INSERT_OBSERVATION_SQL, rows)
    conn.executemany(INSERT_LABEL_SQL, [(label, seq) for seq, item in enumerate(prepared, start=1) for label in item.labels])
    MerkleLog().append_many(conn, [item.leaf for item in prepared])
    incident = {"id": "I-old", "time": "2023-04-02T03:15:00Z", "kind": "explosion", "lat": 48.105, "lon": 37.712,
                "sigma_m": 150.0, "observation_ids": ["old-ua"]}
    conn.execute(
        "INSERT INTO incidents (id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("I-old", 0, "explosion", "detected", 48.105, 37.712, 0, 1, 0, orjson.dumps(incident).decode()),
    )
    conn.execute("INSERT INTO incident_members VALUES ('I-old', 1)")
    conn.execute(
        "INSERT INTO incident_reviews (incident_id, decision, reason, key_id, org, at_us, ledger_index, ledger_salt)"
        " VALUES ('I-old', 'verify', 'seen', 'k1', 'UA', 0, 1, x'00')"
    )
    # An open incident as fusion named it then (from its founder's plain id), reviewed before the upgrade.
    open_id = "inc-" + hashlib.blake2b(b"old-ru", digest_size=8).hexdigest()
    conn.execute(
        "INSERT INTO incidents (id, t_us, kind, status, lat, lon, cell, finalised, updated_us, doc) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (open_id, 0, "explosion", "detected", 48.105, 37.712, 0, 0, 0, orjson.dumps({**incident, "id": open_id, "observation_ids": ["old-ru"]}).decode()),
    )
    conn.execute("INSERT INTO incident_members VALUES (?, 2)", (open_id,))
    conn.execute(
        "INSERT INTO incident_reviews (incident_id, decision, reason, key_id, org, at_us, ledger_index, ledger_salt)"
        " VALUES (?, 'dismiss', 'noise', 'k1', 'UA', 0, 1, x'00')",
        (open_id,),
    )
    conn.execute("PRAGMA user_version=6")
    conn.execute("COMMIT")
    conn.close()


def test_a_store_written_by_the_previous_schema_upgrades_and_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "truceline.db"
    _old_store(path)
    with pytest.raises(sqlite3.IntegrityError):  # the old schema: one id space for all organisations
        conn = sqlite3.connect(path)
        conn.execute("UPDATE observations SET id = 'old-ua' WHERE id = 'old-ru'")
    conn.close()
    store = SqliteStore(path)
    try:
        assert store.schema_version() == MIGRATIONS[-1].version == 9
        assert store.count_observations() == 2 and store.ledger_size() == 2
        ua = store.get_observation("old-ua")
        assert ua is not None and ua.seq == 1 and ua.ledger_index == 0 and ua.document["source"]["org"] == "UA"
        # Labels, incident members and reviews still point at the same rows (no cascade fired on the rebuild).
        coalition = Principal(key_id="k", org="FR", role=Role.OBSERVER, labels=frozenset({"FR", "COALITION", "PUBLIC"}))
        assert store.get_observation("old-ua", coalition) is not None
        assert store.get_observation("old-ru", coalition) is None
        assert [d["id"] for d in store.member_documents(["I-old"])["I-old"]] == ["old-ua"]
        assert [r["decision"] for r in store.reviews(["I-old"])["I-old"]] == ["verify"]
        # Stored incidents now name each member's organisation.
        (old,) = store.list_incidents(IncidentQuery(ids=("I-old",)))
        assert old.observation_refs() == [("UA", "old-ua")]
        # Fusion will rebuild the open incident under an id derived from RU/old-ru; its review follows it,
        # still carrying the incident id its ledger leaf committed to.
        renamed = "inc-" + hashlib.blake2b(b"RU/old-ru", digest_size=8).hexdigest()
        (decision,) = store.reviews([renamed])[renamed]
        assert decision["decision"] == "dismiss" and decision["incident_id"].startswith("inc-") and decision["incident_id"] != renamed
        assert store.reader().execute("PRAGMA foreign_key_check").fetchall() == []
        # And the upgraded store now lets RU use UA's id.
        result = store.add_observations([Observation.model_validate(_doc("RU", "old-ua"))])
        assert result.stored == ["old-ua"] and result.conflicts == []
        assert store.count_observations() == 3 and store.ledger_size() == 3
    finally:
        store.close()
    reopened = SqliteStore(path)
    try:
        assert reopened.schema_version() == 9 and reopened.count_observations() == 3
    finally:
        reopened.close()


def test_fusion_keeps_two_organisations_observations_under_one_id_apart(api: ApiClient) -> None:
    """Fusion keys observations by organisation and id: RU's "x" is not dropped as a duplicate of UA's "x",
    the incidents built on them have distinct ids and name each member's organisation, and each incident's
    members in the store are its own organisation's rows."""
    from truceline.fuse import Fuser, FuserConfig

    far = {"lat": 47.2, "lon": 35.9, "cep_m": 100}  # 200 km away: a separate event
    ua = Observation.model_validate(_doc("UA", "x"))
    ru = Observation.model_validate(_doc("RU", "x", location=far))
    fuser = Fuser(FuserConfig(origin=(48.0, 37.8)))
    fuser.add([ua])
    fuser.add([ru])
    incidents = sorted(fuser.incidents(), key=lambda i: i.observation_orgs)
    assert [(i.observation_orgs, i.observation_ids) for i in incidents] == [(("RU",), ("x",)), (("UA",), ("x",))]
    assert len({i.id for i in incidents}) == 2
    api.store.add_observations([ua, ru])
    api.store.apply_incident_changes([(i, True) for i in incidents], [])
    members = api.store.member_documents([i.id for i in incidents])
    assert sorted(docs[0]["source"]["org"] for docs in members.values()) == ["RU", "UA"]
    assert all(len(docs) == 1 for docs in members.values())
