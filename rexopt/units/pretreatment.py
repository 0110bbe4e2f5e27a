"""Crushing or hydrogen decrepitation (HD) of magnet scrap.

HD turns sintered NdFeB into demagnetised powder and frees the Ni coating,
which is screened off [S47b]; crushing keeps the coating in the powder.
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import Unit, UnitResult, add, solid_mass_kg_h
from rexopt.units.data import DataSet


def points(d: DataSet) -> list[dict]:
    return [
        {
            "pretreatment": r,
            "electricity_kWh_t": d(f"{r}.electricity_kWh_t"),
            "coating_removal": d(f"{r}.coating_removal"),
            "h2_kg_t": d(f"{r}.h2_kg_t"),
        }
        for r in ("crushing", "hd")
    ]


class Pretreatment(Unit):
    inlets = ("scrap",)
    outlets = ("powder", "coating", "offgas")
    equipment = ("crusher", "hd_furnace")

    def simulate(self, inlets, point):
        scrap = inlets.get("scrap", {})
        t_h = solid_mass_kg_h(scrap) / 1000.0
        powder: dict = {}
        coating: dict = {}
        for k, v in scrap.items():
            if k == "Ni(s)":
                add(coating, k, v * point["coating_removal"])
                add(powder, k, v * (1 - point["coating_removal"]))
            else:
                add(powder, k, v)
        h2 = point["h2_kg_t"] * t_h / sp.molar_mass_kg_kmol("H2(g)")
        offgas = {"H2(g)": h2} if h2 else {}
        key = "hd_furnace" if point["pretreatment"] == "hd" else "crusher"
        return UnitResult(
            outlets={"powder": powder, "coating": coating, "offgas": offgas},
            reagents={"H2(g)": h2} if h2 else {},
            utilities={"electricity_kW": point["electricity_kWh_t"] * t_h},
            sizes={key: t_h},
        )


def build_pretreatment(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
