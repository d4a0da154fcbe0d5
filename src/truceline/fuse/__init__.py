"""Fusion: incremental spatio-temporal association of observations into incidents, with corroboration.

The package's names are imported on first use (PEP 562): a process that needs one of its modules and not
the fuser (the fusion process's writer reads only ``Snapshot``'s type through the store) does not pay for
the fuser's imports (scipy among them), a third of a second at every start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from truceline.fuse.native import select_engine

select_engine()  # before any compiled module can be imported: compiled, or the sources if the build is stale (fuse/native.py)

if TYPE_CHECKING:
    from truceline.fuse.batch import fuse_all
    from truceline.fuse.corroboration import corroboration_score
    from truceline.fuse.fuser import Fuser
    from truceline.fuse.measurement import MeasurementModel
    from truceline.fuse.snapshot import Snapshot
    from truceline.fuse.updates import FuserConfig, FuserStats, IncidentUpdate, UpdateAction

#: Each name the package offers, and the module that defines it.
_HOMES = {
    "fuse_all": "batch",
    "corroboration_score": "corroboration",
    "Fuser": "fuser",
    "MeasurementModel": "measurement",
    "Snapshot": "snapshot",
    "FuserConfig": "updates",
    "FuserStats": "updates",
    "IncidentUpdate": "updates",
    "UpdateAction": "updates",
}

__all__ = ["Fuser", "FuserConfig", "FuserStats", "IncidentUpdate", "MeasurementModel", "Snapshot", "UpdateAction", "corroboration_score", "fuse_all"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:  # a submodule not imported yet, or no such name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # looked up once
    return value
