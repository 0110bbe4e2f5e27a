"""Batch sweeps over any case kind, on any concurrent.futures executor (Dask).

A sweep file (see ``docs/sweeps.md``) names a base case, parameters to vary by
dotted path, the outputs to keep and the cluster.  Results go to one HDF5 file with
a done-mask, so a rerun resumes::

    from rexopt.sweep import load_sweep, run_sweep, read_results

    sweep = load_sweep("cases/sweeps/prnd_feed_sweep.toml")
    summary = run_sweep(sweep, "prnd.h5")            # LocalCluster from [cluster]
    df = read_results("prnd.h5")

Any ``concurrent.futures.Executor`` can run the tasks (``run_sweep(sweep, out,
executor=client.get_executor())``).  New case kinds plug in with
:func:`register_evaluator`.
"""

from rexopt.sweep.cluster import (
    DaskExecutor,
    SerialExecutor,
    job_script,
    open_executor,
)
from rexopt.sweep.engine import SweepSummary, run_sweep
from rexopt.sweep.evaluators import register_evaluator, registered_kinds
from rexopt.sweep.report import sensitivity_table, write_report
from rexopt.sweep.spec import Sweep, SweepFileError, load_sweep, sweep_from_dict
from rexopt.sweep.store import StoreMismatchError, read_definition, read_results

__all__ = [
    "Sweep",
    "SweepFileError",
    "SweepSummary",
    "StoreMismatchError",
    "SerialExecutor",
    "DaskExecutor",
    "load_sweep",
    "sweep_from_dict",
    "run_sweep",
    "read_results",
    "read_definition",
    "register_evaluator",
    "registered_kinds",
    "open_executor",
    "job_script",
    "write_report",
    "sensitivity_table",
]
