"""Localization in metres: local ENU frame, TDOA multilateration, bearing triangulation, Cramér–Rao bounds.

Every estimator returns its covariance, because fusion weighs and gates by it; the matching Cramér–Rao
bound lets the benchmark show how close to the best achievable the estimate is.
"""

from truceline.locate.bearing import BearingFix, bearing_crlb, triangulate
from truceline.locate.enu import LocalFrame
from truceline.locate.tdoa import TdoaFix, chan_tdoa, locate_tdoa, sound_speed, tdoa_crlb

__all__ = [
    "BearingFix",
    "LocalFrame",
    "TdoaFix",
    "bearing_crlb",
    "chan_tdoa",
    "locate_tdoa",
    "sound_speed",
    "tdoa_crlb",
    "triangulate",
]
