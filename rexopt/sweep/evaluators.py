"""Evaluators: what a scenario means for each case kind.

An evaluator *factory* takes the base case once per worker and returns the
function that evaluates one scenario::

    factory(base_case: dict, *, base_dir: Path | None) -> evaluate
    evaluate(case: dict) -> Mapping[str, float]      # may include status="infeasible"

Expensive set-up (loading data, building a Pyomo model and its solver object)
belongs in the factory: the worker keeps the returned ``evaluate`` in a cache keyed
by the kind and the base-case hash and re-uses it for every later task of the sweep.
``evaluate`` receives the base case with the scenario's overrides applied; it can
change mutable parameters of a model built by the factory instead of rebuilding.

A scenario is *infeasible* when ``evaluate`` returns ``status = "infeasible"`` or
raises an exception whose class (or a base class) is named like ``*Infeasible*``;
any other exception marks it *failed* with its message.

Built in: ``function``, and one kind per study of :mod:`rexopt.study`:
``cascade`` (simulation), ``cascade_optimize``, ``cascade_design``,
``separation_line`` and ``ndfeb_flowsheet``; each returns the study's own
``summary()`` scalars (the same function its command's JSON uses).  Others plug in
with :func:`register_evaluator`.  The factory travels to the workers with each task
(pickled by reference), so it must be importable there: a module-level function in
an installed module, or an ``"package.module:function"`` string.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "register_evaluator",
    "registered_kinds",
    "get_factory",
    "resolve_callable",
    "function_factory",
    "function_case_problems",
    "cascade_factory",
    "optimize_factory",
    "design_factory",
    "line_factory",
    "ndfeb_factory",
    "case_overrides",
    "stops_itself",
]

Evaluate = Callable[[dict], Mapping[str, Any]]
Factory = Callable[..., Evaluate]

_REGISTRY: dict[str, Factory | str] = {}


def register_evaluator(kind: str, factory: Factory | str) -> None:
    """Make sweeps over cases of ``kind`` possible.

    Parameters
    ----------
    kind : str
        The ``kind`` of the base case (``"design"``, ``"optimize"``, ...).
    factory : callable or str
        ``factory(base_case, *, base_dir) -> evaluate`` or ``"pkg.mod:factory"``.
        Called once per worker and base case; ``evaluate(case) -> dict`` of floats.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError("kind must be a non-empty string")
    if not (callable(factory) or isinstance(factory, str)):
        raise TypeError("factory must be callable or a 'module:function' string")
    _REGISTRY[kind] = factory


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)


def get_factory(kind: str) -> Factory:
    try:
        f = _REGISTRY[kind]
    except KeyError:
        raise KeyError(
            f"no sweep evaluator for kind {kind!r}; registered: "
            f"{', '.join(registered_kinds())}"
        ) from None
    if isinstance(f, str):
        f = resolve_callable(f)
    return f


def resolve_callable(ref: str, base_dir: str | Path | None = None) -> Callable:
    """``"package.module:func"`` or ``"path/to/file.py:func"`` -> the function.

    A file path is taken relative to ``base_dir`` (the directory of the case).
    """
    if not isinstance(ref, str) or ref.count(":") < 1:
        raise ValueError(
            f"callable = {ref!r}: write 'package.module:function' or 'file.py:function'"
        )
    mod_ref, _, attr = ref.rpartition(":")
    if mod_ref.endswith(".py"):
        path = Path(mod_ref)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        path = path.resolve()
        if not path.exists():
            raise FileNotFoundError(f"callable = {ref!r}: file {path} not found")
        mod_name = f"_rexopt_sweep_user_{abs(hash(str(path)))}"
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[mod_name]
                raise
    else:
        module = importlib.import_module(mod_ref)
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError(
                f"callable = {ref!r}: {mod_ref} has no attribute {attr!r}"
            ) from None
    if not callable(obj):
        raise TypeError(f"callable = {ref!r} is not callable")
    return obj


# ----------------------------------------------------------------- built-in kinds


_FUNCTION_FIELDS = ("kind", "name", "description", "callable", "params")


