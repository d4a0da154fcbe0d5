"""What ``truceline demo`` loads and says: the real sample, the simulated week, the verdicts, and the door.

The demo puts the bundled agreement (the ISW line of 2023-03-04) in force and ingests two streams through the
normal path (validation, ledger, store): the real FIRMS detections of April–June 2023 and the simulated week
of :mod:`truceline.sim.demo_week`. Both are fed in event order, merged — fusion associates within a time
window, so a week ingested after June would arrive "late" for it. Then everything is fused and the week's
incidents judged, to tell the user what there is to see and on which day.

The door: like Jupyter's token link, the page's URL carries the admin key in its fragment (which browsers
never send to a server), and the key file's path is printed beside it, so a user without a browser (or with
``--no-browser``) can still get in.
"""

from __future__ import annotations

import gzip
import heapq
import io
import itertools
import sys
import webbrowser
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from truceline.domain.review import violation_candidates
from truceline.domain.violation import Violation
from truceline.ingest.firms import decode_firms, read_positions
from truceline.ingest.firms_flags import FireAnalysis, annotate_conflict_fires, load_baseline
from truceline.ingest.pipeline import IngestSummary, ingest_records
from truceline.ingest.records import Record, Rejection
from truceline.sim.demo_week import DEMO_DAY, SIMULATED, WEEK_DAYS, WEEK_START, demo_week
from truceline.store.ports import IncidentQuery
from truceline.store.sqlite import SqliteStore

FIRMS_SAMPLE = "firms-ukraine-2023-04-06.csv.gz"
_CONSOLE_BROWSERS = frozenset({"www-browser", "lynx", "links", "elinks", "w3m"})


@dataclass
class DemoLoad:
    """What the demo loaded: the two ingest summaries and the verdicts on the simulated week."""

    firms: IngestSummary
    simulated: IngestSummary
    week: list[Violation] = field(default_factory=list)
    excused: list[Violation] = field(default_factory=list)


def _week_bounds() -> tuple[datetime, datetime]:
    start = datetime.combine(WEEK_START, time(0), UTC)
    return start, start + timedelta(days=WEEK_DAYS)


def _firms_records(summary: IngestSummary) -> Iterator[tuple[str, Record | Rejection]]:
    """The bundled FIRMS sample as records keyed by event time (file order is date order)."""
    raw = resources.files("truceline.data.demo").joinpath(FIRMS_SAMPLE).read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    assert summary.fires is not None
    records = annotate_conflict_fires(
        lambda: read_positions(io.StringIO(text)), lambda: decode_firms(io.StringIO(text)), load_baseline(), summary.fires
    )
    key = ""
    for item in records:
        if isinstance(item, Record):
            key = str(item.value.get("time", key))
        yield key, item


def _simulated_records() -> Iterator[tuple[str, Record | Rejection]]:
    """The simulated week keyed by arrival time (the order a live mission would receive it in)."""
    for n, timed in enumerate(demo_week(), start=1):
        yield timed.arrival.isoformat().replace("+00:00", "Z"), Record(f"simulated record {n}", timed.record)


def load_demo(store: SqliteStore, console: Console) -> DemoLoad:
    """Put the demo agreement in force, ingest FIRMS and the simulated week merged in time, fuse, judge the week."""
    from truceline.service.fusion import FusionWorker
    from truceline.verify.agreement_loader import load_demo_agreement

    agreement = load_demo_agreement()
    store.save_agreement(agreement.canonical_document(), agreement.digest(), "demo")
    loaded = DemoLoad(
        firms=IngestSummary(source="bundled FIRMS sample, April–June 2023", format="firms", fires=FireAnalysis()),
        simulated=IngestSummary(source=f"simulated week from {WEEK_START}", format="json"),
    )
    streams = (
        ((key, "firms", item) for key, item in _firms_records(loaded.firms)),
        ((key, "simulated", item) for key, item in _simulated_records()),
    )
    merged = heapq.merge(*streams, key=lambda entry: entry[0])
    with _progress(console) as progress:
        task = progress.add_task("demo: ingest", total=None)
        done = 0
        for tag, group in itertools.groupby(merged, key=lambda entry: entry[1]):
            summary = loaded.firms if tag == "firms" else loaded.simulated
            ingest_records(store, (item for _, _, item in group), summary)
            done = loaded.firms.records + loaded.simulated.records
            progress.update(task, completed=done)
        fusing = progress.add_task("demo: fusion", total=store.count_observations() - store.fusion_cursor())
        FusionWorker(store).run_until_idle(lambda n: progress.update(fusing, completed=n))
    loaded.week, loaded.excused = judge_week(store)
    return loaded


