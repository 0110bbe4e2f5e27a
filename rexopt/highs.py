"""The one place that talks to HiGHS.

Every Pyomo model in rexopt is solved through :func:`solve`, which keeps one
persistent solver object per model (re-solves after changing mutable parameters
are much cheaper than rebuilding) and maps every HiGHS termination to a clear
outcome instead of a solver status code.

The solver object lives on the model itself (attribute ``_rexopt_highs``), so it
is freed with the model, a new model never meets another model's solver, and a
clone or unpickled copy of a model starts with a solver of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs as _PyomoHighs

_SLOT = "_rexopt_highs"


class _SolverSlot:
    """Holds a model's persistent solver; copies and pickles of it are empty.

    A solver object is bound to the model it was built for: a cloned or unpickled
    model must build its own, so the slot copies as an empty slot.
    """

    __slots__ = ("solver",)

    def __init__(self):
        self.solver = None

    def __deepcopy__(self, memo):
        return _SolverSlot()

    def __reduce__(self):
        return (_SolverSlot, ())


class _Highs(_PyomoHighs):
    """Pyomo's persistent HiGHS interface plus a MIP start.

    ``mip_start`` ({id(var): value}) is handed to HiGHS (``setSolution``) just
    before the next run and then dropped: HiGHS checks it (completing missing
    continuous values with an LP) and uses it as the first incumbent if it is
    feasible, else ignores it.  A start changes only where the search begins; the
    answer is still HiGHS's, within the gap asked for.
    """

    def __init__(self, **kwds):
        # Pyomo re-runs __init__ when it loads a model (set_instance): a start
        # set for this call must survive that
        start = getattr(self, "mip_start", None)
        super().__init__(**kwds)
        self.mip_start: dict[int, float] | None = start

    def _solve(self):
        start, self.mip_start = self.mip_start, None
        if start:
            vmap = self._pyomo_var_to_solver_var_map
            idx = [vmap[k] for k in start if k in vmap]
            val = [float(start[k]) for k in start if k in vmap]
            if idx:
                self._solver_model.setSolution(
                    len(idx), np.asarray(idx, dtype=np.int32), np.asarray(val)
                )
        return super()._solve()


def current_point(model: pyo.ConcreteModel) -> dict[int, float]:
    """The model's current variable values ({id(var): value}), a MIP start."""
    return {
        id(v): v.value
        for v in model.component_data_objects(pyo.Var, descend_into=True)
        if v.value is not None and not v.fixed
    }


class SolveError(RuntimeError):
    """HiGHS ended without a usable solution; the message says why."""


@dataclass
class SolveReport:
    """What HiGHS did: outcome, objective, size of the model and time."""

    status: str  # "optimal" | "feasible" (limit hit with a solution)
    termination: str
    objective: float
    gap: float | None
    n_variables: int
    n_integer: int
    n_constraints: int
    seconds: float
    what: str = "model"
    time_limit_s: float | None = None  # the wall-clock limit it ran under [s]
    requested_gap: float | None = None  # the relative MIP gap asked for [-]
    #: where the search started: None (HiGHS alone) or what the MIP start was
    mip_start: str | None = None
    #: branch-and-bound nodes HiGHS explored (None for an LP): a measure of the
    #: work that does not depend on how loaded the machine is
    nodes: int | None = None

    @property
    def warning(self) -> str | None:
        """Plain words when the answer is not proven optimal, else None.

        HiGHS stops at a wall-clock limit with its best plant so far; on a loaded
        machine that can be a different (worse) design than a quiet run finds, so
        every report that prints the design prints this next to it.
        """
        if self.status == "optimal":
            return None
        gap = "unknown" if self.gap is None else f"{100 * self.gap:.3g} %"
        asked = (
            ""
            if self.requested_gap is None
            else f" (asked for {100 * self.requested_gap:.3g} %)"
        )
        limit = (
            "" if self.time_limit_s is None else f", time limit {self.time_limit_s:g} s"
        )
        return (
            f"{self.what}: NOT proven optimal -- HiGHS stopped on a limit "
            f"({self.termination}{limit}) after {self.seconds:.1f} s with a gap of "
            f"{gap}{asked}; a better design may exist.  Raise the time limit (or run "
            f"on a less loaded machine) for a proven optimum."
        )

    def as_dict(self) -> dict:
        return {**self.__dict__, "warning": self.warning}


def model_size(model: pyo.ConcreteModel) -> tuple[int, int, int]:
    """Number of (variables, integer variables, constraints) that are active."""
    nvar = nint = 0
    for v in model.component_data_objects(pyo.Var, active=True, descend_into=True):
        if v.fixed:
            continue
        nvar += 1
        if v.is_integer() or v.is_binary():
            nint += 1
    ncon = sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True))
    return nvar, nint, ncon


#: HiGHS options a caller may set per solve, with the HiGHS defaults restored on
#: every other solve of the same persistent object
_OPTION_DEFAULTS = {
    "mip_allow_restart": True,
    "mip_heuristic_effort": 0.05,
    "mip_pscost_minreliable": 8,
    "mip_max_improving_sols": 2147483647,  # 1: stop at the first feasible point
}


