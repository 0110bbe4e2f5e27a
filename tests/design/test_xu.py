"""Xu closed-form design vs the worked Pr/Nd table (DOMAIN.md §2.6) and balances."""

import dataclasses
import math
import tomllib

import pytest

from rexopt.design import (
    LumpedFeed,
    XuDesign,
    controlling_section,
    design_to_case,
    design_to_toml,
    lump_components,
    purification_factors,
    raffinate_fractions,
    reagent_consumption,
    simple_optimum,
    stage_numbers,
    xu_design,
    xu_design_multicomponent,
    xu_three_outlet,
    yields,
)

pytestmark = pytest.mark.unit


def printed(value, text):
    """True if ``value`` rounds to the printed figure ``text`` (half a last digit)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(value - float(text)) <= 0.5 * 10.0**-decimals + 1e-9


# DOMAIN.md §2.6 (b): Pr/Nd, aqueous feed, Nd (A) 75 %, Pr (B) 25 %.
# (P_A, P_B, beta, ctrl, E_M, E'_M, S, W, n, m, n+m, N_min, S_min, W_min)
# fmt: off
TABLE = [
    (0.995, 0.995, 1.5, "scrub", "0.943", "1.225", "4.10", "3.35", "18.4", "20.7",
     "39.1", "26.1", "2.75", "2.00"),
    (0.999, 0.990, 1.5, "scrub", "0.942", "1.225", "4.08", "3.33", "16.5", "28.6",
     "45.1", "28.4", "2.75", "2.00"),
    (0.995, 0.995, 1.4, "scrub", "0.952", "1.183", "4.86", "4.11", "22.3", "24.9",
     "47.2", "31.5", "3.25", "2.50"),
    (0.995, 0.995, 1.6, "scrub", "0.936", "1.265", "3.59", "2.84", "15.8", "17.8",
     "33.7", "22.5", "2.42", "1.67"),
]
# fmt: on


@pytest.mark.parametrize("row", TABLE, ids=["99.5/99.5", "99.9/99.0", "b1.4", "b1.6"])
def test_worked_pr_nd_table(row):
    P_A, P_B, beta, ctrl, *figures = row
    d = xu_design(0.75, P_A, P_B, beta)
    got = [
        d.E_M,
        d.E_prime_M,
        d.S,
        d.W,
        d.n,
        d.m,
        d.n_plus_m,
        d.N_min,
        d.S_min,
        d.W_min,
    ]
    names = ["E_M", "E'_M", "S", "W", "n", "m", "n+m", "N_min", "S_min", "W_min"]
    assert d.control == ctrl
    bad = [
        (nm, g, f)
        for nm, g, f in zip(names, got, figures, strict=True)
        if not printed(g, f)
    ]
    assert not bad, bad


def test_worked_example_k_and_reagents():
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    # "Equivalent k ... for the 99.5/99.5 design = 0.64"
    assert printed(d.k_equivalent, "0.64")
    # per tonne REO fed: NH3 1.25 t, HCl 2.67 t at S = 4.10; NH3 0.84 t, HCl 1.79 t
    # at S_min (5,944 mol RE per t Nd2O3)
    mol_per_t = 5944.0
    base, acid = reagent_consumption(d.S)
    assert printed(base * mol_per_t * 17.031e-6, "1.25")
    assert printed(acid * mol_per_t * 36.461e-6, "2.67")
    base_min, acid_min = reagent_consumption(d.S_min)
    assert printed(base_min * mol_per_t * 17.031e-6, "0.84")
    assert printed(acid_min * mol_per_t * 36.461e-6, "1.79")
    assert d.base_mol_per_mol_feed == d.acid_mol_per_mol_feed == pytest.approx(3 * d.S)


def test_simple_optimum_ratio_of_governing_section():
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    assert d.E_prime_M == pytest.approx(math.sqrt(1.5), rel=1e-12)
    e = xu_design(0.25, 0.995, 0.995, 1.5)  # B-rich feed -> extraction-controlled
    assert e.control == "extraction"
    assert e.E_M == pytest.approx(1 / math.sqrt(1.5), rel=1e-12)


SPECS = [
    (f_A, P_A, P_B)
    for f_A in (0.1, 0.3, 0.5, 0.75, 0.9)
    for P_A, P_B in ((0.99, 0.99), (0.9999, 0.98), (0.95, 0.9999))
]


@pytest.mark.parametrize("f_A, P_A, P_B", SPECS)
def test_phi_and_yields_reproduce_the_specified_purities(f_A, P_A, P_B):
    f_B = 1 - f_A
    d = xu_design(f_A, P_A, P_B, 1.5)
    # outlet streams rebuilt from Phi: raffinate holds f_A*Phi_A of A, f_B*Phi_B of B
    raff_A, raff_B = f_A * d.Phi_A, f_B * d.Phi_B
    org_A, org_B = f_A - raff_A, f_B - raff_B
    assert raff_B / (raff_A + raff_B) == pytest.approx(P_B, rel=1e-12)
    assert org_A / (org_A + org_B) == pytest.approx(P_A, rel=1e-12)
    assert d.fp_A == pytest.approx(org_A + org_B, rel=1e-12)
    assert d.fp_A + d.fp_B == pytest.approx(1.0, abs=1e-15)
    # yields and identities
    assert d.yield_A == pytest.approx(org_A / f_A, rel=1e-12)
    assert d.yield_B == pytest.approx(raff_B / f_B, rel=1e-12)
    assert d.b == pytest.approx(d.Phi_B / d.Phi_A, rel=1e-12)
    # (1 - Phi_B) is a small difference for high purities: looser tolerance
    assert d.a == pytest.approx((1 - d.Phi_A) / (1 - d.Phi_B), rel=1e-9)
    assert (d.yield_A, d.yield_B) == pytest.approx(yields(d.a, d.b), rel=1e-12)


@pytest.mark.parametrize("optimum", ["simple", "precise"])
def test_balances_aqueous_and_organic_feed(optimum):
    aq = xu_design(0.75, 0.995, 0.995, 1.5, optimum=optimum)
    assert aq.S - aq.W == pytest.approx(aq.fp_A, rel=1e-12)
    assert aq.E_M == pytest.approx(aq.S / (aq.W + 1), rel=1e-12)
    assert aq.E_prime_M == pytest.approx(aq.S / aq.W, rel=1e-12)
    org = xu_design(0.75, 0.995, 0.995, 1.5, feed_phase="organic", optimum=optimum)
    assert org.S + 1 - org.W == pytest.approx(org.fp_A, rel=1e-12)
    assert org.E_M == pytest.approx(org.S / org.W, rel=1e-12)
    assert org.E_prime_M == pytest.approx((org.S + 1) / org.W, rel=1e-12)
    # the split and purification factors do not depend on the feed phase
    assert (org.a, org.b, org.fp_A) == pytest.approx((aq.a, aq.b, aq.fp_A))


def test_minimum_amounts_organic_feed():
    d = xu_design(0.75, 0.995, 0.995, 1.5, feed_phase="organic")
    assert d.S_min == pytest.approx(2.0)  # 1/(beta-1)
    assert d.W_min == pytest.approx((0.75 + 1.5 * 0.25) / 0.5)
    # complete-separation balance S_min + 1 - W_min = f_A
    assert d.S_min + 1 - d.W_min == pytest.approx(0.75)


@pytest.mark.parametrize("beta", [1.2, 1.5, 2.0, 2.5])
def test_control_criterion(beta):
    r = math.sqrt(beta)
    # aqueous: extraction-controlled iff f'_B > sqrt(beta)/(sqrt(beta)+1)
    edge = r / (r + 1)
    assert controlling_section(edge + 1e-6, beta, "aqueous") == "extraction"
    assert controlling_section(edge - 1e-6, beta, "aqueous") == "scrub"
    # organic: iff f'_B > 1/(sqrt(beta)+1)
    edge = 1 / (r + 1)
    assert controlling_section(edge + 1e-6, beta, "organic") == "extraction"
    assert controlling_section(edge - 1e-6, beta, "organic") == "scrub"
    # on the boundary both sections sit at their optimum at once
    for phase, fp_B in (("aqueous", r / (r + 1)), ("organic", 1 / (r + 1))):
        _, _, _, E_M, E_pM = simple_optimum(1 - fp_B, beta, phase)
        assert E_M == pytest.approx(1 / r, rel=1e-9)
        assert E_pM == pytest.approx(r, rel=1e-9)


def test_beta_to_one_blows_up_stages_and_reflux():
    designs = [
        xu_design(0.75, 0.995, 0.995, beta) for beta in (2.0, 1.5, 1.2, 1.05, 1.01)
    ]
    for lo, hi in zip(designs, designs[1:], strict=False):
        assert hi.n > lo.n and hi.m > lo.m and hi.N_min > lo.N_min
        assert hi.S > lo.S and hi.S_min > lo.S_min
    assert designs[-1].n_plus_m > 1000 and designs[-1].S_min > 100
    with pytest.raises(ValueError, match="beta"):
        xu_design(0.75, 0.995, 0.995, 1.0)


def test_purity_at_feed_fraction():
    d = xu_design(0.75, 0.995, 0.25, 1.5)  # raffinate no better than the feed
    assert d.b == 1.0 and d.n == 0.0
    assert d.Phi_A == d.Phi_B == pytest.approx(1.0)  # everything to the raffinate
    d = xu_design(0.75, 0.75, 0.995, 1.5)  # organic no better than the feed
    assert d.a == 1.0 and d.m == 0.0
    assert d.yield_A == pytest.approx(1.0)
    assert purification_factors(0.3, 0.3, 0.7) == (1.0, 1.0)
    with pytest.raises(ValueError, match="a\\*b"):
        raffinate_fractions(1.0, 1.0)


def test_m_plus_one_bookkeeping():
    plain = xu_design(0.75, 0.995, 0.995, 1.5)
    alt = xu_design(0.75, 0.995, 0.995, 1.5, m_plus_one=True)
    assert alt.m == pytest.approx(plain.m - 1.0)
    assert alt.n == plain.n and alt.m_plus_one
    n, m = stage_numbers(plain.a, plain.b, 1.5, plain.E_M, plain.E_prime_M)
    assert (n, m) == (plain.n, plain.m)


def test_precise_optimum_is_a_local_minimum_of_s_times_stages():
    simple = xu_design(0.75, 0.995, 0.995, 1.5)
    p = xu_design(0.75, 0.995, 0.995, 1.5, optimum="precise")
    assert p.optimum == "precise"
    assert p.S_min < p.S
    assert p.volume_index <= simple.volume_index
    for factor in (0.99, 1.01):
        q = xu_design(0.75, 0.995, 0.995, 1.5, S=p.S * factor)
        assert q.optimum == "given"
        assert q.volume_index > p.volume_index
    # the simple optimum is "adequate for beta < 3": at beta = 2 both are close
    s2 = xu_design(0.5, 0.999, 0.999, 2.0)
    p2 = xu_design(0.5, 0.999, 0.999, 2.0, optimum="precise")
    assert p2.volume_index == pytest.approx(s2.volume_index, rel=0.02)


def test_given_S_must_give_finite_stages():
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    with pytest.raises(ValueError, match=r"S=2\.0"):
        xu_design(0.75, 0.995, 0.995, 1.5, S=2.0)  # E'_M = 2.0/1.25 > beta
    assert xu_design(0.75, 0.995, 0.995, 1.5, S=d.S).n == pytest.approx(d.n)


def test_lumping_multicomponent_feed():
    comps = ["La", "Ce", "Pr", "Nd"]
    K = {"La": 1.0, "Ce": 5.0, "Pr": 10.0, "Nd": 15.0}
    feed = {"La": 25.0, "Ce": 50.0, "Pr": 5.0, "Nd": 20.0}
    lump = lump_components(comps, feed, K, "Pr")  # La,Ce | Pr,Nd
    assert isinstance(lump, LumpedFeed)
    assert (lump.key_B, lump.key_A, lump.cut) == ("Ce", "Pr", 2)
    assert lump.beta == pytest.approx(2.0)
    assert lump.f_A == pytest.approx(0.25)
    assert lump.group_A == ("Pr", "Nd") and lump.group_B == ("La", "Ce")
    assert lump_components(comps, [25, 50, 5, 20], K, 2) == lump
    d = xu_design_multicomponent(comps, feed, K, "Pr", 0.999, 0.9995)
    ref = xu_design(0.25, 0.999, 0.9995, 2.0)
    assert (d.S, d.n, d.m) == (ref.S, ref.n, ref.m)
    assert (d.key_B, d.key_A) == ("Ce", "Pr") and d.lumping == lump
    assert d.table()["group_A [-]"] == "Pr,Nd"
    with pytest.raises(ValueError, match="separation_factors"):
        lump_components(comps, feed, {**K, "Nd": 8.0}, "Pr")  # not increasing
    with pytest.raises(ValueError, match="cut"):
        lump_components(comps, feed, K, "La")


def test_three_outlet_superposition():
    t = xu_three_outlet(
        [0.3, 0.2, 0.5],
        0.999,
        0.999,
        2.0,
        2.0,
        middle_max_A=0.01,
        middle_max_C=0.05,
        names=("Gd", "Eu", "Sm"),
    )
    up = xu_design(0.3, 0.999, 0.99, 2.0)
    low = xu_design(0.5, 0.95, 0.999, 2.0)
    assert t.S == pytest.approx(max(up.S, low.S))
    assert t.draw_fraction == pytest.approx(1 - up.fp_A - low.fp_B)
    # one organic through the cascade: the bottom section's aqueous carries
    # S + f'_C, so its extraction ratio is the lower cut's E_M at the common S
    assert t.lower.E_M == pytest.approx(t.S / (t.S + t.lower.fp_B))
    assert t.upper.E_M == pytest.approx(t.S / (t.W + 1))
    assert (t.n_bottom, t.n_middle, t.m) == (t.lower.n, t.upper.n, t.upper.m)
    # a larger-than-own-optimum S only shortens a section
    assert t.upper.n <= up.n + 1e-9 and t.lower.n <= low.n + 1e-9
    # an organic outlet no purer than the feed takes all the RE: no middle product
    with pytest.raises(ValueError, match="middle"):
        xu_three_outlet(
            [0.3, 0.05, 0.65],
            0.3,
            0.999,
            2.0,
            2.0,
            middle_max_A=0.01,
            middle_max_C=0.05,
        )
    # an impossible middle spec is reported against the cut it comes from
    with pytest.raises(ValueError, match="middle_max_A.*purity_B=0.5"):
        xu_three_outlet(
            [0.3, 0.05, 0.65],
            0.999,
            0.999,
            2.0,
            2.0,
            middle_max_A=0.5,
            middle_max_C=0.05,
        )


def prnd_feed() -> dict:
    """design_to_case's feed arguments for a Pr/Nd feed, 100 L/h of 1 mol/L RE."""
    return dict(
        components=["Pr", "Nd"],
        feed_flow_L_h=100.0,
        feed_conc_mol_L={"Pr": 0.25, "Nd": 0.75},
    )


