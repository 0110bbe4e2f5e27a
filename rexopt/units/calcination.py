"""Calcination of oxalate cake to oxides in a fired calciner.

``RE2(C2O4)3.10H2O + x O2 -> RE oxide + 6 CO2 + 10 H2O`` at 850 C [S52]; Pr goes
to Pr6O11 and Tb to Tb4O7, which take more oxygen.  Heat: sensible heat of the
cake + dehydration + decomposition - the used part of the CO combustion
credit, divided by the fired-heater efficiency 0.8 [S52] (REEPS approach).
Entrained salts stay in the oxide (they lower its purity); ammonium chloride
sublimes (NH3 + HCl to the off-gas).
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import (
    WATER_KG_KMOL,
    Unit,
    UnitResult,
    add,
    solid_mass_kg_h,
)
from rexopt.units.data import DataSet

EXCESS_O2 = 1.5


def points(d: DataSet) -> list[dict]:
    return [
        {"temperature_C": d("calcination.temperature_C"), "_c": d.table("calcination")}
    ]


class Calcination(Unit):
    inlets = ("cake",)
    outlets = ("product", "offgas")
    equipment = ("calciner",)

    def simulate(self, inlets, point):
        cake = inlets.get("cake", {})
        c = point["_c"]
        prod: dict = {}
        off: dict = {}
        o2 = 0.0
        q = solid_mass_kg_h(cake) * c["cp_solid_kJ_kgK"] * (point["temperature_C"] - 25)
        for k, v in cake.items():
            f, ph = sp.split(k)
            els = sp.elements(k)
            m = sp.re_of(k) or sp.metal_of(k)
            if ph == "s" and "C" in els and m:
                n_m = els[m] * v
                if sp.re_of(k):
                    ox, n_re, n_o = sp.RE_OXIDE[m]
                else:
                    ox, n_re, n_o = sp.IMPURITY[m]["oxide"]
                add(prod, f"{ox}(s)", n_m / n_re)
                o2 += n_m * n_o / (2 * n_re)
                add(off, "CO2(g)", els["C"] * v)
                add(off, "H2O(g)", els.get("H", 0) / 2 * v)
                # oxalate O -> CO2 exactly (C2O4 -> 2 CO2); water O in H2O
                q += els.get("H", 0) / 2 * v * 1000 * c["dehydration_kJ_mol_H2O"]
                n_ox = els["C"] / 2 * v  # mol C2O4
                q += (
                    n_ox
                    / 3
                    * 1000
                    * (
                        c["decomposition_kJ_mol"]
                        - c["co_credit_used"] * c["co_credit_kJ_mol"]
                    )
                )
            elif k == "H2O(l)":
                add(off, "H2O(g)", v)
                q += v * WATER_KG_KMOL * 2600.0
            elif k == "HCl(aq)":
                add(off, "HCl(g)", v)
            elif k == "NH4Cl(aq)":
                add(off, "NH3(g)", v)
                add(off, "HCl(g)", v)
            elif k == "H2C2O4(aq)":
                add(off, "CO2(g)", 2 * v)
                add(off, "H2O(g)", v)
                o2 += 0.5 * v
            elif k == "H3BO3(aq)":
                add(prod, "B2O3(s)", 0.5 * v)
                add(off, "H2O(g)", 1.5 * v)
            elif ph == "aq":
                add(prod, sp.with_phase(k, "s"), v)
            else:
                add(prod, k, v)
        o2_in = EXCESS_O2 * o2
        n2 = o2_in * 79 / 21
        add(off, "O2(g)", o2_in - o2)
        add(off, "N2(g)", n2)
        fuel_kW = q / c["efficiency"] / 3600.0
        return UnitResult(
            outlets={"product": prod, "offgas": off},
            reagents={"O2(g)": o2_in, "N2(g)": n2},
            utilities={"fuel_kW": fuel_kW},
            sizes={"calciner": fuel_kW * 3412.14 / 1e6},
        )


def build_calcination(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
