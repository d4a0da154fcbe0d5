"""Attribution of shots across the real line, posted over HTTP as real senders post: figures by evidence type.

    truceline bench attribution [--shots 400] [--seeds 3] [--hours 24] [--reply-share 0.3] [--honest-time] [--keep DIR]
    python bench/attribution.py [...]

Each seed is a scenario of its own (``truceline.sim.engagements``: shots from both sides of the demo
agreement's line, origin ≥ 2 km from it; evidence of the firing point by acoustic arrays, drones or
counter-battery radar, or none; impacts reported by others; clock errors; most senders state no
``time_uncertainty_s``). The observations are posted to the HTTP app in time order in batches of 50, fused by
the same worker ``serve`` runs, and read back from ``GET /incidents`` and every page of ``GET /violations``.
Printed per evidence type: shots named correctly (their violations name the party that fired, none
another), named wrongly (share of named violations naming a party that did not fire), impact-only shots
named, and engagements (launch linked to its own impact). Goals (issue 16): ≥ 95% named correctly where the
firing point was observed, ≤ 1% named wrongly, never a party from impact-only evidence.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

TYPES = ("launch", "flash", "launch+flash", "radar", "impact-only")
WITH_FIRING_POINT = ("launch", "flash", "launch+flash", "radar")


def run_scenario(data_dir: Path, shots: int, seed: int, hours: float, reply_share: float,
                 honest_time: bool = False) -> tuple[Any, dict[str, list[str]], list[dict[str, Any]], float]:
    """Generate, post over HTTP, fuse, read back: (scenario, incident → observation ids, violation properties, judge s)."""
    from fastapi.testclient import TestClient

    from truceline.api.app import create_app
    from truceline.api.auth import ensure_admin_key, read_admin_key
    from truceline.service.settings import Settings
    from truceline.sim.engagements import generate
    from truceline.store.sqlite import open_store
    from truceline.verify.agreement_loader import load_demo_agreement
    from truceline.verify.geometry import geometry_for

    agreement = load_demo_agreement()
    scenario = generate(geometry_for(agreement), shots=shots, seed=seed, hours=hours, reply_share=reply_share, prefix=f"s{seed}",
                        honest_time=honest_time)
    store = open_store(data_dir)
    try:
        store.save_agreement(agreement.canonical_document(), agreement.digest(), "bench")
        ensure_admin_key(store, data_dir)
        headers = {"Authorization": f"Bearer {read_admin_key(data_dir)}", "Content-Type": "application/json"}
        with TestClient(create_app(Settings(data_dir=data_dir, fusion=False), store)) as client:
            docs = sorted(scenario.observations, key=lambda d: d["time"])
            for i in range(0, len(docs), 50):
                r = client.post("/api/v1/observations", content=orjson.dumps(docs[i : i + 50]), headers={**headers, "Content-Type": "application/json"})
                if r.status_code != 201:
                    raise SystemExit(f"post refused: {r.status_code} {r.text[:400]}")
                client.app.state.fusion.run_until_idle()
            features = client.get("/api/v1/incidents", params={"limit": 100_000}, headers=headers).json()["features"]
            incidents = {f["id"]: list(f["properties"]["observation_ids"]) for f in features}
            violations: list[dict[str, Any]] = []
            cursor: str | None = None
            t0 = time.perf_counter()
            while True:
                params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = client.get("/api/v1/violations", params=params, headers=headers).json()
                violations += [f["properties"] for f in page["features"]]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            judged_s = time.perf_counter() - t0
    finally:
        store.close()
    return scenario, incidents, violations, judged_s


def _pct(n: int, d: int) -> str:
    return f"{n / d:6.1%}" if d else "     –"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 when a goal is missed."""
    parser = argparse.ArgumentParser(prog="bench/attribution.py", description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=400, help="shots per scenario (default 400)")
    parser.add_argument("--seeds", type=int, default=3, help="scenarios, seeds 0..N-1 (default 3)")
    parser.add_argument("--hours", type=float, default=24.0, help="time the shots of one scenario spread over (default 24)")
    parser.add_argument("--reply-share", type=float, default=0.3, help="share of shots that answer the last one (default 0.3)")
    parser.add_argument("--honest-time", action="store_true",
                        help="every sender states its time uncertainty (patrols 60 s) instead of most stating none")
    parser.add_argument("--keep", type=Path, help="build the data dirs under here and keep them")
    args = parser.parse_args(argv)

    from truceline.eval.attribution import EvidenceScore, score

    totals: dict[str, EvidenceScore] = {}
    t_all = time.perf_counter()
    n_obs = n_inc = n_viol = 0
    judge_s = 0.0
    with tempfile.TemporaryDirectory(prefix="truceline-bench-attribution-") as tmp:
        for seed in range(args.seeds):
            data_dir = (args.keep or Path(tmp)) / f"seed-{seed}"
            scenario, incidents, violations, judged = run_scenario(data_dir, args.shots, seed, args.hours, args.reply_share,
                                                                   args.honest_time)
            n_obs += len(scenario.observations)
            n_inc += len(incidents)
            n_viol += len(violations)
            judge_s += judged
            for kind, s in score(scenario.shots, incidents, violations).items():
                t = totals.setdefault(kind, EvidenceScore())
                for name in ("shots", "shots_named", "named_correctly", "undetermined", "violations_named", "violations_wrong",
                             "impacts_named_by_link", "impacts_named_by_link_wrongly", "linkable", "linked_correctly",
                             "linked_wrongly", "linked_and_named", "named_without_launch_evidence"):
                    setattr(t, name, getattr(t, name) + getattr(s, name))
                t.by_method.update(s.by_method)
    elapsed = time.perf_counter() - t_all
    print(f"scenarios: {args.seeds} × {args.shots} shots over {args.hours:g} h, replies {args.reply_share:.0%}, "
          f"time uncertainty {'stated by every sender' if args.honest_time else 'stated by 40-60% of sensors, no patrol (the rest assumed)'}; "
          f"{n_obs:,} observations posted over HTTP → {n_inc:,} incidents, {n_viol:,} violations; "
          f"{elapsed:.1f} s in all, GET /violations {judge_s:.2f} s")
    print(f"{'evidence':<13} {'shots':>6} {'named right':>12} {'undeterm.':>10} {'named wrong':>12} "
          f"{'impact via link':>16} {'engagements linked right / wrong':>34}")
    for kind in (*TYPES, "all"):
        s = totals.get(kind)
        if s is None:
            continue
        link_part = f"{s.impacts_named_by_link:>5} ({s.impacts_named_by_link_wrongly} wrong)"
        eng = (f"{s.linked_correctly:>4}/{s.linkable:<4} {_pct(s.linked_correctly, s.linkable)} / "
               f"{s.linked_wrongly:>3} {_pct(s.linked_wrongly, s.linkable)}") if s.linkable else "–"
        print(f"{kind:<13} {s.shots:>6} {_pct(s.named_correctly, s.shots):>12} {_pct(s.undetermined, s.shots):>10} "
              f"{s.violations_wrong:>4}/{s.violations_named:<5}{_pct(s.violations_wrong, s.violations_named)} {link_part:>16} {eng:>34}")
    fp = [totals[k] for k in WITH_FIRING_POINT if k in totals]
    shots_fp = sum(s.shots for s in fp)
    right_fp = sum(s.named_correctly for s in fp)
    all_ = totals["all"]
    only = totals.get("impact-only", EvidenceScore())
    linkable = sum(totals[k].linkable for k in ("launch", "flash", "launch+flash") if k in totals)
    print(f"shots whose launch and impact were both observed: {linkable}; their impact names who fired through the link: "
          f"{all_.linked_and_named} {_pct(all_.linked_and_named, linkable).strip()} (each shot once, however many incidents its impact became)")
    print(f"impact-only shots named: {only.shots_named} of {only.shots} "
          f"({only.impacts_named_by_link} through a link to another shot's launch, "
          f"{only.impacts_named_by_link_wrongly} of them the wrong party); "
          f"named from impact evidence alone: {all_.named_without_launch_evidence}")
    ok_right = shots_fp and right_fp / shots_fp >= 0.95
    ok_wrong = all_.violations_named and all_.violations_wrong / all_.violations_named <= 0.01
    ok_only = all_.named_without_launch_evidence == 0
    print(f"goal: firing point observed, named correctly ≥ 95%: {right_fp}/{shots_fp} {_pct(right_fp, shots_fp).strip()} "
          f"{'met' if ok_right else 'MISSED'}; named wrongly ≤ 1% of named violations: "
          f"{_pct(all_.violations_wrong, all_.violations_named).strip()} {'met' if ok_wrong else 'MISSED'}; "
          f"never a party from impact-only evidence: {'met' if ok_only else 'MISSED'}")
    return 0 if ok_right and ok_wrong and ok_only else 1


if __name__ == "__main__":
    sys.exit(main())
