"""Fusion: incremental spatio-temporal association of observations into incidents, with corroboration."""

from truceline.fuse.native import check_build

check_build()  # before any compiled module (fuse/native.py) can be imported

from truceline.fuse.batch import fuse_all  # noqa: E402 - after the build check
from truceline.fuse.corroboration import corroboration_score  # noqa: E402
from truceline.fuse.fuser import Fuser  # noqa: E402
from truceline.fuse.measurement import MeasurementModel  # noqa: E402
from truceline.fuse.snapshot import Snapshot  # noqa: E402
from truceline.fuse.updates import FuserConfig, FuserStats, IncidentUpdate, UpdateAction  # noqa: E402

__all__ = ["Fuser", "FuserConfig", "FuserStats", "IncidentUpdate", "MeasurementModel", "Snapshot", "UpdateAction", "corroboration_score", "fuse_all"]
