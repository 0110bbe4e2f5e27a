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


def _lp(price: float):
    """max price * x, x <= 2: optimum 2 * price (price > 0)."""
    m = pyo.ConcreteModel()
    m.price = pyo.Param(mutable=True, initialize=price)
    m.x = pyo.Var(bounds=(0, 2))
    m.obj = pyo.Objective(expr=m.price * m.x, sense=pyo.maximize)
    return m


@pytest.mark.unit
def test_solver_lives_on_the_model_and_is_reused_for_resolves():
    from rexopt.highs import _solver_for, has_solver

    m = _lp(3.0)
    assert not has_solver(m)
    assert solve(m).objective == pytest.approx(6.0)
    s1 = _solver_for(m)
    m.price = 5.0  # a mutable parameter changed: the same solver re-solves
    assert solve(m).objective == pytest.approx(10.0)
    assert _solver_for(m) is s1 and has_solver(m)


@pytest.mark.unit
def test_models_are_freed_and_new_models_get_new_solvers():
    import gc
    import weakref

    from rexopt.highs import _solver_for

    seen_models, seen_solvers, ids = [], [], set()
    for k in range(30):
        m = _lp(1.0 + k)
        rep = solve(m)
        assert rep.objective == pytest.approx(2.0 * (1.0 + k))
        s = _solver_for(m)
        # a dead model's solver is never handed on, even at a re-used address
        assert all(s is not w() for w in seen_solvers if w() is not None)
        ids.add(id(m))
        seen_models.append(weakref.ref(m))
        seen_solvers.append(weakref.ref(s))
        del m, s, rep
    gc.collect()
    assert all(w() is None for w in seen_models), "a solved model was kept alive"
    assert all(w() is None for w in seen_solvers), "a solver outlived its model"


@pytest.mark.unit
def test_clone_and_pickle_get_their_own_solver():
    import pickle

    from rexopt.highs import _solver_for, has_solver

    m = _lp(2.0)
    solve(m)
    c = m.clone()
    assert not has_solver(c)
    c.price = 7.0
    assert solve(c).objective == pytest.approx(14.0)
    assert _solver_for(c) is not _solver_for(m)
    p = pickle.loads(pickle.dumps(m))
    assert not has_solver(p)
    assert solve(p).objective == pytest.approx(4.0)
    # the original still solves with its own, unchanged parameters
    assert solve(m).objective == pytest.approx(4.0)


def test_released_solver_is_replaced_and_gives_the_same_optimum():
    """release_solver drops the model's HiGHS object; the next solve makes a new one
    and finds the same proven optimum as before."""
    from rexopt.highs import _solver_for, has_solver, release_solver

    m = _hard_knapsack(n=12, k=2)
    solve(m)
    first = _solver_for(m)
    x1 = pyo.value(m.obj)
    release_solver(m)
    assert not has_solver(m)
    solve(m)
    assert has_solver(m) and _solver_for(m) is not first
    assert pyo.value(m.obj) == pytest.approx(x1, rel=1e-9)


@pytest.mark.unit
def test_mip_start_is_the_first_incumbent():
    """A feasible MIP start is where HiGHS begins: stopped at once, it returns a
    solution at least as good as the start, and the report names the start."""
    from rexopt.highs import current_point, release_solver

    m = _hard_knapsack()
    solve(m, mip_gap=0.0, time_limit_s=2.0)
    best = pyo.value(m.obj)
    start = current_point(m)
    assert set(start) == {id(v) for v in m.x.values()}
    release_solver(m)
    for v in m.x.values():
        v.set_value(None)
    rep = solve(
        m, mip_gap=0.0, time_limit_s=0.05, mip_start=start, start_label="2 s plant"
    )
    assert rep.objective >= best - 1e-9
    assert rep.mip_start == "2 s plant" and rep.nodes is not None
    # the start is for that call only: the next solve begins without it
    assert _solver_for_start(m) is None


def _solver_for_start(m):
    from rexopt.highs import _solver_for

    return _solver_for(m).mip_start


@pytest.mark.unit
def test_infeasible_mip_start_is_dropped_and_the_optimum_is_unchanged():
    m = _hard_knapsack(n=12, k=2)
    opt = solve(m, mip_gap=0.0).objective
    from rexopt.highs import release_solver

    release_solver(m)
    every_item = {id(v): 1.0 for v in m.x.values()}  # breaks every capacity row
    rep = solve(m, mip_gap=0.0, mip_start=every_item)
    assert rep.status == "optimal"
    assert rep.objective == pytest.approx(opt, rel=1e-12)
    assert all(c.uslack() >= -1e-6 for c in m.cap.values())
