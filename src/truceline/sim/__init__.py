"""Scenario simulator with ground truth: events, sensor models, and the files evaluation reads.

The names below are loaded on first use (PEP 562), so the CLI can read the preset names from
``sim.scenario`` without importing the simulator itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from truceline.sim.run import OBSERVATIONS_FILE, TRUTH_FILE, Simulation, observation_records, simulate, truth_records, write_outputs
    from truceline.sim.scenario import PRESETS, Scenario, ScenarioError, load_scenario, parse_scenario

_HOMES = {
    **dict.fromkeys(
        ("OBSERVATIONS_FILE", "TRUTH_FILE", "Simulation", "observation_records", "simulate", "truth_records", "write_outputs"),
        "truceline.sim.run",
    ),
    **dict.fromkeys(("PRESETS", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"), "truceline.sim.scenario"),
}

__all__ = [
    "OBSERVATIONS_FILE",
    "PRESETS",
    "TRUTH_FILE",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "load_scenario",
    "observation_records",
    "parse_scenario",
    "simulate",
    "truth_records",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
