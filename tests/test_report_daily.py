"""The daily report's facts on a small data set whose answers are known by construction.

Report day 2023-05-10 under the demo agreement (ISW line of 2023-03-04, no fire anywhere from 2023-04-01).
Each incident sits in its own oblast and hour so fusion cannot merge them:

====  ==================================  =========================  ==========================================
 id    what                                 releasable to              verdict (public / coalition edition)
====  ==================================  =========================  ==========================================
 A     impact Kostiantynivka, origin        PUBLIC (radar + uav)       RU, verified by two analysts
       Horlivka (RU ground)
 B     impact Nova Kakhovka, origin         PUBLIC (one radar)         UA, single source
       Kherson (UA ground)
 C     impact Orikhiv, no origin            PUBLIC                     undetermined (no origin)
 D     impact Kupiansk, origin Svatove      COALITION only             absent / RU
 E     thermal near Dnipro                  PUBLIC                     incident, no violation
 F     explosion in Sumy                    PUBLIC                     dismissed by an analyst: not counted
 G     impact Kramatorsk: uav (PUBLIC, no   mixed                      undetermined / RU
       origin) + radar (COALITION, origin
       Yenakiieve)
====  ==================================  =========================  ==========================================

History (PUBLIC): 05-09 two RU, 05-07 one undetermined, 05-03 one UA; 05-02 one RU (outside the 7 days).
"""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import native

from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.canonical import parse_leaf
from truceline.ledger.checkpoint import ensure_ledger_key
from truceline.ledger.merkle import leaf_hash, verify_inclusion
from truceline.report.audience import AudienceError, edition_reader
from truceline.report.build import daily_report
from truceline.report.daily import DailyReport
from truceline.service.fusion import FusionWorker
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore, open_store
from truceline.verify.agreement_loader import load_demo_agreement

DAY = date(2023, 5, 10)
SECRET_OBS = "fr-radar-kupiansk-secret"
SECRET_ORIGIN_OBS = "fr-radar-kramatorsk-origin"

PLACES = {
    "kostiantynivka": (48.527, 37.706),
    "horlivka": (48.30, 38.05),
    "nova-kakhovka": (46.755, 33.348),
    "kherson": (46.635, 32.617),
    "orikhiv": (47.567, 35.785),
    "kupiansk": (49.71, 37.61),
    "svatove": (49.41, 38.15),
    "dnipro": (48.45, 34.98),
    "sumy": (50.91, 34.80),
    "kramatorsk": (48.7389, 37.5848),
    "yenakiieve": (48.23, 38.21),
    "pokrovsk": (48.28, 37.18),
    "zaporizhzhia": (47.84, 35.14),
}


def obs(oid: str, when: str, place: str, *, org: str = "FR", stype: str = "radar", kind: str = "explosion",
        labels: tuple[str, ...] = ("PUBLIC",), origin: str | None = None, dlat: float = 0.0) -> dict[str, Any]:
    lat, lon = PLACES[place]
    doc = native(
        id=oid, time=when, kind=kind, time_uncertainty_s=5,
        location={"lat": lat + dlat, "lon": lon, "cep_m": 150},
        source={"id": f"{org.lower()}-{stype}-1", "type": stype, "org": org},
        releasable_to=list(labels),
    )
    if origin is not None:
        olat, olon = PLACES[origin]
        doc["attributes"] = {"origin": {"lat": olat, "lon": olon, "cep_m": 300}}
    return doc


