"""Report of an optimised NdFeB plant: figures, stream table, mass-flow diagram.

All figures are taken from the rigorous re-simulation of the chosen plant
(MILP values are shown beside the main ones as a consistency check).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from rexopt.units import agents, costing
from rexopt.units import species as sp
from rexopt.units.base import WATER_KG_KMOL, merge
from rexopt.units.data import unverified

STEAM_MWh_t = 2100 / 3600  # latent heat of LP steam [MWh/t]
KW_PER_MBTU_H = 293.07  # 1 MBTU/h = 1e6 BTU/h = 293.07 kW
SALT_SPECIES = sorted(
    {v[0] for a in agents._SALTS.values() for v in a.values()} | {"Na2SO4(aq)"}
)

LINE_NAMES = {
    ("pr", True): "Pr6O11",
    ("pr", False): "PrNd oxide",
    ("nd", True): "Nd2O3",
    ("tb", True): "Tb4O7",
    ("tb", False): "DyTb oxide",
    ("dy", True): "Dy2O3",
}


def _num(x: float) -> str:
    """A figure for a text table: in full from 10,000 up, else 4 significant."""
    if x != x:
        return "-"
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:,.4g}"


def _t_yr(kmol_h: float, key: str, hours: float) -> float:
    return kmol_h * sp.molar_mass_kg_kmol(key) / 1000 * hours


def _mass_t_yr(stream: dict, hours: float) -> float:
    return sp.mass_flow_kg_h(stream) / 1000 * hours


def summarize(m, plant, choice, rs):
    """Figures of the re-simulated plant -> (summary dict, tables)."""
    hrs = plant.hours_yr
    c = plant.data["costs"]
    S = rs.streams
    feed = {s: v * choice.scrap_t_h for s, v in plant.feed_kmol_t.items()}
    feed_el = sp.element_flows(feed)
    cut_on = {
        "pr": choice.routes["prnd_cut"] == "on",
        "nd": True,
        "tb": choice.routes["dytb_cut"] == "on",
        "dy": True,
    }
    # products
    prows = []
    reo_t_yr = 0.0
    re_out = defaultdict(float)
    revenue = 0.0
    pr_price = c.table("products_USD_kg")
    for line in ("pr", "nd", "tb", "dy"):
        prod = S[(f"calc_{line}", "product")]
        tot = _mass_t_yr(prod, hrs)
        if tot <= 1e-9:
            continue
        name = LINE_NAMES[(line, cut_on[line])]
        ox_t = {
            r: _t_yr(
                prod.get(f"{sp.RE_OXIDE[r][0]}(s)", 0.0), f"{sp.RE_OXIDE[r][0]}(s)", hrs
            )
            for r in sp.RARE_EARTHS
        }
        main = {"pr": ["Pr"], "nd": ["Nd"], "tb": ["Tb"], "dy": ["Dy"]}[line]
        if not cut_on[line]:
            main = {"pr": ["Pr", "Nd"], "tb": ["Tb", "Dy"]}[line]
        purity = sum(ox_t[r] for r in main) / tot
        el = sp.element_flows(prod)
        for r in sp.RARE_EARTHS:
            re_out[r] += el.get(r, 0.0)
        reo = sum(ox_t.values())
        reo_t_yr += reo
        val = sum(ox_t[r] * 1000 * pr_price[sp.RE_OXIDE[r][0]] for r in main)
        if not cut_on[line]:
            val *= pr_price["mixed_discount"]
        revenue += val
        prows.append(
            {
                "product": name,
                "line": line,
                "t_yr": tot,
                "REO_t_yr": reo,
                "purity_pct": 100 * purity,
                "named_elements": "+".join(main),
                # the named element(s) recovered in this product [% of their feed]
                "named_recovery_pct": 100
                * sum(el.get(r, 0.0) for r in main)
                / max(sum(feed_el.get(r, 0.0) for r in main), 1e-30),
                # where every RE of the feed goes (impurities included); the
                # column sums over products are the recovery by element
                **{
                    f"{r}_to_product_pct_of_feed": 100
                    * el.get(r, 0.0)
                    / max(feed_el.get(r, 0.0), 1e-30)
                    for r in sp.RARE_EARTHS
                },
                "revenue_USD_yr": val,
            }
        )
    products = pd.DataFrame(prows)
    recov = {r: re_out[r] / feed_el[r] for r in sp.RARE_EARTHS}
    re_yield = sum(re_out.values()) / sum(feed_el[r] for r in sp.RARE_EARTHS)
    # reagents (net of recovered MgO / HCl)
    reag = merge(*[r.reagents for r in rs.results.values()])
    prices = costing.reagent_price_USD_t(c)
    rrows = []
    reagent_usd = 0.0
    for s_, v in sorted(reag.items()):
        if s_ in ("O2(g)", "N2(g)", "H2O(l)"):
            continue
        t = _t_yr(v, s_, hrs)
        usd = max(t, 0.0) * prices.get(s_, 0.0)
        reagent_usd += usd
        rrows.append(
            {
                "reagent": s_,
                "t_yr": t,
                "t_per_t_REO": t / max(reo_t_yr, 1e-9),
                "USD_yr": usd,
                "note": ""
                if t >= 0
                else "net made in the plant (more recovered than used): not sold, "
                "no credit",
            }
        )
    reagents = pd.DataFrame(rrows)
    # water
    bound = sum(
        costing.REAGENT_WATER_MOL_MOL.get(s_, 0.0) * max(v, 0.0)
        for s_, v in reag.items()
    )
    demand = reag.get("H2O(l)", 0.0)
    cond = S[("evap", "condensate")].get("H2O(l)", 0.0)
    need = max(demand - bound, 0.0)
    reuse = min(need, cond)
    fresh = need - reuse
    tower_cap = (
        plant.data["evaporation"]("common.cooling_tower_evap_t_t_scrap")
        * choice.scrap_t_h
        * 1000
        / WATER_KG_KMOL
    )
    tower = min(cond - reuse, tower_cap)
    cond_dis = cond - reuse - tower
    dis = S[("brine_split", "discharge")]
    discharge_t_yr = _mass_t_yr(dis, hrs) + cond_dis * WATER_KG_KMOL / 1000 * hrs
    w = lambda kmol_h: kmol_h * WATER_KG_KMOL / 1000 * hrs  # noqa: E731
    vap = sum(
        S[k].get("H2O(g)", 0.0) for k, cat in plant.sinks.items() if cat == "offgas"
    )
    moist = {
        cat: sum(S[k].get("H2O(l)", 0.0) for k, c2 in plant.sinks.items() if c2 == cat)
        for cat in ("residue", "sludge", "salt", "coating")
    }
    # all water drawn by units (reagent solutions, fresh, reused condensate) + moisture
    h2o_in = feed.get("H2O(l)", 0.0) + demand
    h2o_out = vap + sum(moist.values()) + cond + dis.get("H2O(l)", 0.0)
    gen_units = 0.0
    for n, r in rs.results.items():
        ins = merge(*rs.inlets[n].values(), r.reagents)
        outs = merge(*r.outlets.values())
        gen_units += (
            outs.get("H2O(l)", 0)
            + outs.get("H2O(g)", 0)
            - ins.get("H2O(l)", 0)
            - ins.get("H2O(g)", 0)
        )
    water = {
        "scrap_moisture_t_yr": w(feed.get("H2O(l)", 0.0)),
        "reagent_solution_water_t_yr": w(bound),
        "fresh_water_t_yr": w(fresh),
        "condensate_reused_t_yr": w(reuse),
        "reaction_water_net_t_yr": w(gen_units),
        "vapour_in_offgases_t_yr": w(vap),
        **{f"moisture_in_{k}_t_yr": w(v) for k, v in moist.items()},
        "condensate_to_cooling_towers_t_yr": w(tower),
        "condensate_discharged_t_yr": w(cond_dis),
        "brine_discharged_t_yr": _mass_t_yr(dis, hrs),
        "liquid_discharge_t_yr": discharge_t_yr,
        "closure_rel": abs(h2o_in + gen_units - h2o_out) / max(h2o_in, 1e-12),
    }
    # salts: formed in units vs leaving the plant
    srows = []
    for s_ in SALT_SPECIES:
        sol = sp.with_phase(s_, "s")
        formed = 0.0
        for n, r in rs.results.items():
            ins = merge(*rs.inlets[n].values(), r.reagents)
            outs = merge(*r.outlets.values())
            formed += (
                outs.get(s_, 0) + outs.get(sol, 0) - ins.get(s_, 0) - ins.get(sol, 0)
            )
        bought = reag.get(s_, 0.0)
        left = {
            cat: 0.0 for cat in ("salt", "discharge", "residue", "sludge", "product")
        }
        for k, cat in plant.sinks.items():
            key = "product" if cat.startswith("product") else cat
            if key in left:
                left[key] += S[k].get(s_, 0.0) + S[k].get(sol, 0.0)
        tot_out = sum(left.values())
        if formed + bought <= 1e-12 and tot_out <= 1e-12:
            continue
        srows.append(
            {
                "salt": sp.split(s_)[0],
                "formed_t_yr": _t_yr(formed, s_, hrs),
                "bought_t_yr": _t_yr(bought, s_, hrs),
                **{f"to_{k}_t_yr": _t_yr(v, s_, hrs) for k, v in left.items()},
                "closure_rel": abs(formed + bought - tot_out) / max(tot_out, 1e-12),
            }
        )
    salts = pd.DataFrame(srows)
    # energy and CO2 by unit: every unit, zero rows with the reason
    h = plant.data["roasting"].table("heat")
    gas = choice.routes["kiln_heating"] == "gas"
    ut = c.table("utilities")
    erows = []
    el_tot = fuel_tot = steam_tot = 0.0
    for n in plant.order:
        r = rs.results[n]
        u = r.utilities
        el = u.get("electricity_kW", 0.0)
        fuel = u.get("fuel_kW", 0.0)
        heat_net = u.get("heat_kW", 0.0)
        heat = max(heat_net, 0.0)
        if heat:
            if gas:
                fuel += heat / h["gas_efficiency"]
            else:
                el += heat / h["electric_efficiency"]
        st = u.get("steam_t_h", 0.0)
        el_tot += el
        fuel_tot += fuel
        steam_tot += st
        tot = (el + fuel + st * STEAM_MWh_t * 1000) * hrs / 1000
        proc = sum(
            S.get((n, q), {}).get("CO2(g)", 0.0)
            for q in plant.units[n].outlets
            if plant.sinks.get((n, q)) == "offgas"
        )
        co2_el = el * ut["grid_kgCO2_kWh"] * hrs / 1000
        co2_fu = fuel * ut["fuel_kgCO2_kWh"] * hrs / 1000
        co2_st = st * ut["steam_kgCO2_t"] * hrs / 1000
        co2_pr = proc * 44.01 / 1000 * hrs
        idle = not any(sum(x.values()) > 0 for x in rs.inlets[n].values())
        kind = type(plant.units[n]).__name__
        if idle:
            note = "idle: no flow under the chosen route"
        elif "heat_kW" in u and heat_net <= 0:
            note = (
                f"autothermal: oxidation releases {-heat_net:,.0f} kW more than the "
                "kiln needs; no fuel (the surplus is not credited)"
            )
        elif kind in ("Mixer", "Splitter", "Router"):
            note = "mixing / splitting of streams: no energy modelled"
        elif tot <= 1e-9:
            note = (
                f"no energy use modelled for {kind} (rexopt/units); pumping and "
                "agitation not counted"
            )
        else:
            note = ""
        erows.append(
            {
                "unit": n,
                "electricity_MWh_yr": el * hrs / 1000,
                "fuel_MWh_yr": fuel * hrs / 1000,
                "steam_MWh_yr": st * hrs * STEAM_MWh_t,
                "total_MWh_yr": tot,
                "CO2_electricity_t_yr": co2_el,
                "CO2_fuel_t_yr": co2_fu,
                "CO2_steam_t_yr": co2_st,
                "CO2_process_t_yr": co2_pr,
                "CO2_total_t_yr": co2_el + co2_fu + co2_st + co2_pr,
                "note": note,
            }
        )
    energy = pd.DataFrame(erows)
    co2_proc = (
        sum(
            S[k].get("CO2(g)", 0.0) for k, cat in plant.sinks.items() if cat == "offgas"
        )
        * 44.01
        / 1000
        * hrs
    )
    co2 = {
        "electricity_t_yr": el_tot * ut["grid_kgCO2_kWh"] * hrs / 1000,
        "fuel_t_yr": fuel_tot * ut["fuel_kgCO2_kWh"] * hrs / 1000,
        "steam_t_yr": steam_tot * ut["steam_kgCO2_t"] * hrs / 1000,
        "process_t_yr": co2_proc,
    }
    co2["total_t_yr"] = sum(co2.values())
    # equipment and CAPEX (exact power law at the re-simulated sizes)
    sizes = defaultdict(float)
    for r in rs.results.values():
        for e, x in r.sizes.items():
            sizes[e] += x
    n = choice.trains
    qrows = []
    capex = 0.0
    for e, x in sorted(sizes.items()):
        if x <= 1e-9:
            continue
        fn = costing.installed_cost_fn(c, e)
        cost = n * fn(x / n)
        capex += cost
        unit_ = c(f"equipment.{e}.size_unit")
        if unit_ == "MBTU/h":
            unit_ = f"MBTU/h (x {KW_PER_MBTU_H} = {x * KW_PER_MBTU_H:,.0f} kW in all)"
        qrows.append(
            {
                "equipment": e,
                "size_total": x,
                "size_unit": unit_,
                "trains": n,
                "size_per_train": x / n,
                "max_per_train": c(f"equipment.{e}.max_per_train"),
                "installed_cost_USD": cost,
            }
        )
    equipment = pd.DataFrame(qrows)
    if len(equipment):
        equipment["share_of_CAPEX_pct"] = (
            100 * equipment["installed_cost_USD"] / max(capex, 1e-9)
        )
    fin = c.table("finance")
    bp = c.table("byproducts_USD_t")
    salt_stream = S[("evap", "salt")]
    salt_price = {
        "NaCl(s)": bp["salt_NaCl"],
        "NH4Cl(s)": bp["salt_NH4Cl"],
        "MgCl2(s)": bp["salt_MgCl2"],
    }
    salt_usd = sum(
        _t_yr(v, k, hrs) * salt_price.get(k, bp["salt_other"])
        for k, v in salt_stream.items()
        if k != "H2O(l)"
    )
    res_t = _mass_t_yr(S[("filter", "residue")], hrs) + _mass_t_yr(
        S[("dissolve", "residue")], hrs
    )
    slu_t = _mass_t_yr(S[("purify", "sludge")], hrs) + _mass_t_yr(
        S[("neutralize", "sludge")], hrs
    )
    waste_usd = (
        res_t * bp["residue"] + slu_t * bp["sludge"] + discharge_t_yr * bp["wastewater"]
    )
    util_parts = {
        "electricity": el_tot * ut["electricity_USD_kWh"] * hrs,
        "fuel": fuel_tot * ut["fuel_USD_kWh"] * hrs,
        "steam": steam_tot * ut["steam_USD_t"] * hrs,
        "fresh water": w(fresh) * c("reagents_USD_t.water"),
    }
    util_usd = sum(util_parts.values())
    labour = fin["labour_USD_yr_train"] * n
    maint = fin["maintenance_frac"] * capex
    opex = reagent_usd + util_usd + labour + maint - salt_usd - waste_usd
    # OPEX breakdown: every line a positive amount, its kind says cost or credit
    orows = [
        (f"reagent {r_['reagent']}", r_["USD_yr"], "cost", f"{r_['t_yr']:,.1f} t/yr")
        for r_ in rrows
        if r_["USD_yr"] > 0
    ]
    qty = {
        "electricity": f"{el_tot * hrs / 1000:,.0f} MWh/yr",
        "fuel": f"{fuel_tot * hrs / 1000:,.0f} MWh/yr",
        "steam": f"{steam_tot * hrs:,.0f} t/yr",
        "fresh water": f"{w(fresh):,.0f} t/yr",
    }
    orows += [(f"utility {k}", v, "cost", qty[k]) for k, v in util_parts.items()]
    orows += [
        ("labour", labour, "cost", f"{n} train(s)"),
        ("maintenance", maint, "cost", f"{fin['maintenance_frac']:.1%} of CAPEX"),
        (
            "salt sold" if salt_usd >= 0 else "salt disposal",
            abs(salt_usd),
            "credit" if salt_usd >= 0 else "cost",
            f"{_mass_t_yr(salt_stream, hrs):,.0f} t/yr",
        ),
    ]
    for what, t_, price in (
        ("residue", res_t, bp["residue"]),
        ("sludge", slu_t, bp["sludge"]),
        ("liquid discharge", discharge_t_yr, bp["wastewater"]),
    ):
        v_ = t_ * price
        orows.append(
            (
                f"{what} {'sold' if v_ > 0 else 'disposal'}",
                abs(v_),
                "credit" if v_ > 0 else "cost",
                f"{t_:,.1f} t/yr",
            )
        )
    opex_table = pd.DataFrame(
        [
            {
                "item": it,
                "amount_USD_yr": v_,
                "kind": k_,
                "quantity": q_,
                "USD_per_kg_REO": v_ / max(reo_t_yr * 1000, 1e-9),
                "share_of_net_OPEX_pct": 100 * v_ / opex if opex > 0 else float("nan"),
            }
            for it, v_, k_, q_ in orows
        ]
    )
    scrap_usd = choice.scrap_t_h * hrs * c("feed_USD_t.scrap")
    finance = costing.Finance.from_data(c)
    op_cost = opex + scrap_usd
    npv = finance.npv(capex, revenue, op_cost)
    cash = finance.cash_flows(capex, revenue, op_cost)
    irr = costing.irr(cash)
    payback = costing.payback_yr(cash)
    cost_yr = capex / finance.annuity + op_cost
    econ = {
        "capex_USD": capex,
        "opex_USD_yr": opex,
        "reagents_USD_yr": reagent_usd,
        "utilities_USD_yr": util_usd,
        "labour_USD_yr": labour,
        "maintenance_USD_yr": maint,
        "salt_credit_USD_yr": salt_usd,
        "waste_credit_USD_yr": waste_usd,
        "scrap_USD_yr": scrap_usd,
        "operating_cost_USD_yr": op_cost,
        "revenue_USD_yr": revenue,
        "working_capital_USD": finance.working_capital_frac * op_cost,
        "depreciation_USD_yr": capex / finance.depreciation_yr,
        "tax_rate": finance.tax_rate,
        "discount_rate": finance.discount_rate,
        "life_yr": finance.life_yr,
        "npv_USD": npv,
        "irr": irr,
        "payback_yr": payback,
        "annualised_cost_USD_yr": cost_yr,
        "cost_per_kg_REO_USD": cost_yr / max(reo_t_yr * 1000, 1e-9),
        "milp_npv_USD": pyo.value(m.npv_usd) if m is not None else None,
        "milp_capex_USD": pyo.value(m.capex_usd) if m is not None else None,
    }
    cash_flow = pd.DataFrame(
        {
            "year": range(len(cash)),
            "cash_flow_USD": cash,
            "discounted_USD": [
                cf / (1 + finance.discount_rate) ** y for y, cf in enumerate(cash)
            ],
        }
    )
    cash_flow["cumulative_USD"] = cash_flow["cash_flow_USD"].cumsum()
    # the figures the MILP also has, for the MILP vs re-simulation check
    resim_items = {
        k: econ[k]
        for k in (
            "capex_USD",
            "revenue_USD_yr",
            "reagents_USD_yr",
            "utilities_USD_yr",
            "labour_USD_yr",
            "maintenance_USD_yr",
            "salt_credit_USD_yr",
            "waste_credit_USD_yr",
            "scrap_USD_yr",
            "opex_USD_yr",
            "npv_USD",
        )
    }
    econ_check = economics_check(m, resim_items, rs) if m is not None else None
    # economics as a table: one unit system (USD, USD/yr), credits labelled
    erows_ = [
        ("CAPEX (installed, at the chosen sizes)", "USD", capex, "cost"),
        (
            "working capital (year 0, returned in the last year)",
            "USD",
            econ["working_capital_USD"],
            "cost",
        ),
        ("revenue from oxide products", "USD/yr", revenue, "credit"),
        ("reagents (net of recovered MgO / HCl)", "USD/yr", reagent_usd, "cost"),
        (
            "utilities (electricity, fuel, steam, fresh water)",
            "USD/yr",
            util_usd,
            "cost",
        ),
        ("labour", "USD/yr", labour, "cost"),
        ("maintenance", "USD/yr", maint, "cost"),
        (
            "salt sold" if salt_usd >= 0 else "salt disposal",
            "USD/yr",
            abs(salt_usd),
            "credit" if salt_usd >= 0 else "cost",
        ),
        (
            "residue, sludge, discharge disposal",
            "USD/yr",
            abs(waste_usd),
            "credit" if waste_usd > 0 else "cost",
        ),
        ("scrap purchase", "USD/yr", scrap_usd, "cost"),
        ("OPEX (without scrap)", "USD/yr", opex, "cost"),
        (
            "depreciation (straight line, tax only)",
            "USD/yr",
            econ["depreciation_USD_yr"],
            "-",
        ),
        ("NPV after tax", "USD", npv, "result"),
        ("annualised cost before tax", "USD/yr", cost_yr, "result"),
    ]
    economics = pd.DataFrame(
        erows_, columns=["item", "unit", "value", "kind (cost/credit)"]
    )
    # routes and operating points
    route = dict(choice.routes)
    route["trains"] = n
    route["scrap_t_yr"] = choice.scrap_t_h * hrs
    points = {
        nm: plant.units[nm].label(pt)
        + (
            ""
            if any(sum(st.values()) > 0 for st in rs.inlets[nm].values())
            else " (idle)"
        )
        for nm, pt in rs.points.items()
        if len(plant.units[nm].points) > 1
    }
    balances = {
        "max_unit_element_imbalance_rel": max(
            [
                abs(v)
                / max(
                    1e-12,
                    abs(
                        sp.element_flows(
                            merge(*rs.inlets[nm].values(), rs.results[nm].reagents)
                        ).get(e, 1)
                    ),
                )
                for nm, d_ in rs.unit_imbalance.items()
                for e, v in d_.items()
            ]
            or [0.0]
        ),
        "plant_element_imbalance_rel": {
            e: v for e, v in sorted(rs.plant_imbalance.items())
        },
        "recycle_residual_rel": rs.recycle_residual,
        "recycle_iterations": rs.iterations,
        "zld": plant.case.targets.zld,
        "zld_met": discharge_t_yr <= 1e-6,
    }
    summary = {
        "case": plant.case.name,
        "route": route,
        "operating_points": points,
        "re_yield": re_yield,
        "re_recovery": recov,
        "REO_t_yr": reo_t_yr,
        "water": water,
        "co2": co2,
        "economics": econ,
        "balances": balances,
        "energy_MWh_yr": float(energy["total_MWh_yr"].sum()) if len(energy) else 0.0,
        "sx_verification": rs.sx_verification,
        "sx_rejected": list(getattr(plant, "sx_rejected", [])),
        "milp_REO_t_yr": (
            sum(
                pyo.value(m.ox_mass(li, r))
                for li in ("pr", "nd", "tb", "dy")
                for r in sp.RARE_EARTHS
            )
            * hrs
            / 1000
        )
        if m is not None
        else None,
    }
    summary["economics_check"] = econ_check
    banks, bank_rec = sx_banks(plant, choice, rs)
    summary["sx_banks_flagged"] = [
        r["bank"]
        for r in banks.to_dict("records")
        if r["flag_kernel_vs_table_over_10pct"]
    ]
    summary["sx_banks_feed_diluted"] = [
        r["bank"]
        for r in banks.to_dict("records")
        if r["flag_separation_unchecked_at_plant_feed"]
    ]
    boundary = boundary_table(
        plant, rs, choice, {"fresh": fresh, "reuse": reuse, "tower": tower}
    )
    tables = {
        "boundary_streams": boundary,
        "sx_banks": banks,
        "sx_recoveries": bank_rec,
        "economics": economics,
        "cash_flow": cash_flow,
        "products": products,
        "reagents": reagents,
        "salts": salts,
        "energy": energy,
        "equipment": equipment,
        "opex": opex_table,
        "streams": stream_table(plant, rs),
    }
    return summary, tables


SX_UNITS = {
    "sx_group": "group cut (PrNd | DyTb)",
    "sx_prnd": "Pr/Nd cut (Pr | Nd)",
    "sx_dytb": "Dy/Tb cut (Tb | Dy)",
}
#: relative difference between kernel and table at which a bank is flagged
SX_FLAG_REL = 0.10


def sx_banks(plant, choice, rs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per SX bank in operation, and kernel vs table recoveries.

    Flows are the plant's (all trains together) in L/h; inventories in m3 and t;
    the kernel figures come from re-running the chosen design on the converged
    plant feed (same concentrations, case scale).
    """
    from rexopt.units import sx as sxm

    hrs = plant.hours_yr
    d = plant.data["sx"]
    ch = d.table("chemistry")
    sz = d.table("sizing")
    inv = d.table("inventory")
    d_sc = plant.data["stream_conditions"]
    n_tr = choice.trains
    banks = []
    recs = []
    for name, label in SX_UNITS.items():
        pt = rs.points[name]
        if not pt.get("cut_on"):
            continue
        feed = rs.inlets[name].get("feed", {})
        re_fed = sum(feed.get(sp.chloride(c, 3), 0.0) for c in sxm.REs)  # kmol/h
        if re_fed <= 0:
            continue
        # the row the bank ran at in the re-simulation: flows per mol fed re-set
        # for its feed (rexopt.units.sx.feed_forward); the MILP's split is the
        # candidate table's (pt["_row"])
        row = rs.sx_rows.get(name, pt["_row"])
        F_RE = 1000.0 * re_fed  # mol/h
        F = F_RE / ch["feed_RE_mol_L"]
        O = (
            row["base_eq_per_mol"]
            * F_RE
            / (ch["saponification"] * ch["extractant_mol_L"])
        )
        sc = row["scrub_L_per_mol"] * F_RE
        st = row["strip_L_per_mol"] * F_RE
        ne, ns, nt = int(row["n_extraction"]), int(row["n_scrub"]), int(row["n_strip"])
        tau_h = sz["mixer_residence_min"] / 60.0
        org_L = O * (ne + ns + nt) * tau_h * (1 + sz["settler_to_mixer"])
        ext_kg = (
            org_L * ch["extractant_mol_L"] * inv["extractant_molar_mass_g_mol"] / 1000
        )
        ext_L = ext_kg / inv["extractant_density_kg_L"]
        dil_L = max(org_L - ext_L, 0.0)
        # the bank is sized (MILP and re-simulation alike) for the aqueous flow
        # the plant sends it (rexopt.units.sx.SXCut.simulate): the candidate's
        # volume at the design-basis feed plus the extraction stages' share of
        # the difference; the kernel check ran at the plant's feed concentration
        vol_m3 = rs.results[name].sizes["mixer_settlers"]
        vol_design_m3 = row["volume_m3_per_kmol_h"] * re_fed
        F_plant = 1000.0 * volumes_m3_h(feed, 25.0, d_sc)["liquid_m3_h"]
        reag = rs.results[name].reagents
        light, heavy = sxm.cut_groups(d, name[3:])
        frac = {c: feed.get(sp.chloride(c, 3), 0.0) / re_fed for c in sxm.REs}
        v = rs.sx_verification.get(name)
        src = {"table": {c: pt["_row"][f"raff_{c}"] for c in sxm.REs}}
        if v:
            src["kernel"] = v["raffinate_recovery_kernel"]

        def purity(r, grp, raff=True, frac=frac):
            num = sum(frac[c] * (r[c] if raff else 1 - r[c]) for c in grp)
            den = sum(frac[c] * (r[c] if raff else 1 - r[c]) for c in sxm.REs)
            return num / den if den > 0 else float("nan")

        pur = {
            k: (purity(r, light, True), purity(r, heavy, False)) for k, r in src.items()
        }
        flag = False
        for c in sxm.REs:
            t_r = src["table"][c]
            k_r = src.get("kernel", {}).get(c)
            # compare the fraction that goes to the minority outlet (a purity-
            # relevant figure), relative
            minority = min(t_r, 1 - t_r)
            if k_r is None:
                k_min = rel = None
            else:
                k_min = k_r if t_r <= 0.5 else 1 - k_r
                rel = abs(k_min - minority) / max(minority, k_min, 1e-12)
                if frac[c] > 1e-9 and rel > SX_FLAG_REL and max(minority, k_min) > 1e-6:
                    flag = True
            recs.append(
                {
                    "bank": name,
                    "element": c,
                    "feed_mole_frac": frac[c],
                    "to_raffinate_table": t_r,
                    "to_raffinate_kernel": k_r,
                    "minority_fraction_table": minority,
                    "minority_fraction_kernel": k_min,
                    "rel_difference": rel,
                    "flag_over_10pct": bool(rel is not None and rel > SX_FLAG_REL),
                }
            )
        banks.append(
            {
                "bank": name,
                "cut": label,
                "design": pt["design"],
                "agent": pt["agent"],
                "trains": n_tr,
                "stages_extraction": ne,
                "stages_scrub": ns,
                "stages_strip": nt,
                "mixer_settlers_count": (ne + ns + nt) * n_tr,
                "mixer_settler_volume_each_m3": vol_m3 / ((ne + ns + nt) * n_tr),
                "mixer_settlers_volume_total_m3": vol_m3,
                "RE_feed_kmol_h": re_fed,
                "aqueous_feed_plant_L_h": F_plant,
                "feed_RE_plant_mol_L": F_RE / F_plant if F_plant > 0 else 0.0,
                "organic_L_h": O,
                "scrub_L_h": sc,
                "strip_L_h": st,
                "OA_extraction": O / (F_plant + sc),
                "OA_scrub": O / sc if sc > 0 else float("nan"),
                "OA_strip": O / st if st > 0 else float("nan"),
                "aqueous_feed_design_L_h": F,
                "feed_RE_design_mol_L": ch["feed_RE_mol_L"],
                "OA_extraction_design": O / (F + sc),
                "mixer_settlers_volume_at_design_feed_m3": vol_design_m3,
                "kernel_feed_RE_mol_L": (v or {}).get("feed_RE_mol_L"),
                # the candidate table (MILP recoveries) is at the design feed;
                # only a kernel re-run checks the split at the plant's feed
                "flag_feed_more_dilute_than_design": bool(
                    F_plant > F * (1 + SX_FLAG_REL)
                ),
                "flag_separation_unchecked_at_plant_feed": bool(
                    F_plant > F * (1 + SX_FLAG_REL) and "kernel" not in src
                ),
                "organic_inventory_m3": org_L / 1000,
                "extractant_inventory_t": ext_kg / 1000,
                "diluent_inventory_m3": dil_L / 1000,
                "diluent_inventory_t": dil_L * inv["diluent_density_kg_L"] / 1000,
                "HCl_t_yr": _t_yr(reag.get("HCl(aq)", 0.0), "HCl(aq)", hrs),
                **{
                    f"{sp.split(k)[0]}_t_yr": _t_yr(v_, k, hrs)
                    for k, v_ in sorted(reag.items())
                    if k not in ("HCl(aq)", "H2O(l)", "O2(g)", "N2(g)") and v_ > 0
                },
                "process_water_t_yr": _t_yr(reag.get("H2O(l)", 0.0), "H2O(l)", hrs),
                "raffinate_purity_table": pur["table"][0],
                "strip_purity_table": pur["table"][1],
                "raffinate_purity_kernel": pur.get("kernel", (None, None))[0],
                "strip_purity_kernel": pur.get("kernel", (None, None))[1],
                "kernel_rerun": "kernel" in src,
                # rare earths absent from the bank's feed, run by the kernel as
                # tracers (rexopt.units.sx.TRACER_FRACTION); "" where none
                "kernel_tracers": ", ".join((v or {}).get("tracers", [])),
                # the flows per mol fed re-set for the bank's feed (feed_forward)
                **_feed_forward_columns((v or {}).get("feed_forward")),
                "flag_kernel_vs_table_over_10pct": flag,
            }
        )
    return pd.DataFrame(banks), pd.DataFrame(recs)


