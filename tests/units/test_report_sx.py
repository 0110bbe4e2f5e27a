"""SX banks sized and checked at the feed the plant sends them, not the design's."""

import pyomo.environ as pyo
import pytest

from rexopt.units import agents, data, linear, sx
from rexopt.units import species as sp

ALL = data.load_all()
D = ALL["sx"]
FRAC = {"Pr": 0.2, "Nd": 0.75, "Dy": 0.04, "Tb": 0.01}


def _table():
    """Two candidate rows (different extraction stages), synthetic splits."""
    rows = []
    for i, (p, k) in enumerate([(0.995, 0.7), (0.9999, 0.8)]):
        des = sx.xu_design(89.6, 0.05, p, k, 1.1)
        case = sx.case_dict(D, "group", FRAC, des)
        raff = {"Pr": 0.999, "Nd": 0.998, "Dy": 0.01 / (i + 1), "Tb": 0.02}
        rows.append(sx.row_from_case(D, case, f"c{i}", raff, "test"))
    import pandas as pd

    return pd.DataFrame(rows)


def _unit():
    pts = sx.points(_table(), ALL["agents"], D, optional=True)
    return sx.SXCut("sx_group", pts, "group", D)


def _rerun_unit():
    """The unit as the plant's re-simulation runs it: with the kernel."""
    try:
        run = sx.kernel()
    except sx.KernelUnavailable as exc:
        pytest.skip(str(exc))
    u = _unit()
    u.runner = run
    return u


def _feed(re_kmol_h: float, liquid_m3_h: float) -> dict[str, float]:
    """An SX feed with RE chlorides in FRAC and water to the given liquid flow."""
    st = {sp.chloride(c, 3): re_kmol_h * f for c, f in FRAC.items()}
    st["NaCl(aq)"] = 0.3 * re_kmol_h
    rest_kg = 1000.0 * liquid_m3_h - sp.mass_flow_kg_h(st)
    st["H2O(l)"] = rest_kg / sp.molar_mass_kg_kmol("H2O(l)")
    return st


def _sizing_rule_m3(case: dict) -> float:
    """Every stage holds its aqueous + organic flow for the mixer residence; the
    settler settler_to_mixer times that (the physics, written out here)."""
    sz = D.table("sizing")
    O = case["organic"]["flow_L_h"]
    F = case["feed"]["flow_L_h"]
    sc = case["scrub"]["flow_L_h"]
    st = case["strip"]["flow_L_h"]
    s = case["sections"]
    L_h = (
        (O + F + sc) * s["extraction"]["stages"]
        + (O + sc) * s["scrub"]["stages"]
        + (O + st) * s["strip"]["stages"]
    )
    return L_h * sz["mixer_residence_min"] / 60.0 * (1 + sz["settler_to_mixer"]) / 1e3


@pytest.mark.unit
@pytest.mark.parametrize("c_plant", [0.21, 0.8, 1.6])
def test_bank_volume_is_the_sizing_rule_at_the_plant_feed(c_plant):
    """The bank's volume at a feed of c_plant mol/L is the sizing rule applied to
    the flows of the same design at that concentration (organic, scrub and strip
    per mol RE fed; aqueous = the feed's liquid flow)."""
    u = _unit()
    re = 2.0  # kmol/h
    feed = _feed(re, re / c_plant)
    assert sx.feed_RE_mol_L(feed) == pytest.approx(c_plant, rel=1e-12)
    for pt in u.points:
        if not pt["cut_on"]:
            assert u.simulate({"feed": feed}, pt).sizes.get("mixer_settlers", 0) == 0
            continue
        row = pt["_row"]
        des = {
            "S": row["base_eq_per_mol"] / 3.0,
            "W": row["scrub_L_per_mol"] * D("chemistry.scrub_acid_mol_L") / 3.0,
            "fA_out": row["strip_L_per_mol"]
            * D("chemistry.strip_acid_mol_L")
            / (3.0 * D("chemistry.strip_acid_excess")),
            "n_extraction": int(row["n_extraction"]),
            "n_scrub": int(row["n_scrub"]),
        }
        case = sx.case_dict(D, "group", FRAC, des, feed_RE_mol_L=c_plant)
        # the case carries F L/h at c_plant: scale it to the plant's re kmol/h
        scale = re * 1e3 / (case["feed"]["flow_L_h"] * c_plant)
        want = _sizing_rule_m3(case) * scale
        r = u.simulate({"feed": feed}, pt)
        assert r.sizes["mixer_settlers"] == pytest.approx(want, rel=1e-9)
        assert r.utilities["electricity_kW"] == pytest.approx(
            D("sizing.mixing_kW_m3") * want, rel=1e-9
        )
        # at the design concentration it is the candidate table's volume
        if c_plant == D("chemistry.feed_RE_mol_L"):
            assert want == pytest.approx(row["volume_m3_per_kmol_h"] * re, rel=1e-9)


