"""Command-line glue for cascade design (Xu closed form) and optimization.

``register(app)`` adds ``design`` and ``optimize-cascade`` to a typer app; the main
CLI also dispatches ``rexopt optimize CASE`` to :func:`optimize_cli` when CASE is a
cascade case with an ``[optimize]`` table.
"""

from __future__ import annotations

import csv
import json
import math
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rexopt.case import CaseError, load_case

console = Console()


# ------------------------------------------------------------------------ design
def xu_from_case(
    case_path, *, purity_A: float | None = None, purity_B: float | None = None
):
    """Xu design for a cascade case -> (design, case dict, info).

    Purities come from the arguments, else from the case's ``[optimize]`` specs
    (purity of the most extractable component in the strip liquor and of the least
    extractable in the raffinate), else 0.995.  The design keeps the case's
    chemistry, organic, acid strengths and strip stages.
    """
    from rexopt.design.xu import design_to_case, xu_design, xu_design_multicomponent

    raw = (
        dict(case_path)
        if isinstance(case_path, dict)
        else tomllib.loads(Path(case_path).read_text(encoding="utf-8"))
    )
    opt = raw.pop("optimize", None) or {}
    where = "<case dict>" if isinstance(case_path, dict) else str(case_path)
    case = load_case(raw, name=where)
    comps = list(case.chemistry.components)
    sat = case.chemistry.saturated
    if case.chemistry.model != "saturated" or not (sat and sat.separation_factors):
        raise CaseError(
            f"{where}: chemistry: the Xu design needs model = 'saturated' with "
            "separation_factors for every component"
        )
    rel = dict(sat.separation_factors)
    order = sorted(comps, key=lambda c: rel[c])
    f = case.feed
    conc = dict(f.conc_mol_L or {})
    specs = opt.get("specs", [])
    pA = purity_A
    pB = purity_B
    keyA = order[-1]
    for s in specs:
        if s.get("stream") == "strip_liquor" and s.get("purity_min") and pA is None:
            pA, keyA = float(s["purity_min"]), s["component"]
        if s.get("stream") == "raffinate" and s.get("purity_min") and pB is None:
            pB = float(s["purity_min"])
    pA = 0.995 if pA is None else pA
    pB = 0.995 if pB is None else pB
    tot = sum(conc.get(c, 0.0) for c in order)
    if len(order) == 2:
        fA = conc.get(order[1], 0.0) / tot
        d = xu_design(
            fA, pA, pB, rel[order[1]] / rel[order[0]], key_A=order[1], key_B=order[0]
        )
    else:
        cut = order.index(keyA)
        d = xu_design_multicomponent(
            order, [conc.get(c, 0.0) for c in order], rel, cut, pA, pB
        )
    cd = design_to_case(
        d,
        components=order,
        feed_flow_L_h=f.flow_L_h,
        feed_conc_mol_L=conc,
        extractant_mol_L=case.organic.extractant_mol_L,
        saponification=case.organic.saponification,
        K_ref_L_mol=sat.K_ref_L_mol or 50.0,
        strip_stages=case.sections.strip.stages,
        agent=case.organic.agent,
        feed_acidity_mol_L=f.acidity_mol_L,
        separation_factors=rel,
        scrub_acidity_mol_L=case.scrub.acidity_mol_L,
        strip_acidity_mol_L=case.strip.acidity_mol_L,
        medium=case.chemistry.medium,
        name=f"{case.name} -- Xu design",
    )
    # same chemistry block as the source case (strip affinity etc.)
    cd["chemistry"]["saturated"] = sat.model_dump(mode="json", exclude_none=True)
    return d, cd, {"purity_A": pA, "purity_B": pB, "order": order}


def design_compare(d, result) -> list[dict]:
    """Theory vs kernel for the design's outlets."""
    A, B = d.key_A, d.key_B
    if d.lumping is not None:
        gA, gB = d.lumping.group_A, d.lumping.group_B
    else:
        gA, gB = (A,), (B,)
    pur, rec = result.purity, result.recovery
    kA = float(sum(pur.loc["strip_liquor", c] for c in gA))
    kB = float(sum(pur.loc["raffinate", c] for c in gB))
    feed = result.balance["in_mol_h"]
    yA = float(
        sum(rec.loc[c, "strip_liquor"] * feed[c] for c in gA) / sum(feed[c] for c in gA)
    )
    yB = float(
        sum(rec.loc[c, "raffinate"] * feed[c] for c in gB) / sum(feed[c] for c in gB)
    )
    rows = [
        (f"{'+'.join(gA)} purity, strip liquor", d.purity_A, kA),
        (f"{'+'.join(gB)} purity, raffinate", d.purity_B, kB),
        (f"{'+'.join(gA)} yield to strip liquor", d.yield_A, yA),
        (f"{'+'.join(gB)} yield to raffinate", d.yield_B, yB),
    ]
    out = []
    for name, th, k in rows:
        out.append(
            {
                "quantity": name,
                "theory": th,
                "kernel": k,
                "difference": k - th,
                "impurity_ratio": (1 - k) / (1 - th) if th < 1 else math.nan,
            }
        )
    return out


