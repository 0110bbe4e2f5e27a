"""Stress test of the cascade kernel: many random cascades, every one must converge.

Random cascades over the four equilibrium models (constant, saturated,
empirical_ph, mass_action), 1-500 stages, 2-17 components, low and high reflux,
aqueous and organic side draws, organic loop (recycle).  Each is solved through
``Cascade.simulate`` (the kernel's cold start, then its organic-flow walk where
that fails; no branch search) and, for the once-through ones, also by the bare
kernel from a cold start.  Printed: the converged fractions, Newton iterations,
the worst outlet balance error, and for the constant-D cascades the worst
relative error of every concentration above the accuracy floor against the
stage balances solved in 80-digit decimal arithmetic (the closed form of a
linear cascade; Kremser for one section).

    python benchmarks/bench_stress.py --n 10000            # the issue's run
    python benchmarks/bench_stress.py --n 200 --seed 1     # a quick look

A case the generator draws that the case schema refuses (e.g. a side draw larger
than the flow at its stage) is redrawn, and counted.  ``--time-limit S`` stops a
cascade's ``simulate`` after S seconds of wall time (its ``time_limit_s``: checked
before every kernel solve and arclength step) and counts it apart, as not
finished: neither converged nor failed.  The wall
time of every cascade's ``simulate`` is measured and summarised (median,
percentiles, slowest); ``--record FILE.csv`` writes one row per cascade (index,
model, size, loop, outcome, seconds, Newton iterations, how it was reached or
the error in full), so the slow tail can be read without solving it again;
while it runs, each process appends its rows to FILE.csv.part<k> as its cascades
end (a run stopped midway keeps them).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rexopt import kernels  # noqa: E402
from rexopt._pure.decimal_reference import (  # noqa: E402
    linear_profiles,
    worst_relative_error,
)
from rexopt.cascade import (  # noqa: E402
    CIRCULATION_WARN,
    Cascade,
    CascadeError,
    CascadeTimeLimit,
    circulation,
    solve_arrays,
)
from rexopt.case import CaseError  # noqa: E402

MODELS = ("constant", "saturated", "empirical_ph", "mass_action")
P507 = [
    "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Y", "Er", "Tm",
    "Yb", "Lu", "Fe", "Al",
]  # fmt: skip
EMPIRICAL = ["La", "Ce", "Pr", "Nd", "Sm", "Gd", "Dy", "Y"]


def _stage_split(rng, total, sections):
    """Split ``total`` stages over the sections (each >= 1)."""
    if sections == 1:
        return [total]
    cuts = np.sort(rng.choice(np.arange(1, total), sections - 1, replace=False))
    return list(np.diff(np.concatenate([[0], cuts, [total]])).astype(int))


def random_case(rng) -> dict:
    """One random cascade case (a dict in the case-file shape)."""
    model = MODELS[int(rng.integers(len(MODELS)))]
    pool = EMPIRICAL if model == "empirical_ph" else P507
    nc = int(rng.integers(2, min(17, len(pool)) + 1))
    comps = list(rng.choice(pool, nc, replace=False))
    # stages: log-uniform 1..500 in total; one section (extraction only) or three
    total = int(np.clip(round(10 ** rng.uniform(0, np.log10(500))), 1, 500))
    three = total >= 3 and model != "constant" or (total >= 3 and rng.random() < 0.5)
    ne, ns, nt = _stage_split(rng, total, 3) if three else (total, 0, 0)
    feed = {c: float(10 ** rng.uniform(-4, 0)) * 0.5 for c in comps}
    feed_flow = 100.0
    load = sum(feed.values()) * feed_flow  # mol/h RE fed
    high = rng.random() < 0.5  # high reflux (scrub close to the extracted load)
    case = {
        "kind": "cascade",
        "name": "stress",
        "chemistry": {"model": model, "components": comps},
        "sections": {"extraction": {"stages": int(ne)}},
        "feed": {
            "flow_L_h": feed_flow,
            "acidity_mol_L": float(10 ** rng.uniform(-3, -1)),
            "conc_mol_L": feed,
        },
    }
    if ns:
        case["sections"]["scrub"] = {"stages": int(ns)}
        case["sections"]["strip"] = {"stages": int(nt)}
    if model == "constant":
        secs = ["extraction"] + (["scrub", "strip"] if ns else [])
        lo = {"extraction": -1.5, "scrub": -1.5, "strip": -3.0}
        hi = {"extraction": 1.5, "scrub": 1.0, "strip": -1.0}
        case["chemistry"]["constant"] = {
            "distribution": {
                s: {c: float(10 ** rng.uniform(lo[s], hi[s])) for c in comps}
                for s in secs
            }
        }
        case["organic"] = {"flow_L_h": float(10 ** rng.uniform(1.3, 2.7))}
        if ns:
            case["scrub"] = {
                "flow_L_h": float(rng.uniform(10, 200)),
                "acidity_mol_L": 0.0,
            }
            case["strip"] = {
                "flow_L_h": float(rng.uniform(10, 100)),
                "acidity_mol_L": 0.0,
            }
    elif model == "saturated":
        beta = np.cumprod(rng.uniform(1.05, 3.0, nc))
        case["chemistry"]["saturated"] = {
            "separation_factors": {c: float(b) for c, b in zip(comps, beta)},
            "K_ref_L_mol": float(10 ** rng.uniform(0.5, 2.5)),
        }
        S = float(rng.uniform(1.05, 3.0) if high else rng.uniform(0.2, 1.0))
        ymax = 0.36 * 1.5 / 3.0
        P = float(rng.uniform(0.05, 0.95)) * load  # cut: mol/h to the organic
        case["organic"] = {
            "flow_L_h": S * load / ymax,
            "extractant_mol_L": 1.5,
            "saponification": 0.36,
        }
        if ns:
            case["scrub"] = {"flow_L_h": max(3.0 * (S * load - P) / 3.0, 1.0),
                             "acidity_mol_L": 3.0}  # fmt: skip
            case["strip"] = {"flow_L_h": max(3.3 * P / 6.0, 1.0), "acidity_mol_L": 6.0}
    elif model == "empirical_ph":
        case["organic"] = {
            "flow_L_h": float(10 ** rng.uniform(1.5, 2.7)),
            "extractant_mol_L": 1.0,
            "saponification": 0.0,
        }
        if ns:
            case["scrub"] = {"flow_L_h": float(rng.uniform(10, 100)),
                             "acidity_mol_L": float(10 ** rng.uniform(-2.5, -1))}  # fmt: skip
            case["strip"] = {
                "flow_L_h": float(rng.uniform(10, 50)),
                "acidity_mol_L": 3.0,
            }
    else:  # mass_action
        case["organic"] = {
            "flow_L_h": float(10 ** rng.uniform(2, 3)),
            "extractant_mol_L": 1.5,
            "saponification": float(rng.uniform(0.0, 0.4)),
        }
        case["feed"]["acidity_mol_L"] = float(10 ** rng.uniform(-2, -0.7))
        if ns:
            case["scrub"] = {
                "flow_L_h": float(rng.uniform(10, 100)),
                "acidity_mol_L": 1.0,
            }
            case["strip"] = {
                "flow_L_h": float(rng.uniform(10, 50)),
                "acidity_mol_L": 4.0,
            }
    if rng.random() < 0.25 and total >= 2:
        phase = "aqueous" if rng.random() < 0.7 else "organic"
        case["side_draws"] = [
            {"phase": phase, "stage": int(rng.integers(1, total + 1)),
             "flow_L_h": float(rng.uniform(0.5, 10.0))}
        ]  # fmt: skip
    if ns and model in ("saturated", "mass_action") and rng.random() < 0.15:
        case["organic"]["recycle"] = True
    return case


def decimal_error(net, par, x, circ=1.0):
    """Worst relative error of a constant-D solution against the stage balances
    solved in decimal arithmetic, over concentrations above the accuracy floor:
    80 digits plus the ones a circulation ``circ`` costs to cancellation."""
    digits = 80 + int(np.ceil(np.log10(max(circ, 1.0))))
    D = np.exp(kernels.LN10 * par["c"])  # as the kernel forms it
    scale = (net.ext_aq + net.ext_org).sum(0)
    floor = kernels.ACC_FLOOR * scale / (net.aq_out + net.org_out).mean()
    return worst_relative_error(x, linear_profiles(net, D, digits), floor)


def _compact(case: dict) -> str:
    """The case dict on one line, exact (floats round-trip), loadable by
    ``ast.literal_eval`` to reproduce the cascade."""

    def r(v):
        if isinstance(v, str):
            return str(v)
        if isinstance(v, dict):
            return {r(k): r(w) for k, w in v.items()}
        if isinstance(v, list):
            return [r(w) for w in v]
        return v

    return repr(r(case))


def _worst_balance(r):
    """(relative error, species) of the worst balance of a result."""
    b = r.balance
    err = b["relative_error"].to_numpy(float)
    ok = err == err
    if not ok.any():
        return float("nan"), ""
    k = int(np.argmax(np.where(ok, err, -1.0)))
    return float(err[k]), str(b.index[k])


def _budget_class(cas, net, case) -> str:
    """The cascade's acid budget of its stated inputs (Cascade.acid_budget):
    within it, short of it (the organic brings more base than the aqueous
    streams bring free acid), or none (no [H+] in the model, or no strip)."""
    b = cas.acid_budget(net)
    loop = ", organic loop" if case["organic"].get("recycle") else ""
    if b is None:
        return "no acid budget (model without [H+], or no strip)" + loop
    if b["deficit_eq_h"] > 0:
        return "acid budget short (base above all free acid)" + loop
    return "within the acid budget" + loop


def run(
    n: int,
    seed: int,
    check_closed_form: bool = True,
    verbose: bool = False,
    start: int = 0,
    report_above: float | None = None,
    shard: tuple[int, int] = (0, 1),
    time_limit: float | None = None,
    record: str | None = None,
    only: frozenset[int] | None = None,
):
    """Solve ``n`` random cascades; returns a dict of the figures.

    The first ``start`` cascades are drawn (so the indices match a run from 0)
    but not solved; ``report_above`` prints every case whose worst balance is
    above it, with the species and the case.  ``shard`` = (k, jobs): every
    cascade is drawn, only those with (index - 1) % jobs == k are solved (the
    figures of the shards are merged by :func:`merge`).  ``time_limit`` [s]:
    a ``simulate`` still running after it is stopped and listed in
    ``timed_out`` (not converged, not failed).  ``record``: the rows of
    :func:`_record` are also written to ``record``.part<k> (k the shard) as each
    cascade ends, so a run stopped midway keeps every row it finished.
    ``only``: the indices to solve (every cascade up to the largest is drawn,
    so the indices are those of a whole run; the figures count these alone)."""
    rng = np.random.default_rng(seed)
    out = {
        "n": 0, "redrawn": 0, "kernel_tried": 0, "kernel_ok": 0, "sim_ok": 0,
        "iters": [], "worst_balance": 0.0, "worst_closed_form": 0.0,
        "closed_form_cases": 0, "ill_conditioned": 0, "failures": [],
        "by_model": {}, "worst_balance_at": None, "arclength": 0, "loop_newton": 0,
        "loop_base": 0, "beyond_acid": 0, "basic": 0,
        "by_budget": {}, "timed_out": [], "records": [], "solved": 0,
        "stage_walk": 0,
    }  # fmt: skip
    if only is not None:
        n = max(only)
    part = _PartWriter(f"{record}.part{shard[0]}") if record else None
    while out["n"] < n:
        case = random_case(rng)
        try:
            cas = Cascade(case)
            net = cas.network()
            par = cas.stage_parameters(net)
        except (CaseError, ValueError):
            out["redrawn"] += 1
            continue
        out["n"] += 1
        if out["n"] <= start or (out["n"] - 1) % shard[1] != shard[0]:
            continue
        if only is not None and out["n"] not in only:
            continue
        out["solved"] += 1
        model = case["chemistry"]["model"]
        bm = out["by_model"].setdefault(model, [0, 0])
        bm[0] += 1
        bb = out["by_budget"].setdefault(_budget_class(cas, net, case), [0, 0])
        bb[0] += 1
        if not case["organic"].get("recycle"):
            out["kernel_tried"] += 1
            st, x, y, h, F, info = solve_arrays(net, par, cas.efficiencies())
            out["kernel_ok"] += st == kernels.OK
            if st == kernels.OK and model == "constant" and check_closed_form:
                circ = circulation(net, x, y).max()
                exact = info[kernels.INFO_PATH] == kernels.PATH_EXACT
                if circ > CIRCULATION_WARN and not exact:
                    # accuracy limited by round-off (docs/kernel.md): counted apart
                    out["ill_conditioned"] += 1
                else:
                    out["worst_closed_form"] = max(
                        out["worst_closed_form"], decimal_error(net, par, x, circ)
                    )
                    out["closed_form_cases"] += 1
        rec = _record(out["n"], case)
        out["records"].append(rec)
        t = time.perf_counter()
        try:
            try:
                r = cas.simulate(branch_search=False, time_limit_s=time_limit)
            finally:
                rec["seconds"] = time.perf_counter() - t
        except CascadeTimeLimit as e:
            out["timed_out"].append((out["n"], model))
            rec.update(outcome="time limit", how=str(e))
            if verbose:
                print(f"TIME LIMIT {out['n']} {model}: {str(e)[:200]}", flush=True)
            if part:
                part.write(rec)
            continue
        except CascadeError as e:
            out["failures"].append((out["n"], model, str(e)))  # classified whole
            rec.update(outcome="failed", how=str(e),
                       newton_iterations=getattr(e, "newton_iterations", ""))  # fmt: skip
            if verbose:
                print("FAIL", out["n"], model, str(e)[:200], flush=True)
            if part:
                part.write(rec)
            continue
        out["sim_ok"] += 1
        how = r.convergence["start"]
        rec.update(outcome="converged", how=how,
                   newton_iterations=r.convergence["newton_iterations"])  # fmt: skip
        if part:
            part.write(rec)
        # the once-through fallback ("arclength continuation from ...") or an
        # organic-loop pass reached by it; the loop closed by Newton's method
        out["arclength"] += "arclength continuation" in how
        out["stage_walk"] += how.startswith("stage-count walk")
        out["loop_newton"] += "closed by Newton's method" in how
        out["loop_base"] += "closed by continuation in the organic's base" in how
        # converged, with stages beyond the acid medium of the pH models (warned)
        out["beyond_acid"] += any(w.startswith("free acid below") for w in r.warnings)
        # ... of them with basic stages (pH above 7: the excess carried as OH-)
        basic = any("the aqueous is basic" in w for w in r.warnings)
        out["basic"] += basic
        if verbose and basic:
            print("BASIC", out["n"], model, f"highest pH {r.profiles['pH'].max():.2f}",
                  how[:100], flush=True)  # fmt: skip
        bm[1] += 1
        bb[1] += 1
        if verbose and out["n"] % 250 == 0:
            print(
                f"... {out['n']} cascades: {out['sim_ok']} converged, kernel cold "
                f"{out['kernel_ok']}/{out['kernel_tried']}, worst balance "
                f"{out['worst_balance']:.3g}, worst closed form "
                f"{out['worst_closed_form']:.3g}, by model {out['by_model']}",
                flush=True,
            )
        out["iters"].append(r.convergence["newton_iterations"])
        err, species = _worst_balance(r)
        if err > out["worst_balance"]:
            out["worst_balance"] = err
            out["worst_balance_at"] = (out["n"], model, species)
        if report_above is not None and err > report_above:
            print(
                f"BALANCE {out['n']} {model} {species}: {err:.3g} {_compact(case)}",
                flush=True,
            )
    return out


def _record(n: int, case: dict) -> dict:
    """One row of --record: the cascade, filled in with its outcome."""
    sec = case["sections"]
    return {
        "index": n,
        "model": case["chemistry"]["model"],
        "components": len(case["chemistry"]["components"]),
        **{f"stages_{k}": (sec.get(k) or {}).get("stages", 0)
           for k in ("extraction", "scrub", "strip")},  # fmt: skip
        "side_draws": len(case.get("side_draws", [])),
        "organic_loop": bool(case["organic"].get("recycle")),
        "outcome": "",
        "seconds": float("nan"),
        "newton_iterations": "",
        "how": "",
    }


class _PartWriter:
    """A shard's rows of --record, appended and flushed as each cascade ends."""

    def __init__(self, path: str):
        self.f = open(path, "w", newline="")
        self.w = None

    def write(self, rec: dict) -> None:
        if self.w is None:
            self.w = csv.DictWriter(self.f, fieldnames=list(rec))
            self.w.writeheader()
        self.w.writerow(rec)
        self.f.flush()


