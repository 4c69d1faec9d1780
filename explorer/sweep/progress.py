"""A sweep's progress in phases, reported through one callback that may predate phases.

``progress(done, total)`` callbacks keep working: the phase and the elapsed seconds are passed as the
keywords ``phase`` and ``elapsed`` only to a callback that accepts them (by name or ``**kwargs``).
While Ray starts (seconds to tens of seconds, before any trial) a background thread ticks once a second
with phase ``"starting Ray"``, so a waiting user sees time pass instead of "0 of N".
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable


def accepts_phase(progress: Callable[..., None]) -> bool:
    """True when ``progress`` takes the ``phase`` and ``elapsed`` keywords (or any keywords)."""
    try:
        parameters = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):
        return False
    names = {parameter.name for parameter in parameters}
    return {"phase", "elapsed"} <= names or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class Phases:
    """Reports a sweep's phases to ``progress``: starting Ray (ticking), trials, training best, done."""

    def __init__(self, progress: Callable[..., None] | None, total: int, tick: float = 1.0) -> None:
        self.progress, self.total, self.tick = progress, total, tick
        self.done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._ticker: threading.Thread | None = None
        self._with_phase = progress is not None and accepts_phase(progress)

    def __getstate__(self) -> dict:
        """Tune pickles its callbacks with the tuner's state: keep the counts, not the live callback."""
        return {"total": self.total, "tick": self.tick, "done": self.done}

    def __setstate__(self, state: dict) -> None:
        self.__init__(None, state["total"], state["tick"])
        self.done = state["done"]

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def report(self, done: int, total: int, phase: str) -> None:
        with self._lock:
            self._emit(done, total, phase)

    def _emit(self, done: int, total: int, phase: str) -> None:
        """Call ``progress``; the caller holds the lock."""
        if self.progress is None:
            return
        if self._with_phase:
            self.progress(done, total, phase=phase, elapsed=self.elapsed())
        else:
            self.progress(done, total)

    def _tick(self, phase: str) -> None:
        """One tick of the starting phase, unless trials began meanwhile (checked under the lock, so a
        late tick can never follow a trials report)."""
        with self._lock:
            if not self._running.is_set():
                self._emit(0, self.total, phase)

    def _mark_running(self) -> bool:
        """Mark the trials as started under the lock; True if they were not yet."""
        with self._lock:
            was = self._running.is_set()
            self._running.set()
            return not was

    def start(self, phase: str) -> None:
        """Report ``phase`` at 0 of total now and every ``tick`` seconds until the first trial starts."""
        self.report(0, self.total, phase)
        if not self._with_phase:
            return

        def ticking() -> None:
            while not self._running.wait(self.tick):
                self._tick(phase)

        self._ticker = threading.Thread(target=ticking, name="explorer-sweep-ticker", daemon=True)
        self._ticker.start()

    def first_trial_started(self) -> None:
        if self._mark_running():
            self.report(self.done, self.total, "trials")

    def trials_done(self, count: int) -> None:
        self._mark_running()
        self.done += count
        self.report(self.done, self.total, "trials")

    def stop(self) -> None:
        self._mark_running()
        if self._ticker is not None:
            self._ticker.join()
