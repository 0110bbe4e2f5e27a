"""Pyomo blocks built exactly from the unit simulations.

At a fixed operating point every unit of :mod:`rexopt.units` is linear and
homogeneous in its inlet flows, so :func:`probe` recovers its coefficients by
simulating one unit flow of each inlet species.  :func:`build_unit` then writes
the unit as a disjunction over its operating points in hull (disaggregated)
form::

    sum_k y_k = 1,   x_k,p,s <= U_s y_k,   sum_k x_k,p,s = inlet_p,s
    outlet_q,s' = sum_k sum_p,s A_k[q,s'; p,s] x_k,p,s

which is exact for one chosen point (one binary per data point - a "convex
combination of data points" in which one weight is 1).  Reagents, utilities and
equipment sizes are linear expressions of the same disaggregated flows.

:func:`concave_cost` adds a piecewise-linear (SOS2 written with explicit
binaries) capital cost with a choice of the number of parallel trains.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pyomo.environ as pyo

from rexopt.units import species as sp
from rexopt.units.base import Unit

TOL = 1e-7  # [kmol/h per kmol/h]; smaller coefficients only hurt HiGHS numerics
#: add the secant cut of :func:`concave_cost` (a valid inequality: the same
#: optimum, a tighter relaxation); False only to measure what it brings
#: (``benchmarks/bench_ndfeb.py --compare``)
SECANT_CUT = True


def probe(unit: Unit, inlet_species: dict[str, list[str]]):
    """Coefficients of every output per unit inlet flow, for each operating point.

    Returns a list (one per point) of dicts ``key -> {(port, species): coef}`` with
    keys ``("out", port, species)``, ``("reag", species)``, ``("util", name)``,
    ``("size", equipment)``.
    """
    out = []
    for pt in unit.points:
        zero = unit.simulate({}, pt)
        for s in zero.outlets.values():
            if any(abs(v) > TOL for v in s.values()):
                raise ValueError(
                    f"unit {unit.name} is not homogeneous (output at zero feed)"
                )
        coefs: dict = defaultdict(dict)
        for p, species in inlet_species.items():
            for s in species:
                r = unit.simulate({p: {s: 1.0}}, pt)
                for q, st in r.outlets.items():
                    for s2, c in st.items():
                        if abs(c) > TOL:
                            coefs[("out", q, s2)][(p, s)] = c
                for s2, c in r.reagents.items():
                    if abs(c) > TOL:
                        coefs[("reag", s2)][(p, s)] = c
                for u, c in r.utilities.items():
                    if abs(c) > TOL:
                        coefs[("util", u)][(p, s)] = c
                for e, c in r.sizes.items():
                    if abs(c) > TOL:
                        coefs[("size", e)][(p, s)] = c
        out.append(dict(coefs))
    return out


def outlet_species(probes) -> dict[str, set[str]]:
    res: dict[str, set[str]] = defaultdict(set)
    for coefs in probes:
        for key in coefs:
            if key[0] == "out":
                res[key[1]].add(key[2])
    return res


def default_bound(scale_t_h: float) -> Callable[[str, str], float]:
    """Loose upper bound of a species flow [kmol/h] (when nothing better is known)."""

    def bound(port: str, s: str) -> float:
        base = 3.0e4 if s == "H2O(l)" else 3.0e2
        return base * max(scale_t_h, 0.05)

    return bound


def propagate_bounds(
    order,
    units_probes,
    edges,
    feed_ub,
    recycle_edges,
    max_iter: int = 400,
    rtol: float = 1e-6,
    exclusive=(),
):
    """Upper bounds of every inlet flow by interval propagation through the graph.

    ``units_probes``: name -> (inlet species, probes); ``edges``: (unit, port) ->
    [(src, sport)]; ``feed_ub``: {(unit, port, species): bound}.  Each outlet bound
    is the largest over operating points of the positive part of its linear map;
    recycles are iterated (a loop gain below one converges geometrically).
    Units in ``exclusive`` merge alternatives (only one inlet carries flow), so
    their outlet bound is the largest single-port contribution, not the sum.
    Returns {(unit, port, species): bound} or None if it does not converge.
    """
    ub_in = dict(feed_ub)
    ub_out: dict = {}
    for _ in range(max_iter):
        delta = 0.0
        for name in order:
            key_in, probes = units_probes[name]
            new_out: dict = {}
            for coefs in probes:
                for key, col in coefs.items():
                    if key[0] != "out":
                        continue
                    per_port: dict = {}
                    for (p, s), c in col.items():
                        if c > 0:
                            per_port[p] = per_port.get(p, 0.0) + c * ub_in.get(
                                (name, p, s), 0.0
                            )
                    vals = per_port.values()
                    v = (
                        (max(vals) if name in exclusive else sum(vals))
                        if per_port
                        else 0.0
                    )
                    k2 = (name, key[1], key[2])
                    new_out[k2] = max(new_out.get(k2, 0.0), v)
            ub_out.update(new_out)
            for (dst, dport), srcs in edges.items():
                if not any(src == name for src, _ in srcs):
                    continue
                for s in key_in_all(units_probes, dst, dport):
                    v = sum(ub_out.get((src, sport, s), 0.0) for src, sport in srcs)
                    old = ub_in.get((dst, dport, s), 0.0)
                    if v > old * (1 + rtol) + 1e-12:
                        delta = max(delta, (v - old) / max(v, 1e-12))
                        ub_in[(dst, dport, s)] = v
        if delta < rtol:
            return ub_in
    return None


def key_in_all(units_probes, name, port):
    return units_probes[name][0].get(port, []) if name in units_probes else []


def build_unit(
    blk,
    unit: Unit,
    inlet_exprs: dict[str, dict[str, object]],
    probes=None,
    bound: Callable[[str, str], float] | None = None,
):
    """Add the disjunctive linear model of ``unit`` to the Pyomo block ``blk``.

    Parameters
    ----------
    blk : pyomo Block
    unit : Unit
    inlet_exprs : {port: {species: Pyomo expression}}
        Inlet flows. [kmol/h]
    probes : output of :func:`probe` (computed here if not given)
    bound : (port, species) -> upper bound of the inlet flow [kmol/h]

    Creates ``blk.y`` (binaries, one per operating point), ``blk.out[port,
    species]`` (outlet flows, kmol/h), and dicts ``blk.reag``, ``blk.util``,
    ``blk.size`` of linear expressions; returns ``blk``.
    """
    bound = bound or default_bound(1.0)
    ins = {p: sorted(d) for p, d in inlet_exprs.items() if d}
    if probes is None:
        probes = probe(unit, ins)
    K = len(unit.points)
    cols = [(p, s) for p, ss in ins.items() for s in ss]
    # A column whose coefficients are the same at every operating point needs no
    # disaggregation (e.g. a salt passing through a precipitation tank).
    keys = set()
    for coefs in probes:
        keys |= set(coefs)

    # keys (e.g. an SX bank's volume, linear in its aqueous flow with a
    # coefficient that depends on the design) whose point-dependence alone does
    # not disaggregate a column: see _proportional_part
    bigm_keys = set(getattr(unit, "bigm_keys", ())) if K > 1 else set()

    def signature(col, k):
        return tuple(
            sorted(
                (key, round(coefs.get(col, 0.0), 12))
                for key, coefs in probes[k].items()
                if col in coefs and key not in bigm_keys
            )
        )

    common = {
        c
        for c in cols
        if K == 1 or all(signature(c, k) == signature(c, 0) for k in range(1, K))
    }
    split_cols = [c for c in cols if c not in common]
    if K > 1:
        blk.y = pyo.Var(range(K), within=pyo.Binary, doc="operating point chosen")
        blk.one_point = pyo.Constraint(expr=sum(blk.y[k] for k in range(K)) == 1)
        blk.x = pyo.Var(
            [(k, i) for k in range(K) for i in range(len(split_cols))],
            within=pyo.NonNegativeReals,
            doc="inlet flow disaggregated by operating point [kmol/h]",
        )
        blk.split = pyo.ConstraintList()
        blk.hull = pyo.ConstraintList()
        for i, (p, s) in enumerate(split_cols):
            blk.split.add(sum(blk.x[k, i] for k in range(K)) == inlet_exprs[p][s])
            for k in range(K):
                blk.hull.add(blk.x[k, i] <= bound(p, s) * blk.y[k])
    else:
        blk.y = {0: 1}
    index = {c: i for i, c in enumerate(split_cols)}
    bigm_var: dict = {}
    if bigm_keys & keys:
        bigm_var = _proportional_part(
            blk,
            probes,
            sorted(bigm_keys & keys, key=str),
            common,
            inlet_exprs,
            bound,
            K,
        )

    def expr(key):
        terms = []
        if key in bigm_var:
            terms.append(bigm_var[key])
        for col, c in probes[0].get(key, {}).items():
            if col in common and key not in bigm_var:
                p, s = col
                terms.append(c * inlet_exprs[p][s])
        for k, coefs in enumerate(probes):
            for col, c in coefs.get(key, {}).items():
                if col in index:
                    terms.append(c * blk.x[k, index[col]])
        return sum(terms) if terms else 0.0

    out_keys = sorted((q, s) for (t, *rest) in keys if t == "out" for q, s in [rest])
    blk.out = pyo.Var(out_keys, within=pyo.NonNegativeReals, doc="outlet flow [kmol/h]")
    blk.out_eq = pyo.ConstraintList()
    for q, s in out_keys:
        blk.out_eq.add(blk.out[q, s] == expr(("out", q, s)))
    ordered = sorted(keys, key=str)  # deterministic model order
    blk.reag = {k[1]: expr(k) for k in ordered if k[0] == "reag"}
    blk.util = {k[1]: expr(k) for k in ordered if k[0] == "util"}
    blk.size = {k[1]: expr(k) for k in ordered if k[0] == "size"}
    blk.unit = unit
    blk.probes = probes
    blk.split_cols = split_cols  # (port, species) of each blk.x[k, i] column
    return blk


def _proportional_part(blk, probes, keys, common, inlet_exprs, bound, K):
    """Point-dependent part of ``keys`` over the common (not disaggregated) columns.

    Each point's form over those columns must be a multiple ``a[key][k]`` of one
    base form q (e.g. an SX bank's volume = stages x residence x aqueous flow):
    q is split by the distinct multiples, ``q = sum_g q_g``, ``q_g <= U sum_{k in
    g} y_k`` (the hull of the disjunction for one quantity, exact at an integer
    point), and the key's part is ``sum_g a_g q_g``.  U (``blk.q_ub``, a mutable
    Param) starts at the propagated inlet bounds (``blk.q_ub_propagated``).
    Raises if a form is not a multiple of the base.  Returns {key: expression}.
    """
    forms = {
        key: [
            {col: c for col, c in probes[k].get(key, {}).items() if col in common}
            for k in range(K)
        ]
        for key in keys
    }
    base = next((f for key in keys for f in forms[key] if f), None)
    if base is None:
        return {}
    ref = max(base, key=lambda col: abs(base[col]))
    mult: dict = {}
    for key in keys:
        for k, f in enumerate(forms[key]):
            a = f.get(ref, 0.0) / base[ref]
            for col in set(f) | set(base):
                if abs(f.get(col, 0.0) - a * base.get(col, 0.0)) > 1e-9 * (
                    1.0 + abs(f.get(col, 0.0))
                ):
                    raise ValueError(
                        f"unit {blk.unit.name if hasattr(blk, 'unit') else ''}: "
                        f"{key} is not a multiple of one form at every point"
                    )
            mult[key, k] = a
    # points with the same multiples for every key share one share of q
    groups: dict = defaultdict(list)
    for k in range(K):
        groups[tuple(round(mult[key, k], 12) for key in keys)].append(k)
    glist = sorted(groups)
    q = sum(c * inlet_exprs[p][s] for (p, s), c in base.items())
    ub = sum(abs(c) * bound(p, s) for (p, s), c in base.items()) + 1e-6
    blk.q_part = pyo.Var(
        range(len(glist)),
        within=pyo.NonNegativeReals,
        doc="base form of the point-dependent keys, split by point group",
    )
    blk.q_groups = [list(groups[sig]) for sig in glist]  # points of each q_part
    blk.q_expr = q  # the base form (the key of the first point that has one)
    # U: mutable, so that a caller may tighten it (e.g. by an LP bound, see
    # flowsheets.ndfeb_recycling.tighten_bank_flow_bounds) without a rebuild;
    # ``q_ub_propagated`` keeps the bound from the flowsheet's interval propagation
    blk.q_ub_propagated = ub
    blk.q_ub = pyo.Param(
        mutable=True, initialize=ub, doc="upper bound of the base form q (U)"
    )
    blk.q_rows = pyo.ConstraintList()
    blk.q_rows.add(sum(blk.q_part[g] for g in range(len(glist))) == q)
    for g, sig in enumerate(glist):
        on = sum(blk.y[k] for k in groups[sig])
        blk.q_rows.add(blk.q_part[g] <= blk.q_ub * on)
    return {
        key: sum(sig[i] * blk.q_part[g] for g, sig in enumerate(glist) if sig[i])
        for i, key in enumerate(keys)
    }


def chosen_point(blk) -> int:
    if not isinstance(blk.y, dict) and len(blk.y) > 1:
        return max(blk.y, key=lambda k: pyo.value(blk.y[k]))
    return 0


def outlet_stream(blk, port: str) -> dict[str, float]:
    return {
        s: pyo.value(blk.out[q, s])
        for (q, s) in blk.out
        if q == port and abs(pyo.value(blk.out[q, s])) > 1e-12
    }


def concave_cost(
    blk,
    size_expr,
    cost_one_train: Callable[[float], float],
    max_per_train: float,
    trains: dict[int, object],
    exponent: float,
    n_breaks: int = 6,
    extra_breaks: tuple[float, ...] = (),
    per_decade: int = 3,
):
    """Piecewise-linear concave capital cost with a choice of parallel trains.

    For a power law ``C(x) = a x^e`` the cost of n trains sharing a total size X
    is ``n C(X/n) = n^(1-e) C(X)``, so one piecewise-linear curve of the total
    size (breakpoints geometric up to n_max * max_per_train, plus
    ``extra_breaks``; segment binaries = SOS2) and one big-M row per train option
    give the cost; the train choice ``trains[n]`` (binaries) also caps the size at
    ``n * max_per_train``.  The curve is exact at the breakpoints and below the
    power law between them (chords of a concave function), so the MILP cost is a
    lower bound of the true cost; :func:`refine_concave_cost` adds breakpoints.
    Returns a Var [MUSD] that an objective pushes down to the cost (millions keep
    the coefficients of the big-M rows near one).
    """
    n_max = max(trains)
    top = n_max * max_per_train
    # geometric breakpoints: per_decade in each of the n_breaks - 2 decades below
    # the top (a chord over a ratio of 10^(1/3) is at most 4 % below x^0.45 and
    # 1.8 % at per_decade = 3; 14 % at one per decade)
    dec = n_breaks - 2
    xs = [0.0] + [top * 10.0 ** (-k / per_decade) for k in range(dec * per_decade + 1)]
    xs = sorted(set(xs) | {float(x) for x in extra_breaks if 0.0 < x < top})
    # keep what a rebuild needs; the cost Var survives a rebuild, so expressions
    # that use it (CAPEX, NPV) stay valid
    blk._cc_args = dict(
        size_expr=size_expr,
        cost_one_train=cost_one_train,
        max_per_train=max_per_train,
        trains=trains,
        exponent=exponent,
        n_breaks=n_breaks,
        per_decade=per_decade,
    )
    blk._cc_breaks = xs
    for name in ("lam", "seg", "c"):
        if hasattr(blk, name):
            blk.del_component(name)
        if hasattr(blk, name + "_index"):
            blk.del_component(name + "_index")
    B = len(xs)
    blk.lam = pyo.Var(range(B), within=pyo.NonNegativeReals)
    blk.seg = pyo.Var(range(B - 1), within=pyo.Binary)
    if not hasattr(blk, "cost"):
        blk.cost = pyo.Var(within=pyo.NonNegativeReals, doc="installed cost [MUSD]")
    blk.c = pyo.ConstraintList()
    blk.c.add(sum(blk.lam[b] for b in range(B)) == 1)
    blk.c.add(sum(blk.seg[b] for b in range(B - 1)) == 1)
    for b in range(B):
        adj = [blk.seg[j] for j in (b - 1, b) if 0 <= j < B - 1]
        blk.c.add(blk.lam[b] <= sum(adj))
    blk.c.add(size_expr == sum(blk.lam[b] * xs[b] for b in range(B)))
    blk.c.add(size_expr <= sum(n * max_per_train * z for n, z in trains.items()))
    curve = sum(blk.lam[b] * cost_one_train(xs[b]) / 1e6 for b in range(B))
    big = n_max ** (1 - exponent) * cost_one_train(top) / 1e6
    for n, z in trains.items():
        blk.c.add(blk.cost >= n ** (1 - exponent) * curve - big * (1 - z))
    # Valid cut (cuts off no plant): C is concave with C(0) = 0, so C(u)/u falls
    # with u and each of n trains at u = X/n <= max_per_train costs at least
    # u C(max)/max; n trains cost >= X C(max)/max whatever n.  The big-M rows
    # above let the LP relaxation price CAPEX at 0 for fractional train choices;
    # this row keeps the secant (root bound of the bundled case 64.7 -> 63.7 in
    # NPV/1e7 USD, about 40 % fewer branch-and-bound nodes).
    if SECANT_CUT:
        blk.c.add(
            blk.cost >= cost_one_train(max_per_train) / 1e6 / max_per_train * size_expr
        )
    return blk.cost


def refine_concave_cost(blk, breaks: tuple[float, ...]) -> bool:
    """Rebuild a :func:`concave_cost` block with more breakpoints.

    Returns True when a breakpoint was new (the model changed).
    """
    args = blk._cc_args
    top = max(args["trains"]) * args["max_per_train"]
    new = {float(x) for x in breaks if 0.0 < x < top} - set(blk._cc_breaks)
    if not new:
        return False
    concave_cost(blk, **args, extra_breaks=tuple(blk._cc_breaks) + tuple(new))
    return True


def exact_concave_cost(blk, size: float, n: int) -> float:
    """The power-law cost of n trains at a total size, as the block models it. [MUSD]"""
    a = blk._cc_args
    return n ** (1 - a["exponent"]) * a["cost_one_train"](size) / 1e6


__all__ = [
    "probe",
    "build_unit",
    "concave_cost",
    "refine_concave_cost",
    "exact_concave_cost",
    "outlet_stream",
    "chosen_point",
    "sp",
]
