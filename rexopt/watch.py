"""The clock of one long solve: progress messages and a time limit.

A cascade's ``simulate`` takes a millisecond on most cases and minutes on the
few that reach the deep fallbacks (docs/kernel.md, "Starts and globalisation").
Inside :func:`watching`, every kernel call (``rexopt.cascade.solve_arrays``) and
every arclength step (``rexopt.continuation.follow``) calls :func:`tick`:

* past the watch's time limit, :func:`tick` raises :class:`TimeLimitReached`
  (the cascade restates it as ``rexopt.cascade.CascadeTimeLimit``, with what
  it had tried);
* once the solve has run ``QUIET_S`` seconds, the phase it is in and every
  phase it enters after that are logged (logger ``rexopt.cascade``, level
  INFO), and every ``HEARTBEAT_S`` seconds the phase still running, with the
  kernel solves and arclength steps so far.  A solve shorter than ``QUIET_S``
  logs nothing.

``rexopt simulate`` prints these messages on stderr; from Python, configure
logging (``logging.basicConfig(level=logging.INFO)``) to see them.  A watch is
per thread (a context variable): the solves of a threaded Dask worker each
have their own.
"""

from __future__ import annotations

import contextlib
import logging
import time
from contextvars import ContextVar

log = logging.getLogger("rexopt.cascade")

QUIET_S = 2.0  # [s] a solve shorter than this logs nothing
HEARTBEAT_S = 30.0  # [s] between two "still running" messages of one phase


def _now() -> float:
    """The clock of every watch [s] (a module function, so tests can set it)."""
    return time.perf_counter()


class TimeLimitReached(Exception):
    """A watched solve ran past its time limit (raised by :func:`tick`).

    Not a ``CascadeError``, so no fallback takes it for a failed solve and goes
    on: it ends the whole ``simulate``, which restates it in words."""


class Watch:
    """The elapsed time, the phase and the counts of one solve.

    ``limit_s`` [s]: the time limit (None: none).  ``phase``: what runs now
    (e.g. "arclength continuation"); ``detail``: where in it (e.g. "pass 12"),
    shown in the heartbeat and in the time-limit message; ``phases``: every phase
    entered, with the elapsed time at its start [s]."""

    def __init__(self, name: str, limit_s: float | None = None):
        self.name = name
        self.limit_s = limit_s
        self._clock = _now
        self.t0 = _now()
        self.phase = "cold start"
        self.detail = ""
        self.phases: list[tuple[str, float]] = [(self.phase, 0.0)]
        self.kernel_calls = 0
        self.steps = 0
        self._logged = False  # the current phase has been logged
        self._last_log = None  # elapsed time of the last message [s]

    def elapsed(self) -> float:
        """Seconds since the watch started. [s]"""
        return self._clock() - self.t0

    def enter(self, phase: str, detail: str = "") -> None:
        """Start a phase (logged at once where the solve is past ``QUIET_S``)."""
        self.phase, self.detail = phase, detail
        t = self.elapsed()
        self.phases.append((phase, t))
        self._logged = False
        self._maybe_log(t)

    def tick(self, kind: str = "kernel") -> None:
        """One unit of work ("kernel": a kernel solve, "step": an arclength
        step); raises :class:`TimeLimitReached` past the limit."""
        if kind == "step":
            self.steps += 1
        else:
            self.kernel_calls += 1
        t = self.elapsed()
        if self.limit_s is not None and t > self.limit_s:
            raise TimeLimitReached(self.where(t))
        self._maybe_log(t)

    def where(self, t: float | None = None) -> str:
        """The phase, its detail and the counts, in words."""
        t = self.elapsed() if t is None else t
        detail = f" ({self.detail})" if self.detail else ""
        return (
            f"{self.phase}{detail}, {t:.1f} s in, after {self.kernel_calls:,} "
            f"kernel solves and {self.steps:,} arclength steps"
        )

    def history(self) -> str:
        """Every phase entered, with the time it started: '0 s cold start, ...'."""
        return ", ".join(f"{p} at {t:.1f} s" for p, t in self.phases)

    def _maybe_log(self, t: float) -> None:
        if t < QUIET_S:
            return
        if not self._logged:
            log.info("%s: %s", self.name, self.where(t))
        elif t - self._last_log >= HEARTBEAT_S:
            log.info("%s: still in %s", self.name, self.where(t))
        else:
            return
        self._logged = True
        self._last_log = t


_current: ContextVar[Watch | None] = ContextVar("rexopt_watch", default=None)


@contextlib.contextmanager
def watching(name: str, limit_s: float | None = None):
    """Watch the solve run in the ``with`` block; yields the :class:`Watch`.

    Inside an outer watch (a simulate called by another one), the outer watch
    goes on unless this one has a limit of its own: then a new watch runs whose
    limit is the earlier of the two ends."""
    outer = _current.get()
    if outer is not None and limit_s is None:
        yield outer
        return
    if outer is not None and outer.limit_s is not None:
        limit_s = min(limit_s, outer.limit_s - outer.elapsed())
    w = Watch(name, limit_s)
    token = _current.set(w)
    try:
        yield w
    finally:
        _current.reset(token)


def tick(kind: str = "kernel") -> None:
    """:meth:`Watch.tick` of the current watch (nothing outside a watch)."""
    w = _current.get()
    if w is not None:
        w.tick(kind)


def enter(phase: str, detail: str = "") -> None:
    """:meth:`Watch.enter` of the current watch (nothing outside a watch)."""
    w = _current.get()
    if w is not None:
        w.enter(phase, detail)


def note(detail: str) -> None:
    """Set where the current phase is (shown in the next message; not logged)."""
    w = _current.get()
    if w is not None:
        w.detail = detail