def _feed_forward_columns(ff: dict | None) -> dict:
    """sx_banks.csv's columns for rexopt.units.sx.feed_forward's basis."""
    ff = ff or {}
    return {
        "heavy_group": "+".join(ff.get("heavy", [])),
        "heavy_fraction_feed": ff.get("f_heavy_feed"),
        "heavy_fraction_design": ff.get("f_heavy_design"),
        "organic_per_mol_vs_design": ff.get("organic_ratio"),
        "strip_per_mol_vs_design": ff.get("strip_ratio"),
        "flows_as_designed_why": ff.get("why", ""),
    }


def feed_forward_text(b: dict) -> str:
    """How the bank's flows per mol fed were set for its feed ("" if as designed
    because the feed's heavy fraction is the design's)."""
    why = b.get("flows_as_designed_why")
    if isinstance(why, str) and why:
        return f"flows per mol RE fed as designed: {why}"
    ratio = b.get("organic_per_mol_vs_design")
    if ratio is None or not np.isfinite(ratio):  # NaN: a CSV/DataFrame gap
        return ""
    return (
        f"flows per mol RE fed re-set for the plant's feed, as operators set them "
        f"(Xu's S and f'_A at the candidate's purity target and k, stages as "
        f"built): {b['heavy_group']} {b['heavy_fraction_feed']:.6g} of the feed's "
        f"RE against {b['heavy_fraction_design']:.6g} at design, so organic x "
        f"{b['organic_per_mol_vs_design']:.6f}, strip x "
        f"{b['strip_per_mol_vs_design']:.6f}, scrub as designed; the figures of this "
        f"bank are at these flows, the MILP's are the table's"
    )


