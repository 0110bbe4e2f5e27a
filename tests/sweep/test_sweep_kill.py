"""Reliability: kill -9 a worker, then the client, mid-sweep; resume.

The sweep runs as its own ``rexopt sweep`` process on a LocalCluster of 2 workers.
One worker is killed (SIGKILL) while it computes, the sweep goes on, then the
client and its whole cluster are killed.  The HDF5 file must open, its done-mask
must claim only scenarios whose results are there, and a resumed run must compute
exactly the scenarios not done, with every result equal to a direct evaluation:
no scenario lost, none computed twice into the file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import sweep_models
from sweep_helpers import kremser_sweep
from test_sweep_engine import assert_matches_direct

from rexopt.sweep import load_sweep, read_results, run_sweep

pytestmark = [pytest.mark.distributed, pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
N = 400  # scenarios of kremser_sweep(n=50): 4 x 2 grid x 50 samples


def _done(path: Path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f["done"][...].sum())
    except Exception:
        return -1


def _wait_done(path: Path, proc, at_least: int, timeout: float = 120.0) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = _done(path)
        if n >= at_least:
            return n
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} scenarios done in {timeout} s")


def _worker_pids(client_pid: int) -> list[int]:
    import psutil

    kids = psutil.Process(client_pid).children(recursive=True)
    # LocalCluster: nanny processes, each the parent of one worker process
    return [p.pid for p in kids if not p.children() and p.pid != client_pid]


def test_worker_and_client_killed_then_resumed(write_sweep, tmp_path):
    pytest.importorskip("psutil")
    sf = write_sweep(kremser_sweep(n=50, sleep_s=0.02, cluster="workers = 2"))
    out = tmp_path / "r.h5"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    cmd = [sys.executable, "-m", "rexopt.cli", "sweep", str(sf), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "--batch-size", "4"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        n1 = _wait_done(out, proc, 40)
        workers = _worker_pids(proc.pid)
        assert workers, "no worker process found"
        os.kill(workers[0], signal.SIGKILL)  # a worker, mid-task
        n2 = _wait_done(out, proc, n1 + 40)  # the sweep goes on without it
        assert n2 < N, "the sweep finished before the client could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the client (and the one writer)
        proc.wait(timeout=30)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the cluster it leaves behind
        except ProcessLookupError:
            pass
    # the file opens; the done-mask claims only complete scenarios
    with h5py.File(out, "r") as f:
        done = f["done"][...].astype(bool)
        rec = f["outputs"]["recovery"][...]
        st = f["status"][...]
        attempts = f["attempts"][...]
    n_done = int(done.sum())
    assert n2 <= n_done < N
    assert np.all(np.isfinite(rec[done])) and np.all(st[done] > 0)
    assert np.all(np.isnan(rec[~done])) or np.all(st[~done] == 0)
    assert np.all(attempts[done] >= 1)

    from rexopt.sweep import SerialExecutor

    sw = load_sweep(sf)
    s = run_sweep(sw, out, executor=SerialExecutor(), progress=False)
    assert s.done_before == n_done
    assert s.computed == N - n_done  # exactly the missing ones, none twice
    assert s.ok == N - n_done and s.failed == 0
    df = read_results(out)
    assert len(df) == N and (df["status"] == "ok").all()
    assert_matches_direct(out, sw, sweep_models.kremser)
