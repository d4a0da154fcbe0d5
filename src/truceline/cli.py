"""``truceline`` command line: serve, demo, ingest, bench (and the ledger commands)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from truceline import cli_help, cli_upstream
from truceline.access.policy import Role
from truceline.cli_airsea import TRACK_FORMATS, feed_options, run_track_ingest, sniff_track_format
from truceline.cli_export import app as export_app
from truceline.cli_fusion import app as fusion_app
from truceline.cli_keys import keys_app, orgs_app
from truceline.cli_ledger import app as ledger_app
from truceline.cli_listener_options import check_code, cot_options, mqtt_options
from truceline.cli_numbers import finite_float, plain_int
from truceline.cli_report import app as report_app
from truceline.cli_store import BusUrl, StoreUrl, check_urls, open_cli_store, refuse_cluster
from truceline.cli_text import app as text_app
from truceline.cli_words import counted
from truceline.cli_worker import app as worker_app
from truceline.ingest.format_names import FORMATS
from truceline.ingest.records import FormatError

if TYPE_CHECKING:  # the heavy layers are imported by the commands that use them: every command starts fast
    from truceline.ingest.pipeline import IngestSummary
    from truceline.service.fuser_lock import FuserLock
    from truceline.store.sqlite import SqliteStore

cli_help.install()
app = typer.Typer(
    name="truceline",
    help="Monitor and verify a ceasefire: ingest observations, fuse, verify, publish verifiable reports.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
DEMO_DATA_DIR = Path("truceline-demo")

#: The formats `ingest --format` takes (a Literal, so --help lists them and the parser checks them); the
#: tuple is built at run time, so to a type checker it is a plain string.
if TYPE_CHECKING:
    IngestFormat = str
else:
    IngestFormat = Literal[FORMATS + TRACK_FORMATS]
_KEY_ROLES = "[" + "|".join(r.value for r in Role if r is not Role.ADMIN) + "]"
DataDir = Annotated[Path, typer.Option("--data-dir", help="Directory holding the database and keys (created if missing).")]
# `serve`'s thread switch interval (Python's default is 5 ms): the SQLite writer thread hands the interpreter lock
# back and forth for every step, while the request path (and, with `--fusion-in thread`, fusion) computes in other
# threads of the same process (docs/performance.md).
SERVE_SWITCH_INTERVAL_S = 0.0005
FusionIn = Literal["process", "thread"]
EXIT_FUSER_BUSY = 3  # another process already fuses the data dir; nothing was changed


def _claim_fusion(data_dir: Path, required: bool, hint: str) -> FuserLock | None:
    """Take DATA_DIR's fuser lock before anything changes; without it two fusers race on the cursor.

    A busy data dir ends the command (exit 3) when fusing is ``required``; otherwise this says who fuses
    and returns None, and the caller goes on without fusing.
    """
    from truceline.service.fuser_lock import FuserBusy, FuserLock

    try:
        return FuserLock.acquire(data_dir)
    except OSError as exc:
        console.print(f"error: cannot lock {data_dir} for fusion: {exc}", style="red", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(2) from None
    except FuserBusy as exc:
        if required:
            console.print(f"error: {exc}. {hint}", style="red", soft_wrap=True, markup=False, highlight=False)
            raise typer.Exit(EXIT_FUSER_BUSY) from None
        console.print(f"{exc}. {hint}", style="yellow", soft_wrap=True, markup=False, highlight=False)
        return None


def _open(data_dir: Path, lock: FuserLock | None = None, store_url: str | None = None) -> SqliteStore:
    """The data dir's store (or ``store_url``'s), or exit 2 with the reason (releasing ``lock``, taken for nothing)."""
    return open_cli_store(data_dir, store_url, on_error=lock.release if lock is not None else None)  # type: ignore[no-any-return]


def witness_head(store: SqliteStore, data_dir: Path) -> None:
    """Sign the log's head (if it grew) and copy it to the witness file, after the commit (see ledger.witness)."""
    from truceline.ledger.checkpoint import ensure_ledger_key
    from truceline.ledger.witness import WitnessWriter

    WitnessWriter(lambda: store.ledger_checkpoint(ensure_ledger_key(data_dir)), data_dir).witness_now()


