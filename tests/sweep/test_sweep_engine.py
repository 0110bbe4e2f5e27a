"""The sweep engine in-process: statuses, HDF5 content, resume, retries, export."""

from __future__ import annotations

import json
import math
from concurrent.futures import Executor, Future

import h5py
import numpy as np
import pytest
import sweep_models
from sweep_helpers import kremser_sweep

from rexopt.sweep import (
    SerialExecutor,
    StoreMismatchError,
    load_sweep,
    read_definition,
    read_results,
    run_sweep,
    sensitivity_table,
    write_report,
)
from rexopt.sweep.engine import Batcher
from rexopt.sweep.worker import FAILED, INFEASIBLE, OK, evaluate_scenario

pytestmark = pytest.mark.component


def direct(sweep, func):
    """Serial reference: call the model on every scenario's params directly."""
    rows = []
    for i in range(sweep.n_scenarios):
        case = sweep.scenario_case(i)
        st, vals, msg = evaluate_scenario(
            lambda c: func(**c["params"]), case, sweep.outputs
        )
        rows.append((st, vals, msg))
    return rows


def assert_matches_direct(path, sweep, func, *, skip_pid=True):
    df = read_results(path)
    ref = direct(sweep, func)
    code = {"ok": OK, "infeasible": INFEASIBLE, "failed": FAILED}
    assert df["done"].all()
    for i, (st, vals, msg) in enumerate(ref):
        row = df.iloc[i]
        assert code[row["status"]] == st, (i, row["status"], msg)
        for o, v in zip(sweep.outputs, vals, strict=True):
            if skip_pid and o == "pid":
                continue
            if math.isnan(v):
                assert math.isnan(row[o])
            else:
                assert row[o] == pytest.approx(v, rel=1e-12)
        if st != OK:
            assert row["message"].split(" (at ")[0] == msg.split(" (at ")[0]


def test_kremser_limits():
    r = sweep_models.kremser_recovery
    assert r(1.0, 100, 100, 4) == pytest.approx(4 / 5)
    assert r(2.0, 100, 100, 60) == pytest.approx(1.0)
    assert r(0.5, 100, 100, 60) == pytest.approx(0.5)  # E < 1: limit is E
    # near E = 1 the closed form is continuous
    assert r(1.0 + 1e-7, 100, 100, 4) == pytest.approx(0.8, abs=1e-6)


def test_serial_run_statuses_and_content(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=6, func="kremser_picky")))
    out = tmp_path / "r.h5"
    s = run_sweep(sw, out, progress=False)
    assert s.computed == sw.n_scenarios == 48
    assert s.failed == 24  # every stages = 7 scenario raises ValueError
    assert s.infeasible > 0 and s.ok > 0
    assert s.ok + s.infeasible + s.failed == 48
    assert s.totals == {
        "pending": 0,
        "ok": s.ok,
        "infeasible": s.infeasible,
        "failed": s.failed,
    }
    assert_matches_direct(out, sw, sweep_models.kremser_picky)
    df = read_results(out)
    failed = df[df["status"] == "failed"]
    assert failed["message"].str.startswith("ValueError: seven stages").all()
    assert "sweep_models.py" in failed["message"].iloc[0]
    inf = df[df["status"] == "infeasible"]
    # both routes to infeasible: returned status and a *Infeasible exception
    assert inf["message"].str.startswith("E = ").any()
    assert inf["message"].str.startswith("KremserInfeasible").any()
    assert (df["duration_s"] > 0).all() and df["started_unix"].notna().all()


def test_definition_stored_in_file(write_sweep, tmp_path):
    p = write_sweep(kremser_sweep(n=2))
    sw = load_sweep(p)
    out = tmp_path / "r.h5"
    run_sweep(sw, out, progress=False)
    d = read_definition(out)
    assert d["definition_toml"] == p.read_text()
    assert d["base_case"] == sw.base_case
    assert d["spec_hash"] == sw.definition_hash()
    assert [x["name"] for x in d["parameters"]] == ["D", "stages", "O_L_h"]
    assert d["runs"][0]["computed"] == 16
    with h5py.File(out) as f:
        assert f["inputs"]["D"].attrs["path"] == "params.D"
        assert json.loads(f.attrs["outputs"]) == sw.outputs


def test_resume_computes_only_missing(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=5)))
    out = tmp_path / "r.h5"
    run_sweep(sw, out, progress=False)
    with h5py.File(out, "r+") as f:
        # as if the client died: some results written, done flags not yet
        d = f["done"][...]
        d[[1, 2, 3, 17, 39]] = False
        f["done"][...] = d
    s = run_sweep(sw, out, progress=False)
    assert s.done_before == 35 and s.computed == 5
    s = run_sweep(sw, out, progress=False)
    assert s.computed == 0 and s.done_before == 40
    assert_matches_direct(out, sw, sweep_models.kremser)


def test_retry_failed(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=2, func="kremser_picky")))
    out = tmp_path / "r.h5"
    first = run_sweep(sw, out, progress=False)
    s = run_sweep(sw, out, progress=False, retry_failed=True)
    assert s.computed == first.failed and s.failed == first.failed


