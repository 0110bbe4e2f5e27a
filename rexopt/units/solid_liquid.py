"""Solid/liquid separation of the leach pulp with displacement washing of the cake.

The hematite residue filters well [S37].  A fraction of every dissolved species
(``solute_loss`` vs wash ratio, data points) stays with the washed cake; the
cake carries ``cake_moisture_t_t`` water per tonne of dry solids; wash water
joins the filtrate.
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import WATER_KG_KMOL, Unit, UnitResult, add, solid_mass_kg_h
from rexopt.units.data import DataSet


def points(d: DataSet) -> list[dict]:
    return [
        {
            "wash_ratio_t_t": w,
            "solute_loss": s,
            "_moist": d("cake_moisture_t_t"),
            "_flux": d("filter_flux_t_m2_h"),
        }
        for w, s in zip(d("wash_ratio_t_t"), d("solute_loss"), strict=True)
    ]


class SolidLiquid(Unit):
    inlets = ("pulp",)
    outlets = ("residue", "filtrate")
    equipment = ("filters",)

    def simulate(self, inlets, point):
        pulp = inlets.get("pulp", {})
        m_s = solid_mass_kg_h(pulp)
        res: dict = {}
        fil: dict = {}
        for k, v in pulp.items():
            if sp.phase(k) == "s":
                add(res, k, v)
            elif k == "H2O(l)":
                add(fil, k, v)
            else:
                add(res, k, point["solute_loss"] * v)
                add(fil, k, (1 - point["solute_loss"]) * v)
        cake_w = point["_moist"] * m_s / WATER_KG_KMOL
        wash = point["wash_ratio_t_t"] * m_s / WATER_KG_KMOL
        add(res, "H2O(l)", cake_w)
        add(fil, "H2O(l)", wash - cake_w)
        return UnitResult(
            outlets={"residue": res, "filtrate": fil},
            reagents={"H2O(l)": wash} if wash else {},
            sizes={"filters": m_s / 1000.0 / point["_flux"]},
        )


def build_solid_liquid(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