def design_cli(
    case_path: str,
    write_case: str | None = None,
    json_out: str | None = None,
    purity_A: float | None = None,
    purity_B: float | None = None,
) -> int:
    """``rexopt design CASE.toml``: Xu design, ready-to-simulate case, kernel check."""
    import tomli_w

    import rexopt

    try:
        d, cd, info = xu_from_case(case_path, purity_A=purity_A, purity_B=purity_B)
    except (CaseError, ValueError, OSError, tomllib.TOMLDecodeError) as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    t = Table(
        title=f"Xu design: {d.key_B}/{d.key_A} (beta {d.beta:g}, "
        f"{d.control}-controlled, {d.optimum} optimum)"
    )
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in d.table(units=True).items():
        t.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    console.print(t)
    try:
        res = rexopt.simulate(cd)
    except Exception as e:  # the design is still useful without the check
        console.print(f"[yellow]kernel simulation of the design failed:[/yellow] {e}")
        res = None
    cmp_rows = design_compare(d, res) if res is not None else []
    if res is not None:
        c = Table(
            title=f"Theory vs kernel ({cd['sections']['extraction']['stages']} + "
            f"{cd['sections']['scrub']['stages']} + "
            f"{cd['sections']['strip']['stages']} stages, organic "
            f"{cd['organic']['flow_L_h']:.4g} L/h, scrub "
            f"{cd['scrub']['flow_L_h']:.4g} L/h)"
        )
        for col in (
            "quantity",
            "Xu theory",
            "kernel",
            "kernel - theory",
            "impurity kernel/theory",
        ):
            c.add_column(col, justify="right" if col != "quantity" else "left")
        for r in cmp_rows:
            c.add_row(
                r["quantity"],
                f"{r['theory']:.6f}",
                f"{r['kernel']:.6f}",
                f"{r['difference']:+.6f}",
                f"{r['impurity_ratio']:.3g}",
            )
        console.print(c)
        console.print(
            "The theory assumes constant mixed extraction ratios and a saturated "
            "organic; the kernel solves every stage (feed-stage mixing, capacity "
            "loss to scrub acid, rounding of stages), so purities differ."
        )
    if write_case:
        head = (
            f"# Cascade generated by `rexopt design` from {case_path} (Xu theory).\n"
            f"# {d.key_B}/{d.key_A}: purity A {d.purity_A:g}, purity B "
            f"{d.purity_B:g}; S = {d.S:.4g}, W = {d.W:.4g} mol/mol feed RE; "
            f"n = {d.n:.2f}, m = {d.m:.2f}\n\n"
        )
        Path(write_case).write_text(head + tomli_w.dumps(cd), encoding="utf-8")
        console.print(f"case written to {write_case}")
    if json_out:
        out = {
            "schema": "rexopt.cascade_design/1",
            "design": {k: v for k, v in d.table(units=False).items()},
            "case": cd,
            "comparison": cmp_rows,
            "simulation": res.to_dict() if res is not None else None,
        }
        Path(json_out).write_text(
            json.dumps(out, indent=1, default=str), encoding="utf-8"
        )
        console.print(f"JSON written to {json_out}")
    return 0


