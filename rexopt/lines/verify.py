"""Re-verification (and in-line repair) of a chosen line with the cascade kernel.

Every chosen cascade is simulated in sequence, parents first: the kernel's actual
outlets of one cascade (with whatever crossed its cut) are the feed of the next,
so the product purities and recoveries printed here are those of the line as the
kernel sees it, not the theory's.

* An **unlinked** cascade passes its raffinate and strip liquor on as aqueous
  feeds through a conditioning step (:func:`rexopt.lines.streams.condition`):
  the outlet as the kernel gave it (volume, rare earth, chloride, free acid,
  counter-ion) has its free acid neutralised to ``feed.acidity_mol_L`` and is
  diluted or concentrated to ``feed.conc_mol_L``; the step's base, acid and
  water are counted in the line's reagents, water and metrics.
* A **linked** cascade (``link_model = "xu_organic_feed"``, the default) is run as
  operated: the upstream cascade is simulated without its strip section and the
  organic that leaves its scrub section (``loaded_organic`` in the kernel result)
  is the downstream's organic feed at its first scrub stage, with the upstream's
  molar flows.  The saturated kernel gives every litre of organic that enters a
  stage the capacity ``s C_HA/3`` (less the scrub acid, ``rexopt.cascade``:
  ``cap = Ymax - used/org_in``), but the upstream's scrub acid has already
  turned part of that organic's sites to H form.  So the loaded organic enters
  with the volume that carries exactly its remaining sites,
  ``capacity_mol_h / Ymax`` (the kernel's own capacity at the upstream's last
  scrub stage times its flow): in the saturated model a stage's solution depends
  on the organic only through flow x capacity, so the metal flows are those of
  the real stream, with no phantom capacity; organic concentrations [mol/L] of
  the downstream's scrub section are per this capacity-equivalent volume.
* ``link_model = "exchange"`` has no kernel counterpart (its downstream would
  need its own feed as extractant); the downstream is simulated as its
  aqueous-feed design and labelled so.

Each cascade keeps its Xu stages and its kernel-calibrated organic and scrub flows
(:mod:`rexopt.lines.calibrate`) scaled to the organic-side (extracted) group it
actually receives: in the saturated model the organic capacity left after the
scrub acid sets the split, so it must follow the extracted product.

**In-line repair** (``design.repair``): each chosen two-outlet cascade is then
re-calibrated on the feed it actually receives, with the boundary budgets of
:mod:`rexopt.lines.superstructure` as targets: at a cut after block k, the
material of blocks <= k in the organic outlet must stay below ``up[k]`` and the
material of blocks > k in the raffinate below ``down[k]`` [mol/h] -- including
what crossed upstream and rides along, since it ends in the same product -- each
with ``repair_margin`` of the budget kept in reserve (halved, then dropped, if no
flows achieve it).  Products are then contaminated only by crossings that meet
their budgets, so every product meets its purity and recovery spec with margin.
"""

from __future__ import annotations

import copy
import dataclasses

import rexopt
from rexopt.cascade import CascadeError
from rexopt.chemistry import element
from rexopt.lines.calibrate import calibrate_case
from rexopt.lines.model import LineSolution
from rexopt.lines.streams import condition, kernel_outlet_ions, loaded_organic
from rexopt.lines.superstructure import (
    Superstructure,
    _case_for,
    _task_components,
    _variant,
    aqueous_inlets_L_h,
    brine_to_zld,
    outlet_group,
    outlet_groups,
    step_metrics,
)

__all__ = ["apply_repair", "loaded_organic", "verify_line"]


def _ymax(ss: Superstructure) -> float:
    ch = ss.case.chemistry
    return ch.saponification * ch.extractant_mol_L / 3.0  # [mol/L]


