"""Scenarios under a wall-clock limit: evaluated in a child process of the worker.

A hung solve (a MILP that never ends, a kernel caught in a loop) cannot be
interrupted inside its own thread, so with ``[execution] scenario_time_limit_s``
each worker keeps one child process (``python -m rexopt.sweep.sandbox``) that
builds the evaluator once and evaluates the scenarios it is sent.  A scenario
past the limit is recorded as failed ("time limit of ... s exceeded"), the child
is killed, and the next scenario starts a new child (whose set-up runs again).
An evaluator that stops its own solve at the limit (a factory taking
``time_limit_s``, :func:`rexopt.sweep.evaluators.stops_itself`) is given that
chance: its child is killed only past :func:`kill_after` (the limit plus a grace
period), and a scenario that stopped itself keeps the child and its set-up.
The worker itself never blocks for longer than that.

The child talks over its stdin/stdout with length-prefixed pickles; plain
subprocesses are used because Dask workers are daemonic processes, which may not
start ``multiprocessing`` children.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Sandbox", "ScenarioTimeout", "kill_after"]

_HEADER = struct.Struct("!Q")


def kill_after(time_limit_s: float, stops_itself: bool) -> float:
    """When a scenario's process is killed, counted from the scenario's start [s].

    At the limit itself, unless the evaluator stops its own solve there; then a
    grace period later (a quarter of the limit, at least 5 s): the cascade kernel
    looks at its clock between kernel solves and arclength steps, so it stops a
    little past the limit (2.5 s measured past a 40 s limit on a 267-stage organic
    loop), and the kill stays a backstop for a solve that does not stop.
    """
    t = float(time_limit_s)
    return t + max(5.0, 0.25 * t) if stops_itself else t


class ScenarioTimeout(RuntimeError):
    """A scenario ran past its wall-clock limit and was stopped."""


def _send(fh, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(data)) + data)
    fh.flush()


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ScenarioTimeout
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise ScenarioTimeout
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError("the scenario process ended without an answer")
        buf += chunk
    return bytes(buf)


def _recv(fd: int, deadline: float | None = None):
    (n,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return pickle.loads(_read_exact(fd, n, deadline))


def _die_with_parent() -> None:  # pragma: no cover - runs between fork and exec
    """Linux: the child is killed when its worker dies (no orphaned solves)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG
    except Exception:
        pass


class Sandbox:
    """Evaluate scenarios in a child process, each under ``time_limit_s``.

    Parameters
    ----------
    factory : callable
        The evaluator factory (importable in the child, as for any worker).
    base_case : dict
        The sweep's base case.
    base_dir : str or None
        Directory for relative file references of the case.
    time_limit_s : float
        Wall-clock limit of one scenario. [s]
    setup_limit_s : float, optional
        Limit of the child's start and evaluator set-up; default 10 x the scenario
        limit, at least 120 s. [s]
    options : dict, optional
        Keywords of the factory besides the base case (e.g. ``branch_search``,
        and ``time_limit_s`` for a factory that stops itself).
    stops_itself : bool, optional
        The evaluator stops its own solve at ``time_limit_s``: the child is killed
        only at :func:`kill_after` (default: False, killed at the limit).
    """

    def __init__(
        self,
        factory: Callable,
        base_case: dict,
        base_dir: str | None,
        time_limit_s: float,
        setup_limit_s: float | None = None,
        options: dict | None = None,
        stops_itself: bool = False,
    ):
        self.factory = factory
        self.options = dict(options or {})
        self.base_case = base_case
        self.base_dir = base_dir
        self.time_limit_s = float(time_limit_s)
        self.stops_itself = bool(stops_itself)
        self.kill_s = kill_after(self.time_limit_s, self.stops_itself)
        self.setup_limit_s = (
            setup_limit_s
            if setup_limit_s is not None
            else max(120.0, 10.0 * self.time_limit_s)
        )
        self.proc: subprocess.Popen | None = None
        self.setup_s = 0.0
        self.restarts = 0

    # ---------------------------------------------------------------- process
    def _start(self) -> None:
        t0 = time.perf_counter()
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rexopt.sweep.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        _send(self.proc.stdin, list(sys.path))
        _send(
            self.proc.stdin,
            (self.factory, self.base_case, self.base_dir, self.options),
        )
        deadline = time.monotonic() + self.setup_limit_s
        try:
            kind, payload = _recv(self.proc.stdout.fileno(), deadline)
        except ScenarioTimeout:
            self.close()
            raise RuntimeError(
                f"evaluator set-up took longer than {self.setup_limit_s:g} s in the "
                "scenario process"
            ) from None
        except EOFError:
            self.close()
            raise RuntimeError("the scenario process died during set-up") from None
        if kind != "ready":
            self.close()
            raise RuntimeError(f"evaluator set-up failed: {payload}")
        self.setup_s += time.perf_counter() - t0

    def close(self) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            p.kill()
        except OSError:
            pass
        p.wait()
        for fh in (p.stdin, p.stdout):
            try:
                fh.close()
            except OSError:
                pass

    def __del__(self):  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:
            pass

    # --------------------------------------------------------------- evaluate
    def __call__(self, case: dict) -> Mapping[str, Any]:
        """The evaluator's dict for ``case``; a stopped or crashed scenario comes
        back as ``status = "failed"`` with the reason."""
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.close()
                self.restarts += 1
            self._start()
        try:
            _send(self.proc.stdin, case)
            kind, payload = _recv(
                self.proc.stdout.fileno(), time.monotonic() + self.kill_s
            )
        except ScenarioTimeout:
            self.close()
            if self.stops_itself:
                msg = (
                    f"time limit of {self.time_limit_s:g} s exceeded: the scenario "
                    f"did not stop its own solve and was killed at {self.kill_s:g} s "
                    "(scenario_time_limit_s plus a grace period)"
                )
            else:
                msg = (
                    f"time limit of {self.time_limit_s:g} s exceeded: the "
                    "scenario was stopped (scenario_time_limit_s)"
                )
            return {"status": "failed", "message": msg}
        except (EOFError, BrokenPipeError, OSError) as exc:
            code = None
            if self.proc is not None:
                try:
                    code = self.proc.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
            self.close()
            how = (
                "unknown exit status"
                if code is None
                else (
                    f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                )
            )
            return {
                "status": "failed",
                "message": f"the scenario process died ({how}): {exc}",
            }
        if kind == "ok":
            return payload
        if kind == "infeasible":
            return {"status": "infeasible", "message": payload}
        return {"status": "failed", "message": payload}


# -------------------------------------------------------------------- the child


def _child() -> None:  # pragma: no cover - runs in the child process
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    # anything the evaluator prints goes to stderr, not into the pipe
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    fd = inp.fileno()
    sys.path[:] = _recv(fd)
    try:
        factory, base_case, base_dir, options = _recv(fd)
        evaluate = factory(base_case, base_dir=base_dir, **options)
    except Exception as exc:
        _send(out, ("error", f"{type(exc).__name__}: {exc}"))
        return
    _send(out, ("ready", None))
    from rexopt.sweep.worker import _describe, is_infeasible_exception

    while True:
        try:
            case = _recv(fd)
        except EOFError:
            return
        try:
            res = evaluate(case)
            res = dict(res) if isinstance(res, Mapping) else res
            _send(out, ("ok", res))
        except Exception as exc:
            kind = "infeasible" if is_infeasible_exception(exc) else "failed"
            try:
                _send(out, (kind, _describe(exc)))
            except Exception:
                _send(out, ("failed", traceback.format_exc(limit=3)))


if __name__ == "__main__":  # pragma: no cover
    _child()
