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
# The operating point of a column is the middle of its feasible cut window, whose
# edges are bisected to 2e-6 x the feed: the optimizer (which tries a
# neighbouring column's cut first) and the exhaustive search (which starts from
# the bracket ends) may land on points of the same column that differ within
# that resolution, worth ~1e-8 of the cost here.  Costs are compared to this.
CUT_RES = 1e-6
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
    assert res.best.cost.annualized_USD_y <= en.best.cost.annualized_USD_y * (
        1 + CUT_RES
    )
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
        1 + CUT_RES
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
    three = smeugd_case()
    specs = smeugd_specs(gd=0.9, sm=0.99, eu=0.3)
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


# ------------------------------------------- kernel failures, claims, certificate
def smeugd_case(conc_mol_L: dict | None = None) -> dict:
    """The bundled three-outlet Sm/Eu/Gd case, with another feed if given."""
    case = tomllib.loads(
        (ROOT / "cases" / "three_outlet_smeugd.toml").read_text("utf-8")
    )
    if conc_mol_L is not None:
        case["feed"]["conc_mol_L"] = conc_mol_L
    return case


def smeugd_specs(gd: float, sm: float, eu: float) -> list[dict]:
    """Purity specs of the three outlets: Gd in the strip liquor, Sm in the
    raffinate, Eu in the middle draw. [-]"""
    return [
        {"stream": "strip_liquor", "component": "Gd", "purity_min": gd},
        {"stream": "raffinate", "component": "Sm", "purity_min": sm},
        {"stream": "middle_Eu", "component": "Eu", "purity_min": eu},
    ]


def smeu_case() -> dict:
    """A binary Sm/Eu cascade (beta 2), not one of the bundled cases."""
    seg = smeugd_case()
    c = {k: v for k, v in seg.items() if k != "side_draws"}
    c["chemistry"] = dict(seg["chemistry"], components=["Sm", "Eu"])
    c["chemistry"]["saturated"] = {
        "separation_factors": {"Sm": 1.0, "Eu": 2.0},
        "K_ref_L_mol": 50.0,
        "K_ref_strip_L_mol": 0.01,
    }
    c["feed"] = dict(seg["feed"], conc_mol_L={"Sm": 0.6, "Eu": 0.4})
    c["sections"] = {
        "extraction": {"stages": 20},
        "scrub": {"stages": 20},
        "strip": {"stages": 6},
    }
    return c


def smeu_opt(p=0.999, **kw) -> dict:
    d = {
        "specs": [
            {"stream": "strip_liquor", "component": "Eu", "purity_min": p},
            {"stream": "raffinate", "component": "Sm", "purity_min": p},
        ],
        "stages": {"extraction": [24, 27], "scrub": [23, 26], "strip": [6, 6]},
    }
    d.update(kw)
    return d


def _failing_kernel(monkeypatch, fails):
    """Make the optimizer's kernel report NOT_CONVERGED where ``fails(net)``."""
    from rexopt import kernels
    from rexopt.design import optimize as mod

    real = mod.solve_arrays

    def fake(net, par, eff, x0=None, **kw):
        if fails(net):
            st, x, y, h, F, info = real(net, par, eff, x0, **kw)
            return kernels.NOT_CONVERGED, x, y, h, F, info
        return real(net, par, eff, x0, **kw)

    monkeypatch.setattr(mod, "solve_arrays", fake)


def _claim(res) -> tuple:
    return (res.status, None if res.best is None else res.best.key)


@pytest.mark.component
def test_kernel_failure_at_large_flows_is_not_infeasibility(monkeypatch):
    # issue 18 item 3: the kernel fails at the top of the organic flow range;
    # that must not read as "no feasible cut", nor prune the smaller columns
    case, opt = smeu_case(), smeu_opt()
    ref = optimize(case, opt=opt)
    assert ref.status == "optimal" and ref.verified
    O_best = ref.best.flows[0]
    _failing_kernel(monkeypatch, lambda net: net.org_in[0] > 1.5 * O_best)
    res = optimize(case, opt=opt)
    assert res.status == "optimal" and res.verified
    assert res.best.key == ref.best.key
    assert res.best.cost.annualized_USD_y == pytest.approx(
        ref.best.cost.annualized_USD_y, rel=CUT_RES
    )
    cert = res.certificate
    assert cert["unknown_kernel_points"] > 0  # the failures were seen...
    assert cert["proven_infeasible_columns"] == 0  # ...and not read as misses
    check_specs(res.case, opt["specs"])


