"""How near a fused incident must lie to a true event, in distance and time, to be matched with it.

Apart from ``eval.report`` so that ``truceline eval --help`` can show the defaults without loading the
metrics (scipy.optimize, scipy.sparse).
"""

DEFAULT_DISTANCE_GATE_M = 1_000.0
DEFAULT_TIME_GATE_S = 600.0

__all__ = ["DEFAULT_DISTANCE_GATE_M", "DEFAULT_TIME_GATE_S"]
