"""Server settings: where the data lives and the limits that protect the service from oversized input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from truceline.domain.observation import DEFAULT_CLOCK_SKEW

ADMIN_KEY_FILENAME = "admin.key"


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs; defaults suit one monitoring cell on one machine."""

    data_dir: Path
    max_body_bytes: int = 32 * 1024 * 1024
    max_batch_items: int = 10_000
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    max_page_size: int = 10_000
    fusion: bool = True  # run live fusion in a background thread
    parse_workers: int = 0  # processes that parse and prepare observation batches (0: in the server process)