def _crossings(ss: Superstructure, t, groups) -> tuple[float, float]:
    """Material crossing the task's boundary k: (blocks <= k in the organic
    outlet, blocks > k in the raffinate) [mol/h]."""
    k = t.cuts[0]
    low = set(_task_components(ss.blocks, 0, k))
    high = set(_task_components(ss.blocks, k + 1, len(ss.blocks) - 1))
    imp_o = sum(v for c, v in groups["organic"].items() if c in low)
    imp_r = sum(v for c, v in groups["raffinate"].items() if c in high)
    return imp_o, imp_r


def _kernel_reagents(case: dict) -> dict[str, float]:
    """Base and acid of a simulated case, from its flows [mol/h]."""
    o = case["organic"]
    acid = case["scrub"]["flow_L_h"] * case["scrub"]["acidity_mol_L"]
    strip_acid = 0.0
    if "strip" in case and "strip" in case["sections"]:
        strip_acid = case["strip"]["flow_L_h"] * case["strip"]["acidity_mol_L"]
    return {
        "base_HA_mol_h": o["saponification"] * o["extractant_mol_L"] * o["flow_L_h"],
        "scrub_acid_mol_h": acid,
        "strip_acid_mol_h": strip_acid,
        "acid_mol_h": acid + strip_acid,
    }


def _repair(ss, t, case, margin):
    """Re-calibrate ``case`` (already on its actual feed) to the boundary budgets.

    Returns (calibration dict or None, reason if infeasible)."""
    k = t.cuts[0]
    up, down = ss.up[k], ss.down[k]

    def fn(r):
        g = outlet_groups(r)
        io, ir = _crossings(ss, t, g)
        return (
            1.0 - io / up,
            1.0 - ir / down,
            {"crossing_organic_mol_h": io, "crossing_raffinate_mol_h": ir},
        )

    last = None
    for m in (margin, 0.5 * margin, 0.0) if margin > 0 else (0.0,):
        cal = calibrate_case(case, fn, m, m)
        cal["margin_target"] = m
        if cal["feasible"]:
            return cal, None
        last = cal
    io = last.get("crossing_organic_mol_h")
    ir = last.get("crossing_raffinate_mol_h")
    why = (
        f"no scrub/organic flow keeps both crossings of boundary "
        f"{ss.blocks[k][0]}|{ss.blocks[k + 1][0]} within budget on the feed this "
        f"cascade receives ({last.get('reason')}); best point: "
        + (
            f"{io:.4g} mol/h of {ss.blocks[k][0]}-side material in the organic "
            f"outlet (budget {up:.4g}), {ir:.4g} mol/h of "
            f"{ss.blocks[k + 1][0]}-side material in the raffinate (budget "
            f"{down:.4g})"
            if io is not None
            else "kernel failed at every point"
        )
    )
    return None, why


