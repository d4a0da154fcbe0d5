"""Server settings: where the data lives and the limits that protect the service from oversized input."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from truceline.domain.observation import DEFAULT_CLOCK_SKEW

#: The collector's first threshold in the parser workers and the serving process (Python's default is 700): a
#: 1,000-observation batch, or a batch fusion made with the collector paused, would trigger ~60 young collections.
GC_FIRST_THRESHOLD = 50_000

ADMIN_KEY_FILENAME = "admin.key"


@dataclass(frozen=True)
class Settings:
    """Everything ``create_app`` needs; defaults suit one monitoring cell on one machine."""

    data_dir: Path
    max_body_bytes: int = 32 * 1024 * 1024
    max_batch_items: int = 10_000
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    max_page_size: int = 10_000
    fusion: bool = True  # run live fusion
    fusion_process: bool = False  # fuse in a child process (service/fusion_process.py) instead of a thread of this one
    parse_workers: int = 0  # processes that parse and prepare observation batches (0: in the server process)
    mqtt_url: str | None = None  # subscribe to a broker (mqtt://host:port) for native JSON from field sensors
    mqtt_org: str | None = None  # the one organisation the MQTT subscription writes for (required with mqtt_url)
    mqtt_topic: str = "truceline/obs/#"
    cot_host: str = "127.0.0.1"  # interface the Cursor-on-Target listeners bind
    cot_tcp_port: int | None = None  # Cursor-on-Target TCP stream listener (TAK clients), off by default
    cot_udp_port: int | None = None  # Cursor-on-Target UDP datagram listener, off by default
    cot_org: str | None = None  # the one organisation CoT listeners write for (required with a CoT port)
    cot_releasable_to: tuple[str, ...] = ()  # releasability of CoT observations; empty = the owner only
    upstream_url: str | None = None  # a national node: the coalition hub's /api/v1 to forward to
    upstream_key: str | None = field(default=None, repr=False)  # the nation's contributor key issued by the hub
    upstream_alert_after_s: float = 300.0  # alert when the oldest observation pending for the hub is older
    upstream_pull_every_s: float = 30.0  # pull the hub's picture as released to this nation this often (0: never)
    node_name: str = "node"  # how this node names itself in the hub's register
    ais_feeds: tuple[str, ...] = ()  # AIS NMEA feeds read as a client: HOST:PORT (TCP) or udp://HOST:PORT
    adsb_feeds: tuple[str, ...] = ()  # dump1090/readsb feeds: HOST:PORT[/sbs|beast|avr]
    cluster: bool = False  # an API replica on PostgreSQL + NATS: no fusion, ledger appends or witness here (workers)
    witness_every_s: float = 5.0  # sign the log's head (if it grew) and copy it to DATA_DIR/ledger.witness this often
    # The interpreter's thread switch interval while serving (None: leave Python's 5 ms). The writer thread
    # gives up the interpreter lock for every SQLite step and waits to get it back; a thread that computes
    # (fusion, parsing in-process) keeps it up to the interval each time (docs/performance.md).
    switch_interval_s: float | None = None
    # The collector's first threshold while serving (None: leave Python's 700). Fusion pauses the collector while
    # it fuses a batch; the first young collection afterwards scans everything the batch left alive, and at 700
    # that happens every few hundred objects again (docs/performance.md, "Fusion runner, fourth round").
    gc_first_threshold: int | None = None
