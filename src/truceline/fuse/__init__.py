"""Fusion: incremental spatio-temporal association of observations into incidents, with corroboration."""

from truceline.fuse.native import select_engine

select_engine()  # before any compiled module can be imported: compiled, or the sources if the build is stale (fuse/native.py)

from truceline.fuse.batch import fuse_all  # noqa: E402 - after the engine is chosen
from truceline.fuse.corroboration import corroboration_score  # noqa: E402
from truceline.fuse.fuser import Fuser  # noqa: E402
from truceline.fuse.measurement import MeasurementModel  # noqa: E402
from truceline.fuse.snapshot import Snapshot  # noqa: E402
from truceline.fuse.updates import FuserConfig, FuserStats, IncidentUpdate, UpdateAction  # noqa: E402

__all__ = ["Fuser", "FuserConfig", "FuserStats", "IncidentUpdate", "MeasurementModel", "Snapshot", "UpdateAction", "corroboration_score", "fuse_all"]
