"""Run a separation-line case and report it: tables, balances, diagram, JSON.

:func:`optimize_line` does the whole job (superstructure, MILP, comparisons,
Pareto front, kernel re-verification); :func:`write_outputs` writes

* ``line.png``           the chosen sequence (cascades, streams, links dashed)
* ``line_report.md``     design table, reagent/water balance per product,
                         comparisons, Pareto front, kernel check, unverified data
* ``line_result.json``   every number of the above
* ``pareto.png``         the Pareto front (if asked for)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rexopt.lines.case import OBJECTIVES, LineCase, load_line_case
from rexopt.lines.model import UNITS, LineModel, LineSolution, evaluate, pareto
from rexopt.lines.superstructure import (
    LINE_COSTS,
    Superstructure,
    build_superstructure,
    pair_metrics,
    parse_cut,
)
from rexopt.lines.verify import apply_repair, verify_line
from rexopt.lines.zld import brine_to_zld

#: the water and evaporation figures of a kernel-run line, in report order
#: (rexopt.lines.verify._line_water computes them; linkage_saving compares them)
WATER_METRICS = (
    "water_in_L_h",
    "scrub_strip_solutions_L_h",
    "dilution_L_h",
    "concentration_evaporated_L_h",
    "water_evaporated_t_h",
    "evaporation_kWh_h",
)


#: reagent figures of a kernel-run line [mol/h] (rexopt.lines.verify.verify_line):
#: the cascades' own (saponification base, scrub + strip acid), the conditioning
#: steps' between cascades, and the totals the lines are compared on
REAGENT_METRICS = (
    "base_total_eq_mol_h",
    "acid_total_mol_h",
    "base_HA_mol_h",
    "acid_mol_h",
    "strip_acid_mol_h",
    "conditioning_base_eq_mol_h",
    "conditioning_acid_mol_h",
)

#: what the line accounting approximates, said in every report (docs/lines.md)
APPROXIMATIONS = (
    "Free acid and the saponification counter-ion are not species of the "
    "saturated kernel model: their flows in every outlet follow from the kernel's "
    "anion profile, rare-earth flows and organic capacity by the model's own rules "
    "(scrub acid taken up by the organic, feed acid passing to the raffinate, "
    "strip acid spent on every site of the loaded organic); chloride, proton and "
    "counter-ion balances of the line are checked.",
    "Between two cascades an aqueous outlet is conditioned to the downstream "
    "design feed (feed.conc_mol_L, feed.acidity_mol_L): its free acid neutralised "
    "with the saponification agent (salt to ZLD), water added or evaporated.  The "
    "saturated kernel's metal split does not depend on feed acidity, so feeding "
    "the liquor's free acid unneutralised would not show its cost on the kernel; "
    "the step is counted instead.  The counter-ion salt it carries is not a "
    "species of the downstream kernel case (it does not act in the saturated "
    "model) and is routed to that cascade's raffinate.",
    "The rare earth the kernel leaves on a stripped organic is passed on with the "
    "strip liquor and stripped by its free acid (as if the stripped organic were "
    "returned and stripped again); the organic loop itself is not simulated.",
    "Water evaporated to concentrate a downstream feed is evaporated at the ZLD "
    "evaporator's kWh/t and counted once where it entered the line; any HCl "
    "that would distil with it is not modelled (the step neutralises first).",
    "The MILP prices each conditioning step from the upstream candidate's "
    "kernel case on its design feed; the kernel-run line prices it from the "
    "streams the upstream cascade actually passes on.",
    "A linked loaded organic enters the downstream kernel case at the volume "
    "that carries its remaining sites (exact for metal flows in the saturated "
    "model only).",
    "Energy is evaporation energy only (no mixing or pumping power).",
)


def optimize_line(case: str | Path | dict | LineCase, *, verify: bool = True) -> dict:
    """Optimize a separation line; everything the report prints, as a dict.

    Raises
    ------
    rexopt.lines.superstructure.LineSpecError
        The specification cannot be met; the message says why.
    """
    t0 = time.perf_counter()
    lc = case if isinstance(case, LineCase) else load_line_case(case)
    ss = build_superstructure(lc)
    t_build = time.perf_counter() - t0
    obj = lc.objective.kind
    forced = [parse_cut(ss, c) for c in lc.design.force]
    lm = LineModel(ss)
    lm.fix(forced)
    best = lm.optimize(obj, time_limit_s=lc.objective.time_limit_s, label="best")
    d = lc.design
    rounds: list[dict] = []
    check = None
    if verify and d.repair and d.calibrate and d.verify_candidates:
        # in-line repair: re-calibrate the chosen cascades on the feed they
        # receive, re-cost them, re-solve until the choice is stable
        for rnd in range(1, d.repair_rounds + 1):
            check = verify_line(ss, best, repair=True)
            changed = apply_repair(ss, check)
            lm = LineModel(ss)
            lm.fix(forced)
            new = lm.optimize(
                obj, time_limit_s=lc.objective.time_limit_s, label=f"repair {rnd}"
            )
            stable = _same_line(new, best)
            rounds.append(
                {
                    "round": rnd,
                    "sequence": [ss.tasks[k].label for k in best.tasks],
                    "links": len(best.links),
                    f"{obj}_before": best.metrics[obj],
                    f"{obj}_repaired": check["metrics"].get(obj),
                    "recalibrated": changed,
                    "all_met": check["all_met"],
                    "resolved_sequence": [ss.tasks[k].label for k in new.tasks],
                    "choice_stable": stable,
                }
            )
            best = new
            if stable:
                break
        else:
            check = verify_line(ss, best, repair=True)
    best.label = "optimal" + (" (linked)" if best.links else "")
    out = {
        "case": lc.name,
        "objective": obj,
        "objective_unit": UNITS[obj],
        "superstructure": {**ss.sizes(), **lm.size()},
        "superstructure_note": (
            "binaries = one per candidate cut + one per (cut, feed phase, strip) "
            "variant + one per loaded-organic link + one per aqueous connection "
            "(upstream cut and feed phase, outlet, downstream cut) with its "
            "conditioning step"
        ),
        "boundary_crossing_mol_h": {
            f"{ss.blocks[k][0]}|{ss.blocks[k + 1][0]}": {
                "down": ss.down[k],
                "up": ss.up[k],
            }
            for k in range(len(ss.down))
        },
        "feed": {
            "components": ss.feed.components,
            "mol_h": ss.feed.mol_h,
            "oxide_pct": ss.feed.oxide_pct,
            "status": ss.feed.status,
            "capacity_t_REO_y": lc.feed.capacity_t_REO_y,
        },
        "chosen": describe(ss, best),
    }
    # comparisons: best without linkage, conventional fixed sequence
    nl = LineModel(ss, linkage=False)
    nl.fix(forced)
    unlinked = nl.optimize(
        obj, time_limit_s=lc.objective.time_limit_s, label="no linkage"
    )
    out["best_unlinked"] = describe(ss, unlinked)
    comp = {"best_unlinked": _saving(best, unlinked)}
    if lc.conventional.sequence:
        keys = [parse_cut(ss, c) for c in lc.conventional.sequence]
        conv = evaluate(ss, keys, linked=lc.conventional.linked, objective=obj)
        out["conventional"] = describe(ss, conv)
        comp["conventional"] = _saving(best, conv)
    out["savings_of_chosen_vs"] = comp
    if lc.objective.pareto:
        a, b = lc.objective.pareto
        front = pareto(lm, a, b, lc.objective.points, lc.objective.time_limit_s)
        out["pareto"] = {
            "objectives": [a, b],
            "units": [UNITS[a], UNITS[b]],
            "points": [
                {
                    "metrics": p.metrics,
                    "sequence": [ss.tasks[k].label for k in p.tasks],
                    "links": len(p.links),
                }
                for p in front
            ],
        }
    out["candidates"] = [_candidate_row(t) for t in ss.tasks.values()]
    if verify:
        out["kernel_check"] = check if check is not None else verify_line(ss, best)
        out["repair_rounds"] = rounds
        if best.links:
            # what linkage saves, from kernel-verified (and repaired) lines
            chk_u = verify_line(ss, unlinked)
            out["kernel_check_unlinked"] = chk_u
            out["linkage_saving_kernel"] = _kernel_saving(
                out["kernel_check"], chk_u, best, unlinked
            )
    out["approximations"] = list(APPROXIMATIONS)
    out["unverified_data"] = _unverified(ss)
    out["seconds"] = {"superstructure": t_build, "total": time.perf_counter() - t0}
    out["_ss"] = ss
    out["_best"] = best
    return out


def _same_line(a: LineSolution, b: LineSolution) -> bool:
    return (
        sorted(a.tasks) == sorted(b.tasks)
        and a.variants == b.variants
        and sorted(a.links) == sorted(b.links)
    )


def _kernel_saving(chk_l: dict, chk_u: dict, lin, unl) -> dict:
    """Linked vs unlinked line, both simulated (and repaired) by the kernel:
    metrics costed from the kernel-run flows, base and acid [mol/h]."""
    out = {}
    for n in OBJECTIVES:
        a, b = chk_l["metrics"].get(n), chk_u["metrics"].get(n)
        if a is None or b is None:
            continue
        out[n] = {
            "linked": a,
            "unlinked": b,
            "saving": b - a,
            "saving_pct": 100.0 * (b - a) / b if b else 0.0,
        }
    for q in REAGENT_METRICS:
        a, b = chk_l["reagents_mol_h"][q], chk_u["reagents_mol_h"][q]
        out[q] = {"linked": a, "unlinked": b, "saving": b - a}
    # water and evaporation energy of the two kernel-run lines, one accounting
    # (rexopt.lines.verify._line_water): line feed + scrub/strip solutions +
    # dilution water in; product streams to ZLD + concentration evaporated out
    wl, wu = chk_l.get("water"), chk_u.get("water")
    if wl and wu:
        for q in WATER_METRICS:
            out[q] = {"linked": wl[q], "unlinked": wu[q], "saving": wu[q] - wl[q]}
        out["water_complete"] = {
            "linked": wl["complete"],
            "unlinked": wu["complete"],
        }
    out["all_met"] = {"linked": chk_l["all_met"], "unlinked": chk_u["all_met"]}
    out["links"] = len(lin.links)
    return out


def _saving(best: LineSolution, other: LineSolution) -> dict:
    return {
        n: {
            "chosen": best.metrics[n],
            "other": other.metrics[n],
            "saving": other.metrics[n] - best.metrics[n],
            "saving_pct": 100.0
            * (other.metrics[n] - best.metrics[n])
            / other.metrics[n]
            if other.metrics[n]
            else 0.0,
        }
        for n in OBJECTIVES
    }


def _candidate_row(t) -> dict:
    v = t.variants.get(("aq", True))
    return {
        "cut": t.label,
        "excluded": t.excluded,
        "stages": v.stages if v else None,
        "S_mol_mol": v.S if v else None,
        "annualized_USD_y": v.metrics["annualized_cost"] if v else None,
        "theory_purity": t.theory,
        "kernel_purity": t.kernel,
        "kernel_purity_design_flows": t.kernel_design,
        "calibration": _calib_summary(t),
    }


def _calib_summary(t) -> dict | None:
    """Kernel calibration of a task: calibrated vs design_to_case flows."""
    c = t.calib
    if c is None or t.case is None:
        return None
    out = {
        "feasible": bool(c.get("feasible")),
        "simulations": c.get("simulations"),
        "organic_flow_design_L_h": t.case["organic"]["flow_L_h"],
        "scrub_flow_design_L_h": t.case["scrub"]["flow_L_h"],
    }
    for k in (
        "org_factor",
        "scrub_factor",
        "organic_flow_L_h",
        "scrub_flow_L_h",
        "scrub_window_L_h",
        "reason",
        "best_org_factor",
        "best_scrub_factor",
    ):
        if c.get(k) is not None:
            out[k] = c[k]
    return out


def describe(ss: Superstructure, sol: LineSolution) -> dict:
    """Per-cascade design table and reagent/water balance per product."""
    rows = []
    per_product = {
        name: dict.fromkeys(
            (
                "base_mol_h",
                "acid_mol_h",
                "salt_kg_h",
                "water_evaporated_t_h",
                "electricity_kWh_h",
            ),
            0.0,
        )
        for name, _ in ss.blocks
    }
    links_in = {b: a for a, b in sol.links}
    # parents before children, then top (organic side) first
    order = sorted(sol.tasks, key=lambda k: (k[0] - k[1], -k[0]))
    for k in order:
        t = ss.tasks[k]
        f, s = sol.variants[k]
        v = t.variants[(f, s)]
        d = t.design.upper if hasattr(t.design, "upper") else t.design
        st = v.cost.stages
        rows.append(
            {
                "cut": t.label,
                "type": "three-outlet" if len(t.cuts) == 2 else "two-outlet",
                "feed": "loaded organic from " + ss.tasks[links_in[k]].label
                if k in links_in
                else "aqueous",
                "strip": s,
                "key_pair": f"{d.key_B}/{d.key_A}",
                "beta": d.beta,
                "control": d.control,
                "S_mol_mol": v.S,
                "W_mol_mol": v.W,
                "stages_extraction": st[0],
                "stages_scrub": st[1],
                "stages_strip": st[2],
                "feed_RE_mol_h": t.F,
                "base_mol_h": v.base_mol_h,
                "acid_mol_h": v.acid_mol_h,
                "theory_purity": t.theory,
                "kernel_purity_candidate": t.kernel,
                "kernel_purity_design_flows": t.kernel_design,
                "calibration": _calib_summary(t),
                "theory_base_mol_h": 3.0 * max(v.S - 1.0, 0.0) * t.F
                if (f == "org" and ss.case.design.link_model == "exchange")
                else 3.0 * v.S * t.F,
                **{f"{n}": v.metrics[n] for n in OBJECTIVES},
                "salt_kg_h": v.zld["salt_kg_h"],
                "water_evaporated_t_h": v.zld["water_evaporated_t_h"],
                "electricity_kWh_h": v.zld["electricity_kWh_h"],
            }
        )
        # allocate each cascade's reagents to the products passing through it,
        # in proportion to their rare earth (mol)
        i, j = t.group
        for b in range(i, j + 1):
            name, comps = ss.blocks[b]
            share = sum(ss.feed.mol_h[c] for c in comps) / t.F
            pp = per_product[name]
            pp["base_mol_h"] += share * v.base_mol_h
            pp["acid_mol_h"] += share * v.acid_mol_h
            pp["salt_kg_h"] += share * v.zld["salt_kg_h"]
            pp["water_evaporated_t_h"] += share * v.zld["water_evaporated_t_h"]
            pp["electricity_kWh_h"] += share * v.zld["electricity_kWh_h"]
    # the conditioning step on every aqueous connection (upstream outlet ->
    # downstream feed), allocated like the downstream cascade's use
    conns = []
    for p in sol.passes:
        u, t = ss.tasks[p[0]], ss.tasks[p[3]]
        pm = pair_metrics(ss, u, p[1], p[2], t)
        cond, z = pm["_cond"], pm["_zld"]
        conns.append(
            {
                "from": u.label,
                "output": {"organic": "strip liquor"}.get(p[2], p[2]),
                "to": t.label,
                "upstream_flow_L_h": cond["upstream_flow_L_h"],
                "upstream_acidity_mol_L": cond["upstream_acidity_mol_L"],
                "feed_flow_L_h": cond["feed"]["flow_L_h"],
                "feed_acidity_mol_L": cond["feed"]["acidity_mol_L"],
                "dilution_L_h": cond["dilution_L_h"],
                "evaporated_L_h": cond["evaporated_L_h"],
                "base_mol_h": cond["base_eq_mol_h"],
                "acid_mol_h": cond["acid_mol_h"],
                "spectator_salt_eq_h": cond["feed"]["spectator_eq_h"],
                "salt_kg_h": z["salt_kg_h"],
                "water_evaporated_t_h": z["water_evaporated_t_h"],
                "electricity_kWh_h": z["electricity_kWh_h"],
                "solution_water_L_h": z["solution_water_L_h"],
                # where the upstream outlet's ions come from ("kernel", or a
                # sharp design split when the candidate was not simulated)
                "stream_source": u.variants[(p[1], True)].ions.get("source"),
                **{n: pm[n] for n in OBJECTIVES},
            }
        )
        i, j = t.group
        for b in range(i, j + 1):
            name, comps = ss.blocks[b]
            share = sum(ss.feed.mol_h[c] for c in comps) / t.F
            pp = per_product[name]
            pp["base_mol_h"] += share * cond["base_eq_mol_h"]
            pp["acid_mol_h"] += share * cond["acid_mol_h"]
            pp["salt_kg_h"] += share * z["salt_kg_h"]
            pp["water_evaporated_t_h"] += share * z["water_evaporated_t_h"]
            pp["electricity_kWh_h"] += share * z["electricity_kWh_h"]
    for name, comps in ss.blocks:
        ox = sum(ss.feed.mol_h[c] * _ox(c) for c in comps) / 1e3  # [kg/h]
        per_product[name]["oxide_kg_h"] = ox
        for q in ("base_mol_h", "acid_mol_h"):
            per_product[name][q.replace("_mol_h", "_mol_per_kg_oxide")] = (
                per_product[name][q] / ox
            )
    # the line's brine through the shared ZLD unit once (linear: equals the sum)
    line_zld = brine_to_zld(
        sum(r["base_mol_h"] for r in rows) + sum(c["base_mol_h"] for c in conns),
        sum(
            ss.tasks[k].variants[sol.variants[k]].zld["solution_water_L_h"]
            for k in sol.tasks
        )
        + sum(c["solution_water_L_h"] for c in conns),
        agent=ss.case.chemistry.agent,
        evaporator=ss.case.zld.evaporator,
    )
    return {
        "label": sol.label,
        "sequence": [r["cut"] for r in rows],
        "links": [(ss.tasks[a].label, ss.tasks[b].label) for a, b in sol.links],
        "metrics": sol.metrics,
        "solve": sol.solve,
        "cascades": rows,
        "connections": conns,
        "per_product": per_product,
        "line_zld": line_zld,
    }


def _ox(c: str) -> float:
    from rexopt.chemistry import element

    return element(c).oxide_g_per_mol_metal


def _unverified(ss: Superstructure) -> list[str]:
    from rexopt.chemistry import read_data

    out = [f"feed {c}: {s}" for c, s in ss.feed.status.items() if s == "unverified"]
    beta = read_data("p507_hcl")["beta"]
    comps = ss.feed.components
    for a, b in zip(comps, comps[1:], strict=False):
        row = beta.get(f"{b}/{a}")
        if (
            row
            and row["status"] == "unverified"
            and b not in (ss.case.chemistry.separation_factors)
        ):
            out.append(f"separation factor {b}/{a} = {row['value']}: unverified")
    for k, (v, src, status) in LINE_COSTS.items():
        if status != "verified" and k not in ss.case.costs:
            out.append(f"cost {k} = {v}: {status} ({src})")
    if ss.case.design.link_model == "exchange":
        out.append(
            "link saving model: exchange -- UNVERIFIED estimate (DOMAIN 2.8 claim of "
            "3 mol acid + 3 mol base per mol RE transferred; no kernel case, the "
            "linked cascade is simulated as its aqueous-feed design)"
        )
    else:
        out.append(
            "link model: xu_organic_feed -- linked cascades are calibrated and "
            "re-simulated by the kernel on the upstream's loaded organic; the "
            "saturated model itself rests on the unverified separation factors"
        )
    return out


# ------------------------------------------------------------------- outputs
def draw_line(
    ss: Superstructure, sol: LineSolution, path: str | Path, title: str = ""
) -> None:
    """PNG of the chosen sequence: boxes = cascades, arrows = streams; a dashed
    arrow is a loaded-organic link (no strip, no re-saponification)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    chosen = {ss.tasks[k].group: ss.tasks[k] for k in sol.tasks}
    linked = {(ss.tasks[a].group, ss.tasks[b].group) for a, b in sol.links}
    pos: dict = {}
    ypos = [0.0]

    def place(s, depth):
        if s in chosen:
            t = chosen[s]
            kids = [
                t.outputs[n]
                for n in ("organic", "middle", "raffinate")
                if n in t.outputs
            ]
            ys = [place(c, depth + 1) for c in kids]
            y = sum(ys) / len(ys)
        else:
            y = ypos[0]
            ypos[0] -= 1.0
        pos[s] = (depth, y)
        return y

    place(ss.root, 0)
    depth = max(p[0] for p in pos.values()) + 1
    fig, ax = plt.subplots(figsize=(3.2 * depth + 2, 1.1 * (-ypos[0]) + 1.5))
    for s, (x, y) in pos.items():
        if s in chosen:
            t = chosen[s]
            v = t.variants[sol.variants[t.key]]
            txt = (
                f"{t.label}\n{v.stages} stages, S={v.S:.2f}\n"
                f"{'no strip' if not v.strip else 'strip'}"
                f"{', fed loaded org.' if v.feed == 'org' else ''}"
            )
            ax.add_patch(
                FancyBboxPatch(
                    (x * 3 - 1.1, y - 0.35),
                    2.2,
                    0.7,
                    boxstyle="round,pad=0.02",
                    fc="#dde8f5",
                    ec="#2b5d8a",
                )
            )
            ax.text(x * 3, y, txt, ha="center", va="center", fontsize=7)
            for name, c in t.outputs.items():
                cx, cy = pos[c]
                dashed = (s, c) in linked or (
                    name == "organic" and (t.group, c) in linked
                )
                ax.annotate(
                    "",
                    xy=(cx * 3 - 1.15, cy),
                    xytext=(x * 3 + 1.1, y),
                    arrowprops=dict(
                        arrowstyle="->",
                        ls="--" if dashed else "-",
                        color="#b03030" if dashed else "k",
                    ),
                )
                ax.text(
                    (x * 3 + cx * 3) / 2,
                    (y + cy) / 2 + 0.08,
                    {"organic": "org", "raffinate": "raff", "middle": "draw"}[name]
                    + (" (link)" if dashed else ""),
                    fontsize=6,
                    ha="center",
                )
        else:
            name = ss.block_label(s)
            ax.text(
                x * 3 - 1.0,
                y,
                f"product {name}",
                ha="left",
                va="center",
                fontsize=8,
                bbox=dict(fc="#e8f5dd", ec="#3a7a2b"),
            )
    ax.set_xlim(-1.5, 3 * depth + 0.5)
    ax.set_ylim(ypos[0] + 0.3, 0.8)
    ax.axis("off")
    ax.set_title(title or f"{ss.case.name}: {sol.label}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


CONNECTION_COLUMNS = [
    ("from", "from", ""),
    ("output", "outlet", ""),
    ("to", "to", ""),
    ("upstream_flow_L_h", "outlet [L/h]", ",.0f"),
    ("upstream_acidity_mol_L", "free acid [mol/L]", ".3f"),
    ("base_mol_h", "base [mol/h]", ",.0f"),
    ("acid_mol_h", "acid [mol/h]", ",.0f"),
    ("dilution_L_h", "water added [L/h]", ",.0f"),
    ("evaporated_L_h", "evaporated [L/h]", ",.0f"),
    ("annualized_cost", "annualized [USD/y]", ",.0f"),
]


def _md_table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    head = "| " + " | ".join(h for _, h, _ in cols) + " |"
    sep = "|" + "---|" * len(cols)
    body = []
    for r in rows:
        cells = []
        for key, _, fmt in cols:
            v = r.get(key)
            text = format(v, fmt) if isinstance(v, int | float) and fmt else str(v)
            # a "|" in a value (cut names such as "La|Ce") would add a cell
            cells.append(text.replace("|", "\\|"))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *body])


