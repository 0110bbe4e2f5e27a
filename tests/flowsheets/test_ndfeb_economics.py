"""NdFeB plant economics: cash-flow model, exact CAPEX at the chosen plant."""

import math

import pyomo.environ as pyo
import pytest

from flowsheets import ndfeb_recycling as nd
from rexopt.highs import solve as highs_solve
from rexopt.units import costing
from rexopt.units.linear import concave_cost, exact_concave_cost, refine_concave_cost

FIXED = {
    "pretreatment": "crushing",
    "leach_route": "selective",
    "agent": "NaOH",
    "evaporator": "mvr",
    "kiln_heating": "gas",
    "prnd_cut": "off",
    "dytb_cut": "off",
}


def _case(**over):
    case = {
        "kind": "ndfeb_flowsheet",
        "name": "economics test",
        "plant": {"trains": [1, 2, 3]},
        "routes": dict(FIXED),
        "targets": {"zld": True, "re_yield_min": 0.8},
        "solver": {"time_limit_s": 120, "mip_gap": 0.002},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(case.get(k), dict):
            case[k] = {**case[k], **v}
        else:
            case[k] = v
    c, _ = nd.load_case(case)
    return c


# ------------------------------------------------------------------ cash flows


@pytest.mark.unit
@pytest.mark.parametrize(
    "fin",
    [
        costing.Finance(0.08, 15, 0.25, 10, 0.15),
        costing.Finance(0.12, 20, 0.30, 20, 0.0),
        costing.Finance(0.05, 7, 0.0, 3, 0.3),
    ],
)
def test_npv_formula_equals_the_discounted_cash_flows(fin):
    capex, rev, opc = 37.5e6, 120e6, 81e6
    direct = costing.npv_of(fin.cash_flows(capex, rev, opc), fin.discount_rate)
    assert fin.npv(capex, rev, opc) == pytest.approx(direct, rel=1e-12)


@pytest.mark.unit
def test_without_tax_and_working_capital_npv_is_the_annuity_form():
    fin = costing.Finance(0.08, 15, 0.0, 10, 0.0)
    af = (1 - 1.08**-15) / 0.08
    assert fin.npv(10e6, 5e6, 2e6) == pytest.approx(-10e6 + af * 3e6, rel=1e-12)


@pytest.mark.unit
def test_irr_zeroes_the_npv_and_payback_of_a_level_profile():
    fin = costing.Finance(0.08, 12, 0.2, 6, 0.1)
    cash = fin.cash_flows(50e6, 40e6, 25e6)
    r = costing.irr(cash)
    assert r is not None and r > 0.08  # NPV at 8 % is positive
    assert costing.npv_of(cash, r) == pytest.approx(0.0, abs=1e-3 * 50e6 * 1e-6)
    # level cash flow without tax or working capital: payback = CAPEX / cash
    flat = costing.Finance(0.08, 10, 0.0, 10, 0.0).cash_flows(30e6, 20e6, 8e6)
    assert costing.payback_yr(flat) == pytest.approx(2.5)
    # a plant that never pays back has no payback and no IRR
    bad = costing.Finance(0.08, 10, 0.0, 10, 0.0).cash_flows(30e6, 8e6, 9e6)
    assert costing.payback_yr(bad) is None and costing.irr(bad) is None


@pytest.mark.unit
def test_finance_rejects_depreciation_longer_than_the_life():
    with pytest.raises(costing.DataError, match="depreciation_yr = 20"):
        costing.Finance(0.08, 15, 0.25, 20, 0.1).check()


# ------------------------------------------------------- piecewise-linear CAPEX


@pytest.mark.unit
def test_pwl_capex_is_below_the_power_law_and_exact_after_refinement():
    def cost(x):
        return 0.0 if x <= 0 else 1e6 * (x / 10.0) ** 0.6

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 500))
    m.x.fix(37.0)  # between the breakpoints 30 and 300 of a top of 300
    m.z = pyo.Var([1, 2], within=pyo.Binary)
    m.one = pyo.Constraint(expr=m.z[1] + m.z[2] == 1)
    m.b = pyo.Block()
    c = concave_cost(m.b, m.x, cost, 150.0, {1: m.z[1], 2: m.z[2]}, 0.6, per_decade=1)
    m.obj = pyo.Objective(expr=c)
    highs_solve(m)
    exact = exact_concave_cost(m.b, 37.0, 1)  # one train is cheaper (n^(1-e))
    assert pyo.value(m.z[1]) == pytest.approx(1.0)
    assert pyo.value(c) < exact * (1 - 0.01)  # a chord of a concave curve
    assert exact == pytest.approx(cost(37.0) / 1e6, rel=1e-12)
    assert exact_concave_cost(m.b, 37.0, 2) == pytest.approx(
        2 * cost(18.5) / 1e6, rel=1e-12
    )
    assert refine_concave_cost(m.b, (37.0,))
    assert not refine_concave_cost(m.b, (37.0,))  # nothing new
    highs_solve(m)
    assert pyo.value(c) == pytest.approx(exact, rel=1e-9)