def records() -> list[dict[str, Any]]:
    d = "2023-05-10T"
    return [
        obs("fr-radar-kost", d + "01:00:00Z", "kostiantynivka", origin="horlivka"),
        obs("us-uav-kost", d + "01:00:02Z", "kostiantynivka", org="US", stype="uav", dlat=0.0005),
        obs("fr-radar-nk", d + "03:00:00Z", "nova-kakhovka", origin="kherson"),
        obs("us-uav-orikhiv", d + "05:00:00Z", "orikhiv", org="US", stype="uav"),
        obs(SECRET_OBS, d + "07:00:00Z", "kupiansk", labels=("COALITION",), origin="svatove"),
        obs("nasa-thermal-dnipro", d + "09:00:00Z", "dnipro", org="US", stype="satellite", kind="thermal"),
        obs("ua-acoustic-sumy", d + "11:00:00Z", "sumy", org="UA", stype="acoustic"),
        obs("us-uav-kram", d + "13:00:00Z", "kramatorsk", org="US", stype="uav"),
        obs(SECRET_ORIGIN_OBS, d + "13:00:01Z", "kramatorsk", labels=("COALITION",), origin="yenakiieve", dlat=0.0004),
        # history, all public
        obs("hist-0509-a", "2023-05-09T02:00:00Z", "kostiantynivka", origin="horlivka"),
        obs("hist-0509-b", "2023-05-09T08:00:00Z", "kramatorsk", origin="yenakiieve"),
        obs("hist-0507-a", "2023-05-07T04:00:00Z", "zaporizhzhia"),
        obs("hist-0503-a", "2023-05-03T04:00:00Z", "nova-kakhovka", origin="kherson"),
        obs("hist-0502-a", "2023-05-02T04:00:00Z", "pokrovsk", origin="horlivka"),
    ]


def incident_of(store: SqliteStore, observation_id: str) -> str:
    for incident in store.list_incidents(IncidentQuery(limit=1000)):
        if observation_id in incident.observation_ids:
            return incident.id
    raise AssertionError(f"no incident holds {observation_id}")


def build_dataset(data_dir: Path) -> SqliteStore:
    """The data set of the module docstring, fused and reviewed, in a fresh data dir."""
    store = open_store(data_dir)
    agreement = load_demo_agreement()
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
    store.set_organisation("FR", ["COALITION"])
    store.set_organisation("US", ["COALITION"])
    store.set_organisation("OSCE", ["COALITION"])  # the monitoring mission's analysts review (access.policy)
    observations, errors = validate_batch(records(), validation_context())
    assert not errors, errors
    store.add_observations(observations)
    FusionWorker(store).run_until_idle()
    a = incident_of(store, "fr-radar-kost")
    store.add_review(a, "verify", "", "analyst-1", "OSCE")
    store.add_review(a, "verify", "", "analyst-2", "OSCE")
    store.add_review(incident_of(store, "ua-acoustic-sumy"), "dismiss", "demolition of unexploded ordnance, notified", "analyst-1", "OSCE")
    ensure_ledger_key(data_dir)
    return store


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir = tmp_path_factory.mktemp("report") / "data"
    store = build_dataset(data_dir)
    yield store, data_dir
    store.close()


def make(dataset: Any, audience: str, fmt: str = "html") -> Any:
    store, data_dir = dataset
    return daily_report(store, ensure_ledger_key(data_dir), DAY, audience, fmt)


def by_party(report: DailyReport) -> dict[str, int]:
    return {t.party: t.violations for t in report.by_party}


def test_dataset_fuses_into_the_intended_incidents(dataset: Any) -> None:
    store, _ = dataset
    incidents = store.list_incidents(IncidentQuery(limit=1000))
    assert len(incidents) == 12  # 7 on the day (A-G), 5 in history
    kramatorsk = next(i for i in incidents if "us-uav-kram" in i.observation_ids)
    assert set(kramatorsk.observation_ids) == {"us-uav-kram", SECRET_ORIGIN_OBS}


def test_public_edition_counts_by_party_sector_and_kind(dataset: Any) -> None:
    report = make(dataset, "public").report
    assert report.incidents == 6  # D rests on coalition-only evidence
    assert by_party(report) == {"UA": 1, "RU": 1, "undetermined": 2}
    assert report.violations == 4 and report.violating_incidents == 4
    sectors = {b.label: (b.total, b.by_party) for b in report.by_sector}
    assert sectors == {
        "Donetsk Oblast": (2, {"RU": 1, "undetermined": 1}),
        "Kherson Oblast": (1, {"UA": 1}),
        "Zaporizhzhia Oblast": (1, {"undetermined": 1}),
    }
    assert [(b.label, b.total) for b in report.by_kind] == [("explosion", 4)]
    # G is corroborated for fusion, but this edition sees one of its two sources: detected here
    assert report.incidents_by_status == {"detected": 4, "verified": 1, "dismissed": 1}
    ru = next(t for t in report.by_party if t.party == "RU")
    assert ru.mean_confidence == pytest.approx(1.0)