def test_design_to_case_sizing():
    d = xu_design(0.75, 0.995, 0.995, 1.5, key_A="Nd", key_B="Pr")
    F = 100.0 * 1.0  # 100 L/h of 1 mol/L RE -> mol/h
    case = design_to_case(d, **prnd_feed())
    assert case["kind"] == "cascade"
    assert case["chemistry"]["model"] == "saturated"
    assert case["chemistry"]["saturated"]["separation_factors"] == {
        "Pr": 1.0,
        "Nd": 1.5,
    }
    assert case["sections"]["extraction"]["stages"] == 19  # ceil(18.4)
    assert case["sections"]["scrub"]["stages"] == 21  # ceil(20.7)
    assert case["sections"]["strip"]["stages"] == 6
    assert case["feed"]["stage"] == 19 and case["feed"]["phase"] == "aqueous"
    # Ymax = 0.36 * 1.5 / 3 = 0.18 mol/L; the organic carries exactly S (Xu)
    assert case["organic"]["flow_L_h"] == pytest.approx(d.S * F / 0.18)
    assert case["organic"]["flow_L_h"] == pytest.approx(2300, rel=0.02)
    scrub, strip = case["scrub"], case["strip"]
    assert scrub["flow_L_h"] * scrub["acidity_mol_L"] == pytest.approx(3 * d.W * F)
    # the organic product is the capacity left after the scrub acid: f'_A F
    product = case["organic"]["flow_L_h"] * 0.18 - 3.0 * scrub["flow_L_h"] / 3.0
    assert product == pytest.approx(d.fp_A * F)
    # an organic run below capacity keeps that product: the scrub acid takes the
    # extra sites (the old sizing moved the product to S/0.98 - W)
    part = design_to_case(d, **prnd_feed(), loading_fraction=0.98)
    O, H = part["organic"]["flow_L_h"], 3.0 * part["scrub"]["flow_L_h"]
    assert O == pytest.approx(d.S * F / (0.18 * 0.98))
    assert O * 0.18 - H / 3.0 == pytest.approx(d.fp_A * F)
    assert strip["flow_L_h"] * strip["acidity_mol_L"] == pytest.approx(
        3 * 1.2 * (d.S - d.W) * F
    )
    more = design_to_case(d, **prnd_feed(), stage_margin=2)
    assert more["sections"]["extraction"]["stages"] == 21
    assert more["sections"]["scrub"]["stages"] == 23
    org = design_to_case(
        xu_design(0.75, 0.995, 0.995, 1.5, feed_phase="organic"),
        components=["Pr", "Nd"],
        feed_flow_L_h=500.0,
        feed_conc_mol_L={"Pr": 0.045, "Nd": 0.135},
    )
    assert org["feed"]["phase"] == "organic"
    assert org["feed"]["stage"] == org["sections"]["extraction"]["stages"] + 1
    assert "acidity_mol_L" not in org["feed"]


