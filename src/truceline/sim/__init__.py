"""Scenario simulator with ground truth: events, sensor models, and the files evaluation reads."""

from truceline.sim.run import OBSERVATIONS_FILE, TRUTH_FILE, Simulation, observation_records, simulate, truth_records, write_outputs
from truceline.sim.scenario import PRESETS, Scenario, ScenarioError, load_scenario, parse_scenario

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
