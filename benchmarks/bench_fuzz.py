"""The larger fuzz run: >= 1,000 seeded mutations of the bundled case files.

Same mutations and checks as tests/test_fuzz.py (see its docstring), more of
them, and ``rexopt design`` on every ``--design-every``-th cascade mutation.
Prints the counts per mutation class and outcome, per command and exit status,
and every problem found with its reproducer (file, class, field, change).

    python benchmarks/bench_fuzz.py [--n 1000] [--seed 2026] [--design-every 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_fuzz import CLASSES, fuzz  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="mutations (default 1000)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--design-every",
        type=int,
        default=3,
        help="also run `rexopt design` on every k-th cascade mutation (0: never)",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = fuzz(a.seed, a.n, Path(tmp), design_every=a.design_every)
    wall = time.perf_counter() - t0

    outcomes = ("accepted", "refused", "infeasible", "solve_failed", "broken")
    by = Counter((v.mutation.klass, v.outcome()) for v in verdicts)
    print(f"{len(verdicts)} mutations, seed {a.seed}, {wall:.1f} s wall")
    print(f"{'class':<14}" + "".join(f"{o:>14}" for o in outcomes) + f"{'total':>8}")
    for k in CLASSES:
        row = [by[(k, o)] for o in outcomes]
        print(f"{k:<14}" + "".join(f"{n:>14}" for n in row) + f"{sum(row):>8}")
    tot = [sum(by[(k, o)] for k in CLASSES) for o in outcomes]
    print(f"{'all':<14}" + "".join(f"{n:>14}" for n in tot) + f"{sum(tot):>8}")

    runs = Counter((r.command, r.code) for v in verdicts for r in v.runs)
    secs = Counter()
    for v in verdicts:
        for r in v.runs:
            secs[r.command] += r.seconds
    print("\ncommand runs by exit status (0 ok, 1 infeasible, 2 bad input, 3 failed)")
    for cmd in sorted({c for c, _ in runs}):
        codes = ", ".join(
            f"{code}: {n}" for (c, code), n in sorted(runs.items(), key=str) if c == cmd
        )
        n = sum(n for (c, _), n in runs.items() if c == cmd)
        print(f"  {cmd:<9} {n:>5} runs ({codes}), {secs[cmd] / n * 1e3:.0f} ms mean")

    files = Counter((v.mutation.source.name, v.outcome()) for v in verdicts)
    print("\nper bundled file: refused / accepted / other")
    for f in sorted({v.mutation.source.name for v in verdicts}):
        ref, acc = files[(f, "refused")], files[(f, "accepted")]
        other = sum(n for (g, o), n in files.items() if g == f) - ref - acc
        print(f"  {f:<36} {ref:>5} {acc:>5} {other:>5}")

    problems = [(v, p) for v in verdicts for p in v.problems]
    kinds = Counter(
        p.split(":")[0] + ": " + p.split(":")[1].split("(")[0][:40] for _, p in problems
    )
    print(
        f"\n{len(problems)} problem(s) in {sum(1 for v in verdicts if v.problems)} "
        "mutation(s)"
    )
    for k, n in kinds.most_common():
        print(f"  {n:>4} x {k}")
    for v, p in problems:
        print(f"- {v.mutation.label()}: {p[:500]}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