def write_outputs(res: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write PNG diagram(s), Markdown report and JSON; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss, best = res["_ss"], res["_best"]
    paths = {
        "diagram": out / "line.png",
        "report": out / "line_report.md",
        "json": out / "line_result.json",
    }
    draw_line(ss, best, paths["diagram"])
    if "pareto" in res:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        a, b = res["pareto"]["objectives"]
        pts = res["pareto"]["points"]
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot([p["metrics"][b] for p in pts], [p["metrics"][a] for p in pts], "o-")
        ax.set_xlabel(f"{b} [{UNITS[b]}]")
        ax.set_ylabel(f"{a} [{UNITS[a]}]")
        ax.set_title("Pareto front (epsilon constraint)")
        fig.tight_layout()
        paths["pareto"] = out / "pareto.png"
        fig.savefig(paths["pareto"], dpi=120)
        plt.close(fig)
    clean = {k: v for k, v in res.items() if not k.startswith("_")}
    paths["json"].write_text(json.dumps(clean, indent=1, default=_jsonable))
    paths["report"].write_text(report_text(res))
    return paths


def _jsonable(o):
    if isinstance(o, tuple | set):
        return list(o)
    return str(o)


def report_text(res: dict) -> str:
    ch = res["chosen"]
    L = [f"# Separation line: {res['case']}", ""]
    warn = (ch.get("solve") or {}).get("warning")
    if warn:
        L += [f"**WARNING: {warn}**", ""]
    L.append(
        f"Objective: {res['objective']} [{res['objective_unit']}]; "
        f"superstructure {res['superstructure']}."
    )
    L.append("")
    L.append("## Chosen sequence")
    for c in ch["cascades"]:
        L.append(
            f"- {c['cut']} ({c['type']}; feed {c['feed']}; "
            f"{'strip' if c['strip'] else 'no strip: organic linked on'})"
        )
    L.append("")
    L.append(
        "## Per-cascade design (Xu stages; flows, base and acid calibrated on the "
        "kernel; theory vs kernel purities below)"
    )
    cols = [
        ("cut", "cut", ""),
        ("key_pair", "key pair", ""),
        ("beta", "beta", ".3g"),
        ("control", "control", ""),
        ("S_mol_mol", "S [mol/mol]", ".3f"),
        ("W_mol_mol", "W [mol/mol]", ".3f"),
        ("stages_extraction", "n ext", "d"),
        ("stages_scrub", "m scrub", "d"),
        ("stages_strip", "strip", "d"),
        ("feed_RE_mol_h", "feed [mol/h]", ".1f"),
        ("base_mol_h", "base [mol/h]", ".0f"),
        ("acid_mol_h", "acid [mol/h]", ".0f"),
        ("salt_kg_h", "salt [kg/h]", ".1f"),
        ("water_evaporated_t_h", "water to ZLD [t/h]", ".3f"),
        ("annualized_cost", "annualized [USD/y]", ",.0f"),
    ]
    L.append(_md_table(ch["cascades"], cols))
    L.append("")
    for c in ch["cascades"]:
        th = ", ".join(f"{k}={v:.5f}" for k, v in c["theory_purity"].items())
        kp = ", ".join(
            f"{k}={v:.5f}"
            for k, v in c["kernel_purity_candidate"].items()
            if isinstance(v, float) and k.startswith("purity")
        )
        kd = ", ".join(
            f"{k}={v:.5f}"
            for k, v in (c.get("kernel_purity_design_flows") or {}).items()
            if isinstance(v, float) and k.startswith("purity")
        )
        cal = c.get("calibration")
        if cal and cal.get("feasible"):
            L.append(
                f"- {c['cut']}: theory {th}; kernel at design_to_case flows "
                f"{kd or 'failed'}; kernel calibrated {kp} (organic flow "
                f"x{cal['org_factor']:.2f} = {cal['organic_flow_L_h']:,.0f} L/h, "
                f"scrub flow x{cal['scrub_factor']:.4f} = "
                f"{cal['scrub_flow_L_h']:,.1f} L/h; base {c['base_mol_h']:.0f} "
                f"mol/h vs theory {c['theory_base_mol_h']:.0f})"
            )
        else:
            L.append(f"- {c['cut']}: theory {th}; kernel {kp or 'not simulated'}")
    L.append("")
    L.append(
        "## Conditioning between cascades (upstream outlet -> downstream feed at "
        "feed.conc_mol_L and feed.acidity_mol_L; priced in the MILP)"
    )
    for name in ("chosen", "best_unlinked", "conventional"):
        if name not in res:
            continue
        conns = res[name].get("connections") or []
        L.append(
            f"- {name}: "
            + (
                f"{len(conns)} aqueous connection(s)"
                if conns
                else "no aqueous connection (every non-product stream is a "
                "loaded-organic link)"
            )
        )
        if conns:
            L.append("")
            L.append(_md_table(conns, CONNECTION_COLUMNS))
            L.append("")
            for c in conns:
                if c.get("stream_source") != "kernel":
                    L.append(
                        f"- {c['from']} -> {c['to']}: outlet ions NOT from the "
                        f"kernel: {c.get('stream_source')}"
                    )
    L.append("")
    L.append(
        "## Reagent and water balance per product (cascade use allocated by "
        "the product's share of each cascade's feed)"
    )
    rows = [{"product": k, **v} for k, v in ch["per_product"].items()]
    L.append(
        _md_table(
            rows,
            [
                ("product", "product", ""),
                ("oxide_kg_h", "oxide [kg/h]", ".1f"),
                ("base_mol_h", "base [mol/h]", ".0f"),
                ("acid_mol_h", "acid [mol/h]", ".0f"),
                ("base_mol_per_kg_oxide", "base [mol/kg ox]", ".2f"),
                ("acid_mol_per_kg_oxide", "acid [mol/kg ox]", ".2f"),
                ("salt_kg_h", "salt [kg/h]", ".1f"),
                ("water_evaporated_t_h", "water to ZLD [t/h]", ".3f"),
                ("electricity_kWh_h", "evaporation [kWh/h]", ".1f"),
            ],
        )
    )
    L.append("")
    L.append("## Comparisons (positive saving = chosen line is better)")
    for name, comp in res["savings_of_chosen_vs"].items():
        other = res[name]
        L.append(f"### vs {name}: {' ; '.join(other['sequence'])}")
        L.append(
            _md_table(
                [{"metric": f"{n} [{UNITS[n]}]", **v} for n, v in comp.items()],
                [
                    ("metric", "metric", ""),
                    ("chosen", "chosen", ",.4g"),
                    ("other", name, ",.4g"),
                    ("saving", "saving", ",.4g"),
                    ("saving_pct", "saving [%]", ".1f"),
                ],
            )
        )
        L.append("")
    if "pareto" in res:
        a, b = res["pareto"]["objectives"]
        L.append(f"## Pareto front: {a} vs {b}")
        for p in res["pareto"]["points"]:
            L.append(
                f"- {a} = {p['metrics'][a]:,.4g}, {b} = {p['metrics'][b]:,.4g}: "
                f"{' ; '.join(p['sequence'])} ({p['links']} links)"
            )
        L.append("")
    kc = res.get("kernel_check")
    if kc:
        L.append(
            "## Kernel re-verification of the chosen line (cascades simulated in "
            "sequence, each fed the upstream's actual outlets"
            + (
                "; linked cascades fed the upstream's loaded organic"
                if res["chosen"]["links"] and kc["link_model"] == "xu_organic_feed"
                else ""
            )
            + ("; in-line repaired" if kc["repair"] else "")
            + ")"
        )
        L.append(
            _md_table(
                [{"product": k, **v} for k, v in kc["products"].items()],
                [
                    ("product", "product", ""),
                    ("purity", "purity", ".5f"),
                    ("purity_spec", "spec", ".4f"),
                    ("purity_margin", "margin", ".5f"),
                    ("recovery", "recovery", ".5f"),
                    ("recovery_spec", "spec", ".4f"),
                    ("recovery_margin", "margin", ".4f"),
                    ("impurity_budget_used", "impurity / allowed", ".2f"),
                    ("met", "met", ""),
                ],
            )
        )
        err = max(v["relative_error"] for v in kc["conservation"].values())
        L.append("")
        for name, c in kc["cascades"].items():
            f = c.get("kernel_feed", {})
            line = (
                f"- {name}: kernel feed {f.get('phase')} at stage {f.get('stage')}, "
                f"{sum(f.get('mol_h', {}).values()):.2f} mol/h RE"
            )
            lo = c.get("upstream_loaded_organic")
            if lo:
                line += (
                    f" (upstream loaded organic {lo['flow_L_h']:,.0f} L/h carrying "
                    f"{lo['capacity_mol_h']:.2f} mol/h of sites, "
                    f"{lo['free_sites_mol_h']:.3f} mol/h free; entered as "
                    f"{f.get('flow_L_h', 0):,.0f} L/h capacity-equivalent)"
                )
            if c.get("note"):
                line += f"; {c['note']}"
            rp = c.get("repair")
            if rp and rp.get("feasible"):
                line += (
                    f"; repaired: organic x{rp['organic_flow_factor']:.3f}, scrub "
                    f"x{rp['scrub_flow_factor']:.4f} (budget reserve "
                    f"{rp['margin_target']:.2f})"
                )
            elif rp:
                line += f"; repair FAILED: {rp['reason']}"
            cr = c.get("crossing_mol_h")
            if cr:
                line += (
                    f"; crossing {cr['organic']:.3g}/{cr['organic_budget']:.3g} "
                    f"(organic) and {cr['raffinate']:.3g}/"
                    f"{cr['raffinate_budget']:.3g} (raffinate) mol/h"
                )
            cd = c.get("conditioning")
            if cd:
                line += (
                    f"; fed the upstream outlet ({cd['upstream_flow_L_h']:,.0f} L/h, "
                    f"free acid {cd['upstream_acidity_mol_L']:.3f} mol/L) "
                    f"conditioned: base {cd['base_eq_mol_h']:,.0f} eq/h, acid "
                    f"{cd['acid_mol_h']:,.0f} mol/h, water +{cd['dilution_L_h']:,.0f}"
                    f" / -{cd['evaporated_L_h']:,.0f} L/h"
                )
            kr = c.get("kernel_reagents_mol_h")
            if kr:
                line += (
                    f"; base {kr['base_HA_mol_h']:.0f}, acid {kr['acid_mol_h']:.0f}"
                    " mol/h"
                )
            L.append(line)
        L.append("")
        ib = kc.get("ions", {})
        if ib.get("complete"):
            L.append(
                "Line balances (kernel streams; in vs out, relative error): "
                + "; ".join(
                    f"{q} {ib[q]['in']:,.1f} vs {ib[q]['out']:,.1f} mol/h "
                    f"({ib[q]['relative_error']:.1e})"
                    for q in ("chloride", "protons", "counter_ion")
                )
                + "."
            )
        else:
            L.append(
                "Line ion balances: NOT checked -- "
                + ib.get("reason", "not computed")
                + "."
            )
        L.append(
            f"Whole-line conservation (kernel): max relative error {err:.2e}.  "
            + (
                "All specs met."
                if kc["all_met"]
                else "NOT all specs met by the kernel: " + "; ".join(kc["problems"])
            )
        )
        L.append("")
    for r in res.get("repair_rounds", []):
        L.append(
            f"- repair round {r['round']}: {' ; '.join(r['sequence'])} "
            f"({r['links']} links): {res['objective']} "
            f"{r[res['objective'] + '_before']:,.4g} -> "
            f"{r[res['objective'] + '_repaired']:,.4g} after re-calibration; "
            f"re-solved: {' ; '.join(r['resolved_sequence'])} "
            f"({'stable' if r['choice_stable'] else 'changed'})"
        )
    ls = res.get("linkage_saving_kernel")
    if ls:
        L.append("")
        L.append(
            "## What linkage saves (kernel-verified linked vs unlinked line, "
            "both repaired; costed from the flows the kernel ran)"
        )
        rows = (
            [{"metric": f"{n} [{UNITS[n]}]", **ls[n]} for n in OBJECTIVES if n in ls]
            + [{"metric": f"{q} [mol/h]", **ls[q]} for q in REAGENT_METRICS]
            + [{"metric": q, **ls[q]} for q in WATER_METRICS if q in ls]
        )
        L.append(
            _md_table(
                rows,
                [
                    ("metric", "metric", ""),
                    ("linked", "linked", ",.4g"),
                    ("unlinked", "unlinked", ",.4g"),
                    ("saving", "saving", ",.4g"),
                ],
            )
        )
        L.append(f"specs met by the kernel: {ls['all_met']}")
    L.append("")
    L.append("## Approximations")
    L += [f"- {a}" for a in res.get("approximations", [])]
    L.append("")
    L.append("## Unverified data used")
    L += [f"- {u}" for u in res["unverified_data"]]
    L.append("")
    return "\n".join(L)
