"""Per-scenario time limit: a hung scenario becomes a recorded failure."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from sweep_helpers import MODELS

from rexopt.sweep import SerialExecutor, read_results, run_sweep, sweep_from_dict

pytestmark = pytest.mark.integration


def _sweep(values, limit):
    return sweep_from_dict(
        {
            "name": "sticky",
            "base": {
                "kind": "function",
                "callable": f"{MODELS.as_posix()}:sticky",
                "params": {"x": 0.0, "hang_at": 2.0, "crash_at": 4.0},
            },
            "parameters": [{"path": "params.x", "values": values}],
            "outputs": ["y", "pid"],
            "execution": {"scenario_time_limit_s": limit, "batch_size": 2},
            "cluster": {"kind": "serial"},
        }
    )


def test_hung_and_crashing_scenarios_are_recorded_not_waited_for(tmp_path):
    values = [1.0, 2.0, 3.0, -1.0, 4.0, 5.0]
    sw = _sweep(values, 1.5)
    t0 = time.perf_counter()
    s = run_sweep(sw, tmp_path / "s.h5", executor=SerialExecutor(), progress=False)
    wall = time.perf_counter() - t0
    df = read_results(tmp_path / "s.h5").sort_index()
    st = dict(zip(df["params.x"], df["status"], strict=True))
    assert st == {
        1.0: "ok",
        2.0: "failed",
        3.0: "ok",
        -1.0: "infeasible",
        4.0: "failed",
        5.0: "ok",
    }
    msg = dict(zip(df["params.x"], df["message"], strict=True))
    assert "time limit of 1.5 s exceeded" in msg[2.0]
    assert "died (killed by signal 9)" in msg[4.0]
    assert "KremserInfeasible" in msg[-1.0]
    ok = df[df["status"] == "ok"]
    np.testing.assert_allclose(ok["y"], 3.0 * ok["params.x"])
    # scenarios ran in child processes, never in this one
    assert os.getpid() not in set(ok["pid"].astype(int))
    assert s.ok == 3 and s.failed == 2 and s.infeasible == 1
    # the hung scenario cost its limit, not a hang (generous bound: slow CI)
    assert wall < 60.0


def test_without_a_limit_scenarios_run_in_the_worker(tmp_path):
    sw = _sweep([1.0, 3.0], None)
    run_sweep(sw, tmp_path / "s.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "s.h5")
    assert set(df["pid"].astype(int)) == {os.getpid()}


@pytest.mark.distributed
def test_time_limit_on_dask_workers(dask_client, tmp_path):
    """Dask workers are daemonic processes: the scenario process is a plain
    subprocess, so it works there too."""
    values = [1.0, 2.0, 3.0, 5.0]
    sw = _sweep(values, 2.0)
    s = run_sweep(
        sw,
        tmp_path / "d.h5",
        executor=dask_client.get_executor(pure=False),
        progress=False,
    )
    df = read_results(tmp_path / "d.h5")
    st = dict(zip(df["params.x"], df["status"], strict=True))
    assert st == {1.0: "ok", 2.0: "failed", 3.0: "ok", 5.0: "ok"}
    assert s.ok == 3 and s.failed == 1
    worker_pids = set(dask_client.run(os.getpid).values())
    ok = df[df["status"] == "ok"]
    assert not (set(ok["pid"].astype(int)) & (worker_pids | {os.getpid()}))
