"""An API replica of a scale-out deployment: ``serve --store postgresql://… --bus nats://…``.

A replica holds no state of its own: observations go to PostgreSQL, announcements and live events to NATS,
and the background roles (ledger sequencer, fusion) run in ``truceline worker``. Any number of replicas may
share one store and bus; the first one on an empty store writes DATA_DIR/admin.key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from truceline.access.policy import Role
from truceline.api.auth import ensure_admin_key
from truceline.bus.nats import NatsBus
from truceline.service.settings import ADMIN_KEY_FILENAME

__all__ = ["ADMIN_KEY_LOCK", "ensure_replica_admin_key", "start_bus"]

#: pg_advisory_lock key under which replicas decide who writes the first admin key ("truceline" as ASCII).
ADMIN_KEY_LOCK = 0x7472_7563_656C_696E
BUS_WAIT_S = 10.0


def ensure_replica_admin_key(store: Any, data_dir: Path, store_url: str) -> tuple[Path, bool]:
    """Write DATA_DIR/admin.key if this replica is the first on an empty store; returns (path, created).

    Why a database lock: replicas starting at once may have different data dirs, so the file alone cannot
    decide. Under ``pg_advisory_lock`` one replica at a time looks: a key file already there, or an admin
    key already in the store (made by a replica elsewhere, whose data dir holds it), means nothing to do.
    """
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ADMIN_KEY_FILENAME
    try:
        conn = psycopg.connect(store_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: cannot reach the store to decide on the admin key: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADMIN_KEY_LOCK,))
        try:
            if path.exists():
                return path, False
            if any(key.role is Role.ADMIN and key.revoked_at is None for key in store.list_api_keys()):
                return path, False
            return ensure_admin_key(store, data_dir)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADMIN_KEY_LOCK,))


def start_bus(bus_url: str, console: Console, name: str) -> NatsBus:
    """Connect to NATS (waiting a little); a replica starts also while NATS is down and answers 503 until then."""
    bus = NatsBus(bus_url, name=name)
    if not bus.start(BUS_WAIT_S):
        console.print(
            f"NATS at {bus_url} is not reachable yet; writes answer 503 (Retry-After) until it is.",
            style="yellow", soft_wrap=True, markup=False, highlight=False,
        )
    return bus


def replica_name(host: str, port: int) -> str:
    """How this replica names itself to NATS (visible in the server's connection list)."""
    return f"truceline-replica {os.uname().nodename} {host}:{port} pid {os.getpid()}"


def no_admin_file_notice(console: Console, path: Path) -> None:
    """Say where the admin key is when another replica made it (and this data dir has no copy)."""
    if not path.exists():
        console.print(
            f"The store already has an admin key, made by a replica with another data dir; {path} is not written here.",
            style="yellow", soft_wrap=True, markup=False, highlight=False,
        )


def refuse_fusion_flag(fusion: bool | None) -> None:
    """``--fusion`` makes no sense on a replica: fusion runs in `truceline worker`."""
    if fusion:
        Console(stderr=True, soft_wrap=True).print(
            "error: an API replica (--store/--bus) never fuses: run `truceline worker --data-dir DIR --store URL --bus URL`",
            style="red", soft_wrap=True, markup=False, highlight=False,
        )
        raise typer.Exit(2)