def judge_week(store: SqliteStore) -> tuple[list[Violation], list[Violation]]:
    """Violations and excused acts of the simulated week's incidents, as fused (before any review)."""
    from truceline.domain.agreement import Agreement
    from truceline.verify.geometry import geometry_for
    from truceline.verify.rules import judge_all

    document = store.current_agreement_document()
    if document is None:
        return [], []
    agreement = Agreement.from_canonical_document(document)
    start, end = _week_bounds()
    incidents = store.list_incidents(IncidentQuery(since=start, until=end, limit=1_000_000))
    simulated = [i for i in incidents if i.attributes.get(SIMULATED)]
    return judge_all(agreement, geometry_for(agreement), violation_candidates(simulated))


def _counts(violations: Iterable[Violation]) -> str:
    by_party = Counter(v.party for v in violations)
    order = sorted(by_party, key=lambda p: (p == "undetermined", p))
    return ", ".join(f"{p} {by_party[p]}" for p in order) or "none"


def print_summary(loaded: DemoLoad, data_dir: Path, console: Console) -> None:
    """Counts of what was loaded, the week's violations by party and rule, and the day to look at."""
    firms, sim = loaded.firms, loaded.simulated
    console.print(
        f"Demo data in [bold]{data_dir}[/]: {firms.accepted:,} of {firms.records:,} FIRMS detections accepted "
        f"({firms.stored:,} new, {firms.duplicates:,} already there), {firms.rejected_count} rejected.", soft_wrap=True
    )
    if firms.fires is not None:
        console.print(f"{firms.fires.flagged:,} flagged as conflict fires and fused; the rest are kept as background fires.", soft_wrap=True)
    start, end = _week_bounds()
    console.print(
        f"SIMULATED week {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d} on the real line: {sim.accepted:,} of "
        f"{sim.records:,} simulated observations accepted ({sim.stored:,} new, {sim.duplicates:,} already there), "
        f"{sim.rejected_count} rejected; each is marked simulated (attributes.simulated, source ids sim-…).", soft_wrap=True
    )
    rules = Counter(v.rule_id for v in loaded.week)
    console.print(
        f"Violations in the simulated week: {len(loaded.week)} — by party held responsible: {_counts(loaded.week)}; by rule: "
        + ", ".join(f"{r} {n}" for r, n in sorted(rules.items())) + f"; {len(loaded.excused)} excused by a notification"
        + (f" ({', '.join(sorted({v.excused_by or '' for v in loaded.excused}))})." if loaded.excused else "."),
        soft_wrap=True,
    )
    day = [v for v in loaded.week if v.time.date() == DEMO_DAY]
    console.print(
        f"Look at {DEMO_DAY}: {len(day)} violations ({_counts(day)}) on the map and in "
        f"`truceline report daily --data-dir {data_dir} --date {DEMO_DAY} --format html --out report.html`.", soft_wrap=True
    )


def door_url(host: str, port: int, key: str) -> str:
    """The page's URL with the admin key in its fragment (never sent to the server; the page stores it)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/#key={key}"


def announce_door(url: str, key_path: Path, open_browser: bool, start_day: str | None = None) -> None:
    """Print the URL and the key file's path on stdout (always), then open a graphical browser if asked.

    With ``start_day`` the browser opens the page on that day (``?day=``), and a second line gives that link.
    """
    print(f"Open the page (the link carries the admin key): {url}", flush=True)
    print(f"The admin key is in {key_path}; the page asks for it if you open it without the link.", flush=True)
    if start_day is not None:
        base, fragment = url.split("#", 1)
        url = f"{base}?day={start_day}#{fragment}"
        print(f"The page on {start_day} alone: {base}?day={start_day}", flush=True)
    if open_browser:
        try:
            browser = webbrowser.get()
        except webbrowser.Error:
            return
        if getattr(browser, "name", "") in _CONSOLE_BROWSERS:
            return  # a text browser would take over this terminal
        browser.open(url)


def attached_to_terminal() -> bool:
    """Whether a person is likely watching (``serve`` opens a browser only then, as Jupyter would)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _progress(target: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=target,
        transient=True,
        disable=not target.is_terminal,
    )


__all__ = ["DemoLoad", "announce_door", "attached_to_terminal", "door_url", "judge_week", "load_demo", "print_summary"]
