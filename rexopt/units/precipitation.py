"""Oxalic acid precipitation of rare earths from a strip liquor or raffinate.

``2 RECl3 + 3 H2C2O4 + 10 H2O -> RE2(C2O4)3.10H2O + 6 HCl`` (1.5 mol oxalic acid
per mol RE at 1.0x) [S52]; fraction precipitated vs dose from [S35]
(93 / 96.7 / 98.1 % at 1.0 / 1.2 / 1.4x).  The HCl set free stays in the
mother liquor, which the flowsheet can recycle to leaching.
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import (
    LIQUOR_KG_M3,
    Unit,
    UnitResult,
    add,
    cake_and_filtrate,
)
from rexopt.units.data import DataSet


def points(d: DataSet) -> list[dict]:
    return [
        {
            "dose_stoich": x,
            "re_recovery": y,
            "_imp": z,
            "_loss": d("cake_solute_loss"),
            "_moist": d("cake_moisture_t_t"),
            "_wash": d("wash_water_t_t"),
            "_tres": d("residence_h"),
        }
        for x, y, z in zip(
            d("dose_stoich"),
            d("re_recovery"),
            d("impurity_coprecipitation"),
            strict=True,
        )
    ]


class OxalatePrecipitation(Unit):
    inlets = ("liquor",)
    outlets = ("cake", "mother_liquor")
    equipment = ("precipitation_tanks",)

    def simulate(self, inlets, point):
        liq = dict(inlets.get("liquor", {}))
        cake: dict = {}
        reag: dict = {}
        re_in = sum(
            v
            for k, v in liq.items()
            if sp.re_of(k) and k == sp.chloride(sp.re_of(k), 3)
        )
        ox = point["dose_stoich"] * 1.5 * re_in
        add(reag, "H2C2O4(H2O)2(s)", ox)
        add(liq, "H2C2O4(aq)", ox)
        add(liq, "H2O(l)", 2 * ox)
        for k, v in list(liq.items()):
            if sp.phase(k) != "aq" or "Cl" not in sp.elements(k):
                continue
            m = sp.re_of(k) or sp.metal_of(k)
            if m is None:
                continue
            z = int(sp.elements(k)["Cl"])
            n = (point["re_recovery"] if sp.re_of(k) else point["_imp"]) * v
            key, per = sp.oxalate(m, z)
            hyd = sp.elements(key).get("H", 0) / 2  # hydrate water per formula
            add(liq, k, -n)
            add(liq, "H2C2O4(aq)", -n * z / 2)
            add(liq, "H2O(l)", -hyd * n / per)
            add(liq, "HCl(aq)", z * n)
            add(cake, key, n / per)
        ml, wash = cake_and_filtrate(
            liq, cake, point["_loss"], point["_moist"], point["_wash"]
        )
        add(reag, "H2O(l)", wash)
        m_liq = sum(v * sp.molar_mass_kg_kmol(k) for k, v in ml.items())
        vol = m_liq / LIQUOR_KG_M3 * point["_tres"]
        return UnitResult(
            outlets={"cake": cake, "mother_liquor": ml},
            reagents=reag,
            utilities={"electricity_kW": 0.3 * vol},
            sizes={"precipitation_tanks": vol},
        )


def build_precipitation(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
