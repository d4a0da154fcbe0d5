"""The daily report shows a shot as one act: the impact names who fired through its launch, the notable
incident lists the engagement, and the map draws launch → impact; an impact whose link is too weak to name
anyone is listed as unverified with the reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import native

from truceline.ingest.validation import validate_batch, validation_context
from truceline.ledger.checkpoint import ensure_ledger_key
from truceline.report.build import daily_report
from truceline.service.fusion import FusionWorker
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import open_store
from truceline.verify.agreement_loader import load_demo_agreement

DAY = date(2023, 5, 20)


def _obs(oid: str, t: str, kind: str, lat: float, lon: float, org: str, stype: str) -> dict[str, Any]:
    return native(id=oid, time=f"2023-05-20T{t}Z", time_uncertainty_s=2, kind=kind,
                  location={"lat": lat, "lon": lon, "cep_m": 150}, source={"id": f"{org.lower()}-{stype}-1", "type": stype, "org": org})


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], str]:
    data_dir: Path = tmp_path_factory.mktemp("engagement") / "data"
    store = open_store(data_dir)
    try:
        agreement = load_demo_agreement()
        store.save_agreement(agreement.canonical_document(), agreement.digest(), "test")
        store.set_organisation("FR", ["COALITION"])
        store.set_organisation("PL", ["COALITION"])
        docs = [
            # a RU gun 16 km inside RU-held ground fires onto UA-held ground 62 s before the impact
            _obs("shot-launch", "03:00:00", "launch", 48.0, 37.95, "PL", "acoustic"),
            _obs("shot-impact", "03:01:02", "impact", 48.0, 37.55, "FR", "uav"),
            # hours later, an impact on UA-held ground whose only fitting launch is a UA gun 22 km behind it:
            # firing onto one's own ground is the unlikely reading, so the link is too weak to name anyone
            _obs("weak-launch-ua", "09:00:10", "launch", 48.3, 37.45, "PL", "acoustic"),
            _obs("weak-impact", "09:01:05", "explosion", 48.3, 37.75, "FR", "uav"),
        ]
        observations, errors = validate_batch(docs, validation_context())
        assert not errors, errors
        store.add_observations(observations)
        FusionWorker(store).run_until_idle()
        ids = {o: i.id for i in store.list_incidents(IncidentQuery(limit=100)) for o in i.observation_ids}
        built = daily_report(store, ensure_ledger_key(data_dir), DAY, "coalition", "md")
        html = daily_report(store, ensure_ledger_key(data_dir), DAY, "coalition", "html")  # carries the map
    finally:
        store.close()
    return built.content.decode(), ids, html.content.decode()


def test_the_impact_names_the_party_that_fired_and_lists_the_engagement(report: tuple[str, dict[str, str], str]) -> None:
    text, ids, html = report
    launch, impact = ids["shot-launch"], ids["shot-impact"]
    assert "Engagement." in text and f"incident {launch}" in text and f"impact incident {impact}" in text
    assert "launch-to-impact engagements" in html  # the map's caption counts the lines it draws
    section = text[text.index(f"incident {impact};"):]
    assert "Rule no-fire: RU (confidence" in section.split("####")[0]


def test_an_impact_with_a_weak_link_is_unverified_with_the_reason(report: tuple[str, dict[str, str], str]) -> None:
    text, ids, _ = report
    assert "uncertain-link" in text
    row = next(line for line in text.splitlines() if ids["weak-impact"] in line and "uncertain-link" in line)
    assert "1 candidate launch(es)" in row and "unlinked" in row
