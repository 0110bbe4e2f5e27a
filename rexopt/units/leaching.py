"""Selective HCl leaching of roasted NdFeB (the industrial "盐酸优溶" route).

``RE2O3 + 6 HCl -> 2 RECl3 + 3 H2O`` while Fe2O3 mostly stays as hematite
residue [S33][S34].  The extents of RE and Fe depend on the acid ratio
n(HCl)/n(RE) and the temperature; the data points are in
``leaching.toml [selective]``.  Operating points between data points are
interpolated linearly (:func:`extent`).

Recycled mother liquor brings HCl (credited against fresh acid) and residual
oxalic acid, which precipitates rare earths as oxalate into the residue
(``2 RE3+ + 3 H2C2O4 -> RE2(C2O4)3``) - the price of recycling an overdosed
mother liquor.
"""

from __future__ import annotations

import numpy as np

from rexopt.units import species as sp
from rexopt.units.base import LIQUOR_KG_M3, Unit, UnitResult, add, solid_mass_kg_h
from rexopt.units.data import DataSet

#: water per mol HCl in 31 wt % hydrochloric acid [mol/mol] = 36.46*0.69/0.31/18.015
HCL31_WATER_MOL_MOL = 4.505
WATER_KMOL_M3 = 55.51


def extent(d: DataSet, what: str, temperature_C: float, ratio: float) -> float:
    """RE or Fe extent interpolated in the data table at one temperature.

    Parameters
    ----------
    what : "RE" or "Fe"
    temperature_C : one of the tabulated temperatures [degC]
    ratio : acid ratio n(HCl)/n(RE) [mol/mol]
    """
    r = d("selective.acid_ratio_mol_mol")
    y = d(f"selective.extent_{what}.T{int(round(temperature_C))}_C")
    if not r[0] - 1e-9 <= ratio <= r[-1] + 1e-9:
        raise ValueError(
            f"acid ratio {ratio} outside the leach data {r[0]}..{r[-1]} mol/mol"
        )
    return float(np.interp(ratio, r, y))


def points(d: DataSet, re_split: dict[str, float], step: float = 0.5) -> list[dict]:
    """Operating points: every tabulated temperature x acid ratios on a grid."""
    r = d("selective.acid_ratio_mol_mol")
    grid = np.round(np.arange(r[0], r[-1] + 1e-9, step), 6)
    other = d.table("selective.extent_other")
    pts = []
    for T, tres in zip(
        d("selective.temperatures_C"), d("selective.residence_h"), strict=True
    ):
        for a in grid:
            pts.append(
                {
                    "temperature_C": T,
                    "acid_ratio_mol_mol": float(a),
                    "extent_RE": extent(d, "RE", T, a),
                    "extent_Fe": extent(d, "Fe", T, a),
                    "residence_h": tres,
                    "_other": other,
                    "_re_split": re_split,
                    "_ls": d("selective.liquid_solid_m3_t"),
                    "_cp": d("selective.cp_pulp_kJ_kgK"),
                    "_hr": d("selective.heat_recovery"),
                    "_agit": d("selective.agitation_kW_m3"),
                }
            )
    return pts


def pass_recycled_liquor(rec, re_split, liquid, solid, acid=None) -> float:
    """Recycled liquor into a unit: its species pass into ``liquid`` except HCl(aq)
    (the caller counts that against the fresh acid), and its oxalic acid
    precipitates the rare earths present (shares ``re_split``) as oxalate into
    ``solid``: 2 RECl3 + 3 H2C2O4 + 10 H2O -> RE2(C2O4)3.10H2O + 6 HCl.

    Returns the HCl released [kmol/h]; with ``acid`` it is also added there as it
    is released.
    """
    released = 0.0
    for k, v in rec.items():
        if k == "HCl(aq)":
            continue
        if k == "H2C2O4(aq)":
            for re, frac in re_split.items():
                n_re = 2.0 / 3.0 * v * frac
                add(liquid, sp.chloride(re, 3), -n_re)
                add(solid, sp.oxalate(re, 3)[0], 0.5 * n_re)
                add(liquid, "H2O(l)", -5 * n_re)
                if acid is not None:
                    add(acid, "HCl(aq)", 3 * n_re)
                released += 3 * n_re
            continue
        add(liquid, k, v)
    return released