def verify_line(
    ss: Superstructure, sol: LineSolution, *, repair: bool | None = None
) -> dict:
    """Simulate the chosen cascades in sequence; product purity/recovery vs specs.

    Parameters
    ----------
    repair : bool, optional
        Re-calibrate every chosen two-outlet cascade on the feed it actually
        receives (default ``design.repair and design.calibrate``).

    Returns
    -------
    dict
        ``cascades`` (per task: kernel feed phase and molar flows, the upstream
        loaded organic for a linked cascade, outlets [mol/h], balance error,
        kernel reagents [mol/h], repair), ``products`` (purity, recovery, spec,
        margins, met), ``conservation`` (per component: feed, sum of products,
        relative error), ``metrics`` (line totals costed from the kernel flows,
        units as :data:`rexopt.lines.model.UNITS`), ``reagents_mol_h``,
        ``repaired_calibrations`` (cut label -> task key, feed phase and the
        repaired calibration on the design feed),
        ``problems``, ``all_met``.
    """
    d = ss.case.design
    if repair is None:
        repair = d.repair and d.calibrate
    mode = d.link_model
    ymax = _ymax(ss)
    streams = {
        ss.root: {"mol_h": dict(ss.feed.mol_h), "loaded": None, "flow_L_h": None}
    }
    water_rows: dict[str, dict] = {}
    chosen = {ss.tasks[k].group: ss.tasks[k] for k in sol.tasks}
    order = sorted(chosen, key=lambda s: -(s[1] - s[0]))  # parents before children
    cascades: dict[str, dict] = {}
    repaired: dict[tuple, dict] = {}
    metrics: dict[str, float] = {}
    reag = {
        "base_HA_mol_h": 0.0,
        "acid_mol_h": 0.0,
        "strip_acid_mol_h": 0.0,
        "conditioning_base_eq_mol_h": 0.0,
        "conditioning_acid_mol_h": 0.0,
    }
    ion_rows: dict[str, dict] = {}
    problems: list[str] = []
    for s in order:
        t = chosen[s]
        inflow = streams[s]
        tot_in = sum(inflow["mol_h"].values())
        feed = {c: v for c, v in inflow["mol_h"].items() if v > 1e-12 * tot_in}
        var = sol.variants.get(t.key, ("aq", True))
        org = var[0] == "org" and mode == "xu_organic_feed"
        if org and inflow["loaded"] is None:
            raise ValueError(
                f"{t.label}: variant needs a loaded-organic feed but its upstream "
                "passes an aqueous stream (inconsistent line solution)"
            )
        design = t.design_org if org else t.design
        phase = "org" if org else "aq"
        case = _case_for(ss, t, design, feed, phase)
        base_case = _case_for(ss, t, design, t.feed_mol_h, phase)
        if org:
            q = inflow["loaded"]["capacity_mol_h"] / ymax  # capacity-equivalent [L/h]
            case["feed"]["flow_L_h"] = q
            case["feed"]["conc_mol_L"] = {c: v / q for c, v in feed.items()}
        if not var[1]:  # linked on: no strip section
            del case["sections"]["strip"]
            del case["strip"]
        calib = t.calib_org if org else t.calib
        a, b = t.outputs["organic"]
        side = set(_task_components(ss.blocks, a, b))
        A_des = sum(v for c, v in t.feed_mol_h.items() if c in side)
        A_act = sum(v for c, v in feed.items() if c in side)
        r = A_act / A_des if A_des > 0 else 1.0
        if calib and calib.get("feasible"):
            case["organic"]["flow_L_h"] = calib["organic_flow_L_h"] * r
            case["scrub"]["flow_L_h"] = calib["scrub_flow_L_h"] * r
        row: dict = {
            "variant": {"feed": var[0], "strip": var[1]},
            "kernel_case_feed": "organic" if org else "aqueous",
            "root": t.group == ss.root,
            "kernel_feed": {
                "phase": case["feed"]["phase"],
                "stage": case["feed"]["stage"],
                "flow_L_h": case["feed"]["flow_L_h"],
                "acidity_mol_L": case["feed"].get("acidity_mol_L", 0.0),
                "RE_eq_h": sum(
                    element(c).charge * v for c, v in case["feed"]["conc_mol_L"].items()
                )
                * case["feed"]["flow_L_h"],
                "mol_h": {
                    c: case["feed"]["flow_L_h"] * v
                    for c, v in case["feed"]["conc_mol_L"].items()
                },
            },
        }
        cond = None
        if case["feed"]["phase"] == "aqueous" and t.group != ss.root and var[0] == "aq":
            # the upstream outlet as the kernel gave it (volume, free acid,
            # counter-ion salt) brought to this cascade's feed: its conditioning
            # step (water, base/acid) is counted, the kernel case gets the result
            if inflow.get("ions") is None:
                problems.append(
                    f"cut {t.label}: its upstream was not simulated; the "
                    "conditioning of its feed is not counted"
                )
            else:
                cond = condition(
                    inflow["ions"],
                    case["feed"]["flow_L_h"],
                    case["feed"]["acidity_mol_L"],
                )
                row["conditioning"] = cond
        if org:
            row["upstream_loaded_organic"] = inflow["loaded"]
        elif var[0] == "org":
            row["note"] = (
                "exchange link model (unverified estimate): the linked operation "
                "has no kernel case; simulated as the aqueous-feed design"
            )
        rep = None
        if repair and len(t.cuts) == 1 and calib and calib.get("feasible"):
            rep, why = _repair(ss, t, case, d.repair_margin)
            if rep is None:
                problems.append(f"cut {t.label}: {why}")
                row["repair"] = {"feasible": False, "reason": why}
            else:
                case["organic"]["flow_L_h"] = rep["organic_flow_L_h"]
                case["scrub"]["flow_L_h"] = rep["scrub_flow_L_h"]
                # the same operating point per mol of the design feed, for costing
                O_d = rep["organic_flow_L_h"] / r
                Q_d = rep["scrub_flow_L_h"] / r
                eq = {
                    "feasible": True,
                    "org_factor": O_d / base_case["organic"]["flow_L_h"],
                    "scrub_factor": Q_d / base_case["scrub"]["flow_L_h"],
                    "organic_flow_L_h": O_d,
                    "scrub_flow_L_h": Q_d,
                    "repaired": True,
                }
                repaired[t.label] = {"key": t.key, "phase": phase, "calib": eq}
                row["repair"] = {
                    "feasible": True,
                    "margin_target": rep["margin_target"],
                    "organic_flow_L_h": rep["organic_flow_L_h"],
                    "scrub_flow_L_h": rep["scrub_flow_L_h"],
                    "organic_flow_factor": rep["organic_flow_L_h"]
                    / (calib["organic_flow_L_h"] * r),
                    "scrub_flow_factor": rep["scrub_flow_L_h"]
                    / (calib["scrub_flow_L_h"] * r),
                    "simulations": rep["simulations"],
                }
        try:
            res = rexopt.simulate(case)
        except CascadeError as err:
            cascades[t.label] = {**row, "error": f"{type(err).__name__}: {err}"}
            problems.append(f"cut {t.label}: kernel failed: {err}")
            # pass the theory's sharp split on so the rest can still be checked
            for a, b in t.outputs.values():
                comps = set(_task_components(ss.blocks, a, b))
                streams[(a, b)] = {
                    "mol_h": {c: v for c, v in feed.items() if c in comps},
                    "loaded": None,
                }
            continue
        groups = outlet_groups(res)
        vols = _aqueous_outlet_volumes(res)
        ions = kernel_outlet_ions(
            res, case, cond["feed"]["spectator_eq_h"] if cond else 0.0
        )
        ion_rows[t.label] = ions
        row["ions"] = {
            "outlets": ions["outlets"],
            "H_to_organic_mol_h": ions["H_to_organic_mol_h"],
            "balances": ions["balances"],
        }
        for name, (a, b) in t.outputs.items():
            streams[(a, b)] = {
                "mol_h": groups[name],
                "loaded": None,
                "flow_L_h": vols.get(name),
                "ions": ions["outlets"].get(OUTLET_OF[name]),
            }
        water_rows[t.label] = _water_row(
            case, res, inflow, org, t.group == ss.root, t, ss, var[1]
        )
        if not var[1]:
            lo = loaded_organic(res)
            streams[t.outputs["organic"]] = {"mol_h": lo["mol_h"], "loaded": lo}
            row["loaded_organic_out"] = lo
        kr = _kernel_reagents(case)
        for key in kr:
            if key in reag:
                reag[key] += kr[key]
        # cost from the flows the kernel ran (per mol of the design feed)
        tc = t
        if t.label in repaired:
            fld = "calib_org" if org else "calib"
            tc = dataclasses.replace(t, **{fld: repaired[t.label]["calib"]})
        v = _variant(ss, tc, *var)
        for n, val in v.metrics.items():
            metrics[n] = metrics.get(n, 0.0) + val
        if cond is not None:  # the step before this cascade, costed as the MILP's
            sm = step_metrics(ss, cond)
            for n, val in sm.items():
                if not n.startswith("_"):
                    metrics[n] = metrics.get(n, 0.0) + val
            reag["conditioning_base_eq_mol_h"] += cond["base_eq_mol_h"]
            reag["conditioning_acid_mol_h"] += cond["acid_mol_h"]
            row["conditioning_metrics"] = {
                k: v for k, v in sm.items() if not k.startswith("_")
            }
        row.update(
            {
                "outlets_mol_h": groups,
                "max_balance_error": float(res.convergence["max_balance_error"]),
                "stages": [
                    case["sections"][k]["stages"] if k in case["sections"] else 0
                    for k in ("extraction", "scrub", "strip")
                ],
                "organic_flow_L_h": case["organic"]["flow_L_h"],
                "scrub_flow_L_h": case["scrub"]["flow_L_h"],
                "kernel_reagents_mol_h": kr,
                "metrics": v.metrics,
            }
        )
        if len(t.cuts) == 1:
            io, ir = _crossings(ss, t, groups)
            k = t.cuts[0]
            row["crossing_mol_h"] = {
                "organic": io,
                "organic_budget": ss.up[k],
                "raffinate": ir,
                "raffinate_budget": ss.down[k],
            }
        cascades[t.label] = row
    products = {}
    all_met = True
    for bk, (name, comps) in enumerate(ss.blocks):
        st = streams.get((bk, bk), {"mol_h": {}})["mol_h"]
        tot = sum(st.values())
        mine = sum(st.get(c, 0.0) for c in comps)
        fed = sum(ss.feed.mol_h[c] for c in comps)
        P, R = ss.specs[bk]
        pur = mine / tot if tot > 0 else 0.0
        rec = mine / fed
        met = pur >= P - 1e-9 and rec >= R - 1e-9
        all_met &= met
        products[name] = {
            "purity": pur,
            "recovery": rec,
            "purity_spec": P,
            "recovery_spec": R,
            "purity_margin": pur - P,
            "recovery_margin": rec - R,
            # impurity as a fraction of what the purity spec allows at this flow
            "impurity_budget_used": (tot - mine) / (mine * (1.0 - P) / P)
            if mine > 0
            else float("inf"),
            "met": met,
            "flow_mol_h": tot,
            "impurities_mol_h": {c: v for c, v in st.items() if c not in comps},
        }
        if not met:
            problems.append(
                f"product {name}: purity {pur:.5f} (spec {P}), recovery {rec:.4f} "
                f"(spec {R}) not met"
            )
    cons = {}
    for c, fed in ss.feed.mol_h.items():
        out = sum(
            streams.get((bk, bk), {"mol_h": {}})["mol_h"].get(c, 0.0)
            for bk in range(len(ss.blocks))
        )
        cons[c] = {
            "feed_mol_h": fed,
            "products_mol_h": out,
            "relative_error": abs(out - fed) / fed,
        }
    water = _line_water(ss, water_rows, streams, reag, cascades)
    reag["base_total_eq_mol_h"] = (
        reag["base_HA_mol_h"] + reag["conditioning_base_eq_mol_h"]
    )
    reag["acid_total_mol_h"] = reag["acid_mol_h"] + reag["conditioning_acid_mol_h"]
    ion_bal = _line_ions(ss, ion_rows, cascades, streams, reag)
    return {
        "cascades": cascades,
        "products": products,
        "conservation": cons,
        "water": water,
        "ions": ion_bal,
        "metrics": metrics,
        "reagents_mol_h": reag,
        "repaired_calibrations": repaired,
        "repair": bool(repair),
        "link_model": mode,
        "problems": problems,
        "all_met": all_met,
    }


