"""rexopt: rare-earth solvent-extraction cascade simulation and process optimization.

The public API, each documented with units (nothing heavy is imported until used):

``rexopt.simulate(case)``
    Solve a cascade case -> :class:`rexopt.results.CascadeResult`.
``rexopt.design(case)``
    Xu's closed-form design of a cascade, flows then corrected on the kernel.
``rexopt.optimize(case)``
    Cheapest cascade meeting the case's ``[optimize]`` specs.
``rexopt.sweep(sweep_file)``
    Run (or resume) a sweep into HDF5 and return its results table.
``rexopt.fit(data, model)``
    Fit equilibrium parameters to laboratory batch tests.

``rexopt.design``, ``rexopt.sweep`` and ``rexopt.fit`` are also the subpackages of
the same name (``rexopt.design.xu_design``, ``rexopt.sweep.load_sweep``, ...): calling
the package calls the function documented here.
"""

import importlib as _importlib
import importlib.abc as _abc
import importlib.machinery as _machinery
import sys as _sys
import types as _types

__version__ = "0.1.0"


# --------------------------------------------------------------------- simulate
def simulate(case, *, tol: float = 1e-12, max_iter: int = 200, warm_start=None, **kw):
    """Solve the steady state of a countercurrent SX cascade.

    Parameters
    ----------
    case : str, Path, dict or rexopt.case.CascadeCase
        A cascade case file (TOML, see docs/cases.md), or the same content as a
        dict; validated on load (errors name the file, field, value and what is
        allowed).
    tol : float
        Convergence tolerance of the kernel, relative to each component's
        throughput. [-]
    max_iter : int
        Newton iteration limit per solve.
    warm_start : ndarray (N, C), optional
        Aqueous stage concentrations to start from, e.g. ``result.x`` of a
        neighbouring case. [mol/L]
    **kw
        Passed to :meth:`rexopt.cascade.Cascade.simulate` (``recycle_tol``,
        ``max_recycle`` for the organic loop).

    Returns
    -------
    rexopt.results.CascadeResult
        Streams (flows [L/h], concentrations [mol/L], molar flows [mol/h], oxide
        [kg/h]), recovery and purity [-], stage profiles, reagents [mol/h, kg/h],
        balances, convergence, warnings (including every unverified default the
        case relied on) and ``defaults_used``.  ``.summary()`` gives the scalars
        without building tables; ``.plot()`` a matplotlib Figure.

    Raises
    ------
    rexopt.case.CaseError
        The case is not valid.
    rexopt.cascade.CascadeError
        The kernel found no steady state; the message says where and why.

    Examples
    --------
    >>> r = rexopt.simulate("cases/prnd_p507.toml")          # doctest: +SKIP
    >>> r.purity.loc["strip_liquor", "Nd"]                   # doctest: +SKIP
    """
    from rexopt.cascade import simulate as _simulate

    return _simulate(case, tol=tol, max_iter=max_iter, warm_start=warm_start, **kw)


# ----------------------------------------------------------------------- design
def _design(case, specs=None, **kw):
    """Design a cascade: Xu's closed form, then the flows corrected on the kernel.

    Called as ``rexopt.design(case, ...)``; the same as
    :func:`rexopt.design.design_case`.  Xu's theory of countercurrent extraction
    gives the extraction and scrub amounts and the stage numbers for the purity
    specs (two outlets, or three with a middle draw); the flows (and, where needed,
    the stages) are then moved until the kernel meets the specs, and theory and
    kernel figures are reported side by side.

    Parameters
    ----------
    case : str, Path, dict or rexopt.case.CascadeCase
        A cascade case with ``model = "saturated"``; its chemistry, organic, feed,
        acid strengths and strip stages are kept.
    specs : list of dict, optional
        ``{stream, component, purity_min | recovery_min}`` [-]; default the case's
        ``[optimize]`` specs.
    **kw
        ``purity_A``, ``purity_B``, ``purity_middle`` [-] (override or add
        purity specs; default 0.995 where no spec names the outlet),
        ``draw_section`` ("scrub" or "extraction"), ``optimum`` ("simple" or
        "precise"), ``calibrate`` (False: closed form only), ``max_stage_rounds``.

    Returns
    -------
    rexopt.design.DesignResult
        ``theory`` (extraction amount S and scrub amount W [mol per mol feed RE],
        extraction ratios, ideal stage numbers), ``theory_case`` and ``case``
        (cascade case dicts for :func:`simulate`), ``checks`` (per spec: target,
        theory, kernel at the closed form, kernel at the design, met), ``met``,
        ``notes`` (everything assumed or not honoured, in words) and ``result``
        (the kernel's CascadeResult of the design, with its warnings).
    """
    from rexopt.design import design_case

    return design_case(case, specs, **kw)