def _solver_for(model):
    """The model's persistent HiGHS object, made on first use and kept on the model.

    Its life is the model's: no module-level cache keeps models alive, and a new
    model (even one at a dead model's address) always gets a new solver.
    """
    slot = model.__dict__.get(_SLOT)
    if slot is None:
        slot = _SolverSlot()
        # object.__setattr__: a plain attribute, not a Pyomo component
        object.__setattr__(model, _SLOT, slot)
    if slot.solver is None:
        slot.solver = _Highs()
    return slot.solver


def release_solver(model) -> None:
    """Drop ``model``'s persistent HiGHS object; the next solve makes a new one.

    A persistent object re-solving a changed model starts from what it kept of the
    last solve (basis, search history), so a MILP stopped at a gap can return a
    different plant, within the gap, depending on what was solved before.  A
    caller that must give the same answer whatever came before (a sweep scenario)
    releases the solver first, at the cost of loading the model into HiGHS again.
    """
    slot = model.__dict__.get(_SLOT)
    if slot is not None:
        slot.solver = None


def has_solver(model) -> bool:
    """True if ``model`` already holds a persistent solver (it was solved before)."""
    slot = model.__dict__.get(_SLOT)
    return slot is not None and slot.solver is not None


def solve(
    model: pyo.ConcreteModel,
    *,
    time_limit_s: float | None = None,
    mip_gap: float = 1e-6,
    what: str = "model",
    mip_start: dict[int, float] | None = None,
    start_label: str = "given",
    options: dict | None = None,
) -> SolveReport:
    """Solve ``model`` with HiGHS and load the solution.

    Parameters
    ----------
    model : pyomo ConcreteModel
        A linear or mixed-integer linear model with one active objective.
    time_limit_s : float, optional
        Wall-clock limit. [s]
    mip_gap : float
        Relative MIP gap at which HiGHS may stop. [-]
    what : str
        Name used in error messages ("cascade design", "NdFeB plant" ...).
    mip_start : {id(var): value}, optional
        A MIP start (e.g. :func:`current_point` of an earlier solve): HiGHS begins
        with it as its incumbent if it is feasible.  The gap and the limits are
        the same as without it; only the search path changes.
    start_label : str
        What the start was, recorded in ``SolveReport.mip_start``.
    options : dict, optional
        Further HiGHS options for this call (e.g. ``{"mip_allow_restart":
        False}``); they change the search, not the gap or the limits.

    Raises
    ------
    SolveError
        Infeasible, unbounded, or no solution within the limits, with a message
        that says so in words.
    """
    solver = _solver_for(model)
    # every option is set on every call: the persistent solver keeps what an
    # earlier solve of the same model set (a time limit must not outlive its call)
    opts = {
        "mip_rel_gap": mip_gap,
        "output_flag": False,
        "time_limit": float("inf") if time_limit_s is None else float(time_limit_s),
    }
    # defaults first: an option set for one call must not stay for the next
    opts.update({k: _OPTION_DEFAULTS[k] for k in _OPTION_DEFAULTS})
    for k, v in (options or {}).items():
        if k not in _OPTION_DEFAULTS:
            raise ValueError(
                f"HiGHS option {k!r} is not one rexopt passes through "
                f"(allowed: {', '.join(sorted(_OPTION_DEFAULTS))})"
            )
        opts[k] = v
    solver.mip_start = mip_start or None
    t0 = time.perf_counter()
    try:
        res = solver.solve(
            model,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options=opts,
        )
    finally:
        solver.mip_start = None  # a start is for this call only
    dt = time.perf_counter() - t0
    tc = res.termination_condition
    nvar, nint, ncon = model_size(model)
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        status = "optimal"
    elif tc in (
        TerminationCondition.provenInfeasible,
        TerminationCondition.locallyInfeasible,
    ):
        raise SolveError(f"{what}: HiGHS proved the model infeasible")
    elif tc == TerminationCondition.infeasibleOrUnbounded:
        raise SolveError(f"{what}: HiGHS found the model infeasible or unbounded")
    elif tc == TerminationCondition.unbounded:
        raise SolveError(
            f"{what}: the objective is unbounded (a missing bound or cost)"
        )
    elif res.incumbent_objective is not None:
        status = "feasible"
    else:
        raise SolveError(f"{what}: HiGHS stopped ({tc.name}) without a solution")
    res.solution_loader.load_vars()
    nodes = int(solver._solver_model.getInfo().mip_node_count) if nint else None
    gap = None
    if res.objective_bound is not None and res.incumbent_objective is not None:
        obj, bnd = res.incumbent_objective, res.objective_bound
        gap = abs(obj - bnd) / max(1e-9, abs(obj))
    return SolveReport(
        status=status,
        termination=tc.name,
        objective=float(res.incumbent_objective),
        gap=gap,
        n_variables=nvar,
        n_integer=nint,
        n_constraints=ncon,
        seconds=dt,
        what=what,
        time_limit_s=time_limit_s,
        requested_gap=mip_gap if nint else None,
        mip_start=start_label if (mip_start and nint) else None,
        nodes=nodes,
    )
