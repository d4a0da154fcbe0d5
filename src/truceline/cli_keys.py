"""``truceline keys`` and ``truceline orgs``: API keys and the organisations and groups they read for.

They work on DATA_DIR's store, or with ``--store`` on the shared PostgreSQL store of a scale-out deployment
(a key created there is valid on every API replica at once).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from truceline.access.policy import Role
from truceline.cli_listener_options import check_code
from truceline.cli_store import BusUrl, StoreUrl, check_urls, open_cli_store
from truceline.domain.revocation import RevocationReason
from truceline.store.sqlite import StoreError

__all__ = ["keys_app", "orgs_app"]

console = Console(stderr=True, soft_wrap=True)
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations and the groups (e.g. COALITION) they belong to.", no_args_is_help=True)
_KEY_ROLES = "[" + "|".join(r.value for r in Role if r is not Role.ADMIN) + "]"
DataDir = Annotated[Path, typer.Option("--data-dir", help="Directory holding the database and keys (created if missing).")]
OrgCode = Annotated[str, typer.Option("--org", help="Organisation code, e.g. FR.")]


@keys_app.command("create")
def keys_create(
    data_dir: DataDir,
    org: OrgCode,
    role: Annotated[Role, typer.Option("--role", metavar=_KEY_ROLES, help="What the key may do (admin keys are made on first start only).")],
    label: Annotated[str, typer.Option(help="Free note, e.g. who holds the key.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help='Print {"key": ..., "key_id": ...} on stdout.')] = False,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Create an API key. The key is printed once and stored only as a hash."""
    check_code(org, "organisation")
    if role is Role.ADMIN:
        console.print("[red]error:[/] admin keys are created only on first start (DATA_DIR/admin.key)")
        raise typer.Exit(2)
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        key, secret = store.create_api_key(org, role, label)
    finally:
        store.close()
    if as_json:
        sys.stdout.write(orjson.dumps({"key": secret, "key_id": key.key_id, "org": org, "role": role.value}).decode() + "\n")
    else:
        console.print(f"key id {key.key_id} for {org} ({role.value}); the key is shown only now:")
        sys.stdout.write(secret + "\n")


@keys_app.command("list")
def keys_list(
    data_dir: DataDir, store_url: StoreUrl = None, bus_url: BusUrl = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List keys (never their secrets)."""
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        keys = store.list_api_keys()
    finally:
        store.close()
    rows = [k.as_dict() for k in keys]
    if as_json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("key id", "org", "role", "label", "created", "revoked")
    for row in rows:
        table.add_row(row["key_id"], row["org"], row["role"], row["label"], row["created_at"][:19], (row["revoked_at"] or "")[:19])
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    data_dir: DataDir,
    key_id: Annotated[str, typer.Argument(help="The key id from `keys list`.")],
    reason: Annotated[
        RevocationReason,
        typer.Option("--reason", help="retired: its past work stands; compromised: its work from --since stops counting."),
    ] = RevocationReason.RETIRED,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z"], help="Compromised only: from when, e.g. 2023-04-01T00:00:00Z (default: now).")] = None,
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Revoke a key at once (requests with it get 401 from then on), recorded as a ledger leaf."""
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        revoked = store.revoke_api_key(key_id, reason, since, "cli")
    except StoreError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if not revoked:
        console.print(f"[red]error:[/] no live key with id {key_id!r}")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked ({reason.value})")


@orgs_app.command("set")
def orgs_set(
    data_dir: DataDir,
    code: Annotated[str, typer.Argument(help="Organisation code, e.g. FR.")],
    groups: Annotated[list[str] | None, typer.Option("--group", help="Group it belongs to (repeat); PUBLIC is implicit.")] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    store_url: StoreUrl = None,
    bus_url: BusUrl = None,
) -> None:
    """Register an organisation and set its groups (replacing earlier ones)."""
    check_code(code, "organisation")
    for group in groups or []:
        check_code(group, "group")
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        store.set_organisation(code, groups or [], name)
    finally:
        store.close()
    console.print(f"{code}: groups {', '.join(sorted(groups or [])) or '(none besides PUBLIC)'}")


@orgs_app.command("list")
def orgs_list(
    data_dir: DataDir, store_url: StoreUrl = None, bus_url: BusUrl = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List organisations and their groups."""
    check_urls(store_url, bus_url)
    store = open_cli_store(data_dir, store_url)
    try:
        orgs = store.list_organisations()
    finally:
        store.close()
    if as_json:
        sys.stdout.write(orjson.dumps(orgs).decode() + "\n")
        return
    table = Table("organisation", "groups")
    for code, member_of in orgs.items():
        table.add_row(code, ", ".join(member_of))
    Console().print(table)


