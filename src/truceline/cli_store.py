"""``--store`` and ``--bus`` for every verb that takes ``--data-dir``: which engines hold the data.

Without them a verb works on DATA_DIR's SQLite file exactly as before (the embedded default). With
``--store postgresql://…`` it works on the shared PostgreSQL store of a scale-out deployment (issue 17), and
``--bus nats://…`` names the NATS server that carries announcements and live events between processes.
Verbs that cannot work on a shared store (``fuse``: workers own fusion there) refuse with a clear error
instead of doing something wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["BusUrl", "StoreUrl", "check_urls", "open_cli_store", "refuse_cluster"]

StoreUrl = Annotated[
    str | None,
    typer.Option(
        "--store", metavar="URL",
        help="Shared store of a scale-out deployment, postgresql://USER@HOST:PORT/DB (default: DATA_DIR/truceline.db).",
    ),
]
BusUrl = Annotated[
    str | None,
    typer.Option("--bus", metavar="URL", help="NATS JetStream server of a scale-out deployment, nats://HOST:PORT (with --store)."),
]
EXIT_USAGE = 2
_STORE_SCHEMES = ("postgresql://", "postgres://")
_BUS_SCHEMES = ("nats://", "tls://")
_console = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _console.print(f"error: {message}", style="red", soft_wrap=True, markup=False, highlight=False)
    return typer.Exit(EXIT_USAGE)


def check_urls(store_url: str | None, bus_url: str | None, *, both: bool = False) -> bool:
    """Validate ``--store``/``--bus`` (exit 2 saying what is wrong); returns whether this is cluster mode.

    ``both``: the verb needs the two together (``serve``: an API replica acknowledges only what is committed
    *and* announced). ``--bus`` never goes without ``--store``: the bus carries no data of its own.
    """
    if store_url is not None and not store_url.startswith(_STORE_SCHEMES):
        raise _fail(f"--store must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DB), not {store_url!r}")
    if bus_url is not None and not bus_url.startswith(_BUS_SCHEMES):
        raise _fail(f"--bus must be a NATS URL (nats://HOST:PORT), not {bus_url!r}")
    if bus_url is not None and store_url is None:
        raise _fail("--bus needs --store: in a scale-out deployment the data is in PostgreSQL, the bus only announces it")
    if both and (store_url is None) != (bus_url is None):
        raise _fail("an API replica needs both --store postgresql://… and --bus nats://… (or neither, for the embedded server)")
    return store_url is not None


def refuse_cluster(store_url: str | None, verb: str, reason: str) -> None:
    """Exit 2 if ``verb`` was asked to work on a shared store it must not touch."""
    if store_url is not None:
        raise _fail(f"`truceline {verb}` does not work with --store: {reason}")


def open_cli_store(data_dir: Path, store_url: str | None = None, on_error: Any = None) -> Any:
    """The store of DATA_DIR (SQLite) or of ``store_url`` (PostgreSQL), or exit 2 with the reason.

    ``on_error`` runs before exiting (e.g. to release a lock taken for nothing).
    """
    from truceline.store.open import StoreUnavailable, open_store_url
    from truceline.store.sqlite import StoreError

    try:
        return open_store_url(data_dir, store_url)
    except (StoreError, StoreUnavailable, OSError, ValueError) as exc:
        if on_error is not None:
            on_error()
        where = "the store at " + _redacted(store_url) if store_url else f"the store in {data_dir}"
        raise _fail(f"cannot open {where}: {exc}") from None


def _redacted(url: str | None) -> str:
    """The URL without a password, for messages."""
    if not url or "@" not in url:
        return url or ""
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":")[0]
    return f"{scheme}://{user}@{host}"
