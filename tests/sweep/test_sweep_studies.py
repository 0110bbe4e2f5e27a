"""Sweeps of every study kind: each scenario equals the study run directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from rexopt.study import StudyInputError, get_study, study_name_for, validate_file
from rexopt.sweep import (
    SerialExecutor,
    SweepFileError,
    read_results,
    run_sweep,
    sweep_from_dict,
)
from rexopt.sweep.evaluators import case_overrides

pytestmark = pytest.mark.integration

CASES = Path(__file__).resolve().parents[2] / "cases"


def _sweep(base, params, outputs, **extra):
    return sweep_from_dict(
        {
            "name": "t",
            "base": str(base),
            "parameters": params,
            "outputs": outputs,
            "cluster": {"kind": "serial"},
            **extra,
        }
    )


def test_study_kind_of_each_bundled_case():
    import tomllib

    want = {
        "prnd_p507.toml": "cascade",
        "prnd_p507_optimize.toml": "cascade_optimize",
        "separation_line_bayanobo.toml": "separation_line",
        "ndfeb_4000tpa.toml": "ndfeb_flowsheet",
    }
    for name, kind in want.items():
        raw = tomllib.loads((CASES / name).read_text())
        assert study_name_for(raw) == kind
    raw = tomllib.loads((CASES / "ndfeb_4000tpa.toml").read_text())
    with pytest.raises(StudyInputError, match="needs a case of kind = 'cascade'"):
        study_name_for(raw, study="cascade_design")


def test_options_a_kind_does_not_use_are_refused_with_the_reason():
    k = get_study("ndfeb_flowsheet")
    assert k.check_options({"out": "o", "json": None}) is None
    msg = k.check_options({"pareto": "p"})
    assert "--pareto does not apply to a NdFeB recycling plant" in msg
    assert "enabled = true" in msg
    assert "--out does not apply" in get_study("cascade").check_options({"out": "o"})


def test_case_overrides_are_the_changed_leaves():
    base = {"a": {"b": 1.0, "c": [1, 2]}, "k": "x"}
    case = {"a": {"b": 2.0, "c": [1, 2]}, "k": "x", "data": {"costs": {"p": 5.0}}}
    assert case_overrides(base, case) == {"a.b": 2.0, "data.costs.p": 5.0}
    assert case_overrides(base, base) == {}


def test_design_sweep_equals_the_design_run_directly(tmp_path):
    from rexopt.design.casedesign import design_case

    sw = _sweep(
        CASES / "prnd_p507.toml",
        [{"path": "feed.conc_mol_L.Nd", "values": [0.6, 0.85]}],
        ["theory.S", "theory.n", "kernel.purity_strip_liquor_Nd", "check0.kernel"],
        study="cascade_design",
    )
    assert sw.kind == "cascade_design"
    s = run_sweep(sw, tmp_path / "d.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "d.h5")
    assert s.ok + s.infeasible == 2, df["message"].tolist()
    for i in range(2):
        r = design_case(sw.scenario_case(i))
        assert df["theory.S"].iloc[i] == pytest.approx(r.theory.S, rel=1e-12)
        assert df["theory.n"].iloc[i] == pytest.approx(r.theory.n, rel=1e-12)
        k = r.result.summary()["purity_strip_liquor_Nd"]
        assert df["kernel.purity_strip_liquor_Nd"].iloc[i] == pytest.approx(k, rel=1e-9)
        assert df["status"].iloc[i] == ("ok" if r.met else "infeasible")


def test_plant_sweep_paths_create_tables_and_bad_keys_fail_at_load():
    sw = _sweep(
        CASES / "ndfeb_4000tpa.toml",
        [{"path": "data.costs.products_USD_kg.Nd2O3", "values": [60.0, 90.0]}],
        ["economics.npv_USD"],
    )
    assert sw.kind == "ndfeb_flowsheet"
    c = sw.scenario_case(1)
    assert c["data"]["costs"]["products_USD_kg"]["Nd2O3"] == 90.0
    assert "data" not in sw.base_case  # the base case itself is not changed
    with pytest.raises(SweepFileError, match="Nd2O3x"):
        _sweep(
            CASES / "ndfeb_4000tpa.toml",
            [{"path": "data.costs.products_USD_kg.Nd2O3x", "values": [60.0]}],
            ["economics.npv_USD"],
        )
    with pytest.raises(SweepFileError, match="scrap_t_yr"):
        _sweep(
            CASES / "ndfeb_4000tpa.toml",
            [{"path": "plant.scrap_t_yr", "values": [-5.0]}],
            ["economics.npv_USD"],
        )


def test_bundled_plant_sweep_validates():
    line = validate_file(CASES / "sweeps" / "ndfeb_capacity_price_sweep.toml")
    assert "135 scenarios of a ndfeb_flowsheet study" in line


@pytest.mark.slow
def test_optimize_sweep_meets_its_specs(tmp_path):
    sw = _sweep(
        CASES / "prnd_p507_optimize.toml",
        [{"path": "feed.conc_mol_L.Nd", "values": [0.7]}],
        [
            "feasible",
            "verified",
            "cost.annualized_USD_y",
            "spec0.value",
            "spec0.target",
        ],
    )
    assert sw.kind == "cascade_optimize"
    s = run_sweep(sw, tmp_path / "o.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "o.h5")
    assert s.ok == 1, df["message"].tolist()
    r = df.iloc[0]
    assert r["feasible"] == 1.0 and r["verified"] == 1.0
    assert r["spec0.value"] >= r["spec0.target"] - 1e-6
    assert r["cost.annualized_USD_y"] > 0


@pytest.mark.slow
def test_plant_sweep_resolves_one_model_and_npv_rises_with_oxide_price(tmp_path):
    """Two plants differing only in the Nd2O3 price: one model, re-solved (no
    rebuild); the optimal NPV cannot fall when a product's price rises (the
    cheaper-price optimum stays feasible and earns more)."""
    sw = _sweep(
        CASES / "ndfeb_4000tpa.toml",
        [{"path": "data.costs.products_USD_kg.Nd2O3", "values": [70.0, 95.0]}],
        ["economics.npv_USD", "session.rebuilt", "session.builds_so_far"],
    )
    s = run_sweep(sw, tmp_path / "p.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "p.h5").sort_values("data.costs.products_USD_kg.Nd2O3")
    assert s.ok == 2, df["message"].tolist()
    assert (df["session.rebuilt"] == 0).all()
    assert (df["session.builds_so_far"] == 1).all()
    lo, hi = df["economics.npv_USD"].tolist()
    # within HiGHS's relative gap of the case (mip_gap 0.005)
    assert hi >= lo - 0.005 * abs(hi)


def test_optimize_sweep_records_specs_out_of_reach_as_infeasible(tmp_path):
    import tomllib

    base = tomllib.loads((CASES / "prnd_p507_optimize.toml").read_text())
    base["optimize"]["stages"] = {
        "extraction": [14, 16],
        "scrub": [14, 16],
        "strip": [4, 6],
    }
    p = tmp_path / "narrow.toml"
    import tomli_w

    p.write_text(tomli_w.dumps(base))
    sw = _sweep(
        p,
        [{"path": "optimize.specs.0.purity_min", "values": [0.9999999]}],
        ["feasible"],
    )
    s = run_sweep(sw, tmp_path / "i.h5", executor=SerialExecutor(), progress=False)
    df = read_results(tmp_path / "i.h5")
    assert s.infeasible == 1 and s.failed == 0
    # the message names what binds: Fenske's minimum stages for these purities
    assert (
        "Fenske" in df["message"].iloc[0] and "optimize.stages" in df["message"].iloc[0]
    )


def test_relative_data_file_of_a_sweep_is_read_from_the_sweep_folder(
    tmp_path, monkeypatch
):
    """`dataset = "params.toml"` in an inline [base] is the sweep file's neighbour
    (in a base case file: that file's neighbour), whatever the working directory."""
    import tomllib

    import tomli_w

    import rexopt

    inline = {"separation_factors": {"Pr": 1.0, "Nd": 1.5}, "K_ref_L_mol": 50.0}
    case = tomllib.loads((CASES / "prnd_p507.toml").read_text())
    sat = case["chemistry"]["saturated"]
    assert all(sat[k] == v for k, v in inline.items())
    ref = {**case, "chemistry": {**case["chemistry"], "saturated": dict(sat)}}
    for k in inline:
        del ref["chemistry"]["saturated"][k]
    ref["chemistry"]["saturated"]["dataset"] = "params.toml"

    folder, cases, elsewhere = (tmp_path / n for n in ("sw", "sw/cases", "cwd"))
    for d in (cases, elsewhere):
        d.mkdir(parents=True)
    # different parameters next to the sweep and next to the base case file: each
    # must be read from its own folder
    (folder / "params.toml").write_text(
        tomli_w.dumps({"chemistry": {"saturated": inline}})
    )
    other = {**inline, "separation_factors": {"Pr": 1.0, "Nd": 1.3}}
    (cases / "params.toml").write_text(
        tomli_w.dumps({"chemistry": {"saturated": other}})
    )
    (cases / "base.toml").write_text(tomli_w.dumps(ref))
    params = [{"path": "organic.flow_L_h", "values": [2000.0, 2400.0]}]
    out = ["purity_strip_liquor_Nd"]
    spec = {"name": "t", "parameters": params, "outputs": out}
    spec["cluster"] = {"kind": "serial"}
    (folder / "inline.toml").write_text(tomli_w.dumps({**spec, "base": ref}))
    (folder / "file.toml").write_text(
        tomli_w.dumps({**spec, "base": "cases/base.toml"})
    )
    monkeypatch.chdir(elsewhere)  # no params.toml here
    for name, sf in (("inline", inline), ("file", other)):
        sweep_file = folder / f"{name}.toml"
        assert validate_file(sweep_file).startswith("sweep: 2 scenarios")
        sw = sweep_from_dict(tomllib.loads(sweep_file.read_text()), source=sweep_file)
        run_sweep(
            sw, tmp_path / f"{name}.h5", executor=SerialExecutor(), progress=False
        )
        df = read_results(tmp_path / f"{name}.h5")
        assert list(df["status"]) == ["ok", "ok"], df["message"].tolist()
        for i, flow in enumerate((2000.0, 2400.0)):
            want = {**case, "organic": {**case["organic"], "flow_L_h": flow}}
            want["chemistry"] = {**case["chemistry"], "saturated": {**sat, **sf}}
            p = rexopt.simulate(want).summary()["purity_strip_liquor_Nd"]
            assert df["purity_strip_liquor_Nd"].iloc[i] == pytest.approx(p, rel=1e-12)
    # the two parameter files give different answers (so the test can tell them)
    a = read_results(tmp_path / "inline.h5")["purity_strip_liquor_Nd"].iloc[0]
    b = read_results(tmp_path / "file.h5")["purity_strip_liquor_Nd"].iloc[0]
    assert abs(a - b) > 1e-4


def test_bad_first_scenario_value_names_the_sweep_parameter():
    """A value the case reader refuses is traced to the field of the sweep file
    that produced it, not only to the case field."""
    params = [
        {"path": "sections.scrub.stages", "name": "n_scrub", "values": [20, 30]},
        {
            "path": "feed.conc_mol_L.Nd",
            "name": "Nd",
            "grid": {"start": -0.5, "stop": 0.9, "num": 3},
        },  # fmt: skip
    ]
    with pytest.raises(SweepFileError) as e:
        _sweep(CASES / "prnd_p507.toml", params, ["purity_raffinate_Pr"])
    msg = str(e.value)
    line = next(ln for ln in msg.splitlines() if "feed.conc_mol_L.Nd: -0.5" in ln)
    assert "parameters.1.grid.start = -0.5 (parameter 'Nd')" in line
    assert "scenario 0" in line and "<case dict>" not in msg
    # the good parameter is not blamed
    assert "parameters.0" not in msg
    # a value taken from a list names its index
    params[1] = {"path": "feed.conc_mol_L.Nd", "values": [0.6, -1.0]}
    params[0]["values"] = [-3, 30]
    with pytest.raises(SweepFileError) as e:
        _sweep(CASES / "prnd_p507.toml", params, ["purity_raffinate_Pr"])
    assert "parameters.0.values.0 = -3 (parameter 'n_scrub')" in str(e.value)
