"""The one stop policy of the long commands.

The first Ctrl-C (SIGINT) or SIGTERM stops the run cleanly: nothing new is started, the work in flight is
finished and recorded (or, where a half-done item is worth nothing, as a half-downloaded clip, cut short
by the command's ``on_stop``), the ledger is left whole and the command exits 130 (143 after SIGTERM).
The second one abandons the run at once: the command's ``on_abandon`` runs (e.g. to kill child
processes), then the process exits without waiting for anything (``os._exit``), so a server that
trickles can never hang it. Every line recorded so far is already in the ledger.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Callable, Iterable

SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class StopPolicy:
    """``with StopPolicy(on_stop=[...]) as stop:`` the run checks ``stop.event`` (or :attr:`stopped`).

    Outside the main thread (no signals there) it only holds the event, which the caller may set.
    """

    def __init__(
        self,
        what: str = "the work in flight is finished and recorded",
        *,
        on_stop: Iterable[Callable[[], None]] = (),
        on_abandon: Iterable[Callable[[], None]] = (),
    ):
        self.event = threading.Event()
        self.what = what
        self.on_stop, self.on_abandon = list(on_stop), list(on_abandon)
        self.signal: int | None = None  # the first signal received
        self._previous: dict[int, object] = {}

    @property
    def stopped(self) -> bool:
        return self.event.is_set()

    def _handle(self, signum: int, frame: object) -> None:
        if not self.event.is_set():
            self.signal = signum
            self.event.set()
            print(
                f"\nstopping: nothing new is started; {self.what} (Ctrl-C again to abandon the run at once)",
                file=sys.stderr,
                flush=True,
            )
            for hook in self.on_stop:
                hook()
            return
        print("\nabandoned: the ledger holds everything recorded so far; rerun to go on", file=sys.stderr, flush=True)
        for hook in self.on_abandon:
            try:
                hook()
            except Exception:  # exiting anyway
                pass
        sys.stdout.flush()
        os._exit(128 + signum)

    def __enter__(self) -> "StopPolicy":
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.getsignal(signum)
                signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
