"""Product slate and capacity as declared decisions (issue 19 reproductions)."""

import pytest

from flowsheets import ndfeb_recycling as nd

ROUTES = {
    "pretreatment": "crushing",
    "leach_route": "selective",
    "agent": "MgHCO3",
    "evaporator": "mvr",
    "kiln_heating": "gas",
}


def _case(**over):
    case = {
        "kind": "ndfeb_flowsheet",
        "name": "decisions test",
        "plant": {"trains": [1, 2]},
        "routes": {**ROUTES, "prnd_cut": "free", "dytb_cut": "free"},
        # the hand-written fixture table reaches about 0.95 single-oxide purity
        "targets": {"zld": True, "re_yield_min": 0.8, "purity_single_min": 0.9},
        "solver": {"time_limit_s": 300, "mip_gap": 0.005, "capex_rounds": 1},
    }
    for k, v in over.items():
        case[k] = {**case[k], **v} if isinstance(case.get(k), dict) else v
    c, _ = nd.load_case(case)
    return c


@pytest.mark.integration
@pytest.mark.slow
def test_unreachable_purity_spec_is_reported_with_best_value_and_npv(sx_tables):
    # the Dy/Tb cut off keeps the model (and the bisection's solves) small
    res = nd.run(
        _case(
            targets={"purity_single_min": 0.99999999},
            routes={"dytb_cut": "off"},
        ),
        sx_tables=sx_tables,
    )
    dec = res.summary["decisions"]
    assert res.choice.routes["prnd_cut"] == "off"
    cut = next(c for c in dec["cuts"] if c["cut"] == "prnd_cut")
    assert cut["spec_unreachable"]
    lo, hi = cut["best_achievable_purity"]
    assert 0.5 < lo <= hi < 0.99999999
    assert (1 - lo) <= 1.1 * (1 - hi) + 1e-12  # impurity bracketed to 10 %
    # the bracket is real: a plant with the cut on meets lo, and the table's best
    # Nd product (re-simulated) is below the spec
    assert "NPV" in cut["reason"] and "cannot be met" in cut["reason"]
    text = nd.report(res)
    head = text.splitlines()[:6]  # warnings sit under the title
    assert any(h.startswith("WARNING: targets.purity_single_min") for h in head)
    # relaxing the spec to lo: the cut comes on and the NPV is the one reported
    relaxed = nd.run(
        _case(
            targets={"purity_single_min": lo},
            routes={"prnd_cut": "on", "dytb_cut": "off"},
        ),
        sx_tables=sx_tables,
    )
    assert relaxed.choice.routes["prnd_cut"] == "on"
    assert relaxed.summary["economics"]["npv_USD"] == pytest.approx(
        cut["npv_with_spec_relaxed_USD"], rel=0.01
    )


@pytest.mark.integration
@pytest.mark.slow
def test_cut_off_by_economics_states_the_npv_difference(sx_tables):
    # a Pr/Nd cut that earns nothing: Pr and Nd oxides at the mixed value
    res = nd.run(
        _case(
            data={
                "costs": {
                    "products_USD_kg": {
                        "Pr6O11": 70.0,
                        "Nd2O3": 70.0,
                        "mixed_discount": 1.0,
                    }
                }
            }
        ),
        sx_tables=sx_tables,
    )
    cut = next(c for c in res.summary["decisions"]["cuts"] if c["cut"] == "prnd_cut")
    assert cut["state"] == "off"
    assert cut["npv_difference_USD"] > 0
    forced = nd.run(
        _case(
            routes={"prnd_cut": "on"},
            data={
                "costs": {
                    "products_USD_kg": {
                        "Pr6O11": 70.0,
                        "Nd2O3": 70.0,
                        "mixed_discount": 1.0,
                    }
                }
            },
        ),
        sx_tables=sx_tables,
    )
    assert forced.summary["economics"]["npv_USD"] == pytest.approx(
        cut["npv_with_cut_on_USD"], rel=0.005
    )
    assert "off by economics" in nd.report(res)


@pytest.mark.integration
@pytest.mark.slow
def test_train_limit_is_named_when_the_capacity_does_not_fit(sx_tables):
    """20,000 t/yr: the MVR evaporators of three trains cannot carry the brine."""
    big = {"scrap_t_yr": 20000.0, "trains": [1, 2, 3]}
    with pytest.raises(nd.InfeasibleCase) as exc:
        nd.run(_case(plant=big, routes={"prnd_cut": "on"}), sx_tables=sx_tables)
    msg = str(exc.value)
    assert "Capacity:" in msg and "plant.trains" in msg
    assert "evaporator_mvr" in msg and "max_per_train" in msg
    assert "yield" not in msg  # the designer is not sent to the leach data
    # left free, the cut is switched off and the report says it is the capacity
    res = nd.run(_case(plant=big), sx_tables=sx_tables)
    cut = next(c for c in res.summary["decisions"]["cuts"] if c["cut"] == "prnd_cut")
    assert cut["state"] == "off" and cut.get("capacity_binds")
    assert "evaporator_mvr" in cut["reason"]
    assert "evaporator_mvr" in nd.report(res)
    # the trains the message asks for give a plant with the cut on
    ok = nd.run(
        _case(plant={"scrap_t_yr": 20000.0, "trains": [7]}, routes={"prnd_cut": "on"}),
        sx_tables=sx_tables,
    )
    assert ok.choice.routes["prnd_cut"] == "on"
    lim = ok.summary["decisions"]["binding_limits"]
    assert all(b["limit"].startswith(("equipment.", "evaporation.")) for b in lim)
