"""Real services for the scale-out tests, each test's own: a fresh PostgreSQL database and a private nats-server.

Why: a test that shares a database or a broker with anything else can pass or fail by accident. Every
database made here is created empty (with PostGIS) and dropped afterwards, even when the test fails; every
``nats-server`` runs on a free port with a temporary store directory and dies with the test process
(``PR_SET_PDEATHSIG``), so nothing outlives the suite. The PostgreSQL *server* is the machine's
(``.ci/services`` makes sure it runs); ``TRUCELINE_TEST_PG`` names its maintenance database if it is not the
default below.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

PG_ADMIN_DSN = os.environ.get("TRUCELINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dsn_for(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


@contextmanager
def fresh_database(postgis: bool = True) -> Iterator[str]:
    """Create an empty database (with the PostGIS extension), yield its DSN, drop it afterwards."""
    name = f"truceline_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _dsn_for(name)
    try:
        if postgis:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield dsn
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_connections(dsn: str) -> int:
    """``pg_terminate_backend`` every other connection to ``dsn``'s database; returns how many were ended."""
    database = dsn.rpartition("/")[2].split("?")[0]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def _die_with_parent() -> None:
    from truceline.service.procs import die_with_parent

    die_with_parent(os.getppid())


class NatsServer:
    """A JetStream-enabled ``nats-server`` of one test: a fixed port and store directory across restarts."""

    def __init__(self, store_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.store_dir = store_dir
        self.url = f"nats://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the server and wait until it accepts connections."""
        exe = shutil.which("nats-server")
        if exe is None:
            raise RuntimeError("nats-server is not installed (Debian package nats-server; .ci/services installs it)")
        self._proc = subprocess.Popen(
            [exe, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode} on port {self.port}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not listen on port {self.port} within {timeout_s} s")

    def kill(self) -> None:
        """``kill -9`` the server (what a crash looks like); its store directory stays."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._proc = None

    def stop(self) -> None:
        """Shut the server down cleanly."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def restart(self) -> None:
        """Kill and start again on the same port and store (JetStream recovers its streams from disk)."""
        self.kill()
        self.start()


@contextmanager
def nats_server() -> Iterator[NatsServer]:
    """A private JetStream server for one test, removed with its store afterwards."""
    with tempfile.TemporaryDirectory(prefix="truceline-nats-") as tmp:
        server = NatsServer(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()
