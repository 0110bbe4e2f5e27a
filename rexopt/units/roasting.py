"""Oxidative roasting of NdFeB powder in a rotary kiln.

At 800 C fully oxidised scrap is Fe2O3 + NdFeO3 + NdBO3 [S33]; for the balances
the rare earths are written as RE2O3 and boron as B2O3.  Metallic iron left
unoxidised dissolves in the leach as FeCl2 with H2.  The kiln heat duty is
sensible heat of solids and air + moisture evaporation - the used part of the
oxidation heat, plus wall losses.
"""

from __future__ import annotations

import numpy as np

from rexopt.units import species as sp
from rexopt.units.base import (
    WATER_KG_KMOL,
    Unit,
    UnitResult,
    add,
    solid_mass_kg_h,
)
from rexopt.units.data import DataSet

O2_IN_AIR = 0.21


def points(d: DataSet) -> list[dict]:
    T = d("points.temperature_C")
    t = d("points.residence_h")
    fx = d("points.fe_oxidised")
    heat = d.table("heat")
    return [
        {
            "temperature_C": T[i],
            "residence_h": t[i],
            "fe_oxidised": fx[i],
            "_heat": heat,
        }
        for i in range(len(T))
    ]


class Roasting(Unit):
    inlets = ("feed",)
    outlets = ("calcine", "offgas")
    equipment = ("kiln",)

    def simulate(self, inlets, point):
        feed = inlets.get("feed", {})
        h = point["_heat"]
        calc: dict = {}
        off: dict = {}
        o2 = 0.0
        dH_kJ_h = 0.0  # oxidation heat released (negative)
        water = 0.0
        for k, v in feed.items():
            f, ph = sp.split(k)
            if k == "H2O(l)":
                water += v
                add(off, "H2O(g)", v)
            elif ph == "s" and f in sp.RARE_EARTHS:
                add(calc, f"{f}2O3(s)", 0.5 * v)
                o2 += 0.75 * v
                dH_kJ_h += h["dH_RE_kJ_mol"] * v * 1000
            elif k == "Fe(s)":
                x = point["fe_oxidised"]
                add(calc, "Fe2O3(s)", 0.5 * x * v)
                add(calc, "Fe(s)", (1 - x) * v)
                o2 += 0.75 * x * v
                dH_kJ_h += h["dH_Fe_kJ_mol"] * x * v * 1000
            elif ph == "s" and f in sp.IMPURITY:
                ox, nm, no = sp.IMPURITY[f]["oxide"]
                add(calc, f"{ox}(s)", v / nm)
                o2 += v * no / (2 * nm)
                dH_kJ_h += h["dH_other_kJ_mol"] * v * 1000
            elif k == "B(s)":
                add(calc, "B2O3(s)", 0.5 * v)
                o2 += 0.75 * v
                dH_kJ_h += h["dH_other_kJ_mol"] * v * 1000
            else:
                add(calc, k, v)
        lam = h["excess_air"]
        o2_in = lam * o2
        n2_in = o2_in * (1 - O2_IN_AIR) / O2_IN_AIR
        add(off, "O2(g)", o2_in - o2)
        add(off, "N2(g)", n2_in)
        dT = point["temperature_C"] - 25.0
        m_solid = solid_mass_kg_h(calc)
        m_air = o2_in * sp.molar_mass_kg_kmol("O2(g)") + n2_in * sp.molar_mass_kg_kmol(
            "N2(g)"
        )
        gross_kJ_h = (
            m_solid * h["cp_solid_kJ_kgK"] * dT
            + m_air * h["cp_air_kJ_kgK"] * dT
            + water
            * WATER_KG_KMOL
            * (h["h_evap_kJ_kg"] + 4.18 * 75.0 + 2.0 * max(dT - 75, 0))
        ) * (1 + h["wall_loss"])
        net_kJ_h = gross_kJ_h + h["oxidation_credit"] * dH_kJ_h
        return UnitResult(
            outlets={"calcine": calc, "offgas": off},
            reagents={"O2(g)": o2_in, "N2(g)": n2_in},
            utilities={"heat_kW": net_kJ_h / 3600.0},
            sizes={"kiln": gross_kJ_h / 3600.0 * 3412.14 / 1e6},
        )


def build_roasting(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)


__all__ = ["Roasting", "points", "build_roasting", "np"]
