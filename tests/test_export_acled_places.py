"""ACLED export fills `country`, `admin1` and `actor1` from what is known, and says `Unidentified` otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_export_acled import export, seeded_store
from truceline.domain.incident import Incident
from truceline.domain.violation import UNDETERMINED, Violation
from truceline.report.acled_export import incident_row
from truceline.report.acled_places import acled_place
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import open_store


@pytest.mark.parametrize(
    ("lat", "lon", "country", "admin1"),
    [
        (49.99, 36.23, "Ukraine", "Kharkiv Oblast"),  # Kharkiv
        (47.84, 35.14, "Ukraine", "Zaporizhzhia Oblast"),  # Zaporizhzhia
        (48.59, 38.00, "Ukraine", "Donetsk Oblast"),  # Bakhmut
        (44.95, 34.10, "Ukraine", "Autonomous Republic of Crimea"),  # Simferopol: Crimea is Ukraine, as in ACLED
        (44.60, 33.52, "Ukraine", "Sevastopol"),
        (50.60, 36.59, "Russia", "Belgorod Oblast"),  # Belgorod
        (51.73, 36.19, "Russia", "Kursk Oblast"),  # Kursk
        (45.00, 30.00, "", ""),  # the Black Sea: no country is guessed
    ],
)
def test_country_and_oblast_of_a_point(lat: float, lon: float, country: str, admin1: str) -> None:
    place = acled_place(lat, lon)
    assert (place.country, place.admin1) == (country, admin1)


def _incidents(tmp_path: Path) -> list[Incident]:
    seeded_store(tmp_path / "data")
    store = open_store(tmp_path / "data")
    try:
        return list(store.list_incidents(IncidentQuery(limit=100)))
    finally:
        store.close()


def test_rows_name_country_oblast_and_an_unidentified_actor_by_default(tmp_path: Path) -> None:
    assert len(_incidents(tmp_path)) == 8
    rows = export(tmp_path / "data", tmp_path / "out.csv")  # the public edition: 5 of the 8
    assert len(rows) == 5
    for row in rows:
        place = acled_place(float(row["latitude"]), float(row["longitude"]))
        assert row["country"] == place.country == "Ukraine" and row["admin1"] == place.admin1 != ""
        assert row["actor1"] == "Unidentified Armed Group (Ukraine)" and row["actor2"] == ""


def _violation(incident: Incident, party: str) -> Violation:
    return Violation(
        id=f"v-{incident.id}-{party}", incident_id=incident.id, rule_id="no-fire", agreement_id="a", agreement_version=1,
        time=incident.time, kind=incident.kind, lat=incident.lat, lon=incident.lon, party=party, confidence=0.9,
        basis="test", attribution_method="origin-point" if party != UNDETERMINED else "no-origin",
    )


def test_a_violation_that_names_a_party_makes_it_actor1_an_undetermined_one_does_not(tmp_path: Path) -> None:
    incident = _incidents(tmp_path)[0]
    assert incident_row(incident, None, [_violation(incident, "RU")])["actor1"] == "RU"
    assert incident_row(incident, None, [_violation(incident, UNDETERMINED)])["actor1"] == "Unidentified Armed Group (Ukraine)"
