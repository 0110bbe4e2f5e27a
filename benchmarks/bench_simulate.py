"""CPU time of one ``Cascade.simulate``: this checkout's rexopt/cascade.py against
an earlier commit's, side by side in one run.

Prints measured figures (no assertions).  The earlier cascade.py is read with
``git show REV:rexopt/cascade.py`` and imported from a temporary file as its own
module; both use this checkout's kernel, results and case code, so the difference
is what cascade.py does around the kernel.  For every case: CPU ms per simulate
(``time.process_time``, best of --repeat rounds of --n scenarios each, old
and new taking turns), with the branch search on (the default: the case and
its two neighbouring organic flows) and off; the same scenarios for both (the case's organic flow changed by up to
+-5 %, cases validated before timing); and CPU microseconds of ``network`` +
``stage_parameters`` per call outside a simulate.  Each scenario's answer
(``x``, ``y``, warnings) is checked equal between the two.

Usage::

    python benchmarks/bench_simulate.py [--rev 13ce2146] [--n 100] [--repeat 5]
        [--case cases/prnd_p507.toml ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from rexopt import cascade as new_module  # noqa: E402
from rexopt.case import CascadeCase, load_case  # noqa: E402

DEFAULT_CASES = [
    "cases/prnd_p507.toml",
    "cases/lace_p507.toml",
    "cases/prnd_dytb_group.toml",
    "cases/three_outlet_smeugd.toml",
    "cases/lree_d2ehpa_empirical.toml",
]


def old_module(rev: str):
    """rexopt/cascade.py at ``rev``, imported as a module of its own."""
    src = subprocess.run(
        ["git", "show", f"{rev}:rexopt/cascade.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "cascade_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("rexopt_cascade_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def scenarios(path: str, n: int) -> list[CascadeCase]:
    base = load_case(REPO / path).model_dump()
    out = []
    for k in range(n):
        d = {key: v for key, v in base.items()}
        d["organic"] = dict(base["organic"])
        d["organic"]["flow_L_h"] *= 1.0 + 0.1 * (k / max(n - 1, 1) - 0.5)
        out.append(CascadeCase.model_validate(d))
    return out


def cpu_ms(modules, cases, repeat: int, **kw) -> list[float]:
    """CPU ms per simulate of each module, best of ``repeat`` rounds; the
    modules take turns within each round, so other load on a shared machine
    weighs on both alike."""
    best = [float("inf")] * len(modules)
    for _ in range(repeat):
        for k, module in enumerate(modules):
            t = time.process_time()
            for c in cases:
                module.Cascade(c).simulate(**kw)
            best[k] = min(best[k], (time.process_time() - t) / len(cases) * 1e3)
    return best


def build_us(modules, case, repeat: int, n: int = 200) -> list[float]:
    """CPU us of network() + stage_parameters() outside a simulate, best of
    ``repeat`` rounds taking turns."""
    best = [float("inf")] * len(modules)
    for _ in range(repeat):
        for k, module in enumerate(modules):
            cas = module.Cascade(case)
            t = time.process_time()
            for _ in range(n):
                cas.warnings = []
                cas.stage_parameters(cas.network())
            best[k] = min(best[k], (time.process_time() - t) / n * 1e6)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # default: the commit before the network / stage-parameter rework
    ap.add_argument("--rev", default="13ce2146", help="the earlier commit")
    ap.add_argument("--n", type=int, default=100, help="scenarios per case")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--case", action="append", help="case files (repeatable)")
    a = ap.parse_args(argv)
    old = old_module(a.rev)
    rev = subprocess.run(
        ["git", "rev-parse", "--short", a.rev], cwd=REPO, capture_output=True,
        text=True, check=True,
    ).stdout.strip()  # fmt: skip
    print(f"old: rexopt/cascade.py at {a.rev} ({rev}); new: this checkout")
    print(f"{a.n} scenarios per case (organic flow +-5 %), best of {a.repeat}")
    print(
        f"{'case':<28} {'search':>6} {'old ms':>8} {'new ms':>8} {'old/new':>8}"
        f" {'net+par us old':>15} {'new':>6}"
    )
    for path in a.case or DEFAULT_CASES:
        cases = scenarios(path, a.n)
        # the same answers, scenario by scenario
        for c in cases[:: max(1, len(cases) // 10)]:
            for bs in (True, False):
                r0 = old.Cascade(c).simulate(branch_search=bs)
                r1 = new_module.Cascade(c).simulate(branch_search=bs)
                if not (
                    np.array_equal(r0.x, r1.x)
                    and np.array_equal(r0.y, r1.y)
                    and r0.warnings == r1.warnings
                ):
                    raise SystemExit(f"{path}: old and new answers differ")
        b_old, b_new = build_us([old, new_module], cases[0], a.repeat)
        for bs in (True, False):
            t_old, t_new = cpu_ms([old, new_module], cases, a.repeat, branch_search=bs)
            print(
                f"{Path(path).stem:<28} {'on' if bs else 'off':>6} {t_old:8.3f} "
                f"{t_new:8.3f} {t_old / t_new:8.2f} {b_old:15.0f} {b_new:6.0f}"
            )


if __name__ == "__main__":
    main()
