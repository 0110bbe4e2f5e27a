"""``rexopt optimize CASE`` for ``kind = "separation_line"``: the printed summary.

The main CLI runs the study through :mod:`rexopt.study`, which calls
:func:`print_line_result`; :func:`optimize_line_cli` is the same as a function.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from rexopt.lines.case import LineCaseError
from rexopt.lines.model import UNITS
from rexopt.lines.report import optimize_line, write_outputs
from rexopt.lines.superstructure import LineSpecError
from rexopt.output import table


def optimize_line_cli(case_path: str, out_dir: str = "out") -> int:
    """Optimize a separation line, print the summary, write outputs to ``out_dir``.

    Returns
    -------
    int
        0 on success, 1 when the case is malformed or the specification cannot be
        met (the reason is printed).
    """
    con = Console()
    try:
        res = optimize_line(case_path)
    except (LineCaseError, LineSpecError) as err:
        con.print(f"{case_path}: {err}", style="red", markup=False)
        return 1
    paths = write_outputs(res, out_dir)
    print_line_result(res, paths, con)
    return 0


def print_line_result(res: dict, paths: dict, con: Console | None = None) -> None:
    """The summary of a separation-line result and the files written."""
    con = con or Console()
    sz = res["superstructure"]
    con.print(res["case"], style="bold", markup=False)
    con.print(
        f"superstructure: {sz['candidate_cuts']} candidate cuts "
        f"({sz['two_outlet_cuts']} two-outlet, {sz['three_outlet_cuts']} three-outlet, "
        f"{sz['excluded_cuts']} excluded), {sz['links']} link options, "
        f"{sz['binaries']} binaries; {res['seconds']['total']:.1f} s"
    )
    cols = ("cut", "feed", "strip", "S", "stages", "annualized [USD/y]")
    tab = table(f"chosen line (min {res['objective']})", *[(c, "left") for c in cols])
    for c in res["chosen"]["cascades"]:
        tab.add_row(
            escape(str(c["cut"])),
            escape(str(c["feed"])),
            str(c["strip"]),
            f"{c['S_mol_mol']:.3f}",
            str(c["stages_extraction"] + c["stages_scrub"] + c["stages_strip"]),
            f"{c['annualized_cost']:,.0f}",
        )
    con.print(tab)
    for name, comp in res["savings_of_chosen_vs"].items():
        parts = [f"{n} {v['saving_pct']:+.1f} %" for n, v in comp.items()]
        con.print(f"saving vs {name}: " + ", ".join(parts))
    kc = res.get("kernel_check")
    if kc:
        for p, v in kc["products"].items():
            flag = "[green]met[/green]" if v["met"] else "[red]NOT met[/red]"
            con.print(
                f"kernel: {escape(str(p))}: purity {v['purity']:.5f} (spec "
                f"{v['purity_spec']}, margin {v['purity_margin']:+.5f}), recovery "
                f"{v['recovery']:.4f} (spec {v['recovery_spec']}, margin "
                f"{v['recovery_margin']:+.4f}) {flag}"
            )
        for msg in kc.get("problems", []):
            con.print(f"kernel: {msg}", style="red", markup=False)
    obj = res["objective"]
    for r in res.get("repair_rounds", []):
        con.print(
            f"repair round {r['round']}: {obj} {r[obj + '_before']:,.4g} -> "
            f"{r[obj + '_repaired']:,.4g} after in-line re-calibration; choice "
            f"{'stable' if r['choice_stable'] else 'changed'}"
        )
    ls = res.get("linkage_saving_kernel")
    if ls:
        con.print(
            f"linkage saves (kernel-verified linked vs unlinked): {obj} "
            f"{ls[obj]['unlinked']:,.4g} -> {ls[obj]['linked']:,.4g} "
            f"(saves {ls[obj]['saving_pct']:.1f} %); base saved "
            f"{round(ls['base_total_eq_mol_h']['saving']) + 0:,d} mol/h, acid saved "
            f"{round(ls['acid_total_mol_h']['saving']) + 0:,d} mol/h (cascades and "
            "conditioning steps between them)"
        )
    for a in res.get("approximations", []):
        con.print(f"approximation: {a}", markup=False, highlight=False)
    m = res["chosen"]["metrics"]
    con.print(", ".join(f"{n} = {m[n]:,.4g} {UNITS[n]}" for n in m), markup=False)
    for k, p in paths.items():
        con.print(f"{k}: {Path(p)}", markup=False, highlight=False)
