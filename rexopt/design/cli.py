"""Command-line glue for cascade design (Xu closed form) and optimization.

``register(app)`` adds ``design`` and ``optimize-cascade`` to a typer app; the main
CLI also dispatches ``rexopt optimize CASE`` to :func:`optimize_cli` when CASE is a
cascade case with an ``[optimize]`` table.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rexopt.case import CaseError
from rexopt.output import JsonOption, print_error, table, write_json

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


# ------------------------------------------------------------------------ design
# plain words for the closed form's symbols (shown beside them)
_WORDS = {
    "S": "extraction amount: RE on the loaded organic per mol feed RE",
    "W": "scrub amount: RE in the scrub aqueous per mol feed RE",
    "draw_fraction": "RE drawn in the middle product per mol feed RE",
    "n_bottom": "ideal extraction stages below the draw (or all, draw in scrub)",
    "n_middle": "ideal extraction stages between the draw and the feed",
    "m": "ideal scrub stages (above the draw if it is in the scrub section)",
    "m_middle": "ideal scrub stages between the feed and the draw",
    "draw_section": "section of the middle draw",
    "draw_stage": "global stage of the middle draw (from the raffinate end)",
    "n_plus_m": "ideal extraction + scrub stages",
    "volume_index": "S*(n+m), proportional to mixer volume per production",
    "group_A": "components leaving in the organic product",
    "group_B": "components leaving in the raffinate",
}


def plain_words(key: str, three_outlet: bool = False) -> str:
    """``"E_M"`` -> ``"mixed extraction ratio, extraction section (E_M)"``.

    ``three_outlet``: the key is a top-level quantity of a three-outlet design.
    """
    from rexopt.design.xu import XuDesign

    prefix, _, name = key.rpartition(".")
    docs = {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(XuDesign)}
    if three_outlet and not prefix and name in _WORDS:
        words = _WORDS[name]
    else:
        words = docs.get(name) or _WORDS.get(name, "")
    cut = {"upper": "upper cut: ", "lower": "lower cut: "}.get(prefix, "")
    return f"{cut}{words} ({name})" if words else key


def xu_from_case(
    case_path, *, purity_A: float | None = None, purity_B: float | None = None
):
    """Closed-form (Xu) design for a cascade case -> (design, case dict, info).

    The case is read by the loader of ``rexopt simulate``; specs as in
    :func:`rexopt.design.design_case` (arguments, else the ``[optimize]`` specs,
    else 0.995).  No kernel run: see :func:`rexopt.design.design_case` for the
    design corrected on the kernel.
    """
    from rexopt.design.casedesign import closed_form_design

    r = closed_form_design(case_path, purity_A=purity_A, purity_B=purity_B)
    t = r.theory
    pA = t.purity_A if hasattr(t, "purity_A") else t.upper.purity_A
    pB = t.purity_B if hasattr(t, "purity_B") else t.lower.purity_B
    order = r.theory_case["chemistry"]["components"]
    return t, r.theory_case, {"purity_A": pA, "purity_B": pB, "order": order}


def _num(v, fmt=".6f") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:{fmt}}" if isinstance(v, float) else str(v)


def print_design(r) -> None:
    """Rich tables for a :class:`rexopt.design.DesignResult`."""
    t = r.theory
    title = f"Xu closed form ({r.layout}"
    if hasattr(t, "beta"):
        title += f"; {t.key_B}/{t.key_A}, separation factor {t.beta:g}"
        title += f", {t.control}-controlled, {t.optimum} optimum"
    tab = table(
        title + ")", ("quantity (symbol)", "left"), ("value", "right"), ("unit", "left")
    )
    cut_rows = {
        "beta",
        "purity_A",
        "purity_B",
        "fp_A",
        "fp_B",
        "E_M",
        "E_prime_M",
        "n",
        "m",
    }
    for key, v in t.table(units=True).items():
        name, _, unit = key.partition(" [")
        unit = unit.rstrip("]")
        prefix, _, short = name.rpartition(".")
        if prefix and short not in cut_rows:
            continue  # three-outlet: each cut's essentials only (all in --json)
        words = plain_words(name, three_outlet=not hasattr(t, "beta"))
        tab.add_row(words, _num(v, ".6g"), unit if unit != "-" else "")
    console.print(tab)
    c = table(
        "Specs: Xu theory vs the kernel (closed-form flows, designed flows)",
        ("spec", "left"),
        ("from", "left"),
        ("Xu theory", "right"),
        ("kernel, closed form", "right"),
        ("kernel, designed", "right"),
        ("met", "right"),
    )
    for k in r.checks:
        c.add_row(
            k["spec"],
            escape(k["source"]),
            _num(k["theory"]),
            _num(k["kernel_closed_form"]),
            _num(k["kernel"]),
            "yes"
            if k["met"]
            else (
                "[red]NO[/red] (kernel failed)"
                if k["shortfall"] is None
                else f"[red]NO[/red] (short {k['shortfall']:.3g})"
            ),
        )
    console.print(c)
    f = table(
        "Products: Xu theory vs the kernel",
        ("quantity", "left"),
        ("Xu theory", "right"),
        ("kernel, closed form", "right"),
        ("kernel, designed", "right"),
    )
    for row in r.figures:
        f.add_row(
            row["quantity"],
            _num(row["theory"]),
            _num(row["kernel_closed_form"]),
            _num(row["kernel"]),
        )
    console.print(f)
    ch = table(
        "Operating point: closed form vs corrected on the kernel",
        ("quantity", "left"),
        ("unit", "left"),
        ("closed form", "right"),
        ("designed", "right"),
        ("change", "right"),
    )
    for row in r.changes:
        a, b = row["closed_form"], row["designed"]
        chg = f"{100 * (b - a) / a:+.1f} %" if a else "-"
        ch.add_row(row["quantity"], row["unit"], _num(a, ".5g"), _num(b, ".5g"), chg)
    console.print(ch)
    for n in r.notes:
        colour = "red" if n.startswith("NOT MET") else "yellow"
        console.print(f"[{colour}]note:[/{colour}] {escape(n)}")
    verdict = (
        "every spec met by the kernel at the designed flows"
        if r.met
        else "[red]the designed case does NOT meet every spec on the kernel[/red]"
    )
    console.print(f"[bold]{verdict}[/bold] ({r.simulations} kernel simulations)")


def design_cli(
    case_path: str,
    write_case: str | None = None,
    json_out: str | None = None,
    purity_A: float | None = None,
    purity_B: float | None = None,
    purity_middle: float | None = None,
    draw_section: str | None = None,
    optimum: str = "simple",
) -> int:
    """``rexopt design CASE.toml``: Xu design corrected on the kernel.

    Returns 0 when the designed case meets every spec on the kernel, 1 when it
    does not (the misses are printed), 2 for a case or spec the design cannot use
    (the message, on stderr, names the file and the field), 3 when the kernel
    could not solve the designed case (said in the notes).
    """
    from rexopt.design.casedesign import DesignError, design_case

    step = "reading and designing"
    try:
        r = design_case(
            case_path,
            purity_A=purity_A,
            purity_B=purity_B,
            purity_middle=purity_middle,
            draw_section=draw_section,
            optimum=optimum,
        )
        step = "printing the design"
        print_design(r)
        if write_case:
            step = f"writing {write_case}"
            Path(write_case).write_text(r.to_toml(), encoding="utf-8")
            console.print(f"case written to {write_case}")
        if json_out:
            step = f"writing {json_out}"
            out = {
                "schema": "rexopt.cascade_design/1",
                "design": r.to_dict(),
                "case": r.case,
                "comparison": [
                    {
                        "quantity": f["quantity"],
                        "theory": f["theory"],
                        "kernel": f["kernel"],
                        "difference": (
                            f["kernel"] - f["theory"]
                            if f["theory"] is not None
                            else None
                        ),
                    }
                    for f in r.figures
                ],
                "simulation": r.result.to_dict() if r.result is not None else None,
            }
            write_json(json_out, out)
            console.print(f"JSON written to {json_out}")
    except (DesignError, CaseError) as e:
        print_error(str(e), err_console)
        return 2
    except OSError as e:
        print_error(f"{case_path}: {step}: {e}", err_console)
        return 2
    # anything else is a bug: rexopt.cli.main reports it (file, step, log file)
    if r.result is None:
        return 3  # the kernel did not solve the designed case (said in the notes)
    return 0 if r.met else 1


# ---------------------------------------------------------------------- optimize
def print_result(res) -> None:
    """Rich tables for an OptimizeResult."""
    pb = res.problem
    if res.best is None:
        console.print(f"[red]{escape(res.status)}:[/red] {escape(res.message)}")
        if res.binding:
            t = table(
                "Best achievable value of each spec (others met)",
                ("spec", "left"),
                ("target (as given)", "left"),
                ("best achievable", "left"),
                ("binding", "left"),
            )
            for b in res.binding:
                t.add_row(
                    escape(b["spec"]),
                    str(b.get("target_given", repr(b["target"]))),
                    str(b.get("best_value_text", f"{b['best_value']:.10g}")),
                    "yes" if b["binding"] else "no",
                )
            console.print(t)
        _print_search(res)
        return
    t = table(
        f"Design ({res.status}; objective {pb.opt.objective})",
        ("quantity", "left"),
        ("value", "right"),
    )
    for k, v in res.design_table().items():
        t.add_row(escape(k), f"{v:.5g}" if isinstance(v, float) else str(v))
    console.print(t)
    s = table(
        "Specifications, re-simulated by the kernel",
        ("spec", "left"),
        ("value", "left"),
        ("met", "left"),
    )
    for c in res.spec_check:
        s.add_row(
            c["spec"], f"{c['value']:.6f}", "yes" if c["met"] else "[red]NO[/red]"
        )
    console.print(s)
    if res.verification is not None:
        r = res.verification
        p = table(
            "Purity (mole fraction) and recovery of the outlets",
            ("stream", "left"),
            *[(f"{c} purity", "right") for c in r.components],
            *[(f"{c} recovery", "right") for c in r.components],
        )
        for name in r.outlets.index:
            row = [name] + [f"{r.purity.loc[name, c]:.6f}" for c in r.components]
            row += [f"{r.recovery.loc[c, name]:.6f}" for c in r.components]
            p.add_row(*row)
        console.print(p)
    cost = res.best.cost
    c = table(
        "Reagents, equipment and cost",
        ("item", "left"),
        ("value", "right"),
        ("unit", "left"),
    )
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
        c.add_row(escape(name), f"{v:.5g}", u)
    console.print(c)
    _print_search(res)
    console.print(f"[bold]{escape(res.claim)}[/bold]")
    ver = res.verification
    for w in getattr(ver, "warnings", None) or []:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if res.message:
        console.print(f"[yellow]note:[/yellow] {escape(res.message)}")


def _print_search(res) -> None:
    m = res.milp
    t = table("Search", ("item", "left"), ("value", "right"))
    for k, v in [
        ("candidate columns (integer designs)", res.n_candidates),
        ("pruned by Fenske's minimum", res.n_pruned),
        ("columns simulated by the kernel", len(res.columns)),
        (
            "columns cut by one reflux test (of tests)",
            f"{res.threshold_cut} (of {res.threshold_tests})",
        ),
        ("kernel calls", res.kernel_calls),
        ("search rounds (argmin; one HiGHS solve confirms the choice)", res.rounds),
        ("verification rounds", res.verify_rounds),
        (
            "HiGHS model: variables / constraints",
            f"{m.get('n_variables')} / {m.get('n_constraints')}",
        ),
        ("HiGHS solve time, total [s]", f"{m.get('total_seconds', 0.0):.3f}"),
        ("wall time [s]", f"{res.seconds:.2f}"),
    ]:
        t.add_row(escape(k), str(v))
    cert = getattr(res, "certificate", None) or {}
    if cert:
        for k, v in [
            ("proven lower bound on the objective", cert.get("bound")),
            ("gap to the bound", cert.get("gap")),
            ("proven optimal", "yes" if cert.get("optimal") else "no"),
            ("columns left unresolved", len(cert.get("unresolved_columns", []))),
            (
                "columns that could hide a cheaper design",
                len(cert.get("could_hide_cheaper", [])),
            ),
            ("kernel points left unknown", cert.get("unknown_kernel_points")),
        ]:
            t.add_row(
                k,
                "n/a"
                if v is None
                else (f"{v:.6g}" if isinstance(v, float) else str(v)),
            )
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
        # columns in the order they first appear (a set's order changed with
        # the interpreter's string hashing, from run to run)
        keys = list(dict.fromkeys(k for r in rows for k in r))
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
    """``rexopt optimize-cascade CASE.toml``: the cascade optimization of
    ``rexopt optimize`` (the same study run, :mod:`rexopt.study`), and the
    Pareto front's table when ``pareto`` is given.

    Returns 0 for a verified design, 1 when the specs are infeasible (the binding
    spec and its best achievable value are printed) or the design is not
    verified, 2 for a bad case.
    """
    from rexopt.design.optimize import OptimizeError
    from rexopt.study import StudyInputError, StudyRunError, get_study

    opts = {"json": json_out, "pareto": pareto}
    try:
        oc = get_study("cascade_optimize").run(
            Path(case_path), {k: v for k, v in opts.items() if v is not None}
        )
    except (StudyInputError, OptimizeError, CaseError) as e:
        print_error(str(e), console)
        return 2
    except StudyRunError as e:
        print_error(str(e), console)
        return e.code
    if pareto:
        t = table(
            "Pareto front: least reagent cost for a cap on total stages",
            ("max stages", "right"),
            ("stages", "right"),
            ("reagent cost [USD/y]", "right"),
        )
        for r in oc.to_dict()["pareto"]["stages_vs_reagent"]:
            t.add_row(
                str(r["max_stages"]),
                r.get("stages", "infeasible"),
                f"{r['reagent_cost_USD_y']:.5g}" if r.get("feasible") else "-",
            )
        console.print(t)
        paths = [p for k, p in oc.files.items() if k.startswith("pareto ")]
        console.print("written: " + ", ".join(paths))
    if json_out:
        console.print(f"JSON written to {json_out}")
    return oc.exit_code


def register(app: typer.Typer) -> None:
    """Add ``design`` and ``optimize-cascade`` to ``app``."""

    @app.command(
        "design", short_help="Xu closed-form cascade design, corrected on the kernel."
    )
    def design_cmd(
        case: Annotated[
            Path,
            typer.Argument(
                metavar="CASE.toml", help="Cascade case TOML (saturated model)."
            ),
        ],
        write_case: Annotated[
            Path | None,
            typer.Option(
                "--write-case",
                metavar="FILE.toml",
                help="Write the designed case (a cascade case TOML).",
            ),
        ] = None,
        json_out: JsonOption = None,
        purity_a: Annotated[
            float | None,
            typer.Option(
                "--purity-a",
                metavar="FRACTION",
                help="Purity of the organic product (strip liquor), mole fraction "
                "of its key component [-] (default: the case's spec, else 0.995).",
            ),
        ] = None,
        purity_b: Annotated[
            float | None,
            typer.Option(
                "--purity-b",
                metavar="FRACTION",
                help="Purity of the raffinate product, mole fraction of its key "
                "component [-] (default: the case's spec, else 0.995).",
            ),
        ] = None,
        purity_middle: Annotated[
            float | None,
            typer.Option(
                "--purity-middle",
                metavar="FRACTION",
                help="Purity of the side-draw product, mole fraction of the middle "
                "component [-] (a case with a side draw only).",
            ),
        ] = None,
        draw_section: Annotated[
            str | None,
            typer.Option(
                "--draw-section",
                metavar="SECTION",
                help="scrub or extraction: the middle draw above the feed (scrub "
                "section) or below it; default: the section of the case's draw.",
            ),
        ] = None,
        optimum: Annotated[
            str,
            typer.Option(
                "--optimum",
                metavar="KIND",
                help="simple: Xu's optimum equations; precise: the numerical "
                "minimum of S*(n+m) (S: extraction amount [mol/mol feed RE]).",
            ),
        ] = "simple",
    ):
        """Xu closed-form design of a cascade, its flows corrected on the kernel."""
        raise typer.Exit(
            design_cli(
                str(case),
                write_case and str(write_case),
                json_out and str(json_out),
                purity_a,
                purity_b,
                purity_middle,
                draw_section,
                optimum,
            )
        )

    @app.command(
        "optimize-cascade", short_help="Cheapest stages and flows meeting the specs."
    )
    def optimize_cmd(
        case: Annotated[
            Path,
            typer.Argument(
                metavar="CASE.toml",
                help="Cascade case TOML with an [optimize] table.",
            ),
        ],
        json_out: JsonOption = None,
        pareto: Annotated[
            str | None,
            typer.Option(
                "--pareto",
                metavar="PREFIX",
                help="Also trace the Pareto fronts (stages vs reagent cost, "
                "recovery vs cost): PREFIX_stages.csv, PREFIX_recovery.csv, "
                "PREFIX.png.",
            ),
        ] = None,
    ):
        """Cheapest stages and flows meeting the specs (HiGHS + kernel)."""
        raise typer.Exit(optimize_cli(str(case), json_out and str(json_out), pareto))