def tracer_text(b: dict) -> str:
    """The rare earths a bank's kernel case ran as tracers (``kernel_tracers``)."""
    from rexopt.units.sx import TRACER_FRACTION

    return (
        f"the kernel case of this bank runs {b['kernel_tracers']} (absent from the "
        f"plant's feed to it) as tracers at {TRACER_FRACTION:g} of its RE, so that "
        f"each element has a split; no plant flow depends on their split"
    )


def feed_dilution_text(b: dict) -> str:
    """How a bank's plant feed compares with the design basis of its candidate."""
    base = (
        f"the plant's feed to this bank is {b['aqueous_feed_plant_L_h']:,.0f} L/h at "
        f"{b['feed_RE_plant_mol_L']:.3g} mol/L RE, the candidate's design basis "
        f"{b['aqueous_feed_design_L_h']:,.0f} L/h at "
        f"{b['feed_RE_design_mol_L']:.3g} mol/L. The mixer-settlers, their CAPEX "
        "and power are sized for the plant's flow "
        f"({b['mixer_settlers_volume_total_m3']:.4g} m3; "
        f"{b['mixer_settlers_volume_at_design_feed_m3']:.4g} m3 at the design feed), "
        f"O/A in extraction {b['OA_extraction']:.3g} "
        f"({b['OA_extraction_design']:.3g} at the design feed). "
    )
    if b.get("flag_separation_unchecked_at_plant_feed"):
        return base + (
            "The split is the candidate table's at the design feed and was NOT "
            "re-checked with the kernel at the plant's feed (no kernel re-run): "
            "the purities may not hold at this dilution."
        )
    return base + (
        "The MILP's split is the candidate table's at the design feed; the kernel "
        f"check re-ran the bank at the plant's feed ({b['kernel_feed_RE_mol_L']:.3g}"
        " mol/L) and is compared with it below."
    )


