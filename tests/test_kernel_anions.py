"""Feed anions as analysed: total sulfate / chloride / other anions, the charge
balance residual reported, closed on a named quantity (issue 17)."""

import tomllib

import numpy as np
import pytest

from rexopt.cascade import Cascade
from rexopt.case import CaseError

from .conftest import CASES

BASE = tomllib.loads((CASES / "lree_d2ehpa_empirical.toml").read_text())
FEED = BASE["feed"]["conc_mol_L"]  # La .02 Ce .04 Pr .006 Nd .016 Sm .004 Gd .002
CATIONS = 3.0 * sum(FEED.values())  # metal charge, eq/L (all RE(III))


def case(medium="sulfate", **feed):
    c = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    c["chemistry"] = dict(BASE["chemistry"], medium=medium)
    c["feed"] = dict(BASE["feed"], **feed)
    return c


def test_balanced_stated_sulfate_is_the_derived_feed():
    acid = BASE["feed"]["acidity_mol_L"]
    r0 = Cascade(case()).simulate(branch_search=False)
    r1 = Cascade(case(sulfate_mol_L=(CATIONS + acid) / 2.0)).simulate(
        branch_search=False
    )
    assert abs(r1.convergence["feed_electroneutrality"]["residual_eq_L"]) < 1e-15
    assert r1.convergence["feed_electroneutrality"]["adjusted"] == {}
    assert not any("charges do not balance" in w for w in r1.warnings)
    assert np.allclose(r1.x, r0.x, rtol=1e-10, atol=0.0)
    assert r0.convergence["feed_electroneutrality"]["closed_on"] is None


def test_unbalanced_analysis_closed_on_acidity():
    # a sulfate liquor whose analysed sulfate exceeds the metals + stated acid:
    # closing on acidity gives total acidity = 2 S - cations
    so4 = 0.2
    r = Cascade(case(sulfate_mol_L=so4, acidity_mol_L=0.01)).simulate(
        branch_search=False
    )
    fe = r.convergence["feed_electroneutrality"]
    assert fe["residual_eq_L"] == pytest.approx(CATIONS + 0.01 - 2 * so4, rel=1e-12)
    assert fe["closed_on"] == "acidity"
    assert fe["adjusted"]["acidity_mol_L"][1] == pytest.approx(2 * so4 - CATIONS)
    assert any("charges do not balance" in w for w in r.warnings)
    # the same feed stated balanced by hand gives the same steady state
    ref = Cascade(case(acidity_mol_L=2 * so4 - CATIONS)).simulate(branch_search=False)
    assert np.allclose(r.x, ref.x, rtol=1e-9, atol=0.0)
    assert r.balance.loc["H+ (protons)", "relative_error"] <= 1e-10


def test_chloride_stated_changes_the_bisulfate_buffer():
    # closing on chloride keeps the stated acidity; only part of the anions is
    # sulfate, so less acid is held as HSO4-, the free [H+] is higher and the
    # extraction lower than with every anion taken as sulfate (the old rule)
    acid = 0.05
    derived = Cascade(case(acidity_mol_L=acid)).simulate(branch_search=False)
    mixed = Cascade(
        case(acidity_mol_L=acid, sulfate_mol_L=0.02, close_charge_on="chloride")
    ).simulate(branch_search=False)
    fe = mixed.convergence["feed_electroneutrality"]
    assert fe["adjusted"]["chloride_mol_L"][1] == pytest.approx(
        CATIONS + acid - 0.04, rel=1e-12
    )
    jf = BASE["sections"]["extraction"]["stages"] - 1  # the feed stage
    assert mixed.profiles["pH"].iloc[jf] < derived.profiles["pH"].iloc[jf] - 0.01
    raff_m, raff_d = mixed.x[0], derived.x[0]
    assert np.max(np.abs(raff_m / raff_d - 1.0)) > 0.01


def test_impossible_feed_is_a_clear_error():
    # closing on sulfate would need negative sulfate: chloride alone already
    # exceeds the cations + acid
    with pytest.raises(CaseError, match=r"feed\.close_charge_on.*impossible.*sulfate"):
        Cascade(
            case(chloride_mol_L=1.0, sulfate_mol_L=0.01, close_charge_on="sulfate")
        ).network()


def test_anion_fields_are_validated():
    with pytest.raises(CaseError, match="sulfate_mol_L"):
        Cascade(case(sulfate_mol_L=-0.1))
    with pytest.raises(CaseError, match="close_charge_on"):
        Cascade(case(sulfate_mol_L=0.1, close_charge_on="sodium"))
