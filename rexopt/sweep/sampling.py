"""Scenario tables from a sweep spec: grids, lists, LHS / Sobol / random samples.

Sampled parameters draw a point ``u`` in the unit hypercube (Latin hypercube,
scrambled Sobol or plain random, with the sweep's seed) and map each coordinate
through the inverse CDF of its distribution, so every distribution works with
every method.

References
----------
McKay, Beckman, Conover (1979), "A comparison of three methods for selecting values
of input variables in the analysis of output from a computer code",
Technometrics 21(2), 239-245.
Sobol' (1967), "On the distribution of points in a cube and the approximate
evaluation of integrals", USSR Comput. Math. Math. Phys. 7(4), 86-112.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.stats import qmc

from rexopt.sweep.spec import (
    MAX_SCENARIOS,
    LogNormal,
    LogUniform,
    Normal,
    Parameter,
    SweepSpec,
    Triangular,
    TruncNormal,
    Uniform,
)

__all__ = ["ScenarioTable", "build_table", "unit_samples", "ppf"]


@dataclass
class ScenarioTable:
    """Inputs of every scenario: one column per parameter.

    Numeric columns are float64 (ints and bools stored as floats); string columns
    are object arrays of ``str``.
    """

    names: list[str]
    paths: list[str]
    types: list[str]
    columns: list[np.ndarray]

    @property
    def n(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def row(self, i: int) -> tuple:
        return tuple(c[i] for c in self.columns)

    def rows(self, idx) -> list[tuple]:
        cols = [c[idx] for c in self.columns]
        return list(zip(*cols, strict=True))


def _fixed_values(p: Parameter) -> list:
    if p.values is not None:
        vals = list(p.values)
    else:
        g = p.grid
        fn = np.geomspace if g.log else np.linspace
        vals = list(fn(g.start, g.stop, g.num))
    if p.integer and p.value_type != "str":
        vals = [float(np.rint(float(v))) for v in vals]
    return vals


def unit_samples(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points in [0, 1)^d by ``method`` (random | lhs | sobol)."""
    if d == 0:
        return np.empty((n, 0))
    if method == "random":
        return np.random.default_rng(seed).random((n, d))
    if method == "lhs":
        return qmc.LatinHypercube(d=d, seed=seed).random(n)
    if method == "sobol":
        return qmc.Sobol(d=d, scramble=True, seed=seed).random(n)
    raise ValueError(f"unknown sampling method {method!r}")


def ppf(p: Parameter, u: np.ndarray) -> np.ndarray:
    """Map uniform ``u`` to the parameter's distribution (inverse CDF)."""
    if p.range is not None:
        lo, hi = p.range
        if p.log:
            return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        return lo + u * (hi - lo)
    d = p.distribution
    if isinstance(d, Uniform):
        return d.lo + u * (d.hi - d.lo)
    if isinstance(d, LogUniform):
        return np.exp(np.log(d.lo) + u * (np.log(d.hi) - np.log(d.lo)))
    if isinstance(d, Normal):
        return stats.norm.ppf(u, loc=d.mean, scale=d.std)
    if isinstance(d, TruncNormal):
        a, b = (d.lo - d.mean) / d.std, (d.hi - d.mean) / d.std
        return stats.truncnorm.ppf(u, a, b, loc=d.mean, scale=d.std)
    if isinstance(d, LogNormal):
        return stats.lognorm.ppf(u, s=d.sigma, scale=d.median)
    if isinstance(d, Triangular):
        c = (d.mode - d.lo) / (d.hi - d.lo)
        return stats.triang.ppf(u, c, loc=d.lo, scale=d.hi - d.lo)
    raise ValueError(f"parameter {p.column!r} has no range or distribution")


def build_table(
    spec: SweepSpec, base_types: Sequence[str | None] | None = None
) -> ScenarioTable:
    """All scenarios of ``spec``: fixed combinations (outer) x samples (inner).

    ``base_types`` (one per parameter, from the base case's value at its path:
    ``"int"``, ``"float"`` ... or None) gives a ``values``/``grid`` parameter the
    base case's number type: mixed ``[20, 25.0]`` or a grid whose points are all
    whole numbers are written as ints where the base case holds an int, and
    ``[2000, 2500]`` as floats where it holds a float (unless ``integer = true``).
    """
    params = spec.parameters
    types = [p.value_type for p in params]
    fixed = [p for p in params if not p.sampled]
    sampled = [p for p in params if p.sampled]

    fixed_rows: list[tuple] = [()]
    if fixed:
        lists = [_fixed_values(p) for p in fixed]
        if base_types is not None:
            for p, vals in zip(fixed, lists, strict=True):
                k = params.index(p)
                if (
                    types[k] == "float"
                    and base_types[k] == "int"
                    and all(float(v).is_integer() for v in vals)
                ):
                    types[k] = "int"
                elif types[k] == "int" and base_types[k] == "float" and not p.integer:
                    types[k] = "float"  # [2000, 2500] for a flow: floats
        if spec.sampling.combine == "zip":
            fixed_rows = list(zip(*lists, strict=True))
        else:
            fixed_rows = list(itertools.product(*lists))

    if sampled:
        s = spec.sampling
        u = unit_samples(s.method, s.n, len(sampled), s.seed)
        samp = np.column_stack([ppf(p, u[:, k]) for k, p in enumerate(sampled)])
        for k, p in enumerate(sampled):
            if p.integer:
                samp[:, k] = np.rint(samp[:, k])
    else:
        samp = np.empty((1, 0))

    nf, ns = len(fixed_rows), samp.shape[0]
    n = nf * ns
    if n > MAX_SCENARIOS:  # the schema refuses this before; kept for direct callers
        raise ValueError(
            f"the sweep has {n:,} scenarios; at most {MAX_SCENARIOS:,} are allowed"
        )
    columns: dict[str, np.ndarray] = {}
    for k, p in enumerate(fixed):
        vals = [r[k] for r in fixed_rows]
        if p.value_type == "str":
            col = np.array(vals, dtype=object)
        else:
            col = np.asarray(vals, dtype=np.float64)
        columns[p.column] = np.repeat(col, ns)
    for k, p in enumerate(sampled):
        columns[p.column] = np.tile(samp[:, k], nf)
    return ScenarioTable(
        names=[p.column for p in params],
        paths=[p.path for p in params],
        types=types,
        columns=[columns[p.column] for p in params],
    )