# ---------------------------------------------------------------------- optimize
def print_result(res) -> None:
    """Rich tables for an OptimizeResult."""
    pb = res.problem
    if res.best is None:
        console.print(f"[red]infeasible:[/red] {res.message}")
        if res.binding:
            t = Table(title="Best achievable value of each spec (others met)")
            for col in ("spec", "target", "best achievable", "binding"):
                t.add_column(col)
            for b in res.binding:
                t.add_row(
                    b["spec"],
                    f"{b['target']:.6g}",
                    f"{b['best_value']:.6g}",
                    "yes" if b["binding"] else "no",
                )
            console.print(t)
        _print_search(res)
        return
    t = Table(title=f"Design ({res.status}; objective {pb.opt.objective})")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    for k, v in res.design_table().items():
        t.add_row(k, f"{v:.5g}" if isinstance(v, float) else str(v))
    console.print(t)
    s = Table(title="Specifications, re-simulated by the kernel")
    for col in ("spec", "value", "met"):
        s.add_column(col)
    for c in res.spec_check:
        s.add_row(
            c["spec"], f"{c['value']:.6f}", "yes" if c["met"] else "[red]NO[/red]"
        )
    console.print(s)
    if res.verification is not None:
        r = res.verification
        p = Table(title="Purity (mole fraction) and recovery of the outlets")
        p.add_column("stream")
        for c in r.components:
            p.add_column(f"{c} purity", justify="right")
        for c in r.components:
            p.add_column(f"{c} recovery", justify="right")
        for name in r.outlets.index:
            row = [name] + [f"{r.purity.loc[name, c]:.6f}" for c in r.components]
            row += [f"{r.recovery.loc[c, name]:.6f}" for c in r.components]
            p.add_row(*row)
        console.print(p)
    cost = res.best.cost
    c = Table(title="Reagents, equipment and cost")
    c.add_column("item")
    c.add_column("value", justify="right")
    c.add_column("unit")
    pt = cost.per_tonne()
    rows = [
        ("base", cost.base_kg_h, "kg/h"),
        ("base per t product", pt["base_t_t"], "t/t"),
        ("HCl (100 %)", cost.hcl_kg_h, "kg/h"),
        ("HCl per t product", pt["HCl_t_t"], "t/t"),
        ("water", cost.water_kg_h, "kg/h"),
        ("water per t product", pt["water_t_t"], "t/t"),
        ("salt to wastewater", cost.salt_kg_h, "kg/h"),
        ("salt per t product", pt["salt_t_t"], "t/t"),
        ("oxide product", cost.product_oxide_kg_h, "kg/h"),
        ("mixer volume", cost.mixer_m3, "m3"),
        ("settler volume", cost.settler_m3, "m3"),
        ("RE inventory (oxide)", cost.inventory_oxide_kg, "kg"),
        ("RE inventory value", cost.inventory_USD, "USD"),
        ("mixer-settler capital", cost.capital_USD, "USD"),
    ]
    rows += [(f"reagent: {k}", v, "USD/y") for k, v in cost.reagent_USD_y.items()]
    rows += [
        ("reagent cost", cost.reagent_cost_USD_y, "USD/y"),
        ("annualized capital", cost.capital_USD_y, "USD/y"),
        ("inventory charge", cost.inventory_USD_y, "USD/y"),
        ("annualized cost", cost.annualized_USD_y, "USD/y"),
        ("mixer volume per production", cost.mixer_m3_per_t_d, "m3/(t/d)"),
    ]
    for name, v, u in rows:
        c.add_row(name, f"{v:.5g}", u)
    console.print(c)
    _print_search(res)
    console.print(f"[bold]{res.claim}[/bold]")
    if res.message:
        console.print(f"[yellow]note:[/yellow] {res.message}")


def _print_search(res) -> None:
    m = res.milp
    t = Table(title="Search")
    t.add_column("item")
    t.add_column("value", justify="right")
    for k, v in [
        ("candidate columns (integer designs)", res.n_candidates),
        ("pruned by Fenske's minimum", res.n_pruned),
        ("columns simulated by the kernel", len(res.columns)),
        ("kernel calls", res.kernel_calls),
        ("HiGHS rounds", res.rounds),
        ("verification rounds", res.verify_rounds),
        (
            "HiGHS model: variables / constraints",
            f"{m.get('n_variables')} / {m.get('n_constraints')}",
        ),
        ("HiGHS solve time, total [s]", f"{m.get('total_seconds', 0.0):.3f}"),
        ("wall time [s]", f"{res.seconds:.2f}"),
    ]:
        t.add_row(k, str(v))
    console.print(t)


