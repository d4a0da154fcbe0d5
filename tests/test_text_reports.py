"""Report extraction on the real seed articles and on small texts.

The seed articles are free text and never copied into the repository: the tests that read them take them
from ../shared/seeds at run time and are skipped, naming the missing folder, where it is not there (CI has it).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.testdata import shared_or_skip

from truceline.ingest.validation import validate_batch, validation_context
from truceline.text.events import sentences
from truceline.text.reports import ReportError, TextReport, extract

# Publication dates (facts about the articles, from the events they report): the NATO chiefs' video call
# was on Wednesday 20 August 2025; the Paris summit on 6 January 2026; the Pope's funeral on 26 April 2025.
PUBLISHED = {
    "000": "2025-08-20T10:00:00+02:00",
    "001": "2025-08-20T20:00:00+02:00",
    "002": "2025-08-19T20:00:00+02:00",
    "003": "2026-01-07T12:00:00+01:00",
    "004": "2025-04-25T22:00:00+02:00",
}


def seed(prefix: str) -> str:
    seeds = shared_or_skip("seeds")
    paths = list(seeds.glob(f"{prefix}_*.txt"))
    if not paths:
        pytest.fail(f"seed article {prefix} missing in {seeds}")
    return paths[0].read_text(encoding="utf-8")


def read(prefix: str):  # type: ignore[no-untyped-def]
    return extract(TextReport(seed(prefix), datetime.fromisoformat(PUBLISHED[prefix]), f"seed-{prefix}", "PRESS"))


def test_sumy_and_odesa_15_injured_in_the_night_to_wednesday() -> None:
    extraction = read("001")
    casualty = [e for e in extraction.events if e.mention.injured]
    assert len(casualty) == 1
    event = casualty[0]
    assert event.mention.injured == 15 and event.mention.killed is None
    assert {p.name for p in event.places} == {"Sumy", "Odesa"}
    assert (event.time.start, event.time.end) == (datetime(2025, 8, 19, 15, tzinfo=UTC), datetime(2025, 8, 20, 3, tzinfo=UTC))
    assert event.mention.according_to and "Behörden" in event.mention.according_to
    records = [r for r in extraction.records() if r["kind"] == "casualty-report"]
    assert {r["location"]["name"] for r in records} == {"Sumy", "Odesa"}
    assert all(r["attributes"]["injured"] == 15 and r["attributes"]["counts_shared_by"] == 2 for r in records)


def test_six_regions_hit_overnight_is_a_country_level_claim_against_russia() -> None:
    events = [e for e in read("001").events if e.mention.regions_hit]
    assert len(events) == 1 and events[0].mention.regions_hit == 6
    assert {"missile", "drone"} <= set(events[0].mention.types)
    assert events[0].places == ()
    assert [c.actor for c in events[0].mention.claims] == ["RU"]
    assert events[0].time.kind == "last_night"


def test_diplomatic_articles_produce_no_incident() -> None:
    for prefix in ("000", "002", "003", "004"):
        extraction = read(prefix)
        assert extraction.records() == [], prefix
        venues = {p.name for p in extraction.places if p.resolved and not p.in_theatre}
        assert venues <= {"Washington", "Lisbon", "Paris", "Rome", "London"}, prefix


def test_venues_are_read_as_places_abroad() -> None:
    assert {"Lisbon", "Washington"} <= {p.name for p in read("000").places}
    assert "Paris" in {p.name for p in read("003").places}
    assert "Rome" in {p.name for p in read("004").places}


def test_site_boilerplate_is_left_out() -> None:
    assert any(line.startswith("Haftungsausschluss") for line in read("000").boilerplate)
    dropped = read("003").boilerplate
    assert sum(1 for line in dropped if line.startswith("Lesen Sie auch")) == 2
    kept, _ = sentences(seed("003"))
    assert not any("Lesen Sie auch" in s.text for s in kept)


def test_records_are_valid_observations() -> None:
    records = read("001").records()
    good, errors = validate_batch(records, validation_context())
    assert errors == [] and len(good) == len(records) == 3
    assert all(o.source.type.value == "osint" and o.reliability.value == "F" for o in good)


def test_reposting_a_report_gives_the_same_ids() -> None:
    text = "Russian drones hit Sumy and Odesa overnight, injuring four people, the regional administrations said."
    report = TextReport(text, datetime(2023, 4, 3, 9, tzinfo=UTC), "gov-tg", "UA", source_type="official")
    ids = [r["id"] for r in extract(report).records()]
    assert len(ids) == 2 and ids == [r["id"] for r in extract(report).records()]
    later = TextReport(text, datetime(2023, 4, 4, 9, tzinfo=UTC), "gov-tg", "UA", source_type="official")
    assert not set(ids) & {r["id"] for r in extract(later).records()}  # another night, other observations


def test_english_report_with_killed_injured_and_claimant() -> None:
    text = (
        "Russian forces shelled Kupiansk and Huliaipole, Zaporizhzhia Oblast, yesterday evening, killing two civilians "
        "and injuring five, according to the regional governor."
    )
    report = TextReport(text, datetime(2023, 4, 3, 9, tzinfo=UTC), "gov-tg", "UA", source_type="official")
    (event,) = extract(report).events
    assert (event.mention.killed, event.mention.injured) == (2, 5)
    assert {p.name for p in event.places} == {"Kupyansk", "Hulyaypole"}
    assert event.mention.claims[0].actor == "RU" and event.mention.claims[0].claimed_by == "the regional governor"
    record = extract(report).records()[0]
    assert record["reliability"] == "B" and record["kind"] == "casualty-report"
    assert record["time"] == "2023-04-02T18:00:00Z"


def test_unresolved_place_in_an_event_keeps_its_name_without_point() -> None:
    report = TextReport("Drone strike on the village of Xyzzyplotz near Kupiansk, two injured.", datetime(2023, 4, 3, tzinfo=UTC), "x", "PRESS")
    records = extract(report).records()
    names = {r["location"]["name"] for r in records}
    assert "Kupyansk" in names


def test_hypothetical_attacks_are_not_events() -> None:
    report = TextReport("Die Garantien sollen weitere Angriffe in der Ukraine abschrecken.", datetime(2025, 8, 20, tzinfo=UTC), "x", "PRESS")
    assert extract(report).events == []


def test_a_naive_publication_time_is_refused() -> None:
    with pytest.raises(ReportError, match="UTC offset"):
        TextReport("text", datetime(2025, 8, 20), "x", "PRESS")


def test_a_placed_observation_says_which_context_chose_its_place() -> None:
    report = TextReport("Вночі росіяни обстріляли Нікополь, поранено двох людей.", datetime(2025, 8, 20, 8, tzinfo=UTC), "t", "PRESS")
    records = [r for r in extract(report).records() if r["location"].get("lat") is not None]
    assert records and all(r["attributes"]["geoparse_basis"] for r in records)
