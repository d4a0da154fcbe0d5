"""``serve``'s listener options (CoT, MQTT) and organisation codes, checked before anything starts."""

from __future__ import annotations

import re
from typing import Any

import typer
from rich.console import Console

console = Console(stderr=True, soft_wrap=True)

_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")


def check_code(code: str, what: str) -> str:
    if not _CODE.match(code):
        console.print(f"[red]error:[/] {what} {code!r} must be 2–32 upper-case letters, digits, '_' or '-', starting with a letter")
        raise typer.Exit(2)
    return code


def cot_options(host: str, tcp: int | None, udp: int | None, org: str | None, releasable_to: list[str]) -> dict[str, Any]:
    """Check the CoT listener options before anything starts; returns the Settings fields."""
    for name, port in (("--cot-tcp", tcp), ("--cot-udp", udp)):
        if port is not None and not 0 < port < 65536:
            console.print(f"[red]error:[/] {name} {port} is not a port number (1–65535)")
            raise typer.Exit(2)
    if org is None:
        console.print("[red]error:[/] --cot-tcp/--cot-udp need --cot-org ORG: TAK clients carry no keys, so say which organisation they write for")
        raise typer.Exit(2)
    labels = tuple(check_code(label, "releasability label") for label in releasable_to)
    return {"cot_host": host, "cot_tcp_port": tcp, "cot_udp_port": udp, "cot_org": check_code(org, "organisation"), "cot_releasable_to": labels}


def mqtt_options(url: str, org: str | None) -> str:
    """Check --mqtt and --mqtt-org before anything starts; returns the organisation."""
    from truceline.service.mqtt_intake import parse_broker_url

    try:
        parse_broker_url(url)
    except ValueError as exc:
        console.print(f"[red]error:[/] --mqtt: {exc}")
        raise typer.Exit(2) from None
    if org is None:
        console.print("[red]error:[/] --mqtt needs --mqtt-org ORG: the broker carries no keys, so say which organisation it writes for")
        raise typer.Exit(2)
    return check_code(org, "organisation")
