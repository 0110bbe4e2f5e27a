"""The task a worker runs: evaluate one batch of scenarios.

:func:`run_batch` never raises for a scenario's own error: each scenario comes back
``ok``, ``infeasible`` or ``failed`` with its message, so one bad point cannot sink
its batch.  Evaluators are built once per worker process and base case and cached.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rexopt.sweep.spec import apply_overrides

__all__ = [
    "PENDING",
    "OK",
    "INFEASIBLE",
    "FAILED",
    "STATUS_NAMES",
    "BatchTask",
    "BatchResult",
    "run_batch",
    "is_infeasible_exception",
    "evaluate_scenario",
]

PENDING, OK, INFEASIBLE, FAILED = 0, 1, 2, 3
STATUS_NAMES = {
    PENDING: "pending",
    OK: "ok",
    INFEASIBLE: "infeasible",
    FAILED: "failed",
}

_EVALUATORS: dict[tuple[str, str, int], Callable] = {}
_LOCK = threading.Lock()


@dataclass
class BatchTask:
    """A batch of scenarios, self-contained so that any worker can run it."""

    kind: str
    factory: Callable
    base_case: dict
    base_key: str
    base_dir: str | None
    paths: tuple
    types: tuple
    outputs: tuple
    indices: np.ndarray
    values: list
    attempt: int = 1
    time_limit_s: float | None = None  # per scenario; None: in-process, no limit
    # keywords of the factory besides the base case (Sweep.evaluator_options)
    options: dict | None = None


@dataclass
class BatchResult:
    indices: np.ndarray
    status: np.ndarray  # int8, STATUS codes
    outputs: np.ndarray  # float64 (n, n_outputs)
    messages: list[str]
    started_unix: np.ndarray
    duration_s: np.ndarray
    worker: str
    setup_s: float
    wall_s: float
    cpu_s: float = 0.0  # CPU time of the worker process over the batch [s]


def is_infeasible_exception(exc: BaseException) -> bool:
    """True if the exception's class or a base class is named like *Infeasible*."""
    return any("infeasible" in c.__name__.lower() for c in type(exc).__mro__)


def _describe(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}"
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        fr = tb[-1]
        msg += f" (at {os.path.basename(fr.filename)}:{fr.lineno} in {fr.name})"
    return msg


def _worker_name() -> str:
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            w = get_worker()
            return str(w.name if w.name is not None else w.address)
        except Exception:
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def get_evaluator(task: BatchTask) -> tuple[Callable, float]:
    """The cached evaluator for the task's base case; and its set-up time [s]."""
    # One evaluator per thread: models and solver objects need not be thread-safe
    # (with the default of one thread per worker this is one per process).
    opts = task.options or {}
    key = (
        task.kind,
        task.base_key,
        threading.get_ident(),
        task.time_limit_s,
        tuple(sorted(opts.items())),
    )
    ev = _EVALUATORS.get(key)
    if ev is not None:
        return ev, 0.0
    with _LOCK:
        ev = _EVALUATORS.get(key)
        if ev is not None:
            return ev, 0.0
        t0 = time.perf_counter()
        if task.time_limit_s is not None:
            from rexopt.sweep.evaluators import stops_itself
            from rexopt.sweep.sandbox import Sandbox

            own = stops_itself(task.factory)
            ev = Sandbox(
                task.factory,
                task.base_case,
                task.base_dir,
                task.time_limit_s,
                options={**opts, "time_limit_s": task.time_limit_s} if own else opts,
                stops_itself=own,
            )
            ev._start()
        else:
            ev = task.factory(task.base_case, base_dir=task.base_dir, **opts)
        _EVALUATORS[key] = ev
        return ev, time.perf_counter() - t0


def evaluate_scenario(evaluate: Callable, case: dict, outputs) -> tuple[int, list, str]:
    """Run one scenario; (status, output values, message). Never raises."""
    nan = math.nan
    try:
        res = evaluate(case)
    except Exception as exc:
        status = INFEASIBLE if is_infeasible_exception(exc) else FAILED
        return status, [nan] * len(outputs), _describe(exc)
    if not hasattr(res, "get"):
        return (
            FAILED,
            [nan] * len(outputs),
            f"evaluator returned {type(res).__name__}, not a dict of outputs",
        )
    st = str(res.get("status", "ok")).lower()
    if st == "infeasible":
        vals = []
        for o in outputs:
            try:
                vals.append(float(res[o]))
            except (KeyError, TypeError, ValueError):
                vals.append(nan)
        return INFEASIBLE, vals, str(res.get("message", ""))
    if st not in ("ok", "optimal", "feasible", "converged"):
        return FAILED, [nan] * len(outputs), str(res.get("message", f"status {st!r}"))
    vals = []
    for o in outputs:
        if o not in res:
            keys = ", ".join(sorted(str(k) for k in res)) or "(none)"
            return (
                FAILED,
                [nan] * len(outputs),
                (f"output {o!r} is not in the evaluator's result; it has: {keys}"),
            )
        try:
            vals.append(float(res[o]))
        except (TypeError, ValueError):
            return (
                FAILED,
                [nan] * len(outputs),
                (f"output {o!r} = {res[o]!r} is not a number"),
            )
    # an ok scenario's message: what the evaluator says about it (warnings)
    return OK, vals, str(res.get("message", "") or "")


def run_batch(task: BatchTask) -> BatchResult:
    """Evaluate every scenario of ``task`` (runs on a worker)."""
    t_batch = time.perf_counter()
    c_batch = time.process_time()
    n, m = len(task.indices), len(task.outputs)
    status = np.full(n, FAILED, dtype=np.int8)
    out = np.full((n, m), np.nan)
    started = np.full(n, np.nan)
    dur = np.full(n, np.nan)
    messages = [""] * n
    try:
        evaluate, setup_s = get_evaluator(task)
    except Exception as exc:
        msg = f"evaluator set-up failed: {_describe(exc)}"
        return BatchResult(
            task.indices,
            status,
            out,
            [msg] * n,
            started,
            dur,
            _worker_name(),
            0.0,
            time.perf_counter() - t_batch,
            time.process_time() - c_batch,
        )
    for k, values in enumerate(task.values):
        started[k] = time.time()
        t0 = time.perf_counter()
        try:
            case = apply_overrides(task.base_case, task.paths, task.types, values)
        except Exception as exc:
            messages[k] = f"cannot apply the overrides: {_describe(exc)}"
            dur[k] = time.perf_counter() - t0
            continue
        st, vals, msg = evaluate_scenario(evaluate, case, task.outputs)
        dur[k] = time.perf_counter() - t0
        status[k] = st
        out[k] = vals
        messages[k] = msg
    return BatchResult(
        task.indices,
        status,
        out,
        messages,
        started,
        dur,
        _worker_name(),
        setup_s,
        time.perf_counter() - t_batch,
        time.process_time() - c_batch,
    )
