"""rexopt.highs: a design HiGHS did not prove optimal says so in words."""

import numpy as np
import pyomo.environ as pyo
import pytest

from rexopt.highs import solve


def _hard_knapsack(n=80, k=6, seed=0):
    """A multi-dimensional 0/1 knapsack HiGHS needs many seconds to prove
    (0.66 % gap left after 2 s on the development machine); x = 0 is feasible,
    so an incumbent exists from the first heuristic on."""
    rng = np.random.default_rng(seed)
    W = rng.integers(100, 1000, (k, n))
    v = W.mean(0) + rng.integers(-10, 11, n)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.cap = pyo.Constraint(
        range(k),
        rule=lambda m, r: (
            sum(int(W[r, i]) * m.x[i] for i in range(n)) <= int(W[r].sum() // 2)
        ),
    )
    m.obj = pyo.Objective(
        expr=sum(float(v[i]) * m.x[i] for i in range(n)), sense=pyo.maximize
    )
    return m


@pytest.mark.unit
def test_time_limit_hit_is_reported_as_not_proven_optimal():
    m = _hard_knapsack()
    rep = solve(m, mip_gap=0.0, time_limit_s=0.5, what="knapsack")
    assert rep.status == "feasible"
    assert rep.termination == "maxTimeLimit"
    assert rep.gap is not None and rep.gap > 0.0
    w = rep.warning
    assert w.startswith("knapsack: NOT proven optimal")
    assert "time limit 0.5 s" in w and f"{100 * rep.gap:.3g} %" in w
    assert rep.as_dict()["warning"] == w


@pytest.mark.unit
def test_proven_optimum_has_no_warning():
    m = _hard_knapsack(n=12, k=2)
    rep = solve(m, mip_gap=0.0, time_limit_s=60, what="small knapsack")
    assert rep.status == "optimal"
    assert rep.warning is None and rep.as_dict()["warning"] is None
