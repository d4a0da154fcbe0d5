"""The coalition picture at a national node: what the hub releases to this nation, pulled back and kept.

Why pull with the nation's own key: the hub filters incidents and violations by releasability for that
key exactly as for any reader, so the node receives nothing the hub would not show the nation anyway.
The copy is kept in a file of the data dir (replaced atomically), so the national analyst still sees the
last coalition picture, with its age, while the hub is out of reach. It is shown beside the national
picture, labelled as the hub's, and never mixed into the node's own store or fusion.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

PICTURE_FILENAME = "coalition-picture.json"
Call = Callable[..., httpx.Response]


class CoalitionPicture:
    """The last pulled copy of the hub's incidents and violations as released to this node's nation."""

    def __init__(self, data_dir: Path, every_s: float, incident_limit: int = 5000) -> None:
        self.path = data_dir / PICTURE_FILENAME
        self.every_s = every_s
        self.incident_limit = incident_limit
        self._last_pull = 0.0
        self.latest: dict[str, Any] | None = None
        if self.path.exists():
            try:
                self.latest = orjson.loads(self.path.read_bytes())
            except orjson.JSONDecodeError:
                self.latest = None  # a torn copy cannot happen (atomic replace); a hand-edited one is ignored

    def due(self) -> bool:
        """Whether a pull is due (never when ``every_s`` is 0)."""
        return self.every_s > 0 and time.monotonic() - self._last_pull >= self.every_s

    def pull(self, call: Call, hub: str, nation: str) -> None:
        """GET the hub's incidents and violations with the nation's key; keep them with the time fetched."""
        self._last_pull = time.monotonic()
        incidents = call("GET", "/incidents", params={"limit": self.incident_limit})
        if incidents.status_code != 200:
            return  # the hub will answer next time; the older copy stays, with its age
        violations = call("GET", "/violations", params={"limit": 1000})
        snapshot = {
            "label": f"coalition picture from the hub, as released to {nation}",
            "hub": hub,
            "nation": nation,
            "fetched_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "incidents": incidents.json(),
            "violations": violations.json() if violations.status_code == 200 else None,
            "violations_note": None if violations.status_code == 200 else f"hub answered {violations.status_code}: {violations.text[:200]}",
        }
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(orjson.dumps(snapshot))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self.latest = snapshot