def test_coalition_edition_adds_what_only_the_coalition_may_see(dataset: Any) -> None:
    report = make(dataset, "coalition").report
    assert report.incidents == 7
    assert by_party(report) == {"UA": 1, "RU": 3, "undetermined": 1}
    assert {b.label for b in report.by_sector} >= {"Kharkiv Oblast", "Donetsk Oblast"}


def test_seven_day_comparison(dataset: Any) -> None:
    report = make(dataset, "public").report
    trend = {b.label: (b.total, b.by_party) for b in report.trend}
    assert list(trend) == [f"2023-05-{d:02d}" for d in range(3, 11)]
    assert trend["2023-05-09"] == (2, {"RU": 2})
    assert trend["2023-05-07"] == (1, {"undetermined": 1})
    assert trend["2023-05-03"] == (1, {"UA": 1})
    assert trend["2023-05-10"][0] == 4
    assert all(trend[f"2023-05-{d:02d}"][0] == 0 for d in (4, 5, 6, 8))
    assert report.previous_mean["total"] == pytest.approx(4 / 7)
    assert report.previous_mean["RU"] == pytest.approx(2 / 7)


def test_notable_incidents_cite_leaves_the_ledger_really_holds(dataset: Any) -> None:
    store, _ = dataset
    report = make(dataset, "public").report
    first = report.notable[0]
    assert first.incident.status.value == "verified" and first.violations[0].party == "RU"
    assert {e.observation_id for e in first.evidence} == {"fr-radar-kost", "us-uav-kost"}
    root = base64.b64decode(report.ledger.root_b64)
    assert report.ledger.size == store.ledger_size() and report.ledger.note.startswith(report.ledger.origin + "\n")
    checked = 0
    for notable in report.notable:
        for e in notable.evidence:
            assert e.ledger_index is not None and e.ledger_index < report.ledger.size
            leaf = store.ledger_leaf(e.ledger_index)
            parsed = parse_leaf(leaf)
            assert parsed.type == "observation" and parsed.body["commitment"] == e.commitment
            hashed, proof = store.ledger_inclusion(e.ledger_index, report.ledger.size)
            assert hashed == leaf_hash(leaf)
            verify_inclusion(hashed, e.ledger_index, report.ledger.size, proof, root)
            checked += 1
    assert checked >= 5


def test_unverified_items_carry_their_reasons(dataset: Any) -> None:
    public = make(dataset, "public").report
    reasons = {u.incident_id: set(u.reasons) for u in public.unverified}
    assert public.unverified_counts == {"single-source": 4, "no-origin": 2, "dismissed": 1}
    dismissed = next(u for u in public.unverified if "dismissed" in u.reasons)
    assert "notified" not in " ".join(dismissed.details)  # analysts' free text stays out of the public edition
    coalition = make(dataset, "coalition").report
    dismissed = next(u for u in coalition.unverified if "dismissed" in u.reasons)
    assert "notified" in " ".join(dismissed.details)
    assert sum(1 for r in reasons.values() if "no-origin" in r) == 2


def test_edition_reader_caps_at_the_caller() -> None:
    from truceline.access.policy import Principal, Role

    outsider = Principal("k1", "XX", Role.OBSERVER, frozenset({"XX", "PUBLIC"}))
    member = Principal("k2", "FR", Role.OBSERVER, frozenset({"FR", "COALITION", "PUBLIC"}))
    assert edition_reader("public", outsider).labels == {"PUBLIC"}
    assert edition_reader("coalition", member).labels == {"COALITION", "PUBLIC"}
    with pytest.raises(AudienceError, match="COALITION"):
        edition_reader("coalition", outsider)
    with pytest.raises(AudienceError, match="unknown audience"):
        edition_reader("press")
    assert edition_reader("public").org != "FR"
