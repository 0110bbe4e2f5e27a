"""The full path on a real Dask LocalCluster (2 worker processes): run, a worker
killed mid-run, the client killed mid-run and resumed.  No mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import sweep_models
from sweep_helpers import kremser_sweep
from test_sweep_engine import assert_matches_direct

from rexopt.sweep import load_sweep, read_results, run_sweep
from rexopt.sweep.store import open_for_reading

pytestmark = [pytest.mark.distributed, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]


def test_local_cluster_matches_serial(dask_client, write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=25, func="kremser_picky")))
    out = tmp_path / "r.h5"
    s = run_sweep(
        sw, out, executor=dask_client.get_executor(pure=False), progress=False
    )
    assert s.computed == 200 and s.slots == 2
    assert_matches_direct(out, sw, sweep_models.kremser_picky)
    df = read_results(out)
    # every scenario ran in a worker process of the cluster, not in the client
    pids = set(dask_client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    assert set(df.loc[df["status"] == "ok", "pid"].astype(int)) <= pids
    # both workers took tasks.  Counted over every row: the first 50 scenarios
    # (D = 0.5) are never ok, and on a loaded machine the slower worker may run
    # only early tasks while the faster one takes the later, larger batches
    # (seen: worker 1 ran scenarios 0-11 only), so "both have ok rows" is a
    # property of the scheduling, not of the sweep.
    assert df["worker"].nunique() == 2, df["worker"].value_counts().to_dict()


def test_evaluator_built_once_per_worker(dask_client, write_sweep, tmp_path):
    from rexopt.sweep import register_evaluator

    register_evaluator("counted", sweep_models.counted_factory)
    txt = """
outputs = ["builds", "pid"]
[base]
kind = "counted"
x = 1.0
[[parameters]]
path = "x"
range = [0.0, 1.0]
[sampling]
n = 300
"""
    sw = load_sweep(write_sweep(txt))
    s = run_sweep(
        sw,
        tmp_path / "r.h5",
        executor=dask_client.get_executor(pure=False),
        progress=False,
    )
    assert s.ok == 300 and s.n_tasks > 2
    df = read_results(tmp_path / "r.h5")
    # the factory ran once in each worker process, whatever the number of tasks
    assert df.groupby("pid")["builds"].max().max() == 1


@pytest.mark.slow
def test_worker_killed_mid_run(dask_client, write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=40, sleep_s=0.02)))
    out = tmp_path / "r.h5"
    dask_client.wait_for_workers(2)
    pids = dask_client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed_at = []

    def kill():
        # wait until the victim has done some work, then kill it mid-task
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.05)
            if _victim_done(out, victim) >= 10:
                break
        killed_at.append(time.time())
        os.kill(victim, signal.SIGKILL)

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    s = run_sweep(
        sw,
        out,
        executor=dask_client.get_executor(pure=False),
        progress=False,
        batch_size=5,
    )
    t.join()
    assert killed_at, "the worker was not killed"
    assert s.computed == 320 and s.failed == 0 and s.ok == 320
    df = read_results(out)
    assert (df["pid"] == victim).sum() >= 10  # it did work before it died
    assert (df["started_unix"] > killed_at[0]).sum() > 0  # the run went on after
    assert_matches_direct(out, sw, sweep_models.kremser)
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def _victim_done(path: Path, pid: int) -> int:
    try:
        with open_for_reading(path) as f:
            done = f["done"][...].astype(bool)
            return int(np.sum(f["outputs"]["pid"][...][done] == pid))
    except Exception:
        return -1


def _done_count(path: Path) -> int:
    try:
        with open_for_reading(path) as f:
            return int(f["done"][...].sum())
    except Exception:
        return -1


@pytest.mark.slow
def test_client_killed_then_resumed(dask_client, write_sweep, tmp_path):
    text = kremser_sweep(n=50, sleep_s=0.01, cluster="workers = 2")
    sf = write_sweep(text)
    out = tmp_path / "r.h5"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rexopt.sweep",
            "sweep",
            str(sf),
            "--out",
            str(out),
            "--quiet",
            "--batch-size",
            "4",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            if _done_count(out) >= 60:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stdout.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        # the LocalCluster's worker processes follow their dead parent; make sure
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # the file is valid and the done-mask only claims what is really there
    with h5py.File(out, "r") as f:
        done = f["done"][...].astype(bool)
        rec = f["outputs"]["recovery"][...]
        st = f["status"][...]
    n_done = int(done.sum())
    assert 60 <= n_done < 400
    assert np.all(np.isfinite(rec[done])) and np.all(st[done] > 0)
    sw = load_sweep(sf)
    s = run_sweep(
        sw, out, executor=dask_client.get_executor(pure=False), progress=False
    )
    assert s.done_before == n_done
    assert s.computed == 400 - n_done
    assert_matches_direct(out, sw, sweep_models.kremser)


def _cmdline(proc) -> str:
    import psutil

    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # ended meanwhile
        return ""


@pytest.mark.slow
def test_process_pool_rebuilt_after_worker_killed(write_sweep, tmp_path):
    """A plain ProcessPoolExecutor also fits; a killed worker breaks the pool,
    which the engine rebuilds, retrying only the lost tasks."""
    import psutil

    sw = load_sweep(
        write_sweep(
            kremser_sweep(n=40, sleep_s=0.02, cluster='kind = "processes"\nworkers = 2')
        )
    )
    out = tmp_path / "r.h5"
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    killed = []

    def kill():
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(0.1)
            if _done_count(out) >= 40:
                # a pool worker, not the resource tracker spawn also starts
                new = [
                    p
                    for p in me.children()
                    if p.pid not in before and "spawn_main" in _cmdline(p)
                ]
                if new:
                    killed.append(new[0].pid)
                    os.kill(new[0].pid, signal.SIGKILL)
                    return

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    s = run_sweep(sw, out, progress=False, batch_size=4)
    t.join()
    assert killed
    assert s.lost_tasks >= 1 and s.failed == 0 and s.computed == 320
    assert_matches_direct(out, sw, sweep_models.kremser)


@pytest.mark.slow
# A second cluster's scheduler finds the HTTP port of the module's cluster taken.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_scenario_that_kills_its_worker_is_isolated(write_sweep, tmp_path):
    """Bisection of lost tasks: only the scenario that kills its worker fails."""
    import dask
    import distributed

    txt = f"""
outputs = ["y"]
[base]
kind = "function"
callable = "{(Path(__file__).parent / "sweep_models.py").as_posix()}:poison"
params = {{ x = 0.0 }}
[[parameters]]
path = "params.x"
values = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
"""
    sw = load_sweep(write_sweep(txt))
    # Dask gives up on a task at the first death here (default: after 3); an
    # innocent task that shared the dying worker is retried by the engine.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            s = run_sweep(
                sw,
                tmp_path / "r.h5",
                executor=client.get_executor(pure=False),
                progress=False,
                batch_size=8,
                max_retries=2,
            )
    df = read_results(tmp_path / "r.h5")
    bad = df[df["status"] == "failed"]
    assert s.ok == 7 and s.failed == 1, bad[["message", "attempts"]].to_string()
    assert list(bad.index) == [5]
    assert "lost" in bad["message"].iloc[0]
    np.testing.assert_allclose(
        df.loc[df["status"] == "ok", "y"], 2 * df.loc[df["status"] == "ok", "params.x"]
    )
