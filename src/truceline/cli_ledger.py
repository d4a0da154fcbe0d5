"""``truceline ledger``: export an offline evidence bundle, verify one, audit a store, print the public key.

Export reads the database read-only (it may run beside a live server) and, by default, signs a checkpoint for
the current tree head with the data dir's key so that the bundle covers every leaf. Verify needs nothing but
the bundle (and, ideally, the verifier key published out of band via ``--key``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.markup import escape

from .cli_ledger_audit import AuditReport, audit_store
from .cli_store import BusUrl, StoreUrl, check_urls, open_cli_store
from .cli_words import counted
from .ledger.bundle import BundleError, export_bundle
from .ledger.bundle_verify import BundleReport, verify_bundle
from .ledger.checkpoint import Checkpoint, CheckpointError, KeyFileError, LedgerKey, Verifier, load_key
from .ledger.log import LogError, MerkleLog
from .store.ports import StoreUnavailable

__all__ = ["app"]

DB_FILE = "truceline.db"

app = typer.Typer(
    name="ledger",
    help="Tamper-evident evidence ledger: export and verify offline bundles.",
    no_args_is_help=True,
    add_completion=False,
)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(1)


def _open_readonly(data_dir: Path) -> sqlite3.Connection:
    db = data_dir / DB_FILE
    if not db.is_file():
        raise _fail(f"no database at {db}")
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = {"ledger_leaves", "ledger_nodes", "ledger_checkpoints"} - tables
    if missing:
        conn.close()
        raise _fail(f"{db} has no ledger tables ({', '.join(sorted(missing))} missing)")
    return conn


@contextmanager
def _ledger_connection(data_dir: Path, store_url: str | None, key: LedgerKey | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only view of the log: DATA_DIR's SQLite file, or one snapshot of the shared PostgreSQL store.

    On PostgreSQL the sequencer keeps appending while we read; a REPEATABLE READ transaction sees the log
    and the records' ledger indexes as of one instant, so the audit never sees a record whose leaf is not
    yet in its view. ``key``, if given, must be the key the shared log is published with.
    """
    if store_url is None:
        conn = _open_readonly(data_dir)
        try:
            yield conn
        finally:
            conn.close()
        return
    store = open_cli_store(data_dir, store_url)
    try:
        published = store.ledger_verifier_key()
        if key is not None and published is not None and published != key.verifier_key():
            raise _fail(f"the ledger key in {data_dir} is not the one the store's log is signed with ({published})")
        with store.pg_transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cast(sqlite3.Connection, conn)
            waiting = int(conn.execute("SELECT count(*) FROM ledger_queue").fetchone()[0])
        if waiting:
            Console(stderr=True, soft_wrap=True).print(f"{counted(waiting, 'record')} still waiting for the sequencer (not in this view of the log)")
    finally:
        store.close()