def time_summary(records: list[dict]) -> str:
    """The wall time of simulate per cascade [s]: median, percentiles, slowest."""
    rows = [r for r in records if r["seconds"] == r["seconds"]]
    if not rows:
        return "simulate wall time per cascade: none measured"
    t = np.array([r["seconds"] for r in rows])
    slow = max(rows, key=lambda r: r["seconds"])
    over = ", ".join(f"{int((t > lim).sum())} over {lim:g} s" for lim in (1, 10, 60))
    return (
        f"simulate wall time per cascade [s] ({len(t)} cascades): median "
        f"{np.median(t):.3g}, 90 % below {np.quantile(t, 0.9):.3g}, 99 % below "
        f"{np.quantile(t, 0.99):.3g}, 99.9 % below {np.quantile(t, 0.999):.3g}, "
        f"slowest {slow['seconds']:.1f} (cascade {slow['index']}, {slow['outcome']}); "
        f"{over}; total {t.sum():.1f}"
    )


def write_records(path: str, records: list[dict]) -> None:
    """The --record CSV: one row per cascade solved, by index."""
    rows = sorted(records, key=lambda r: r["index"])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["index"])
        w.writeheader()
        w.writerows(rows)


def _shard(args):
    return run(*args)


def _indices(text: str) -> frozenset[int]:
    """--only's indices: "K,K,..." or "@FILE" (one per line, # comments)."""
    if text.startswith("@"):
        with open(text[1:]) as f:
            items = [ln.split("#")[0].strip() for ln in f]
    else:
        items = [t.strip() for t in text.split(",")]
    try:
        out = frozenset(int(t) for t in items if t)
    except ValueError as e:
        raise SystemExit(f"--only {text!r}: not a list of cascade indices ({e})") from e
    if not out or min(out) < 1:
        raise SystemExit(f"--only {text!r}: cascade indices start at 1")
    return out


