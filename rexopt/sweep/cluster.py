"""Executors from the ``[cluster]`` section: Dask LocalCluster (default), SLURM/PBS
through dask-jobqueue, a plain process pool, or serial.

The sweep engine only needs a :class:`concurrent.futures.Executor`; this module makes
one and says how many task slots it has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from rexopt.sweep.spec import (
    JobqueueConfig,
    LocalClusterConfig,
    ProcessesConfig,
    SerialConfig,
)

__all__ = [
    "SerialExecutor",
    "DaskExecutor",
    "as_robust_executor",
    "ExecutorHandle",
    "open_executor",
    "executor_slots",
    "job_script",
    "jobqueue_kwargs",
]


class SerialExecutor(Executor):
    """Runs each call at submit time in the calling process."""

    def __init__(self):
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True


async def _forward(dfut, cf: Future) -> None:
    """Pass a Dask future's outcome to ``cf`` (runs on the client's event loop)."""
    try:
        # The same private call Dask's ClientExecutor makes; it can raise (e.g.
        # KilledWorker when the task's state changes under it), which Dask's
        # executor does not catch, leaving its future pending for ever.
        res = await dfut._result(raiseit=False)
        if cf.done():
            return
        if dfut.status == "finished":
            cf.set_result(res)
        elif dfut.status == "cancelled":
            cf.set_exception(CancelledError(f"task {dfut.key} was cancelled"))
        else:
            _typ, exc, tb = res
            cf.set_exception(exc.with_traceback(tb))
    except BaseException as exc:  # whatever happens, cf must resolve
        if not cf.done():
            cf.set_exception(exc)


class DaskExecutor(Executor):
    """A concurrent.futures view of a Dask client, like ``client.get_executor()``.

    Dask's own ``ClientExecutor`` can leave a future pending for ever when a task
    ends in ``KilledWorker`` (its forwarding coroutine raises instead of passing the
    error on), which would hang a sweep after repeated worker deaths.  Here the
    forwarding catches everything.  Results are fetched on the client's event loop,
    concurrently, as with Dask's executor.
    """

    def __init__(self, client, **submit_kwargs):
        self._client = client
        self._kwargs = {"pure": False, **submit_kwargs}
        self._live: dict[Future, object] = {}
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        dfut = self._client.submit(fn, *args, **{**self._kwargs, **kwargs})
        cf: Future = Future()
        cf.set_running_or_notify_cancel()
        with self._lock:
            # Holding the Dask future keeps its task alive on the cluster.
            self._live[cf] = dfut
        cf.add_done_callback(self._release)
        self._client.loop.add_callback(_forward, dfut, cf)
        return cf

    def _release(self, cf: Future) -> None:
        with self._lock:
            self._live.pop(cf, None)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True
        if cancel_futures:
            with self._lock:
                live = list(self._live.items())
            for cf, dfut in live:
                dfut.cancel()
                if not cf.done():
                    cf.set_exception(CancelledError("executor shut down"))


def as_robust_executor(executor: Executor) -> Executor:
    """Swap Dask's ClientExecutor for the equivalent :class:`DaskExecutor`."""
    try:
        from distributed.cfexecutor import ClientExecutor
    except ImportError:  # pragma: no cover - distributed is a dependency
        return executor
    if isinstance(executor, ClientExecutor):
        return DaskExecutor(executor._client, **getattr(executor, "_kwargs", {}))
    return executor


def executor_slots(executor: Executor) -> int:
    """How many tasks ``executor`` runs at once (best guess for unknown kinds)."""
    client = getattr(executor, "_client", None)
    if client is not None:  # distributed.cfexecutor.ClientExecutor
        try:
            return max(0, sum(client.nthreads().values()))
        except Exception:
            return 1
    if isinstance(executor, SerialExecutor):
        return 1
    n = getattr(executor, "_max_workers", None)
    if n:
        return int(n)
    return os.cpu_count() or 1


@dataclass
class ExecutorHandle:
    """An executor, its slot count, and (for process pools) a way to rebuild it."""

    executor: Executor
    slots: Callable[[], int]
    description: str
    recreate: Callable[[], Executor] | None = None
    client: object = None


def _n_workers(requested: int | None, cfg_workers: int | None) -> int:
    return requested or cfg_workers or os.cpu_count() or 1