@app.command("export")
def export_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory holding truceline.db and ledger.key.")],
    out: Annotated[Path, typer.Option("--out", help="Bundle file to write (an uncompressed tar).")],
    origin: Annotated[
        str | None,
        typer.Option(help="Origin for a freshly signed head; default: the latest checkpoint's, else the key name."),
    ] = None,
    sign_head: Annotated[
        bool, typer.Option("--sign-head/--no-sign-head", help="Sign the current tree head if no checkpoint covers it.")
    ] = True,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Verify the written bundle.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Write every leaf covered by a signed checkpoint, the checkpoints and the public key into BUNDLE."""
    check_urls(store_url, bus_url)
    try:
        key = load_key(data_dir)
    except KeyFileError as exc:
        raise _fail(str(exc)) from None
    try:
        with _ledger_connection(data_dir, store_url, key) as conn:
            audit = audit_store(conn, data_dir)  # a bundle must never vouch for a store whose records were edited
            if not audit.ok:
                raise _fail(f"refusing to export: {audit.first_mismatch}; run `truceline ledger audit --data-dir {data_dir}`")
            log = MerkleLog()
            checkpoints = log.checkpoints(conn)
            size = log.size(conn)
            latest = checkpoints[-1] if checkpoints else None
            signed_now = None
            if sign_head and (latest is None or latest.size < size):
                head_origin = origin or (latest.origin if latest else key.name)
                signed_now = key.sign(Checkpoint(head_origin, size, log.root(conn, size)))
                checkpoints.append(signed_now)
            result = export_bundle(conn, out, key.verifier, checkpoints)
    except (BundleError, CheckpointError, LogError, OSError, sqlite3.Error, StoreUnavailable) as exc:
        raise _fail(str(exc)) from None
    report = verify_bundle(result.path, trusted_key=key.verifier_key()) if verify else None
    if json_out:
        summary = {
            "path": str(result.path),
            "origin": result.origin,
            "verifier_key": result.verifier_key,
            "leaf_count": result.leaf_count,
            "checkpoint_sizes": list(result.checkpoint_sizes),
            "bytes": result.bytes,
            "signed_head": signed_now.size if signed_now else None,
            "verification": report.to_dict() if report else None,
        }
        typer.echo(json.dumps(summary, indent=2))
    else:
        console = _console()
        console.print(
            f"wrote [bold]{escape(str(result.path))}[/]: {counted(result.leaf_count, 'leaf', 'leaves')}, "
            f"{counted(len(result.checkpoint_sizes), 'checkpoint')}, {counted(result.bytes, 'byte')}"
        )
        if signed_now:
            console.print(f"signed a checkpoint for the current head (size {signed_now.size}) for this bundle")
        console.print(f"verifier key: {escape(result.verifier_key)}")
        if report:
            _print_report(console, report)
    if report is not None and not report.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify_command(
    bundle: Annotated[Path, typer.Argument(help="Bundle written by 'truceline ledger export'.")],
    key: Annotated[
        str | None,
        typer.Option("--key", help="Verifier key obtained independently (name+hash+key); default: the bundle's."),
    ] = None,
    leaf_format: Annotated[
        bool, typer.Option("--leaf-format/--no-leaf-format", help="Require every leaf to be a canonical envelope.")
    ] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Verify BUNDLE offline; exit 0 when every leaf and checkpoint checks out, 1 naming the first problem."""
    if key is not None:
        try:
            Verifier.from_string(key)
        except CheckpointError as exc:
            raise typer.BadParameter(str(exc), param_hint="--key") from None
    report = verify_bundle(bundle, trusted_key=key, check_leaf_format=leaf_format)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(_console(), report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("audit")
def audit_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory holding truceline.db and ledger.key.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Recompute every stored record's commitment against its leaf and the tree against every signed
    checkpoint (and the witness copy); exit 0 when all match, 1 naming the first mismatch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    check_urls(store_url, bus_url)
    try:
        with _ledger_connection(data_dir, store_url) as conn:
            if json_out:
                report = audit_store(conn, data_dir)
            else:
                columns = (TextColumn("auditing leaves"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                    task = bar.add_task("audit", total=None)
                    report = audit_store(conn, data_dir, lambda done, total: bar.update(task, completed=done, total=total))
    except (CheckpointError, LogError, sqlite3.Error, StoreUnavailable) as exc:
        raise _fail(f"audit could not read the store: {exc}") from None
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_audit(_console(), report)
    if not report.ok:
        raise typer.Exit(1)


def _print_audit(console: Console, report: AuditReport) -> None:
    checked = (
        f"{counted(report.leaves, 'leaf', 'leaves')}, {counted(report.observations, 'observation')}, "
        f"{counted(report.reviews, 'review')}, {counted(report.agreements, 'agreement version')}, "
        f"{counted(report.checkpoints, 'checkpoint')}"
    )
    if report.ok:
        console.print(f"[bold green]✓ store matches its ledger[/]: {checked}")
    else:
        console.print(f"[bold red]✗ integrity failure[/] — {escape(str(report.first_mismatch))}")
        console.print(f"  {counted(len(report.problems), 'mismatch', 'mismatches')} in all; checked {checked}")
    if not report.key_checked:
        console.print("  [yellow]no readable ledger.key: checkpoint signatures were not checked[/]")


@app.command("key")
def key_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory holding ledger.key.")],
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Print the log's public verifier key, to publish so auditors can pass it to 'verify --key'."""
    check_urls(store_url, bus_url)
    if store_url is not None:  # the key the shared log is signed with, as published in the store
        store = open_cli_store(data_dir, store_url)
        try:
            published = store.ledger_verifier_key()
        finally:
            store.close()
        if published is None:
            raise _fail("the store has no published ledger key yet: the sequencer (`truceline worker`) publishes it")
        typer.echo(published)
        return
    try:
        typer.echo(load_key(data_dir).verifier_key())
    except KeyFileError as exc:
        raise _fail(str(exc)) from None


def _print_report(console: Console, report: BundleReport) -> None:
    if report.ok:
        sizes = sorted({c.size for c in report.checkpoints if c.size is not None})
        top = max((c for c in report.checkpoints if c.size == report.verified_size), key=lambda c: c.size or 0)
        console.print(
            f"[bold green]✓ bundle verified[/]: {counted(report.leaf_count, 'leaf', 'leaves')}, "
            f"{counted(len(report.checkpoints), 'signed checkpoint')} (sizes {', '.join(map(str, sizes))}), origin {escape(report.origin or '?')}"
        )
        root = top.to_dict()["root"]
        console.print(f"  root at size {report.verified_size}: {root}")
        source = "trusted key given with --key" if report.key_trusted else (
            "the bundle's own key — compare it with the key the log publishes"
        )
        console.print(f"  signed by {escape(report.verifier_key or '?')} ({source})")
        return
    first = report.first_problem
    assert first is not None
    console.print(f"[bold red]✗ bundle rejected[/] — {escape(str(first))}")
    others = report.problems[1:11]
    for problem in others:
        console.print(f"  also: {escape(str(problem))}")
    hidden = len(report.problems) - 1 - len(others) + report.omitted_problems
    if hidden > 0:
        console.print(f"  ... and {hidden:,} more {'problem' if hidden == 1 else 'problems'} (use --json for all)")