# --------------------------------------------------------------------- optimize
def optimize(case, **kw):
    """Cheapest cascade (stages, flows) meeting purity and recovery specs.

    Parameters
    ----------
    case : str, Path, dict or rexopt.case.CascadeCase
        A cascade case with an ``[optimize]`` table (specs, decision ranges,
        costs; see docs/optimize.md).
    **kw
        Passed to :func:`rexopt.design.optimize.optimize`: ``opt`` (an optimize
        table overriding the case's), ``eps_stages`` (at most this many stages in
        total), ``verify_design`` (re-simulate the optimum, default True).

    Returns
    -------
    rexopt.design.optimize.OptimizeResult
        ``status`` ("optimal" when proven over the searched ranges, "limit" or
        "infeasible" with the binding specs), the chosen design with its cost
        [USD/y] and the kernel re-simulation of it.
    """
    from rexopt.design.optimize import optimize as _optimize

    return _optimize(case, **kw)


# ------------------------------------------------------------------------ sweep
def _sweep(sweep, out=None, **kw):
    """Run (or resume) a sweep and return the scenario table.

    Called as ``rexopt.sweep(sweep_file, out)``.

    Parameters
    ----------
    sweep : str, Path, dict or rexopt.sweep.Sweep
        A sweep file (docs/sweeps.md), its content as a dict, or a loaded sweep.
    out : str or Path, optional
        The HDF5 store; default the sweep's ``out``.  An existing store of the same
        sweep is resumed (only scenarios not yet done are computed).
    **kw
        Passed to :func:`rexopt.sweep.run_sweep` (``executor``, ``workers``,
        ``overwrite``, ``progress``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: the varied parameters and the outputs (units in
        the column names), with each scenario's status; the run's
        :class:`rexopt.sweep.SweepSummary` is in ``df.attrs["summary"]``.
    """
    from pathlib import Path

    from rexopt.sweep import Sweep, load_sweep, read_results, run_sweep, sweep_from_dict

    if isinstance(sweep, Sweep):
        sw = sweep
    elif isinstance(sweep, dict):
        sw = sweep_from_dict(sweep)
    else:
        sw = load_sweep(sweep)
    kw.setdefault("progress", False)
    summary = run_sweep(sw, out, **kw)
    path = Path(out) if out is not None else Path(summary.out)
    df = read_results(path)
    df.attrs["summary"] = summary
    return df


# -------------------------------------------------------------------------- fit
def _fit(data, model: str = "empirical_ph", **kw):
    """Fit equilibrium parameters to laboratory batch tests.

    Called as ``rexopt.fit(data, model)``; see :func:`rexopt.fit.fit` and
    docs/fit.md.

    Parameters
    ----------
    data : str, Path, FitData or list of dict
        Batch tests: feed composition, organic, O/A, measured phases (units in
        the column headers).
    model : {"empirical_ph", "mass_action", "saturated", "constant"}
    **kw
        ``fix``, ``free``, ``bounds``, ``space`` ("log_D" or "conc"),
        ``bootstrap``, ...

    Returns
    -------
    rexopt.fit.FitResult
        Parameters with standard errors and 95 % intervals, residuals, and a data
        file writer.
    """
    from rexopt.fit import fit as _f

    return _f(data, model, **kw)


# ----------------------------------------------- callable subpackages (lazy)
_CALLS = {"rexopt.design": _design, "rexopt.sweep": _sweep, "rexopt.fit": _fit}


class _CallablePackage(_types.ModuleType):
    """A subpackage that is also the function of the same name in the API."""

    def __call__(self, *args, **kwargs):
        return _CALLS[self.__name__](*args, **kwargs)


class _CallableFinder(_abc.MetaPathFinder):
    """Makes ``rexopt.design``, ``rexopt.sweep`` and ``rexopt.fit`` callable when
    they are first imported, however they are imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _CALLS:
            return None
        spec = _machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def _exec(module, _exec_module=exec_module):
            module.__class__ = _CallablePackage
            _exec_module(module)

        spec.loader.exec_module = _exec
        return spec


if not any(isinstance(f, _CallableFinder) for f in _sys.meta_path):
    _sys.meta_path.insert(0, _CallableFinder())
for _name in _CALLS:  # already imported (e.g. on a reload of rexopt)
    if _name in _sys.modules:
        _sys.modules[_name].__class__ = _CallablePackage


def __getattr__(name: str):
    if name in ("design", "sweep", "fit"):
        return _importlib.import_module(f"rexopt.{name}")
    raise AttributeError(f"module 'rexopt' has no attribute {name!r}")


def __dir__():
    return sorted({n for n in globals() if not n.startswith("_")} | set(__all__))


__all__ = ["__version__", "design", "fit", "optimize", "simulate", "sweep"]
