"""PlantSession: one model re-solved under overrides == a fresh build and solve."""

import pytest

from flowsheets import ndfeb_recycling as nd

FIXED = {
    "pretreatment": "crushing",
    "leach_route": "selective",
    "agent": "NaOH",
    "evaporator": "mvr",
    "kiln_heating": "gas",
    "prnd_cut": "off",
    "dytb_cut": "off",
}
BASE = {
    "kind": "ndfeb_flowsheet",
    "name": "session test",
    "plant": {"trains": [1, 2]},
    "routes": FIXED,
    "targets": {"zld": True, "re_yield_min": 0.8},
    "solver": {"time_limit_s": 120, "mip_gap": 0.002},
}
GAP = 0.002


@pytest.fixture(scope="module")
def session(sx_tables):
    case, _ = nd.load_case(BASE)
    return nd.PlantSession(case, sx_tables=sx_tables)


def _fresh(sx_tables, **paths):
    import copy

    raw = copy.deepcopy(BASE)
    for k, v in paths.items():
        nd._set_path(raw, k.replace("__", "."), v)
    c, _ = nd.load_case(raw)
    return nd.run(c, sx_tables=sx_tables)


@pytest.mark.integration
def test_price_override_is_a_parameter_and_matches_a_fresh_build(session, sx_tables):
    r = session.solve({"data.costs.products_USD_kg.Nd2O3": 150.0})
    s = r.summary["session"]
    assert not s["rebuilt"] and s["overrides_as_parameters"] == [
        "data.costs.products_USD_kg.Nd2O3"
    ]
    f = _fresh(sx_tables, data__costs__products_USD_kg__Nd2O3=150.0)
    a, b = r.summary["economics"]["npv_USD"], f.summary["economics"]["npv_USD"]
    assert a == pytest.approx(b, rel=2 * GAP)
    # the report prices the oxide at the override, not at the default
    prod = r.tables["products"]
    row = prod[prod["product"] == "PrNd oxide"].iloc[0]
    assert row["revenue_USD_yr"] > 0
    assert r.plant.data["costs"]("products_USD_kg.Nd2O3") == 150.0


@pytest.mark.integration
@pytest.mark.slow
def test_scenarios_do_not_depend_on_their_order(session):
    """The same scenario after different predecessors (a parameter scenario, a
    structural one that replaces the model) gives the same plant: every scenario
    on the base build starts from the base case's plant, never the last one."""
    hcl = {"data.costs.reagents_USD_t.HCl": 400.0}
    a1 = session.solve(hcl)
    assert a1.summary["session"]["mip_start"] == (
        "decisions of the session's base-case plant"
    )
    session.solve({"plant.scrap_t_yr": 2500.0, "plant.trains": [1]})
    a2 = session.solve(hcl)
    wet = session.solve({"data.feed.moisture.wt_pct_wet": 2.0})
    assert wet.summary["session"]["rebuilt"]
    assert wet.summary["session"]["built_for"] == ["data.feed.moisture.wt_pct_wet"]
    # the same start for every scenario, structural or not
    assert wet.summary["session"]["mip_start"] == a1.summary["session"]["mip_start"]
    a3 = session.solve(hcl)
    s3 = a3.summary["session"]
    # the feed scenario's model is not used for a base-feed scenario
    assert s3["rebuilt"] and "back to the base build" in s3["rebuild_reason"]
    assert s3["built_for"] == [] and s3["overrides_as_parameters"] == sorted(hcl)
    for a in (a2, a3):
        assert a.choice.points == a1.choice.points
        assert a.choice.trains == a1.choice.trains
        assert a.summary["economics"]["npv_USD"] == pytest.approx(
            a1.summary["economics"]["npv_USD"], rel=1e-9
        )
        assert a.summary["route"]["scrap_t_yr"] == pytest.approx(4000.0)


@pytest.mark.integration
@pytest.mark.slow
def test_lower_capacity_is_a_bound_and_matches_a_fresh_build(session, sx_tables):
    r = session.solve({"plant.scrap_t_yr": 2000.0})
    assert not r.summary["session"]["rebuilt"]
    assert r.summary["route"]["scrap_t_yr"] == pytest.approx(2000.0)
    f = _fresh(sx_tables, plant__scrap_t_yr=2000.0)
    assert r.summary["economics"]["npv_USD"] == pytest.approx(
        f.summary["economics"]["npv_USD"], rel=2 * GAP
    )
    assert r.summary["REO_t_yr"] == pytest.approx(f.summary["REO_t_yr"], rel=1e-3)


@pytest.mark.unit
def test_structural_overrides_are_named(session):
    case = session._case_for({"data.feed.moisture.wt_pct_wet": 2.0})
    why = session._structural(case, ["data.feed.moisture.wt_pct_wet"])
    assert why and "data.feed.moisture.wt_pct_wet" in why[0]
    case = session._case_for({"plant.scrap_t_yr": 9000.0})
    why = session._structural(case, ["plant.scrap_t_yr"])
    assert why and "above the capacity" in why[0]
    case = session._case_for({"plant.trains": [3]})
    assert "not a subset" in session._structural(case, ["plant.trains"])[0]
    case = session._case_for({"data.costs.equipment.kiln.exp": 0.5})
    assert (
        "not a model parameter"
        in session._structural(case, ["data.costs.equipment.kiln.exp"])[0]
    )
    for k, v in (
        ("data.costs.finance.tax_rate", 0.3),
        ("routes.agent", "free"),
        ("targets.re_yield_min", 0.7),
    ):
        assert session._structural(session._case_for({k: v}), [k]) == []


@pytest.mark.unit
def test_bad_override_names_the_field(session):
    with pytest.raises(nd.CaseError, match="routes.agent"):
        session.solve({"routes.agent": "KOH"})