def _aqueous_outlet_volumes(res) -> dict[str, float]:
    """Volume of each task output that leaves as an aqueous kernel outlet [L/h]."""
    out: dict[str, float] = {}
    o = res.outlets
    for name in o.index:
        if o.loc[name, "phase"] != "aqueous":
            continue
        g = outlet_group(name)
        out[g] = out.get(g, 0.0) + float(o.loc[name, "flow_L_h"])
    return out


def _water_row(case, res, inflow, org, root, t, ss, strip) -> dict:
    """Water of one kernel-run cascade from its own streams [L/h]: aqueous inlets
    (feed, scrub, strip), aqueous outlets, and for a downstream aqueous feed the
    volume of the upstream outlet it receives and the adjustment to the feed's
    volume (positive: dilution water added; negative: water evaporated)."""
    inl = aqueous_inlets_L_h(case)
    o = res.outlets
    outl = {
        n: float(o.loc[n, "flow_L_h"])
        for n in o.index
        if o.loc[n, "phase"] == "aqueous"
    }
    row = {
        "inlets_L_h": inl,
        "outlets_L_h": outl,
        "water_in_L_h": sum(inl.values()),
        "water_out_L_h": sum(outl.values()),
        "feed_from": "line feed" if root else ("loaded organic" if org else "upstream"),
        "upstream_outlet_L_h": None,
        "adjustment_L_h": 0.0,
    }
    if not root and not org:
        up = inflow.get("flow_L_h")
        row["upstream_outlet_L_h"] = up
        if up is not None:
            row["adjustment_L_h"] = inl["feed"] - up
    # outlets that are products (a single block) leave the line here
    leaf = 0.0
    vols = _aqueous_outlet_volumes(res)
    for name, (a, b) in t.outputs.items():
        if a == b and name in vols and (name != "organic" or strip):
            leaf += vols[name]
    row["to_products_L_h"] = leaf
    return row


