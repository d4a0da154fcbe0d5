"""Who a track says it is: the state of registry (aircraft, ICAO 24-bit address block) or flag (vessel, MMSI MID).

Both are what a transponder broadcasts and can be spoofed: anyone can program an MMSI or an ICAO address.
Downstream uses (attribution) carry that caveat with the confidence they give.
"""

from __future__ import annotations

from typing import Any

from truceline.track.flags import MID_SOURCE, mmsi_info
from truceline.track.registry_icao import registry_state

ICAO_SOURCE = "ICAO Annex 10 Vol. III, allocation of 24-bit aircraft addresses to states (bundled table)"


def identity(kind: str, ident: str) -> dict[str, Any]:
    """``state`` (ISO alpha-2 or None), how it was derived, and the station type for vessels."""
    if kind == "aircraft":
        state = registry_state(ident)
        return {"state": state, "state_basis": "ICAO 24-bit address allocation", "state_source": ICAO_SOURCE}
    info = mmsi_info(ident)
    out: dict[str, Any] = {
        "state": info.state,
        "state_basis": "MMSI maritime identification digits (MID)" if info.mid else f"MMSI of a {info.station} has no MID",
        "state_source": MID_SOURCE,
        "station": info.station,
    }
    if info.administration and info.administration != info.state:
        out["administration"] = info.administration
    return out