def test_design_to_toml_round_trip():
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    kw = prnd_feed()
    text = design_to_toml(d, **kw)
    assert text.startswith("# ")
    assert tomllib.loads(text) == design_to_case(d, **kw)
    t = xu_three_outlet(
        [0.3, 0.2, 0.5], 0.999, 0.999, 2.0, 2.0, middle_max_A=0.01, middle_max_C=0.05
    )
    case = tomllib.loads(
        design_to_toml(
            t,
            components=["Sm", "Eu", "Gd"],
            feed_flow_L_h=100.0,
            feed_conc_mol_L={"Sm": 0.5, "Eu": 0.2, "Gd": 0.3},
        )
    )
    assert case["chemistry"]["saturated"]["separation_factors"] == {
        "Sm": 1.0,
        "Eu": 2.0,
        "Gd": 4.0,
    }
    (draw,) = case["side_draws"]
    assert draw["stage"] == t.draw_stage < case["feed"]["stage"]


def test_design_is_frozen_and_tabulated():
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.S = 1.0
    table = d.table()
    assert table["S [mol/mol feed]"] == d.S
    assert table["n [stages]"] == d.n
    assert set(d.table(units=False)) >= {
        f.name for f in dataclasses.fields(XuDesign) if f.name != "lumping"
    }
    for f in dataclasses.fields(XuDesign):
        assert "unit" in f.metadata and f.metadata["doc"]