def write_pareto(
    prefix: str, stage_rows: list[dict], rec_rows: list[dict]
) -> list[str]:
    """CSV tables and one PNG with both fronts. -> written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for tag, rows in (("stages", stage_rows), ("recovery", rec_rows)):
        if not rows:
            continue
        keys = sorted(
            {k for r in rows for k in r},
            key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99,
        )
        p = f"{prefix}_{tag}.csv"
        with open(p, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        paths.append(p)
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    fs = [r for r in stage_rows if r.get("feasible")]
    if fs:
        ax[0].plot(
            [r["total_stages"] for r in fs],
            [r["reagent_cost_USD_y"] / 1e3 for r in fs],
            "o-",
        )
    ax[0].set_xlabel("total stages [-]")
    ax[0].set_ylabel("reagent cost [kUSD/y]")
    ax[0].set_title("stages vs reagent use (epsilon on stages)")
    fr = [r for r in rec_rows if r.get("status") == "optimal"]
    if fr:
        ax[1].plot(
            [100 * r["recovery_min"] for r in fr],
            [r["annualized_USD_y"] / 1e3 for r in fr],
            "s-",
        )
    ax[1].set_xlabel("recovery floor [%]")
    ax[1].set_ylabel("annualized cost [kUSD/y]")
    ax[1].set_title("recovery vs cost (epsilon on recovery)")
    fig.tight_layout()
    png = f"{prefix}.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    paths.append(png)
    return paths


def optimize_cli(
    case_path, json_out: str | None = None, pareto: str | None = None
) -> int:
    """``rexopt optimize CASE.toml`` for a cascade case with an [optimize] table.

    Returns 0 for a verified design, 1 when the specs are infeasible (the binding
    spec and its best achievable value are printed), 2 for a bad case.
    """
    from rexopt.design.optimize import (
        OptimizeError,
        optimize,
        pareto_recovery,
        pareto_stages,
        problem_from,
    )

    try:
        pb = problem_from(case_path, where=str(case_path))
    except (OptimizeError, CaseError, ValueError) as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    try:
        res = optimize(case_path, where=str(case_path))
    except OptimizeError as e:
        console.print(f"[red]error:[/red] {e}")
        return 2
    print_result(res)
    out = res.to_dict()
    if pareto:
        stage_rows = pareto_stages(pb)
        rec_rows = pareto_recovery(pb)
        paths = write_pareto(pareto, stage_rows, rec_rows)
        out["pareto"] = {"stages_vs_reagent": stage_rows, "recovery_vs_cost": rec_rows}
        t = Table(title="Pareto front: least reagent cost for a cap on total stages")
        for col in ("max stages", "stages", "reagent cost [USD/y]"):
            t.add_column(col, justify="right")
        for r in stage_rows:
            t.add_row(
                str(r["max_stages"]),
                r.get("stages", "infeasible"),
                f"{r['reagent_cost_USD_y']:.5g}" if r.get("feasible") else "-",
            )
        console.print(t)
        console.print("written: " + ", ".join(paths))
    if json_out:
        Path(json_out).write_text(
            json.dumps(out, indent=1, default=str), encoding="utf-8"
        )
        console.print(f"JSON written to {json_out}")
    if res.best is None:
        return 1
    return 0 if res.verified else 1


def register(app: typer.Typer) -> None:
    """Add ``design`` and ``optimize-cascade`` to ``app``."""

    @app.command("design")
    def design_cmd(
        case: Annotated[Path, typer.Argument(help="cascade case TOML (saturated)")],
        write_case: Annotated[
            Path | None, typer.Option("--write-case", help="write the designed case")
        ] = None,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="write the result as JSON")
        ] = None,
        purity_a: Annotated[
            float | None,
            typer.Option("--purity-a", help="purity of the organic product [-]"),
        ] = None,
        purity_b: Annotated[
            float | None,
            typer.Option("--purity-b", help="purity of the raffinate product [-]"),
        ] = None,
    ):
        """Xu closed-form design of a cascade, checked by the kernel."""
        raise typer.Exit(
            design_cli(
                str(case),
                write_case and str(write_case),
                json_out and str(json_out),
                purity_a,
                purity_b,
            )
        )

    @app.command("optimize-cascade")
    def optimize_cmd(
        case: Annotated[
            Path, typer.Argument(help="cascade case TOML with an [optimize] table")
        ],
        json_out: Annotated[
            Path | None, typer.Option("--json", help="write the result as JSON")
        ] = None,
        pareto: Annotated[
            str | None,
            typer.Option("--pareto", help="OUT_PREFIX: Pareto tables and a PNG"),
        ] = None,
    ):
        """Cheapest stages and flows meeting the specs (HiGHS + kernel)."""
        raise typer.Exit(optimize_cli(str(case), json_out and str(json_out), pareto))
