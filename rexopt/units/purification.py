"""Impurity removal by pH adjustment of the leach liquor.

Fe2+ is oxidised with H2O2 (``2 FeCl2 + H2O2 + 2 HCl -> 2 FeCl3 + 2 H2O``), then
raising the pH hydrolyses Fe(III), Al, Ga and some Cu (``MClz + z H2O ->
M(OH)z + z HCl``) - and co-precipitates a little RE.  The acid set free and the
free acid of the liquor are neutralised by the base of the chosen agent
(:func:`rexopt.units.agents.neutralize`).  Removal fractions vs pH are data.
"""

from __future__ import annotations

from rexopt.units import agents
from rexopt.units import species as sp
from rexopt.units.base import (
    LIQUOR_KG_M3,
    Unit,
    UnitResult,
    add,
    cake_and_filtrate,
)
from rexopt.units.data import DataSet


def points(d: DataSet, ag: DataSet) -> list[dict]:
    pts = []
    rem = d.table("removal")
    for a in agents.AGENTS:
        for i, pH in enumerate(d("pH")):
            pts.append(
                {
                    "agent": a,
                    "pH": pH,
                    "_removal": {m: v[i] for m, v in rem.items()},
                    "_ag": ag.table(a),
                    "_h2o2": d("h2o2_excess"),
                    "_loss": d("sludge_solute_loss"),
                    "_moist": d("sludge_moisture_t_t"),
                    "_tres": d("residence_h"),
                }
            )
    return pts


def hydrolyse(stream: dict, sludge: dict, key: str, n: float) -> float:
    """Precipitate n kmol/h of a metal chloride as hydroxide; returns H+ set free."""
    m = sp.re_of(key) or sp.metal_of(key)
    z = int(sp.elements(key)["Cl"])
    add(stream, key, -n)
    add(stream, "H2O(l)", -z * n)
    add(sludge, sp.hydroxide(m, z), n)
    return z * n


class Purification(Unit):
    inlets = ("liquor",)
    outlets = ("purified", "sludge", "offgas")
    equipment = ("precipitation_tanks",)

    def simulate(self, inlets, point):
        liq = dict(inlets.get("liquor", {}))
        sludge: dict = {}
        off: dict = {}
        reag: dict = {}
        rem = point["_removal"]
        # oxidise Fe2+
        fe2 = liq.pop("FeCl2(aq)", 0.0)
        if fe2:
            h2o2 = 0.5 * fe2 * point["_h2o2"]
            add(reag, "H2O2(aq)", h2o2)
            add(reag, "H2O(l)", h2o2 * 1.887)  # 50 wt % solution
            excess = h2o2 - 0.5 * fe2  # decomposes: H2O2 -> H2O + 1/2 O2
            add(liq, "H2O(l)", h2o2 * 1.887 + fe2 + excess)
            add(off, "O2(g)", 0.5 * excess)
            add(liq, "FeCl3(aq)", fe2)
            add(liq, "HCl(aq)", -fe2)
        h_free = 0.0
        for k, v in list(liq.items()):
            if sp.phase(k) != "aq" or "Cl" not in sp.elements(k):
                continue
            m = sp.re_of(k) or sp.metal_of(k)
            if m is None:
                continue
            frac = rem["RE"] if sp.re_of(k) else rem.get(m, 0.0)
            h_free += hydrolyse(liq, sludge, k, frac * v)
        acid = liq.get("HCl(aq)", 0.0) + h_free
        add(liq, "HCl(aq)", h_free)
        agents.neutralize(liq, "HCl(aq)", acid, point["agent"], reag, point["_ag"])
        # hydroxide cake carries liquor
        pur, _ = cake_and_filtrate(liq, sludge, point["_loss"], point["_moist"])
        m_liq = sum(v * sp.molar_mass_kg_kmol(k) for k, v in pur.items())
        vol = m_liq / LIQUOR_KG_M3 * point["_tres"]
        return UnitResult(
            outlets={"purified": pur, "sludge": sludge, "offgas": off},
            reagents=reag,
            utilities={"electricity_kW": 0.3 * vol},
            sizes={"precipitation_tanks": vol},
        )


def build_purification(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