def sx_profile_png(rs, name: str, path: Path) -> bool:
    """Stage profile (aqueous and organic RE concentrations) of one bank."""
    prof = rs.sx_profiles.get(name, {}).get("profiles")
    if prof is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    st = prof.index.to_numpy()
    for col in prof.columns:
        if col.startswith("x_") and col.endswith("_mol_L"):
            axs[0].semilogy(st, np.maximum(prof[col], 1e-12), label=col[2:-6])
        if col.startswith("y_") and col.endswith("_mol_L"):
            axs[1].semilogy(st, np.maximum(prof[col], 1e-12), label=col[2:-6])
    sec = prof["section"].to_numpy()
    for ax, t in zip(axs, ("aqueous", "organic"), strict=True):
        for i in range(1, len(sec)):
            if sec[i] != sec[i - 1]:
                ax.axvline(st[i] - 0.5, color="gray", lw=0.8, ls="--")
        ax.set_xlabel("stage (extraction | scrub | strip)")
        ax.set_ylabel(f"{t} concentration [mol/L]")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"{name}: kernel stage profile of the chosen design (case scale; "
        "concentrations below 1e-12 mol/L drawn at 1e-12)"
    )
    # a fixed layout (tight_layout measured 0.2 s a figure, a tenth of the job's
    # report writing, for the same two panels every time)
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.15, top=0.87, wspace=0.22)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def economics_check(m, resim: dict, rs) -> dict:
    """MILP figures beside the re-simulated ones, with the differences explained.

    The MILP and the re-simulation share every unit's linear balance, so they can
    only differ through (a) the SX cascades, which the re-simulation re-runs with
    the kernel on the converged feed while the MILP used the candidate table, and
    (b) the piecewise-linear CAPEX (refined until it is exact at the chosen sizes,
    see ``capex_rounds``).  Anything else is flagged as unexplained.
    """
    hrs = m.plant.hours_yr
    v = pyo.value
    milp = {
        "capex_USD": v(m.capex_usd),
        "revenue_USD_yr": v(m.revenue_usd_yr),
        "reagents_USD_yr": hrs * v(m.reagent_usd_h),
        "utilities_USD_yr": hrs * v(m.utility_usd_h),
        "labour_USD_yr": v(m.labour_usd_yr),
        "maintenance_USD_yr": v(m.maintenance_usd_yr),
        "salt_credit_USD_yr": hrs * v(m.salt_usd_h),
        "waste_credit_USD_yr": hrs * v(m.waste_usd_h),
        "scrap_USD_yr": hrs * v(m.scrap_usd_h),
        "opex_USD_yr": v(m.opex_usd_yr),
        "npv_USD": v(m.npv_usd),
    }
    sx_diff = max(
        [x["max_abs_recovery_difference"] for x in rs.sx_verification.values()] or [0.0]
    )
    # flows per mol fed re-set for a bank's feed (rexopt.units.sx.feed_forward):
    # the largest relative change of its organic or strip
    ff_diff = max(
        [
            abs(ff[k] - 1.0)
            for x in rs.sx_verification.values()
            if (ff := x.get("feed_forward")) and "why" not in ff
            for k in ("organic_ratio", "strip_ratio")
        ]
        or [0.0]
    )
    rows = []
    notes = []
    for k, a in milp.items():
        b = resim[k]
        d = b - a
        rel = d / max(abs(a), abs(b), 1e-9)
        rows.append(
            {"item": k, "milp": a, "resimulated": b, "difference": d, "rel": rel}
        )
    by = {r["item"]: r for r in rows}
    tol = 1e-6
    if abs(by["capex_USD"]["rel"]) > tol:
        notes.append(
            f"CAPEX: the MILP's piecewise-linear cost is "
            f"{-by['capex_USD']['difference']:,.0f} USD "
            f"({-100 * by['capex_USD']['rel']:.3f} %) below the power law at the "
            "re-simulated sizes"
        )
    flow_items = [
        k
        for k in milp
        if k not in ("capex_USD", "maintenance_USD_yr", "labour_USD_yr", "npv_USD")
    ]
    # below 1 USD (/yr) a difference is the solver's round-off, not a model one
    moved = [
        k
        for k in flow_items
        if abs(by[k]["rel"]) > tol and abs(by[k]["difference"]) > 1.0
    ]
    if moved:
        why = (
            "the re-simulation re-runs the chosen SX cascades with the kernel "
            f"(largest recovery difference to the candidate table {sx_diff:.4f})"
            + (
                ", with their organic and strip per mol fed re-set for the feed "
                f"each gets (largest change {100 * ff_diff:.3f} %)"
                if ff_diff > 0
                else ""
            )
            if sx_diff > 0 or ff_diff > 0
            else "UNEXPLAINED (the SX kernel re-run agrees with the table): "
            "please report this as a bug"
        )
        notes.append(
            ", ".join(
                f"{k} {by[k]['difference']:+,.0f} ({100 * by[k]['rel']:+.3f} %)"
                for k in moved
            )
            + ": "
            + why
        )
    if not notes:
        notes.append(
            "the re-simulated plant reproduces every MILP figure to 1e-6 relative "
            "or 1 USD"
        )
    return {
        "rows": rows,
        "npv_difference_USD": by["npv_USD"]["difference"],
        "npv_rel_difference": by["npv_USD"]["rel"],
        "explanation": "; ".join(notes),
        "capex_rounds": list(getattr(m, "capex_rounds", [])),
    }


#: assumptions of the boundary stream table (stated in its header)
BOUNDARY_NOTE = (
    "Plant inlets and outlets.  Mass in t/yr, molar flow in kmol/h, T in degC, "
    "volumetric flow in m3/h at the stream's temperature as stated below.  "
    "Liquids at 1,000 kg/m3 of solution (an approximation), solids at the particle "
    "densities of stream_conditions.toml (unverified), gases as ideal gas at 1 atm "
    "and the stream's T (gas_Nm3_h at 0 degC beside it).  No temperature comes from "
    "an energy balance: T_basis says where each one comes from (a unit's set point, "
    "an inlet passed on, a mass-weighted mix, or the assumed ambient).  Reagent "
    "solutions are shown as delivered (species + carried water).  Reused condensate "
    "is an internal recycle, not an outlet."
)

#: what each temperature basis means (printed under the stream tables)
T_BASIS = {
    "operating point": "set point: the temperature of the unit's chosen operating "
    "point (roaster, HCl leach, calciner), also used in its heat duty",
    "set point": "set point of the unit from stream_conditions.toml "
    "(placeholder unless its status says otherwise); not an energy balance",
    "inlet passed on": "filter, splitter, router, regeneration: the inlet's "
    "temperature, no heat loss modelled",
    "mixed": "mixer: mass-weighted mean of the inlets (equal heat capacities, "
    "no heat of mixing)",
    "ambient": "purchased input, air, water or scrap at the assumed site ambient",
    "no flow": "the stream carries nothing under the chosen route",
    "not modelled": "the report has no temperature rule for this unit (T left "
    "blank, not guessed)",
}
#: printed under the stream tables, after the bases
T_STATUS_NOTE = (
    "T_status is the status of the data the temperature comes from (verified, "
    "derived, unverified, case; '-' where it is carried from other streams)"
)

_PASS_ON = {"SolidLiquid", "Splitter", "Router", "MgRegeneration"}
_SET_POINT = {
    "Pretreatment": "pretreat",
    "FullDissolution": "dissolve",
    "Purification": "purify",
    "SXCut": "sx",
    "OxalatePrecipitation": "prec",
    "Neutralization": "neutralize",
}


def stream_temperatures(plant, rs) -> dict[tuple[str, str], tuple[float, str]]:
    """(unit, outlet) -> (T [degC], basis): see T_BASIS for the bases."""
    d = plant.data["stream_conditions"]
    amb = d("ambient.temperature_C")
    sp_c = d.table("set_point_C")
    out: dict[tuple[str, str], tuple[float, str]] = {}

    def inlet_T(n):
        """Mass-weighted T of a unit's inlet streams (None if nothing known)."""
        num = den = 0.0
        for (dst, _), srcs in plant.edges.items():
            if dst != n:
                continue
            for src in srcs:
                mass = sp.mass_flow_kg_h(rs.streams.get(src, {}))
                if mass <= 0:
                    continue
                if src not in out or out[src][0] != out[src][0]:
                    return None  # an inlet's T is not known: neither is this one
                num += mass * out[src][0]
                den += mass
        if n == "pretreat":
            mass = sp.mass_flow_kg_h(rs.inlets[n].get("scrap", {}))
            num, den = num + mass * amb, den + mass
        return num / den if den > 0 else None

    # two passes: the recycle inlets (mother liquor) are known on the second
    for _ in range(2):
        for n in plant.order:
            u = plant.units[n]
            kind = type(u).__name__
            pt = rs.points.get(n, {})
            T, basis = None, None
            if isinstance(pt.get("temperature_C"), int | float):
                T, basis = float(pt["temperature_C"]), "operating point"
            elif kind in _SET_POINT:
                T, basis = float(sp_c[_SET_POINT[kind]]), "set point"
            elif kind in _PASS_ON:
                T, basis = inlet_T(n), "inlet passed on"
            elif kind == "Mixer":
                T, basis = inlet_T(n), "mixed"
            else:
                T, basis = None, "not modelled"
            for q in u.outlets:
                Tq, bq = T, basis
                if kind == "EvaporatorCrystallizer":
                    if q == "condensate":
                        ev = pt["evaporator"]
                        Tq = float(d(f"set_point_C.evap_condensate_{ev}"))
                    else:
                        Tq = float(sp_c["evap_brine_boiling"])
                    bq = "set point"
                if sp.mass_flow_kg_h(rs.streams.get((n, q), {})) <= 0:
                    out[(n, q)] = (float("nan"), "no flow")
                elif Tq is None:  # no rule, or an inlet without a known T
                    out[(n, q)] = (float("nan"), "not modelled")
                else:
                    out[(n, q)] = (Tq, bq)
    return out


