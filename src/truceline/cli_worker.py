"""``truceline worker``: the background roles of a cluster (ledger sequencer, sector fusion), without HTTP.

Runs until SIGTERM or SIGINT (then it releases its leases, so other workers take over at once) and dies
with its parent (``PR_SET_PDEATHSIG``), like every process truceline starts; ``--no-die-with-parent`` is for
a supervisor that detaches it on purpose.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from truceline.cli_numbers import finite_float

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


@app.command("worker")
def worker_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Directory of the ledger signing key (shared by the cluster's workers).")],
    store_url: Annotated[str, typer.Option("--store", help="PostgreSQL URL of the cluster's store: postgresql://USER@HOST:PORT/DB.")],
    bus_url: Annotated[str | None, typer.Option("--bus", help="NATS URL for wake-ups and live events: nats://HOST:PORT.")] = None,
    sector_deg: Annotated[float, typer.Option("--sector-deg", help="Fusion sector size in degrees (must divide 180).", parser=finite_float)] = 1.0,
    halo_km: Annotated[float, typer.Option("--halo-km", help="Halo fused around each sector, ≥ the association reach.", parser=finite_float)] = 50.0,
    die_with_parent: Annotated[bool, typer.Option(help="Exit when the process that started this one dies.")] = True,
) -> None:
    """Run the ledger sequencer and the sector fusion roles of a cluster until stopped."""
    from truceline.cluster.sectors import SectorGrid
    from truceline.cluster.worker import ClusterWorker
    from truceline.service.procs import die_with_parent as arrange_death
    from truceline.store.open import is_postgres_url, open_store_url
    from truceline.store.ports import StoreUnavailable
    from truceline.store.sqlite_schema import StoreError

    if die_with_parent:
        arrange_death(os.getppid())
    if not is_postgres_url(store_url):
        raise _fail("worker needs --store postgresql://…: the embedded SQLite store is fused by `serve` itself")
    try:
        grid = SectorGrid(sector_deg, halo_km=halo_km)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        store = open_store_url(data_dir, store_url)
    except (StoreError, StoreUnavailable) as exc:
        raise _fail(f"cannot open the store: {exc}", 3) from None
    bus = None
    if bus_url is not None:
        from truceline.bus.nats import NatsBus

        bus = NatsBus(bus_url, name="truceline-worker")
        bus.start(wait_s=5.0)  # NATS may be down: the worker polls and subscribes when it is back
    worker = ClusterWorker(store, store_url, grid, bus=bus)  # type: ignore[arg-type]
    console = Console(highlight=False, soft_wrap=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        worker.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"worker {worker.holder}: store {store_url.split('@')[-1]}, sectors {sector_deg:g}° + {halo_km:g} km halo", markup=False)
    worker.start()
    try:
        worker.wait(on_change=lambda status: console.print(f"worker {worker.holder}: {status.line()}", markup=False))
    finally:
        worker.stop()
        if bus is not None:
            bus.close()
        store.close()
    console.print(f"worker {worker.holder}: stopped, leases released", markup=False)
