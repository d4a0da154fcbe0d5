"""A small attribution scenario posted over HTTP (bench/attribution.py's path) meets issue 16's goals.

Shots from both sides of the demo line with evidence of the firing point (acoustic launch, drone flash,
counter-battery radar origin) or none, impacts reported by others with clock errors and mostly no stated
time uncertainty. Asserted against the simulator's ground truth: ≥ 95% of shots whose firing point was
observed are named correctly, ≤ 1% of named violations name a party that did not fire, no party is named
from impact evidence alone, and most observed launches are linked to their own impact.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from tests.script_modules import load_script

from truceline.eval.attribution import score

BENCH = Path(__file__).resolve().parents[1] / "bench" / "attribution.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(BENCH, "bench_attribution")


def test_attribution_scenario_over_http_meets_the_goals(bench: ModuleType, tmp_path: Path) -> None:
    scenario, incidents, violations, _ = bench.run_scenario(tmp_path / "data", shots=150, seed=11, hours=12.0, reply_share=0.3)
    figures = score(scenario.shots, incidents, violations)
    with_firing_point = [figures[k] for k in ("launch", "flash", "launch+flash", "radar") if k in figures]
    shots = sum(s.shots for s in with_firing_point)
    assert shots >= 80
    assert sum(s.named_correctly for s in with_firing_point) >= 0.95 * shots
    every = figures["all"]
    assert every.violations_named > shots * 0.9
    assert every.violations_wrong <= 0.01 * every.violations_named
    assert every.named_without_launch_evidence == 0
    only = figures["impact-only"]
    assert only.shots >= 20 and only.shots_named == only.impacts_named_by_link  # named only through a launch
    assert only.impacts_named_by_link_wrongly == 0
    linkable = sum(figures[k].linkable for k in ("launch", "flash", "launch+flash") if k in figures)
    linked = sum(figures[k].linked_correctly for k in ("launch", "flash", "launch+flash") if k in figures)
    assert linkable >= 40 and linked >= 0.8 * linkable
    # The impacts themselves name who fired, counted per shot: counting violations (as this line once did, at
    # 0.7) rewarded an impact split into several incidents: before defaults, patrol notes read as exact did not
    # fuse (282 incidents, not 227) and 54 shots gave 63 named violations. Per shot, seed 11 gives 0.68 with
    # assumed defaults, 0.68 with every sender stating its time, 0.69 before defaults; the full bench 0.63-0.70.
    # The rest link below the 0.9 threshold (a lone launch in the hour counts as clutter, P_D = 0.5): undetermined.
    assert every.linked_and_named >= 0.6 * linkable
    assert every.by_method["launch-link"] > 0 and every.by_method["firing-point"] > 0


def test_violations_link_to_launches_before_since_and_outside_the_bbox(tmp_path: Path) -> None:
    """A page that starts after the launch, or a box around the impact alone, still names who fired."""
    import orjson
    from tests.conftest import native
    from tests.test_review_consistency import demo_app

    from truceline.api.auth import read_admin_key

    shot = [
        native(id="ctx-launch", time="2023-05-20T03:00:00Z", time_uncertainty_s=2, kind="launch",
               location={"lat": 48.0, "lon": 37.95, "cep_m": 150}, source={"id": "pl-acoustic-4", "type": "acoustic", "org": "PL"}),
        native(id="ctx-impact", time="2023-05-20T03:01:02Z", time_uncertainty_s=2, kind="impact",
               location={"lat": 48.0, "lon": 37.55, "cep_m": 200}, source={"id": "fr-uav-4", "type": "uav", "org": "FR"}),
    ]
    with demo_app(tmp_path / "data", ("FR", "PL")) as (client, _):
        admin = {"Authorization": f"Bearer {read_admin_key(tmp_path / 'data')}"}
        assert client.post("/api/v1/observations", content=orjson.dumps(shot), headers={**admin, "Content-Type": "application/json"}).status_code == 201
        client.app.state.fusion.run_until_idle()
        for params in ({}, {"since": "2023-05-20T03:00:30Z"}, {"bbox": "37.5,47.95,37.6,48.05"}):
            features = client.get("/api/v1/violations", params=params, headers=admin).json()["features"]
            hit = next(f["properties"] for f in features if f["properties"]["kind"] == "impact")
            assert hit["party"] == "RU" and hit["attribution_method"] == "launch-link", params
            assert hit["engagements"][0]["launch_observation_ids"] == ["ctx-launch"]
