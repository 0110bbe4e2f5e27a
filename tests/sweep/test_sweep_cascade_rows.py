"""A cascade sweep stores exactly what a single simulation reports.

Every stored output equals the same key of ``rexopt.simulate(case).summary()``
bit for bit; each scenario's warnings are in its message; a sweep run without the
branch search says so in every row, in its summary and in its identity (a file
of one setting is not resumed with the other).
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pytest

import rexopt
from rexopt.sweep import SerialExecutor, run_sweep, sweep_from_dict
from rexopt.sweep.evaluators import BRANCH_SEARCH_OFF
from rexopt.sweep.spec import SweepFileError
from rexopt.sweep.store import StoreMismatchError, read_results

ROOT = Path(__file__).resolve().parents[2]
LACE = ROOT / "cases" / "lace_p507.toml"
OUTPUTS = [
    "purity_strip_liquor_Ce",
    "recovery_La_raffinate",
    "flow_raffinate_L_h",
    "reagent_HCl_free_acid_of_aqueous_inputs_kg_h",
    "max_balance_error",
    "steady_states_found",
    "branch_search",
    "warnings_count",
]


def _sweep(branch_search: bool | None = None, outputs=OUTPUTS) -> dict:
    base = tomllib.loads(LACE.read_text())
    d = {
        "name": "lace rows",
        "base": str(LACE),
        "outputs": list(outputs),
        "parameters": [
            {
                "path": "scrub.flow_L_h",
                "range": [
                    0.9 * base["scrub"]["flow_L_h"],
                    1.1 * base["scrub"]["flow_L_h"],
                ],
            },
            {
                "path": "organic.flow_L_h",
                "range": [
                    0.95 * base["organic"]["flow_L_h"],
                    1.05 * base["organic"]["flow_L_h"],
                ],
            },
        ],
        "sampling": {"method": "lhs", "n": 6, "seed": 3},
        "cluster": {"kind": "serial"},
    }
    if branch_search is not None:
        d["cascade"] = {"branch_search": branch_search}
    return d


def _single(row, branch_search: bool):
    case = copy.deepcopy(tomllib.loads(LACE.read_text()))
    case["scrub"]["flow_L_h"] = float(row["scrub.flow_L_h"])
    case["organic"]["flow_L_h"] = float(row["organic.flow_L_h"])
    return rexopt.simulate(case, branch_search=branch_search)


@pytest.mark.parametrize("branch_search", [True, False])
def test_rows_are_the_single_simulations_exactly(tmp_path, branch_search):
    sw = sweep_from_dict(_sweep(None if branch_search else False), base_dir=ROOT)
    s = run_sweep(sw, tmp_path / "r.h5", executor=SerialExecutor(), progress=False)
    assert s.ok == 6 and s.failed == 0
    assert s.evaluator_options == ({} if branch_search else {"branch_search": False})
    assert s.cpu_s > 0.0  # the workers' CPU time is accounted
    df = read_results(tmp_path / "r.h5")
    for _, row in df.iterrows():
        res = _single(row, branch_search)
        want = res.summary()
        for o in OUTPUTS:
            # the same float, not a close one (NaN where the search did not run)
            assert row[o] == want[o] or (np.isnan(row[o]) and np.isnan(want[o])), o
        assert row["branch_search"] == (1.0 if branch_search else 0.0)
        if branch_search:
            assert row["steady_states_found"] == len(res.convergence["branches"])
        else:
            assert np.isnan(row["steady_states_found"])
            assert res.convergence["branches"] == "not searched"
        # every warning of the result is in the scenario's message
        assert row["warnings_count"] == len(res.warnings) >= 1
        said = [BRANCH_SEARCH_OFF] if not branch_search else []
        said.append(f"{len(res.warnings)} warning(s): " + "; ".join(res.warnings))
        assert row["message"] == "; ".join(said)


def test_branch_search_setting_is_part_of_the_sweep_identity(tmp_path):
    on = sweep_from_dict(_sweep(), base_dir=ROOT)
    on_explicit = sweep_from_dict(_sweep(True), base_dir=ROOT)
    off = sweep_from_dict(_sweep(False), base_dir=ROOT)
    # the default written out is the same sweep; switching the search off is not
    assert on.definition_hash() == on_explicit.definition_hash()
    assert on.definition_hash() != off.definition_hash()
    out = tmp_path / "s.h5"
    run_sweep(on, out, executor=SerialExecutor(), progress=False)
    with pytest.raises(StoreMismatchError, match="different sweep definition"):
        run_sweep(off, out, executor=SerialExecutor(), progress=False)


def test_cascade_options_refused_for_another_study():
    d = _sweep(False)
    d["base"] = {
        "kind": "function",
        "callable": "sweep_models:kremser",
        "params": {"D": 2.0, "O_L_h": 100.0, "A_L_h": 100.0, "stages": 5},
    }
    d["parameters"] = [{"path": "params.D", "values": [1.0, 2.0]}]
    d["outputs"] = ["recovery"]
    with pytest.raises(SweepFileError, match=r"\[cascade\].*'function' study"):
        sweep_from_dict(d, base_dir=ROOT)


def test_unknown_cascade_option_is_named():
    d = _sweep()
    d["cascade"] = {"branch_serch": False}
    with pytest.raises(SweepFileError, match="branch_serch"):
        sweep_from_dict(d, base_dir=ROOT)


def test_branch_search_off_is_in_the_report_titles(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from rexopt.sweep.report import write_report

    sw = sweep_from_dict(
        _sweep(False, outputs=["purity_strip_liquor_Ce", "recovery_La_raffinate"]),
        base_dir=ROOT,
    )
    out = tmp_path / "o.h5"
    run_sweep(sw, out, executor=SerialExecutor(), progress=False)
    titles = []
    import matplotlib.figure

    orig = matplotlib.figure.Figure.savefig

    def spy(fig, *a, **k):
        titles.extend(ax.get_title() for ax in fig.axes)
        return orig(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", spy)
    files = write_report(out, tmp_path / "rep")
    assert files and len(titles) == len(files)
    assert all("branch search off" in t for t in titles)


def test_switch_reaches_scenarios_run_under_a_time_limit(tmp_path):
    """With scenario_time_limit_s the evaluator is built in a child process: the
    switch travels there too."""
    d = _sweep(False, outputs=["branch_search", "steady_states_found"])
    d["sampling"]["n"] = 2
    d["execution"] = {"scenario_time_limit_s": 60.0}
    sw = sweep_from_dict(d, base_dir=ROOT)
    s = run_sweep(sw, tmp_path / "t.h5", executor=SerialExecutor(), progress=False)
    assert s.ok == 2
    df = read_results(tmp_path / "t.h5")
    assert (df["branch_search"] == 0.0).all()
    assert df["steady_states_found"].isna().all()
    assert df["message"].str.startswith(BRANCH_SEARCH_OFF).all()


def test_loop_passes_reach_each_scenario_and_are_part_of_the_identity(tmp_path):
    """[cascade] loop_passes: the organic loop's pass budget of every scenario
    (seed-0 stress loop 3316 cut to 3 passes is closed by Newton's method, as
    the same simulate says); shown in the summary and part of the sweep's
    identity; out-of-range values refused, naming the field."""
    loop = ROOT / "tests" / "data" / "kernel" / "loops"
    base = loop / "stress0_3316_mass_action_loop.toml"
    flow = tomllib.loads(base.read_text())["feed"]["flow_L_h"]

    def sweep(cascade: dict | None) -> dict:
        d = {
            "name": "loop passes",
            "base": str(base),
            "outputs": ["organic_loop_passes", "max_balance_error"],
            "parameters": [{"path": "feed.flow_L_h", "values": [flow]}],
            "cluster": {"kind": "serial"},
        }
        if cascade is not None:
            d["cascade"] = cascade
        return d

    cut = sweep_from_dict(sweep({"loop_passes": 3}), base_dir=ROOT)
    s = run_sweep(cut, tmp_path / "l.h5", executor=SerialExecutor(), progress=False)
    assert s.ok == 1 and s.evaluator_options == {"loop_passes": 3}
    row = read_results(tmp_path / "l.h5").iloc[0]
    single = rexopt.simulate(tomllib.loads(base.read_text()), max_recycle=3)
    assert (
        "after 3 Anderson-accelerated passes had not closed it"
        in (single.convergence["start"])
    )
    assert row["organic_loop_passes"] == single.summary()["organic_loop_passes"] > 3
    # the sweep file's default is the kernel's (spec.py does not import it)
    from rexopt.cascade import LOOP_PASSES as KERNEL_DEFAULT
    from rexopt.sweep.spec import LOOP_PASSES as SWEEP_DEFAULT

    assert SWEEP_DEFAULT == KERNEL_DEFAULT == 1000
    default = sweep_from_dict(sweep(None), base_dir=ROOT)
    explicit = sweep_from_dict(sweep({"loop_passes": 1000}), base_dir=ROOT)
    assert default.evaluator_options() == {} == explicit.evaluator_options()
    assert default.definition_hash() == explicit.definition_hash()
    assert cut.definition_hash() != default.definition_hash()
    for bad in (0, 2_000_000, 2.5, "many"):
        with pytest.raises(SweepFileError, match="loop_passes"):
            sweep_from_dict(sweep({"loop_passes": bad}), base_dir=ROOT)
