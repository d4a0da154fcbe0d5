"""Child processes that die with their parent, also when the parent is killed with ``kill -9``.

Why: the server parses batches in a pool of spawned processes. A parent killed by SIGKILL runs no cleanup,
so without help its workers (and, through them, multiprocessing's resource tracker, which exits only when
every holder of its pipe has closed it) live on under PID 1, ~190 MB, and may hold the data dir's files.

How: each child asks Linux to send it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then checks
that the parent is still the one that started it: a parent that died between ``fork`` and ``prctl`` would
otherwise never signal. Once the workers are gone the resource tracker reads EOF on its pipe and exits too
(tests/test_no_orphans.py checks both with real processes).

Caveat, by design of Linux: the signal fires when the *thread* that created the child ends. The pool's workers
are created by ``ProcessPoolExecutor.submit``, which the server calls from its event-loop thread (it lives as
long as the process); never create a pool from a short-lived thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

__all__ = ["PR_SET_PDEATHSIG", "die_with_parent", "ignore_interrupts", "orphan_free_pool", "start_workers"]

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """Arrange for SIGKILL when the parent dies; exit at once if ``parent_pid`` is already gone.

    Runs as the pool's initializer, first thing in the child. On systems without ``prctl`` (not Linux) it
    does nothing: truceline's supported platform is Linux, and the pool still works there.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    if os.getppid() != parent_pid:  # the parent died before prctl took effect: nobody will signal us
        os._exit(1)


def ignore_interrupts() -> None:
    """Ignore Ctrl-C in a child its parent ends (closing its input, shutting its pool down) or takes along when it
    dies: the terminal sends SIGINT to the whole process group, and a child that took it as its own cue died
    mid-work with a traceback while the parent was still shutting down in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool_worker(parent_pid: int) -> None:
    """A pool worker's start: dies with the server, leaves Ctrl-C to it."""
    die_with_parent(parent_pid)
    ignore_interrupts()


def orphan_free_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, each of which dies with this process.

    Spawned, not forked: the server already runs threads, which fork would copy half-way.
    """
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_worker, initargs=(os.getpid(),)
    )


def start_workers(pool: ProcessPoolExecutor, workers: int, task: Callable[[], Any]) -> list[Future[Any]]:
    """Start the pool's ``workers`` processes now, each running ``task`` first; return the futures.

    A spawned child first re-runs the parent's ``__main__`` module (multiprocessing's rule, for functions
    defined there); for ``truceline serve`` that is the whole CLI (fusion, scipy, reports): seconds of
    CPU and ~150 MB per worker, spent while the first batches wait. The pool only runs functions of
    importable modules, so the children are started with ``__main__`` hidden for the moment of the spawn
    (multiprocessing reads it synchronously in ``submit``). Call it from the thread that owns the pool (see
    the caveat above): a spawn with a pool of ``spawn`` context happens in ``submit``.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __spec__, no __file__: nothing to re-run
    try:
        return [pool.submit(task) for _ in range(workers)]
    finally:
        sys.modules["__main__"] = main