def jobqueue_kwargs(cfg: JobqueueConfig) -> dict:
    """Keyword arguments for SLURMCluster / PBSCluster from the config."""
    kw = {
        "cores": cfg.cores,
        "processes": cfg.processes or cfg.cores,
        "memory": cfg.memory,
        "walltime": cfg.walltime,
        "job_name": cfg.job_name,
        "job_extra_directives": list(cfg.job_extra_directives),
        "job_script_prologue": list(cfg.job_script_prologue),
    }
    for k in (
        "queue",
        "account",
        "interface",
        "local_directory",
        "log_directory",
        "python",
    ):
        v = getattr(cfg, k)
        if v is not None:
            kw[k] = v
    return kw


def _jobqueue_cls(kind: str):
    if kind == "slurm":
        from dask_jobqueue import SLURMCluster

        return SLURMCluster
    from dask_jobqueue import PBSCluster

    return PBSCluster


def job_script(cfg: JobqueueConfig) -> str:
    """The batch script dask-jobqueue would submit for one job.

    No real scheduler is needed: the cluster object starts a throw-away local one
    only to fill in its address, and submits nothing.
    """
    cls = _jobqueue_cls(cfg.kind)
    kw = jobqueue_kwargs(cfg)
    try:
        cluster = cls(n_workers=0, scheduler_options={"dashboard_address": None}, **kw)
    except Exception:
        # No usable network interface here: render the job without a cluster.
        job = cls.job_cls(scheduler="tcp://SCHEDULER:8786", name="rexopt-worker", **kw)
        return job.job_script()
    try:
        return cluster.job_script()
    finally:
        cluster.close()


@contextmanager
def open_executor(cfg, workers: int | None = None) -> Iterator[ExecutorHandle]:
    """An executor for ``cfg`` (a cluster config); closed on exit.

    Parameters
    ----------
    cfg : LocalClusterConfig | ProcessesConfig | SerialConfig | JobqueueConfig
        The ``[cluster]`` section.
    workers : int, optional
        Overrides the number of local workers, or the number of jobs for SLURM/PBS.
    """
    if isinstance(cfg, SerialConfig):
        ex = SerialExecutor()
        yield ExecutorHandle(ex, lambda: 1, "serial (this process)")
        return
    if isinstance(cfg, ProcessesConfig):
        import multiprocessing as mp

        n = _n_workers(workers, cfg.workers)

        def make() -> Executor:
            # spawn: the client has threads (progress bar, h5py) that fork would copy
            return ProcessPoolExecutor(
                max_workers=n, mp_context=mp.get_context("spawn")
            )

        handle = ExecutorHandle(
            make(), lambda: n, f"process pool, {n} workers", recreate=make
        )
        try:
            yield handle
        finally:
            handle.executor.shutdown(wait=False, cancel_futures=True)
        return

    from distributed import Client

    if isinstance(cfg, LocalClusterConfig):
        from distributed import LocalCluster

        n = _n_workers(workers, cfg.workers)
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=cfg.threads_per_worker,
            processes=True,
            memory_limit=cfg.memory_limit,
            dashboard_address=cfg.dashboard_address,
        )
        planned = n * cfg.threads_per_worker
        desc = f"Dask LocalCluster, {n} workers x {cfg.threads_per_worker} thread(s)"
    elif isinstance(cfg, JobqueueConfig):
        cls = _jobqueue_cls(cfg.kind)
        cluster = cls(**jobqueue_kwargs(cfg))
        per_job = cfg.processes or cfg.cores
        if cfg.adapt is not None:
            cluster.adapt(
                minimum_jobs=cfg.adapt.minimum_jobs,
                maximum_jobs=cfg.adapt.maximum_jobs,
            )
            planned = max(1, cfg.adapt.maximum_jobs) * per_job
            desc = (
                f"{cfg.kind.upper()} via dask-jobqueue, adapt "
                f"{cfg.adapt.minimum_jobs}..{cfg.adapt.maximum_jobs} jobs"
            )
        else:
            jobs = workers or cfg.jobs
            cluster.scale(jobs=jobs)
            planned = jobs * per_job
            desc = f"{cfg.kind.upper()} via dask-jobqueue, {jobs} job(s)"
    else:  # pragma: no cover - the schema admits nothing else
        raise TypeError(f"unknown cluster config {type(cfg).__name__}")

    client = Client(cluster)
    ex = DaskExecutor(client)

    def slots() -> int:
        # Workers may still be starting (batch jobs in a queue): plan for them.
        return max(executor_slots(ex), planned)

    try:
        yield ExecutorHandle(ex, slots, desc, client=client)
    finally:
        try:
            client.close()
        finally:
            cluster.close()