#: data entry of the operating-point temperature of each unit kind that has one
_OP_T_ENTRY = {
    "Roasting": ("roasting", "points.temperature_C"),
    "SelectiveLeach": ("leaching", "selective.temperatures_C"),
    "Calcination": ("precipitation", "calcination.temperature_C"),
}


def temperature_status(plant, rs, unit: str, port: str, basis: str) -> str:
    """Status (verified/derived/unverified/case) of the data a stream's T comes
    from; '-' where T is carried from other streams (mixed, passed on)."""
    d = plant.data["stream_conditions"]
    kind = type(plant.units[unit]).__name__ if unit in plant.units else ""
    if basis == "ambient":
        return d.entry("ambient.temperature_C").status
    if basis == "operating point" and kind in _OP_T_ENTRY:
        f, path = _OP_T_ENTRY[kind]
        return plant.data[f].entry(path).status
    if basis == "set point":
        if kind == "EvaporatorCrystallizer":
            if port == "condensate":
                ev = rs.points[unit]["evaporator"]
                return d.entry(f"set_point_C.evap_condensate_{ev}").status
            return d.entry("set_point_C.evap_brine_boiling").status
        if kind in _SET_POINT:
            return d.entry(f"set_point_C.{_SET_POINT[kind]}").status
    return "-"


def _solid_density(key: str, d) -> float:
    f = sp.split(key)[0]
    rho = d.table("solid_density_kg_m3")
    if any(f == sp.RE_OXIDE[r][0] or f == f"{r}2O3" for r in sp.RARE_EARTHS):
        return rho["re_oxide"]
    if f in sp.ATOMIC_MASS_g_mol:
        return rho["metal"]
    if f in ("Fe2O3", "Fe3O4", "FeO"):
        return rho["iron_oxide"]
    if "(OH)" in f:
        return rho["hydroxide"]
    if "C2O4" in f and any(f.startswith(r) for r in sp.RARE_EARTHS):
        return rho["oxalate"]
    if any(x in f for x in ("Cl", "SO4", "C2O4")):
        return rho["salt"]
    return rho["other"]


def volumes_m3_h(st: dict, T_C: float, d) -> dict[str, float]:
    """Liquid, solid and gas volume flows [m3/h] of a stream at T_C [degC]."""
    liq = {k: v for k, v in st.items() if sp.phase(k) in ("l", "aq")}
    sol = {k: v for k, v in st.items() if sp.phase(k) == "s"}
    gas_kmol = sum(v for k, v in st.items() if sp.phase(k) == "g")
    T = 25.0 if T_C != T_C else T_C  # no flow: nan -> any T, the flow is zero
    solid = sum(
        sp.mass_flow_kg_h({k: v}) / _solid_density(k, d) for k, v in sol.items()
    )
    return {
        "liquid_m3_h": sp.mass_flow_kg_h(liq) / 1000.0,
        "solids_m3_h": solid,
        "gas_m3_h": gas_kmol * 22.414 * (273.15 + T) / 273.15,
        "gas_Nm3_h": gas_kmol * 22.414,
    }


def _phase_of(st: dict) -> str:
    """Phase of a stream: gas, liquid, solid, slurry (< 50 wt % solids in the
    condensed part) or wet solid (>= 50 wt %), '+ gas' when a gas goes with it."""
    ph = {sp.phase(k) for k, v in st.items() if v > 0}
    if not ph:
        return "no flow"
    if ph <= {"g"}:
        return "gas"
    gas = " + gas" if "g" in ph else ""
    if ph - {"g"} <= {"s"}:
        return "solid" + gas
    if "s" in ph:
        sol = sp.mass_flow_kg_h({k: v for k, v in st.items() if sp.phase(k) == "s"})
        cond = sp.mass_flow_kg_h({k: v for k, v in st.items() if sp.phase(k) != "g"})
        return ("wet solid" if sol >= 0.5 * cond else "slurry") + gas
    return "liquid" + gas


def _concentrations(st: dict, liq_m3_h: float) -> dict[str, float]:
    """Key concentrations: RE and HCl in the liquid [mol/L], solids [wt %]."""
    liq = {k: v for k, v in st.items() if sp.phase(k) in ("l", "aq")}
    el_liq = sp.element_flows(liq)
    re_kmol = sum(el_liq.get(r, 0.0) for r in sp.RARE_EARTHS)
    mass = sp.mass_flow_kg_h(st)
    sol = sp.mass_flow_kg_h({k: v for k, v in st.items() if sp.phase(k) == "s"})
    return {
        "RE_in_liquid_mol_L": re_kmol / liq_m3_h if liq_m3_h > 0 else 0.0,
        "HCl_mol_L": st.get("HCl(aq)", 0.0) / liq_m3_h if liq_m3_h > 0 else 0.0,
        "solids_wt_pct": 100 * sol / mass if mass > 0 else 0.0,
    }


def _boundary_row(name, direction, st, hrs, d, T, basis, note="", status="-"):
    mass = sp.mass_flow_kg_h(st)
    mol = sum(st.values())
    vol = volumes_m3_h(st, T, d)
    liq_m3_h = vol["liquid_m3_h"]
    return {
        "stream": name,
        "direction": direction,
        "phase": _phase_of(st),
        "T_C": T,
        "T_basis": basis,
        "T_status": status,
        "mass_t_yr": mass * hrs / 1000,
        "molar_flow_kmol_h": mol,
        "volume_m3_h": vol["liquid_m3_h"] + vol["solids_m3_h"] + vol["gas_m3_h"],
        "liquid_m3_h": liq_m3_h,
        "solids_m3_h": vol["solids_m3_h"],
        "gas_m3_h": vol["gas_m3_h"],
        "gas_Nm3_h": vol["gas_Nm3_h"],
        **_concentrations(st, liq_m3_h),
        "RE_kg_h": sum(
            sp.element_flows(st).get(r, 0.0) * sp.ATOMIC_MASS_g_mol[r]
            for r in sp.RARE_EARTHS
        ),
        "note": note,
    }


def boundary_table(plant, rs, choice, water_kmol: dict) -> pd.DataFrame:
    """Every plant inlet and outlet: scrap, reagents, water, air, products, wastes."""
    hrs = plant.hours_yr
    d = plant.data["stream_conditions"]
    amb = d("ambient.temperature_C")
    amb_status = d.entry("ambient.temperature_C").status
    temps = stream_temperatures(plant, rs)
    ev_status = temperature_status(plant, rs, "evap", "condensate", "set point")
    rows = []

    def inlet(name, st, note=""):
        rows.append(
            _boundary_row(name, "inlet", st, hrs, d, amb, "ambient", note, amb_status)
        )

    inlet("scrap (dry + moisture)", rs.inlets["pretreat"]["scrap"])
    reag = merge(*[r.reagents for r in rs.results.values()])
    for k in sorted(reag):
        v = reag[k]
        if k == "H2O(l)" or abs(v) <= 1e-15:
            continue
        if k in ("O2(g)", "N2(g)"):
            continue
        wat = costing.REAGENT_WATER_MOL_MOL.get(k, 0.0) * max(v, 0.0)
        st = {k: abs(v)}
        if wat:
            st["H2O(l)"] = wat
        if v > 0:
            users = [n for n, r in rs.results.items() if r.reagents.get(k, 0.0) > 0]
            inlet(f"{sp.split(k)[0]} (purchased)", st, "to " + ", ".join(users))
        else:
            makers = [n for n, r in rs.results.items() if r.reagents.get(k, 0.0) < 0]
            rows.append(
                _boundary_row(
                    f"{sp.split(k)[0]} (net made in the plant)",
                    "outlet",
                    st,
                    hrs,
                    d,
                    amb,
                    "ambient",
                    "more recovered than used (in "
                    + ", ".join(makers)
                    + "); not sold in the model, no credit",
                    amb_status,
                )
            )
    air = {k: reag[k] for k in ("O2(g)", "N2(g)") if reag.get(k, 0.0) > 0}
    if air:
        inlet("air", air)
    fresh = {"H2O(l)": water_kmol["fresh"]}
    if water_kmol["fresh"] > 0:
        inlet("fresh water", fresh)
    else:
        rows.append(
            _boundary_row(
                "fresh water",
                "inlet",
                fresh,
                hrs,
                d,
                float("nan"),
                "no flow",
                "none needed: reused condensate covers the process water",
            )
        )
    Tc, bc = temps.get(("evap", "condensate"), (float("nan"), "no flow"))
    rows.append(
        _boundary_row(
            "condensate reused as process water",
            "recycle (internal)",
            {"H2O(l)": water_kmol["reuse"]},
            hrs,
            d,
            Tc,
            bc,
            "not an inlet nor an outlet; T as it leaves the evaporator",
            ev_status if bc == "set point" else "-",
        )
    )
    for (u, port), cat in sorted(plant.sinks.items(), key=lambda x: x[1]):
        st = rs.streams.get((u, port), {})
        if sp.mass_flow_kg_h(st) <= 0:
            continue
        if cat == "condensate":
            # reused part is a recycle; the rest goes to towers or discharge
            rest = max(st.get("H2O(l)", 0.0) - water_kmol["reuse"], 0.0)
            tower = water_kmol["tower"]
            if tower > 0:
                rows.append(
                    _boundary_row(
                        "condensate to cooling towers (evaporated)",
                        "outlet",
                        {"H2O(g)": tower},
                        hrs,
                        d,
                        d("ambient.cooling_tower_vapour_C"),
                        "set point",
                        "leaves as vapour",
                        d.entry("ambient.cooling_tower_vapour_C").status,
                    )
                )
            dis = max(rest - tower, 0.0)
            if dis > 1e-12:
                rows.append(
                    _boundary_row(
                        "condensate discharged",
                        "outlet",
                        {"H2O(l)": dis},
                        hrs,
                        d,
                        Tc,
                        bc,
                        "",
                        ev_status if bc == "set point" else "-",
                    )
                )
            continue
        T, basis = temps.get((u, port), (float("nan"), "no flow"))
        note = ""
        if cat.startswith("product") and basis == "operating point":
            note = "kiln outlet; the product cooler is not modelled"
        rows.append(
            _boundary_row(
                f"{u}.{port} [{cat}]",
                "outlet",
                st,
                hrs,
                d,
                T,
                basis,
                note,
                temperature_status(plant, rs, u, port, basis),
            )
        )
    return pd.DataFrame(rows)