@pytest.mark.component
def test_undecidable_column_is_unknown_and_never_prunes(monkeypatch):
    # every kernel call of one column fails: that column is unresolved, the
    # columns below it are still searched, and the certificate says so
    case, opt = smeu_case(), smeu_opt()
    bad_N = 27 + 26 + 6  # the corner column (most stages)
    _failing_kernel(monkeypatch, lambda net: net.N == bad_N)
    res = optimize(case, opt=opt)
    cert = res.certificate
    assert [27, 26, 6, 0] in cert["unresolved_columns"]
    col = res.columns[(27, 26, 6, 0)]
    assert not col.feasible and not col.proven_infeasible
    assert res.best is not None and res.verified  # found below the corner
    assert res.best.key != (27, 26, 6, 0)
    if res.status == "optimal":
        # allowed only if the unknown corner cannot hide a cheaper design
        assert not cert["could_hide_cheaper"]
    else:
        assert res.status == "best_found" and cert["could_hide_cheaper"]
        assert cert["bound"] < cert["incumbent_objective"]


@pytest.mark.component
def test_all_kernel_points_failing_is_unknown_not_infeasible(monkeypatch):
    _failing_kernel(monkeypatch, lambda net: True)
    res = optimize(smeu_case(), opt=smeu_opt())
    assert res.status == "unknown" and res.best is None
    assert "NOT proven" in res.message and res.binding == []


@pytest.mark.component
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "smeu_0.999",
        "smeu_recovery",
        "smeu_infeasible",
        "seg_three_outlet",
        "seg_draw_near_scrub_flow",
        "seg_draw_near_scrub_flow_sdm",
    ],
)
def test_optimizer_claim_equals_exhaustive_search(name):
    """The optimizer's claim (optimal cost, or infeasible) equals exhaustive
    search's over the same decision space, on the kernel."""
    if name.startswith("seg_draw_near_scrub_flow"):
        # large draws: at some cuts the scrub aqueous cannot supply the draw
        # (the old optimizer crashed with a case error there); with the extra
        # assumption, side-draw misses prune smaller designs
        case, opt = _eu_rich(side_draw_monotone=name.endswith("_sdm"))
    elif name == "seg_three_outlet":
        case = smeugd_case({"Sm": 0.5, "Eu": 0.15, "Gd": 0.35})
        opt = {
            "specs": smeugd_specs(gd=0.9, sm=0.99, eu=0.5),
            "organic_flow_L_h": [400.0, 2600.0],
            "side_draw_flow_L_h": [14.0, 32.0],
            "side_draw_levels": 3,
            "stages": {"extraction": [27, 28], "scrub": [27, 29], "strip": [8, 8]},
        }
    else:
        case = smeu_case()
        opt = {
            "smeu_0.999": smeu_opt(),
            "smeu_recovery": smeu_opt(
                specs=[
                    {"stream": "strip_liquor", "component": "Eu", "purity_min": 0.999},
                    {"stream": "strip_liquor", "component": "Eu", "recovery_min": 0.99},
                ],
                objective="reagent_cost",
            ),
            # Fenske: 2 ln(1e8 (0.6/0.4)... ) / ln 2 > 24 + 23 -> nothing feasible
            "smeu_infeasible": smeu_opt(
                p=0.99999999,
                stages={"extraction": [20, 21], "scrub": [20, 21], "strip": [6, 6]},
                fenske_prune=False,
            ),
        }[name]
    res = optimize(case, opt=opt)
    pb = problem_from(case, opt=opt)
    en = enumerate_designs(pb)
    assert en.unresolved == [] and res.certificate["unresolved_columns"] == []
    if en.best is None:
        assert res.status == "infeasible" and res.best is None
        return
    assert res.status == "optimal" and res.verified
    from rexopt.design.optimize import _reference_reagent, objective_value

    ref = _reference_reagent(en.columns, pb)  # one scale for both objectives
    v_opt = objective_value(pb, res.best.cost, ref)
    v_en = objective_value(pb, en.best.cost, ref)
    assert v_opt <= v_en * (1 + CUT_RES)
    assert res.certificate["bound"] <= v_en * (1 + CUT_RES)
    check_specs(res.case, opt["specs"])
    if opt.get("side_draw_monotone"):
        assert "side-draw specs assumed monotone in the stage counts" in res.claim


def _eu_rich(**kw) -> tuple[dict, dict]:
    """An Eu-rich Sm/Eu/Gd feed with large Eu draws (case, [optimize] table):
    at some cuts the scrub aqueous cannot supply the draw."""
    case = smeugd_case({"Sm": 0.35, "Eu": 0.3, "Gd": 0.35})
    opt = {
        "specs": smeugd_specs(gd=0.95, sm=0.99, eu=0.7),
        "organic_flow_L_h": [400.0, 3000.0],
        "side_draw_flow_L_h": [40.0, 80.0],
        "side_draw_levels": 3,
        "stages": {"extraction": [26, 27], "scrub": [28, 29], "strip": [8, 8]},
        **kw,
    }
    return case, opt