# ------------------------------------------------------------------- the plant


@pytest.fixture(scope="module")
def plant_run(sx_tables):
    return nd.run(_case(), sx_tables=sx_tables)


@pytest.mark.integration
def test_milp_capex_is_the_power_law_at_the_reported_sizes(plant_run):
    s = plant_run.summary
    e = s["economics"]
    # the report recomputes CAPEX from the re-simulated sizes; the MILP's is equal
    assert e["milp_capex_USD"] == pytest.approx(e["capex_USD"], rel=1e-6)
    eq = plant_run.tables["equipment"]
    n = s["route"]["trains"]
    c = plant_run.plant.data["costs"]
    direct = sum(
        n * costing.installed_cost_fn(c, r.equipment)(r.size_total / n)
        for r in eq.itertuples()
    )
    assert direct == pytest.approx(e["capex_USD"], rel=1e-12)
    rounds = s["economics_check"]["capex_rounds"]
    assert rounds and rounds[-1]["proven_gap"] <= 0.002 + 1e-12


@pytest.mark.integration
def test_milp_npv_is_the_re_simulated_npv(plant_run):
    ec = plant_run.summary["economics_check"]
    e = plant_run.summary["economics"]
    # the fixture's SX table is not re-run with a kernel: nothing may differ
    assert not plant_run.summary["sx_verification"]
    assert abs(ec["npv_rel_difference"]) < 1e-6
    assert "reproduces every MILP figure" in ec["explanation"]
    fin = costing.Finance.from_data(plant_run.plant.data["costs"])
    assert e["npv_USD"] == pytest.approx(
        fin.npv(e["capex_USD"], e["revenue_USD_yr"], e["operating_cost_USD_yr"]),
        rel=1e-12,
    )
    assert "IRR" in nd.report(plant_run) and "payback" in nd.report(plant_run)


@pytest.mark.integration
@pytest.mark.slow
def test_trains_choice_beats_every_fixed_train_count(sx_tables, plant_run):
    """The optimiser's claim vs exhaustive search over the train counts."""
    best = plant_run.summary["economics"]["npv_USD"]
    for n in (1, 2, 3):
        r = nd.run(_case(plant={"trains": [n]}), sx_tables=sx_tables)
        assert best >= r.summary["economics"]["npv_USD"] * (1 - 0.002) - 1.0


@pytest.mark.integration
@pytest.mark.slow
def test_finance_override_in_the_case_changes_the_npv_as_the_formula(sx_tables):
    r = nd.run(
        _case(
            plant={"trains": [2]},
            data={"costs": {"finance": {"tax_rate": 0.0, "working_capital_frac": 0.0}}},
        ),
        sx_tables=sx_tables,
    )
    e = r.summary["economics"]
    af = costing.annuity_factor(0.08, 15)
    op = e["operating_cost_USD_yr"]
    assert e["npv_USD"] == pytest.approx(
        -e["capex_USD"] + af * (e["revenue_USD_yr"] - op), rel=1e-12
    )
    assert math.isclose(e["tax_rate"], 0.0)
