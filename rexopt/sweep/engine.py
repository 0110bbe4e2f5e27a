"""The sweep loop: batch the pending scenarios, keep the executor busy, write results.

The engine talks to a :class:`concurrent.futures.Executor` only (Dask's
``client.get_executor()``, a process pool, ``mpi4py.futures`` ...).  The client is
the one writer of the HDF5 file: finished tasks are written and flushed (together,
at most every ``flush_interval_s``) before their done flags.

Tasks lost with their worker (the future raises instead of returning a result;
Dask itself first reschedules a task whose worker died, up to its
``allowed-failures``) are split in halves and resubmitted, down to single
scenarios, which are retried alone up to ``max_retries`` times and then recorded
as failed; a broken process pool is rebuilt.  Scenario errors never reach this
level: the worker records them.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rexopt.sweep.cluster import (
    ExecutorHandle,
    as_robust_executor,
    executor_slots,
    open_executor,
)
from rexopt.sweep.evaluators import get_factory
from rexopt.sweep.spec import Sweep, case_hash, parse_path
from rexopt.sweep.store import SweepStore
from rexopt.sweep.worker import (
    FAILED,
    INFEASIBLE,
    OK,
    BatchResult,
    BatchTask,
    run_batch,
)

__all__ = ["run_sweep", "SweepSummary", "Batcher"]


@dataclass
class SweepSummary:
    """What one run of a sweep did (``computed`` counts this run only)."""

    out: str
    n_scenarios: int
    done_before: int
    computed: int = 0
    ok: int = 0
    infeasible: int = 0
    failed: int = 0
    lost_tasks: int = 0
    n_tasks: int = 0
    wall_s: float = 0.0
    compute_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the worker processes over their tasks [s]
    slots: int = 1
    executor: str = ""
    interrupted: bool = False
    totals: dict = field(default_factory=dict)
    # study options that differ from their defaults (Sweep.evaluator_options),
    # e.g. {"branch_search": False}; stated in every scenario's message too
    evaluator_options: dict = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return self.n_scenarios - self.done_before - self.computed

    @property
    def rate(self) -> float:
        """Scenarios computed per second of wall time. [1/s]"""
        return self.computed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def overhead_per_task_s(self) -> float:
        """Wall time the slots spent not evaluating, per task. [s]"""
        if not self.n_tasks:
            return 0.0
        return max(0.0, self.wall_s * self.slots - self.compute_s) / self.n_tasks

    @property
    def cpu_per_scenario_s(self) -> float:
        """Worker CPU time per computed scenario, whatever else loads the machine
        (evaluation in a time-limit child process not counted). [s]"""
        return self.cpu_s / self.computed if self.computed else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(
            remaining=self.remaining,
            rate=self.rate,
            overhead_per_task_s=self.overhead_per_task_s,
            cpu_per_scenario_s=self.cpu_per_scenario_s,
        )
        return d


class Batcher:
    """Cuts the pending indices into tasks.

    With ``fixed`` the size is constant.  Otherwise the first tasks are small, and
    later ones hold about ``target_s`` of measured compute, capped so that the tail
    still spreads over all slots.
    """

    def __init__(
        self,
        pending: np.ndarray,
        *,
        fixed: int | None = None,
        target_s: float = 0.5,
        first: int = 4,
        max_size: int = 20000,
        spread: int = 2,
    ):
        self.queue = deque()
        self.suspects = deque()
        self.spread = spread
        self.pending = np.asarray(pending, dtype=np.int64)
        self.pos = 0
        self.fixed = fixed
        self.target_s = target_s
        self.first = first
        self.max_size = max_size
        self._n = 0
        self._t = 0.0

    @property
    def remaining(self) -> int:
        return len(self.pending) - self.pos + sum(len(q[0]) for q in self.queue)

    def observe(self, n: int, compute_s: float) -> None:
        if n > 0 and np.isfinite(compute_s):
            self._n += n
            self._t += compute_s

    def size(self, slots: int) -> int:
        if self.fixed:
            return self.fixed
        left = len(self.pending) - self.pos
        tail_cap = max(1, math.ceil(left / (self.spread * max(1, slots))))
        if self._n == 0:
            return max(1, min(self.first, tail_cap))
        per = max(self._t / self._n, 1e-7)
        return int(max(1, min(self.target_s / per, tail_cap, self.max_size)))

    def requeue(self, indices: np.ndarray, attempt: int) -> None:
        self.queue.append((indices, attempt))

    def quarantine(self, indices: np.ndarray, attempt: int) -> None:
        """A single scenario lost with its worker: retried alone, see _loop."""
        self.suspects.append((indices, attempt))

    def next(self, slots: int) -> tuple[np.ndarray, int] | None:
        if self.queue:
            return self.queue.popleft()
        if self.pos >= len(self.pending):
            return None
        k = self.size(slots)
        idx = self.pending[self.pos : self.pos + k]
        self.pos += len(idx)
        return idx, 1


def _make_progress(console, total: int, name: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task):
            sp = task.speed
            if not sp:
                return Text("-/s", style="cyan")
            return Text(f"{sp:,.0f}/s" if sp >= 100 else f"{sp:.1f}/s", style="cyan")

    prog = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(compact=True),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=False,
        speed_estimate_period=20.0,
    )
    label = name if len(name) <= 24 else name[:23] + "…"
    task_id = prog.add_task(label, total=total, status="")
    return prog, task_id


def run_sweep(
    sweep: Sweep,
    out: str | Path | None = None,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    console=None,
    batch_size: int | None = None,
    max_retries: int | None = None,
    max_inflight_per_slot: int = 4,
) -> SweepSummary:
    """Run (or resume) ``sweep`` and store every scenario in an HDF5 file.

    Parameters
    ----------
    sweep : Sweep
        From :func:`rexopt.sweep.load_sweep` or :func:`sweep_from_dict`.
    out : str or Path, optional
        The HDF5 file; default: the sweep's ``out`` or ``<sweep file>.h5``.  If it
        exists and holds the same sweep, only scenarios not yet done are computed.
    executor : concurrent.futures.Executor, optional
        Where tasks run; default: an executor made from the ``[cluster]`` section
        (closed at the end).  A given executor is not shut down.  Dask's
        ``client.get_executor()`` is used through :class:`DaskExecutor` (same
        client, same keywords), whose futures always resolve.
    workers : int, optional
        Overrides ``[cluster] workers`` (jobs for SLURM/PBS).
    retry_failed : bool
        Also recompute scenarios recorded as failed.
    overwrite : bool
        Start a fresh file even if ``out`` exists.
    progress : bool
        Show a rich progress bar (rate, ETA).
    batch_size, max_retries : int, optional
        Override ``[execution]``.

    Returns
    -------
    SweepSummary
    """
    out = Path(out) if out is not None else sweep.default_out
    ex_cfg = sweep.spec.execution
    fixed = batch_size or (ex_cfg.batch_size if ex_cfg.batch_size != "auto" else None)
    retries = ex_cfg.max_retries if max_retries is None else max_retries

    store = SweepStore.create_or_open(out, sweep, overwrite=overwrite)
    try:
        pending = store.pending(retry_failed=retry_failed)
        summary = SweepSummary(
            out=str(out),
            n_scenarios=store.n,
            done_before=int(store.done.sum())
            - int(np.sum(store.done[pending]) if retry_failed else 0),
            evaluator_options=sweep.evaluator_options(),
        )
        if len(pending) == 0:
            summary.totals = store.counts()
            return summary
        if retry_failed:
            # Their old results stay until overwritten, so they must not stay done.
            store.undo(pending[store.done[pending]])
        with _executor_handle(executor, sweep, workers) as handle:
            _loop(
                sweep,
                store,
                handle,
                pending,
                fixed,
                retries,
                summary,
                progress,
                console,
                max_inflight_per_slot,
            )
        summary.totals = store.counts()
        return summary
    finally:
        store.close()


@contextlib.contextmanager
def _executor_handle(executor, sweep, workers):
    """The caller's executor (made robust; not shut down here), or one opened from
    the sweep's cluster section and closed afterwards."""
    if executor is not None:
        executor = as_robust_executor(executor)
        yield ExecutorHandle(
            executor, lambda: executor_slots(executor), type(executor).__name__
        )
    else:
        with open_executor(sweep.spec.cluster, workers) as handle:
            yield handle