def function_case_problems(
    base_case: Mapping, base_dir: str | Path | None = None
) -> list[str]:
    """What keeps a ``kind = "function"`` case from running, one line per problem
    (``<field>: <value> -- <allowed>``); empty if it can run.

    Checked without importing the user's code: the fields, the form of
    ``callable`` (and that a ``file.py`` it names exists), ``params`` a table.  The
    params are the function's keyword arguments and have no schema.
    """
    out = []
    extra = sorted(set(base_case) - set(_FUNCTION_FIELDS))
    for k in extra:
        out.append(
            f"{k}: unknown field in a 'function' case; allowed: "
            f"{', '.join(_FUNCTION_FIELDS)}"
        )
    for k in ("name", "description"):
        if k in base_case and not isinstance(base_case[k], str):
            out.append(f"{k}: {base_case[k]!r} -- expected a string")
    ref = base_case.get("callable")
    if ref is None:
        out.append(
            "callable: missing -- expected 'package.module:function' or "
            "'file.py:function'"
        )
    elif not isinstance(ref, str) or ":" not in ref or ref.endswith(":"):
        out.append(
            f"callable: {ref!r} -- expected a string 'package.module:function' or "
            "'file.py:function'"
        )
    elif ref.rpartition(":")[0].endswith(".py"):
        path = Path(ref.rpartition(":")[0])
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            out.append(
                f"callable: {ref!r} -- file {path.resolve()} not found (a path "
                "relative to the base case's folder)"
            )
    params = base_case.get("params", {})
    if not isinstance(params, Mapping):
        out.append(
            f"params: {params!r} -- expected a table of the function's keyword "
            "arguments"
        )
    return out


def function_factory(base_case: dict, *, base_dir: str | Path | None = None):
    """``kind = "function"``: ``callable = "mod:func"``, ``params = {...}``.

    Each scenario calls ``func(**params)`` and keeps its returned dict.
    """
    problems = function_case_problems(base_case, base_dir)
    if problems:
        raise ValueError("a 'function' case: " + "; ".join(problems))
    ref = base_case["callable"]
    func = resolve_callable(ref, base_dir)

    def evaluate(case: dict) -> Mapping[str, Any]:
        return func(**case.get("params", {}))

    return evaluate


#: the message of every scenario of a sweep run without the branch search
BRANCH_SEARCH_OFF = (
    "branch search off ([cascade] branch_search = false): other steady states "
    "were not looked for; the result is the one the solve reached"
)


def stops_itself(factory: Callable) -> bool:
    """Whether ``factory`` takes a ``time_limit_s`` keyword: the scenario's wall-clock
    limit, within which its ``evaluate`` stops its own solve and raises an error
    saying where it was.  The sweep passes ``[execution] scenario_time_limit_s`` to
    such a factory and kills the scenario's process only past a grace period
    (:func:`rexopt.sweep.sandbox.kill_after`)."""
    try:
        p = inspect.signature(factory).parameters.get("time_limit_s")
    except (TypeError, ValueError):
        return False
    return p is not None and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)


def cascade_factory(
    base_case: dict,
    *,
    base_dir: str | Path | None = None,
    branch_search: bool = True,
    loop_passes: int | None = None,
    time_limit_s: float | None = None,
):
    """``kind = "cascade"``: ``rexopt.simulate(case).summary()`` per scenario.

    The outputs are the summary's keys (among them ``steady_states_found``,
    ``branch_search`` and ``warnings_count``: :meth:`CascadeResult.summary`).
    The message of each scenario holds its warnings (``"<n> warning(s): ..."``,
    solve warnings before the unverified-default ones), preceded by
    :data:`BRANCH_SEARCH_OFF` when the sweep switched the search off.  With
    ``time_limit_s`` (the sweep's ``scenario_time_limit_s``) each simulate stops
    itself at the limit: the scenario fails with
    :class:`~rexopt.cascade.CascadeTimeLimit`, whose message names the phase the
    solve was in, where in it and the time taken.  ``loop_passes`` (the
    sweep's ``[cascade] loop_passes``) is the organic loop's pass budget
    (``max_recycle``; None: the default, ``rexopt.cascade.LOOP_PASSES``).
    """
    import rexopt

    # Import now so a missing or broken cascade module fails the set-up once,
    # with its own message, instead of every scenario separately.
    cascade = importlib.import_module("rexopt.cascade")
    passes = cascade.LOOP_PASSES if loop_passes is None else loop_passes
    if not isinstance(branch_search, bool):
        raise TypeError(f"branch_search = {branch_search!r}: expected true or false")

    def evaluate(case: dict) -> Mapping[str, Any]:
        res = rexopt.simulate(
            case,
            branch_search=branch_search,
            max_recycle=passes,
            time_limit_s=time_limit_s,
        )
        out: dict[str, Any] = res.summary()
        said = [] if branch_search else [BRANCH_SEARCH_OFF]
        if res.warnings:
            said.append(f"{len(res.warnings)} warning(s): " + "; ".join(res.warnings))
        if said:
            out["message"] = "; ".join(said)
        return out

    return evaluate