def _line_water(ss, rows: dict, streams, reag, cascades) -> dict:
    """Whole-line water balance from the kernel-run cascades [L/h, t/h].

    In: the line feed, every scrub and strip solution and the dilution water
    that brings a downstream aqueous feed to ``feed.conc_mol_L``; out: the
    aqueous product streams (to precipitation, then ZLD) and the water
    evaporated to concentrate a downstream feed.  ``closure`` is the relative
    difference (zero: every litre is counted once).
    """
    feed = sum(r["inlets_L_h"].get("feed", 0.0) for r in rows.values() if
               r["feed_from"] == "line feed")  # fmt: skip
    sol = sum(
        r["inlets_L_h"].get("scrub", 0.0) + r["inlets_L_h"].get("strip", 0.0)
        for r in rows.values()
    )
    dil = sum(max(r["adjustment_L_h"], 0.0) for r in rows.values())
    conc = sum(max(-r["adjustment_L_h"], 0.0) for r in rows.values())
    prod = sum(r["to_products_L_h"] for r in rows.values())
    w_in = feed + sol + dil
    z = brine_to_zld(
        reag["base_HA_mol_h"] + reag["conditioning_base_eq_mol_h"], prod,
        agent=ss.case.chemistry.agent,
        evaporator=ss.case.zld.evaporator,
    )  # fmt: skip
    zc = brine_to_zld(
        0.0, conc, agent=ss.case.chemistry.agent, evaporator=ss.case.zld.evaporator
    )
    return {
        "cascades": rows,
        "line_feed_L_h": feed,
        "scrub_strip_solutions_L_h": sol,
        "dilution_L_h": dil,
        "concentration_evaporated_L_h": conc,
        "water_in_L_h": w_in,
        "to_products_L_h": prod,
        "closure": (w_in - conc - prod) / w_in if w_in > 0 else 0.0,
        "zld": z,
        "concentration": zc,
        "water_evaporated_t_h": z["water_evaporated_t_h"] + zc["water_evaporated_t_h"],
        "evaporation_kWh_h": z["electricity_kWh_h"] + zc["electricity_kWh_h"],
        "steam_t_h": z["steam_t_h"] + zc["steam_t_h"],
        "complete": not any("error" in c for c in cascades.values()),
    }


