"""Separation-line synthesis benchmark: 10-component feed into 5 products.

Prints the superstructure size (candidate cuts, binaries) and the wall time of
each step on this machine.  Run:

    python benchmarks/bench_lines.py [CASE.toml]

The whole job (every candidate designed, calibrated on the kernel and costed; the
MILP; the best unlinked line; the conventional sequence; a 5-point Pareto front;
the kernel re-verification and in-line repair of the chosen line, re-solved
until stable; the kernel check of the best unlinked line) is timed as one number.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from rexopt.lines import optimize_line, write_outputs
from rexopt.lines.report import REAGENT_METRICS, WATER_METRICS

CASE = Path(__file__).resolve().parents[1] / "cases" / "separation_line_bayanobo.toml"


def main(case: str | Path = CASE) -> None:
    t0 = time.perf_counter()
    res = optimize_line(case)
    t_opt = time.perf_counter() - t0
    out = Path(tempfile.mkdtemp(prefix="bench_lines_"))
    write_outputs(res, out)
    t_all = time.perf_counter() - t0
    sz = res["superstructure"]
    print(f"case: {res['case']}")
    print(
        f"components: {sz['components']}, products: {sz['products']}, "
        f"states: {sz['states']}"
    )
    print(
        f"candidate cuts: {sz['candidate_cuts']} ({sz['two_outlet_cuts']} "
        f"two-outlet, {sz['three_outlet_cuts']} three-outlet, "
        f"{sz['excluded_cuts']} excluded)"
    )
    print(
        f"MILP: {sz['binaries']} binaries = {sz['tasks']} task + "
        f"{sz['variants']} variant + {sz['links']} link + "
        f"{sz['aqueous_connections']} aqueous connection; "
        f"{res['chosen']['solve']['n_constraints']} constraints; HiGHS "
        f"{res['chosen']['solve']['seconds']:.3f} s"
    )
    print(
        f"superstructure (designs + kernel checks of every candidate): "
        f"{res['seconds']['superstructure']:.2f} s"
    )
    print(
        f"optimize_line total: {t_opt:.2f} s; with outputs written: {t_all:.2f} s "
        f"(target < 120 s)"
    )
    cal = [c["calibration"] for c in res["candidates"] if c.get("calibration")]
    print(
        f"kernel calibration: {sum(1 for c in cal if c['feasible'])} of {len(cal)} "
        f"candidates calibrated, {sum(c['simulations'] or 0 for c in cal)} kernel "
        "simulations"
    )
    kc = res.get("kernel_check")
    if kc:
        for p, v in kc["products"].items():
            print(
                f"  kernel re-verification {p}: purity {v['purity']:.5f} "
                f"(spec {v['purity_spec']}, margin {v['purity_margin']:+.5f}), "
                f"recovery {v['recovery']:.4f} (spec {v['recovery_spec']}, margin "
                f"{v['recovery_margin']:+.4f}) {'met' if v['met'] else 'NOT met'}"
            )
        for msg in kc.get("problems", []):
            print(f"  kernel problem: {msg}")
    obj = res["objective"]
    for r in res.get("repair_rounds", []):
        print(
            f"repair round {r['round']}: {obj} {r[obj + '_before']:,.0f} -> "
            f"{r[obj + '_repaired']:,.0f} USD/y, choice "
            f"{'stable' if r['choice_stable'] else 'changed'}"
        )
    ls = res.get("linkage_saving_kernel")
    if ls:
        print(
            f"linkage saves (kernel-verified, repaired lines): {obj} "
            f"{ls[obj]['unlinked']:,.0f} -> {ls[obj]['linked']:,.0f} "
            f"({ls[obj]['saving_pct']:.1f} %); stages {ls['stages']['saving']:.0f}"
        )
        for q in REAGENT_METRICS:
            v = ls[q]
            print(
                f"  kernel reagents {q}: linked {v['linked']:,.1f}, unlinked "
                f"{v['unlinked']:,.1f}, saving {round(v['saving'], 1) + 0.0:,.1f}"
            )
        if "water_in_L_h" in ls:
            for q in WATER_METRICS:
                v = ls[q]
                print(
                    f"  kernel water balance {q}: linked {v['linked']:,.4g}, "
                    f"unlinked {v['unlinked']:,.4g}, saving {v['saving']:,.4g}"
                )
        for name in ("kernel_check", "kernel_check_unlinked"):
            ib = res.get(name, {}).get("ions", {})
            if ib.get("complete"):
                print(
                    f"  {name} line balances: "
                    + ", ".join(
                        f"{q} {ib[q]['relative_error']:.1e}"
                        for q in ("chloride", "protons", "counter_ion")
                    )
                )
            for row in res.get(name, {}).get("cascades", {}).values():
                cd = row.get("conditioning")
                if cd:
                    print(
                        f"    conditioning before a cascade: outlet "
                        f"{cd['upstream_flow_L_h']:,.0f} L/h at "
                        f"{cd['upstream_acidity_mol_L']:.3f} mol/L free acid -> "
                        f"base {cd['base_eq_mol_h']:,.0f} eq/h, acid "
                        f"{cd['acid_mol_h']:,.0f} mol/h, water "
                        f"+{cd['dilution_L_h']:,.0f}/-{cd['evaporated_L_h']:,.0f} L/h"
                    )
            w = res.get(name, {}).get("water")
            if w:
                print(
                    f"  {name} water closure {w['closure']:.2e} (in "
                    f"{w['water_in_L_h']:,.1f} L/h = products "
                    f"{w['to_products_L_h']:,.1f} + concentration "
                    f"{w['concentration_evaporated_L_h']:,.1f})"
                )
        for n in ("wastewater", "energy"):
            if n in ls:
                print(
                    f"  MILP metric {n} (variant accounting, kernel-run flows): "
                    f"linked {ls[n]['linked']:,.4g}, unlinked {ls[n]['unlinked']:,.4g} "
                    f"({ls[n]['saving_pct']:+.1f} % saved by linkage)"
                )
    print(f"outputs: {out}")
    print("chosen: " + " ; ".join(res["chosen"]["sequence"]))
    for name, comp in res["savings_of_chosen_vs"].items():
        c = comp[res["objective"]]
        print(
            f"  vs {name}: {res['objective']} {c['other']:,.0f} -> "
            f"{c['chosen']:,.0f} ({c['saving_pct']:.1f} % saved)"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
