"""Weighted least-squares fit of equilibrium parameters to batch tests.

:func:`fit` solves every batch test as a one-stage cascade through the kernel
(:mod:`rexopt.fit.batch`) and adjusts the free parameters with
``scipy.optimize.least_squares`` (trust-region reflective, bounds honoured).
Standard errors come from the Jacobian at the solution, ``cov = s^2 (J^T J)^-1``
with ``s^2`` the residual variance (weights are relative; their scale is
estimated from the data), intervals from Student's t with n - p degrees of freedom;
bootstrap intervals (tests resampled with replacement) on request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import least_squares

from rexopt.fit.batch import (
    DEFAULT_BOUNDS,
    DEFAULT_FREE,
    KINDS,
    MEANING,
    BatchModel,
    FitError,
    FitIdentifiabilityError,
    default_value,
)
from rexopt.fit.data import FitData, read_fit_data

SPACES = ("log_D", "conc")
PH_SPREAD_MIN = 0.05  # [pH units] below this a pH slope is not identifiable
LOGF_SPREAD_MIN = 0.02  # [log10 units] same for a free-extractant exponent
COND_MAX = 1e8  # column-scaled Jacobian condition number beyond which = singular
FD_STEP = 1e-5  # central-difference step of the Jacobian [parameter units]


@dataclass
class Param:
    element: str
    kind: str
    value: float
    free: bool
    lo: float
    hi: float
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    at_bound: bool = False

    @property
    def name(self) -> str:
        return f"{self.element}.{self.kind}"


@dataclass
class FitResult:
    """Fitted parameters, their uncertainty and the fit's residuals."""

    model: str
    space: str
    medium: str
    data: FitData
    params: list[Param]
    cov: np.ndarray  # covariance of the free parameters (order of free_names)
    free_names: list[str]
    n_obs: int
    dof: int
    s2: float  # residual variance (in fit-space units squared)
    residuals: pd.DataFrame  # one row per observation used
    r2: dict[str, float]  # per element, in the fit space
    rmse: dict[str, float]  # per element, in the fit space
    optimizer: dict
    notes: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    bootstrap: dict | None = None
    _bm: BatchModel | None = None

    # ----------------------------------------------------------------- access
    def value(self, el: str, kind: str) -> float:
        return self.param(el, kind).value

    def param(self, el: str, kind: str) -> Param:
        for p in self.params:
            if p.element == el and p.kind == kind:
                return p
        raise KeyError(f"{el}.{kind}")

    @property
    def corr(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.cov / np.outer(sd, sd)

    @property
    def elements(self) -> list[str]:
        return list(self.data.elements)

    def table(self) -> pd.DataFrame:
        """Parameters with standard errors and 95 % intervals."""
        rows = []
        for p in self.params:
            row = {
                "parameter": p.name,
                "meaning": MEANING[p.kind],
                "value": p.value,
                "fitted": p.free,
                "std_error": p.se if p.free else math.nan,
                "ci95_low": p.ci_low if p.free else math.nan,
                "ci95_high": p.ci_high if p.free else math.nan,
                "at_bound": p.at_bound,
            }
            if self.bootstrap:
                lo, hi = self.bootstrap["ci95"].get(p.name, (math.nan, math.nan))
                row["boot_ci95_low"], row["boot_ci95_high"] = lo, hi
            rows.append(row)
        return pd.DataFrame(rows)

    def predict(self, values: dict | None = None):
        """Kernel solution of every test at the fitted (or given) values."""
        vals = {(p.element, p.kind): p.value for p in self.params}
        vals.update(values or {})
        return self._bm.solve(vals)

    def log10_D(self, el: str, *, pH: float | None, F_mol_L: float | None):
        """log10 D of ``el`` at a stated condition and its standard error (delta
        method over the free parameters; exact here: at a fixed pH and free
        extractant log10 D is linear in every parameter but nu, which it omits).

        Returns (log10 D, gradient over the free parameters)."""
        g = np.zeros(len(self.free_names))
        v = {k: self.value(el, k) for k in KINDS[self.model]}

        def put(kind, coef):
            name = f"{el}.{kind}"
            if name in self.free_names:
                g[self.free_names.index(name)] += coef

        m = self.model
        if m == "constant":
            val = v["log10_D"]
            put("log10_D", 1.0)
        elif m == "saturated":
            lf = math.log10(F_mol_L)
            val = v["log10_K"] + lf
            put("log10_K", 1.0)
        elif m == "empirical_ph":
            F_mol_L = 0.0 if F_mol_L is None else F_mol_L
            lf = math.log10(F_mol_L) if F_mol_L > 0 else 0.0
            val = (v["a"] + v["b"] * F_mol_L) * pH + v["c"] + v["d"] * lf
            put("a", pH)
            put("b", F_mol_L * pH)
            put("c", 1.0)
            put("d", lf)
        else:  # mass action: log10 D = log10 K + m pH + n log10 F
            lf = math.log10(F_mol_L)
            val = v["log10_K"] + v["m"] * pH + v["n"] * lf
            put("log10_K", 1.0)
            put("m", pH)
            put("n", lf)
        return val, g

    def _free_kinds(self) -> set[str]:
        return {p.kind for p in self.params if p.free}

    def separation_factors(
        self,
        *,
        pH: float | None = None,
        F_mol_L: float | None = None,
        reference: str | None = None,
    ) -> pd.DataFrame:
        """Separation factors beta = D_i / D_ref at a stated condition with 95 %
        intervals (delta method on log10 beta, t quantile of the fit).

        pH models need ``pH`` (and ``F_mol_L``, the free extractant, when the
        fitted law has an extractant term); the saturated model's beta are the
        ratios of the extraction constants and need no condition.
        """
        els = self.elements
        if self.model in ("empirical_ph", "mass_action") and pH is None:
            raise FitError(
                f"separation factors of the {self.model} model need a reference pH "
                f"(--ref-ph)"
            )
        needs_F = self.model == "mass_action" or (
            self.model == "empirical_ph"
            and any(
                (p.kind in ("b", "d")) and (p.free or p.value != 0) for p in self.params
            )
        )
        if needs_F and F_mol_L is None:
            raise FitError(
                "separation factors of this fit need the free extractant of the "
                "reference condition, F_mol_L (--ref-free-extractant): its law has "
                "an extractant term"
            )
        if self.model == "saturated":
            F_mol_L = 1.0  # cancels in the ratio
        vals = {e: self.log10_D(e, pH=pH, F_mol_L=F_mol_L) for e in els}
        ref = reference or min(els, key=lambda e: vals[e][0])
        if ref not in vals:
            raise FitError(f"reference: {ref!r} -- one of {', '.join(els)}")
        tq = stats.t.ppf(0.975, max(self.dof, 1))
        rows = []
        for e in els:
            lb = vals[e][0] - vals[ref][0]
            g = vals[e][1] - vals[ref][1]
            se = float(math.sqrt(max(g @ self.cov @ g, 0.0))) if len(g) else 0.0
            rows.append(
                {
                    "element": e,
                    "reference": ref,
                    "beta": 10.0**lb,
                    "ci95_low": 10.0 ** (lb - tq * se),
                    "ci95_high": 10.0 ** (lb + tq * se),
                    "log10_beta_se": se,
                    "pH": pH,
                    "F_mol_L": F_mol_L if needs_F else None,
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Plain-text report of the fit."""
        out = [
            f"rexopt fit: model {self.model}, fitted on {self.space}, "
            f"{len(self.data.tests)} tests from {self.data.source}",
            f"observations {self.n_obs}, free parameters {len(self.free_names)}, "
            f"degrees of freedom {self.dof}, residual s.d. {math.sqrt(self.s2):.4g}",
            f"optimizer: {self.optimizer['message']} ({self.optimizer['nfev']} "
            f"evaluations of every test)",
        ]
        t = self.table()
        out.append(t.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
        out.append("R2 / RMSE per element (fit space): " + ", ".join(
            f"{e} {self.r2[e]:.4f} / {self.rmse[e]:.3g}" for e in self.elements
        ))  # fmt: skip
        for n in self.notes + [f"excluded: {x}" for x in self.excluded]:
            out.append(f"note: {n}")
        return "\n".join(out)


# ------------------------------------------------------------------ parameters
_FIX_RE = re.compile(r"^(?:([A-Z][a-z]?|NH4)\.)?([A-Za-z0-9_]+)(?:=(.+))?$")


def _parse_spec(text: str, what: str) -> list[tuple[str | None, str, str | None]]:
    out = []
    for part in [p.strip() for p in re.split(r"[,;]", text) if p.strip()]:
        m = _FIX_RE.match(part.replace(" ", ""))
        if not m:
            raise FitError(
                f"{what}: {part!r} -- KIND, ELEMENT.KIND, KIND=VALUE or "
                f"ELEMENT.KIND=VALUE (e.g. d=0, La.a=0.5)"
            )
        out.append(m.groups())
    return out


def build_params(
    model: str,
    elements: list[str],
    *,
    fix=None,
    free=None,
    bounds=None,
    start: dict | None = None,
) -> list[Param]:
    """Parameter list of a model: defaults, then ``free``, then ``fix``.

    ``fix`` / ``free``: a string "d=0, La.a=0.5" or "b,d", or a dict
    {"d": 0.0, "La.a": 0.5} / list ["b", "d"].  ``bounds``: {"a": (0, 5),
    "La.c": (-3, 0)}.
    """
    kinds = KINDS[model]
    ps = [
        Param(
            el,
            k,
            default_value(model, el, k),
            k in DEFAULT_FREE[model],
            *DEFAULT_BOUNDS[k],
        )
        for el in elements
        for k in kinds
    ]

    def norm(spec, what):
        if spec is None:
            return []
        if isinstance(spec, str):
            return _parse_spec(spec, what)
        if isinstance(spec, dict):
            spec = [f"{k}={v}" for k, v in spec.items()]
        return [g for s in spec for g in _parse_spec(str(s), what)]

    def select(el, kind, what):
        if kind not in kinds:
            raise FitError(
                f"{what}: {kind!r} -- a parameter of the {model} model "
                f"({', '.join(kinds)})"
            )
        if el is not None and el not in elements:
            raise FitError(
                f"{what}: {el!r} -- an element of the data ({', '.join(elements)})"
            )
        return [p for p in ps if p.kind == kind and (el is None or p.element == el)]

    for el, kind, val in norm(free, "free"):
        if val is not None:
            raise FitError(f"free: {el or ''}.{kind}={val} -- free takes no value")
        for p in select(el, kind, "free"):
            p.free = True
    for el, kind, val in norm(fix, "fix"):
        for p in select(el, kind, "fix"):
            p.free = False
            if val is not None:
                try:
                    p.value = float(val)
                except ValueError:
                    raise FitError(f"fix: {p.name}={val} -- a number") from None
    for key, (lo, hi) in (bounds or {}).items():
        el, kind = key.split(".") if "." in key else (None, key)
        if not lo < hi:
            raise FitError(f"bounds: {key} = ({lo}, {hi}) -- lower < upper")
        for p in select(el, kind, "bounds"):
            p.lo, p.hi = float(lo), float(hi)
    for p in ps:
        if start and p.name in start and p.free:
            p.value = float(start[p.name])
        if not p.lo <= p.value <= p.hi:
            if p.free:
                p.value = min(max(p.value, p.lo), p.hi)
            else:
                raise FitError(
                    f"fix: {p.name} = {p.value:g} -- inside its bounds [{p.lo:g}, {p.hi:g}]"
                )
    return ps


# ------------------------------------------------------------------ residuals
def _observations(data: FitData, space: str):
    """(test, element, phase) triples of the fit and the data points left out."""
    obs, excluded = [], []
    for k, t in enumerate(data.tests):
        for el in data.elements:
            if el not in t.aq and el not in t.org:
                continue
            if space == "log_D":
                if t.measured_D(el) is None:
                    excluded.append(
                        f"test {t.label} (row {t.row}), {el}: the measured phases "
                        f"leave no positive amount in one phase, so log D is "
                        f"undefined (point not used)"
                    )
                    continue
                obs.append((k, el, "D"))
            else:
                for ph in ("aq", "org"):
                    if el in getattr(t, ph):
                        obs.append((k, el, ph))
    return obs, excluded


def _measured(t, el, what):
    if what == "D":
        return math.log10(t.measured_D(el))
    return t.aq[el] if what == "aq" else t.org[el]


def _scale(t, el, what):
    """Residual divisor: 1 on log10 D; on concentrations the element's amount in
    the test expressed in that phase (residuals are fractions of the element)."""
    if what == "D":
        return 1.0
    tot = t.total(el)
    return tot if what == "aq" else tot / t.O_A


class _Problem:
    def __init__(self, bm: BatchModel, params: list[Param], space: str):
        self.bm = bm
        self.params = params
        self.space = space
        self.free = [p for p in params if p.free]
        self.obs, self.excluded = _observations(bm.data, space)
        t = bm.data.tests
        self.meas = np.array([_measured(t[k], e, w) for k, e, w in self.obs])
        self.scale = np.array([_scale(t[k], e, w) for k, e, w in self.obs])
        self.sw = np.array([math.sqrt(t[k].weight) for k, _, _ in self.obs])
        self.failed_evals = 0
        self.last = None
        self.last_failed = ""  # label of the last test without a steady state

    def values(self, theta) -> dict:
        v = {(p.element, p.kind): p.value for p in self.params}
        for p, th in zip(self.free, theta):
            v[(p.element, p.kind)] = float(th)
        return v

    def predict(self, theta):
        sol = self.bm.solve(self.values(theta))
        pred = np.empty(len(self.obs))
        for k, s in enumerate(sol):
            if s is None:
                t = self.bm.data.tests[k]
                self.last_failed = f"test {t.label} (row {t.row})"
                return None, sol
        for n, (k, el, what) in enumerate(self.obs):
            s = sol[k]
            if what == "D":
                pred[n] = math.log10(max(s.y[el], 1e-300) / max(s.x[el], 1e-300))
            else:
                pred[n] = s.x[el] if what == "aq" else s.y[el]
        return pred, sol

    def resid(self, theta):
        pred, sol = self.predict(theta)
        if pred is None:
            # a parameter vector where some test has no steady state: a large
            # finite residual steers the trust region back (counted, reported)
            self.failed_evals += 1
            return np.full(len(self.obs), 1e3)
        self.last = (pred, sol)
        return (pred - self.meas) / self.scale * self.sw

    def jacobian(self, theta):
        J = np.empty((len(self.obs), len(theta)))
        for j in range(len(theta)):
            tp, tm = np.array(theta, float), np.array(theta, float)
            h = FD_STEP * max(1.0, abs(theta[j]))
            tp[j] += h
            tm[j] -= h
            rp, rm = self.resid(tp), self.resid(tm)
            J[:, j] = (rp - rm) / (2 * h)
        return J


def _start_values(bm: BatchModel, params: list[Param], data: FitData) -> None:
    """Starting values from the measured D by linear regression where the data
    allow it (measured pH and the stated extractant), else the bundled defaults."""
    for el in data.elements:
        pts = [
            (math.log10(t.measured_D(el)), t)
            for t in data.tests
            if t.measured_D(el) is not None
        ]
        if not pts:
            continue
        lD = np.array([p[0] for p in pts])
        byk = {p.kind: p for p in params if p.element == el}
        if bm.model == "constant":
            if byk["log10_D"].free:
                byk["log10_D"].value = float(np.median(lD))
        elif bm.model == "saturated" and byk["log10_K"].free:
            F = np.array([t.saponification * t.extractant_mol_L / 6.0 for _, t in pts])
            byk["log10_K"].value = float(np.median(lD - np.log10(F)))
        elif bm.model != "saturated":
            pH = np.array([np.nan if t.eq_pH is None else t.eq_pH for _, t in pts])
            slope = byk["a" if bm.model == "empirical_ph" else "m"]
            icpt = byk["c" if bm.model == "empirical_ph" else "log10_K"]
            ok = np.isfinite(pH)
            lF = np.array([math.log10(t.extractant_mol_L / 2.0) for _, t in pts])
            off = 0.0 if bm.model == "empirical_ph" else byk["n"].value * lF
            if slope.free and ok.sum() >= 2 and np.ptp(pH[ok]) > PH_SPREAD_MIN:
                A = np.column_stack([pH[ok], np.ones(ok.sum())])
                sl, ic = np.linalg.lstsq(A, (lD - off)[ok], rcond=None)[0]
                slope.value, icpt.value = float(sl), float(np.mean(ic))
            elif ok.any() and icpt.free:
                icpt.value = float(np.median((lD - off - slope.value * pH)[ok]))
        for p in byk.values():
            p.value = min(max(p.value, p.lo), p.hi)


def _check_counts(problem: _Problem, data: FitData) -> None:
    per_el: dict[str, int] = {}
    for _, el, _ in problem.obs:
        per_el[el] = per_el.get(el, 0) + 1
    msgs = []
    for el in data.elements:
        nfree = [p.kind for p in problem.free if p.element == el]
        if per_el.get(el, 0) == 0:
            msgs.append(
                f"{el}: no usable measured phase in any test (aq_{el}_* / "
                f"org_{el}_* empty), so {', '.join(f'{el}.{k}' for k in nfree) or 'nothing'}"
                f" cannot be identified"
            )
        elif per_el[el] < len(nfree):
            msgs.append(
                f"{el}: {per_el[el]} usable measurement(s) for {len(nfree)} free "
                f"parameters ({', '.join(nfree)}): they cannot all be identified"
            )
    if msgs:
        raise FitIdentifiabilityError(
            f"{data.source}: " + f"\n{data.source}: ".join(msgs)
        )


def _check_identifiable(problem: _Problem, theta, J, sol, data: FitData) -> None:
    """Name the parameters the data cannot identify (spread rules, then rank)."""
    bm = problem.bm
    msgs = []
    per_el_tests: dict[str, list[int]] = {}
    for k, el, _ in problem.obs:
        per_el_tests.setdefault(el, [])
        if k not in per_el_tests[el]:
            per_el_tests[el].append(k)
    ph_kind = {"empirical_ph": ("a", "b"), "mass_action": ("m",)}.get(bm.model, ())
    f_kind = {"empirical_ph": ("d", "b"), "mass_action": ("n",)}.get(bm.model, ())
    for el, ks in per_el_tests.items():
        free = {p.kind for p in problem.free if p.element == el}
        if free & set(ph_kind):
            pHs = np.array([sol[k].pH for k in ks])
            if np.ptp(pHs) < PH_SPREAD_MIN:
                names = ", ".join(f"{el}.{k}" for k in sorted(free & set(ph_kind)))
                msgs.append(
                    f"{names} (pH dependence) cannot be identified: every test with "
                    f"{el} is at equilibrium pH {pHs.min():.3f}-{pHs.max():.3f} "
                    f"(spread {np.ptp(pHs):.3f} < {PH_SPREAD_MIN}); add tests at other "
                    f"acidities or fix it (--fix {el}.{sorted(free & set(ph_kind))[0]}=VALUE)"
                )
        if free & set(f_kind):
            lF = np.log10([max(sol[k].F, 1e-300) for k in ks])
            if np.ptp(lF) < LOGF_SPREAD_MIN:
                names = ", ".join(f"{el}.{k}" for k in sorted(free & set(f_kind)))
                msgs.append(
                    f"{names} (free-extractant dependence) cannot be identified: the "
                    f"free extractant of every test with {el} is "
                    f"{10 ** lF.min():.4g}-{10 ** lF.max():.4g} mol/L; vary the "
                    f"extractant concentration or fix it"
                )
    if not msgs and J.shape[1]:
        norms = np.linalg.norm(J, axis=0)
        zero = [problem.free[j].name for j in range(J.shape[1]) if norms[j] == 0]
        if zero:
            msgs.append(
                f"{', '.join(zero)}: no measured quantity depends on "
                f"{'it' if len(zero) == 1 else 'them'}; fix {'it' if len(zero) == 1 else 'them'}"
            )
        else:
            Js = J / norms
            _, s, vt = np.linalg.svd(Js, full_matrices=False)
            if s[-1] <= s[0] / COND_MAX:
                bad = [
                    problem.free[j].name
                    for j in range(J.shape[1])
                    if any(
                        abs(vt[q, j]) > 0.1
                        for q in range(len(s))
                        if s[q] <= s[0] / COND_MAX
                    )
                ]
                msgs.append(
                    f"{', '.join(bad)} cannot be identified separately from these data "
                    f"(Jacobian condition number {s[0] / s[-1]:.3g}): only a "
                    f"combination of them is determined; fix some of them"
                )
    if msgs:
        raise FitIdentifiabilityError(
            f"{data.source}: " + f"\n{data.source}: ".join(msgs)
        )


def _all_D_equal(problem: _Problem, data: FitData, model: str) -> None:
    if model == "constant":
        return
    lD = [math.log10(t.measured_D(el)) for t in data.tests for el in data.elements
          if t.measured_D(el) is not None]  # fmt: skip
    if len(lD) >= 2 and np.ptp(lD) < 1e-9:
        dep = [p.name for p in problem.free if p.kind not in ("c", "log10_K")]
        raise FitIdentifiabilityError(
            f"{data.source}: every measured D is {10 ** lD[0]:.6g} (all "
            f"{len(lD)} values, every element and test, equal within 1e-9 in log10): the data "
            f"show no difference between elements and no effect of the test "
            f"conditions, so the separation factors"
            + (f" and {', '.join(dep)}" if dep else "")
            + " cannot be identified from them (measured ratios identical to the "
            "last digit usually mean a copied or computed column); if D really is "
            "constant, fit --model constant"
        )


def fit(
    data,
    model: str = "empirical_ph",
    *,
    fix=None,
    free=None,
    bounds=None,
    space: str = "log_D",
    medium: str = "chloride",
    agent: str | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    start: dict | None = None,
    kernel=None,
) -> FitResult:
    """Fit a distribution model to batch tests.

    Parameters
    ----------
    data : path, FitData or list of row dicts
        Batch tests (see docs/fit.md for the columns).
    model : {"constant", "saturated", "empirical_ph", "mass_action"}
    fix, free : str, dict or list
        Parameters to hold ("d=0, La.a=0.5") or to release from their default
        hold ("b,d"); see :func:`build_params`.
    bounds : dict
        {"a": (lo, hi), "La.c": (lo, hi)}.
    space : {"log_D", "conc"}
        Residuals on log10 D (default) or on the measured concentrations (as
        fractions of the element's amount in the test).
    bootstrap : int
        Number of bootstrap refits (tests resampled with replacement); 0 = none.
    kernel : callable, optional
        Cascade kernel (default: the active one; tests pass the compiled or the
        pure twin).

    Raises
    ------
    FitDataError, FitIdentifiabilityError, FitError
    """
    from rexopt.fit.batch import MODELS

    if model not in MODELS:
        raise FitError(f"model: {model!r} -- one of {', '.join(MODELS)}")
    if space not in SPACES:
        raise FitError(f"space: {space!r} -- one of {', '.join(SPACES)}")
    if medium not in ("chloride", "sulfate"):
        raise FitError(f"medium: {medium!r} -- chloride or sulfate")
    if not isinstance(data, FitData):
        data = read_fit_data(data, agent=agent)
    if medium == "sulfate" and data.acid_from_pH:
        raise FitError(
            f"{data.source}: feed_pH: in sulfate media the free acid is not 10^-pH "
            f"(HSO4- buffers it) -- give feed_acid_mol_L instead"
        )
    bm = BatchModel(data, model, medium, kernel)
    params = build_params(model, data.elements, fix=fix, free=free, bounds=bounds)
    _start_values(bm, params, data)
    if start:
        for p in params:
            if p.free and p.name in start:
                p.value = float(start[p.name])
    prob = _Problem(bm, params, space)
    bm.force_F = any(p.free and p.kind in ("b", "d") for p in params)
    if not prob.free:
        raise FitError("every parameter is fixed: nothing to fit")
    _check_counts(prob, data)
    _all_D_equal(prob, data, model)
    theta0 = np.array([p.value for p in prob.free])
    lo = np.array([p.lo for p in prob.free])
    hi = np.array([p.hi for p in prob.free])
    prob.resid(theta0)
    if prob.failed_evals:
        raise FitError(
            f"{data.source}: the kernel finds no steady state for "
            f"{prob.last_failed} at the starting parameters "
            f"({', '.join(f'{q.name}={q.value:.4g}' for q in prob.free)}); give "
            f"starting values (start=...), bounds, or check that row"
        )
    res = least_squares(
        prob.resid, theta0, bounds=(lo, hi), method="trf", x_scale="jac",
        xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=2000,
    )  # fmt: skip
    theta = res.x
    failed = prob.failed_evals
    r = prob.resid(theta)
    if prob.failed_evals > failed:
        raise FitError(
            f"{data.source}: the fit ended where {prob.last_failed} has no steady state"
        )
    pred, sol = prob.last
    failed = prob.failed_evals
    J = prob.jacobian(theta)
    if prob.failed_evals > failed:
        raise FitError(
            f"{data.source}: the Jacobian at the optimum could not be evaluated: "
            f"{prob.last_failed} has no steady state a step of {FD_STEP:g} away"
        )
    prob.resid(theta)  # restore warm starts at the solution
    _check_identifiable(prob, theta, J, sol, data)
    n, p = len(r), len(theta)
    dof = n - p
    notes = list(data.notes)
    ssr = float(r @ r)
    if dof <= 0:
        raise FitIdentifiabilityError(
            f"{data.source}: {n} observations for {p} free parameters: no degrees of "
            f"freedom left to estimate the uncertainty; fix parameters or add tests"
        )
    s2 = ssr / dof
    JtJ = J.T @ J
    cov = s2 * np.linalg.inv(JtJ)
    tq = stats.t.ppf(0.975, dof)
    for k, prm in enumerate(prob.free):
        prm.value = float(theta[k])
        prm.se = float(math.sqrt(max(cov[k, k], 0.0)))
        prm.ci_low, prm.ci_high = prm.value - tq * prm.se, prm.value + tq * prm.se
        span = prm.hi - prm.lo
        prm.at_bound = min(prm.value - prm.lo, prm.hi - prm.value) <= 1e-6 * span
        if prm.at_bound:
            notes.append(
                f"{prm.name} = {prm.value:.6g} is at its bound [{prm.lo:g}, {prm.hi:g}]: "
                f"its standard error and interval assume a free optimum and are not "
                f"valid"
            )
    if prob.failed_evals:
        notes.append(
            f"{prob.failed_evals} trial parameter vector(s) of the search gave a test "
            f"with no steady state (rejected by the optimizer; the answer is converged)"
        )
    if res.status <= 0:
        raise FitError(f"{data.source}: least squares did not converge: {res.message}")
    for w in sorted({w for tb in bm._tests for w in tb["cascade"].warnings}):
        notes.append(w)
    if model in ("empirical_ph", "mass_action") and any(
        t.saponification > 0 for t in data.tests
    ):
        notes.append(
            "the saponification counter-ion keeps the simulator's default "
            "parameters (not fitted)"
        )
    # residual table
    rows = []
    for i, (k, el, what) in enumerate(prob.obs):
        t, s = data.tests[k], sol[k]
        Dm = t.measured_D(el)
        rows.append(
            {
                "test": t.label,
                "row": t.row,
                "element": el,
                "observed": {"D": "log10_D", "aq": "aq_mol_L", "org": "org_mol_L"}[
                    what
                ],
                "measured": prob.meas[i],
                "predicted": pred[i],
                "residual": pred[i] - prob.meas[i],
                "weighted_residual": r[i],
                "D_measured": Dm if Dm is not None else math.nan,
                "D_predicted": s.y[el] / s.x[el] if s.x[el] > 0 else math.inf,
                "aq_measured_mol_L": t.aq.get(el, math.nan),
                "aq_predicted_mol_L": s.x[el],
                "org_measured_mol_L": t.org.get(el, math.nan),
                "org_predicted_mol_L": s.y[el],
                "pH_measured": math.nan if t.eq_pH is None else t.eq_pH,
                "pH_predicted": math.nan if s.pH is None else s.pH,
                "free_extractant_mol_L": math.nan if s.F is None else s.F,
            }
        )
    resid = pd.DataFrame(rows)
    r2, rmse = {}, {}
    for el in data.elements:
        sub = resid[resid.element == el]
        if sub.empty:
            continue
        sst = float(((sub.measured - sub.measured.mean()) ** 2).sum())
        sse = float((sub.residual**2).sum())
        r2[el] = 1.0 - sse / sst if sst > 0 else math.nan
        rmse[el] = math.sqrt(sse / len(sub))
        if sst == 0:
            notes.append(f"{el}: every measured value is the same, R2 is undefined")
    if model in ("empirical_ph", "mass_action"):
        have = resid.dropna(subset=["pH_measured"])
        if not have.empty:
            d = (have.pH_predicted - have.pH_measured).abs()
            notes.append(
                f"equilibrium pH predicted by the proton balance vs measured: largest "
                f"difference {d.max():.3f}, mean {d.mean():.3f} (pH is not a fit "
                f"residual; a large gap means the feed acidity or saponification "
                f"columns do not match the tests)"
            )
    result = FitResult(
        model=model,
        space=space,
        medium=medium,
        data=data,
        params=params,
        cov=cov,
        free_names=[q.name for q in prob.free],
        n_obs=n,
        dof=dof,
        s2=s2,
        residuals=resid,
        r2=r2,
        rmse=rmse,
        optimizer={
            "message": res.message,
            "status": int(res.status),
            "nfev": int(res.nfev),
            "cost": float(res.cost),
        },
        notes=notes,
        excluded=prob.excluded,
        _bm=bm,
    )
    if bootstrap:
        result.bootstrap = _bootstrap(
            data, model, params, fix, free, bounds, space, medium, bootstrap, seed,
            kernel,
        )  # fmt: skip
        if result.bootstrap["failed"]:
            result.notes.append(
                f"bootstrap: {result.bootstrap['failed']} of {bootstrap} resamples "
                f"could not be fitted (not identifiable or no steady state) and are "
                f"left out of the bootstrap intervals"
            )
    return result


def _bootstrap(data, model, params, fix, free, bounds, space, medium, B, seed, kernel):
    rng = np.random.default_rng(seed)
    start = {p.name: p.value for p in params if p.free}
    draws = {name: [] for name in start}
    failed = 0
    n = len(data.tests)
    for _ in range(B):
        idx = rng.integers(0, n, n)
        tests = []
        for j, k in enumerate(idx):
            t = data.tests[k]
            tests.append(type(t)(**{**t.__dict__, "label": f"{t.label}#{j}"}))
        sub = FitData(data.source, tests, data.elements, data.units, [])
        try:
            r = fit(sub, model, fix=fix, free=free, bounds=bounds, space=space,
                    medium=medium, start=start, kernel=kernel)  # fmt: skip
        except FitError:
            failed += 1
            continue
        for name in draws:
            draws[name].append(r.value(*name.split(".")))
    ci = {
        name: tuple(np.percentile(v, [2.5, 97.5])) if v else (math.nan, math.nan)
        for name, v in draws.items()
    }
    return {"resamples": B, "failed": failed, "seed": seed, "ci95": ci}
