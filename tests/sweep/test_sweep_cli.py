"""`rexopt sweep` / `rexopt results` through a throw-away typer app."""

from __future__ import annotations

import pandas as pd
import pytest
import typer
from sweep_helpers import kremser_sweep
from typer.testing import CliRunner

from rexopt.sweep import read_results
from rexopt.sweep.cli import register

pytestmark = pytest.mark.integration


@pytest.fixture
def app():
    a = typer.Typer(no_args_is_help=True)
    register(a)
    return a


def invoke(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_sweep_then_results_exports(app, write_sweep, tmp_path):
    sf = write_sweep(kremser_sweep(n=4, func="kremser_picky"))
    out = tmp_path / "res.h5"
    r = invoke(app, "sweep", sf, "--out", out, "--report", tmp_path / "rep")
    assert r.exit_code == 0, r.output
    assert "Sweep summary" in r.output and "scenarios/s" in r.output
    assert "32" in r.output and "plot(s)" in r.output
    assert (tmp_path / "rep" / "tornado_recovery.png").exists()

    # a rerun finds nothing to do
    r = invoke(app, "sweep", sf, "--out", out, "--quiet")
    assert r.exit_code == 0 and "computed now" in r.output

    csv, pq = tmp_path / "r.csv", tmp_path / "r.parquet"
    r = invoke(
        app,
        "results",
        out,
        "--csv",
        csv,
        "--parquet",
        pq,
        "--plot-dir",
        tmp_path / "plots",
    )
    assert r.exit_code == 0, r.output
    assert "failed" in r.output and "seven stages" in r.output
    df = pd.read_csv(csv, index_col="scenario")
    ref = read_results(out)
    assert len(df) == 32
    pd.testing.assert_series_equal(df["recovery"], ref["recovery"])
    assert pd.read_parquet(pq)["status"].tolist() == ref["status"].tolist()
    assert any((tmp_path / "plots").glob("dist_*.png"))


def test_default_out_next_to_sweep_file(app, write_sweep, tmp_path):
    sf = write_sweep(kremser_sweep(n=1), "mine.toml")
    r = invoke(app, "sweep", sf, "--quiet")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "mine.h5").exists()


def test_bad_file_exit_2_with_message(app, write_sweep):
    sf = write_sweep(kremser_sweep().replace('name = "D"', 'name = "D"\nstep = 1'))
    r = invoke(app, "sweep", sf)
    assert r.exit_code == 2
    assert "sweep.toml" in r.output and "parameters[0].step" in r.output
    assert "allowed here:" in r.output and "grid" in r.output


def test_changed_definition_exit_2(app, write_sweep, tmp_path):
    out = tmp_path / "x.h5"
    assert (
        invoke(app, "sweep", write_sweep(kremser_sweep(n=1)), "-o", out, "-q").exit_code
        == 0
    )
    r = invoke(app, "sweep", write_sweep(kremser_sweep(n=2), "b.toml"), "-o", out)
    assert r.exit_code == 2 and "different sweep definition" in r.output


def test_dry_run_local_computes_nothing(app, write_sweep, tmp_path):
    sf = write_sweep(kremser_sweep(n=3))
    r = invoke(app, "sweep", sf, "--dry-run")
    assert r.exit_code == 0, r.output
    assert "scenarios: 24" in r.output and "params.O_L_h" in r.output
    assert not (tmp_path / "sweep.h5").exists()


@pytest.mark.parametrize(("kind", "marker"), [("slurm", "#SBATCH"), ("pbs", "#PBS")])
def test_dry_run_prints_job_script(app, write_sweep, kind, marker):
    cluster = (
        f'kind = "{kind}"\nqueue = "short"\ncores = 8\nmemory = "16GB"\n'
        'walltime = "02:00:00"\njobs = 3\n'
        'job_script_prologue = ["module load python"]\n'
        "[cluster.adapt]\nminimum_jobs = 1\nmaximum_jobs = 6"
    )
    r = invoke(
        app, "sweep", write_sweep(kremser_sweep(n=3, cluster=cluster)), "--dry-run"
    )
    assert r.exit_code == 0, r.output
    assert marker in r.output and "short" in r.output
    assert "02:00:00" in r.output and "module load python" in r.output
    assert "dask_worker" in r.output or "dask-worker" in r.output
    assert "--nworkers 8" in r.output and "adapt 1..6" in r.output


def test_results_missing_file(app, tmp_path):
    r = invoke(app, "results", tmp_path / "nope.h5")
    assert r.exit_code == 2 and "no such file" in r.output


def test_branch_search_off_is_said_by_the_plan_and_the_summary(app, write_sweep):
    from pathlib import Path

    lace = Path(__file__).resolve().parents[2] / "cases" / "lace_p507.toml"
    sf = write_sweep(
        f"""
base = "{lace.as_posix()}"
outputs = ["purity_strip_liquor_Ce"]
[[parameters]]
path = "scrub.flow_L_h"
values = [70.0, 90.0]
[cascade]
branch_search = false
[cluster]
kind = "serial"
"""
    )
    said = "[cascade] branch_search = false"
    r = invoke(app, "sweep", sf, "--dry-run")
    assert r.exit_code == 0, r.output
    assert said in r.output
    r = invoke(app, "sweep", sf, "--quiet")
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.replace("│", " ").split())
    assert "branch search OFF" in flat and said in flat
    assert "worker CPU per scenario" in flat
    # `rexopt results` shows what the ok rows say: the switch and the warnings
    r = invoke(app, "results", sf.with_suffix(".h5"))
    assert r.exit_code == 0, r.output
    assert "2 ok scenario(s) with a message" in r.output
    assert "2 x branch search off" in r.output and "1 warning(s):" in r.output
