"""The plant report's stream conditions: temperatures with their basis, phases,
volumetric flows, the products split and the Pareto dominance test."""

import math
from types import SimpleNamespace as NS

import pandas as pd
import pytest

from rexopt.units import data
from rexopt.units import report as rep
from rexopt.units import species as sp
from rexopt.units.mixing import Mixer, Splitter


def _unit(kind: str, outlets: tuple[str, ...]):
    """A stand-in unit whose class name is the report's key (e.g. SXCut)."""
    return type(kind, (), {"outlets": outlets})()


def _plant(overrides=None):
    """sx (set point) and prec (set point) -> mixer -> splitter, two outlets."""
    units = {
        "sx": _unit("SXCut", ("raffinate",)),
        "prec": _unit("OxalatePrecipitation", ("mother_liquor",)),
        "mix": Mixer("mix", ("a", "b")),
        "split": Splitter("split", [0.25], "left", "right", "f"),
    }
    edges = {
        ("mix", "a"): [("sx", "raffinate")],
        ("mix", "b"): [("prec", "mother_liquor")],
        ("split", "inlet"): [("mix", "outlet")],
    }
    water = {"H2O(l)": 100.0}
    brine = {"H2O(l)": 300.0, "NaCl(aq)": 5.0}
    out = {**water}
    for k, v in brine.items():
        out[k] = out.get(k, 0.0) + v
    streams = {
        ("sx", "raffinate"): water,
        ("prec", "mother_liquor"): brine,
        ("mix", "outlet"): out,
        ("split", "left"): {k: 0.25 * v for k, v in out.items()},
        ("split", "right"): {k: 0.0 for k in out},  # nothing under this route
    }
    d = {"stream_conditions": data.load("stream_conditions", overrides)}
    plant = NS(units=units, order=list(units), edges=edges, data=d)
    rs = NS(streams=streams, inlets={}, points={n: {} for n in units})
    return plant, rs


@pytest.mark.unit
def test_mixer_temperature_conserves_sensible_heat_at_equal_cp():
    plant, rs = _plant()
    T = rep.stream_temperatures(plant, rs)
    sc = plant.data["stream_conditions"]
    t_sx, t_prec = sc("set_point_C.sx"), sc("set_point_C.prec")
    assert t_sx != t_prec  # otherwise the test cannot see the mixing rule
    assert T[("sx", "raffinate")] == (t_sx, "set point")
    assert T[("prec", "mother_liquor")] == (t_prec, "set point")
    m_a = sp.mass_flow_kg_h(rs.streams[("sx", "raffinate")])
    m_b = sp.mass_flow_kg_h(rs.streams[("prec", "mother_liquor")])
    m_out = sp.mass_flow_kg_h(rs.streams[("mix", "outlet")])
    t_mix, basis = T[("mix", "outlet")]
    assert basis == "mixed"
    # m_a T_a + m_b T_b = m_out T_out (mass conserved: m_out = m_a + m_b)
    assert m_out == pytest.approx(m_a + m_b, rel=1e-12)
    assert m_out * t_mix == pytest.approx(m_a * t_sx + m_b * t_prec, rel=1e-12)
    assert min(t_sx, t_prec) < t_mix < max(t_sx, t_prec)
    # a splitter passes its inlet's temperature on; an empty outlet has none
    assert T[("split", "left")] == (pytest.approx(t_mix), "inlet passed on")
    t_right, b_right = T[("split", "right")]
    assert math.isnan(t_right) and b_right == "no flow"
    for b in {b for _, b in T.values()}:
        assert b in rep.T_BASIS


@pytest.mark.unit
def test_set_point_overridden_in_the_case_reaches_the_stream():
    plant, rs = _plant({"set_point_C": {"sx": 35.0}})
    T = rep.stream_temperatures(plant, rs)
    assert T[("sx", "raffinate")] == (35.0, "set point")
    assert plant.data["stream_conditions"].entry("set_point_C.sx").status == "case"
    # the tables say where the T comes from: the case, not a placeholder
    assert rep.temperature_status(plant, rs, "sx", "raffinate", "set point") == "case"
    assert rep.temperature_status(plant, rs, "prec", "mother_liquor", "set point") == (
        "unverified"
    )
    assert rep.temperature_status(plant, rs, "mix", "outlet", "mixed") == "-"