def merge(parts: list[dict]) -> dict:
    """The figures of several shards of one run, as one run would print them."""
    out = dict(parts[0])
    out["iters"] = [i for p in parts for i in p["iters"]]
    out["records"] = sorted((r for p in parts for r in p["records"]),
                            key=lambda r: r["index"])  # fmt: skip
    for key in ("failures", "timed_out"):
        out[key] = sorted((f for p in parts for f in p[key]), key=lambda f: f[0])
    for k in ("kernel_tried", "kernel_ok", "sim_ok", "closed_form_cases",
              "ill_conditioned", "arclength", "loop_newton", "loop_base",
              "beyond_acid", "basic", "solved", "stage_walk"):  # fmt: skip
        out[k] = sum(p[k] for p in parts)
    out["worst_closed_form"] = max(p["worst_closed_form"] for p in parts)
    worst = max(parts, key=lambda p: p["worst_balance"])
    out["worst_balance"] = worst["worst_balance"]
    out["worst_balance_at"] = worst["worst_balance_at"]
    for key in ("by_model", "by_budget"):
        out[key] = {}
        for p in parts:
            for m, (k, ok) in p[key].items():
                bm = out[key].setdefault(m, [0, 0])
                bm[0] += k
                bm[1] += ok
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="cascades to solve")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-closed-form", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument(
        "--start", type=int, default=0,
        help="draw but do not solve the first K cascades (indices stay those of a "
        "run from 0)",
    )  # fmt: skip
    ap.add_argument(
        "--report-balance-above", type=float, default=None, metavar="X",
        help="print each cascade whose worst relative balance error is above X, "
        "with the species and the case",
    )  # fmt: skip
    ap.add_argument(
        "--jobs", type=int, default=1,
        help="worker processes (each draws every cascade and solves its share)",
    )  # fmt: skip
    ap.add_argument(
        "--time-limit", type=float, default=None, metavar="S",
        help="stop a cascade's simulate after S seconds of wall time and count it "
        "as not finished (neither converged nor failed; Unix only)",
    )  # fmt: skip
    ap.add_argument(
        "--record", default=None, metavar="FILE.csv",
        help="write one row per cascade solved: index, model, size, organic loop, "
        "outcome, simulate seconds, Newton iterations, how it was reached or the "
        "error (while running, each process appends its rows to FILE.csv.part<k>)",
    )  # fmt: skip
    ap.add_argument(
        "--only", default=None, metavar="K,K,...|@FILE",
        help="solve only these cascade indices (comma-separated, or one per line "
        "in FILE): e.g. the slow tail or the failures of an earlier --record, "
        "again after a change to the fallbacks; the figures count these alone",
    )  # fmt: skip
    args = ap.parse_args(argv)
    only = _indices(args.only) if args.only else None
    t0 = time.perf_counter()
    common = (
        args.n,
        args.seed,
        not args.no_closed_form,
        args.verbose,
        args.start,
        args.report_balance_above,
    )
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as ex:
            parts = list(
                ex.map(
                    _shard,
                    [
                        (*common, (k, args.jobs), args.time_limit, args.record, only)
                        for k in range(args.jobs)
                    ],
                )
            )
        o = merge(parts)
    else:
        o = run(*common, time_limit=args.time_limit, record=args.record, only=only)
    dt = time.perf_counter() - t0
    it = np.array(o["iters"] or [0])
    print(f"kernel: {kernels.kernel_info()['cascade_kernel']}; seed {args.seed}")
    print(f"cascades drawn: {o['n']} ({o['redrawn']} draws refused by the schema)")
    if args.start:
        print(
            f"the first {args.start} drawn, not solved: the counts below include "
            f"them as not converged"
        )
    n_of = o["n"]
    if only is not None:
        n_of = o["solved"]
        print(f"solved only the {n_of} cascades listed by --only (counts: theirs)")
    print(
        f"converged (Cascade.simulate): {o['sim_ok']}/{n_of} = "
        f"{100.0 * o['sim_ok'] / max(n_of, 1):.3f} % ({o['arclength']} of them "
        f"through arclength continuation, {o['stage_walk']} through the stage-count "
        f"walk, {o['loop_newton']} organic loops closed by "
        f"Newton's method on the returning organic, {o['loop_base']} by continuation "
        f"in the organic's base; {o['beyond_acid']} warned with stages beyond the "
        f"acid medium, free acid < 1e-5 mol/L, {o['basic']} of them with basic "
        f"stages, pH > 7)"
    )
    if args.time_limit:
        print(
            f"not finished within the time limit of {args.time_limit:g} s (stopped; "
            f"neither converged nor failed): {len(o['timed_out'])}"
            + "".join(f"\n  time limit: {k} {m}" for k, m in o["timed_out"])
        )
    print(
        f"converged (kernel cold start, once-through): {o['kernel_ok']}/"
        f"{o['kernel_tried']} = {100.0 * o['kernel_ok'] / max(o['kernel_tried'], 1):.3f} %"
    )
    for m, (k, ok) in sorted(o["by_model"].items()):
        print(f"  {m}: {ok}/{k}")
    print("converged by the acid budget of the stated inputs:")
    for m, (k, ok) in sorted(o["by_budget"].items()):
        print(f"  {m}: {ok}/{k}")
    print(
        f"Newton iterations per cascade: median {np.median(it):.0f}, "
        f"mean {it.mean():.1f}, max {it.max()}"
    )
    at = o["worst_balance_at"]
    where = f" (cascade {at[0]}, {at[1]}, {at[2]})" if at else ""
    print(f"worst outlet balance error (relative): {o['worst_balance']:.3g}{where}")
    print(
        f"worst relative error vs the stage balances in decimal arithmetic "
        f"(80 digits + log10 circulation; constant D, "
        f"{o['closed_form_cases']} cascades, above the accuracy floor): "
        f"{o['worst_closed_form']:.3g} ({o['ill_conditioned']} constant-D cascades "
        f"solved by Newton (Murphree stages) with a component circulating > "
        f"{CIRCULATION_WARN:g} x its throughput left out: round-off-limited, warned)"
    )
    classes = {}
    for _, m, msg in o["failures"]:
        kind = (
            "acid budget short (AcidBudgetError)" if "acid budget short" in msg
            else "organic loop: free acid falls pass by pass (metal builds up)"
            if "the loop runs towards a stage without free acid" in msg
            else "organic loop: the path to a pass meets a stage without free acid"
            if "organic loop, pass" in msg
            and "the last corrector failed: no free acid" in msg
            else "organic loop pass short of acid (metal builds up)"
            if "metal builds up" in msg
            else "Newton did not converge, arclength path vertical at its end"
            if "branch followed is vertical" in msg
            else "held up (circulation)" if "circulates" in msg
            else "organic loop pass (Newton)" if "organic loop, pass" in msg
            else "organic loop did not close" if "organic loop" in msg
            else "Newton did not converge" if "did not converge" in msg
            else "balance not closed" if "balance closes only" in msg
            else "other"
        )  # fmt: skip
        if "the free acid runs out as the base grows" in msg:
            kind += "; followed in the base, its free acid runs out below the stated"
            kind += " saponification"
        classes[(m, kind)] = classes.get((m, kind), 0) + 1
    for (m, kind), k in sorted(classes.items()):
        print(f"  failures: {m}, {kind}: {k}")
    for n, m, msg in o["failures"]:
        print("  not converged:", n, m, msg[:200])
    print(time_summary(o["records"]))
    if args.record:
        write_records(args.record, o["records"])
        for k in range(max(args.jobs, 1)):  # the whole run is in the file now
            if os.path.exists(f"{args.record}.part{k}"):
                os.remove(f"{args.record}.part{k}")
        print(f"one row per cascade: {args.record}")
    print(f"time {dt:.1f} s")
    return 0 if o["sim_ok"] == n_of else 1


if __name__ == "__main__":
    sys.exit(main())
