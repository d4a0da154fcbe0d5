"""Golden digests of the AIS pipeline: decoded points, stored rows, ledger leaves and air/sea findings.

Taken before the decoder and the track store were made faster (issue 18's speed goal) so that any change in
what is decoded, stored, committed to the ledger or found shows up as a changed digest. The salt of each
leaf is random in production; here it is a counter, so the leaves are reproducible byte for byte.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from tests.airsea_fixtures import T0, position, static, tagged

from truceline.ingest.ais import decode_ais
from truceline.ledger.log import MerkleLog
from truceline.service.airsea import TrackChecker
from truceline.store.tracks import add_track_points
from truceline.verify.agreement_loader import load_demo_agreement

DATA = Path(__file__).parent / "data" / "ais"
RECEIVED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

GOLDEN = {
    "points": "b0eb4af9cdacaca112ed716180843f355b82ef6a223aad23c6ac6b8e32fb25ec",
    "track_points": "c89446f22b5128c4c1388910352ad10bf17a43d7754196622fb46a5144dbc718",
    "track_minutes": "ee9ea2d37a2528b604d3008cc3068d7623695df916802e34c577fbe3f81b0279",
    "tracks": "9bdabe415b8699aa5f1047a32a415808171bdae8f5b234120e3c8ed3c599c04b",
    "leaves": "150219d876c8f546bc28dee84c59d1bf001d6ab8739f8a9dd0caf4f931c2e380",
    "findings": "f23089584a135a3079b83579b3dc5a1f480a0c95b67fec7c9ef1b5de13477e60",
    "rejected": "91c19ad0d9ee430c5c097b39b8894bc1fb4f108b977b3437b94181b876d79b28",
}


def _feed() -> bytes:
    sentences = [s.decode() for s in (DATA / "gpsd_sample.aivdm").read_bytes().splitlines()]
    t = T0
    zone = b"".join([
        static(272000001, "KYIV STAR", "UXAB", t),
        position(272000001, 45.95, 31.5, t),
        position(272000001, 45.88, 31.5, t + timedelta(minutes=15)),
        position(272000001, 45.87, 31.51, t + timedelta(minutes=16)),
        position(273000002, 45.3, 31.2, t),
        position(271000003, 45.4, 31.3, t),
        position(200123456, 45.6, 31.4, t),
        position(272000009, 44.0, 36.0, t),
        position(273000002, 45.3, 31.3, t + timedelta(minutes=40)),
        position(272000010, 48.5, 32.0, t),
        position(272000011, 45.0, 30.0, t),
        position(272000011, 44.0, 31.5, t + timedelta(seconds=10)),
    ])
    plain = (DATA / "gpsd_sample.aivdm").read_bytes()  # no tag blocks: ingest time
    return plain + b"".join(tagged([s], T0 + timedelta(seconds=7 * k)) for k, s in enumerate(sentences) if s.startswith("!")) + zone


def _digest(value: object) -> str:
    return hashlib.sha256(orjson.dumps(value, default=repr)).hexdigest()


def test_ais_pipeline_golden(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    counter = iter(range(1_000_000))
    monkeypatch.setattr("truceline.track.evidence.new_salt", lambda: next(counter).to_bytes(16, "big"))
    agreement = load_demo_agreement()
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
    report = decode_ais(_feed(), "golden", received_at=datetime(2024, 5, 1, 13, 0, tzinfo=UTC))
    checker = TrackChecker(store)
    findings = []
    for i in range(0, len(report.points), 50):  # several batches: duplicates, previous positions, summaries
        chunk = report.points[i : i + 50]
        add_track_points(store, chunk, "golden", RECEIVED)
        findings.extend(checker.check(chunk))
    add_track_points(store, report.points[:40], "golden", RECEIVED)  # re-ingest: nothing new
    conn = store._reader()
    got = {
        "points": _digest([(p.kind, p.ident, p.time.isoformat(), p.lat, p.lon, p.alt_m, p.alt_ref, p.speed_mps,
                            p.course_deg, p.callsign, p.squawk, sorted(p.extra.items()), p.raw) for p in report.points]),
        "track_points": _digest(conn.execute("SELECT * FROM track_points ORDER BY seq").fetchall()),
        "track_minutes": _digest([r[:4] + (bytes(r[4]).hex(),) + r[5:] for r in
                                  conn.execute("SELECT * FROM track_minutes ORDER BY id").fetchall()]),
        "tracks": _digest(conn.execute("SELECT * FROM tracks ORDER BY track_id").fetchall()),
        "leaves": _digest([MerkleLog().leaf(conn, i).hex() for (i,) in
                           conn.execute("SELECT ledger_index FROM track_minutes ORDER BY id").fetchall()]),
        "findings": _digest([f.as_dict() for f in findings]),
        "rejected": _digest(report.rejected),
    }
    assert len(report.points) > 50 and findings
    assert got == GOLDEN, {k: v for k, v in got.items() if GOLDEN[k] != v}
