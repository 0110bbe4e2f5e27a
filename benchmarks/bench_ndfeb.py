"""Benchmark: full superstructure optimisation of the 4,000 t/yr NdFeB case.

Prints the wall time of each step (SX candidates with the cascade kernel, MILP
build, HiGHS solve, re-simulation) and the HiGHS model size.  Target: the whole
optimisation in under 60 s.

    python benchmarks/bench_ndfeb.py [cases/ndfeb_4000tpa.toml]
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
        f"({'under' if wall < 60 else 'OVER'} the 60 s target)"
    )
    s = res.summary
    print(f"route: {s['route']}")
    print(
        f"REO {s['REO_t_yr']:.1f} t/yr, RE yield {100 * s['re_yield']:.2f} %, "
        f"NPV {s['economics']['npv_USD'] / 1e6:.1f} M USD, ZLD met: "
        f"{s['balances']['zld_met']}"
    )


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "cases" / "ndfeb_4000tpa.toml")
    )
