"""Cascade design (Xu closed form -> case) and optimization (HiGHS + kernel).

Every reported design is re-simulated through the public ``rexopt.simulate`` and
checked against its specs; the optimizer's claim of optimality is checked against
exhaustive enumeration on a small range.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest
import tomli_w

import rexopt
from rexopt.design.cli import design_cli, optimize_cli, xu_from_case
from rexopt.design.costing import load_costs, mixer_settler_capital_USD
from rexopt.design.optimize import (
    OptimizeError,
    Spec,
    enumerate_designs,
    optimize,
    problem_from,
    split_case,
)

ROOT = Path(__file__).resolve().parents[2]
PRND = ROOT / "cases" / "prnd_p507.toml"


def prnd_case() -> dict:
    return tomllib.loads(PRND.read_text(encoding="utf-8"))


def opt_table(**kw) -> dict:
    d = {
        "objective": "annualized_cost",
        "specs": [
            {"stream": "strip_liquor", "component": "Nd", "purity_min": 0.995},
            {"stream": "raffinate", "component": "Pr", "purity_min": 0.995},
        ],
        "stages": {"extraction": [17, 19], "scrub": [19, 21], "strip": [4, 5]},
    }
    d.update(kw)
    return d


def check_specs(case: dict, specs: list[dict], tol: float = 1e-6) -> None:
    """Independent check: simulate the reported case and read the specs."""
    res = rexopt.simulate(case)
    for s in specs:
        if "purity_min" in s:
            v = res.purity.loc[s["stream"], s["component"]]
            assert v >= s["purity_min"] - tol, (s, v)
        else:
            v = res.recovery.loc[s["component"], s["stream"]]
            assert v >= s["recovery_min"] - tol, (s, v)


# ------------------------------------------------------------------ closed forms
@pytest.mark.component
def test_xu_design_from_case_matches_domain_table():
    d, case, info = xu_from_case(PRND)
    # DOMAIN.md 2.6 (b): 99.5/99.5, beta 1.5 -> S 4.10, W 3.35, n 18.4, m 20.7
    assert d.S == pytest.approx(4.10, abs=0.01)
    assert d.W == pytest.approx(3.35, abs=0.01)
    assert d.n == pytest.approx(18.4, abs=0.1)
    assert d.m == pytest.approx(20.7, abs=0.1)
    assert case["sections"]["extraction"]["stages"] == 19
    assert case["sections"]["scrub"]["stages"] == 21
    # the designed case is ready to simulate, with the source chemistry kept
    assert case["chemistry"]["saturated"]["K_ref_strip_L_mol"] == 0.05
    res = rexopt.simulate(case)
    assert res.convergence["max_balance_error"] < 1e-9


@pytest.mark.component
def test_design_cli_writes_case_and_json(tmp_path):
    out, js = tmp_path / "d.toml", tmp_path / "d.json"
    assert design_cli(str(PRND), str(out), str(js)) == 0
    case = tomllib.loads(out.read_text(encoding="utf-8"))
    assert case["kind"] == "cascade"
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["schema"] == "rexopt.cascade_design/1"
    names = [r["quantity"] for r in data["comparison"]]
    assert any("purity" in n for n in names)
    for r in data["comparison"]:  # theory and kernel shown side by side
        assert r["difference"] == pytest.approx(r["kernel"] - r["theory"])


# --------------------------------------------------------------- schema / costs
@pytest.mark.unit
def test_optimize_table_errors_name_file_field_value(tmp_path):
    raw = prnd_case()
    raw["optimize"] = opt_table(objectiv="stages")
    p = tmp_path / "bad.toml"
    p.write_text(tomli_w.dumps(raw), encoding="utf-8")
    with pytest.raises(OptimizeError) as e:
        split_case(p)
    assert str(p) in str(e.value) and "optimize.objectiv" in str(e.value)

    raw["optimize"] = opt_table(
        specs=[
            {
                "stream": "raffinate",
                "component": "Pr",
                "purity_min": 0.99,
                "recovery_min": 0.9,
            }
        ]
    )
    with pytest.raises(OptimizeError, match="exactly one of purity_min"):
        split_case(raw)
    raw["optimize"] = opt_table(
        specs=[{"stream": "tails", "component": "Pr", "purity_min": 0.99}]
    )
    with pytest.raises(OptimizeError, match="tails.*strip_liquor"):
        split_case(raw)
    raw["optimize"] = opt_table(costs={"HCL_USD_t": 1.0})
    with pytest.raises(OptimizeError, match="HCL_USD_t.*HCl_USD_t"):
        split_case(raw)


@pytest.mark.unit
def test_costing_scale_law_and_overrides():
    c = load_costs()
    v_ref = c["volume_ref_gal"] / 264.172
    assert mixer_settler_capital_USD(v_ref, c) == pytest.approx(c["cost_ref_USD"])
    assert mixer_settler_capital_USD(2 * v_ref, c) == pytest.approx(
        c["cost_ref_USD"] * 2**0.45
    )
    assert load_costs({"HCl_USD_t": 300.0})["HCl_USD_t"] == 300.0
    with pytest.raises(ValueError, match="unknown cost key"):
        load_costs({"gold_USD_t": 1.0})


@pytest.mark.unit
def test_spec_directions():
    # more metal to the organic side: its recovery rises, its purity falls
    assert Spec(stream="strip_liquor", component="Nd", recovery_min=0.9).increasing
    assert not Spec(stream="strip_liquor", component="Nd", purity_min=0.9).increasing
    assert Spec(stream="raffinate", component="Pr", purity_min=0.9).increasing
    assert not Spec(stream="raffinate", component="Pr", recovery_min=0.9).increasing


@pytest.mark.unit
def test_fenske_minimum_from_specs():
    pb = problem_from(prnd_case(), opt=opt_table())
    assert pb.n_min_fenske == pytest.approx(26.11, abs=0.01)  # DOMAIN 2.6 N_min


# ---------------------------------------------------------------- optimization
@pytest.mark.component
@pytest.mark.slow
def test_optimum_verified_and_equal_to_enumeration():
    opt = opt_table()
    res = optimize(prnd_case(), opt=opt)
    assert res.status == "optimal" and res.verified
    assert all(c["met"] for c in res.spec_check)
    check_specs(res.case, opt["specs"])
    # the claim: no design in the ranges is cheaper (exhaustive enumeration)
    en = enumerate_designs(problem_from(prnd_case(), opt=opt))
    assert res.best.stages == en.best.stages
    assert res.best.cost.annualized_USD_y <= en.best.cost.annualized_USD_y * (1 + 1e-9)
    # and it simulated fewer columns than the enumeration
    assert len(res.columns) < len(en.columns)


@pytest.mark.component
@pytest.mark.slow
def test_fewest_stages_equal_to_enumeration():
    opt = opt_table(
        objective="stages",
        stages={"extraction": [14, 17], "scrub": [14, 17], "strip": [4, 4]},
    )
    res = optimize(prnd_case(), opt=opt)
    en = enumerate_designs(problem_from(prnd_case(), opt=opt))
    assert res.status == "optimal" and res.verified
    assert sum(res.best.stages) == sum(en.best.stages)
    assert res.best.cost.reagent_cost_USD_y <= en.best.cost.reagent_cost_USD_y * (
        1 + 1e-9
    )


@pytest.mark.component
@pytest.mark.slow
def test_every_reported_design_passes_kernel_verification():
    specs = [
        {"stream": "strip_liquor", "component": "Nd", "purity_min": 0.99},
        {"stream": "raffinate", "component": "Pr", "purity_min": 0.99},
        {"stream": "strip_liquor", "component": "Nd", "recovery_min": 0.99},
    ]
    stages = {"extraction": [14, 17], "scrub": [15, 18], "strip": [4, 4]}
    for objective in ("reagent_cost", "stages", "mixer_volume"):
        opt = opt_table(objective=objective, specs=specs, stages=stages)
        res = optimize(prnd_case(), opt=opt)
        assert res.status == "optimal" and res.verified, objective
        check_specs(res.case, opt["specs"])


@pytest.mark.component
@pytest.mark.slow
def test_lace_and_three_outlet_designs_verified():
    lace = tomllib.loads((ROOT / "cases" / "lace_p507.toml").read_text("utf-8"))
    specs = [
        {"stream": "strip_liquor", "component": "Ce", "purity_min": 0.999},
        {"stream": "raffinate", "component": "La", "purity_min": 0.999},
    ]
    res = optimize(
        lace,
        opt={
            "specs": specs,
            "stages": {"extraction": [7, 9], "scrub": [10, 12], "strip": [4, 4]},
        },
    )
    assert res.verified
    check_specs(res.case, specs)
    three = tomllib.loads(
        (ROOT / "cases" / "three_outlet_smeugd.toml").read_text("utf-8")
    )
    specs = [
        {"stream": "strip_liquor", "component": "Gd", "purity_min": 0.9},
        {"stream": "raffinate", "component": "Sm", "purity_min": 0.99},
        {"stream": "middle_Eu", "component": "Eu", "purity_min": 0.3},
    ]
    res = optimize(
        three,
        opt={
            "specs": specs,
            "organic_flow_L_h": [1000.0, 2400.0],
            "side_draw_flow_L_h": [20.0, 28.0],
            "side_draw_levels": 2,
            "stages": {"extraction": [28, 29], "scrub": [28, 29], "strip": [8, 8]},
        },
    )
    assert res.verified
    check_specs(res.case, specs)
    assert res.case["side_draws"][0]["flow_L_h"] in (20.0, 28.0)


@pytest.mark.component
def test_bounds_never_exceed_exact_costs():
    import numpy as np

    from rexopt.design.optimize import bound_terms, evaluate_column

    pb = problem_from(prnd_case(), opt=opt_table())
    col = evaluate_column(pb, (18, 20, 4), 0)
    assert col.feasible
    keys = np.array([[18, 20, 4, 0]])
    t = bound_terms(pb, keys, np.array([col.S]), col.P, kappa=0.0)
    exact = col.cost.objective_terms()
    assert t["reagent_cost"][0] == pytest.approx(exact["reagent_cost"], rel=1e-9)
    assert t["annualized_cost"][0] <= exact["annualized_cost"]
    assert t["mixer_volume"][0] <= exact["mixer_volume"] * (1 + 1e-12)


@pytest.mark.component
def test_infeasible_purity_names_binding_spec_and_best_value():
    opt = opt_table(
        specs=[
            {"stream": "strip_liquor", "component": "Nd", "purity_min": 0.999999},
            {"stream": "raffinate", "component": "Pr", "purity_min": 0.995},
        ],
        stages={"extraction": [10, 15], "scrub": [10, 15], "strip": [4, 4]},
        fenske_prune=False,
    )
    res = optimize(prnd_case(), opt=opt)
    assert res.status == "infeasible" and res.best is None
    assert "Nd purity in strip_liquor >= 0.999999 cannot be met" in res.message
    b = next(d for d in res.binding if d["spec"].startswith("Nd purity"))
    assert b["binding"] and 0.99 < b["best_value"] < 0.999999
    assert "Fenske" in res.message


@pytest.mark.component
def test_stage_ranges_below_fenske_are_refused():
    opt = opt_table(stages={"extraction": [5, 8], "scrub": [5, 8], "strip": [4, 4]})
    with pytest.raises(OptimizeError, match="Fenske"):
        optimize(prnd_case(), opt=opt)


@pytest.mark.component
@pytest.mark.slow
def test_highs_choice_follows_prices():
    # dear reagents -> more stages, less reflux; nearly free reagents -> the
    # equipment and inventory dominate -> fewer stages (towards Xu's S*(n+m) optimum)
    stages = {"extraction": [16, 22], "scrub": [18, 24], "strip": [4, 4]}
    dear = optimize(
        prnd_case(),
        opt=opt_table(stages=stages, costs={"HCl_USD_t": 2500.0, "NH3_USD_t": 6400.0}),
    )
    free = optimize(
        prnd_case(),
        opt=opt_table(
            stages=stages,
            costs={"HCl_USD_t": 0.0, "NH3_USD_t": 0.0, "water_USD_t": 0.0},
        ),
    )
    assert dear.verified and free.verified
    assert sum(dear.best.stages) > sum(free.best.stages)
    assert dear.best.S < free.best.S


@pytest.mark.integration
@pytest.mark.slow
def test_optimize_cli_json_and_exit_codes(tmp_path):
    raw = prnd_case()
    raw["optimize"] = opt_table(
        stages={"extraction": [18, 19], "scrub": [20, 21], "strip": [4, 4]}
    )
    p = tmp_path / "prnd_opt.toml"
    p.write_text(tomli_w.dumps(raw), encoding="utf-8")
    js = tmp_path / "out.json"
    assert optimize_cli(str(p), json_out=str(js)) == 0
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["status"] == "optimal"
    assert data["design"]["extraction stages"] in (18, 19)
    assert data["highs"]["n_variables"] >= 1 and data["cost"]["annualized_USD_y"] > 0
    assert math.isfinite(data["simulation"]["convergence"]["max_balance_error"])
    raw["optimize"]["specs"][0]["purity_min"] = 0.999999
    raw["optimize"]["stages"] = {
        "extraction": [12, 13],
        "scrub": [13, 14],
        "strip": [4, 4],
    }
    raw["optimize"]["fenske_prune"] = False
    p.write_text(tomli_w.dumps(raw), encoding="utf-8")
    assert optimize_cli(str(p)) == 1
