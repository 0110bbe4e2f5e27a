"""Evaporation-crystallisation of brine: MVR or multiple-effect (MEE).

Every dissolved species crystallises into the mixed salt, which keeps
``salt_moisture_t_t`` water; the rest of the water is condensate for reuse.
MVR: 20-50 kWh per t water; 3-effect: 0.37-0.46 t steam per t water [S29].
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import WATER_KG_KMOL, Unit, UnitResult, add
from rexopt.units.data import DataSet


def points(d: DataSet) -> list[dict]:
    return [
        {
            "evaporator": t,
            "_kWh_t": d(f"{t}.electricity_kWh_t"),
            "_steam_t_t": d(f"{t}.steam_t_t"),
            "_moist": d("common.salt_moisture_t_t"),
        }
        for t in ("mvr", "mee")
    ]


class EvaporatorCrystallizer(Unit):
    inlets = ("brine",)
    outlets = ("salt", "condensate")
    equipment = ("evaporator_mvr", "evaporator_mee")

    def simulate(self, inlets, point):
        b = inlets.get("brine", {})
        salt: dict = {}
        cond: dict = {}
        for k, v in b.items():
            if k == "H2O(l)":
                continue
            if k == "HCl(aq)":  # volatile: leaves with the condensate
                add(cond, k, v)
            elif sp.phase(k) == "aq":
                add(salt, sp.with_phase(k, "s"), v)
            else:
                add(salt, k, v)
        m_salt = sp.mass_flow_kg_h(salt)
        w_salt = point["_moist"] * m_salt / WATER_KG_KMOL
        water = b.get("H2O(l)", 0.0)
        add(salt, "H2O(l)", w_salt)
        add(cond, "H2O(l)", water - w_salt)
        evap_t_h = (water - w_salt) * WATER_KG_KMOL / 1000.0
        return UnitResult(
            outlets={"salt": salt, "condensate": cond},
            utilities={
                "electricity_kW": point["_kWh_t"] * evap_t_h,
                "steam_t_h": point["_steam_t_t"] * evap_t_h,
            },
            sizes={f"evaporator_{point['evaporator']}": evap_t_h},
        )
