"""Cascade optimizer vs exhaustive kernel enumeration (printed figures, no asserts).

For each bundled case (Pr/Nd always; La/Ce and the three-outlet Sm/Eu/Gd case when
their files exist under cases/) the optimizer (HiGHS column choice + kernel
pricing, rexopt.design.optimize) and an exhaustive enumeration over the same
integer ranges (every column, each with the same 1-D kernel search on the flows)
are run, and their wall times, costs and designs printed side by side.

Run:  python benchmarks/bench_optimize.py [--quick] [CASE_SUBSTRING ...]
(--quick: smaller ranges, about a minute in all; names select cases, e.g. lace)
"""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

from rexopt.design.optimize import (
    enumerate_designs,
    objective_value,
    optimize,
    problem_from,
)

ROOT = Path(__file__).resolve().parents[1]

BENCH = {
    "prnd_p507.toml": {
        "objective": "annualized_cost",
        "specs": [
            {"stream": "strip_liquor", "component": "Nd", "purity_min": 0.995},
            {"stream": "raffinate", "component": "Pr", "purity_min": 0.995},
        ],
        "stages": {"extraction": [14, 30], "scrub": [14, 30], "strip": [4, 6]},
    },
    "lace_p507.toml": {
        "objective": "annualized_cost",
        "specs": [
            {"stream": "strip_liquor", "component": "Ce", "purity_min": 0.999},
            {"stream": "raffinate", "component": "La", "purity_min": 0.999},
        ],
        "stages": {"extraction": [5, 12], "scrub": [6, 14], "strip": [3, 5]},
    },
    "three_outlet_smeugd.toml": {
        "objective": "annualized_cost",
        "specs": [
            {"stream": "strip_liquor", "component": "Gd", "purity_min": 0.9},
            {"stream": "raffinate", "component": "Sm", "purity_min": 0.99},
            {"stream": "middle_Eu", "component": "Eu", "purity_min": 0.3},
        ],
        "organic_flow_L_h": [1000.0, 2400.0],
        "side_draw_flow_L_h": [16.0, 28.0],
        "side_draw_levels": 4,
        "stages": {"extraction": [26, 32], "scrub": [26, 32], "strip": [8, 8]},
    },
}
QUICK = {
    "prnd_p507.toml": {"extraction": [17, 22], "scrub": [19, 24], "strip": [4, 5]},
    "lace_p507.toml": {"extraction": [6, 10], "scrub": [8, 12], "strip": [3, 4]},
    "three_outlet_smeugd.toml": {
        "extraction": [28, 30],
        "scrub": [28, 30],
        "strip": [8, 8],
    },
}


def run(name: str, opt: dict) -> dict:
    case = tomllib.loads((ROOT / "cases" / name).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    res = optimize(case, opt=opt)
    t_opt = time.perf_counter() - t0
    pb = problem_from(case, opt=opt)
    en = enumerate_designs(pb)
    row = {
        "case": name,
        "candidates": res.n_candidates,
        "t_opt": t_opt,
        "t_enum": en.seconds,
        "status": res.status,
        "verified": res.verified,
        "simulated": len(res.columns),
        "enum_columns": len(en.columns),
        "kernel_opt": res.kernel_calls,
        "kernel_enum": en.kernel_calls,
        "rounds": res.rounds,
        "highs_s": res.milp.get("total_seconds", 0.0),
    }
    if res.best is not None:
        row["opt_design"] = "/".join(map(str, res.best.stages)) + f" lev{res.best.lev}"
        row["opt_cost"] = res.best.cost.annualized_USD_y
        row["opt_obj"] = objective_value(pb, res.best.cost, 1.0)
    if en.best is not None:
        row["enum_design"] = "/".join(map(str, en.best.stages)) + f" lev{en.best.lev}"
        row["enum_cost"] = en.best.cost.annualized_USD_y
        row["enum_obj"] = objective_value(pb, en.best.cost, 1.0)
    return row


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for name, opt in BENCH.items():
        if only and not any(o in name for o in only):
            continue
        if not (ROOT / "cases" / name).is_file():
            print(f"{name}: not in cases/, skipped")
            continue
        opt = dict(opt)
        if quick:
            opt["stages"] = QUICK[name]
        print(f"running {name} (ranges {opt['stages']}) ...", flush=True)
        rows.append(run(name, opt))
    print()
    hdr = (
        f"{'case':26s} {'cols':>5s} {'opt s':>7s} {'enum s':>8s} {'speed-up':>8s} "
        f"{'sim':>4s} {'opt design':>14s} {'enum design':>14s} "
        f"{'opt USD/y':>11s} {'enum USD/y':>11s} {'opt<=enum':>9s} {'verified':>8s}"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        ok = r.get("opt_obj", float("inf")) <= r.get("enum_obj", float("inf")) * (
            1 + 1e-9
        )
        print(
            f"{r['case']:26s} {r['candidates']:5d} {r['t_opt']:7.1f} "
            f"{r['t_enum']:8.1f} "
            f"{r['t_enum'] / r['t_opt']:7.1f}x {r['simulated']:4d} "
            f"{r.get('opt_design', '-'):>14s} {r.get('enum_design', '-'):>14s} "
            f"{r.get('opt_cost', float('nan')):11.1f} "
            f"{r.get('enum_cost', float('nan')):11.1f} {str(ok):>9s} "
            f"{str(r['verified']):>8s}"
        )
    print()
    for r in rows:
        print(
            f"{r['case']}: optimizer {r['status']}, {r['rounds']} HiGHS rounds "
            f"({r['highs_s']:.2f} s in HiGHS), kernel calls {r['kernel_opt']} vs "
            f"{r['kernel_enum']} for the enumeration"
        )


if __name__ == "__main__":
    main()
