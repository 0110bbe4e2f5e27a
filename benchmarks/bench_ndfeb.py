"""Benchmark: full superstructure optimisation of the 4,000 t/yr NdFeB case.

Prints the wall time of each step (SX candidates with the cascade kernel, MILP
build, HiGHS solve with its exact-CAPEX rounds, re-simulation, report) and the HiGHS
model size.  Goal (issue 19): the whole optimisation in under 20 s on 2 cores.

    python benchmarks/bench_ndfeb.py [cases/ndfeb_4000tpa.toml]
    python benchmarks/bench_ndfeb.py --session [CASE]

``--session`` measures PlantSession (issue 20): the same price scenarios solved
by re-solving one built model (mutable Params on its persistent HiGHS object)
and by a fresh build + solve each, side by side in one run.  To keep it short
the routes are fixed to the bundled case's headline plant (selective leach,
Mg(HCO3)2, MVR, both cuts on); trains, operating points and sizes stay free.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowsheets import ndfeb_recycling as nd  # noqa: E402


def main(case_path: str) -> None:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        res = nd.main(case_path, out)
    wall = time.perf_counter() - t0
    rep = res.solve
    print(f"case: {case_path}")
    print(
        f"HiGHS model: {rep.n_variables} variables ({rep.n_integer} integer), "
        f"{rep.n_constraints} constraints; status {rep.status}, gap "
        f"{(rep.gap or 0) * 100:.3f} %"
    )
    if rep.warning:
        print(f"WARNING: {rep.warning}")
    for k, v in res.timings_s.items():
        print(f"  {k:26s} {v:8.2f} s")
    print(
        f"total wall time (incl. report files): {wall:.2f} s "
        f"({'under' if wall < 20 else 'OVER'} the 20 s goal)"
    )
    s = res.summary
    print(f"route: {s['route']}")
    print(
        f"REO {s['REO_t_yr']:.1f} t/yr, RE yield {100 * s['re_yield']:.2f} %, "
        f"NPV {s['economics']['npv_USD'] / 1e6:.1f} M USD, ZLD met: "
        f"{s['balances']['zld_met']}"
    )


HEADLINE_ROUTES = {
    "pretreatment": "crushing",
    "leach_route": "selective",
    "agent": "MgHCO3",
    "evaporator": "mvr",
    "kiln_heating": "gas",
    "prnd_cut": "on",
    "dytb_cut": "on",
}


def session(case_path: str) -> None:
    import copy
    import tomllib

    with open(case_path, "rb") as fh:
        raw = tomllib.load(fh)
    raw["routes"] = dict(HEADLINE_ROUTES)
    case, _ = nd.load_case(raw)
    scen = [
        {},
        {"data.costs.products_USD_kg.Nd2O3": 95.0},
        {"data.costs.reagents_USD_t.HCl": 400.0, "data.costs.finance.tax_rate": 0.3},
    ]
    t0 = time.perf_counter()
    ses = nd.PlantSession(case)
    t_build = time.perf_counter() - t0
    print(f"case: {case_path} (routes fixed to {HEADLINE_ROUTES})")
    print(
        f"PlantSession build: {t_build:.2f} s (plant {ses.build_seconds['plant']:.2f}"
        f" s, Pyomo model {ses.build_seconds['model']:.2f} s)"
    )
    print(
        f"{'scenario':60s} {'re-solve_s':>10s} {'rebuild_s':>10s} {'NPV re/rb MUSD':>18s}"
    )
    tot_re = tot_rb = 0.0
    for ov in scen:
        t = time.perf_counter()
        a = ses.solve(ov)
        t_re = time.perf_counter() - t
        r2 = copy.deepcopy(raw)
        for k, v in ov.items():
            nd._set_path(r2, k, v)
        c2, _ = nd.load_case(r2)
        t = time.perf_counter()
        b = nd.run(c2)
        t_rb = time.perf_counter() - t
        tot_re += t_re
        tot_rb += t_rb
        print(
            f"{str(ov)[:60]:60s} {t_re:10.2f} {t_rb:10.2f} "
            f"{a.summary['economics']['npv_USD'] / 1e6:8.2f}/"
            f"{b.summary['economics']['npv_USD'] / 1e6:.2f}"
        )
    print(
        f"total: re-solve {tot_re:.2f} s, rebuild {tot_rb:.2f} s "
        f"(ratio rebuild/re-solve {tot_rb / max(tot_re, 1e-9):.2f}); "
        "the HiGHS branch and bound dominates both"
    )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0] if args else str(ROOT / "cases" / "ndfeb_4000tpa.toml")
    if "--session" in sys.argv:
        session(path)
    else:
        main(path)
