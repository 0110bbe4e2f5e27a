"""Per-scenario time limit: a hung scenario becomes a recorded failure."""

from __future__ import annotations

import os
import time
from pathlib import Path

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


# --------------------------------------------- evaluators that stop themselves
def test_which_factories_stop_themselves_and_when_they_are_killed():
    from rexopt.sweep.evaluators import (
        cascade_factory,
        function_factory,
        stops_itself,
    )
    from rexopt.sweep.sandbox import kill_after

    assert stops_itself(cascade_factory)
    assert not stops_itself(function_factory)
    assert kill_after(40.0, True) == 50.0  # a quarter of the limit ...
    assert kill_after(4.0, True) == 9.0  # ... at least 5 s
    assert kill_after(4.0, False) == 4.0  # killed at the limit itself


def test_a_cascade_scenario_stops_its_own_solve_and_says_where(tmp_path):
    """The sweep's limit reaches the kernel: the scenario fails with the solve's
    own words (phase, elapsed), not a kill, and its process lives on."""
    import tomllib

    from rexopt.sweep.evaluators import cascade_factory
    from rexopt.sweep.sandbox import Sandbox

    root = Path(__file__).resolve().parents[2]
    lace = root / "cases" / "lace_p507.toml"
    sw = sweep_from_dict(
        {
            "name": "lace stopped",
            "base": str(lace),
            "outputs": ["purity_strip_liquor_Ce"],
            "parameters": [{"path": "scrub.flow_L_h", "values": [40.0, 50.0]}],
            "execution": {"scenario_time_limit_s": 1e-9, "batch_size": 2},
            "cluster": {"kind": "serial"},
        },
        base_dir=root,
    )
    s = run_sweep(sw, tmp_path / "c.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "c.h5")
    assert s.failed == 2 and (df["status"] == "failed").all()
    for msg in df["message"]:
        assert msg.startswith(
            "CascadeTimeLimit: no steady state found within the time limit of "
            "1e-09 s: stopped in the "
        ), msg
        assert "killed" not in msg

    base = tomllib.loads(lace.read_text())
    box = Sandbox(
        cascade_factory,
        base,
        str(root / "cases"),
        1e-9,
        options={"time_limit_s": 1e-9},
        stops_itself=True,
    )
    try:
        box._start()
        pid = box.proc.pid
        for _ in range(2):
            assert box(base)["message"].startswith("CascadeTimeLimit: ")
        assert box.restarts == 0 and box.proc.pid == pid
    finally:
        box.close()


def test_an_evaluator_that_does_not_stop_itself_is_killed_after_the_grace():
    from sweep_models import hanging_factory

    from rexopt.sweep.sandbox import Sandbox

    box = Sandbox(
        hanging_factory, {}, None, 0.1, options={"time_limit_s": 0.1}, stops_itself=True
    )
    try:
        t0 = time.perf_counter()
        res = box({})
        wall = time.perf_counter() - t0
    finally:
        box.close()
    assert res["status"] == "failed"
    assert res["message"] == (
        "time limit of 0.1 s exceeded: the scenario did not stop its own solve and "
        "was killed at 5.1 s (scenario_time_limit_s plus a grace period)"
    )
    assert wall >= 5.1