def dissolve_metal(pulp, off, f: str, v: float) -> float:
    """Metal + z HCl -> MClz + z/2 H2; returns HCl consumed. [kmol/h]"""
    if f in sp.RARE_EARTHS:
        z = 3
    elif f == "Fe":
        z = 2
    else:
        z = sp.IMPURITY[f]["z"]
    add(pulp, sp.chloride(f, z), v)
    add(off, "H2(g)", 0.5 * z * v)
    return z * v


class SelectiveLeach(Unit):
    inlets = ("calcine", "recycle")
    outlets = ("pulp", "offgas")
    equipment = ("leach_tanks",)

    def simulate(self, inlets, point):
        calc = inlets.get("calcine", {})
        rec = inlets.get("recycle", {})
        pulp: dict = {}
        off: dict = {}
        reag: dict = {}
        re_solid = sum(
            v * sp.elements(k).get(sp.re_of(k), 0)
            for k, v in calc.items()
            if sp.phase(k) == "s" and sp.re_of(k)
        )
        supply = point["acid_ratio_mol_mol"] * re_solid
        fresh = supply - rec.get("HCl(aq)", 0.0)
        add(reag, "HCl(aq)", fresh)
        water_dil = point["_ls"] * solid_mass_kg_h(calc) / 1000.0 * WATER_KMOL_M3
        water_acid = HCL31_WATER_MOL_MOL * fresh
        add(reag, "H2O(l)", water_dil + water_acid)
        add(pulp, "H2O(l)", water_dil + water_acid)
        hcl = supply
        ext_o = point["_other"]
        for k, v in calc.items():
            f, ph = sp.split(k)
            if ph != "s":
                add(pulp, k, v)
                continue
            re = sp.re_of(k)
            if k == f"{re}2O3(s)":
                d_ = point["extent_RE"] * v
                add(pulp, sp.chloride(re, 3), 2 * d_)
                add(pulp, k, v - d_)
                add(pulp, "H2O(l)", 3 * d_)
                hcl -= 6 * d_
            elif k == "Fe2O3(s)":
                d_ = point["extent_Fe"] * v
                add(pulp, "FeCl3(aq)", 2 * d_)
                add(pulp, k, v - d_)
                add(pulp, "H2O(l)", 3 * d_)
                hcl -= 6 * d_
            elif k == "B2O3(s)":
                d_ = ext_o["B"] * v
                add(pulp, "H3BO3(aq)", 2 * d_)
                add(pulp, k, v - d_)
                add(pulp, "H2O(l)", -3 * d_)
            elif f in sp.RARE_EARTHS or f in sp.IMPURITY:
                hcl -= dissolve_metal(pulp, off, f, v)
            elif f == "B":
                add(pulp, "H3BO3(aq)", v)
                add(pulp, "H2O(l)", -3 * v)
                add(off, "H2(g)", 1.5 * v)
            else:
                m = sp.metal_of(k)
                ox = sp.IMPURITY[m]["oxide"] if m else None
                if ox and f == ox[0]:
                    z = sp.IMPURITY[m]["z"]
                    d_ = ext_o[m] * v
                    add(pulp, sp.chloride(m, z), ox[1] * d_)
                    add(pulp, k, v - d_)
                    add(pulp, "H2O(l)", ox[2] * d_)
                    hcl -= 2 * ox[2] * d_
                else:
                    add(pulp, k, v)
        # recycled liquor: passes, its oxalic acid precipitates RE as oxalate
        hcl += pass_recycled_liquor(rec, point["_re_split"], pulp, pulp)
        add(pulp, "HCl(aq)", hcl)
        # heat the liquor to temperature (steam), agitation power
        m_liq = sum(
            v * sp.molar_mass_kg_kmol(k) for k, v in pulp.items() if sp.phase(k) != "s"
        )
        q_kJ_h = (
            m_liq * point["_cp"] * (point["temperature_C"] - 25.0) * (1 - point["_hr"])
        )
        vol_m3 = (m_liq / LIQUOR_KG_M3 + solid_mass_kg_h(pulp) / 4000.0) * point[
            "residence_h"
        ]
        return UnitResult(
            outlets={"pulp": pulp, "offgas": off},
            reagents=reag,
            utilities={
                "steam_t_h": q_kJ_h / 2100.0 / 1000.0,
                "electricity_kW": point["_agit"] * vol_m3,
            },
            sizes={"leach_tanks": vol_m3},
        )


def build_leaching(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
