"""Search for cascades with more than one steady state (issue 17, item 3).

For each family of cascades, the organic flow (or, for the two issue cascades,
also the scrub flow, i.e. the reflux) is scanned up and then down over a grid; at
every grid point the kernel solves

* cold (no start profile),
* "up": warm-started from the solution at the previous (lower) flow,
* "down": warm-started from the solution at the next (higher) flow,

i.e. natural continuation in both directions.  On a hysteresis loop the up and
down sweeps stay on different branches over the same flows; a point where two
solutions that are each converged in relative terms (last Newton correction
<= 1e-10 on every concentration above the accuracy floor) differ by more than
1e-6 relative is a second steady state.  Solutions the kernel accepted at its
iteration budget with a larger correction (traces not converged, see
tests/test_kernel_regressions.py) are counted apart: their differences are not
branches.  Finally ``Cascade.simulate`` (with its branch search) is run at every
grid point of the smaller families and the number of branches it reports is
printed.

    python benchmarks/bench_branches.py            # all families (~1-2 min)
    python benchmarks/bench_branches.py --quick    # fewer points
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rexopt import kernels  # noqa: E402
from rexopt.cascade import Cascade, CascadeError, solve_arrays  # noqa: E402
from rexopt.case import CaseError  # noqa: E402

SAME = 1e-6  # two converged solutions further apart than this: two branches
CONVERGED = 1e-10  # relative Newton correction of a solution counted as converged


def load(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def with_organic(case: dict, flow: float) -> dict:
    c = copy.deepcopy(case)
    c["organic"]["flow_L_h"] = float(flow)
    return c


def solve(case: dict, x0=None):
    cas = Cascade(case)
    net = cas.network()
    par = cas.stage_parameters(net)
    st, x, y, _h, _F, info = solve_arrays(net, par, cas.efficiencies(), x0)
    return net, st, x, info


def floor(net) -> np.ndarray:
    scale = (net.ext_aq + net.ext_org).sum(0)
    return kernels.ACC_FLOOR * scale / (net.aq_out + net.org_out).mean()


def distance(net, a, b) -> float:
    fl = floor(net)
    act = (a >= fl) | (b >= fl)
    if not act.any():
        return 0.0
    return float((np.abs(a - b) / np.maximum(np.minimum(a, b), fl))[act].max())


def ok(res) -> bool:
    return res is not None and res[1] == kernels.OK


def converged(res) -> bool:
    return ok(res) and res[3][kernels.INFO_RELSTEP] <= CONVERGED


def with_scrub(case: dict, flow: float) -> dict:
    c = copy.deepcopy(case)
    c["scrub"]["flow_L_h"] = float(flow)
    return c


def scan(
    name: str, case: dict, flows, *, with_simulate: bool, setter=with_organic
) -> dict:
    """Cold, up and down solves over the flows (organic by default, or what
    ``setter`` sets); returns a summary."""
    n = len(flows)
    cold, up, down = [None] * n, [None] * n, [None] * n
    for k, f in enumerate(flows):
        cold[k] = solve(setter(case, f))
    prev = None
    for k, f in enumerate(flows):
        x0 = prev[2] if ok(prev) else None
        up[k] = solve(setter(case, f), x0)
        prev = up[k] if ok(up[k]) else cold[k]
    prev = None
    for k in range(n - 1, -1, -1):
        x0 = prev[2] if ok(prev) else None
        down[k] = solve(setter(case, flows[k]), x0)
        prev = down[k] if ok(down[k]) else cold[k]
    out = {
        "name": name,
        "points": n,
        "cold_failed": sum(not ok(r) for r in cold),
        "unconverged_traces": sum(ok(r) and not converged(r) for r in cold + up + down),
        "warm_fell_back": sum(
            ok(r) and r[3][kernels.INFO_PATH] != 0 for r in up[1:] + down[:-1]
        ),
        "branch_points": [],
        "max_difference": 0.0,
        "max_difference_unconverged": 0.0,
        "simulate_branches": None,
    }
    for k in range(n):
        sols = [r for r in (cold[k], up[k], down[k]) if ok(r)]
        for i in range(len(sols)):
            for j in range(i + 1, len(sols)):
                d = distance(sols[i][0], sols[i][2], sols[j][2])
                if converged(sols[i]) and converged(sols[j]):
                    out["max_difference"] = max(out["max_difference"], d)
                    if d > SAME:
                        out["branch_points"].append((float(flows[k]), d))
                else:
                    out["max_difference_unconverged"] = max(
                        out["max_difference_unconverged"], d
                    )
    if with_simulate:
        counts = []
        out["simulate_multi"] = []
        for f in flows:
            try:
                r = Cascade(setter(case, f)).simulate()
                b = r.convergence["branches"]
                counts.append(len(b) if isinstance(b, list) else 0)
                if counts[-1] > 1:
                    out["simulate_multi"].append(
                        (float(f), counts[-1],
                         r.convergence["relative_error_estimate"])
                    )  # fmt: skip
            except CascadeError:
                counts.append(-1)
        out["simulate_branches"] = counts
    return out


# ------------------------------------------------------------------- families
def seg_family(path: Path, S_lo: float, S_hi: float, n: int):
    """Sm/Eu/Gd at fixed scrub and strip flows, organic over S = S_lo..S_hi
    (S = organic capacity flux / RE fed): the reflux S F - scrub changes sign."""
    case = load(path)
    ymax, F = 0.36 * 1.5 / 3.0, 100.0
    return case, np.geomspace(S_lo, S_hi, n) * F / ymax


def prnd_family(n: int):
    case = load(ROOT / "cases" / "prnd_p507.toml")
    O = case["organic"]["flow_L_h"]
    return case, np.geomspace(0.5 * O, 1.5 * O, n)


def near_capacity_family(K_ref: float, n: int):
    """Two-component saturated extraction + scrub with a weak affinity (strongly
    loading-dependent separation) scanned through organic capacity = RE fed."""
    ymax = 0.18
    case = {
        "kind": "cascade",
        "chemistry": {
            "model": "saturated",
            "components": ["Pr", "Nd"],
            "saturated": {
                "separation_factors": {"Pr": 1.0, "Nd": 1.5},
                "K_ref_L_mol": K_ref,
            },
        },
        "sections": {
            "extraction": {"stages": 30},
            "scrub": {"stages": 30},
            "strip": {"stages": 5},
        },  # fmt: skip
        "organic": {"flow_L_h": 500.0, "extractant_mol_L": 1.5, "saponification": 0.36},
        "feed": {
            "flow_L_h": 100.0,
            "acidity_mol_L": 0.01,
            "conc_mol_L": {"Pr": 0.25, "Nd": 0.75},
        },  # fmt: skip
        "scrub": {"flow_L_h": 60.0, "acidity_mol_L": 3.0},
        "strip": {"flow_L_h": 40.0, "acidity_mol_L": 6.0},
    }
    return case, np.geomspace(0.5, 3.0, n) * 100.0 / ymax


def empirical_family(n: int):
    case = load(ROOT / "cases" / "lree_d2ehpa_empirical.toml")
    O = case["organic"]["flow_L_h"]
    return case, np.geomspace(0.2 * O, 5.0 * O, n)


def mass_action_family(n: int):
    """Saponified P507 mass action (pH and free-extractant feedback): Pr/Nd."""
    case = {
        "kind": "cascade",
        "chemistry": {"model": "mass_action", "components": ["Pr", "Nd"]},
        "sections": {
            "extraction": {"stages": 20},
            "scrub": {"stages": 20},
            "strip": {"stages": 6},
        },  # fmt: skip
        "organic": {"flow_L_h": 500.0, "extractant_mol_L": 1.5, "saponification": 0.3},
        "feed": {
            "flow_L_h": 100.0,
            "acidity_mol_L": 0.05,
            "conc_mol_L": {"Pr": 0.25, "Nd": 0.75},
        },  # fmt: skip
        "scrub": {"flow_L_h": 50.0, "acidity_mol_L": 1.0},
        "strip": {"flow_L_h": 40.0, "acidity_mol_L": 4.0},
    }
    return case, np.geomspace(100.0, 3000.0, n)


def mixed_charge_family(
    ion: str, beta: float, K_ref: float, share: float, scrub: float, n: int
):
    """Saturated Nd with a mono- or divalent ion (nu = z / 3 sites): the metal
    moles a litre of organic carries depend on its composition, the analogue of
    a distillation column specified in mass flows (the classical source of
    multiple steady states there).  ``share``: the ion's fraction of the feed
    moles; ``scrub``: scrub flow as a multiple of the load (site equivalents)."""
    z = {"Na": 1.0, "Ca": 2.0}[ion]
    feed = {ion: 0.5 * share, "Nd": 0.5 * (1.0 - share)}
    load_ = 100.0 * (feed[ion] * z / 3.0 + feed["Nd"])
    case = {
        "kind": "cascade",
        "chemistry": {"model": "saturated", "components": [ion, "Nd"],
                      "saturated": {"separation_factors": {ion: 1.0, "Nd": beta},
                                    "K_ref_L_mol": K_ref}},
        "sections": {"extraction": {"stages": 20}, "scrub": {"stages": 20},
                     "strip": {"stages": 4}},
        "organic": {"flow_L_h": 500.0, "extractant_mol_L": 1.5,
                    "saponification": 0.36},
        "feed": {"flow_L_h": 100.0, "acidity_mol_L": 0.01, "conc_mol_L": feed},
        "scrub": {"flow_L_h": scrub * load_, "acidity_mol_L": 3.0},
        "strip": {"flow_L_h": 30.0, "acidity_mol_L": 6.0},
    }  # fmt: skip
    return case, np.geomspace(0.3, 4.0, n) * load_ / 0.18


def random_high_reflux(rng, n: int):
    """A random saturated cascade at high reflux (S = 1.05-3): 2-5 adjacent REE,
    scanned over organic flow 0.7-1.4 x its design value at fixed scrub."""
    order = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Y"]
    nc = int(rng.integers(2, 6))
    i0 = int(rng.integers(0, len(order) - nc + 1))
    comps = order[i0 : i0 + nc]
    feed = {c: float(10 ** rng.uniform(-1.5, 0) * 0.3) for c in comps}
    load_ = 100.0 * sum(feed.values())
    S = float(rng.uniform(1.05, 3.0))
    P = float(rng.uniform(0.1, 0.9)) * load_
    ymax = 0.18
    case = {
        "kind": "cascade",
        "chemistry": {"model": "saturated", "components": comps,
                      "saturated": {"K_ref_L_mol": float(10 ** rng.uniform(0.5, 2))}},
        "sections": {"extraction": {"stages": int(rng.integers(5, 60))},
                     "scrub": {"stages": int(rng.integers(5, 60))},
                     "strip": {"stages": int(rng.integers(2, 8))}},
        "organic": {"flow_L_h": S * load_ / ymax, "extractant_mol_L": 1.5,
                    "saponification": 0.36},
        "feed": {"flow_L_h": 100.0, "acidity_mol_L": 0.01, "conc_mol_L": feed},
        "scrub": {"flow_L_h": max(S * load_ - P, 1.0), "acidity_mol_L": 3.0},
        "strip": {"flow_L_h": max(3.3 * P / 6.0, 1.0), "acidity_mol_L": 6.0},
    }  # fmt: skip
    O = case["organic"]["flow_L_h"]
    return case, np.geomspace(0.7 * O, 1.4 * O, n)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer points and cases")
    ap.add_argument("--random", type=int, default=None, help="random cascades")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    n = 16 if a.quick else 40
    n_random = a.random if a.random is not None else (5 if a.quick else 30)
    data = ROOT / "tests" / "data" / "kernel"
    fams = [
        ("SmEuGd 38+28+3, S 0.6-6", *seg_family(data / "smeugd_38_28_3.toml",
                                                 0.6, 6.0, n), True),
        ("SmEuGd 40+40+5, S 0.6-6", *seg_family(data / "smeugd_40_40_5.toml",
                                                 0.6, 6.0, n), True),
        ("Pr/Nd prnd_p507, O 0.5-1.5x", *prnd_family(n), True),
        ("Pr/Nd saturated K_ref 2, S 0.5-3", *near_capacity_family(2.0, n), True),
        ("Pr/Nd saturated K_ref 50, S 0.5-3", *near_capacity_family(50.0, n), False),
        ("lree D2EHPA empirical, O 0.2-5x", *empirical_family(n), False),
        ("Pr/Nd mass action, O 100-3000", *mass_action_family(n), True),
    ]  # fmt: skip
    mixed = [(ion, beta, K, share, scrub) for ion in ("Ca", "Na")
             for beta in (2.0, 100.0) for K in (5.0, 50.0) for share in (0.3, 0.7)
             for scrub in (0.5, 2.0)]  # fmt: skip
    for ion, beta, K, share, scrub in mixed[:: 8 if a.quick else 1]:
        fams.append((f"{ion}/Nd b{beta:g} K{K:g} x{share:g} W{scrub:g}",
                     *mixed_charge_family(ion, beta, K, share, scrub, n // 2 + 4),
                     False))  # fmt: skip
    rng = np.random.default_rng(a.seed)
    for k in range(n_random):
        case, flows = random_high_reflux(rng, max(n // 2, 8))
        fams.append((f"random high-reflux saturated #{k}", case, flows, False))
    t0 = time.perf_counter()
    total_points = total_branch = 0
    # scrub-flow scans of the issue cascades at S = 4.3: the reflux S F - scrub
    # from 0 (scrub = S F) to half the load, and near total reflux
    for fname in ("smeugd_38_28_3.toml", "smeugd_40_40_5.toml"):
        case = load(data / fname)
        fams.append(
            (
                f"{fname[:-5]} scrub 215-430 L/h",
                case,
                np.linspace(215.0, 430.0, n),
                True,
                with_scrub,
            )
        )
        fams.append(
            (
                f"{fname[:-5]} scrub 400-429.9 L/h",
                case,
                430.0 - np.geomspace(30.0, 0.1, n),
                False,
                with_scrub,
            )
        )
    print(f"{'family':38s} {'pts':>4s} {'cold!':>5s} {'fellbk':>6s} {'unconv':>6s} "
          f"{'max diff (conv)':>15s} {'(unconv)':>9s} {'branches':>8s}  simulate")  # fmt: skip
    for name, case, flows, sim, *setter in fams:
        try:
            r = scan(name, case, flows, with_simulate=sim,
                     setter=setter[0] if setter else with_organic)  # fmt: skip
        except (CaseError, ValueError) as e:
            print(f"{name:38s} refused: {e}")
            continue
        total_points += r["points"]
        total_branch += len(r["branch_points"])
        sb = r["simulate_branches"]
        sim_txt = "-" if sb is None else (
            f"max {max(sb)} branches, {sum(b > 1 for b in sb)} pts >1, "
            f"{sum(b < 0 for b in sb)} errors")  # fmt: skip
        print(f"{name:38s} {r['points']:4d} {r['cold_failed']:5d} "
              f"{r['warm_fell_back']:6d} {r['unconverged_traces']:6d} "
              f"{r['max_difference']:15.2e} {r['max_difference_unconverged']:9.1e} "
              f"{len(r['branch_points']):8d}  {sim_txt}")  # fmt: skip
        for f, d in r["branch_points"][:5]:  # flows of the scanned stream
            print(f"    two converged steady states at {f:.6g} L/h: {d:.3g}")
        for f, nb, rel in r.get("simulate_multi", [])[:3]:
            print(f"    simulate() reports {nb} branches at {f:.6g} L/h; "
                  f"its relative error estimate {rel:.2g}"
                  + (" (traces not converged: not distinct steady states)"
                     if rel > CONVERGED else ""))  # fmt: skip
    print(
        f"\n{total_points} grid points in {len(fams)} families, "
        f"{total_branch} with two converged steady states; "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
