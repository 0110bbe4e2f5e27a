"""Every unit closes its element balance at every operating point, and the
Pyomo block built from it reproduces the simulation exactly."""

import pyomo.environ as pyo
import pytest

from rexopt.units import (
    agents,
    calcination,
    data,
    dissolution,
    evaporation,
    leaching,
    neutralization,
    precipitation,
    pretreatment,
    purification,
    regeneration,
    roasting,
    solid_liquid,
    sx,
)
from rexopt.units.base import check_balance
from rexopt.units.linear import build_unit, probe

pytestmark = pytest.mark.component

D = data.load_all()
SPLIT = {"Pr": 0.2, "Nd": 0.75, "Dy": 0.043, "Tb": 0.007}
SCRAP = {
    "Nd(s)": 1.5,
    "Pr(s)": 0.4,
    "Dy(s)": 0.09,
    "Tb(s)": 0.019,
    "Nd2O3(s)": 0.05,
    "Fe(s)": 11.4,
    "B(s)": 0.92,
    "Co(s)": 0.25,
    "Al(s)": 0.18,
    "Cu(s)": 0.03,
    "Ga(s)": 0.03,
    "Ni(s)": 0.22,
    "H2O(l)": 0.56,
}
LIQUOR = {
    "NdCl3(aq)": 1.5,
    "PrCl3(aq)": 0.4,
    "DyCl3(aq)": 0.09,
    "TbCl3(aq)": 0.02,
    "FeCl3(aq)": 0.6,
    "FeCl2(aq)": 0.05,
    "CoCl2(aq)": 0.1,
    "NiCl2(aq)": 0.1,
    "AlCl3(aq)": 0.05,
    "CuCl2(aq)": 0.02,
    "GaCl3(aq)": 0.01,
    "H3BO3(aq)": 0.7,
    "HCl(aq)": 0.8,
    "NaCl(aq)": 0.5,
    "H2O(l)": 200.0,
}
RECYCLE = {
    "HCl(aq)": 2.0,
    "H2C2O4(aq)": 0.1,
    "NaCl(aq)": 1.0,
    "NdCl3(aq)": 0.05,
    "H2O(l)": 100.0,
}
SX_ROW = {
    "name": "t",
    "n_extraction": 3,
    "n_scrub": 4,
    "n_strip": 6,
    "base_eq_per_mol": 0.3,
    "hcl_mol_per_mol": 0.33,
    "scrub_L_per_mol": 0.05,
    "strip_L_per_mol": 0.03,
    "volume_m3_per_kmol_h": 2.6,
    "verified_by": "test",
    "raff_Pr": 0.999,
    "raff_Nd": 0.998,
    "raff_Dy": 0.01,
    "raff_Tb": 0.03,
}


