"""The one job runner of the long commands: a few items in flight on worker threads, every result recorded
in the calling thread (so a ledger is written by one thread only), one commit per batch of results.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Iterable, TypeVar

J = TypeVar("J")
R = TypeVar("R")


def run_jobs(
    items: Iterable[J],
    work: Callable[[J], R],
    record: Callable[[J, R], str | None],
    *,
    workers: int,
    stop: threading.Event,
    commit: Callable[[], None] = lambda: None,
    until: Callable[[], bool] = lambda: False,
    total: int | None = None,
    label: str = "",
    unit: str = "it",
    progress: bool = False,
) -> int:
    """Run ``work(item)`` for ``items`` with ``workers`` in flight; ``record(item, result)`` each result here.

    Nothing new starts once ``stop`` is set (the stop policy, a fatal error) or ``until()`` is true (a
    budget spent); the items in flight still finish and are recorded. ``commit()`` runs once after each
    batch of results (the ledger's group commit). ``record`` may return a short text for the progress
    bar. An exception raised by ``work`` sets ``stop``; the others in flight are recorded, then it is
    raised. Returns how many items were never started.
    """
    from tqdm.auto import tqdm

    queue = iter(items)
    bar = tqdm(total=total, desc=label, unit=unit, disable=not progress, file=sys.stderr, dynamic_ncols=True)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=label or "run")
    running: dict[Future, J] = {}
    left = 0
    fatal: BaseException | None = None
    try:
        while True:
            while len(running) < workers and not stop.is_set() and not until():
                item = next(queue, _END)
                if item is _END:
                    break
                running[pool.submit(work, item)] = item
            if not running:
                break
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # noqa: BLE001 - raised below, once the others are recorded
                    fatal = fatal or err
                    stop.set()
                    continue
                note = record(item, result)
                bar.update()
                if note:
                    bar.set_postfix_str(note)
            if done:
                commit()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        left = sum(1 for _ in queue)
    if fatal is not None:
        raise fatal
    return left


_END = object()
