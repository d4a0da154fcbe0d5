"""``truceline simulate`` and ``truceline eval``: scenario files in, ground truth and scores out.

Kept apart from :mod:`truceline.cli` so the serving CLI does not import the simulator; ``cli.py`` mounts
this ``app``'s commands.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from truceline.cli_numbers import finite_float, plain_int
from truceline.cli_words import counted
from truceline.eval.gates import DEFAULT_DISTANCE_GATE_M, DEFAULT_TIME_GATE_S
from truceline.sim.scenario import PRESETS
from truceline.sim.senders import NATIONS_PRESETS

# The simulator, fusion and the metrics are imported by the commands that run them: every other
# truceline command imports this module too (cli.py mounts it), and should start fast.

INCIDENTS_FILE = "incidents.jsonl"

app = typer.Typer(
    name="truceline-fusion",
    help="Simulate scenarios with ground truth and evaluate fusion against it.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)


@app.command("simulate")
def simulate_command(
    scenario: Annotated[
        str, typer.Argument(help=f"Preset ({', '.join([*PRESETS, *NATIONS_PRESETS])}) or a scenario YAML file.")
    ] = "sparse-day",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for truth.jsonl and observations.jsonl.")] = Path("sim-out"),
    seed: Annotated[int | None, typer.Option("--seed", help="Override the scenario's random seed.", parser=plain_int)] = None,
    fuse: Annotated[bool, typer.Option("--fuse", help="Also fuse the observations (in arrival order) into incidents.jsonl.")] = False,
    posted: Annotated[
        bool,
        typer.Option(
            "--as-posted",
            help="Write observations as real clients post them: no time_uncertainty_s, no bearing sensor_cep_m "
            "(truceline then assumes its documented defaults, docs/observations.md).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
) -> None:
    """Run a scenario: write ground truth (truth.jsonl) and native observations in arrival order."""
    if seed is not None and seed < 0:
        console.print(f"[red]error:[/] --seed must be ≥ 0, got {seed}")
        raise typer.Exit(2)
    from truceline.fuse import FuserConfig, fuse_all
    from truceline.ingest.validation import validate_batch, validation_context
    from truceline.sim import OBSERVATIONS_FILE, TRUTH_FILE, ScenarioError, load_scenario, observation_records, simulate, truth_records
    from truceline.sim.senders import as_posted, nations_scenario

    if scenario in NATIONS_PRESETS:
        nations = NATIONS_PRESETS[scenario]
        if seed is not None:
            nations = replace(nations, seed=seed)
        records, truth = nations_scenario(nations, honest=True)
        name, used_seed = nations.name, nations.seed
        events = sum(1 for t in truth if t["type"] == "event")
        by_source_type = dict(Counter(r["source"]["type"] for r in records))
        by_tag = dict(Counter(t["tag"] for t in truth if t["type"] == "label"))
    else:
        try:
            spec = load_scenario(scenario)
        except ScenarioError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        if seed is not None:
            spec = spec.model_copy(update={"seed": seed})
        sim = simulate(spec)
        records, truth = observation_records(sim), list(truth_records(sim))
        name, used_seed, events = spec.name, spec.seed, len(sim.events)
        by_source_type = dict(Counter(d.source_type for d in sim.drafts))
        by_tag = dict(Counter(d.tag for d in sim.drafts))
    if posted:
        records = as_posted(records)
    out.mkdir(parents=True, exist_ok=True)
    with (out / TRUTH_FILE).open("wb") as fh:
        for record in truth:
            fh.write(orjson.dumps(record) + b"\n")
    with (out / OBSERVATIONS_FILE).open("wb") as fh:
        for record in records:
            fh.write(orjson.dumps(record) + b"\n")
    summary: dict[str, object] = {
        "scenario": name,
        "seed": used_seed,
        "as_posted": posted,
        "events": events,
        "observations": len(records),
        "by_source_type": by_source_type,
        "by_tag": by_tag,
        "truth": str(out / TRUTH_FILE),
        "observations_file": str(out / OBSERVATIONS_FILE),
    }
    if fuse:
        observations, errors = validate_batch(records, validation_context())
        if errors:  # the simulator writes only valid observations; anything else is a bug worth stopping on
            console.print(f"[red]error:[/] simulated record {errors[0].index} is invalid: {errors[0].field}: {errors[0].message}")
            raise typer.Exit(1)
        incidents = fuse_all(observations, FuserConfig())
        with (out / INCIDENTS_FILE).open("wb") as fh:
            for incident in incidents:
                fh.write(incident.model_dump_json().encode() + b"\n")
        summary["incidents"] = len(incidents)
        summary["incidents_file"] = str(out / INCIDENTS_FILE)
    if as_json:
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    console.print(
        f"{name} (seed {used_seed}): {counted(events, 'event')}, {counted(len(records), 'observation')}"
        f"{' as real senders post' if posted else ''} "
        f"→ {out / TRUTH_FILE}, {out / OBSERVATIONS_FILE}"
        + (f", {counted(len(incidents), 'incident')} → {out / INCIDENTS_FILE}" if fuse else "")
    )


@app.command("eval")
def eval_command(
    truth: Annotated[Path, typer.Argument(help="truth.jsonl written by 'truceline simulate'.")],
    incidents: Annotated[Path, typer.Argument(help="Incidents: JSON Lines of incidents, or the GeoJSON of GET /api/v1/incidents.")],
    observations: Annotated[
        Path | None, typer.Option("--observations", help="Observations for the oracle score (default: observations.jsonl beside TRUTH).")
    ] = None,
    distance_gate_m: Annotated[float, typer.Option("--distance-gate-m", help="Matching gate in distance.", parser=finite_float)] = DEFAULT_DISTANCE_GATE_M,
    time_gate_s: Annotated[float, typer.Option("--time-gate-s", help="Matching gate in time.", parser=finite_float)] = DEFAULT_TIME_GATE_S,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON on stdout.")] = False,
) -> None:
    """Score incidents against ground truth: pairwise and incident P/R/F1, errors, duplicates, oracle."""
    from truceline.eval import EvalInputError, evaluate, read_incidents, read_observations, read_truth
    from truceline.sim import OBSERVATIONS_FILE

    if observations is None and (truth.parent / OBSERVATIONS_FILE).is_file():
        observations = truth.parent / OBSERVATIONS_FILE
    try:
        report = evaluate(
            read_truth(truth),
            read_incidents(incidents),
            read_observations(observations) if observations is not None else None,
            distance_gate_m=distance_gate_m,
            time_gate_s=time_gate_s,
        )
    except (EvalInputError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    else:
        sys.stdout.write("\n".join(report.lines()) + "\n")


__all__ = ["app", "eval_command", "simulate_command"]

if __name__ == "__main__":  # pragma: no cover
    app()