def _serve_until_stopped(config: Any, end_streams: Callable[[], None]) -> None:
    """Run uvicorn, ending the event streams as soon as shutdown begins.

    Streams never end by themselves, and uvicorn waits for open connections (up to its graceful timeout)
    before the app's own shutdown would close the bus: every open analyst's page would hold a stop for
    seconds. Closing the bus on the signal ends each stream cleanly, so shutdown is prompt.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            end_streams()
            super().handle_exit(sig, frame)

    Server(config).run()


def _run_server(
    data_dir: Path, store: SqliteStore, host: str, port: int, open_browser: bool, fuser_lock: FuserLock | None,
    start_day: str | None = None, cluster: tuple[str, str] | None = None, fusion_in: FusionIn = "process", **listeners: Any,
) -> None:
    """Serve until interrupted; fuse exactly when this process holds ``fuser_lock``, in a child process
    (``fusion_in="process"``) or in a thread of this one (``"thread"``).

    ``start_day`` (YYYY-MM-DD): the day the page should open on (the demo's suggested day). ``cluster``:
    (store URL, bus URL) of an API replica (see :mod:`truceline.cli_cluster`).
    """
    import uvicorn

    from truceline.api.app import create_app
    from truceline.api.auth import ensure_admin_key, read_admin_key
    from truceline.cli_cluster import ensure_replica_admin_key, no_admin_file_notice, replica_name, start_bus
    from truceline.cli_demo import announce_door, door_url
    from truceline.service.settings import GC_FIRST_THRESHOLD, Settings

    bus = None
    try:
        if cluster is None:
            key_path, created = ensure_admin_key(store, data_dir)
        else:
            key_path, created = ensure_replica_admin_key(store, data_dir, cluster[0])
            no_admin_file_notice(console, key_path)
            bus = start_bus(cluster[1], console, replica_name(host, port))
        if created:
            console.print(f"Admin API key written to [bold]{key_path}[/] (mode 0600). Keep it secret.")
        url = f"http://{host}:{port}/"
        console.print(f"Serving on [bold]{url}[/]  (API docs at {url}docs; Ctrl+C stops)")
        if key_path.exists():
            announce_door(door_url(host, port, read_admin_key(data_dir)), key_path, open_browser, start_day)
        application = create_app(
            Settings(
                data_dir=data_dir, fusion=fuser_lock is not None, fusion_process=fusion_in == "process", parse_workers=min(2, os.cpu_count() or 1),
                cluster=cluster is not None, switch_interval_s=SERVE_SWITCH_INTERVAL_S,
                gc_first_threshold=GC_FIRST_THRESHOLD, **listeners,
            ),
            store,
            bus=bus,
            fuser_lock=fuser_lock,
        )
        # Other requests get 5 s to finish on shutdown; the event streams are ended at once (see below).
        config = uvicorn.Config(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
        _serve_until_stopped(config, application.state.bus.close)
    finally:
        if bus is not None:
            bus.close()
        store.close()
        if fuser_lock is not None:
            fuser_lock.release()


@app.command()
def serve(
    data_dir: DataDir,
    port: Annotated[int, typer.Option(help="TCP port.", parser=plain_int)] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    agreement: Annotated[
        Path | None, typer.Option(help="Agreement YAML to put in force (kept as a new version if it differs).", dir_okay=False)
    ] = None,
    fusion: Annotated[
        bool | None,
        typer.Option(
            "--fusion/--no-fusion",
            help="Fuse what the server accepts (--fusion: or exit 3 if another fuser works on DATA_DIR); --no-fusion: never."
            " Default: fuse unless `truceline fuse` (or another server) already does.",
        ),
    ] = None,
    fusion_in: Annotated[
        FusionIn,
        typer.Option(
            "--fusion-in",
            help="Where the server fuses: in a child process it supervises (a core of its own; it restarts it if it dies)"
            " or in a thread of the server process (one core for both, one process less).",
        ),
    ] = "process",
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Also take native JSON from an MQTT broker, e.g. mqtt://127.0.0.1:1883 (QoS 1, persistent session).")
    ] = None,
    mqtt_org: Annotated[str | None, typer.Option("--mqtt-org", help="The organisation MQTT messages are written for (required with --mqtt).")] = None,
    mqtt_topic: Annotated[str, typer.Option("--mqtt-topic", help="Topic filter to subscribe to.")] = "truceline/obs/#",
    cot_tcp: Annotated[int | None, typer.Option("--cot-tcp", help="Also take Cursor-on-Target XML from TAK clients on this TCP port (on --host).", parser=plain_int)] = None,
    cot_udp: Annotated[int | None, typer.Option("--cot-udp", help="Also take Cursor-on-Target XML datagrams on this UDP port (on --host).", parser=plain_int)] = None,
    cot_org: Annotated[
        str | None, typer.Option("--cot-org", help="The organisation CoT events are written for (required with --cot-tcp/--cot-udp).")
    ] = None,
    cot_releasable_to: Annotated[
        list[str] | None,
        typer.Option("--cot-releasable-to", help="Organisation or group CoT observations are releasable to (repeat); default: --cot-org only."),
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a web browser (one is opened only when run from a terminal).")
    ] = False,
    upstream: cli_upstream.Upstream = None,
    upstream_key: cli_upstream.UpstreamKey = None,
    upstream_alert_after: cli_upstream.UpstreamAlertAfter = 300.0,
    node_name: cli_upstream.NodeName = None,
    upstream_pull_every: cli_upstream.UpstreamPullEvery = 30.0,
    ais: Annotated[list[str] | None, typer.Option("--ais", help="Read AIS NMEA from HOST:PORT (TCP client) or udp://HOST:PORT (repeat).")] = None,
    adsb: Annotated[list[str] | None, typer.Option("--adsb", help="Read dump1090/readsb at HOST:PORT or HOST:PORT/FORMAT as a client (FORMAT: sbs, beast or avr; default by port: 30003 sbs, 30002 avr, 30005 beast; repeat).")] = None,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Run the HTTP API. The first start creates DATA_DIR, its database and DATA_DIR/admin.key.

    One fuser per data dir: by default the server fuses unless another process already does, in which case
    it serves without fusing (it says so here and in GET /api/v1/status) and /stream carries no incident events.
    With --store and --bus it is one API replica of a scale-out deployment (docs/cluster-api.md): any number
    share the store and bus, and `truceline worker` fuses and keeps the ledger.
    """
    cluster = check_urls(store_url, bus_url, both=True)
    listeners: dict[str, Any] = cli_upstream.upstream_options(
        upstream, upstream_key, upstream_alert_after, node_name, upstream_pull_every
    )
    if mqtt is not None:
        listeners.update(mqtt_url=mqtt, mqtt_org=mqtt_options(mqtt, mqtt_org), mqtt_topic=mqtt_topic)
    if cot_tcp is not None or cot_udp is not None:
        listeners.update(cot_options(host, cot_tcp, cot_udp, cot_org, cot_releasable_to or []))
    if ais or adsb:
        listeners.update(feed_options(ais or [], adsb or [], console))
    if cluster:
        from truceline.cli_cluster import refuse_fusion_flag

        refuse_fusion_flag(fusion)
        fusion = False
    lock = None
    if fusion is not False:
        hint = (
            "Stop it first, or serve beside it with --no-fusion."
            if fusion
            else "Serving without fusion of its own (see GET /api/v1/status); /stream carries no incident events."
        )
        lock = _claim_fusion(data_dir, required=bool(fusion), hint=hint)
    store = _open(data_dir, lock, store_url)
    if agreement is not None:
        _put_agreement(store, agreement, lock)
    from truceline.cli_demo import attached_to_terminal

    _run_server(
        data_dir, store, host, port, open_browser=not no_browser and attached_to_terminal(), fuser_lock=lock,
        cluster=(store_url, bus_url) if store_url and bus_url else None, fusion_in=fusion_in, **listeners,
    )


@app.command()
def fuse(
    data_dir: DataDir,
    follow: Annotated[bool, typer.Option("--follow", help="Keep fusing new observations until interrupted.")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between looks for new observations with --follow.", parser=finite_float)] = 0.5,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Fuse the observations of DATA_DIR not yet fused, in a process of its own (beside `serve`).

    One fuser per data dir: while another `fuse` or a fusing server works on DATA_DIR this exits
    with status 3, naming it, and changes nothing. Live incident events reach /stream only with in-server fusion.
    """
    from truceline.service.fusion import FusionWorker, WholeStore, settled_collector
    from truceline.service.fusion_writer import IncidentWriter

    check_urls(store_url, bus_url)
    refuse_cluster(store_url, "fuse", "on a shared store `truceline worker` fuses, sector by sector, under leases")
    lock = _claim_fusion(data_dir, required=True, hint="Stop it first.")
    store = _open(data_dir, lock)
    writer = IncidentWriter(store.path, store.synchronous)  # stores each batch while the next is fused, as in serve
    worker = FusionWorker(store, scope=WholeStore(store, writer))
    total = 0
    try:
        with _progress(console) as progress:
            task = progress.add_task("fusion", total=None)
            worker.recover()  # the open incidents of the window, rebuilt
            with settled_collector():
                total = worker.run_until_idle(lambda n: progress.update(task, completed=n))
        console.print(f"fused {counted(total, 'observation')}; cursor at {store.fusion_cursor():,}")
        if follow:  # a failed step is logged and fused again from a fresh fuser, as in the server
            with settled_collector():
                worker.follow(poll)
    except KeyboardInterrupt:
        console.print(f"stopped after {counted(worker.read, 'observation')}")
    finally:
        writer.close()  # the batch it has is stored whole (it ignores Ctrl-C) or not at all
        store.close()
        if lock is not None:
            lock.release()


def _put_agreement(store: SqliteStore, path: Path, lock: FuserLock | None = None) -> None:
    """Put an agreement file in force, or exit 2 with every problem (closing the store, releasing ``lock``)."""
    from truceline.store.sqlite import StoreError
    from truceline.verify.agreement_loader import AgreementError, load_agreement

    try:
        loaded = load_agreement(path)
        saved = store.save_agreement(loaded.canonical_document(), loaded.digest(), "cli")
    except AgreementError as exc:
        console.print(f"[red]error:[/] agreement {path} refused; the version in force is unchanged:")
        for problem in exc.as_dicts():
            console.print(f"  {problem['file']} {problem['where']}: {problem['reason']}")
    except StoreError as exc:
        console.print(f"[red]error:[/] {exc}")
    else:
        if saved is not None:
            console.print(f"Agreement {saved['id']} version {saved['version']} in force ({saved['digest'][:19]}…)")
        return
    store.close()
    if lock is not None:
        lock.release()
    raise typer.Exit(2)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the demo keeps its data.")] = DEMO_DATA_DIR,
    port: Annotated[int, typer.Option(help="TCP port.", parser=plain_int)] = 8000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a web browser.")] = False,
    load_only: Annotated[bool, typer.Option("--load-only", help="Load the sample and exit without serving.")] = False,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Load the bundled real sample and a simulated week of ceasefire violations into DATA_DIR, and serve it.

    Real: the ISW line of contact (2023-03-04) as the agreement's line, FIRMS fire detections of April–June 2023.
    Simulated, and marked so everywhere: a week of both parties' fire and other breaches on that line, seen by
    several nations' sensors (docs/demo.md). Prints the violations by party and the day to look at, then the
    page's URL carrying the admin key. No external services needed.
    """
    from truceline.api.auth import ensure_admin_key
    from truceline.cli_demo import load_demo, print_summary
    from truceline.sim.demo_week import DEMO_DAY

    check_urls(store_url, bus_url)
    refuse_cluster(store_url, "demo", "the demo is the embedded server (one data dir, nothing else needed)")
    lock = _claim_fusion(data_dir, required=True, hint="The demo fuses: stop it first, or use another --data-dir.")
    store = _open(data_dir, lock)
    print_summary(load_demo(store, console), data_dir, console)
    if load_only:
        ensure_admin_key(store, data_dir)
        store.close()
        if lock is not None:
            lock.release()
        return
    _run_server(data_dir, store, host, port, open_browser=not no_browser, fuser_lock=lock, start_day=DEMO_DAY.isoformat())


def _progress(target: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=target,
        transient=True,
        disable=not target.is_terminal,
    )


@app.command()
def ingest(
    data_dir: DataDir,
    files: Annotated[list[Path], typer.Argument(help="Files to ingest.", exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        IngestFormat,
        typer.Option("--format", metavar="FORMAT", help=f"One of {', '.join(FORMATS + TRACK_FORMATS)} (auto: recognised by content)."),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    fire_baseline: Annotated[
        list[Path] | None,
        typer.Option(
            "--fire-baseline",
            help="FIRMS CSV (or .csv.gz) of a whole pre-war year for the conflict-fire analytic; repeat for more years. "
            "Default: the bundled 2021 file.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    org: Annotated[
        str | None, typer.Option("--org", help="Organisation the records belong to, for formats that carry none (cot, klv) and SensorThings entities without properties.org.")
    ] = None,
    releasable_to: Annotated[
        list[str] | None,
        typer.Option("--releasable-to", help="With --org: organisation or group the records are releasable to (repeat); default: --org only."),
    ] = None,
    sbs_timezone: Annotated[str | None, typer.Option("--sbs-timezone", help="sbs: the zone of the feeder's clock (UTC, Europe/Kyiv).")] = None,
    start_time: Annotated[str | None, typer.Option("--start-time", help="beast/avr with time stamps: UTC time of the first message.")] = None,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Validate and store observations from files; bad records are reported with their place, good ones kept.

    FIRMS files are judged by the conflict-fire analytic as a whole (give a file covering weeks, not a day):
    flagged detections become evidence for fusion, the rest are kept but not fused.

    Exit status: 0 all records accepted, 1 some records rejected, 2 a file could not be read at all.
    With --store the records go to the shared store; the sequencer gives them their ledger leaves.
    """
    check_urls(store_url, bus_url)
    sniffed = {sniff_track_format(path) for path in files} if fmt == "auto" else set()
    if len(sniffed) == 1 and None not in sniffed:  # AIS NMEA or a Mode S framing: messages into tracks
        fmt = sniffed.pop()  # type: ignore[assignment]
    if fmt in TRACK_FORMATS:
        raise typer.Exit(run_track_ingest(lambda: _open(data_dir, None, store_url), files, fmt, as_json, sbs_timezone, start_time, console))
    owner = check_code(org, "organisation") if org is not None else None
    labels = [check_code(label, "releasability label") for label in releasable_to or []]
    store = _open(data_dir, None, store_url)
    summaries: list[dict[str, Any]] = []
    exit_code = 0
    try:
        for path in files:
            try:
                summary = _ingest_file(store, path, fmt, fire_baseline or [], owner, labels)
            except FormatError as exc:
                console.print(f"[red]error:[/] {path}: {exc}")
                summaries.append({"file": str(path), "error": str(exc)})
                exit_code = 2
                continue
            summaries.append(summary.as_dict())
            if summary.rejected_count:
                exit_code = max(exit_code, 1)
            if not as_json:
                _print_summary(summary)
        if store_url is None:  # on a shared store the sequencer appends and signs
            witness_head(store, data_dir)
    finally:
        store.close()
    if as_json:
        sys.stdout.write(orjson.dumps({"files": summaries}, option=orjson.OPT_INDENT_2).decode() + "\n")
    raise typer.Exit(exit_code)


def _ingest_file(
    store: SqliteStore, path: Path, fmt: str, fire_baseline: list[Path], org: str | None = None, releasable_to: list[str] | None = None
) -> IngestSummary:
    from truceline.ingest.firms_flags import FireAnalysis
    from truceline.ingest.pipeline import IngestSummary, ingest_records, open_records

    fires = FireAnalysis()
    detected, records, position, handle = open_records(
        path, fmt, fires=fires, fire_baseline=fire_baseline, org=org, releasable_to=releasable_to or []
    )
    summary = IngestSummary(source=str(path), format=detected, fires=fires if detected == "firms" else None)
    size = path.stat().st_size
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task(f"{path.name} ({detected})", total=size)
            ingest_records(store, records, summary, on_chunk=lambda s: progress.update(task, completed=position()))
    finally:
        handle.close()
    return summary


def _print_summary(summary: IngestSummary) -> None:
    console.print(
        f"[bold]{summary.source}[/] ({summary.format}): {counted(summary.records, 'record')}, "
        f"[green]{summary.accepted:,} accepted[/] ({summary.stored:,} new, {counted(summary.duplicates, 'duplicate')}"
        + (f", {counted(len(summary.conflicts), 'id')} reused with different content, kept unchanged" if summary.conflicts else "")
        + f"), [red]{summary.rejected_count:,} rejected[/]"
    )
    if summary.fires is not None:
        console.print(
            f"  conflict fires: {summary.fires.flagged:,} of {counted(summary.fires.analysed, 'detection')} flagged "
            f"(baseline: {summary.fires.baseline})"
        )
    if summary.rejected:
        table = Table("where", "field", "reason", show_edge=False)
        for rejection in summary.rejected[:20]:
            table.add_row(rejection.where, rejection.field, rejection.message)
        console.print(table)
        if len(summary.rejected) > 20:
            console.print(f"… and {len(summary.rejected) - 20:,} more (use --json for all)")


app.add_typer(keys_app, name="keys")
app.add_typer(text_app)
app.add_typer(report_app, name="report")
app.registered_commands.extend(fusion_app.registered_commands)  # simulate, eval at top level
app.add_typer(ledger_app, name="ledger", help="Evidence ledger: export an offline bundle, verify one, show the public key.")
app.add_typer(orgs_app, name="orgs")
app.add_typer(export_app, name="export")
app.registered_commands.extend(worker_app.registered_commands)  # worker (cluster roles)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Benchmark name: a script bench/NAME.py of the source checkout.")],
) -> None:
    """Run a benchmark from the source checkout's bench/ folder; further options go to the benchmark."""
    bench_dir = Path(__file__).resolve().parents[2] / "bench"
    script = bench_dir / f"{name}.py"
    if not script.is_file():
        available = sorted(p.stem for p in bench_dir.glob("*.py")) if bench_dir.is_dir() else []
        console.print(f"[red]error:[/] no benchmark {name!r}" + (f"; available: {', '.join(available)}" if available else " (bench/ is only in a source checkout)"))
        raise typer.Exit(2)
    spec = importlib.util.spec_from_file_location(f"truceline_bench_{name}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raise typer.Exit(module.main(list(ctx.args)))


if __name__ == "__main__":  # pragma: no cover
    app()
