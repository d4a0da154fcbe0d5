"""Evaluation against simulator ground truth: pairwise and incident scores, localization error, oracle.

The names below are loaded on first use (PEP 562): the metrics need scipy.optimize and scipy.sparse,
which every CLI command would otherwise import at start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    **dict.fromkeys(
        ("EvalInputError", "FusedIncident", "Label", "Target", "Truth", "fused", "parse_truth", "read_incidents",
         "read_observations", "read_truth"),
        "truceline.eval.data",
    ),
    **dict.fromkeys(("PRF", "match", "pairwise", "truth_clusters"), "truceline.eval.metrics"),
    "oracle_clusters": "truceline.eval.oracle",
    **dict.fromkeys(("EvalReport", "evaluate"), "truceline.eval.report"),
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