def _loop(
    sweep, store, handle, pending, fixed, retries, summary, progress, console, per_slot
):
    factory = get_factory(sweep.kind)
    base_key = case_hash(sweep.base_case)
    paths = tuple(parse_path(p.path) for p in sweep.parameters)
    types = tuple(sweep.table.types)
    outputs = tuple(sweep.outputs)
    options = sweep.evaluator_options()
    base_dir = str(sweep.base_dir) if sweep.base_dir else None
    batcher = Batcher(
        pending,
        fixed=fixed,
        target_s=sweep.spec.execution.batch_seconds,
        spread=per_slot,
    )
    inflight: dict[Future, BatchTask] = {}
    summary.executor = handle.description
    prog = task_id = None
    if progress:
        prog, task_id = _make_progress(console, len(pending), sweep.name)
        prog.start()

    isolated: set[Future] = set()

    def submit(idx: np.ndarray, attempt: int) -> Future:
        task = BatchTask(
            kind=sweep.kind,
            factory=factory,
            base_case=sweep.base_case,
            base_key=base_key,
            base_dir=base_dir,
            paths=paths,
            types=types,
            outputs=outputs,
            indices=idx,
            values=store.inputs(idx),
            attempt=attempt,
            time_limit_s=sweep.spec.execution.scenario_time_limit_s,
            options=options,
        )
        fut = handle.executor.submit(run_batch, task)
        inflight[fut] = task
        summary.n_tasks += 1
        return fut

    def record(finished: list[tuple[BatchResult, int]]) -> None:
        store.write_many(finished)
        for res, _ in finished:
            n = len(res.indices)
            summary.computed += n
            summary.ok += int(np.sum(res.status == OK))
            summary.infeasible += int(np.sum(res.status == INFEASIBLE))
            summary.failed += int(np.sum(res.status == FAILED))
            summary.compute_s += float(np.nansum(res.duration_s))
            summary.cpu_s += float(res.cpu_s)
        if prog is not None:
            prog.update(
                task_id,
                completed=summary.computed,
                status=f"ok {summary.ok} inf {summary.infeasible} "
                f"fail {summary.failed}",
            )

    def lost(task: BatchTask, exc: BaseException, finished: list) -> None:
        summary.lost_tasks += 1
        if len(task.indices) > 1:
            # Halve the task: if one scenario kills its worker, bisection isolates
            # it and the others complete; halving does not use up retries.
            mid = len(task.indices) // 2
            batcher.requeue(task.indices[:mid], task.attempt)
            batcher.requeue(task.indices[mid:], task.attempt)
            return
        if task.attempt <= retries:
            batcher.quarantine(task.indices, task.attempt + 1)
            return
        n = len(task.indices)
        msg = (
            f"task lost {task.attempt} time(s) with its worker; last error "
            f"{type(exc).__name__}: {exc}"
        )
        finished.append(
            (
                BatchResult(
                    task.indices,
                    np.full(n, FAILED, dtype=np.int8),
                    np.full((n, len(outputs)), np.nan),
                    [msg] * n,
                    np.full(n, np.nan),
                    np.full(n, np.nan),
                    "",
                    0.0,
                    0.0,
                ),
                task.attempt,
            )
        )

    commit_s = sweep.spec.execution.flush_interval_s
    unwritten: list[tuple[BatchResult, int]] = []
    t0 = last_commit = time.perf_counter()
    try:
        slots, slots_at = 1, -math.inf
        while True:
            now = time.perf_counter()
            if now - slots_at > 2.0:
                # Asking a Dask scheduler costs a round trip: not every iteration.
                slots, slots_at = max(1, handle.slots()), now
                summary.slots = slots
            # A scenario retried after its worker died runs alone, once all else
            # is done: if it kills its worker again, no innocent task shares the
            # loss (and the retry budget) with it.
            while not isolated and len(inflight) < per_slot * slots:
                nxt = batcher.next(slots)
                if nxt is None and not inflight and batcher.suspects:
                    nxt = batcher.suspects.popleft()
                    try:
                        isolated.add(submit(*nxt))
                    except BrokenExecutor:
                        batcher.quarantine(*nxt)
                        _rebuild(handle)
                    break
                if nxt is None:
                    break
                try:
                    submit(*nxt)
                except BrokenExecutor:
                    batcher.requeue(*nxt)
                    _rebuild(handle)
                    break
            if not inflight:
                if batcher.suspects:
                    continue
                break
            done, _ = wait(
                list(inflight),
                timeout=commit_s if unwritten else 1.0,
                return_when=FIRST_COMPLETED,
            )
            broken = False
            finished = unwritten
            for fut in done:
                task = inflight.pop(fut)
                isolated.discard(fut)
                try:
                    res = fut.result()
                except BrokenExecutor as exc:
                    broken = True
                    lost(task, exc, finished)
                except Exception as exc:  # KilledWorker, CommClosed, cancelled...
                    lost(task, exc, finished)
                else:
                    finished.append((res, task.attempt))
                    batcher.observe(len(res.indices), float(np.nansum(res.duration_s)))
            if broken:
                # Every other future of a broken pool fails too: collect them now.
                for fut in list(inflight):
                    task = inflight.pop(fut)
                    isolated.discard(fut)
                    lost(task, BrokenExecutor("process pool broken"), finished)
            # Finished tasks go to the file together, at most every commit_s
            # (one write per 1 ms task would make the client the bottleneck).
            now = time.perf_counter()
            if unwritten and (now - last_commit >= commit_s or broken):
                record(unwritten)
                unwritten.clear()
                last_commit = now
            if broken:
                _rebuild(handle)
    except KeyboardInterrupt:
        summary.interrupted = True
        for fut in inflight:
            fut.cancel()
        raise
    finally:
        if unwritten:
            # Also on Ctrl-C: what has been computed is worth keeping.
            record(unwritten)
            unwritten.clear()
        summary.wall_s = time.perf_counter() - t0
        if prog is not None:
            prog.stop()
        if not summary.interrupted:
            store.record_run(
                {
                    "finished_unix": time.time(),
                    "computed": summary.computed,
                    "ok": summary.ok,
                    "infeasible": summary.infeasible,
                    "failed": summary.failed,
                    "wall_s": summary.wall_s,
                    "executor": summary.executor,
                    "slots": summary.slots,
                    "tasks": summary.n_tasks,
                    "lost_tasks": summary.lost_tasks,
                    "worker_cpu_s": summary.cpu_s,
                    **(
                        {"evaluator_options": summary.evaluator_options}
                        if summary.evaluator_options
                        else {}
                    ),
                }
            )


def _rebuild(handle: ExecutorHandle) -> None:
    if handle.recreate is None:
        raise RuntimeError(
            "the executor is broken and cannot be rebuilt (a worker process died); "
            "rerun the sweep to resume"
        )
    try:
        handle.executor.shutdown(wait=False, cancel_futures=True)
    except Exception:
        pass
    handle.executor = handle.recreate()
