"""Where the time of one cascade scenario goes: kernel, result arrays, tables.

Side by side in one run, per bundled cascade case (median of repeated solves, cold
start each time):

- kernel       : ``solve_arrays`` on a prebuilt network (the floor)
- summary      : ``Cascade.simulate().summary()`` -- the sweep/optimizer fast path
                 (network, parameters, kernel, result arrays, provenance; no table)
- tables       : the same plus every pandas table and ``to_dict()``
- from file    : ``rexopt.simulate(path).summary()`` (TOML read and validation too)

Run:  python benchmarks/bench_results.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import rexopt
from rexopt.cascade import Cascade, solve_arrays
from rexopt.case import load_case

ROOT = Path(__file__).resolve().parents[1]
CASES = ["prnd_p507.toml", "lace_p507.toml", "prnd_dytb_group.toml",
         "lree_d2ehpa_empirical.toml", "three_outlet_smeugd.toml"]  # fmt: skip


def median_ms(fn, n):
    fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1e3 * statistics.median(ts)


def main(n: int = 50) -> None:
    print(f"{'case':32s} {'kernel':>8s} {'summary':>8s} {'tables':>8s} "
          f"{'file':>8s}   [ms per scenario, median of {n}]")  # fmt: skip
    for name in CASES:
        path = ROOT / "cases" / name
        case = load_case(path)
        cas = Cascade(case)
        net = cas.network()
        par = cas.stage_parameters(net)
        eff = cas.efficiencies()
        k = median_ms(lambda: solve_arrays(net, par, eff), n)  # noqa: B023
        s = median_ms(lambda: cas.simulate().summary(), n)  # noqa: B023
        t = median_ms(lambda: cas.simulate().to_dict(), n)  # noqa: B023
        f = median_ms(lambda: rexopt.simulate(path).summary(), n)  # noqa: B023
        print(f"{name:32s} {k:8.2f} {s:8.2f} {t:8.2f} {f:8.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
