"""Throughput of the sweep engine: scenarios per second and overhead per task.

Prints measured figures (no assertions):

1. machinery only (a function that returns at once): serial, and a Dask
   LocalCluster with tasks of 1 scenario (the per-task overhead) and with automatic
   batching;
2. where one cascade scenario's CPU time goes (serial, no sweep machinery): the
   overrides applied to the case, case validation, network and stage parameters,
   the kernel, the result arrays, the balance check (from the arrays), the rest of
   simulate, the search for other steady states (more kernel solves) and the
   summary -- and the baseline that builds every pandas table per scenario;
3. a cascade sweep: N cascade simulations (the ``cascade`` kind:
   ``rexopt.simulate(case).summary()``, tables never built) serial, then side by
   side on the LocalCluster: with the branch search (the default), without it
   (``[cascade] branch_search = false``), and the baseline that builds every
   table.  Each with its wall rate and its CPU time per scenario (the worker
   processes', and this process's: client, HDF5 writes, scheduler), and the rate
   that CPU time allows on the given number of free cores -- the figure that
   other load on a shared machine does not change.

Usage::

    python benchmarks/bench_sweep.py [--n 4000] [--workers 2]
        [--case cases/prnd_p507.toml] [--plant N] [--plant-only]
        [--profile N] [--branch-search off]

``--profile N`` only profiles one worker loop of N cascade scenarios (the
worker's ``run_batch`` in this process, cProfile on CPU time) and prints the CPU
time by where it is spent: the kernel call, rexopt's modules, pandas, pydantic,
NumPy; ``--branch-search off`` profiles the sweep option that skips the search.

``--plant N`` also times N NdFeB plant scenarios through the plant's sweep
evaluator (a PlantSession re-solve of the model built once) and one full rebuild,
and projects a 1,000-scenario sweep.

Cluster start-up is timed separately and not part of any rate.  Every sweep writes
its HDF5 file as in real use (in a temporary folder).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

THIS = Path(__file__).resolve()


def noop(x=0.0):
    """Returns at once: what is left is the sweep machinery."""
    return {"y": x}


def standin_kernel(feed=1.0, stages=60, beta=1.5):
    """About 1 ms of NumPy: a Kremser-like countercurrent profile, 2 components."""
    n = int(stages)
    E = np.array([0.9, 0.9 * beta])
    x = np.empty((n, 2))
    for it in range(25):  # fixed-point sweeps stand in for Newton iterations
        x = feed * (E[None, :] ** np.arange(n)[:, None]) / (1 + it * 1e-3)
    r = (E ** (n + 1) - E) / (E ** (n + 1) - 1)
    return {
        "recovery_A": float(r[0]),
        "recovery_B": float(r[1]),
        "x_last": float(x[-1, 0]),
    }


_BASE: dict = {}


def cascade_tables(case_path: str, organic_flow_L_h: float, feed_flow_L_h: float):
    """Baseline: simulate and build every pandas table, then the summary."""
    import rexopt
    from rexopt.sweep.spec import copy_tree

    base = _BASE.get(case_path)
    if base is None:
        import tomllib

        base = _BASE[case_path] = tomllib.loads(Path(case_path).read_text())
    case = copy_tree(base)
    case["organic"]["flow_L_h"] = organic_flow_L_h
    case["feed"]["flow_L_h"] = feed_flow_L_h
    res = rexopt.simulate(case)
    for t in ("streams", "recovery", "purity", "profiles", "reagents", "balance"):
        getattr(res, t)
    return res.summary()


def breakdown(case: Path, n: int = 300) -> None:
    """CPU time of each step of one cascade scenario [ms], serial, this process.

    CPU time (``time.process_time``) is what a scenario costs whatever else runs
    on the machine (contention for shared caches still inflates it somewhat).
    "balance check" is simulate's balance refusal test (CascadeResult.unbalanced,
    read from the result arrays).
    """
    import tomllib

    from rexopt.cascade import BALANCE_MAX, Cascade, solve_arrays
    from rexopt.results import CascadeResult
    from rexopt.sweep.spec import apply_overrides, parse_path

    base = tomllib.loads(case.read_text())
    o0, f0 = base["organic"]["flow_L_h"], base["feed"]["flow_L_h"]
    rng = np.random.default_rng(0)
    vals = [(o0 * rng.uniform(0.9, 1.1), f0 * rng.uniform(0.9, 1.1)) for _ in range(n)]
    paths = (parse_path("organic.flow_L_h"), parse_path("feed.flow_L_h"))
    steps = (
        "overrides",
        "validation",
        "network+params",
        "kernel",
        "result arrays",
        "balance check",
        "rest of simulate",
        "branch search",
        "summary",
    )
    t = dict.fromkeys(steps, 0.0)
    t_tables = 0.0
    clock = time.process_time
    for k in range(n + 20):
        warm = k < 20
        t0 = clock()
        c = apply_overrides(base, paths, ("float", "float"), vals[k % n])
        t1 = clock()
        cas = Cascade(c)
        t2 = clock()
        net = cas.network()
        par = cas.stage_parameters(net)
        eff = cas.efficiencies()
        t3 = clock()
        st, x, y, h, F, info = solve_arrays(net, par, eff)
        t4 = clock()
        # the whole simulate without, then with, its search for other steady states
        res0 = cas.simulate(branch_search=False)
        t5 = clock()
        res = cas.simulate()
        t6 = clock()
        res.summary()
        t7 = clock()
        # inside simulate: the result arrays, and the balance check
        r = CascadeResult.build(cas, net, par, x, y, h, F, res0.convergence, [])
        t8 = clock()
        # simulate's balance check, as simulate does it (from the arrays)
        r.unbalanced(BALANCE_MAX)
        t9 = clock()
        for name in ("streams", "recovery", "purity", "profiles", "reagents"):
            getattr(res, name)
        t10 = clock()
        if warm:
            continue
        t["overrides"] += t1 - t0
        t["validation"] += t2 - t1
        t["network+params"] += t3 - t2
        t["kernel"] += t4 - t3
        t["result arrays"] += t8 - t7
        t["balance check"] += t9 - t8
        sim0 = t5 - t4
        t["rest of simulate"] += max(0.0, sim0 - (t4 - t2) - (t9 - t7))
        t["branch search"] += max(0.0, (t6 - t5) - sim0)
        t["summary"] += t7 - t6
        t_tables += t10 - t9
    total = sum(t.values())
    print(f"  one scenario of {case.name}, CPU time, mean of {n} (serial):")
    for k, v in t.items():
        print(f"    {k:<17} {v / n * 1e3:7.3f} ms  ({v / total:5.1%})")
    off = total - t["branch search"]
    print(
        f"    {'total':<17} {total / n * 1e3:7.3f} ms CPU; without the branch "
        f"search {off / n * 1e3:.3f} ms"
    )
    print(
        f"  baseline (every table built as well): {(total + t_tables) / n * 1e3:.3f} "
        f"ms CPU per scenario (tables {t_tables / n * 1e3:.3f} ms)"
    )


def plant_timing(n: int) -> None:
    """NdFeB plant scenarios through the sweep evaluator, serial: set-up once, then
    ``n`` scenarios with other oxide and acid prices; and one full rebuild of the
    plant (build + solve + re-simulation) for comparison."""
    import tomllib

    from rexopt.sweep.evaluators import ndfeb_factory
    from rexopt.sweep.spec import copy_tree

    case_path = REPO / "cases" / "ndfeb_4000tpa.toml"
    base = tomllib.loads(case_path.read_text())
    import importlib

    nd = importlib.import_module("rexopt.flowsheets.ndfeb_recycling")
    print(f"\nNdFeB plant scenarios ({case_path.name}), serial, PlantSession re-solves")
    t0 = time.perf_counter()
    ev = ndfeb_factory(base, base_dir=str(case_path.parent))
    print(f"  evaluator set-up (once per worker): {time.perf_counter() - t0:.2f} s")
    rng = np.random.default_rng(1)
    times, npv = [], []
    for _ in range(n):
        c = copy_tree(base)
        costs = c.setdefault("data", {}).setdefault("costs", {})
        costs.setdefault("products_USD_kg", {})["Nd2O3"] = float(rng.uniform(60, 100))
        costs.setdefault("reagents_USD_t", {})["HCl"] = float(rng.uniform(150, 400))
        t = time.perf_counter()
        out = ev(c)
        times.append(time.perf_counter() - t)
        npv.append(out.get("economics.npv_USD", float("nan")))
    m = float(np.mean(times))
    print(
        f"  {n} scenario(s): mean {m:.2f} s, min {min(times):.2f} s, max "
        f"{max(times):.2f} s (NPV {min(npv):.4g} .. {max(npv):.4g} USD)"
    )
    t = time.perf_counter()
    case, _ = nd.load_case(copy_tree(base))
    nd.run(case, case_dir=case_path.parent)
    rb = time.perf_counter() - t
    print(f"  one full build + solve: {rb:.2f} s -> re-solve/rebuild x{m / rb:.3f}")
    cap = parallel_capacity(2)
    print(
        f"  projected 1,000-scenario plant sweep on 2 workers: "
        f"{1000 * m / cap / 60:.1f} min (CPU capacity of 2 processes now x{cap:.2f}; "
        "goal < 10 min)"
    )


def _spin(n: int = 3_000_000) -> float:
    t = time.perf_counter()
    s = 0
    for i in range(n):
        s += i * i
    return time.perf_counter() - t


def parallel_capacity(workers: int) -> float:
    """Measured CPU throughput of ``workers`` busy processes relative to one.

    On a machine with ``workers`` free cores this is close to ``workers``; shared or
    throttled virtual CPUs give less, and no sweep can be faster than that.
    """
    import multiprocessing as mp

    one = _spin()
    with mp.get_context("spawn").Pool(workers) as pool:
        pool.map(_spin, [10_000] * workers)  # start-up out of the timing
        many = pool.map(_spin, [3_000_000] * workers)
    return workers * one / max(many)


def _sweep_dict(func: str, n: int, outputs: list[str], params: dict, path: str):
    return {
        "name": f"bench-{func}",
        "base": {
            "kind": "function",
            "callable": f"{THIS.as_posix()}:{func}",
            "params": params,
        },
        "outputs": outputs,
        "parameters": [{"path": path, "range": [0.5, 1.5]}],
        "sampling": {"method": "random", "n": n, "seed": 0},
        "cluster": {"kind": "serial"},
    }


def _cascade_sweep(case: Path, n: int):
    import rexopt

    summary = rexopt.simulate(str(case)).summary()
    scalars = [
        k
        for k, v in summary.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    # purities and recoveries first: what a process engineer would keep
    outputs = sorted(scalars, key=lambda k: not k.startswith(("purity", "recovery")))
    outputs = outputs[:4]
    return {
        "name": "bench-cascade",
        "base": str(case),
        "outputs": outputs,
        "parameters": [
            {
                "path": "organic.flow_L_h",
                "range": [
                    0.9 * _get(case, "organic.flow_L_h"),
                    1.1 * _get(case, "organic.flow_L_h"),
                ],
            },
            {
                "path": "feed.flow_L_h",
                "range": [
                    0.9 * _get(case, "feed.flow_L_h"),
                    1.1 * _get(case, "feed.flow_L_h"),
                ],
            },
        ],
        "sampling": {"method": "lhs", "n": n, "seed": 0},
        "cluster": {"kind": "serial"},
    }


def _baseline_sweep(case: Path, n: int):
    o0, f0 = _get(case, "organic.flow_L_h"), _get(case, "feed.flow_L_h")
    d = _sweep_dict(
        "cascade_tables",
        n,
        list(_cascade_sweep(case, 1)["outputs"]),
        {
            "case_path": str(case),
            "organic_flow_L_h": o0,
            "feed_flow_L_h": f0,
        },
        "params.organic_flow_L_h",
    )
    d["name"] = "bench-baseline"
    d["parameters"] = [
        {"path": "params.organic_flow_L_h", "range": [0.9 * o0, 1.1 * o0]},
        {"path": "params.feed_flow_L_h", "range": [0.9 * f0, 1.1 * f0]},
    ]
    d["sampling"] = {"method": "lhs", "n": n, "seed": 0}
    return d


def _get(case: Path, dotted: str) -> float:
    import tomllib

    d = tomllib.loads(case.read_text())
    for k in dotted.split("."):
        d = d[k]
    return float(d)


def _run(sweep, out: Path, executor, batch_size=None):
    from rexopt.sweep import run_sweep

    return run_sweep(
        sweep,
        out,
        executor=executor,
        progress=False,
        overwrite=True,
        batch_size=batch_size,
    )


def _line(label: str, s) -> None:
    print(
        f"  {label:<44} {s.computed:>7,} scen  {s.wall_s:7.2f} s  "
        f"{s.rate:>10,.0f} scen/s  tasks {s.n_tasks:>5}  "
        f"overhead/task {s.overhead_per_task_s * 1e3:7.2f} ms"
    )


def _cpu() -> float:
    """CPU time of this process so far (user + system) [s]."""
    t = os.times()
    return t.user + t.system


def _accounted(client, sweep, out: Path, executor):
    """Run a sweep; return its summary and the CPU seconds per scenario of the
    worker processes (all of it: tasks, Dask, pickling) and of this process (the
    client, the HDF5 writes and the LocalCluster's scheduler)."""
    w0 = sum(client.run(_cpu).values())
    c0 = _cpu()
    s = _run(sweep, out, executor)
    c1 = _cpu()
    w1 = sum(client.run(_cpu).values())
    n = max(1, s.computed)
    return s, (w1 - w0) / n, (c1 - c0) / n


def _where(filename: str, func: str) -> str:
    """The group a profiled function's own time is counted in."""
    if func == "solve_arrays" or "solve_cascade" in func:
        # the compiled kernel is not profiled itself: its time is solve_arrays's
        return "kernel (solve_arrays)"
    for lib in ("pandas", "pydantic", "numpy", "h5py", "pyarrow"):
        if f"/{lib}/" in filename or f"/{lib}_core/" in filename:
            return lib
    if "/rexopt/" in filename:
        return "rexopt/" + filename.split("/rexopt/", 1)[1]
    if filename == "~":  # built-ins
        if "numpy" in func or "ufunc" in func or "ndarray" in func:
            return "numpy"
        return "Python built-ins"
    return "other (" + Path(filename).name + ")"


def profile_worker(case: Path, n: int, branch_search: bool = True) -> None:
    """cProfile (CPU time) of one worker loop of ``n`` cascade scenarios."""
    import cProfile
    import pstats

    from rexopt.sweep import sweep_from_dict
    from rexopt.sweep.evaluators import get_factory
    from rexopt.sweep.spec import case_hash, parse_path
    from rexopt.sweep.worker import BatchTask, run_batch

    d = _cascade_sweep(case, n)
    if not branch_search:
        d["cascade"] = {"branch_search": False}
    sw = sweep_from_dict(d, base_dir=REPO)
    t = sw.table
    rows = [t.row(i) for i in range(n)]

    def task(k):
        return BatchTask(
            kind=sw.kind,
            factory=get_factory(sw.kind),
            base_case=sw.base_case,
            base_key=case_hash(sw.base_case),
            base_dir=str(sw.base_dir),
            paths=tuple(parse_path(p.path) for p in sw.parameters),
            types=tuple(t.types),
            outputs=tuple(sw.outputs),
            indices=np.arange(k),
            values=rows[:k],
            options=sw.evaluator_options(),
        )

    run_batch(task(20))  # evaluator built, modules imported
    full = task(n)
    c0 = time.process_time()
    run_batch(full)
    plain = time.process_time() - c0
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    res = run_batch(full)
    prof.disable()
    st = pstats.Stats(prof)
    groups: dict[str, float] = {}
    for (fn, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():
        g = _where(fn, func)
        groups[g] = groups.get(g, 0.0) + tt
    total = sum(groups.values())
    ok = int(np.sum(res.status == 1))
    print(
        f"  one worker loop of {n} scenarios of {case.name} (branch search "
        f"{'on' if branch_search else 'off'}; {ok} ok): {plain / n * 1e3:.3f} ms "
        f"CPU per scenario without the profiler, {total / n * 1e3:.3f} ms with it"
    )
    print("  own CPU time by where it is spent (profiled):")
    for g, v in sorted(groups.items(), key=lambda kv: -kv[1])[:14]:
        print(f"    {g:<34} {v / n * 1e3:7.3f} ms  ({v / total:5.1%})")
    print("  cumulative, the largest steps (profiled):")
    wanted = (
        "simulate",
        "branches",
        "solve_arrays",
        "network",
        "stage_parameters",
        "build",
        "balance",
        "load_case",
        "apply_overrides",
        "summary",
        "evaluate_scenario",
    )
    steps = [
        (ct, f"{fn.split('/rexopt/', 1)[1]}:{line}:{func}", nc)
        for (fn, line, func), (_cc, nc, _tt, ct, _callers) in st.stats.items()
        if func in wanted and "/rexopt/" in fn
    ]
    for ct, where, nc in sorted(steps, reverse=True):
        print(f"    {where:<40} {ct / n * 1e3:7.3f} ms ({nc / n:.1f} calls/scenario)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4_000, help="cascade sweep scenarios")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--case", type=Path, default=REPO / "cases" / "prnd_p507.toml")
    ap.add_argument(
        "--plant",
        type=int,
        default=0,
        help="also time N NdFeB plant scenarios (prices varied), serial",
    )
    ap.add_argument(
        "--plant-only", action="store_true", help="only the plant timing (--plant N)"
    )
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        help="only profile one worker loop of N cascade scenarios (CPU time)",
    )
    ap.add_argument(
        "--branch-search", choices=("on", "off"), default="on", help="for --profile"
    )
    args = ap.parse_args(argv)
    if args.profile:
        profile_worker(args.case, args.profile, args.branch_search == "on")
        return
    if args.plant_only:
        plant_timing(max(1, args.plant))
        return

    from distributed import Client, LocalCluster

    from rexopt.sweep import SerialExecutor, sweep_from_dict

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    print(f"python {sys.version.split()[0]}, {args.workers} workers, files in {tmp}")
    cap = parallel_capacity(args.workers)
    print(
        f"CPU capacity of {args.workers} busy processes: x{cap:.2f} of one "
        f"(the ceiling for any speed-up here)"
    )

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    client = Client(cluster)
    client.wait_for_workers(args.workers)
    print(f"LocalCluster start-up: {time.perf_counter() - t0:.2f} s (not in rates)")
    ex = client.get_executor(pure=False)
    try:
        print("\n1. machinery only (function returns at once)")
        n0 = 20_000
        sw = sweep_from_dict(_sweep_dict("noop", n0, ["y"], {"x": 0.0}, "params.x"))
        _line("serial, auto batches", _run(sw, tmp / "a.h5", SerialExecutor()))
        sw1 = sweep_from_dict(_sweep_dict("noop", 2000, ["y"], {"x": 0.0}, "params.x"))
        _run(sw1, tmp / "warm.h5", ex)  # evaluators built, modules imported
        s1 = _run(sw1, tmp / "b.h5", ex, batch_size=1)
        _line(f"LocalCluster({args.workers}), 1 scenario/task", s1)
        print(
            f"  -> per-task overhead (wall x slots / tasks): "
            f"{s1.wall_s * s1.slots / s1.n_tasks * 1e3:.2f} ms"
        )
        _line(f"LocalCluster({args.workers}), auto batches", _run(sw, tmp / "c.h5", ex))

        print("\n2. one cascade scenario, step by step")
        if args.case.exists():
            breakdown(args.case)

        print(f"\n3. cascade sweep, {args.n:,} scenarios")
        use_cascade = args.case.exists()
        why = ""
        if use_cascade:
            try:
                importlib.import_module("rexopt.cascade")
                d = _cascade_sweep(args.case, args.n)
            except Exception as exc:  # the cascade module is not there yet
                use_cascade, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = f"{args.case} not found"
        if not use_cascade:
            print(f"  cascade unavailable ({why}); STAND-IN NumPy kernel instead")
            d = _sweep_dict(
                "standin_kernel",
                args.n,
                ["recovery_A", "recovery_B"],
                {"feed": 1.0, "stages": 60, "beta": 1.5},
                "params.feed",
            )
            sw = sweep_from_dict(d, base_dir=REPO)
            _line("serial", _run(sw, tmp / "k_serial.h5", SerialExecutor()))
            _line(f"LocalCluster({args.workers})", _run(sw, tmp / "k.h5", ex))
        else:
            from rexopt import kernels

            print(f"  cascade simulations of {args.case} (outputs {d['outputs']})")
            print(f"  kernels: {kernels.kernel_info()}")
            sw = sweep_from_dict(d, base_dir=REPO)
            ser = _run(sw, tmp / "k_serial.h5", SerialExecutor())
            _line("serial, branch search on (default)", ser)
            print(
                f"    worker CPU {ser.cpu_per_scenario_s * 1e3:.3f} ms/scenario -> "
                f"{1 / max(ser.cpu_per_scenario_s, 1e-9):,.0f} scen/s per free core"
            )
            off = dict(d, cascade={"branch_search": False})
            sw_off = sweep_from_dict(off, base_dir=REPO)
            sb = sweep_from_dict(_baseline_sweep(args.case, args.n), base_dir=REPO)
            print(
                f"  LocalCluster({args.workers}), side by side (CPU: worker processes "
                f"and this client + scheduler, per scenario; 'on {args.workers} free "
                f"cores' = {args.workers} / CPU per scenario):"
            )
            rows = []
            for label, swx, name in (
                ("branch search on (default)", sw, "k_on.h5"),
                (
                    "branch search off ([cascade] branch_search=false)",
                    sw_off,
                    "k_off.h5",
                ),
                ("baseline: every table built (search on)", sb, "k_base.h5"),
            ):
                s, wcpu, ccpu = _accounted(client, swx, tmp / name, ex)
                rows.append((label, s, wcpu, ccpu))
                _line(label, s)
                free = args.workers / max(wcpu + ccpu, 1e-12)
                print(
                    f"    CPU/scenario: workers {wcpu * 1e3:.3f} ms (in tasks "
                    f"{s.cpu_per_scenario_s * 1e3:.3f}), client+scheduler "
                    f"{ccpu * 1e3:.3f} ms -> {free:,.0f} scen/s on {args.workers} free "
                    f"cores; ok/infeasible/failed {s.ok}/{s.infeasible}/{s.failed}"
                )
            on, offr, base = rows
            print(
                f"  side by side, measured on this machine: {on[1].rate:,.0f} scen/s "
                f"(search on) | {offr[1].rate:,.0f} (off) | {base[1].rate:,.0f} "
                f"(tables); goal 1,000 with the search on.  Load average now "
                f"{os.getloadavg()[0]:.1f}, CPU capacity measured x{cap:.2f}"
            )
    finally:
        client.close()
        cluster.close()
    if args.plant:
        plant_timing(args.plant)


if __name__ == "__main__":
    main()