def _eu_rich_problem(**kw):
    case, opt = _eu_rich(**kw)
    return problem_from(case, opt=opt)


@pytest.mark.component
@pytest.mark.parametrize("assume", [False, True])
def test_side_draw_miss_prunes_smaller_designs_only_when_assumed(assume):
    """A column infeasible only by its side-draw spec (the Eu draw of 27/29/8 at
    60 L/h misses 70 %) proves nothing about designs with fewer stages unless
    ``side_draw_monotone`` says so; its end-outlet reflux bound is all that
    propagates."""
    from rexopt.design.optimize import Optimizer

    optim = Optimizer(_eu_rich_problem(side_draw_monotone=assume))
    col = optim.evaluate((27, 29, 8, 1))
    assert col.proven_infeasible and col.side_only  # the end outlets were met
    smaller = optim.index[(26, 28, 8, 1)]
    other_level = optim.index[(26, 28, 8, 0)]
    assert bool(optim.dead[smaller]) is assume
    assert not optim.dead[other_level]  # another draw flow: never pruned by it


@pytest.mark.component
@pytest.mark.slow
def test_infeasible_spec_printed_as_given_with_best_value():
    # issue 18 item 4: 0.99999999 is named as given, never rounded to 1 / 100 %
    opt = smeu_opt(
        p=0.99999999,
        stages={"extraction": [20, 21], "scrub": [20, 21], "strip": [6, 6]},
        fenske_prune=False,
    )
    res = optimize(smeu_case(), opt=opt)
    assert res.status == "infeasible"
    assert "0.99999999" in res.message and "100.000" not in res.message
    assert ">= 1 " not in res.message and ">= 1." not in res.message
    bind = [b for b in res.binding if b["binding"]]
    assert bind, res.binding
    for b in bind:
        assert b["target_given"] == "0.99999999"
        assert b["best_value"] < 0.99999999
        assert b["best_value_text"] in res.message
        # the best value is a kernel value at the bounds of the search space
        assert b["at_stages"] == [21, 21, 6]
    assert "Fenske" in res.message


@pytest.mark.unit
def test_side_draw_miss_is_a_monotonicity_violation_only_when_assumed():
    """A smaller feasible design below a bigger one that misses only a side-draw
    spec contradicts nothing, unless side-draw specs are assumed monotone."""
    from rexopt.design.optimize import Column, monotonicity_violations

    small = Column((26, 28, 8), 0, 0.36, True, grid_index=300, lo_index=299)
    small.lo_index_end = 299
    big = Column((27, 29, 8), 0, 0.36, False, proven_infeasible=True, side_only=True)
    big.lo_index, big.lo_index_end = 900, -1  # top reflux missed by the draw only
    cols = {(26, 28, 8, 0): small, (27, 29, 8, 0): big}
    assert monotonicity_violations(cols) == []
    assert monotonicity_violations(cols, side_monotone=True) == [
        ((26, 28, 8), (27, 29, 8))
    ]
    big.lo_index_end = 900  # the end outlets missed there: a real violation
    assert monotonicity_violations(cols) == [((26, 28, 8), (27, 29, 8))]


@pytest.mark.unit
def test_optimizer_imports_neither_pyomo_nor_scipy():
    """The optimize path (issue 18: `rexopt optimize` < 2 s, of which importing was
    1.4 s) loads neither Pyomo (HiGHS is called through highspy) nor SciPy nor
    the closed-form design (rexopt.design imports its names on first use)."""
    import subprocess
    import sys

    code = (
        "import sys, rexopt.design.optimize\n"
        "heavy = ('pyomo', 'scipy', 'rexopt.design.casedesign', 'rexopt.design.xu')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "import rexopt.design as d\n"
        "print(d.xu_design.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "rexopt.design.xu"]


@pytest.mark.unit
def test_pareto_csv_columns_in_order_of_first_appearance(tmp_path):
    """The front's CSV header is the rows' keys in the order they first appear
    (an infeasible first row has fewer keys), the same on every run."""
    import csv

    from rexopt.design.cli import write_pareto

    rows = [
        {"max_stages": 32, "feasible": False, "front_seconds": 1.0},
        {"max_stages": 37, "feasible": True, "front_seconds": 1.0, "reflux_S": 6.0,
         "total_stages": 37, "reagent_cost_USD_y": 2.9e5, "stages": "19/14/4",
         "annualized_USD_y": 3.7e5, "proven": True},
    ]  # fmt: skip
    paths = write_pareto(str(tmp_path / "p"), rows, [])
    with open(paths[0], newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == list(rows[1])
    assert [p[len(str(tmp_path)) + 1 :] for p in paths] == ["p_stages.csv", "p.png"]
