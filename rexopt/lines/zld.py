"""Water and salt of a separation line under zero liquid discharge (ZLD).

There is no second balance here: the salt made by saponification is
:func:`rexopt.units.agents.saponify` and the evaporation-crystallisation of the
brine is :class:`rexopt.units.evaporation.EvaporatorCrystallizer`, the same
functions the NdFeB flowsheet uses (DOMAIN 5.1-5.2).  Both are linear and
homogeneous in their inlet flows, so the water, salt and energy of a line are the
sums of those of its cascades.
"""

from __future__ import annotations

from functools import cache

from rexopt.units import agents as unit_agents
from rexopt.units import data as unit_data
from rexopt.units import species as sp
from rexopt.units.evaporation import EvaporatorCrystallizer, points

WATER_MOL_L = 55.5  # [mol/L] water in dilute solutions (1 kg/L)
#: case agent name -> flowsheet-unit agent name
UNIT_AGENT = {"NH3": "NH3", "NaOH": "NaOH", "Mg(HCO3)2": "MgHCO3"}


@cache
def _tables():
    return unit_data.load("agents"), unit_data.load("evaporation")


def brine_to_zld(
    base_eq_mol_h: float,
    solution_water_L_h: float,
    *,
    agent: str = "NH3",
    evaporator: str = "mvr",
) -> dict[str, float]:
    """Salt, water and energy of the brine made by one cascade (or a whole line).

    Parameters
    ----------
    base_eq_mol_h : float
        Equivalents of base used for saponification (3 per mol RE loaded); every
        equivalent ends up as salt in the raffinate (DOMAIN 5.1). [mol/h]
    solution_water_L_h : float
        Water brought by aqueous feed, scrub and strip solutions. [L/h]
    agent : {"NH3", "NaOH", "Mg(HCO3)2"}
    evaporator : {"mvr", "mee"}

    Returns
    -------
    dict
        ``salt_kg_h`` (dry salt), ``water_evaporated_t_h``, ``water_in_t_h``
        (solution + reagent water), ``electricity_kWh_h``, ``steam_t_h``,
        ``condensate_t_h``, ``salt_moisture_t_h``.
    """
    ag_ds, ev_ds = _tables()
    uagent = UNIT_AGENT[agent]
    brine: dict[str, float] = {}
    off: dict[str, float] = {}
    reag: dict[str, float] = {}
    eq_kmol_h = float(base_eq_mol_h) / 1e3
    if eq_kmol_h > 0:
        unit_agents.saponify(brine, off, eq_kmol_h, uagent, reag, ag_ds.table(uagent))
    water_kmol_h = float(solution_water_L_h) * WATER_MOL_L / 1e3
    unit_agents.add(brine, "H2O(l)", water_kmol_h)
    point = next(p for p in points(ev_ds) if p["evaporator"] == evaporator)
    res = EvaporatorCrystallizer("line_evap", [point]).simulate({"brine": brine}, point)
    salt = res.outlets["salt"]
    dry = {k: v for k, v in salt.items() if k != "H2O(l)"}
    h2o = sp.molar_mass_kg_kmol("H2O(l)")
    return {
        "salt_kg_h": sp.mass_flow_kg_h(dry),
        "water_in_t_h": brine.get("H2O(l)", 0.0) * h2o / 1e3,
        "water_evaporated_t_h": float(res.sizes[f"evaporator_{evaporator}"]),
        "condensate_t_h": res.outlets["condensate"].get("H2O(l)", 0.0) * h2o / 1e3,
        "salt_moisture_t_h": salt.get("H2O(l)", 0.0) * h2o / 1e3,
        "electricity_kWh_h": float(res.utilities["electricity_kW"]),
        "steam_t_h": float(res.utilities["steam_t_h"]),
        "reagent_water_t_h": reag.get("H2O(l)", 0.0) * h2o / 1e3,
        "solution_water_L_h": float(solution_water_L_h),
        "base_eq_mol_h": float(base_eq_mol_h),
    }
