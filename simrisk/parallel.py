"""Running tasks concurrently in threads, results in order.

numba kernels release the GIL, so a pool of threads, each running its numba
code on one core, keeps every core busy with whole chunks. The results come
back in the order of the tasks, so anything summed from them is summed in the
same order for any number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numba


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one (a
    container's or a batch job's share of the machine), else every core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this system
        return max(1, os.cpu_count() or 1)


def pool_size(n_tasks: int, threads: int | None = None) -> int:
    """Worker threads for ``n_tasks`` tasks: ``threads`` (default: numba's thread count,
    ``--threads``), at most one per task. The numba functions run on one core each (none
    has a parallel loop), so any of numba's threading layers lets them run side by side."""
    return max(1, min(numba.get_num_threads() if threads is None else threads, n_tasks))


def in_order(fn: Callable, items, threads: int | None = None) -> Iterator:
    """``fn(item)`` for every item, yielded in order; the items are taken lazily, in the
    calling thread. With several threads (default: :func:`pool_size` of ``len(items)``)
    the items are computed ahead in a thread pool (at most two per thread), each thread
    running its numba code on one core."""
    if threads is None:
        threads = pool_size(len(items))
    if threads <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(threads, initializer=numba.set_num_threads, initargs=(1,))
    try:
        pending: deque = deque()
        todo = iter(items)
        for item in todo:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * threads:
                break
        while pending:
            done = pending.popleft().result()
            for item in todo:
                pending.append(pool.submit(fn, item))
                break
            yield done
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def set_threads(threads: int | None) -> None:
    """Set numba's thread count (within what it was started with); None leaves it."""
    if threads is not None:
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
