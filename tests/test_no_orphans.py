"""No process truceline starts outlives it: ``kill -9`` of ``serve`` ends its parser pool, fusion process and resource tracker.

Before issue 20 the parser worker and multiprocessing's resource tracker (~190 MB) stayed alive under PID 1.
Real processes throughout: the children are found through /proc before the kill, as an operator would.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import LiveServer, native, start_server
from truceline.service.procs import die_with_parent


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def descendants(root: int) -> dict[int, str]:
    """Every process below ``root`` now, keyed by pid, with its start time (to tell pid reuse apart)."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            parents.setdefault(info[0], []).append((int(entry), info[2]))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for pid, started in parents.get(todo.pop(), []):
            found[pid] = started
            todo.append(pid)
    return found


def alive(pid: int, started: str) -> bool:
    info = _stat(pid)
    return info is not None and info[2] == started and info[1] != "Z"


def cmdline(pid: int) -> str:
    """The process's command line, words joined by spaces (``?`` once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def test_kill_9_of_serve_leaves_no_child_alive(tmp_path: Path) -> None:
    _kill_9_leaves_no_child(start_server(tmp_path / "data"), fusion_process=True)


def test_kill_9_of_an_api_replica_leaves_no_child_alive(tmp_path: Path, pg_dsn: str, nats: Any) -> None:
    """The same in cluster mode (``serve --store --bus``): its parser pool must not outlive it either."""
    from tests.services import terminate_connections

    try:
        _kill_9_leaves_no_child(start_server(tmp_path / "data", ["--store", pg_dsn, "--bus", nats.url]))
    finally:
        terminate_connections(pg_dsn)


def _kill_9_leaves_no_child(server: LiveServer, fusion_process: bool = False) -> None:
    try:
        batch = [native(id=f"orphan-{i}") for i in range(20)]
        response = httpx.post(server.url + "/api/v1/observations", json=batch,
                              headers={"Authorization": f"Bearer {server.key}"}, timeout=60)  # fmt: skip
        assert response.status_code == 201, response.text
        children = descendants(server.process.pid)
        commands = {pid: cmdline(pid) for pid in children}
        assert any("multiprocessing" in c and "spawn_main" in c for c in commands.values()), commands  # the parser
        assert any("resource_tracker" in c for c in commands.values()), commands
        assert any("truceline.service.fusion_process" in c for c in commands.values()) == fusion_process, commands
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p, s) for p, s in children.items()):
            time.sleep(0.1)
        survivors = {pid: commands[pid] for pid, started in children.items() if alive(pid, started)}
        assert survivors == {}, f"still alive 10 s after kill -9 of serve: {survivors}"
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    """The race: a parent that died before the child's prctl would never signal it, so the child checks."""
    pid = os.fork()
    if pid == 0:  # the child: pretend our parent was someone else (already dead)
        try:
            die_with_parent(os.getppid() + 1_000_000)
        finally:
            os._exit(0)  # reached only if die_with_parent did not exit
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 1
