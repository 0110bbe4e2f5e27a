"""Full dissolution in H2SO4 with RE-Na double-sulfate precipitation (USBM route [S45]).

All metals dissolve as sulfates (``M + z/2 H2SO4 -> M(SO4)z/2 + z/2 H2``);
Na2SO4 precipitates the rare earths as NaRE(SO4)2, which is converted with NaOH
(``NaRE(SO4)2 + 3 NaOH -> RE(OH)3 + 2 Na2SO4``) and redissolved in HCl to the
chloride liquor that goes to impurity removal and SX.  Iron and the rest stay in
the sulfate liquor, which must be neutralised and crystallised.
"""

from __future__ import annotations

from rexopt.units import species as sp
from rexopt.units.base import LIQUOR_KG_M3, Unit, UnitResult, add, solid_mass_kg_h
from rexopt.units.data import DataSet
from rexopt.units.leaching import (
    HCL31_WATER_MOL_MOL,
    WATER_KMOL_M3,
    pass_recycled_liquor,
)


def points(d: DataSet, re_split: dict[str, float], feed_RE_mol_L: float) -> list[dict]:
    base = {
        "_excess": d("full.h2so4_excess"),
        "_extent": d("full.extent"),
        "_ls": d("full.liquid_solid_m3_t"),
        "_tres": d("full.residence_h"),
        "_re_split": re_split,
        "_water_per_re": WATER_KMOL_M3 / feed_RE_mol_L,
    }
    return [
        {"na2so4_ratio_mol_mol": r, "double_salt_recovery": y, **base}
        for r, y in zip(
            d("full.na2so4_ratio_mol_mol"), d("full.double_salt_recovery"), strict=True
        )
    ]


class FullDissolution(Unit):
    inlets = ("feed", "recycle")
    outlets = ("re_liquor", "sulfate_liquor", "residue", "offgas")
    equipment = ("leach_tanks",)

    def simulate(self, inlets, point):
        feed = inlets.get("feed", {})
        rec = inlets.get("recycle", {})
        liq: dict = {}
        res: dict = {}
        off: dict = {}
        reag: dict = {}
        re_liq: dict = {}
        e = point["_extent"]
        h2so4 = 0.0
        re_diss: dict[str, float] = {}
        for k, v in feed.items():
            f, ph = sp.split(k)
            if ph != "s":
                add(liq, k, v)
                continue
            re = sp.re_of(k)
            if f in sp.RARE_EARTHS:
                add(re_diss, f, e * v)
                h2so4 += 1.5 * e * v
                add(off, "H2(g)", 1.5 * e * v)
                add(res, k, (1 - e) * v)
            elif re and k == f"{re}2O3(s)":
                add(re_diss, re, 2 * e * v)
                h2so4 += 3 * e * v
                add(liq, "H2O(l)", 3 * e * v)
                add(res, k, (1 - e) * v)
            elif f in sp.IMPURITY:
                z = 2 if f == "Fe" else sp.IMPURITY[f]["z"]
                s_key, per = sp.sulfate(f, z)
                add(liq, s_key, e * v / per)
                h2so4 += e * v * z / 2
                add(off, "H2(g)", e * v * z / 2)
                add(res, k, (1 - e) * v)
            elif f == "B":
                add(liq, "H3BO3(aq)", e * v)
                add(liq, "H2O(l)", -3 * e * v)
                add(off, "H2(g)", 1.5 * e * v)
                add(res, k, (1 - e) * v)
            else:
                add(res, k, v)
        fed = h2so4 * point["_excess"]
        add(reag, "H2SO4(aq)", fed)
        add(liq, "H2SO4(aq)", fed - h2so4)
        water = point["_ls"] * solid_mass_kg_h(feed) / 1000.0 * WATER_KMOL_M3
        add(reag, "H2O(l)", water)
        add(liq, "H2O(l)", water)
        # double-sulfate precipitation; unprecipitated RE stays as sulfate
        re_tot = sum(re_diss.values())
        na2so4 = point["na2so4_ratio_mol_mol"] * re_tot
        add(reag, "Na2SO4(aq)", na2so4)
        y = point["double_salt_recovery"]
        prec = 0.0
        for re, n in re_diss.items():
            add(liq, f"{re}2(SO4)3(aq)", 0.5 * (1 - y) * n)
            prec += y * n
            # NaRE(SO4)2 + 3 NaOH -> RE(OH)3 + 2 Na2SO4
            # RE(OH)3 + 3 HCl -> RECl3 + 3 H2O
            add(re_liq, sp.chloride(re, 3), y * n)
        add(liq, "Na2SO4(aq)", na2so4 - 0.5 * prec + 2 * prec)
        add(reag, "NaOH(aq)", 3 * prec)
        add(reag, "H2O(l)", 4.72 * 3 * prec)
        add(liq, "H2O(l)", 4.72 * 3 * prec)
        # SO4 of RE2(SO4)3 (1.5 per RE) ends as Na2SO4 with Na from NaOH and Na2SO4
        # Na in = 2 na2so4 + 3 prec = Na out 2 (na2so4 - 0.5 prec + 2 prec);
        # SO4 in = na2so4 + 1.5 prec = SO4 out.
        hcl = 3 * prec - rec.get("HCl(aq)", 0.0)
        add(reag, "HCl(aq)", hcl)
        w_re = point["_water_per_re"] * prec
        add(reag, "H2O(l)", w_re + HCL31_WATER_MOL_MOL * hcl)
        add(re_liq, "H2O(l)", w_re + HCL31_WATER_MOL_MOL * hcl + 3 * prec)
        pass_recycled_liquor(rec, point["_re_split"], re_liq, res, acid=re_liq)
        m_liq = sum(v * sp.molar_mass_kg_kmol(k) for k, v in liq.items())
        vol = m_liq / LIQUOR_KG_M3 * point["_tres"]
        return UnitResult(
            outlets={
                "re_liquor": re_liq,
                "sulfate_liquor": liq,
                "residue": res,
                "offgas": off,
            },
            reagents=reag,
            utilities={"electricity_kW": 0.5 * vol},
            sizes={"leach_tanks": vol},
        )


def build_dissolution(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