@pytest.mark.parametrize(
    "kwargs, field, value",
    [
        (dict(purity_A=0.5), "purity_A", "0.5"),
        (dict(purity_A=1.0), "purity_A", "1.0"),
        (dict(purity_B=0.1), "purity_B", "0.1"),
        (dict(beta=0.9), "beta", "0.9"),
        (dict(beta_scrub=1.0), "beta_scrub", "1.0"),
        (dict(f_A=1.2), "f_A", "1.2"),
        (dict(feed_phase="solid"), "feed_phase", "solid"),
        (dict(optimum="best"), "optimum", "best"),
        (dict(S=0.5), "S", "0.5"),
    ],
)
def test_bad_inputs_name_field_and_value(kwargs, field, value):
    args = dict(f_A=0.75, purity_A=0.995, purity_B=0.995, beta=1.5) | kwargs
    with pytest.raises(ValueError, match=f"{field}=") as err:
        xu_design(**args)
    assert value in str(err.value)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(saponification=1.5), "saponification"),
        (dict(agent="KOH"), "agent"),
        (dict(feed_flow_L_h=0.0), "feed_flow_L_h"),
        (dict(feed_conc_mol_L={"Sm": 1.0}), "feed_conc_mol_L"),
        (dict(strip_stages=0), "strip_stages"),
        (dict(components=["Pr", "Nd", "Sm"]), "components"),
    ],
)
def test_design_to_case_bad_inputs(kwargs, field):
    d = xu_design(0.75, 0.995, 0.995, 1.5)
    args = prnd_feed() | kwargs
    with pytest.raises(ValueError, match=field):
        design_to_case(d, **args)


