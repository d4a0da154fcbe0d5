"""The scale-out tests' own services work: a fresh database with PostGIS, a private JetStream server."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from nats import connect
from tests.services import NatsServer, terminate_connections


def test_fresh_database_has_postgis_and_is_empty(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT PostGIS_Version()").fetchone()[0].startswith("3.")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'spatial_ref_sys'").fetchone()[0]
        assert tables == 0


def test_terminated_connections_are_counted(pg_dsn: str) -> None:
    conn = psycopg.connect(pg_dsn)
    try:
        assert terminate_connections(pg_dsn) == 1
        try:
            conn.execute("SELECT 1")
        except psycopg.OperationalError:
            pass
        else:  # pragma: no cover - the server must have ended it
            raise AssertionError("the terminated connection still answered")
    finally:
        conn.close()


def test_private_nats_keeps_a_stream_across_kill_and_restart(nats: NatsServer) -> None:
    async def publish() -> Any:
        nc = await connect(nats.url)
        js = nc.jetstream()
        await js.add_stream(name="probe", subjects=["probe.>"])
        ack = await js.publish("probe.a", b"x")
        await nc.close()
        return ack.seq

    async def count() -> int:
        nc = await connect(nats.url)
        info = await nc.jetstream().stream_info("probe")
        await nc.close()
        return int(info.state.messages)

    assert asyncio.run(publish()) == 1
    nats.restart()
    assert asyncio.run(count()) == 1
