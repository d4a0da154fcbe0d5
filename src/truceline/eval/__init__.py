"""Evaluation against simulator ground truth: pairwise and incident scores, localization error, oracle."""

from truceline.eval.data import (
    EvalInputError,
    FusedIncident,
    Label,
    Target,
    Truth,
    fused,
    parse_truth,
    read_incidents,
    read_observations,
    read_truth,
)
from truceline.eval.metrics import PRF, match, pairwise, truth_clusters
from truceline.eval.oracle import oracle_clusters
from truceline.eval.report import EvalReport, evaluate

__all__ = [
    "PRF",
    "EvalInputError",
    "EvalReport",
    "FusedIncident",
    "Label",
    "Target",
    "Truth",
    "evaluate",
    "fused",
    "parse_truth",
    "match",
    "oracle_clusters",
    "pairwise",
    "read_incidents",
    "read_observations",
    "read_truth",
    "truth_clusters",
]