def test_three_outlet_draw_in_scrub_section_balances():
    # Gd/Eu/Sm with the middle product drawn above the feed (classical design)
    kw = dict(middle_max_A=0.2, middle_max_C=0.2, names=("Gd", "Eu", "Sm"))
    t = xu_three_outlet(
        [0.3, 0.1, 0.6],
        0.99,
        0.995,
        1.4,
        2.0,
        **kw,
        draw_section="scrub",
        impurity_basis="draw",
    )
    assert t.draw_section == "scrub"
    D = t.draw_fraction
    assert D == pytest.approx(1 - t.upper.fp_A - t.lower.fp_B)
    # one organic, one scrub acid: the aqueous RE flow drops by D at the draw
    assert t.W == pytest.approx(t.upper.W)
    assert t.upper.W - t.lower.W == pytest.approx(D)
    assert t.lower.E_prime_M == pytest.approx(t.S / (t.W - D))
    assert t.lower.E_M == pytest.approx(t.S / (t.W - D + 1.0))
    # stages: extraction from the lower cut, scrub split at the draw
    assert (t.n_bottom, t.n_middle, t.m, t.m_middle) == (
        t.lower.n,
        0.0,
        t.upper.m,
        t.lower.m,
    )
    assert t.stages_extraction == math.ceil(t.lower.n)
    assert t.draw_stage == t.stages_extraction + math.ceil(t.lower.m)
    assert t.stages_scrub == math.ceil(t.lower.m) + math.ceil(t.upper.m)
    # impurities read on the draw: A and C in the draw are exactly the limits
    P, R = t.upper.fp_A, t.lower.fp_B
    assert (1 - t.upper.purity_B) * (D + R) / D == pytest.approx(0.2, rel=1e-9)
    assert (1 - t.lower.purity_A) * (P + D) / D == pytest.approx(0.2, rel=1e-9)
    case = design_to_case(
        t,
        components=["Sm", "Eu", "Gd"],
        feed_flow_L_h=100.0,
        feed_conc_mol_L={"Sm": 0.6, "Eu": 0.1, "Gd": 0.3},
    )
    (draw,) = case["side_draws"]
    n_ext = case["sections"]["extraction"]["stages"]
    assert case["feed"]["stage"] == n_ext < draw["stage"] == t.draw_stage
    # the draw carries D F of RE at the scrub aqueous's RE concentration (W F
    # mol/h in the scrub acid's volume)
    F = 100.0
    assert draw["flow_L_h"] == pytest.approx(
        D * F * case["scrub"]["flow_L_h"] / (t.W * F)
    )
    with pytest.raises(ValueError, match="draw_section"):
        xu_three_outlet(
            [0.3, 0.1, 0.6], 0.99, 0.995, 1.4, 2.0, **kw, draw_section="top"
        )