@pytest.mark.unit
def test_operating_point_temperature_wins_over_the_data_file():
    plant, rs = _plant()
    rs.points["sx"] = {"temperature_C": 55.0}
    assert rep.stream_temperatures(plant, rs)[("sx", "raffinate")] == (
        55.0,
        "operating point",
    )


@pytest.mark.unit
def test_volumes_ideal_gas_and_solid_densities():
    d = data.load("stream_conditions")
    v0 = rep.volumes_m3_h({"N2(g)": 1.0}, 0.0, d)
    assert v0["gas_m3_h"] == pytest.approx(22.414) == v0["gas_Nm3_h"]
    # Charles: the volume doubles from 273.15 K to 546.3 K
    v1 = rep.volumes_m3_h({"N2(g)": 1.0}, 273.15, d)
    assert v1["gas_m3_h"] == pytest.approx(2 * 22.414)
    assert v1["gas_Nm3_h"] == pytest.approx(22.414)
    # 1 m3/h of Nd2O3 particles at the RE-oxide density
    rho = d("solid_density_kg_m3.re_oxide")
    kmol = rho / sp.molar_mass_kg_kmol("Nd2O3(s)")
    v = rep.volumes_m3_h({"Nd2O3(s)": kmol, "H2O(l)": 1000 / 18.015}, 25.0, d)
    assert v["solids_m3_h"] == pytest.approx(1.0)
    assert v["liquid_m3_h"] == pytest.approx(1000 / 18.015 * 18.015 / 1000, rel=1e-3)
    assert v["gas_m3_h"] == 0.0
    # a salt and a hydroxide use their own class densities
    salt = rep.volumes_m3_h({"NaCl(s)": 1.0}, 25.0, d)["solids_m3_h"]
    assert salt == pytest.approx(
        sp.molar_mass_kg_kmol("NaCl(s)") / d("solid_density_kg_m3.salt")
    )
    hem = rep.volumes_m3_h({"Fe2O3(s)": 1.0}, 25.0, d)["solids_m3_h"]
    assert hem == pytest.approx(
        sp.molar_mass_kg_kmol("Fe2O3(s)") / d("solid_density_kg_m3.iron_oxide")
    )
    hyd = rep.volumes_m3_h({"Fe(OH)3(s)": 1.0}, 25.0, d)["solids_m3_h"]
    assert hyd == pytest.approx(
        sp.molar_mass_kg_kmol("Fe(OH)3(s)") / d("solid_density_kg_m3.hydroxide")
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "stream, phase",
    [
        ({}, "no flow"),
        ({"CO2(g)": 1.0}, "gas"),
        ({"H2O(l)": 10.0, "NaCl(aq)": 1.0}, "liquid"),
        ({"Nd2O3(s)": 1.0}, "solid"),
        ({"Nd2O3(s)": 1.0, "H2O(l)": 1.0}, "wet solid"),  # 336 kg solid, 18 water
        ({"Nd2O3(s)": 0.01, "H2O(l)": 100.0}, "slurry"),
        ({"H2O(l)": 1.0, "CO2(g)": 1.0}, "liquid + gas"),
    ],
)
def test_phase_names(stream, phase):
    assert rep._phase_of(stream) == phase


@pytest.mark.unit
def test_pareto_dominance_three_objectives():
    front = pd.DataFrame(
        {
            "cost": [10.0, 11.0, 9.0, 12.0, float("nan")],
            "co2": [5.0, 6.0, 7.0, 5.0, 1.0],
            "fresh_water_t_yr": [0.0, 1.0, 0.0, 0.0, 0.0],
            "headline": [False, False, False, True, False],
        }
    )
    dom = rep.pareto_dominated(front, ["cost", "co2", "fresh_water_t_yr"])
    # row 1 is beaten by row 0 in all three; row 3 (the headline) too; row 2 is
    # the cheapest; the NaN row neither dominates nor is dominated
    assert dom == [False, True, False, True, False]
    # with NPV maximised the order flips: the highest NPV is never dominated
    npv = front.rename(columns={"cost": "npv"})
    assert rep.pareto_dominated(npv, ["npv", "co2", "fresh_water_t_yr"])[3] is False