@pytest.mark.unit
def test_milp_block_reproduces_the_bank_volume_at_every_point():
    """build_unit writes the volume's aqueous-flow part by point groups: at each
    integer point, with the inlet fixed, the block's size and power are the unit
    simulation's and the point-group rows hold."""
    u = _unit()
    feed = _feed(1.5, 1.5 / 0.25)
    m = pyo.ConcreteModel()
    species = sorted(feed)
    m.f = pyo.Var(species, within=pyo.NonNegativeReals)
    m.b = pyo.Block()
    linear.build_unit(
        m.b,
        u,
        {"feed": {s: m.f[s] for s in species}},
        bound=lambda p, s: 10.0 * feed[s] + 1.0,
    )
    assert hasattr(m.b, "q_part"), "the aqueous part should not be disaggregated"
    for s in species:
        m.f[s].fix(feed[s])
    q = pyo.value(m.b.q_expr)
    # the base form is a multiple of the feed's aqueous flow
    assert q > 0
    for k, pt in enumerate(u.points):
        # the integer point k: all of each disaggregated column at k
        for j in m.b.y:
            m.b.y[j].set_value(1 if j == k else 0)
        for k2, i in m.b.x:
            p_, s_ = m.b.split_cols[i]
            m.b.x[k2, i].set_value(feed[s_] if k2 == k else 0.0)
        (g,) = [g for g, pts in enumerate(m.b.q_groups) if k in pts]
        for g2 in m.b.q_part:
            m.b.q_part[g2].set_value(q if g2 == g else 0.0)
        r = u.simulate({"feed": feed}, pt)
        for port, s_ in m.b.out:
            m.b.out[port, s_].set_value(r.outlets[port].get(s_, 0.0))
        want = r.sizes.get("mixer_settlers", 0.0)
        for con in m.b.component_data_objects(pyo.Constraint):
            lb, body, ub = con.lower, pyo.value(con.body), con.upper
            tol = 1e-9 * (1 + abs(body) + abs(pyo.value(con.upper or 0.0)))
            assert lb is None or body >= pyo.value(lb) - tol, con.name
            assert ub is None or body <= pyo.value(ub) + tol, con.name
        got = pyo.value(m.b.size.get("mixer_settlers", 0.0))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), pt["design"]
        assert pyo.value(m.b.util.get("electricity_kW", 0.0)) == pytest.approx(
            r.utilities.get("electricity_kW", 0.0), rel=1e-9, abs=1e-12
        )


@pytest.mark.component
def test_kernel_check_runs_the_bank_at_the_plant_feed():
    """The re-simulation's kernel run gets the plant's concentration, and the
    organic flow follows the metal fed (O/A falls as the feed is diluted)."""
    u = _rerun_unit()
    pt = next(p for p in u.points if p["cut_on"] and p["agent"] == agents.AGENTS[0])
    cases = {}
    for c in (0.8, 0.2):
        u.simulate({"feed": _feed(1.0, 1.0 / c)}, pt)
        v = u.verification
        assert v["feed_RE_mol_L"] == pytest.approx(c, rel=1e-12)
        fed = sum(v["case"]["feed"]["conc_mol_L"].values())
        assert fed == pytest.approx(c, rel=1e-12)  # the feed's fractions as given
        cases[c] = v["case"]
        # the kernel's raffinate split is a fraction for every element
        assert all(0.0 <= x <= 1.0 for x in v["raff"].values())
    oa = {
        c: cs["organic"]["flow_L_h"] / cs["feed"]["flow_L_h"] for c, cs in cases.items()
    }
    assert oa[0.2] == pytest.approx(oa[0.8] * 0.2 / 0.8, rel=1e-3)


@pytest.mark.component
def test_kernel_rerun_runs_an_absent_element_as_a_named_tracer():
    """A bank fed no Tb: the re-run's kernel case carries Tb as a tracer at
    TRACER_FRACTION of the feed's RE, the verification names it, and the report's
    sentence for it says so; the other elements keep the feed's fractions."""
    from rexopt.units import report

    u = _rerun_unit()
    feed = _feed(2.0, 2.0 / 0.8)
    del feed[sp.chloride("Tb", 3)]
    pt = next(p for p in u.points if p["cut_on"])
    out = u.simulate({"feed": feed}, pt)
    v = u.verification
    assert v["tracers"] == ["Tb"]
    conc = v["case"]["feed"]["conc_mol_L"]
    c_re = v["feed_RE_mol_L"]
    assert conc["Tb"] == pytest.approx(sx.TRACER_FRACTION * c_re, rel=1e-12)
    for c in ("Pr", "Nd", "Dy"):
        assert conc[c] == pytest.approx(FRAC[c] / 0.99 * c_re, rel=1e-12)
    # no Tb fed, none leaves
    assert out.outlets["raffinate"].get(sp.chloride("Tb", 3), 0.0) == 0.0
    text = report.tracer_text({"kernel_tracers": ", ".join(v["tracers"])})
    assert "runs Tb (absent from the plant's feed to it) as tracers at 1e-12" in text
