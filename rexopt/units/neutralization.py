"""Neutralisation of acidic purge liquors before evaporation (brine preparation).

Free HCl, H2SO4 and oxalic acid are neutralised with the agent's base; all
dissolved metals (RE, Fe, Co, Ni, Cu, Al, Ga as chloride or sulfate) are
hydrolysed and precipitate as hydroxides (pH 8-9), so the brine holds only the
agent's salts and boric acid.
"""

from __future__ import annotations

from rexopt.units import agents
from rexopt.units import species as sp
from rexopt.units.base import WATER_KG_KMOL, Unit, UnitResult, add, solid_mass_kg_h
from rexopt.units.data import DataSet


def points(ag: DataSet, pur: DataSet) -> list[dict]:
    return [
        {"agent": a, "_ag": ag.table(a), "_moist": pur("sludge_moisture_t_t")}
        for a in agents.AGENTS
    ]


class Neutralization(Unit):
    inlets = ("acidic",)
    outlets = ("brine", "sludge")

    def simulate(self, inlets, point):
        liq = dict(inlets.get("acidic", {}))
        sludge: dict = {}
        reag: dict = {}
        for k, v in list(liq.items()):
            if sp.phase(k) != "aq":
                if sp.phase(k) == "s":
                    liq.pop(k)
                    add(sludge, k, v)
                continue
            m = sp.re_of(k) or sp.metal_of(k)
            if m is None:
                continue
            els = sp.elements(k)
            n_m = els[m] * v
            add(liq, k, -v)
            if "Cl" in els:
                z = int(els["Cl"] / els[m])
                add(liq, "HCl(aq)", els["Cl"] * v)
            else:
                z = int(2 * els["S"] / els[m])
                add(liq, "H2SO4(aq)", els["S"] * v)
            add(liq, "H2O(l)", -z * n_m)
            add(sludge, sp.hydroxide(m, z), n_m)
        for acid in agents.ACIDS:
            n = liq.get(acid, 0.0)
            if n:
                agents.neutralize(liq, acid, n, point["agent"], reag, point["_ag"])
        cake_w = point["_moist"] * solid_mass_kg_h(sludge) / WATER_KG_KMOL
        add(sludge, "H2O(l)", cake_w)
        add(liq, "H2O(l)", -cake_w)
        return UnitResult(outlets={"brine": liq, "sludge": sludge}, reagents=reag)


def build_neutralization(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