#: task output -> the kernel outlet that carries it when stripped
OUTLET_OF = {
    "organic": "strip_liquor",
    "raffinate": "raffinate",
    "middle": "side_draw_1",
}


def _line_ions(ss, ion_rows: dict, cascades: dict, streams: dict, reag) -> dict:
    """Chloride, proton and counter-ion balances of the kernel-run line [mol/h].

    In: the line feed's chloride and free acid (the kernel's anion and acid inputs
    of the root cascade), every scrub and strip acid, the conditioning steps'
    make-up acid and base, and the saponification base.  Out: the product streams
    (the aqueous outlets whose state is one product), the protons taken up by the
    organic (scrub acid turned to H-form sites, strip acid spent) and the free acid
    the conditioning steps neutralised.  Each closes only if every downstream feed
    received what its upstream outlet carried (plus its conditioning step).
    """
    if any("error" in c for c in cascades.values()):
        return {"complete": False, "reason": "a cascade failed in the kernel"}
    if any(c.get("note") for c in cascades.values()):
        return {
            "complete": False,
            "reason": "exchange link model: the linked cascade has no kernel case "
            "(its feed is simulated as an aqueous stream), so its ions are not "
            "those of the linked operation",
        }
    root = next(lab for lab, c in cascades.items() if c.get("root"))
    feed_cl = feed_h = acids = sap = h_org = 0.0
    for label, io in ion_rows.items():
        c = cascades[label]
        kr = c["kernel_reagents_mol_h"]
        acids += kr["acid_mol_h"]
        sap += io["base_eq_mol_h"]
        h_org += io["H_to_organic_mol_h"]
        if label == root:
            f = c["kernel_feed"]
            feed_h = f["acidity_mol_L"] * f["flow_L_h"]
            feed_cl = f["RE_eq_h"] + feed_h
    cond_acid = reag["conditioning_acid_mol_h"]
    cond_base = reag["conditioning_base_eq_mol_h"]
    prods = [streams.get((b, b), {}).get("ions") for b in range(len(ss.blocks))]
    if any(p is None for p in prods):
        return {"complete": False, "reason": "a product stream has no kernel ions"}
    out = {
        k: sum(p[k] for p in prods)
        for k in ("Cl_mol_h", "H_mol_h", "counter_ion_eq_h", "RE_eq_h")
    }

    def bal(a, b, terms):
        return {
            "in": a,
            "out": b,
            "relative_error": abs(a - b) / max(abs(a), 1e-300),
            "terms": terms,
        }

    return {
        "complete": True,
        "products": {ss.blocks[b][0]: p for b, p in enumerate(prods)},
        "chloride": bal(
            feed_cl + acids + cond_acid,
            out["Cl_mol_h"],
            {
                "line_feed": feed_cl,
                "scrub_strip_acid": acids,
                "conditioning_acid": cond_acid,
                "products": out["Cl_mol_h"],
            },
        ),
        "protons": bal(
            feed_h + acids + cond_acid,
            out["H_mol_h"] + h_org + cond_base,
            {
                "line_feed": feed_h,
                "scrub_strip_acid": acids,
                "conditioning_acid": cond_acid,
                "products": out["H_mol_h"],
                "to_organic_sites": h_org,
                "neutralised_in_conditioning": cond_base,
            },
        ),
        "counter_ion": bal(
            sap + cond_base,
            out["counter_ion_eq_h"],
            {
                "saponification": sap,
                "conditioning_base": cond_base,
                "products": out["counter_ion_eq_h"],
            },
        ),
    }


def apply_repair(ss: Superstructure, check: dict) -> list[str]:
    """Store the repaired calibrations of a :func:`verify_line` check in their tasks
    and re-cost the tasks' variants; returns the labels of the tasks changed."""
    changed = []
    for rc in check.get("repaired_calibrations", {}).values():
        t = ss.tasks[tuple(rc["key"])]
        fld = "calib_org" if rc["phase"] == "org" else "calib"
        old = getattr(t, fld) or {}
        new = {**copy.deepcopy(old), **rc["calib"]}
        setattr(t, fld, new)
        for var in list(t.variants):
            uses_org = var[0] == "org" and ss.case.design.link_model != "exchange"
            if uses_org == (rc["phase"] == "org"):
                t.variants[var] = _variant(ss, t, *var)
        changed.append(t.label)
    return changed