def cases():
    import pandas as pd

    ag = D["agents"]
    yield (
        pretreatment.Pretreatment("p", pretreatment.points(D["pretreatment"])),
        {"scrap": SCRAP},
    )
    yield roasting.Roasting("r", roasting.points(D["roasting"])), {"feed": SCRAP}
    calc = (
        roasting.Roasting("r", roasting.points(D["roasting"]))
        .simulate({"feed": SCRAP}, roasting.points(D["roasting"])[1])
        .outlets["calcine"]
    )
    yield (
        leaching.SelectiveLeach("l", leaching.points(D["leaching"], SPLIT)),
        {"calcine": calc, "recycle": RECYCLE},
    )
    yield (
        dissolution.FullDissolution("d", dissolution.points(D["leaching"], SPLIT, 0.8)),
        {"feed": SCRAP, "recycle": RECYCLE},
    )
    yield (
        solid_liquid.SolidLiquid("s", solid_liquid.points(D["separation"])),
        {"pulp": {**LIQUOR, "Fe2O3(s)": 5.0, "Nd2O3(s)": 0.02}},
    )
    yield (
        purification.Purification("u", purification.points(D["purification"], ag)),
        {"liquor": LIQUOR},
    )
    table = pd.DataFrame([SX_ROW])
    yield (
        sx.SXCut("x", sx.points(table, ag, D["sx"], True), "group", D["sx"]),
        {"feed": LIQUOR},
    )
    yield (
        precipitation.OxalatePrecipitation(
            "o", precipitation.points(D["precipitation"])
        ),
        {"liquor": LIQUOR},
    )
    cake = (
        precipitation.OxalatePrecipitation(
            "o", precipitation.points(D["precipitation"])
        )
        .simulate({"liquor": LIQUOR}, precipitation.points(D["precipitation"])[2])
        .outlets["cake"]
    )
    yield (
        calcination.Calcination("c", calcination.points(D["precipitation"])),
        {"cake": {**cake, "NH4Cl(aq)": 0.01}},
    )
    acid = {
        **LIQUOR,
        "H2SO4(aq)": 0.3,
        "FeSO4(aq)": 0.2,
        "H2C2O4(aq)": 0.1,
        "Nd2(SO4)3(aq)": 0.01,
    }
    yield (
        neutralization.Neutralization(
            "n", neutralization.points(ag, D["purification"])
        ),
        {"acidic": acid},
    )
    yield (
        regeneration.MgRegeneration("g", regeneration.points(ag)),
        {"brine": {"MgCl2(aq)": 2.0, "NaCl(aq)": 1.0, "H2O(l)": 300.0}},
    )
    yield (
        evaporation.EvaporatorCrystallizer("e", evaporation.points(D["evaporation"])),
        {
            "brine": {
                "MgCl2(aq)": 2.0,
                "NaCl(aq)": 1.0,
                "H3BO3(aq)": 0.1,
                "H2O(l)": 300.0,
            }
        },
    )


@pytest.mark.parametrize(
    "unit,inlets", list(cases()), ids=lambda x: getattr(x, "name", "")
)
def test_element_balance_every_point(unit, inlets):
    for pt in unit.points:
        res = unit.simulate(inlets, pt)
        assert check_balance(inlets, res, tol=1e-10) == {}, unit.label(pt)


@pytest.mark.parametrize(
    "unit,inlets", list(cases()), ids=lambda x: getattr(x, "name", "")
)
def test_block_reproduces_simulation(unit, inlets):
    """The linear block (built from probes) gives the simulation's outlets and
    reagents when its operating point is fixed."""
    from rexopt.highs import solve

    k = len(unit.points) - 1
    m = pyo.ConcreteModel()
    m.b = pyo.Block()
    build_unit(
        m.b,
        unit,
        {p: dict(st) for p, st in inlets.items()},
        probes=probe(unit, {p: sorted(st) for p, st in inlets.items()}),
    )
    if len(unit.points) > 1:
        for j in m.b.y:
            m.b.y[j].fix(1 if j == k else 0)
    m.obj = pyo.Objective(expr=0.0)
    solve(m, what="unit block")
    res = unit.simulate(inlets, unit.points[k])
    for q, st in res.outlets.items():
        for s, v in st.items():
            got = pyo.value(m.b.out[q, s]) if (q, s) in m.b.out else 0.0
            assert got == pytest.approx(v, rel=1e-6, abs=1e-6), (q, s)
    for s, v in res.reagents.items():
        assert pyo.value(m.b.reag.get(s, 0.0)) == pytest.approx(
            v, rel=1e-6, abs=1e-6
        ), s


def test_agents_neutralize_water_and_salt():
    st, reag = {"HCl(aq)": 1.0, "H2O(l)": 10.0}, {}
    agents.neutralize(st, "HCl(aq)", 1.0, "MgHCO3", reag, D["agents"].table("MgHCO3"))
    assert st["MgCl2(aq)"] == pytest.approx(0.5)
    assert reag["MgO(s)"] == pytest.approx(0.5)
    assert st.get("HCl(aq)", 0.0) == pytest.approx(0.0)