def test_other_definition_refused(write_sweep, tmp_path):
    out = tmp_path / "r.h5"
    run_sweep(load_sweep(write_sweep(kremser_sweep(n=2))), out, progress=False)
    other = load_sweep(write_sweep(kremser_sweep(n=3), "other.toml"))
    with pytest.raises(StoreMismatchError, match="different sweep definition"):
        run_sweep(other, out, progress=False)
    s = run_sweep(other, out, progress=False, overwrite=True)
    assert s.computed == 24


def test_half_created_file_is_replaced(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=2)))
    out = tmp_path / "r.h5"
    with h5py.File(out, "w") as f:
        f.attrs["format"] = "rexopt-sweep"
    assert run_sweep(sw, out, progress=False).computed == 16


class FlakyExecutor(Executor):
    """Loses the first ``n_lost`` tasks as if their worker had died."""

    def __init__(self, n_lost):
        self.n_lost = n_lost
        self.inner = SerialExecutor()

    def submit(self, fn, /, *args, **kwargs):
        if self.n_lost > 0:
            self.n_lost -= 1
            f = Future()
            f.set_exception(ConnectionError("worker went away"))
            return f
        return self.inner.submit(fn, *args, **kwargs)


def test_lost_tasks_are_split_retried_then_failed(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=2)))
    s = run_sweep(
        sw, tmp_path / "a.h5", executor=FlakyExecutor(3), progress=False, batch_size=4
    )
    # three lost tasks of 4 came back as halves of 2, which all went through
    assert s.lost_tasks == 3 and s.ok == 16 and s.failed == 0
    assert s.n_tasks == 4 + 6
    # single-scenario tasks are retried, and the attempt is recorded
    s = run_sweep(
        sw, tmp_path / "c.h5", executor=FlakyExecutor(2), progress=False, batch_size=1
    )
    assert s.lost_tasks == 2 and s.ok == 16
    df = read_results(tmp_path / "c.h5")
    assert sorted(df["attempts"])[-3:] == [1, 2, 2]
    # with no retries allowed a lost single scenario is recorded as failed
    s = run_sweep(
        sw,
        tmp_path / "b.h5",
        executor=FlakyExecutor(1),
        progress=False,
        batch_size=1,
        max_retries=0,
    )
    assert s.failed == 1 and s.ok == 15
    df = read_results(tmp_path / "b.h5")
    assert (
        df[df["status"] == "failed"]["message"]
        .str.contains("lost 1 time.*worker went away")
        .all()
    )


def test_second_writer_is_refused(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=1)))
    out = tmp_path / "r.h5"
    run_sweep(sw, out, progress=False)
    code = (
        "import h5py, time, sys; f = h5py.File(sys.argv[1], 'r+'); "
        "print('open', flush=True); time.sleep(30)"
    )
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"open"
        with pytest.raises(StoreMismatchError, match="open for writing in another"):
            run_sweep(sw, out, progress=False)
    finally:
        p.kill()
        p.wait()


def test_evaluator_setup_error_fails_every_scenario(write_sweep, tmp_path):
    txt = kremser_sweep(n=2).replace(":kremser", ":does_not_exist")
    sw = load_sweep(write_sweep(txt))
    s = run_sweep(sw, tmp_path / "r.h5", progress=False)
    assert s.failed == 16
    msg = read_results(tmp_path / "r.h5")["message"].iloc[0]
    assert msg.startswith("evaluator set-up failed") and "does_not_exist" in msg


def test_missing_output_is_a_clear_failure(write_sweep, tmp_path):
    txt = kremser_sweep(n=2).replace('"pid"]', '"purity"]')
    s = run_sweep(load_sweep(write_sweep(txt)), tmp_path / "r.h5", progress=False)
    assert s.failed == 16
    msg = read_results(tmp_path / "r.h5")["message"].iloc[0]
    assert "output 'purity' is not in the evaluator's result" in msg
    assert "recovery" in msg


def test_batcher_sizes():
    b = Batcher(np.arange(1000), target_s=0.1, first=4)
    assert b.size(2) == 4
    b.observe(100, 0.1)  # 1 ms per scenario
    assert b.size(2) == 100
    b.pos = 900
    assert b.size(2) == 25  # tail spread over the slots
    fixed = Batcher(np.arange(10), fixed=3)
    got = []
    while (nxt := fixed.next(1)) is not None:
        got.append(list(nxt[0]))
    assert got == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_export_and_report(write_sweep, tmp_path):
    sw = load_sweep(write_sweep(kremser_sweep(n=8)))
    out = tmp_path / "r.h5"
    run_sweep(sw, out, progress=False)
    df = read_results(out)
    df.to_parquet(tmp_path / "r.parquet")
    import pandas as pd

    back = pd.read_parquet(tmp_path / "r.parquet")
    assert list(back.columns) == list(df.columns)
    t = sensitivity_table(df, "recovery", ["D", "stages", "O_L_h"])
    # recovery rises with D, stages and organic flow
    assert (t["swing"] > 0).all() and t["parameter"].iloc[0] in ("D", "stages")
    files = write_report(out, tmp_path / "plots")
    names = sorted(p.name for p in files)
    assert "tornado_recovery.png" in names and "dist_recovery.png" in names
    assert any(n.startswith("scatter_") for n in names)
    assert all(p.stat().st_size > 1000 for p in files)
