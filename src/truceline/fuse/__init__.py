"""Fusion: incremental spatio-temporal association of observations into incidents, with corroboration."""

from truceline.fuse.batch import fuse_all
from truceline.fuse.corroboration import corroboration_score
from truceline.fuse.fuser import Fuser
from truceline.fuse.measurement import MeasurementModel
from truceline.fuse.snapshot import Snapshot
from truceline.fuse.updates import FuserConfig, FuserStats, IncidentUpdate, UpdateAction

__all__ = ["Fuser", "FuserConfig", "FuserStats", "IncidentUpdate", "MeasurementModel", "Snapshot", "UpdateAction", "corroboration_score", "fuse_all"]