def optimize_factory(base_case: dict, *, base_dir: str | Path | None = None):
    """``cascade_optimize``: the cascade optimizer per scenario (feeds, prices ...).

    An infeasible scenario comes back ``status = "infeasible"`` with the binding
    spec and its best achievable value in the message.
    """
    from rexopt.design.optimize import OptimizeError, optimize, problem_from
    from rexopt.study import opt_summary

    def evaluate(case: dict) -> Mapping[str, Any]:
        # bad input of this scenario raises here (recorded failed) ...
        problem_from(case, where="scenario")
        try:
            res = optimize(case, where="scenario")
        except OptimizeError as exc:
            # ... so what the optimizer refuses now is the specs: no candidate
            # design in the ranges can meet them
            return {"status": "infeasible", "message": str(exc)}
        out = opt_summary(res)
        if res.best is None:
            return {**out, "status": "infeasible", "message": res.message}
        return out

    return evaluate


def design_factory(base_case: dict, *, base_dir: str | Path | None = None):
    """``cascade_design``: what ``rexopt design`` runs, per scenario: Xu's closed
    form, then the flows corrected on the kernel
    (:func:`rexopt.design.casedesign.design_case`).  Outputs ``theory.<x>``,
    ``designed.<quantity>``, ``check<i>.<kernel|target|met|shortfall>`` and
    ``kernel.<summary key>``; a design whose specs the kernel does not meet is
    ``infeasible``, with the unmet specs in its message."""
    from rexopt.design.casedesign import design_case
    from rexopt.study import design_summary

    def evaluate(case: dict) -> Mapping[str, Any]:
        r = design_case(case, where="scenario")
        out = design_summary(r)
        if not r.met:
            unmet = "; ".join(
                f"{c['spec']}: kernel {c['kernel']}" for c in r.checks if not c["met"]
            )
            return {**out, "status": "infeasible", "message": f"not met: {unmet}"}
        return out

    return evaluate


def line_factory(base_case: dict, *, base_dir: str | Path | None = None):
    """``separation_line``: line synthesis per scenario (feed, prices, specs)."""
    from rexopt.lines.case import load_line_case
    from rexopt.lines.report import optimize_line
    from rexopt.lines.superstructure import LineSpecError
    from rexopt.study import line_summary

    def evaluate(case: dict) -> Mapping[str, Any]:
        lc = load_line_case(case)
        try:
            res = optimize_line(lc)
        except LineSpecError as exc:
            return {"status": "infeasible", "message": str(exc)}
        return line_summary(res)

    return evaluate


def case_overrides(base: Any, case: Any, prefix: str = "") -> dict[str, Any]:
    """The leaves where ``case`` differs from ``base``, keyed by dotted path."""
    if isinstance(base, dict) and isinstance(case, dict):
        out: dict[str, Any] = {}
        for k in case:
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in base:
                out.update(_leaves(case[k], p))
            else:
                out.update(case_overrides(base[k], case[k], p))
        return out
    return {} if base == case else {prefix: case}


def _leaves(v: Any, prefix: str) -> dict[str, Any]:
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, x in v.items():
            out.update(_leaves(x, f"{prefix}.{k}"))
        return out
    return {prefix: v}


def ndfeb_factory(base_case: dict, *, base_dir: str | Path | None = None):
    """``ndfeb_flowsheet``: the NdFeB plant per scenario (capacity, prices, feed,
    specs).

    The plant and its Pyomo model are built once per worker
    (``PlantSession``, which also solves the base case once for the MIP start
    every scenario gets); each scenario re-solves that model on a fresh HiGHS
    object, started from the base plant's decisions, with the scenario's overrides (dotted case paths such as
    ``data.costs.products_USD_kg.Nd2O3`` or ``plant.scrap_t_yr``).  Overrides
    the model has no parameter for (feed composition, a capacity above the one
    built for ...) rebuild it, and the outputs ``session.rebuilt`` (0/1) and
    ``session.builds_so_far`` say so.  An infeasible plant comes back ``status =
    "infeasible"`` with the diagnosis (the binding target) as its message.
    """
    import importlib

    from rexopt.study import ndfeb_summary

    nd = importlib.import_module("rexopt.flowsheets.ndfeb_recycling")
    case_dir = Path(base_dir) if base_dir else None
    base, _ = nd.load_case(base_case)
    session = nd.PlantSession(base, case_dir=case_dir)

    def evaluate(case: dict) -> Mapping[str, Any]:
        try:
            res = session.solve(case_overrides(base_case, case))
        except nd.InfeasibleCase as exc:
            return {"status": "infeasible", "message": str(exc)}
        return ndfeb_summary(res)

    return evaluate


register_evaluator("function", function_factory)
register_evaluator("cascade", cascade_factory)
register_evaluator("cascade_optimize", optimize_factory)
register_evaluator("cascade_design", design_factory)
register_evaluator("separation_line", line_factory)
register_evaluator("ndfeb_flowsheet", ndfeb_factory)