def stream_table(plant, rs) -> pd.DataFrame:
    """One row per stream: ends, phase, T with its basis, volumetric flows
    [m3/h] (as in BOUNDARY_NOTE), mass flows, water, elements and species
    [kmol/h]."""
    dest = {}
    for (dst, dport), srcs in plant.edges.items():  # noqa: B007
        for s in srcs:
            dest[s] = f"{dst}.{dport}"
    d = plant.data["stream_conditions"]
    temps = stream_temperatures(plant, rs)
    rows = []
    hrs = plant.hours_yr
    for (u, port), st in rs.streams.items():
        if not st:
            continue
        el = sp.element_flows(st)
        T, basis = temps.get((u, port), (float("nan"), "no flow"))
        vol = volumes_m3_h(st, T, d)
        row = {
            "stream": f"{u}.{port}",
            "from": u,
            "to": dest.get((u, port), f"[{plant.sinks.get((u, port), '?')}]"),
            "phase": _phase_of(st),
            "T_C": T,
            "T_basis": basis,
            "T_status": temperature_status(plant, rs, u, port, basis),
            "volume_m3_h": vol["liquid_m3_h"] + vol["solids_m3_h"] + vol["gas_m3_h"],
            **vol,
            "mass_kg_h": sp.mass_flow_kg_h(st),
            "mass_t_yr": sp.mass_flow_kg_h(st) * hrs / 1000,
            **_concentrations(st, vol["liquid_m3_h"]),
            "water_kg_h": WATER_KG_KMOL
            * (st.get("H2O(l)", 0.0) + st.get("H2O(g)", 0.0)),
            **{
                f"{r}_kg_h": el.get(r, 0.0) * sp.ATOMIC_MASS_g_mol[r]
                for r in (*sp.RARE_EARTHS, "Fe", "Cl", "Na", "Mg", "N")
            },
        }
        for s_, v in st.items():
            row[f"{s_} [kmol/h]"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    species = [c for c in df.columns if c.endswith(" [kmol/h]")]
    df[species] = df[species].fillna(0.0)
    return df


def energy_with_total(energy: pd.DataFrame | None) -> pd.DataFrame | None:
    """The energy table with a last row 'all units' (sums), for printing."""
    if energy is None or not len(energy):
        return energy
    num = energy.select_dtypes("number").sum()
    total = {"unit": "all units", **num.to_dict(), "note": "sum of the rows above"}
    return pd.concat([energy, pd.DataFrame([total])], ignore_index=True)


def product_tables(
    products: pd.DataFrame, recovery: dict[str, float]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Products table split for printing: the products (purity, named recovery,
    revenue) and where each rare earth of the feed goes [% of its feed], with
    the recovery by element (all products) as the last row."""
    if products is None or not len(products):
        return pd.DataFrame(), pd.DataFrame()
    to = [c for c in products.columns if c.endswith("_to_product_pct_of_feed")]
    main = products.drop(columns=to)
    where = products[["product", *to]].rename(columns={c: c.split("_")[0] for c in to})
    total = {"product": "all products (recovery by element)"}
    total.update({r: 100 * v for r, v in recovery.items() if r in where.columns})
    where = pd.concat([where, pd.DataFrame([total])], ignore_index=True)
    return main, where


def text_report(res) -> str:
    s = res.summary
    t = res.tables
    L = []
    L.append(f"NdFeB recycling plant - {s['case']}")
    L.append("=" * 72)
    if res.solve.warning:
        L.append(f"WARNING: {res.solve.warning}")
    dec = s.get("decisions") or {}
    for w_ in dec.get("warnings", []):
        L.append(f"WARNING: {w_}")
    if s.get("sx_banks_flagged"):
        L.append(
            "WARNING: SX banks whose kernel split differs from the MILP's table by "
            f"more than 10 % (relative): {', '.join(s['sx_banks_flagged'])}"
        )
    if s.get("sx_banks_feed_diluted"):
        L.append(
            "WARNING: SX banks fed more dilute than their candidate's design basis "
            "whose split was not re-checked with the kernel at the plant's feed: "
            f"{', '.join(s['sx_banks_feed_diluted'])} (see their sections)"
        )
    r = s["route"]
    L.append(
        "Chosen route: "
        + ", ".join(
            f"{k}={v}" for k, v in r.items() if k not in ("scrap_t_yr", "trains")
        )
    )
    L.append(f"Scrap processed {r['scrap_t_yr']:.0f} t/yr in {r['trains']} train(s)")
    L.append("Operating points:")
    for k, v in s["operating_points"].items():
        L.append(f"  {k:14s} {v}")
    if dec:
        L.append("\nProduct slate and capacity decisions")
        for c_ in dec["cuts"]:
            L.append(f"  {c_['name']}: {c_['state']} ({c_['reason']})")
        if dec["binding_limits"]:
            L.append("  Binding capacity limits:")
            for b_ in dec["binding_limits"]:
                L.append(f"    {b_['text']}")
        else:
            L.append("  No equipment cap, train count or cooling-tower limit binds.")
    L.append("\nProducts (t/yr, %, USD/yr)")
    prod, where = product_tables(t["products"], s["re_recovery"])
    L.append(
        prod.to_string(
            index=False,
            float_format=lambda x: f"{x:,.2f}",
            formatters={"revenue_USD_yr": "{:,.0f}".format},
        )
    )
    L.append(
        f"Overall RE yield {100 * s['re_yield']:.2f} %.  Where each rare earth of the "
        "feed goes [% of its feed] (named_recovery_pct above counts an element only "
        "in its own product; the last row also counts it where it is an impurity of "
        "another product, so it is the larger of the two):"
    )
    L.append(where.to_string(index=False, float_format=lambda x: f"{x:,.4f}"))
    bt = t.get("boundary_streams")
    if bt is not None and len(bt):
        L.append("\nPlant inlets and outlets")
        L.append("  " + BOUNDARY_NOTE)
        cols = [
            "stream",
            "direction",
            "phase",
            "T_C",
            "T_basis",
            "T_status",
            "mass_t_yr",
            "molar_flow_kmol_h",
            "volume_m3_h",
            "RE_in_liquid_mol_L",
            "HCl_mol_L",
            "solids_wt_pct",
        ]
        L.append(bt[cols].to_string(index=False, float_format=_num, na_rep="-"))
        L.append("  T_basis: " + "; ".join(f"{k} = {v}" for k, v in T_BASIS.items()))
        L.append("  " + T_STATUS_NOTE + ".")
        for r_ in bt.to_dict("records"):
            if r_["note"]:
                L.append(f"  {r_['stream']}: {r_['note']}")
    L.append("\nReagents (net of recovered MgO / HCl; t/yr, t/t REO, USD/yr)")
    L.append(t["reagents"].to_string(index=False, float_format=lambda x: f"{x:,.3f}"))
    w = s["water"]
    b = s["balances"]
    L.append("\nWater balance [t/yr]")
    for k, v in w.items():
        L.append(f"  {k:38s} {v:14,.6g}")
    L.append(
        f"Zero liquid discharge: {'ON' if b['zld'] else 'off'}; liquid discharge "
        f"{w['liquid_discharge_t_yr']:.3g} t/yr -> "
        f"{'met' if b['zld_met'] else 'NOT zero'}"
    )
    L.append("\nSalt balance [t/yr]")
    if len(t["salts"]):
        L.append(t["salts"].to_string(index=False, float_format=lambda x: f"{x:,.4g}"))
    L.append(
        "\nEnergy by unit [MWh/yr] and CO2 [t/yr] (steam as its latent heat, "
        f"{STEAM_MWh_t:.3f} MWh/t)"
    )
    L.append(
        energy_with_total(t["energy"])
        .drop(columns=["note"])
        .to_string(index=False, float_format=lambda x: f"{x:,.1f}")
    )
    for r_ in t["energy"].to_dict("records"):
        if r_["note"]:
            L.append(f"  {r_['unit']}: {r_['note']}")
    L.append(f"Total {s['energy_MWh_yr']:,.0f} MWh/yr")
    L.append("\nCO2 [t/yr]: " + ", ".join(f"{k} {v:,.0f}" for k, v in s["co2"].items()))
    e = s["economics"]
    L.append(
        "\nEconomics of the re-simulated plant (USD and USD/yr; every amount "
        "positive, its kind says cost or credit)"
    )
    L.append(t["economics"].to_string(index=False, float_format=lambda x: f"{x:,.0f}"))
    irr = "none (cash never pays back)" if e["irr"] is None else f"{e['irr']:.2%}"
    pb = "never" if e["payback_yr"] is None else f"{e['payback_yr']:.2f} yr"
    L.append(
        f"  IRR {irr}; simple payback {pb}; cost per kg REO "
        f"{e['cost_per_kg_REO_USD']:,.2f} USD/kg (before tax); tax "
        f"{e['tax_rate']:.0%}, discount {e['discount_rate']:.0%}/yr, "
        f"life {e['life_yr']} yr"
    )
    ec = s.get("economics_check")
    if ec:
        L.append(
            "  MILP vs re-simulated plant: NPV "
            f"{ec['rows'][-1]['milp']:,.0f} vs {ec['rows'][-1]['resimulated']:,.0f}"
            f" USD (difference {ec['npv_difference_USD']:+,.0f} USD, "
            f"{100 * ec['npv_rel_difference']:+.4f} %); {ec['explanation']}."
        )
        for r_ in ec["capex_rounds"]:
            if "milp_capex_USD" not in r_:
                L.append(
                    f"  CAPEX round {r_['round']}: {r_['note']}; proven within "
                    f"{100 * r_['proven_gap']:.3f} % of the optimum with the exact "
                    f"CAPEX; {r_['seconds']:.1f} s"
                )
                continue
            first = ""
            if "milp_capex_first_USD" in r_:
                first = (
                    f"MILP plant {r_['milp_capex_first_USD']:,.0f} (power law "
                    f"{r_['exact_capex_first_USD']:,.0f}); "
                )
            L.append(
                f"  CAPEX round {r_['round']}: {first}after fixing the plant and "
                f"adding breakpoints at its sizes: MILP {r_['milp_capex_USD']:,.0f} "
                f"vs power law {r_['exact_capex_USD']:,.0f} USD "
                f"({100 * r_['rel_diff']:+.4f} %)"
                + (
                    f"; proven within {100 * r_['proven_gap']:.3f} % of the "
                    "optimum with the exact CAPEX"
                    if r_.get("proven_gap") is not None
                    else ""
                )
                + f"; {r_['seconds']:.1f} s"
                + (f" ({r_['note']})" if r_.get("note") else "")
            )
    L.append(
        f"  REO: MILP {s['milp_REO_t_yr']:.1f} t/yr vs re-simulated "
        f"{s['REO_t_yr']:.1f} t/yr"
    )
    L.append(
        f"\nCAPEX breakdown (installed cost at the chosen sizes, USD; total "
        f"{e['capex_USD']:,.0f} USD)"
    )
    eq = t["equipment"]
    if len(eq):
        L.append(
            eq.to_string(
                index=False,
                formatters={
                    "size_total": "{:,.4g}".format,
                    "size_per_train": "{:,.4g}".format,
                    "max_per_train": "{:,.4g}".format,
                    "installed_cost_USD": "{:,.0f}".format,
                    "share_of_CAPEX_pct": "{:.1f}".format,
                },
            )
        )
    op = t.get("opex")
    if op is not None and len(op):
        L.append(
            f"\nOPEX breakdown (USD/yr, scrap not included; net OPEX "
            f"{e['opex_USD_yr']:,.0f} USD/yr = costs - credits)"
        )
        L.append(
            op.to_string(
                index=False,
                formatters={
                    "amount_USD_yr": "{:,.0f}".format,
                    "USD_per_kg_REO": "{:,.3f}".format,
                    "share_of_net_OPEX_pct": "{:.1f}".format,
                },
            )
        )
    L.append("\nBalances of the re-simulated plant")
    L.append(
        "  largest unit element imbalance (rel) "
        f"{b['max_unit_element_imbalance_rel']:.2e}"
    )
    L.append(
        "  plant element imbalance (rel): "
        + ", ".join(f"{k} {v:.1e}" for k, v in b["plant_element_imbalance_rel"].items())
    )
    L.append(
        f"  recycle converged to {b['recycle_residual_rel']:.1e} in "
        f"{b['recycle_iterations']} passes"
    )
    banks = t.get("sx_banks")
    if banks is not None and len(banks):
        rec = t["sx_recoveries"]
        for b_ in banks.to_dict("records"):
            L.append(f"\nSX bank {b_['bank']}: {b_['cut']}, design {b_['design']}")
            L.append(
                f"  stages: extraction {b_['stages_extraction']}, scrub "
                f"{b_['stages_scrub']}, strip {b_['stages_strip']}; "
                f"{b_['mixer_settlers_count']} mixer-settlers in {b_['trains']} "
                f"train(s), {b_['mixer_settler_volume_each_m3']:.3g} m3 each, "
                f"{b_['mixer_settlers_volume_total_m3']:.4g} m3 in all"
            )
            L.append(
                "  flows [L/h, all trains]: aqueous feed (from the plant) "
                f"{b_['aqueous_feed_plant_L_h']:,.0f}"
                f", organic {b_['organic_L_h']:,.0f}, scrub {b_['scrub_L_h']:,.0f}, "
                f"strip {b_['strip_L_h']:,.0f}; O/A extraction "
                f"{b_['OA_extraction']:.3g}, scrub {b_['OA_scrub']:.3g}, strip "
                f"{b_['OA_strip']:.3g}"
            )
            if b_["flag_separation_unchecked_at_plant_feed"]:
                L.append("  WARNING: " + feed_dilution_text(b_))
            elif b_["flag_feed_more_dilute_than_design"]:
                L.append("  note: " + feed_dilution_text(b_))
            L.append(
                f"  inventory: organic {b_['organic_inventory_m3']:.4g} m3, "
                f"extractant (P507) {b_['extractant_inventory_t']:.4g} t, diluent "
                f"{b_['diluent_inventory_m3']:.4g} m3 ({b_['diluent_inventory_t']:.4g}"
                " t)"
            )
            extra = {
                k: v
                for k, v in b_.items()
                if k.endswith("_t_yr") and k != "process_water_t_yr"
            }
            L.append(
                "  reagents [t/yr]: "
                + ", ".join(f"{k[:-5]} {v:,.1f}" for k, v in extra.items())
                + f"; process water {b_['process_water_t_yr']:,.0f}"
            )
            if b_["kernel_rerun"]:
                L.append(
                    f"  purity raffinate / strip: kernel "
                    f"{b_['raffinate_purity_kernel']:.6f} / "
                    f"{b_['strip_purity_kernel']:.6f}, MILP table "
                    f"{b_['raffinate_purity_table']:.6f} / "
                    f"{b_['strip_purity_table']:.6f}"
                )
                if b_["kernel_tracers"]:
                    L.append("  note: " + tracer_text(b_))
                ff_text = feed_forward_text(b_)
                if ff_text:
                    L.append("  note: " + ff_text)
            else:
                L.append(
                    f"  purity raffinate / strip (table, NOT re-run with the kernel): "
                    f"{b_['raffinate_purity_table']:.6f} / "
                    f"{b_['strip_purity_table']:.6f}"
                )
            rr = rec[rec["bank"] == b_["bank"]]
            for r_ in rr.to_dict("records"):
                if r_["feed_mole_frac"] <= 0:
                    continue
                kk = r_["to_raffinate_kernel"]
                L.append(
                    f"    {r_['element']}: to raffinate table {r_['to_raffinate_table']:.6f}"
                    + ("" if kk is None else f", kernel {kk:.6f}")
                    + (
                        ""
                        if r_["rel_difference"] is None
                        else f"; minority fraction differs {100 * r_['rel_difference']:.1f} %"
                    )
                    + ("  <-- FLAG > 10 %" if r_["flag_over_10pct"] else "")
                )
            if b_["flag_kernel_vs_table_over_10pct"]:
                L.append(
                    "  WARNING: the kernel's split differs from the table the MILP "
                    "used by more than 10 % (relative) for an element above; the "
                    "re-simulated plant (all figures in this report) uses the kernel's."
                )
    if s["sx_verification"]:
        L.append(
            "\nSX cascades re-run with the kernel (raffinate recovery kernel / table):"
        )
        for u, v in s["sx_verification"].items():
            L.append(
                f"  {u} {v['design']}: "
                + ", ".join(
                    f"{c} {v['raffinate_recovery_kernel'][c]:.4f}/"
                    f"{v['raffinate_recovery_table'][c]:.4f}"
                    for c in v["raffinate_recovery_kernel"]
                )
            )
            if v["max_abs_recovery_difference"] > 0.01:
                L.append(
                    f"  WARNING: {u} kernel and table differ by "
                    f"{v['max_abs_recovery_difference']:.3f} in a recovery; the "
                    "figures above are the kernel's (re-simulated plant)."
                )
    else:
        L.append(
            "\nSX cascades: recoveries from the candidate table "
            "(NOT re-run with the kernel in this run)."
        )
    if s.get("sx_rejected"):
        L.append(
            "SX candidates rejected by the kernel check (their cut is limited to the "
            "designs that passed; a cut with none is switched off):"
        )
        for r_ in s["sx_rejected"]:
            L.append(f"  {r_['name']}: {r_['reason']}")
    rep = res.solve
    L.append(
        f"\nHiGHS: {rep.status}, {rep.n_variables} variables "
        f"({rep.n_integer} integer), "
        f"{rep.n_constraints} constraints, {rep.seconds:.1f} s, gap "
        f"{(rep.gap or 0) * 100:.3f} %"
    )
    if rep.warning:
        L.append(f"WARNING: {rep.warning}")
    L.append(
        "Times [s]: " + ", ".join(f"{k} {v:.2f}" for k, v in res.timings_s.items())
    )
    uv = unverified(res.plant.data)
    by_file: dict[str, int] = defaultdict(int)
    for k, _ in uv:
        by_file[k.split(".")[0]] += 1
    L.append(
        f"\nAssumptions: {len(uv)} default values are UNVERIFIED placeholders "
        "(every one with its value, unit and source in unverified_defaults.csv and "
        "report.html; override them in the case under [data.<file>]).  By data file: "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_file.items()))
    )
    if res.pareto is not None:
        L.append("\nPareto front (epsilon-constraint)")
        L.append("  " + pareto_note(res.case))
        rem = pareto_remark(res.pareto, res.case)
        if rem:
            L.append("  " + rem)
        L.append(
            pareto_table(res.pareto, res.case).to_string(
                index=False, float_format=_num, na_rep="-"
            )
        )
    return "\n".join(L)


def sankey_png(plant, rs, path: Path, water_t_yr: dict | None = None) -> None:
    """Mass-flow diagram [t/yr]: inputs, units in flow order, outputs, recycles.

    Band width ~ sqrt(mass flow).  Idle units and empty streams are left out.
    Purchased reagents, air and process water enter as input nodes; reused
    condensate is drawn as a recycle (red) back to the process-water node, not as
    an outlet; the mother-liquor recycle to leaching is red too.  Every plant
    outlet node is labelled with its flow in t/yr.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hrs = plant.hours_yr
    t_yr = lambda st: sp.mass_flow_kg_h(st) * hrs / 1000  # noqa: E731
    active = {
        n
        for n in plant.order
        if any(sum(x.values()) > 0 for x in rs.inlets[n].values())
    }
    order = [n for n in plant.order if n in active]
    level = {}
    for n in order:
        srcs = [
            s_
            for (dst, _), ss in plant.edges.items()
            if dst == n
            for s_, _ in ss
            if (n, _) not in plant.recycle_edges and s_ in active
        ]
        level[n] = 1 + max([level.get(s_, 0) for s_ in srcs] or [0])
    cols = defaultdict(list)
    for n in order:
        cols[level[n]].append(n)
    pos = {}
    for lv, ns in cols.items():
        for i, n in enumerate(ns):
            pos[n] = (lv, -(i - (len(ns) - 1) / 2) * 1.2)
    flows = []  # (a, b, t/yr, recycle?)
    flows.append(("scrap", "pretreat", t_yr(rs.inlets["pretreat"]["scrap"]), False))
    for (dst, dport), srcs in plant.edges.items():
        if dst not in active:
            continue
        for s_, sport in srcs:
            f = t_yr(rs.streams.get((s_, sport), {}))
            flows.append((s_, dst, f, (dst, dport) in plant.recycle_edges))
    # inputs: reagents and process water per unit
    for n in order:
        r = rs.results[n].reagents
        chem = {
            k: v
            for k, v in r.items()
            if k not in ("H2O(l)", "O2(g)", "N2(g)") and v > 0
        }
        if chem:
            flows.append(("reagents", n, t_yr(chem), False))
        air = {k: v for k, v in r.items() if k in ("O2(g)", "N2(g)") and v > 0}
        if air:
            flows.append(("air", n, t_yr(air), False))
        if r.get("H2O(l)", 0.0) > 0:
            flows.append(("process water", n, t_yr({"H2O(l)": r["H2O(l)"]}), False))
    outs = defaultdict(float)
    for (u, port), cat in plant.sinks.items():
        if u not in active:
            continue
        f = t_yr(rs.streams.get((u, port), {}))
        if cat == "condensate" and water_t_yr is not None:
            reuse = water_t_yr.get("condensate_reused_t_yr", 0.0)
            tower = water_t_yr.get("condensate_to_cooling_towers_t_yr", 0.0)
            if reuse > 0:
                flows.append((u, "process water", reuse, True))
            if tower > 0:
                flows.append((u, "[cooling towers]", tower, False))
                outs["[cooling towers]"] += tower
            rest = max(f - reuse - tower, 0.0)
            if rest > 1e-6:
                flows.append((u, "[condensate discharge]", rest, False))
                outs["[condensate discharge]"] += rest
            continue
        name = f"[{cat}]"
        flows.append((u, name, f, False))
        outs[name] += f
    flows = [x for x in flows if x[2] > 1e-9]
    maxlv = max(level.values()) + 1
    sinks = sorted(k for k, v in outs.items() if v > 1e-9)
    for i, s_ in enumerate(sinks):
        pos[s_] = (maxlv, -(i - (len(sinks) - 1) / 2) * 0.9)
    pos["scrap"] = (0, 0.0)
    pos["reagents"] = (0, 3.0)
    pos["air"] = (0, -3.0)
    pos["process water"] = (0, -5.0)
    fmax = max(f for _, _, f, _ in flows) or 1.0
    fig, ax = plt.subplots(figsize=(20, 10))
    has_rec = False
    for a, b, f, rec in flows:
        if a not in pos or b not in pos:
            continue
        (x0, y0), (x1, y1) = pos[a], pos[b]
        xs = np.linspace(0, 1, 30)
        yy = y0 + (y1 - y0) * (3 * xs**2 - 2 * xs**3)
        color = (
            "tab:red"
            if rec
            else (
                "tab:green"
                if a in ("reagents", "air")
                else ("tab:cyan" if a == "process water" else "tab:blue")
            )
        )
        has_rec |= rec
        ax.plot(
            x0 + (x1 - x0) * xs,
            yy,
            color=color,
            alpha=0.35,
            lw=max(0.8, 28 * np.sqrt(f / fmax)),
            solid_capstyle="butt",
        )
        if f > 0.03 * fmax:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{f:,.0f}", fontsize=6, ha="center")
    for n, (x, y) in pos.items():
        if n not in {a for a, *_ in flows} | {b for _, b, *_ in flows}:
            continue
        label = n
        if n in outs:
            label = f"{n}\n{outs[n]:,.1f} t/yr"
        if n == "process water" and water_t_yr is not None:
            label = (
                f"process water\nreused condensate "
                f"{water_t_yr.get('condensate_reused_t_yr', 0.0):,.0f} t/yr\n"
                f"+ fresh {water_t_yr.get('fresh_water_t_yr', 0.0):,.0f} t/yr"
            )
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=7,
            bbox=dict(boxstyle="round", fc="white", ec="gray"),
        )
    leg = (
        "blue = process stream, green = purchased reagents and air, cyan = process "
        "water"
    )
    if has_rec:
        leg += ", red = recycle (mother liquor, reused condensate)"
    ax.set_title(
        f"{plant.case.name}: mass flows [t/yr]\n(band width ~ sqrt of flow; {leg}; "
        "idle units omitted)"
    )
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


METRIC_UNITS = {
    "npv": "NPV after tax [USD]",
    "cost": "annualised cost before tax [USD/yr]",
    "yield": "RE yield [-]",
    "reagents": "purchased reagents [t/yr]",
    "wastewater": "liquid discharge [t/yr]",
    "energy": "energy [MWh/yr]",
    "co2": "CO2 [t/yr]",
}
#: unit suffix of each metric's column in the printed Pareto table
METRIC_SUFFIX = {
    "npv": "USD",
    "cost": "USD_yr",
    "yield": "frac",
    "reagents": "t_yr",
    "wastewater": "t_yr",
    "energy": "MWh_yr",
    "co2": "t_yr",
}
_MAXIMISED = {"npv", "yield"}


def pareto_dominated(front: pd.DataFrame, metrics: list[str]) -> list[bool]:
    """For each row: is another row at least as good in every metric and better
    in one?  (NPV and yield maximised, the rest minimised; NaN rows never
    dominate and are never dominated.)"""
    sign = {k: -1.0 if k in _MAXIMISED else 1.0 for k in metrics}
    vals = [
        None
        if any(pd.isna(r[k]) for k in metrics)
        else tuple(sign[k] * float(r[k]) for k in metrics)
        for r in front.to_dict("records")
    ]
    out = []
    for i, a in enumerate(vals):
        dom = False
        if a is not None:
            for j, b in enumerate(vals):
                if j != i and b is not None:
                    if all(y <= x for x, y in zip(a, b, strict=True)) and b != a:
                        dom = True
                        break
        out.append(dom)
    return out


def pareto_table(front: pd.DataFrame, case) -> pd.DataFrame:
    """The front as printed: units in the metric columns, a point number, and
    whether a point is dominated in (primary, secondary, fresh water)."""
    p, s = case.pareto.primary, case.pareto.secondary
    df = front.copy()
    df.insert(0, "point", [str(i + 1) for i in range(len(df))])
    hd = df["headline"].astype(bool)
    df.loc[hd, "point"] = "headline"
    df["dominated_in_3_objectives"] = pareto_dominated(df, [p, s, "fresh_water_t_yr"])
    return df.rename(
        columns={
            p: f"{p}_{METRIC_SUFFIX[p]}",
            s: f"{s}_{METRIC_SUFFIX[s]}",
            f"{s}_bound": f"{s}_bound_{METRIC_SUFFIX[s]}",
        }
    )


PARETO_NOTE = (
    "Epsilon-constraint front: each numbered point optimises the primary metric "
    "with the secondary bounded; fresh water is reported for every point, not "
    "bounded.  The headline plant is the reported plant (it optimises the case's "
    "objective, which may be NPV rather than the primary metric, so it can lie off "
    "the front).  Points are optimal only to the solver's MIP gap: a point "
    "another point beats in every objective is drawn hollow and marked dominated."
)

PARETO_NOTE_3 = (
    "Epsilon-constraint front of three objectives: each numbered point optimises "
    "the primary metric with the secondary and the fresh water bounded "
    "(fresh_water_bound_t_yr; at each secondary bound the water runs from its "
    "least possible value to the value the unbounded point takes).  The headline "
    "plant is the reported plant (it optimises the case's objective, which may be "
    "NPV rather than the primary metric, so it can lie off the front).  Points are "
    "optimal only to the solver's MIP gap: a point another point beats in every "
    "objective is drawn hollow and marked dominated."
)


def pareto_note(case) -> str:
    """What the front is: two objectives (water reported) or three (bounded)."""
    return PARETO_NOTE_3 if case.pareto.water_points > 1 else PARETO_NOTE


def pareto_remark(front: pd.DataFrame, case) -> str | None:
    """A sentence when the front is a single plant (no trade-off to show)."""
    p, s = case.pareto.primary, case.pareto.secondary
    pts = front[~front["headline"].astype(bool)].dropna(subset=[p, s])
    if len(pts) < 2:
        return None
    same = all(
        (pts[k] - pts[k].iloc[0]).abs().max() <= 1e-9 * max(abs(pts[k].iloc[0]), 1.0)
        for k in (p, s, "fresh_water_t_yr")
    )
    if not same:
        return None
    return (
        f"Every point of the front is the same plant: the best {p} under each {s} "
        f"bound is the same plant, at the best {s} of the front, so {p} and {s} "
        "do not trade off in this case"
        + (
            " (nor does fresh water under its bounds)."
            if case.pareto.water_points > 1
            else " (fresh water was reported, not bounded)."
        )
    )


def pareto_png(front: pd.DataFrame, case, path: Path) -> None:
    """Three objectives in two panels with the same points: primary vs secondary
    and primary vs fresh water; points numbered, the headline plant a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p, s = case.pareto.primary, case.pareto.secondary
    df = front.reset_index(drop=True).copy()
    df["_dom"] = pareto_dominated(df, [p, s, "fresh_water_t_yr"])
    ok = df.dropna(subset=[p, s])
    hd_mask = ok["headline"].astype(bool)
    pts, hd = ok[~hd_mask], ok[hd_mask]
    scale = 1e6 if p in ("npv", "cost") else 1.0
    ylab = METRIC_UNITS[p].replace("[USD", "[M USD") if scale != 1 else METRIC_UNITS[p]
    obj = getattr(getattr(case, "objective", None), "kind", "the case objective")
    fig, axs = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, x, xlab in (
        (axs[0], s, METRIC_UNITS[s]),
        (axs[1], "fresh_water_t_yr", "fresh water [t/yr]"),
    ):
        if x == s:
            nd_ = pts[~pts["_dom"]].sort_values(s)
            ax.plot(nd_[s], nd_[p] / scale, color="gray", lw=0.8, zorder=1)
        labels: dict[tuple[float, float], list[str]] = defaultdict(list)
        for i, r in pts.iterrows():
            filled = not r["_dom"]
            ax.scatter(
                r[x],
                r[p] / scale,
                s=60,
                facecolors="tab:blue" if filled else "white",
                edgecolors="tab:blue",
                zorder=2,
            )
            # points at the same place get one label ("1, 2, 3")
            key = (float(r[x]), float(r[p] / scale))
            labels[key].append(f"{i + 1}" + ("" if filled else " (dominated)"))
        for (xv, yv), names in labels.items():
            ax.annotate(
                ", ".join(names),
                (xv, yv),
                textcoords="offset points",
                xytext=(6, 4),
                fontsize=8,
            )
        if len(hd):
            ax.scatter(
                hd[x],
                hd[p] / scale,
                marker="*",
                s=300,
                color="red",
                zorder=3,
                label=f"headline (reported) plant: optimises {obj}",
            )
        ax.set_xlabel(xlab)
        ax.grid(alpha=0.3)
    axs[0].set_ylabel(ylab)
    axs[0].legend(fontsize=8, loc="best")
    fig.suptitle(
        f"{case.name}: Pareto front, {p} vs {s} vs fresh water (same points in "
        "both panels; hollow = dominated by another point, each point being "
        "optimal only to the MIP gap)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(res, out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    st = res.tables["streams"]
    files["stream_table_csv"] = str(out / "stream_table.csv")
    st.to_csv(files["stream_table_csv"], index=False)
    files["stream_table_html"] = str(out / "stream_table.html")
    st.to_html(
        files["stream_table_html"],
        index=False,
        float_format=lambda x: f"{x:.6g}",
        na_rep="-",  # T of a stream that carries nothing
    )
    for k in (
        "products",
        "reagents",
        "salts",
        "energy",
        "equipment",
        "economics",
        "opex",
        "cash_flow",
        "sx_banks",
        "sx_recoveries",
        "boundary_streams",
    ):
        files[f"{k}_csv"] = str(out / f"{k}.csv")
        res.tables[k].to_csv(files[f"{k}_csv"], index=False)
    files["summary_json"] = str(out / "summary.json")
    with open(files["summary_json"], "w") as fh:
        json.dump(
            {**res.summary, "solve": res.solve.as_dict(), "timings_s": res.timings_s},
            fh,
            indent=2,
            default=float,
        )
    files["report_txt"] = str(out / "report.txt")
    Path(files["report_txt"]).write_text(text_report(res))
    for name in SX_UNITS:
        f = out / f"sx_profile_{name}.png"
        if sx_profile_png(res.resim, name, f):
            files[f"sx_profile_{name}_png"] = str(f)
    files["sankey_png"] = str(out / "mass_flow_sankey.png")
    sankey_png(
        res.plant, res.resim, Path(files["sankey_png"]), res.summary.get("water")
    )
    uv = unverified(res.plant.data)
    files["unverified_defaults_csv"] = str(out / "unverified_defaults.csv")
    pd.DataFrame(
        [
            {
                "entry": k,
                "value": json.dumps(e.value),
                "unit": e.unit,
                "source": e.source,
            }
            for k, e in uv
        ]
    ).to_csv(files["unverified_defaults_csv"], index=False)
    if res.pareto is not None:
        files["pareto_csv"] = str(out / "pareto.csv")
        pareto_table(res.pareto, res.case).to_csv(files["pareto_csv"], index=False)
        files["pareto_png"] = str(out / "pareto.png")
        pareto_png(res.pareto, res.case, Path(files["pareto_png"]))
    from rexopt.units.html_report import write_html

    files["report_html"] = write_html(res, out, files)
    return files
