"""Notified activities: an agreement's ``notifications`` excuse exactly what they announced, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_agreement_loader import _problems, _terms, _write
from truceline.domain.agreement import Agreement
from truceline.domain.violation import JudgedEvent
from truceline.verify.agreement_loader import load_agreement
from truceline.verify.geometry import geometry_for
from truceline.verify.rules import judge, judge_all

NOTICE: dict[str, Any] = {
    "id": "ua-demining-1", "party": "UA", "activity": "demining", "description": "UXO clearance",
    "kinds": ["explosion"], "rules": ["no-fire"], "lat": 47.5, "lon": 33.0, "radius": "2 km",
    "from": "2023-05-17T09:00:00Z", "until": "2023-05-17T12:00:00Z",
}  # fmt: skip
RULES = [{"id": "no-fire", "kinds": ["explosion", "launch"], "where": "anywhere"}]


@pytest.fixture
def agreement(tmp_path: Path) -> Agreement:
    return load_agreement(_write(tmp_path, _terms(rules=RULES, notifications=[NOTICE])))


def _explosion(event_id: str, time: str = "2023-05-17T10:20:00Z", lat: float = 47.5, lon: float = 33.01) -> JudgedEvent:
    return JudgedEvent(id=event_id, time=time, kind="explosion", lat=lat, lon=lon)


def test_a_notified_explosion_is_excused_with_the_notice_as_basis(agreement: Agreement) -> None:
    geometry = geometry_for(agreement)
    notice = agreement.notifications[0]
    assert notice.radius_m == 2000.0 and notice.party == "UA"
    violations, excused = judge_all(agreement, geometry, [_explosion("inside")])
    assert violations == []
    [act] = excused
    assert act.excused_by == "ua-demining-1" and act.rule_id == "no-fire"
    assert act.basis.startswith("Excused by notification ua-demining-1: UA announced demining (UXO clearance)")
    assert "0.75 km from that point" in act.basis  # 0.01° of longitude at 47.5° N
    assert judge(agreement, geometry, [_explosion("inside")]) == []  # counts leave it out


@pytest.mark.parametrize(
    ("why", "event"),
    [
        ("outside the circle", _explosion("far", lon=33.04)),  # ~3 km east
        ("before the window", _explosion("early", time="2023-05-17T08:59:00Z")),
        ("after the window", _explosion("late", time="2023-05-17T12:01:00Z")),
        ("another kind", JudgedEvent(id="launch", time="2023-05-17T10:20:00Z", kind="launch", lat=47.5, lon=33.01)),
    ],
)
def test_what_the_notice_did_not_announce_stays_a_violation(agreement: Agreement, why: str, event: JudgedEvent) -> None:
    violations, excused = judge_all(agreement, geometry_for(agreement), [event])
    assert excused == [], why
    assert [v.rule_id for v in violations] == ["no-fire"], why
    assert violations[0].excused_by is None and "excused_by" not in violations[0].to_feature()["properties"]


def test_notifications_survive_the_canonical_round_trip_and_leave_other_digests_alone(agreement: Agreement, tmp_path: Path) -> None:
    document = agreement.canonical_document()
    assert document["notifications"][0]["radius"] == 2000.0
    assert Agreement.from_canonical_document(document).digest() == agreement.digest()
    plain_dir = tmp_path / "plain"
    plain_dir.mkdir()
    plain = load_agreement(_write(plain_dir, _terms()))
    assert "notifications" not in plain.canonical_document()  # versions without notices hash as before


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"party": "XX"}, ("notifications[0] (ua-demining-1).party", "unknown party 'XX'")),
        ({"rules": ["no-such-rule"]}, ("notifications[0] (ua-demining-1).rules[0]", "unknown rule 'no-such-rule'")),
        ({"until": "2023-05-17T08:00:00Z"}, ("'until' must be after 'from'",)),
        ({"radius": "80 km"}, ("radius",)),
        ({"radius": 500}, ("radius",)),
    ],
)
def test_a_bad_notification_is_refused_with_where_and_why(tmp_path: Path, change: dict[str, Any], fragments: tuple[str, ...]) -> None:
    problems = _problems(_write(tmp_path, _terms(notifications=[{**NOTICE, **change}])))
    assert any(all(f in p for f in fragments) and "notifications" in p for p in problems), problems
