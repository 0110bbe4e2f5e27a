"""The bundled example sweeps and the cascade kind."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from rexopt.sweep import SerialExecutor, load_sweep, read_results, run_sweep
from rexopt.sweep.worker import FAILED, INFEASIBLE, OK, evaluate_scenario

REPO = Path(__file__).resolve().parents[2]
SWEEPS = REPO / "cases" / "sweeps"

# The example case of docs/cases.md, standing in for cases/prnd_p507.toml.
DOC_CASE = """
kind = "cascade"
name = "Pr/Nd split, saponified P507 in HCl"
[chemistry]
model = "saturated"
medium = "chloride"
components = ["Pr", "Nd"]
[chemistry.saturated]
separation_factors = { Nd = 1.5, Pr = 1.0 }
K_ref_L_mol = 50.0
[sections]
extraction = { stages = 40 }
scrub = { stages = 30, efficiency = 1.0 }
strip = { stages = 10 }
[organic]
flow_L_h = 2300.0
extractant_mol_L = 1.5
saponification = 0.36
agent = "NH3"
recycle = false
[feed]
phase = "aqueous"
stage = 40
flow_L_h = 100.0
acidity_mol_L = 0.05
conc_mol_L = { Pr = 0.25, Nd = 0.75 }
[scrub]
flow_L_h = 40.0
acidity_mol_L = 2.5
[strip]
flow_L_h = 80.0
acidity_mol_L = 6.0
"""


def _cascade_available() -> bool:
    try:
        importlib.import_module("rexopt.cascade")
    except Exception:
        return False
    return True


@pytest.mark.component
def test_function_example_runs_and_matches_kremser(tmp_path):
    src = SWEEPS / "kremser_function_sweep.toml"
    sw = load_sweep(src)
    assert sw.n_scenarios == 2000
    out = tmp_path / "k.h5"
    s = run_sweep(sw, out, executor=SerialExecutor(), progress=False)
    assert s.ok == 2000
    df = read_results(out)
    E = df["D"] * df["organic_flow_L_h"] / 100.0
    N = df["stages"]
    R = (E ** (N + 1) - E) / (E ** (N + 1) - 1)
    np.testing.assert_allclose(df["recovery"], R, rtol=1e-12)
    np.testing.assert_allclose(df["extraction_factor"], E, rtol=1e-12)
    # Monte Carlo inputs follow their distributions
    assert abs(np.median(df["D"]) - 1.5) < 0.05
    assert abs(df["organic_flow_L_h"].std() - 5.0) < 0.5


@pytest.mark.unit
def test_prnd_example_paths_fit_the_documented_case(tmp_path):
    (tmp_path / "prnd_p507.toml").write_text(DOC_CASE)
    (tmp_path / "sweeps").mkdir()
    dst = tmp_path / "sweeps" / "prnd_feed_sweep.toml"
    shutil.copy(SWEEPS / "prnd_feed_sweep.toml", dst)
    sw = load_sweep(dst)
    assert sw.kind == "cascade" and sw.n_scenarios == 5 * 4 * 50
    case = sw.scenario_case(999)
    assert case["sections"]["scrub"]["stages"] == 35
    assert case["feed"]["conc_mol_L"]["Nd"] == pytest.approx(0.9)
    assert 1900 <= case["organic"]["flow_L_h"] <= 2700
    assert 300 <= case["scrub"]["flow_L_h"] <= 380


@pytest.mark.unit
@pytest.mark.skipif(
    not (REPO / "cases" / "prnd_p507.toml").exists(),
    reason="cases/prnd_p507.toml not written yet",
)
def test_prnd_example_loads_against_real_case():
    sw = load_sweep(SWEEPS / "prnd_feed_sweep.toml")
    assert sw.n_scenarios == 1000


@pytest.mark.component
@pytest.mark.skipif(not _cascade_available(), reason="rexopt.cascade not available")
def test_cascade_kind_matches_direct_simulation(tmp_path):
    import rexopt

    base = REPO / "cases" / "prnd_p507.toml"
    if not base.exists():
        base = tmp_path / "prnd_p507.toml"
        base.write_text(DOC_CASE)
    summary0 = rexopt.simulate(str(base)).summary()
    outputs = sorted(
        k
        for k, v in summary0.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    )[:6]
    assert outputs, "CascadeResult.summary() returned no scalars"
    sf = tmp_path / "s.toml"
    sf.write_text(
        f'base = "{base.as_posix()}"\noutputs = {outputs!r}\n'
        '[[parameters]]\npath = "organic.flow_L_h"\nvalues = [2100.0, 2300.0, 2500.0]\n'
        '[[parameters]]\npath = "sections.scrub.stages"\nvalues = [25, 30]\n'
        '[cluster]\nkind = "serial"\n'
    )
    sw = load_sweep(sf)
    out = tmp_path / "c.h5"
    s = run_sweep(sw, out, progress=False)
    assert s.computed == 6
    df = read_results(out)
    codes = {"ok": OK, "infeasible": INFEASIBLE, "failed": FAILED}
    for i in range(6):
        # the reference: rexopt.simulate called directly, same status rules
        st, vals, msg = evaluate_scenario(
            lambda c: rexopt.simulate(c).summary(), sw.scenario_case(i), outputs
        )
        row = df.iloc[i]
        assert codes[row["status"]] == st, (i, row["message"], msg)
        if st == OK:
            for o, v in zip(outputs, vals, strict=True):
                assert row[o] == pytest.approx(v, rel=1e-9, abs=1e-12)
        else:
            assert row["message"].split(" (at ")[0] == msg.split(" (at ")[0]
    assert (df["status"] == "ok").sum() >= 1, df["message"].tolist()
