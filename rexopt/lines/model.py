"""Selection MILP of a separation line (Pyomo, solved by :func:`rexopt.highs.solve`).

Binaries (docs/lines.md):

* ``v[t, f, s]``: task t runs with feed phase f (aqueous | loaded organic) and with
  (s = 1) or without (s = 0) its strip section; ``sum_{f,s} v = y[t]``.
* ``link[u, t]``: the loaded organic of task u (its organic outlet state is t's
  feed state) is fed to t as organic feed.  Then u needs no strip and t no
  saponification for that rare earth: ``sum_t link[u, t] = sum_f v[u, f, 0]`` and
  ``sum_u link[u, t] = sum_s v[t, org, s]``.
* ``pas[u, f, o, t]``: output o of task u (run with feed phase f) goes on as an
  aqueous stream (strip liquor, raffinate or middle draw) to t, through a
  conditioning step (its free acid neutralised, water added or evaporated to
  t's design feed; :func:`rexopt.lines.superstructure.pair_metrics`) whose
  water, base, acid, energy and cost are constants of the pair.  Every
  non-product output of a built task goes on once (the organic output as strip
  liquor only when stripped, else by a link); every aqueous-fed task below the
  root receives one.

State-task network (sharp splits): the root state is split once; every other
non-leaf state is split exactly as often as it is produced; leaves are products.
Every metric of a variant is a constant (the design is fixed by the product specs,
see :mod:`rexopt.lines.superstructure`), so each objective is linear in ``v``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyomo.environ as pyo

from rexopt.highs import SolveError, solve
from rexopt.lines.case import OBJECTIVES
from rexopt.lines.superstructure import (
    LineSpecError,
    Superstructure,
    pair_metrics,
    parse_cut,
)

UNITS = {
    "annualized_cost": "USD/y",
    "reagents": "kmol/h acid + base",
    "stages": "stages",
    "energy": "kWh/h evaporation",
    "wastewater": "t/h water evaporated (ZLD)",
}


@dataclass
class LineSolution:
    """A chosen line: tasks with their variants, links and the objective values."""

    tasks: list[tuple]  # task keys
    variants: dict[tuple, tuple[str, bool]]
    links: list[tuple[tuple, tuple]]
    metrics: dict[str, float]
    solve: dict = field(default_factory=dict)
    label: str = ""
    # aqueous connections (upstream key, its feed phase, output, downstream key),
    # each with a conditioning step (rexopt.lines.superstructure.pair_metrics)
    passes: list[tuple] = field(default_factory=list)


class LineModel:
    """Pyomo model of a superstructure, built once and re-solved."""

    def __init__(self, ss: Superstructure, *, linkage: bool | None = None):
        self.ss = ss
        self.linkage = ss.case.design.linkage if linkage is None else linkage
        self.m = self._build()

    # ------------------------------------------------------------------ build
    def _build(self) -> pyo.ConcreteModel:
        ss = self.ss
        m = pyo.ConcreteModel(name="separation_line")
        tasks = [t for t in ss.tasks.values() if t.excluded is None]
        self.T = {t.key: t for t in tasks}
        V = [(t.key, f, s) for t in tasks for (f, s) in t.variants]
        L = []
        if self.linkage:
            for u in tasks:
                for t in tasks:
                    if u.outputs["organic"] == t.group and ("org", True) in t.variants:
                        L.append((u.key, t.key))
        # aqueous connections: u's non-product output (state s) fed as aqueous feed
        # to a task t splitting s; each carries its conditioning step's metrics
        P = []
        for u in tasks:
            for fu in sorted({f for f, _ in u.variants}):
                for out, st in u.outputs.items():
                    if st[0] == st[1]:
                        continue
                    for t in tasks:
                        if t.group == st and ("aq", True) in t.variants:
                            P.append((u.key, fu, out, t.key))
        self.P = P
        self.pair = {p: pair_metrics(ss, self.T[p[0]], p[1], p[2], self.T[p[3]])
                     for p in P}  # fmt: skip
        self.V, self.L = V, L
        m.T = pyo.Set(initialize=list(self.T), dimen=None, doc="candidate cuts")
        m.V = pyo.Set(initialize=V, dimen=None, doc="task variants")
        m.L = pyo.Set(initialize=L, dimen=None, doc="loaded-organic links")
        m.y = pyo.Var(m.T, domain=pyo.Binary, doc="task t is built")
        m.v = pyo.Var(m.V, domain=pyo.Binary, doc="task t runs as variant (f, s)")
        m.link = pyo.Var(m.L, domain=pyo.Binary, doc="organic outlet of u feeds t")
        m.P = pyo.Set(initialize=P, dimen=None, doc="aqueous connections")
        m.pas = pyo.Var(m.P, domain=pyo.Binary, doc="aqueous outlet of u feeds t")

        def one_variant(m, *k):
            return sum(m.v[v] for v in V if v[0] == k) == m.y[k]

        m.one_variant = pyo.Constraint(m.T, rule=one_variant)
        root = ss.root
        m.root = pyo.Constraint(
            expr=sum(m.y[k] for k, t in self.T.items() if t.group == root) == 1
        )
        m.state = pyo.ConstraintList(doc="a produced state is split once")
        for s in ss.states():
            if s == root or s[0] == s[1]:
                continue
            cons = [m.y[k] for k, t in self.T.items() if t.group == s]
            prod = [m.y[k] for k, t in self.T.items() if s in t.outputs.values()]
            if cons or prod:
                m.state.add(sum(cons) == sum(prod))
        m.link_out = pyo.ConstraintList(doc="no strip <=> organic goes on")
        m.link_in = pyo.ConstraintList(doc="organic feed <=> linked from upstream")
        for k, t in self.T.items():
            outs = [m.link[lk] for lk in L if lk[0] == k]
            nostrip = [m.v[(k, f, s)] for (f, s) in t.variants if not s]
            if outs or nostrip:
                m.link_out.add(sum(outs) == sum(nostrip))
            ins = [m.link[lk] for lk in L if lk[1] == k]
            org = [m.v[(k, f, s)] for (f, s) in t.variants if f == "org"]
            if ins or org:
                m.link_in.add(sum(ins) == sum(org))
        m.pass_out = pyo.ConstraintList(doc="a non-product aqueous output goes on")
        m.pass_in = pyo.ConstraintList(doc="an aqueous-fed non-root task is fed")
        for k, t in self.T.items():
            for fu in sorted({f for f, _ in t.variants}):
                for out, st in t.outputs.items():
                    if st[0] == st[1]:
                        continue
                    outs = [m.pas[p] for p in P if p[:3] == (k, fu, out)]
                    # the organic output goes on as strip liquor only when stripped
                    runs = [
                        m.v[(k, f, s)]
                        for (f, s) in t.variants
                        if f == fu and (s or out != "organic")
                    ]
                    m.pass_out.add(sum(outs) == sum(runs))
            if t.group != root:
                ins = [m.pas[p] for p in P if p[3] == k]
                aq = [m.v[(k, f, s)] for (f, s) in t.variants if f == "aq"]
                if ins or aq:
                    m.pass_in.add(sum(ins) == sum(aq))
        for name in OBJECTIVES:
            expr = sum(
                self.T[k].variants[(f, s)].metrics[name] * m.v[(k, f, s)]
                for (k, f, s) in V
            ) + sum(self.pair[p][name] * m.pas[p] for p in P)
            setattr(m, f"metric_{name}", pyo.Expression(expr=expr))
        m.weight = pyo.Param(OBJECTIVES, mutable=True, initialize=0.0)
        m.obj = pyo.Objective(
            expr=sum(m.weight[n] * getattr(m, f"metric_{n}") for n in OBJECTIVES)
        )
        m.eps = pyo.Param(OBJECTIVES, mutable=True, initialize=1e30)
        m.eps_con = pyo.Constraint(
            OBJECTIVES,
            rule=lambda m, n: getattr(m, f"metric_{n}") <= m.eps[n],
        )
        # scale: the objective terms differ by orders of magnitude; the solver sees
        # one weighted objective at a time, normalised below in :meth:`optimize`
        return m

    def size(self) -> dict[str, int]:
        return {
            "tasks": len(self.T),
            "variants": len(self.V),
            "links": len(self.L),
            "aqueous_connections": len(self.P),
            "binaries": len(self.T) + len(self.V) + len(self.L) + len(self.P),
        }

    # ------------------------------------------------------------------ solve
    def fix(self, keys: list[tuple] | None, *, only: bool = False) -> None:
        """Force tasks into the line; ``only``: and every other task out."""
        m = self.m
        for k in m.T:
            m.y[k].unfix()
        for k in keys or []:
            if k not in self.T:
                t = self.ss.tasks[k]
                raise LineSpecError(f"forced cut {t.label} is excluded: {t.excluded}")
            m.y[k].fix(1)
        if only:
            for k in m.T:
                if k not in (keys or []):
                    m.y[k].fix(0)

    def optimize(
        self,
        objective: str,
        *,
        eps: dict[str, float] | None = None,
        time_limit_s: float | None = None,
        label: str = "",
    ) -> LineSolution:
        """Minimise one metric (others bounded by ``eps``); returns the solution."""
        m = self.m
        for n in OBJECTIVES:
            m.weight[n] = 1.0 if n == objective else 0.0
            m.eps[n] = (eps or {}).get(n, 1e30)
            m.eps_con[n].deactivate() if n not in (eps or {}) else m.eps_con[
                n
            ].activate()
        try:
            rep = solve(m, time_limit_s=time_limit_s, what=f"separation line {label}")
        except SolveError as err:
            raise LineSpecError(self._explain(str(err))) from err
        return self._extract(rep.as_dict(), label)

    def _explain(self, msg: str) -> str:
        fixed = [
            self.T[k].label
            for k in self.m.T
            if self.m.y[k].fixed and pyo.value(self.m.y[k]) > 0.5
        ]
        hint = ""
        if fixed:
            hint = (
                f"; forced cuts {fixed} do not form a complete line (every "
                "non-product state must be split once, starting from the feed)"
            )
        return f"no line meets the specification: {msg}{hint}"

    def _extract(self, solve_info: dict, label: str) -> LineSolution:
        m = self.m
        tasks = [k for k in m.T if pyo.value(m.y[k]) > 0.5]
        var = {k: (f, s) for (k, f, s) in self.V if pyo.value(m.v[(k, f, s)]) > 0.5}
        links = [lk for lk in self.L if pyo.value(m.link[lk]) > 0.5]
        passes = [p for p in self.P if pyo.value(m.pas[p]) > 0.5]
        metrics = {n: float(pyo.value(getattr(m, f"metric_{n}"))) for n in OBJECTIVES}
        return LineSolution(tasks, var, links, metrics, solve_info, label, passes)


def evaluate(
    ss: Superstructure,
    keys: list[tuple],
    linked: bool = False,
    objective: str = "annualized_cost",
) -> LineSolution:
    """Cost a given sequence (all its cuts forced); links chosen optimally if
    ``linked``, none otherwise."""
    lm = LineModel(ss, linkage=linked)
    lm.fix(keys, only=True)
    return lm.optimize(objective, label="fixed sequence")


def forced_keys(ss: Superstructure, cuts: list[str]) -> list[tuple]:
    return [parse_cut(ss, c) for c in cuts]


def pareto(
    lm: LineModel,
    first: str,
    second: str,
    points: int,
    time_limit_s: float | None = None,
) -> list[LineSolution]:
    """Epsilon-constraint front: minimise ``first`` with ``second`` bounded."""
    a = lm.optimize(first, time_limit_s=time_limit_s, label=f"min {first}")
    b = lm.optimize(second, time_limit_s=time_limit_s, label=f"min {second}")
    hi, lo = a.metrics[second], b.metrics[second]
    out = [a]
    for i in range(1, points - 1):
        e = hi - (hi - lo) * i / (points - 1)
        out.append(
            lm.optimize(
                first,
                eps={second: e * (1 + 1e-9) + 1e-12},
                time_limit_s=time_limit_s,
                label=f"min {first}, {second} <= {e:.4g}",
            )
        )
    b2 = lm.optimize(
        first,
        eps={second: lo * (1 + 1e-9) + 1e-12},
        time_limit_s=time_limit_s,
        label=f"min {first} at min {second}",
    )
    out.append(b2)
    # the epsilon grid may land on the same line twice: keep distinct points
    uniq: list[LineSolution] = []
    for p in out:
        if (
            not uniq
            or sorted(p.tasks) != sorted(uniq[-1].tasks)
            or (p.links != uniq[-1].links)
        ):
            uniq.append(p)
    return uniq
