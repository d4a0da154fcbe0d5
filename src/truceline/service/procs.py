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
from concurrent.futures import ProcessPoolExecutor

__all__ = ["PR_SET_PDEATHSIG", "die_with_parent", "orphan_free_pool"]

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


def orphan_free_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, each of which dies with this process.

    Spawned, not forked: the server already runs threads, which fork would copy half-way.
    """
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent, initargs=(os.getpid(),)
    )