@pytest.mark.unit
def test_pareto_png_and_table(tmp_path):
    front = pd.DataFrame(
        {
            "co2_bound": [5.0, 8.0, float("nan")],
            "cost": [2.0e7, 1.8e7, 2.5e7],
            "co2": [5.0, 8.0, 9.0],
            "fresh_water_t_yr": [0.0, 100.0, 50.0],
            "headline": [False, False, True],
        }
    )
    case = NS(
        name="t", pareto=NS(primary="cost", secondary="co2"), objective=NS(kind="npv")
    )
    tab = rep.pareto_table(front, case)
    assert list(tab["point"]) == ["1", "2", "headline"]
    assert {"cost_USD_yr", "co2_t_yr", "co2_bound_t_yr"} <= set(tab.columns)
    # point 1 is cheaper, lower in CO2 and in water than the headline plant
    assert list(tab["dominated_in_3_objectives"]) == [False, False, True]
    f = tmp_path / "p.png"
    rep.pareto_png(front, case, f)
    import matplotlib.image as mpimg

    img = mpimg.imread(f)
    # two panels side by side: wider than tall
    assert img.shape[1] > 2 * img.shape[0] * 0.9


@pytest.mark.unit
def test_product_tables_have_numbers_only_and_sum_to_the_element_recovery():
    products = pd.DataFrame(
        [
            {
                "product": "Pr6O11",
                "purity_pct": 99.0,
                "Pr_to_product_pct_of_feed": 90.0,
                "Nd_to_product_pct_of_feed": 0.5,
            },
            {
                "product": "Nd2O3",
                "purity_pct": 99.5,
                "Pr_to_product_pct_of_feed": 2.0,
                "Nd_to_product_pct_of_feed": 91.0,
            },
        ]
    )
    main, where = rep.product_tables(products, {"Pr": 0.92, "Nd": 0.915})
    assert list(main.columns) == ["product", "purity_pct"]
    assert not where.isna().any().any()
    body, total = where.iloc[:-1], where.iloc[-1]
    assert body["Pr"].sum() == pytest.approx(total["Pr"])
    assert body["Nd"].sum() == pytest.approx(total["Nd"])


@pytest.mark.unit
def test_pareto_remark_only_when_the_front_is_one_plant():
    case = NS(name="t", pareto=NS(primary="cost", secondary="co2", water_points=1))
    one = pd.DataFrame(
        {
            "cost": [4.2e7, 4.2e7, 4.4e7],
            "co2": [1.0e4, 1.0e4, 1.3e4],
            "fresh_water_t_yr": [0.0, 0.0, 1.5e3],
            "headline": [False, False, True],
        }
    )
    assert "same plant" in rep.pareto_remark(one, case)
    assert "reported, not bounded" in rep.pareto_remark(one, case)
    bounded = NS(name="t", pareto=NS(primary="cost", secondary="co2", water_points=3))
    assert "under its bounds" in rep.pareto_remark(one, bounded)
    two = one.copy()
    two.loc[1, "co2"] = 1.1e4
    assert rep.pareto_remark(two, case) is None


@pytest.mark.unit
def test_a_unit_without_a_temperature_rule_is_said_not_guessed():
    plant, rs = _plant()
    plant.units["sx"] = _unit("NewUnitKind", ("raffinate",))
    T = rep.stream_temperatures(plant, rs)
    t, basis = T[("sx", "raffinate")]
    assert math.isnan(t) and basis == "not modelled"
    # nor is the mix downstream (a mean of the other inlet alone would be wrong)
    t, basis = T[("mix", "outlet")]
    assert math.isnan(t) and basis == "not modelled"
