"""Saponification / neutralisation agents: NaOH, NH3, Mg(HCO3)2 (with MgO).

Acid neutralisation with each agent family (DOMAIN 1.4, 5.3)::

    HCl + NaOH -> NaCl + H2O          HCl + NH3 -> NH4Cl
    2 HCl + MgO -> MgCl2 + H2O        2 HCl + Mg(HCO3)2 -> MgCl2 + 2 CO2 + 2 H2O

The same cation forms the sulfate and oxalate salts when H2SO4 or H2C2O4 are
neutralised.
"""

from __future__ import annotations

from rexopt.units.base import Stream, add

AGENTS = ("NaOH", "NH3", "MgHCO3")

#: agent -> anion -> (salt species, salt formula units per acid-H neutralised)
_SALTS = {
    "NaOH": {
        "Cl": ("NaCl(aq)", 1.0),
        "SO4": ("Na2SO4(aq)", 0.5),
        "C2O4": ("Na2C2O4(aq)", 0.5),
    },
    "NH3": {
        "Cl": ("NH4Cl(aq)", 1.0),
        "SO4": ("(NH4)2SO4(aq)", 0.5),
        "C2O4": ("(NH4)2C2O4(aq)", 0.5),
    },
    "MgHCO3": {
        "Cl": ("MgCl2(aq)", 0.5),
        "SO4": ("MgSO4(aq)", 0.5),
        "C2O4": ("MgC2O4(aq)", 0.5),
    },
}

#: acid species -> (anion, acidic H per molecule)
ACIDS = {"HCl(aq)": ("Cl", 1), "H2SO4(aq)": ("SO4", 2), "H2C2O4(aq)": ("C2O4", 2)}


def salt_species(agent: str, anion: str = "Cl") -> str:
    return _SALTS[agent][anion][0]


def neutralize(
    stream: Stream, acid: str, mol_acid: float, agent: str, reagents: Stream, ag
) -> None:
    """Neutralise ``mol_acid`` kmol/h of ``acid`` in ``stream`` with the agent's base.

    The base (``ag.base_species``: NaOH, NH3 or MgO) and its solution water are
    added to ``reagents``; salt and reaction water go to ``stream``.
    ``ag`` is the agent's DataSet table (values of agents.toml[agent]).
    """
    anion, nh = ACIDS[acid]
    eq = nh * mol_acid
    add(stream, acid, -mol_acid)
    salt, per_h = _SALTS[agent][anion]
    add(stream, salt, per_h * eq)
    base = ag["base_species"]
    n_base = eq / ag["base_eq_per_mol"]
    add(reagents, base, n_base)
    add(reagents, "H2O(l)", n_base * ag["base_water_mol_mol"])
    add(stream, "H2O(l)", n_base * ag["base_water_mol_mol"])
    # reaction water: H from acid + OH of base; NH3 gives none, MgO one per Mg
    if base == "NaOH(aq)":
        add(stream, "H2O(l)", eq)
    elif base == "MgO(s)":
        add(stream, "H2O(l)", 0.5 * eq)
    elif base != "NH3(aq)":
        raise ValueError(f"unknown base {base}")


def saponify(
    stream: Stream, offgas: Stream, eq: float, agent: str, reagents: Stream, ag
) -> None:
    """Salt, water and CO2 from loading ``eq`` equivalents through saponified organic.

    Net over a cut (DOMAIN 2.1/2.4): base + HCl (scrub/strip) -> salt + water;
    the chloride comes with the rare earths moved between the phases, so the
    caller credits ``eq`` kmol/h of Cl to the salt by taking it from the acid.
    Mg(HCO3)2 is made on site from MgO + 2 CO2 + H2O; a fraction
    ``co2_recovery`` of the CO2 it releases is reused for that.
    """
    sap = ag["sap_species"]
    n = eq / ag["sap_eq_per_mol"]
    water = n * ag["sap_water_mol_mol"]
    add(reagents, "H2O(l)", water)
    add(stream, "H2O(l)", water)
    if sap == "NaOH(aq)":
        add(reagents, "NaOH(aq)", n)
        add(stream, "NaCl(aq)", eq)
        add(stream, "H2O(l)", eq)
    elif sap == "NH3(aq)":
        add(reagents, "NH3(aq)", n)
        add(stream, "NH4Cl(aq)", eq)
    elif sap == "Mg(HCO3)2(aq)":
        rec = ag["co2_recovery"]
        # MgO + 2 CO2 + H2O -> Mg(HCO3)2 ; Mg(HCO3)2 + 2 HCl -> MgCl2 + 2 CO2 + 2 H2O
        add(reagents, "MgO(s)", n)
        add(reagents, "CO2(g)", 2 * n * (1 - rec))
        add(reagents, "H2O(l)", n)
        add(stream, "MgCl2(aq)", n)
        add(stream, "H2O(l)", 2 * n)
        add(offgas, "CO2(g)", 2 * n * (1 - rec))
    else:
        raise ValueError(f"unknown saponification species {sap}")
