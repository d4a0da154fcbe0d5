"""``serve --upstream``: the options that make a server a national node, checked before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer
from rich.console import Console

from truceline.cli_numbers import finite_float

console = Console(stderr=True, soft_wrap=True)

Upstream = Annotated[
    str | None,
    typer.Option("--upstream", help="Be a national node: forward what may leave this nation to the coalition hub at this URL (its /api/v1).", rich_help_panel="National node"),
]
UpstreamKey = Annotated[
    Path | None,
    typer.Option("--upstream-key", help="File holding the nation's contributor key issued by the hub (required with --upstream).", dir_okay=False, rich_help_panel="National node"),
]
UpstreamAlertAfter = Annotated[
    float,
    typer.Option("--upstream-alert-after", help="Alert (log, /metrics, page) when an observation has waited this many seconds for the hub.", rich_help_panel="National node", parser=finite_float),
]
UpstreamPullEvery = Annotated[
    float,
    typer.Option("--upstream-pull-every", help="Pull back the hub's incidents and violations released to this nation every this many seconds (0: never).", rich_help_panel="National node", parser=finite_float),
]
NodeName = Annotated[
    str | None,
    typer.Option("--node-name", help="How this node names itself in the hub's register (default: the host name).", rich_help_panel="National node"),
]


def upstream_options(
    url: str | None, key_file: Path | None, alert_after: float, node_name: str | None, pull_every: float = 30.0
) -> dict[str, Any]:
    """The Settings fields of a national node, or exit 2 saying what is wrong; {} without --upstream."""
    if url is None:
        if key_file is not None:
            _fail("--upstream-key needs --upstream URL (the hub's /api/v1)")
        return {}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(f"--upstream {url!r} is not an http(s) URL, e.g. https://hub.example.org/api/v1")
    if not parts.path.rstrip("/").endswith("/api/v1"):
        _fail(f"--upstream {url!r} must be the hub's API root, ending in /api/v1")
    if key_file is None:
        _fail("--upstream needs --upstream-key FILE: the nation's contributor key issued by the hub")
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        _fail(f"--upstream-key {key_file}: {exc.strerror or exc}")
    if not key or any(c.isspace() for c in key):
        _fail(f"--upstream-key {key_file} must hold one key and nothing else")
    if not alert_after > 0:
        _fail(f"--upstream-alert-after {alert_after} must be a positive number of seconds")
    if not pull_every >= 0:
        _fail(f"--upstream-pull-every {pull_every} must be 0 (never) or a positive number of seconds")
    return {
        "upstream_pull_every_s": pull_every,
        "upstream_url": url.rstrip("/"),
        "upstream_key": key,
        "upstream_alert_after_s": alert_after,
        "node_name": node_name or socket.gethostname(),
    }


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(2)
