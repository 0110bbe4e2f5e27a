"""Mg loop: pyrohydrolysis of MgCl2 brine to MgO and HCl (acid and base recovery).

``MgCl2 + H2O -> MgO + 2 HCl``: the MgO returns to Mg(HCO3)2 making and pH
adjustment, the HCl to leaching and SX (GRIREM Mg route [S73]; energy
placeholder).  Recovered species are returned as negative reagent draws, so
the plant buys only the net.  Other agents pass through.
"""

from __future__ import annotations

from rexopt.units import agents
from rexopt.units.base import Unit, UnitResult, add
from rexopt.units.data import DataSet


def points(ag: DataSet) -> list[dict]:
    pts = []
    for a in agents.AGENTS:
        fr = ag("MgHCO3.regeneration_fraction") if a == "MgHCO3" else [0.0]
        for f in fr:
            pts.append(
                {
                    "agent": a,
                    "regeneration_fraction": f,
                    "_kWh_t": ag("MgHCO3.pyrohydrolysis_kWh_t"),
                }
            )
    return pts


class MgRegeneration(Unit):
    inlets = ("brine",)
    outlets = ("brine",)
    equipment = ("pyrohydrolysis",)

    def simulate(self, inlets, point):
        b = dict(inlets.get("brine", {}))
        x = point["regeneration_fraction"] * b.get("MgCl2(aq)", 0.0)
        reag: dict = {}
        if x:
            add(b, "MgCl2(aq)", -x)
            add(b, "H2O(l)", -x)
            add(reag, "MgO(s)", -x)
            add(reag, "HCl(aq)", -2 * x)
        t_h = x * 95.21 / 1000.0
        return UnitResult(
            outlets={"brine": b},
            reagents=reag,
            utilities={"fuel_kW": point["_kWh_t"] * t_h},
            sizes={"pyrohydrolysis": t_h},
        )
