"""Cascade design optimization: integer stages + operating flows, chosen by HiGHS,
equilibrium supplied by the cascade kernel.

Mechanism (docs/optimize.md has the full story):

1. The case's ``[optimize]`` table (:class:`OptimizeSpec`) gives the specifications,
   stage ranges, flow bounds, saponification range and objective.
2. A *column* is one integer design: stages (extraction, scrub, strip) and a
   saponification level.  For a column the kernel finds, by bisection, the cheapest
   feasible operating point: the smallest reflux ``S`` (organic capacity per mol feed
   RE, on a fixed geometric grid) at which some cut ``P`` (organic product, mol/h;
   set by the scrub acid) meets every spec, and then the middle of the feasible cut
   interval.  Every objective term grows with S at fixed stages, so that point is
   the column's optimum.
3. The column choice is an LP over *all* columns of the ranges (one convexity row;
   epsilon constraints for Pareto fronts as column bounds).  Columns not yet
   simulated enter with a rigorous-under-assumptions lower bound on their cost:
   more stages never worsen the separation at fixed flows, so S*(t) >= S*(t') for
   every simulated t' >= t (component-wise), and t is infeasible if some simulated
   t' >= t is *proven* infeasible.  Each round takes the LP optimum (the cheapest
   available column, an argmin); if its cost was only a bound the kernel simulates
   it (or first tests it at the one reflux above which it cannot beat the
   incumbent: a proven miss there cuts it) and the choice repeats.  When the
   chosen column's cost is exact, no other
   column can be cheaper: optimal over the searched ranges (given the monotonicity
   assumption and the grid resolution of S); HiGHS then solves the same LP once and
   must agree.
4. A kernel point without a steady state is retried (other converged starts,
   continuation in (S, P)) and otherwise *unknown*: never a spec miss, never a
   pruning bound.  Columns it leaves unresolved enter with their lower bound; the
   result's certificate states the proven bound, the gap and what stayed unknown,
   and "optimal" only when nothing unknown can hide a cheaper design.
5. The chosen design is re-simulated by ``rexopt.simulate`` from a plain case dict
   and every spec is checked; a miss raises the column's reflux one grid step and
   the choice repeats (rounds are counted and reported).
"""

from __future__ import annotations

import dataclasses
import math
import time
import tomllib
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from rexopt import kernels
from rexopt.cascade import Cascade, CascadeError, solve_arrays
from rexopt.case import (
    CascadeCase,
    CaseError,
    Flow,
    load_case,
    read_case_source,
)
from rexopt.chemistry import element
from rexopt.design.costing import (
    CascadeCost,
    cascade_cost,
    load_costs,
    objective_terms_arrays,
    stage_inventory_mol,
)
from rexopt.design.specs import (
    ORGANIC_SIDE,
    improves_to_organic,
    is_end_outlet,
    spec_label,
    spec_value,
)
from rexopt.schema import StrictModel, quantity

SECTIONS = ("extraction", "scrub", "strip")
OBJECTIVES = ("reagent_cost", "stages", "annualized_cost", "mixer_volume", "weighted")
RETRY_SOLVES = 24  # kernel solves a continuation may spend on one failed point


class OptimizeError(ValueError):
    """An [optimize] table or case the optimizer cannot use; says where and why."""


# ------------------------------------------------------------------------ schema
class _Strict(StrictModel):
    """Strict base (rexopt.schema): no bool/str as numbers, finite, no unknown keys."""


class Spec(_Strict):
    """One product specification."""

    stream: str = Field(description="outlet: strip_liquor | raffinate | ...")
    component: str
    purity_min: float | None = Field(None, gt=0, lt=1, description="mole fraction [-]")
    recovery_min: float | None = Field(
        None, gt=0, lt=1, description="fraction of the component's input [-]"
    )

    @model_validator(mode="after")
    def _one(self):
        if (self.purity_min is None) == (self.recovery_min is None):
            raise ValueError("give exactly one of purity_min or recovery_min")
        return self

    @property
    def kind(self) -> str:
        return "purity" if self.purity_min is not None else "recovery"

    @property
    def target(self) -> float:
        return float(
            self.purity_min if self.purity_min is not None else self.recovery_min
        )

    @property
    def label(self) -> str:
        return spec_label(self)

    @property
    def increasing(self) -> bool:
        """True if the spec improves as more metal goes to the organic side."""
        return improves_to_organic(self)

    @property
    def searched(self) -> bool:
        """End-outlet specs are monotone in the cut and searched by bisection;
        side-draw specs are only checked at each design's operating point."""
        return is_end_outlet(self.stream)


_Acid = quantity(0.0, 12.0, "mol/L", "concentrated HCl is 12 mol/L", lo_open=True)


class OptimizeSpec(_Strict):
    """The ``[optimize]`` table of a cascade case (units in the field names)."""

    objective: Literal[
        "reagent_cost", "stages", "annualized_cost", "mixer_volume", "weighted"
    ] = "annualized_cost"
    weights: dict[
        Literal["reagent_cost", "stages", "annualized_cost", "mixer_volume"], float
    ] = {}
    specs: list[Spec] = Field(min_length=1)
    stages: dict[Literal["extraction", "scrub", "strip"], tuple[int, int]] = {}
    organic_flow_L_h: tuple[Flow, Flow] | None = None
    scrub_flow_L_h: tuple[Flow, Flow] | None = None
    saponification: tuple[float, float] | None = None
    saponification_levels: int = Field(2, ge=1, le=10)
    side_draw_flow_L_h: tuple[Flow, Flow] | None = None
    side_draw_levels: int = Field(3, ge=1, le=10)
    side_draw_monotone: bool = Field(
        False,
        description="assume side-draw specs, like end-outlet ones, never get worse "
        "with more stages at fixed flows, so a side-draw miss prunes smaller designs",
    )
    scrub_acidity_mol_L: _Acid | None = None
    strip_acidity_mol_L: _Acid | None = None
    strip_excess: float = Field(
        1.2, ge=1.0, le=10.0, description="strip H+ over 3 per RE, 1..10 [-]"
    )
    spec_tolerance: float = Field(1e-6, ge=0, lt=0.01, description="absolute [-]")
    reflux_step: float = Field(
        2e-3, gt=0, le=0.05, description="relative step of the reflux grid [-]"
    )
    fenske_prune: bool = True
    max_rounds: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="column choices before the search stops at 'limit' (a "
        "threshold test is one choice of a few kernel calls)",
    )
    time_limit_s: float = Field(60.0, gt=0, le=1e6, description="[s], <= 1e6")
    costs: dict[str, float] = {}

    @model_validator(mode="after")
    def _ranges(self):
        for sec, (lo, hi) in self.stages.items():
            if not (1 <= lo <= hi <= 500):
                raise ValueError(
                    f"stages.{sec}: [{lo}, {hi}] -- need 1 <= min <= max <= 500"
                )
        for name in (
            "organic_flow_L_h",
            "scrub_flow_L_h",
            "saponification",
            "side_draw_flow_L_h",
        ):
            v = getattr(self, name)
            if v is not None and not (0 < v[0] <= v[1]):
                raise ValueError(f"{name}: {list(v)} -- need 0 < min <= max")
        if self.saponification is not None and self.saponification[1] >= 1:
            raise ValueError(
                f"saponification: {list(self.saponification)} -- need max < 1"
            )
        if self.objective == "weighted" and not any(self.weights.values()):
            raise ValueError(
                "weights: {} -- objective 'weighted' needs nonzero weights"
            )
        return self


def split_case(source, *, where: str | None = None) -> tuple[CascadeCase, OptimizeSpec]:
    """Read a cascade case with an ``[optimize]`` table -> (base case, spec).

    The ``[optimize]`` table is removed before the cascade is validated (the case
    schema forbids unknown keys).  Errors name the file, field, value and what is
    allowed.
    """
    raw, where = read_case_source(source, name=where, error=OptimizeError)
    opt_raw = raw.pop("optimize", None)
    if opt_raw is None:
        raise OptimizeError(
            f"{where}: optimize: missing -- add an [optimize] table with at least "
            "specs = [{stream = ..., component = ..., purity_min = ...}]"
        )
    case = load_case(raw, name=where)
    try:
        opt = OptimizeSpec.model_validate(opt_raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = "optimize." + ".".join(str(p) for p in err["loc"])
            val = err.get("input")
            if isinstance(val, dict):
                val = "{...}"
            lines.append(f"{where}: {loc}: {val!r} -- {err['msg']}")
        raise OptimizeError("\n".join(lines)) from None
    _check_against_case(case, opt, where)
    return case, opt


def _check_against_case(case: CascadeCase, opt: OptimizeSpec, where: str) -> None:
    errs = []
    if case.chemistry.model != "saturated":
        errs.append(("chemistry.model", case.chemistry.model, "'saturated' (Xu model)"))
    if case.feed.phase != "aqueous":
        errs.append(("feed.phase", case.feed.phase, "'aqueous'"))
    if case.sections.scrub is None or case.sections.strip is None:
        errs.append(("sections", "-", "extraction, scrub and strip sections"))
    if case.scrub is None or case.strip is None:
        errs.append(("scrub/strip", "-", "[scrub] and [strip] streams"))
    for i, d in enumerate(case.side_draws):
        if d.phase != "aqueous":
            errs.append((f"side_draws[{i}].phase", d.phase, "'aqueous' (middle draw)"))
    if case.organic.recycle:
        errs.append(("organic.recycle", True, "false"))
    streams = ("strip_liquor", "raffinate", "stripped_organic") + tuple(
        d.name or f"side_draw_{i + 1}" for i, d in enumerate(case.side_draws)
    )
    if opt.side_draw_flow_L_h is not None and len(case.side_draws) != 1:
        errs.append(
            (
                "optimize.side_draw_flow_L_h",
                list(opt.side_draw_flow_L_h),
                "a case with exactly one side draw",
            )
        )
    for i, s in enumerate(opt.specs):
        if s.stream not in streams:
            errs.append((f"optimize.specs[{i}].stream", s.stream, f"one of {streams}"))
        if s.component not in case.chemistry.components:
            errs.append(
                (
                    f"optimize.specs[{i}].component",
                    s.component,
                    f"one of {case.chemistry.components}",
                )
            )
    try:
        load_costs(opt.costs, where="optimize.costs")
    except ValueError as e:
        errs.append(("optimize.costs", "-", str(e)))
    if errs:
        raise OptimizeError(
            "\n".join(f"{where}: {f}: {v!r} -- expected {a}" for f, v, a in errs)
        )


# ------------------------------------------------------------------- the problem
@dataclass
class Problem:
    """Everything fixed during one optimization (derived from case + spec)."""

    case: CascadeCase
    opt: OptimizeSpec
    costs: dict
    components: list[str]
    F: float  # feed RE [mol/h]
    feed_mol_h: dict[str, float]
    C_HA: float
    c_scrub: float  # [mol/L]
    c_strip: float  # [mol/L]
    ranges: dict[str, tuple[int, int]]
    sap_levels: list[float]  # per operating level
    S_lo: dict[int, float]  # per saponification level [mol/mol feed]
    S_hi: dict[int, float]
    P_lo: float  # cut bracket [mol/h]
    P_hi: float
    beta_key: float
    n_min_fenske: float | None
    draw_levels: list[float | None] = field(default_factory=list)  # per level [L/h]

    def Ymax(self, lev: int) -> float:
        return self.sap_levels[lev] * self.C_HA / 3.0

    def flows(self, S: float, P: float, lev: int) -> tuple[float, float, float]:
        """(organic, scrub, strip) flows for reflux S and cut P. [L/h]"""
        O = S * self.F / self.Ymax(lev)
        Qw = 3.0 * (S * self.F - P) / self.c_scrub
        Qs = 3.0 * self.opt.strip_excess * P / self.c_strip
        return O, Qw, Qs

    def S_grid(self, i: int) -> float:
        return self.S_lo[0] * (1.0 + self.opt.reflux_step) ** i

    def S_index(self, S: float, up: bool) -> int:
        v = math.log(S / self.S_lo[0]) / math.log1p(self.opt.reflux_step)
        return math.ceil(v - 1e-9) if up else math.floor(v + 1e-9)


def build_problem(case: CascadeCase, opt: OptimizeSpec) -> Problem:
    comps = list(case.chemistry.components)
    f = case.feed
    if f.conc_mol_L is not None:
        conc = dict(f.conc_mol_L)
    else:
        conc = {
            k: v / element(k).molar_mass_g_mol for k, v in (f.conc_g_L or {}).items()
        }
    feed = {c: conc.get(c, 0.0) * f.flow_L_h for c in comps}
    F = sum(feed.values())
    costs = load_costs(opt.costs, where="optimize.costs")
    ranges = {}
    for sec in SECTIONS:
        cur = getattr(case.sections, sec).stages
        ranges[sec] = tuple(opt.stages.get(sec, (cur, cur)))
    s0 = case.organic.saponification
    lo, hi = opt.saponification or (s0, s0)
    nlev = 1 if lo == hi else opt.saponification_levels
    saps = [float(v) for v in np.linspace(lo, hi, nlev)]
    if opt.side_draw_flow_L_h is not None:
        dlo, dhi = opt.side_draw_flow_L_h
        nd = 1 if dlo == dhi else opt.side_draw_levels
        draws = [float(v) for v in np.linspace(dlo, dhi, nd)]
    else:
        draws = [case.side_draws[0].flow_L_h if case.side_draws else None]
    # an operating level = (saponification, side-draw flow)
    levels = [s_ for s_ in saps for _ in draws]
    draw_levels = [d_ for _ in saps for d_ in draws]
    C_HA = case.organic.extractant_mol_L
    c_w = opt.scrub_acidity_mol_L or case.scrub.acidity_mol_L
    c_s = opt.strip_acidity_mol_L or case.strip.acidity_mol_L
    O_lo, O_hi = opt.organic_flow_L_h or (
        0.25 * case.organic.flow_L_h,
        3.0 * case.organic.flow_L_h,
    )
    S_lo, S_hi = {}, {}
    for lev, s in enumerate(levels):
        Y = s * C_HA / 3.0
        S_lo[lev] = O_lo * Y / F
        S_hi[lev] = O_hi * Y / F
    # one common grid for all levels: start at the smallest lower bound
    base = min(S_lo.values())
    S_lo = {lev: base for lev in S_lo}
    # cut bracket from the purity specs (a purity p of the organic-side product caps
    # the product at its component's feed / p; of the raffinate likewise), widened
    # because P is the organic capacity left after the scrub, not the product itself
    P_lo, P_hi = 1e-3 * F, F
    for s in opt.specs:
        if s.kind != "purity":
            continue
        if s.stream in ORGANIC_SIDE:
            P_hi = min(P_hi, feed[s.component] / s.target)
        elif s.stream == "raffinate" and not case.side_draws:
            # (raffinate + organic product = feed only without side draws)
            P_lo = max(P_lo, F - feed[s.component] / s.target)
    P_lo, P_hi = max(1e-3 * F, P_lo - 0.05 * F), min(F, P_hi + 0.05 * F)
    # key-pair separation factor and Fenske's minimum stages (total reflux)
    sat = case.chemistry.saturated
    rel = dict(sat.separation_factors) if sat and sat.separation_factors else None
    beta_key, nmin = 1.0, None
    if rel:
        order = sorted(comps, key=lambda c: rel[c])
        betas = [rel[b] / rel[a] for a, b in zip(order, order[1:], strict=False)]
        beta_key = min(betas) if betas else 1.0
        pur = {s.stream: s for s in opt.specs if s.kind == "purity"}
        if "strip_liquor" in pur and "raffinate" in pur and len(comps) == 2:
            A, B = order[1], order[0]
            pA, pB = pur["strip_liquor"].target, pur["raffinate"].target
            if pur["strip_liquor"].component == A and pur["raffinate"].component == B:
                fA, fB = feed[A] / F, feed[B] / F
                a = (pA / (1 - pA)) / (fA / fB)
                b = (pB / (1 - pB)) / (fB / fA)
                if a * b > 1 and beta_key > 1:
                    nmin = math.log(a * b) / math.log(beta_key)
    return Problem(
        case=case,
        opt=opt,
        costs=costs,
        components=comps,
        F=F,
        feed_mol_h=feed,
        C_HA=C_HA,
        c_scrub=c_w,
        c_strip=c_s,
        ranges=ranges,
        sap_levels=levels,
        S_lo=S_lo,
        S_hi=S_hi,
        P_lo=P_lo,
        P_hi=P_hi,
        beta_key=beta_key,
        n_min_fenske=nmin,
        draw_levels=draw_levels,
    )


# ------------------------------------------------------------------ kernel probe
@dataclass
class Point:
    """One kernel evaluation at (S, P)."""

    S: float
    P: float
    values: list[float]  # spec values, same order as opt.specs
    ok: bool  # converged
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    net: object = None


class Probe:
    """A cascade with fixed stages and saponification, re-solved at many flows.

    Uses the kernel directly (network + stage parameters + solve) with warm starts;
    the reported design is checked again through the public ``rexopt.simulate``.
    """

    def __init__(self, pb: Problem, stages: tuple[int, int, int], lev: int):
        self.pb, self.stages, self.lev = pb, stages, lev
        c = pb.case.model_copy(deep=True)
        for sec, n in zip(SECTIONS, stages, strict=True):
            getattr(c.sections, sec).stages = int(n)
        c.feed.stage = int(stages[0])
        c.organic.saponification = pb.sap_levels[lev]
        if c.side_draws and pb.draw_levels and pb.draw_levels[lev] is not None:
            c.side_draws[0].flow_L_h = pb.draw_levels[lev]
        c.scrub.acidity_mol_L = pb.c_scrub
        c.strip.acidity_mol_L = pb.c_strip
        # a side draw keeps its place within its section (and its flow)
        base = [getattr(pb.case.sections, sec).stages for sec in SECTIONS]
        for d in c.side_draws:
            g, off_old, off_new = d.stage, 0, 0
            for nb, nn in zip(base, stages, strict=True):
                if g <= off_old + nb:
                    d.stage = off_new + min(g - off_old, int(nn))
                    break
                off_old, off_new = off_old + nb, off_new + int(nn)
        self.cascade = Cascade(c)
        # least scrub flow that keeps every aqueous side draw supplied: the
        # aqueous at a draw's stage is the scrub (plus the feed if the draw is
        # in the extraction section) less the draws at or above it [L/h]
        n_ext, n_scr = int(stages[0]), int(stages[1])
        need = 0.0
        for d in c.side_draws:
            if d.phase != "aqueous" or d.stage > n_ext + n_scr:
                continue
            above = sum(
                e.flow_L_h
                for e in c.side_draws
                if e.phase == "aqueous" and d.stage <= e.stage <= n_ext + n_scr
            )
            feed = c.feed.flow_L_h if d.stage <= n_ext else 0.0
            need = max(need, above - feed)
        self.Qw_min_draw = need
        self.eff = self.cascade.efficiencies()
        self.x_last: np.ndarray | None = None
        self.good: list[tuple] = []  # converged (S, P, x) of this column
        self.calls = 0
        self.unknown = 0  # points with no steady state after every retry
        self.unknown_points: list[tuple[float, float]] = []
        self.rescued = 0  # points saved by a retry
        self.errors: list[str] = []  # case errors at trial flows (see run)
        self._par: dict | None = None
        self._checked = False
        self._basis = None  # affine network (see _network)
        self._net_checks = 0
        self._scrub_mask: np.ndarray | None = None
        # a cut to try first at each reflux (see _feasible_at): the last
        # feasible cut found on this column, or a neighbouring column's
        self.P_guess: float | None = None

    def _parameters(self, net) -> dict:
        # Only the capacity profile depends on the flows (saturated model): the
        # full stage_parameters re-reads the data files, which is most of the cost
        # of a kernel call, so it runs once per probe and the capacity is updated
        # here by the same rule (scrub acid converts loaded sites where it enters);
        # the first call cross-checks the two.
        cas = self.cascade
        if self._par is None:
            self._par = cas.stage_parameters(net)
            return self._par
        par = dict(self._par)
        c = cas.case
        ymax = c.organic.saponification * c.organic.extractant_mol_L / 3.0
        if self._scrub_mask is None:
            self._scrub_mask = np.array(net.section) == "scrub"
        used = np.cumsum(np.where(self._scrub_mask, net.acid_in, 0.0)) / 3.0
        par["cap"] = np.maximum(ymax - used / net.org_in, 1e-9 * ymax)
        if not self._checked:
            ref = cas.stage_parameters(net)["cap"]
            if not np.allclose(ref, par["cap"], rtol=1e-12, atol=0.0):
                raise RuntimeError(
                    "capacity update disagrees with Cascade.stage_parameters"
                )
            self._checked = True
        return par

    def case_dict(self, S: float, P: float) -> dict:
        O, Qw, Qs = self.pb.flows(S, P, self.lev)
        c = self.cascade.case.model_copy(deep=True)
        c.organic.flow_L_h, c.scrub.flow_L_h, c.strip.flow_L_h = O, Qw, Qs
        return c.model_dump(mode="json")

    def _solve_at(self, S: float, P: float, x0):
        """One kernel solve at (S, P) from ``x0`` (None: cold start)."""
        O, Qw, Qs = self.pb.flows(S, P, self.lev)
        net = self._network(O, Qw, Qs)
        par = self._parameters(net)
        self.calls += 1
        st, x, y, *_ = solve_arrays(net, par, self.eff, x0, tol=1e-11)
        return st == kernels.OK, x, y, net

    _AFFINE = (
        "aq_out",
        "aq_pass",
        "org_out",
        "org_pass",
        "org_in",
        "ext_aq",
        "ext_org",
        "anion_eq",
        "acid_in",
    )

    def _network(self, O: float, Qw: float, Qs: float):
        """``Cascade.network()`` at organic, scrub and strip flows (O, Qw, Qs).

        Every array of the network is affine in these three flows (stage flows
        are sums of inlet flows, inputs are flow x concentration; the topology
        and the side-draw flows are fixed per probe), so it is built by
        ``Cascade.network()`` four times per probe (base point and one step per
        flow) and evaluated as base + sum of flow changes x slopes -- rebuilding
        it per kernel call cost as much as the solve.  The first calls are
        cross-checked against ``Cascade.network()``; a non-positive stage flow
        falls back to it (which raises the case error that names the stage).
        """
        cas = self.cascade
        c = cas.case

        def flat(net):
            # every affine array and the outlet flows as one vector
            return np.concatenate(
                [np.ravel(getattr(net, a)) for a in self._AFFINE]
                + [np.array([o[3] for o in net.outlets])]
            )

        if self._basis is None:
            p0 = (O, Qw, Qs)
            c.organic.flow_L_h, c.scrub.flow_L_h, c.strip.flow_L_h = p0
            n0 = cas.network()
            v0 = flat(n0)
            D = np.empty((3, v0.size))
            for k in range(3):
                p = list(p0)
                p[k] *= 2.0
                c.organic.flow_L_h, c.scrub.flow_L_h, c.strip.flow_L_h = p
                D[k] = (flat(cas.network()) - v0) / p0[k]
            shapes, cuts, at = [], [], 0
            for a in self._AFFINE:
                shp = np.shape(getattr(n0, a))
                at += int(np.prod(shp))
                shapes.append(shp)
                cuts.append(at)
            self._basis = (np.array(p0), n0, v0, D, shapes, cuts)
            c.organic.flow_L_h, c.scrub.flow_L_h, c.strip.flow_L_h = O, Qw, Qs
            return n0
        p0, n0, v0, D, shapes, cuts = self._basis
        v = v0 + (np.array([O, Qw, Qs]) - p0) @ D
        parts = np.split(v, cuts)
        arrs = {a: parts[i].reshape(shapes[i]) for i, a in enumerate(self._AFFINE)}
        oflow = parts[-1]
        if (
            arrs["aq_out"].min() <= 0.0
            or arrs["aq_pass"].min() < 0.0
            or oflow.min() < 0.0
            or self._net_checks < 2
        ):
            c.organic.flow_L_h, c.scrub.flow_L_h, c.strip.flow_L_h = O, Qw, Qs
            cas.warnings = []
            ref = cas.network()
            if self._net_checks < 2:
                for a in self._AFFINE:
                    r = getattr(ref, a)
                    if not np.allclose(
                        arrs[a], r, rtol=1e-12, atol=1e-12 * np.abs(r).max()
                    ):
                        raise RuntimeError(f"affine network update disagrees on {a}")
                self._net_checks += 1
            return ref
        outlets = [
            (name, ph, j, float(f))
            for (name, ph, j, _), f in zip(n0.outlets, oflow, strict=True)
        ]
        return dataclasses.replace(n0, outlets=outlets, **arrs)

    def _remember(self, S: float, P: float, x) -> None:
        self.good.append((S, P, x))
        if len(self.good) > 12:
            del self.good[0]

    def _retry(self, S: float, P: float):
        """Rescue a point where the warm start and the kernel's cold start both
        failed: (1) start from each remembered converged profile of this column
        (nearest first); (2) continuation: walk (S, P) from the nearest converged
        point to the target in steps, each warm-started from the last (halving
        the step on failure).  Every accepted answer is a converged steady state
        at (S, P) itself; the path only supplies starts.  Returns the solve tuple
        or None (the point stays unknown)."""

        def dist(g):
            return abs(math.log(g[0] / S)) + abs(g[1] - P) / self.pb.F

        near = sorted(self.good, key=dist)[:3]
        for g in near:
            if g[2] is self.x_last:
                continue
            r = self._solve_at(S, P, g[2])
            if r[0]:
                return r
        if not near:
            return None
        S0, P0, x = near[0]
        t, step, budget = 0.0, 0.25, RETRY_SOLVES
        while budget > 0 and step > 1.0 / 512:
            tn = min(1.0, t + step)
            Sn, Pn = (S, P) if tn >= 1.0 else (S0 * (S / S0) ** tn, P0 + (P - P0) * tn)
            r = self._solve_at(Sn, Pn, x)
            budget -= 1
            if r[0]:
                t, x = tn, r[1]
                if t >= 1.0:
                    return r
                step = min(2 * step, 0.5)
            else:
                step *= 0.5
        return None

    def run(self, S: float, P: float, keep: bool = False) -> Point:
        """Spec values at (S, P).  ``ok`` False with NaN values means the kernel
        found no steady state there even after :meth:`_retry` (an *unknown*
        point, counted in ``self.unknown``), never a spec miss."""
        pb = self.pb
        O, Qw, Qs = pb.flows(S, P, self.lev)
        if Qw <= 0 or Qs <= 0:
            # outside the operating region (no scrub or strip acid): a real miss
            return Point(S, P, [-math.inf] * len(pb.opt.specs), False)
        # a failed warm start falls back to the cold start inside the kernel
        try:
            ok, x, y, net = self._solve_at(S, P, self.x_last)
        except CaseError as err:
            # flows the network refuses (should be kept out by _P_bracket): not
            # a spec miss, so it is unknown and can prove nothing
            self.unknown += 1
            self.unknown_points.append((S, P))
            self.errors.append(str(err))
            return Point(S, P, [math.nan] * len(pb.opt.specs), False)
        if not ok:
            r = self._retry(S, P)
            if r is None:
                self.unknown += 1
                self.unknown_points.append((S, P))
                return Point(S, P, [math.nan] * len(pb.opt.specs), False)
            self.rescued += 1
            ok, x, y, net = r
        self.x_last = x
        self._remember(S, P, x)
        vals = spec_values(pb, self.cascade, net, x, y)
        return Point(
            S,
            P,
            vals,
            True,
            x if keep else None,
            y if keep else None,
            net if keep else None,
        )


def spec_values(pb: Problem, cas: Cascade, net, x, y) -> list[float]:
    sp = cas.species
    idx = [sp.index(c) for c in pb.components]
    total_in = net.ext_aq.sum(0) + net.ext_org.sum(0)
    out = {}
    for name, phase, j, flow in net.outlets:
        conc = (x if phase == "aqueous" else y)[j]
        out[name] = conc * flow
    vals = []
    for s in pb.opt.specs:
        mol = out[s.stream]
        i = sp.index(s.component)
        if s.kind == "purity":
            tot = float(sum(mol[k] for k in idx))
            vals.append(float(mol[i] / tot) if tot > 0 else 0.0)
        else:
            vals.append(float(mol[i] / total_in[i]) if total_in[i] > 0 else 0.0)
    return vals


def _logit(v: float) -> float:
    v = min(max(v, 1e-15), 1 - 1e-15)
    return math.log(v / (1 - v))


def margins(pb: Problem, vals: list[float]) -> list[float]:
    """Spec margins in logit units (>= 0: met, within spec_tolerance)."""
    tol = pb.opt.spec_tolerance
    out = []
    for s, v in zip(pb.opt.specs, vals, strict=True):
        if not np.isfinite(v):
            out.append(-math.inf)
        else:
            out.append(_logit(v) - _logit(max(s.target - tol, 1e-12)))
    return out


# ------------------------------------------------------------------- one column
@dataclass
class Column:
    """One integer design evaluated by the kernel at its cheapest feasible point.

    ``feasible``: a converged kernel point meeting every spec was found (``S``,
    ``P``, ``cost`` are that point).  ``exact``: its reflux is the column's least
    feasible reflux to the grid (the grid step below was *proven* infeasible, or
    is below the range).  ``proven_infeasible``: no feasible point, every
    deciding kernel point converged.  Otherwise the column is *unresolved*: kernel
    points that found no steady state (``unknown_points``) left its least reflux
    only bracketed, in ``[S_lower, S]`` (or, with no feasible point, above
    ``S_lower``); such a column enters the choice with a lower bound only and is
    never read as infeasible.
    """

    stages: tuple[int, int, int]
    lev: int
    saponification: float
    feasible: bool
    S: float = math.nan
    P: float = math.nan
    flows: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    values: list[float] = field(default_factory=list)
    cost: CascadeCost | None = None
    kernel_calls: int = 0
    seconds: float = 0.0
    grid_index: int | None = None
    best_values: list[float] | None = None  # infeasible: at S_max, see diagnose
    note: str = ""
    exact: bool = False
    proven_infeasible: bool = False
    # infeasibility that only a side-draw spec shows (sampled in the cut, not
    # searched): not propagated to smaller columns
    side_only: bool = False
    S_lower: float = 0.0  # proven lower bound of the least feasible reflux
    lo_index: int | None = None  # grid index proven infeasible (or below range)
    # the highest grid index proven infeasible by the end-outlet specs alone (or
    # below the range): what may be propagated to columns with fewer stages (a
    # side-draw miss is not known to be monotone in the stages)
    lo_index_end: int | None = None
    unknown_points: int = 0
    rescued_points: int = 0

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (*self.stages, self.lev)

    @property
    def resolved(self) -> bool:
        return self.exact or self.proven_infeasible


# tri-state answers of the kernel searches: True / False, or None = unknown (a
# kernel point that decides the answer found no steady state after every retry)
Tri = bool | None


def _pass_state(pb: Problem, pt: Point, sel: list[int]) -> Tri:
    """Do the specs ``sel`` pass at ``pt``?  None if the kernel found no steady
    state there."""
    if not pt.ok:
        return None if any(math.isnan(v) for v in pt.values) else False
    m = margins(pb, pt.values)
    return all(m[i] >= 0 for i in sel)


def _P_bracket(probe: Probe, S: float) -> tuple[float, float]:
    """Cuts P to search at reflux S [mol/h]: the bracket from the purity specs,
    below S F (a scrub flow), within optimize.scrub_flow_L_h and with enough
    scrub aqueous for the side draws (more would ask a draw for more aqueous
    than flows at its stage)."""
    pb = probe.pb
    a, b = pb.P_lo, min(pb.P_hi, S * pb.F * (1 - 1e-9))
    if pb.opt.scrub_flow_L_h is not None:
        # scrub flow Qw = 3 (S F - P) / c_w within its bounds
        lo_q, hi_q = pb.opt.scrub_flow_L_h
        b = min(b, S * pb.F - lo_q * pb.c_scrub / 3.0)
        a = max(a, S * pb.F - hi_q * pb.c_scrub / 3.0)
    if probe.Qw_min_draw > 0.0:
        b = min(b, S * pb.F - probe.Qw_min_draw * (1 + 1e-9) * pb.c_scrub / 3.0)
    return a, b


def _cut_search(probe: Probe, S: float, which: str, known=None):
    """Cut P at the edge of the specs of one direction, by bisection on the fixed
    bracket (deterministic: the same S gives the same answer from any caller).

    which = "lo": smallest P meeting every increasing spec;
    which = "hi": largest P meeting every decreasing spec.

    Returns (P, passing point, state): state "ok" (edge resolved to 2e-6 F),
    "open" (an unknown kernel point stopped the bisection: P is the passing
    point nearest the edge, the edge lies between it and the last failing one),
    "none" (the best end of the bracket fails: proven, no cut passes) or
    "unknown" (the kernel found no steady state at the best end).

    ``known`` = (a, b, passing point): a bracket already established on the
    kernel (the passing end's point given), which the bisection starts from.
    """
    pb = probe.pb
    specs = pb.opt.specs
    sel = [
        i for i, s in enumerate(specs) if s.searched and s.increasing == (which == "lo")
    ]
    a, b = _P_bracket(probe, S)
    if b <= a:
        return math.nan, None, "none"
    if not sel:
        return (a if which == "lo" else b), None, "ok"

    # bracket: "lo": fail at a, pass at b; "hi": pass at a, fail at b
    if known is not None:
        a, b, pt_pass = known
    else:
        pass_end = b if which == "lo" else a
        pt_pass = probe.run(S, pass_end)
        st = _pass_state(pb, pt_pass, sel)
        if st is None:
            return math.nan, pt_pass, "unknown"
        if not st:
            return math.nan, pt_pass, "none"
    sign = 1.0 if which == "lo" else -1.0

    def f(pt):
        # worst margin of the selected specs, oriented to rise with P
        m = min(margins(pb, pt.values)[i] for i in sel)
        return sign * m if math.isfinite(m) else math.nan

    fp = f(pt_pass)
    fa, fb = (math.nan, fp) if which == "lo" else (fp, math.nan)
    tol = 2e-6 * pb.F
    last, widths = 0, [b - a]
    while b - a > tol:
        w = b - a
        # regula falsi (Illinois) on the worst margin, a bisection step when
        # the bracket did not halve in two steps or an end value is unknown;
        # if the kernel finds no steady state there, a point beside it: any
        # decided point keeps the bracket valid
        x = a + 0.5 * w
        if (
            math.isfinite(fa)
            and math.isfinite(fb)
            and fb > fa
            and not (len(widths) > 2 and w > 0.5 * widths[-3])
        ):
            x = min(max(b - fb * w / (fb - fa), a + 0.02 * w), b - 0.02 * w)
        for off in (0.0, 0.125, -0.125, 0.25, -0.25):
            mid = x + w * off
            if not a < mid < b:
                continue
            pt = probe.run(S, mid)
            st = _pass_state(pb, pt, sel)
            if st is not None:
                break
        else:
            return (b if which == "lo" else a), pt_pass, "open"
        fm = f(pt) if pt.ok else math.nan
        if st:
            pt_pass = pt
        # "lo": passing points are above the edge; "hi": below it
        if st == (which == "lo"):
            b, fb = mid, fm
            if last == 1 and math.isfinite(fa):
                fa *= 0.5
            last = 1
        else:
            a, fa = mid, fm
            if last == -1 and math.isfinite(fb):
                fb *= 0.5
            last = -1
        widths.append(b - a)
    return (b if which == "lo" else a), pt_pass, "ok"


@dataclass
class AtS:
    """Is there a cut meeting every spec at one reflux S?"""

    state: Tri
    P: float = math.nan  # a cut meeting every spec (state True)
    pt: Point | None = None
    P_lo: float = math.nan  # resolved cut window of the end-outlet specs
    P_hi: float = math.nan
    side_only: bool = False  # False only because of a side-draw spec
    # the crossing bracket of the search: the increasing specs fail (or it is
    # the bracket's end) at ``a``, the decreasing ones at ``b``
    a: float = math.nan
    b: float = math.nan


SIDE_SAMPLES = 7  # cuts sampled across the window for side-draw specs


def _feasible_at(probe: Probe, S: float, window: bool = False) -> AtS:
    """Feasibility at reflux S: True (a converged point meets every spec), False
    (proven with converged points, given specs monotone in the cut) or None.

    End-outlet specs are monotone in the cut P: the increasing ones fail below an
    edge, the decreasing ones above another; a bisection on P toward the
    crossing stops as soon as one point meets both (feasible) or fails both
    (proven infeasible: nothing below passes the first, nothing above the
    second), else when the window is below 2e-6 F (infeasible to that
    resolution).  Side-draw specs are not monotone: they are checked at
    SIDE_SAMPLES cuts across the window (``side_only`` marks a False that only
    they cause).  ``window``: also find the edges of the feasible window.
    """
    pb = probe.pb
    specs = pb.opt.specs
    inc = [i for i, s in enumerate(specs) if s.searched and s.increasing]
    dec = [i for i, s in enumerate(specs) if s.searched and not s.increasing]
    side = [i for i, s in enumerate(specs) if not s.searched]
    a, b = _P_bracket(probe, S)
    if b <= a:
        return AtS(False)

    def classify(P):
        """(increasing specs pass, decreasing pass, g, point); g = worst
        increasing margin - worst decreasing margin (logit units), which rises
        with P and is 0 where the two directions balance."""
        pt = probe.run(S, P)
        if not pt.ok and any(math.isnan(v) for v in pt.values):
            return None, None, math.nan, pt
        if not pt.ok:
            return False, False, math.nan, pt
        m = margins(pb, pt.values)
        mi = min((m[i] for i in inc), default=math.inf)
        md = min((m[i] for i in dec), default=math.inf)
        g = mi - md if math.isfinite(mi) and math.isfinite(md) else math.nan
        return mi >= 0, md >= 0, g, pt

    found = None
    ga = gb = math.nan
    # a guessed cut first (the last feasible cut of this column, or a
    # neighbouring column's): where the window is open it usually passes both
    # directions at once; otherwise it narrows the bracket (the increasing specs
    # pass at and above any cut where they pass, the decreasing ones at and
    # below), or fails both, which proves that no cut passes
    P_guess = probe.P_guess
    known_ib = known_da = False
    if P_guess is not None and a < P_guess < b:
        ig, dg, gg, pt = classify(P_guess)
        if ig is not None:
            if ig and dg:
                found = (P_guess, pt)
            elif not ig and not dg:
                return AtS(False, pt=pt)
            elif ig:
                b, gb, known_ib = P_guess, gg, True
            else:
                a, ga, known_da = P_guess, gg, True
    if found is None and not known_ib:
        ib, db, gb, pt = classify(b)
        if ib is None:
            return AtS(None, pt=pt)
        if not ib:
            return AtS(False, pt=pt)  # the best cut for the increasing specs fails
        if db:
            found = (b, pt)
    if found is None and not known_da:
        ia, da, ga, pt = classify(a)
        if ia is None:
            return AtS(None, pt=pt)
        if not da:
            return AtS(False, pt=pt)  # the best cut for the decreasing specs fails
        if ia:
            found = (a, pt)
    # the crossing of the two directions, by regula falsi on g (Illinois
    # variant, a bisection step whenever the bracket did not halve in two
    # steps or g is not finite); it stops at the first point that passes or
    # fails both directions, or when the bracket is below the resolution
    tol = 2e-6 * pb.F
    last, widths = 0, [b - a]
    while found is None and b - a > tol:
        w = b - a
        secant = (
            math.isfinite(ga)
            and math.isfinite(gb)
            and gb > ga
            and not (len(widths) > 2 and w > 0.5 * widths[-3])
        )
        x = a + w * 0.5
        if secant:
            x = b - gb * w / (gb - ga)
            x = min(max(x, a + 0.02 * w), b - 0.02 * w)
        for off in (0.0, 0.125, -0.125, 0.25, -0.25):
            mid = x + w * off
            if not a < mid < b:
                continue
            im, dm, g, pt = classify(mid)
            if im is not None:
                break
        else:
            return AtS(None, pt=pt)
        if im and dm:
            found = (mid, pt)
        elif im:
            b, gb = mid, g
            if last == 1 and math.isfinite(ga):
                ga *= 0.5
            last = 1
        elif dm:
            a, ga = mid, g
            if last == -1 and math.isfinite(gb):
                gb *= 0.5
            last = -1
        else:
            return AtS(False, pt=pt)
        widths.append(b - a)
    if found is None:
        return AtS(False, pt=pt)  # the window is narrower than the resolution
    P, pt = found
    probe.P_guess = P
    out = AtS(True, P, pt, P_lo=P, P_hi=P, a=a, b=b)
    if not window and (not side or _pass_state(pb, pt, side)):
        return out
    return _window(probe, S, out, first=not window)


def _window(probe: Probe, S: float, out: AtS, first: bool = False) -> AtS:
    """The feasible cut window around a feasible point ``out`` (edges bisected
    from the bracket its search left), and the side-draw samples across it:
    the sample with the best side-draw margin, or with ``first`` (a feasibility
    test, not the operating point) the first that meets every spec, the
    samples taken from the middle of the window outwards."""
    pb = probe.pb
    specs = pb.opt.specs
    side = [i for i, s in enumerate(specs) if not s.searched]
    P, pt, a, b = out.P, out.pt, out.a, out.b
    Plo, _, st_lo = _cut_search(probe, S, "lo", known=(a, P, pt))
    Phi, _, st_hi = _cut_search(probe, S, "hi", known=(P, b, pt))
    out.P_lo = Plo if st_lo in ("ok", "open") and Plo <= P else P
    out.P_hi = Phi if st_hi in ("ok", "open") and Phi >= P else P
    if not side or (first and _pass_state(pb, pt, side)):
        return out
    # the operating point (not ``first``) is always the best sample, even when
    # the point found meets the side-draw specs: which point the search found
    # depends on where it started (a guessed cut), the samples do not
    best, n_unknown = None, 0
    qs = np.linspace(out.P_lo, out.P_hi, SIDE_SAMPLES)
    if first:
        mid = np.abs(np.arange(SIDE_SAMPLES) - SIDE_SAMPLES // 2)
        qs = qs[np.argsort(mid, kind="stable")]
    for q in qs:
        if best is not None and first:
            break
        p2 = probe.run(S, float(q))
        s2 = _pass_state(pb, p2, list(range(len(specs))))
        if s2 is None:
            n_unknown += 1
        elif s2:
            mg = min(margins(pb, p2.values)[i] for i in side)
            if best is None or mg > best[0]:
                best = (mg, p2)
    if best is not None:
        out.P, out.pt = best[1].P, best[1]
        probe.P_guess = out.P  # meets every spec: the next reflux tries it first
        return out
    return AtS(None if n_unknown else False, pt=pt, side_only=True)


def grid_range(pb: Problem, lev: int) -> tuple[int, int]:
    """First and last reflux-grid index of an operating level (organic-flow range,
    capped by the scrub-flow bound)."""
    g_lo = pb.S_index(pb.S_lo[lev], up=True)
    g_hi = pb.S_index(pb.S_hi[lev], up=False)
    if pb.opt.scrub_flow_L_h is not None:
        # the scrub flow bound caps the reflux: Qw = 3 (S F - P) / c_w <= max
        S_cap = (pb.opt.scrub_flow_L_h[1] * pb.c_scrub / 3.0 + pb.P_hi) / pb.F
        g_hi = min(g_hi, pb.S_index(S_cap, up=False))
    return g_lo, g_hi


def evaluate_column(
    pb: Problem,
    stages: tuple[int, int, int],
    lev: int,
    *,
    i_lo: int | None = None,
    i_hi: int | None = None,
    probe: Probe | None = None,
    memo: dict | None = None,
    P_guess: float | None = None,
) -> Column:
    """Cheapest feasible operating point of one integer design (kernel bisection).

    Parameters
    ----------
    i_lo, i_hi : int, optional
        Reflux-grid hints from monotone neighbours (i_lo infeasible-or-below, i_hi
        feasible); both are checked on the kernel before use, so they only narrow
        the search and the answer is the same.
    probe, memo : optional
        The column's probe and its feasibility answers per grid index from an
        earlier :meth:`Optimizer.threshold_test` (reused, not recomputed).
    P_guess : float, optional
        A cut to try first at each reflux (a neighbouring column's); only the
        order of the kernel points changes, not what they prove.
    """
    t0 = time.perf_counter()
    if probe is None:
        probe = Probe(pb, stages, lev)
    if P_guess is not None and probe.P_guess is None:
        probe.P_guess = P_guess
    s = pb.sap_levels[lev]
    g_lo, g_hi = grid_range(pb, lev)
    col = Column(stages=tuple(stages), lev=lev, saponification=s, feasible=False)
    memo = {} if memo is None else memo

    def at(i: int) -> AtS:
        if i not in memo:
            memo[i] = _feasible_at(probe, pb.S_grid(i))
        return memo[i]

    def done(col):
        if col.lo_index is not None:
            col.lo_index_end = max(
                [g_lo - 1]
                + [
                    i
                    for i, a in memo.items()
                    if a.state is False and not a.side_only and i <= col.lo_index
                ]
            )
        col.kernel_calls = probe.calls
        col.unknown_points = probe.unknown
        col.rescued_points = probe.rescued
        col.seconds = time.perf_counter() - t0
        return col

    # upper end: the hint, else the top of the range
    hi = g_hi if i_hi is None else min(max(i_hi, g_lo), g_hi)
    lo = g_lo - 1  # proven infeasible (or below the range)
    if not at(hi).state and hi < g_hi:
        # the hint was too low (or undecided): search above it
        if at(hi).state is False:
            lo = hi
        hi = g_hi
    top = at(hi)
    if top.state is None:
        # undecided at the largest reflux: look for a decided one below, by
        # bisection between the highest proven-infeasible index and the lowest
        # undecided one (a feasible index found resumes the normal search)
        u = hi
        while u - lo > 1:
            v = (lo + u) // 2
            st = at(v).state
            if st:
                hi, top = v, at(v)
                break
            if st is False:
                lo = v
            else:
                u = v
    if not top.state:
        # nothing feasible at the largest reflux: proven only if decided there
        col.lo_index = lo if top.state is None else hi
        col.S_lower = pb.S_grid(col.lo_index + 1)
        col.proven_infeasible = top.state is False
        col.side_only = top.side_only
        col.note = (
            "no feasible cut at the largest organic flow"
            if top.state is False
            else "undecided: the kernel found no steady state at deciding points "
            "of the largest organic flow"
        )
        return done(col)
    if i_lo is not None and lo < i_lo < hi:
        st = at(i_lo).state
        if st is False:
            lo = i_lo
        elif st:
            hi = i_lo
    # bisection on the grid; an undecided index is stepped around (any decided
    # index keeps the bracket valid); if every index inside is undecided the
    # least reflux stays bracketed in (lo, hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        cand = [mid] + [
            v for d in (1, 2, 3) for v in (mid - d, mid + d) if lo < v < hi and v != mid
        ]
        st = None
        for v in cand:
            st = at(v).state
            if st is not None:
                mid = v
                break
        if st is None:
            break
        if st:
            hi = mid
        else:
            lo = mid
    col.exact = hi - lo == 1
    col.lo_index = lo
    col.S_lower = pb.S_grid(lo + 1)
    S = pb.S_grid(hi)
    # operating point: the middle of the feasible cut window at S (end-outlet
    # specs), or the sampled cut with the best side-draw margin
    a = _window(probe, S, at(hi))
    pt = None
    if a.state:
        if any(not s_.searched for s_ in pb.opt.specs):
            P = a.P
        else:
            P = 0.5 * (a.P_lo + a.P_hi)
        pt = probe.run(S, P, keep=True)
        if _pass_state(pb, pt, list(range(len(pb.opt.specs)))) is not True:
            # the middle missed (knife edge) or did not converge: the passing
            # point found by the search
            P = a.P
            pt = probe.run(S, P, keep=True)
    if pt is None or _pass_state(pb, pt, list(range(len(pb.opt.specs)))) is not True:
        # feasible during the search but not on the re-run: should not happen
        col.note = "the feasible point found could not be reproduced"
        col.exact = False
        return done(col)
    col.feasible = True
    col.S, col.P, col.grid_index = S, P, hi
    col.flows = pb.flows(S, P, lev)
    col.values = pt.values
    col.cost = column_cost(pb, probe, pt)
    if not col.exact:
        col.note = (
            f"least reflux bracketed in [{col.S_lower:.6g}, {S:.6g}]: the kernel "
            "found no steady state at the grid points between"
        )
    return done(col)


def column_cost(pb: Problem, probe: Probe, pt: Point) -> CascadeCost:
    net, cas = pt.net, probe.cascade
    inv = stage_inventory_mol(
        net.org_out, net.aq_out, pt.x, pt.y, pb.components, cas.species, pb.costs
    )
    O, Qw, Qs = pb.flows(pt.S, pt.P, probe.lev)
    prod = 0.0
    for _name, phase, j, flow in net.outlets:
        if phase == "aqueous":  # raffinate, strip liquor and side draws
            for c in pb.components:
                prod += (
                    pt.x[j, cas.species.index(c)]
                    * flow
                    * element(c).oxide_g_per_mol_metal
                    / 1e3
                )
    return cascade_cost(
        stages=probe.stages,
        org_flow_L_h=net.org_out,
        aq_flow_L_h=net.aq_out,
        base_HA_mol_h=pb.sap_levels[probe.lev] * pb.C_HA * O,
        agent=cas.case.organic.agent,
        acid_mol_h=float(net.acid_in.sum()),
        water_L_h=Qw + Qs,
        product_oxide_kg_h=prod,
        costs=pb.costs,
        inventory_mol=inv,
    )


def bound_terms(
    pb: Problem, keys: np.ndarray, S: np.ndarray, P: float, kappa: float
) -> dict[str, np.ndarray]:
    """Objective terms of many designs at reflux S and cut P, not simulated: the
    formulas of :func:`cascade_cost` with the inventory bounded by ``kappa`` x
    stages x S (see :meth:`Optimizer._inventory_ratio`)."""
    n, m, k = (keys[:, i].astype(float) for i in range(3))
    sap = np.asarray(pb.sap_levels)[keys[:, 3]]
    Y = sap * pb.C_HA / 3.0
    O = S * pb.F / Y
    Pc = np.minimum(P, S * pb.F * 0.999)
    Qw = 3.0 * (S * pb.F - Pc) / pb.c_scrub
    Qs = 3.0 * pb.opt.strip_excess * Pc / pb.c_strip
    Qf = pb.case.feed.flow_L_h
    # a side draw lowers the aqueous flow below it: subtracting it from every
    # extraction and scrub stage keeps this a lower bound
    draw = (
        np.array([d_ or 0.0 for d_ in pb.draw_levels])[keys[:, 3]]
        if pb.draw_levels
        else 0.0
    )
    flow = (
        (n + m + k) * O + n * (Qf + Qw - draw) + m * np.maximum(Qw - draw, 0.0) + k * Qs
    )
    acid = pb.case.feed.acidity_mol_L * Qf + pb.c_scrub * Qw + pb.c_strip * Qs
    feed_ox = sum(
        v * element(c).oxide_g_per_mol_metal / 1e3 for c, v in pb.feed_mol_h.items()
    )
    return objective_terms_arrays(
        total_stages=n + m + k,
        mixer_flow_L_h=flow,
        base_HA_mol_h=sap * pb.C_HA * O,
        agent=pb.case.organic.agent,
        acid_mol_h=acid,
        water_L_h=Qw + Qs,
        product_oxide_kg_h=feed_ox,
        inventory_USD=kappa * (n + m + k) * S,
        costs=pb.costs,
    )


def objective_array(
    pb: Problem, terms: dict[str, np.ndarray], ref: float
) -> np.ndarray:
    """:func:`objective_value` for arrays of terms."""
    o = pb.opt
    if o.objective == "weighted":
        return sum(w * terms[k] for k, w in o.weights.items())
    if o.objective == "stages":
        return terms["stages"] + 0.5 * terms["reagent_cost"] / max(ref, 1e-300) / 1e3
    return terms[o.objective]


# --------------------------------------------------------------------- objective
def objective_value(pb: Problem, cost: CascadeCost, ref: float) -> float:
    """Scalar objective of a costed design; ``ref`` scales the stage tie-break."""
    t = cost.objective_terms()
    o = pb.opt
    if o.objective == "weighted":
        return sum(w * t[k] for k, w in o.weights.items())
    if o.objective == "stages":
        # fewest stages, then the cheapest reagents (tie-break worth < 1 stage)
        return t["stages"] + 0.5 * t["reagent_cost"] / max(ref, 1e-300) / 1e3
    return t[o.objective]


# ----------------------------------------------------------------- the MILP loop
@dataclass
class OptimizeResult:
    """What the optimizer found, how, and how sure it is."""

    # "optimal" | "best_found" | "limit" | "unverified" | "infeasible" | "unknown"
    status: str
    claim: str
    problem: Problem
    best: Column | None
    case: dict | None  # ready-to-simulate case of the design
    verification: object | None  # CascadeResult of the re-simulation
    verified: bool
    spec_check: list[dict]
    columns: dict
    n_candidates: int
    n_pruned: int
    rounds: int
    verify_rounds: int
    kernel_calls: int
    milp: dict
    seconds: float
    binding: list[dict] = field(default_factory=list)
    message: str = ""
    certificate: dict = field(default_factory=dict)
    # columns tested at one reflux (Optimizer.threshold_test) and how many of
    # them that test cut (never simulated in full)
    threshold_tests: int = 0
    threshold_cut: int = 0

    def design_table(self) -> dict:
        b, pb = self.best, self.problem
        if b is None:
            return {}
        O, Qw, Qs = b.flows
        Qf = pb.case.feed.flow_L_h
        return {
            "extraction stages": b.stages[0],
            "scrub stages": b.stages[1],
            "strip stages": b.stages[2],
            "organic flow [L/h]": O,
            "scrub flow [L/h]": Qw,
            "scrub acidity [mol/L]": pb.c_scrub,
            "strip flow [L/h]": Qs,
            "strip acidity [mol/L]": pb.c_strip,
            "saponification [-]": b.saponification,
            **(
                {"side draw flow [L/h]": pb.draw_levels[b.lev]}
                if pb.draw_levels and pb.draw_levels[b.lev] is not None
                else {}
            ),
            "O/A extraction [-]": O / (Qf + Qw),
            "O/A scrub [-]": O / Qw,
            "O/A strip [-]": O / Qs,
            "reflux S [mol/mol feed RE]": b.S,
            "organic product P [mol/mol feed RE]": b.P / pb.F,
        }

    def to_dict(self) -> dict:
        b = self.best
        out = {
            "schema": "rexopt.cascade_optimum/1",
            "status": self.status,
            "claim": self.claim,
            "message": self.message,
            "objective": self.problem.opt.objective,
            "design": self.design_table(),
            "specs": self.spec_check,
            "binding": self.binding,
            "certificate": self.certificate,
            "cost": b.cost.as_dict() if b is not None and b.cost else None,
            "search": {
                "candidates": self.n_candidates,
                "pruned_by_fenske": self.n_pruned,
                "columns_simulated": len(self.columns),
                "threshold_tests": self.threshold_tests,
                "columns_cut_by_threshold_test": self.threshold_cut,
                "milp_rounds": self.rounds,
                "verification_rounds": self.verify_rounds,
                "kernel_calls": self.kernel_calls,
                "seconds": self.seconds,
                "ranges": {k: list(v) for k, v in self.problem.ranges.items()},
                "saponification_levels": self.problem.sap_levels,
            },
            "highs": self.milp,
            "case": self.case,
        }
        if self.verification is not None:
            out["simulation"] = self.verification.to_dict()
        return out


class _Milp:
    """The column-choice model: one variable per column (integer design), one
    convexity row (choose exactly one), the column's exact cost or lower bound as
    its objective coefficient; columns proven infeasible, set aside or cut off by
    an epsilon constraint (their stage count or reagent cost is known per column)
    get an upper bound of 0.

    With a single convexity row and column bounds the LP's optimum is the
    cheapest available column: each round's choice is computed as that argmin
    directly (a few microseconds), and the same LP is passed to HiGHS (highspy)
    once per search, at its end (:meth:`confirm`), which must agree --
    re-solving HiGHS every round cost about 60 ms per round through Pyomo for
    an answer known in closed form.  The matrix is totally unimodular,
    so HiGHS solves the LP relaxation and its vertex is integral (checked; a
    fractional answer would re-solve with binary variables).
    """

    def __init__(self, pb: Problem, keys: list[tuple]):
        self.keys = keys
        self.cost = np.zeros(len(keys))
        self.avail = np.zeros(len(keys), bool)
        self.choices = 0
        self.solves = 0
        self.seconds = 0.0
        self.last = None
        self.agreed: bool | None = None

    def set_all(self, cost: np.ndarray, avail: np.ndarray) -> None:
        self.cost = np.where(avail, cost, 0.0)
        self.avail = avail.copy()

    def choose(self) -> int | None:
        """The LP optimum: the cheapest available column (lowest index on ties)."""
        self.choices += 1
        if not self.avail.any():
            return None
        return int(np.argmin(np.where(self.avail, self.cost, np.inf)))

    def bound(self) -> float:
        """The LP's optimal value: no available column is cheaper."""
        return float(self.cost[self.avail].min()) if self.avail.any() else math.inf

    def confirm(self, i: int) -> None:
        """Solve the model with HiGHS; its optimum must equal column ``i``'s cost.

        The LP (min cost . z, sum z = 1, 0 <= z <= available) is passed to HiGHS
        through ``highspy`` directly: one row, so building it in Pyomo (and
        importing Pyomo, ~0.4 s) bought nothing.
        """
        import highspy

        n = len(self.keys)
        t0 = time.perf_counter()
        # the C++ object itself: the Python wrapper class (highspy.Highs) prints
        # HiGHS's banner on stdout when it is made, before output_flag can be set
        h = getattr(highspy, "_Highs", None) or highspy.Highs
        h = h()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", 60.0)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, 1
        lp.col_cost_ = np.asarray(self.cost, float)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.where(self.avail, 1.0, 0.0)
        lp.row_lower_ = np.array([1.0])
        lp.row_upper_ = np.array([1.0])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.arange(n + 1, dtype=np.int32)
        lp.a_matrix_.index_ = np.zeros(n, dtype=np.int32)
        lp.a_matrix_.value_ = np.ones(n)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        integral = False
        if status == highspy.HighsModelStatus.kOptimal:
            vals = np.asarray(h.getSolution().col_value)
            integral = vals.max() >= 1 - 1e-9
            if not integral:  # not expected (TU matrix): solve as a MILP
                h.changeColsIntegrality(
                    n,
                    np.arange(n, dtype=np.int32),
                    np.full(n, highspy.HighsVarType.kInteger),
                )
                h.run()
                status = h.getModelStatus()
                vals = np.asarray(h.getSolution().col_value)
        seconds = time.perf_counter() - t0
        self.solves += 1
        self.seconds += seconds
        ok = status == highspy.HighsModelStatus.kOptimal
        self.last = {
            "status": "optimal" if ok else "failed",
            "termination": h.modelStatusToString(status),
            "objective": float(h.getInfo().objective_function_value) if ok else None,
            "n_variables": n,
            "n_integer": 0 if integral else n,
            "n_constraints": 1,
            "seconds": seconds,
            "what": "cascade design (column choice)",
            "interface": "highspy " + h.version(),
        }
        if not ok:
            raise RuntimeError(
                "HiGHS did not solve the column-choice LP: "
                f"{h.modelStatusToString(status)}"
            )
        j = int(np.argmax(vals))
        c_i, c_j = float(self.cost[i]), float(self.cost[j])
        self.agreed = bool(abs(c_j - c_i) <= 1e-9 * max(abs(c_i), 1e-300))
        if not self.agreed:
            raise RuntimeError(
                f"HiGHS chose column {self.keys[j]} at {c_j:.12g}, the argmin "
                f"{self.keys[i]} costs {c_i:.12g}: the column-choice LP disagrees"
            )

    def info(self) -> dict:
        d = dict(self.last) if self.last else {}
        d.update(
            solves=self.solves,
            total_seconds=self.seconds,
            choices=self.choices,
            highs_agrees_with_argmin=self.agreed,
            n_variables=len(self.keys),
            n_constraints=1,
        )
        return d


class Optimizer:
    """Lazy column generation: HiGHS chooses, the kernel prices what it chose."""

    def __init__(self, pb: Problem):
        self.pb = pb
        r = pb.ranges
        keys, pruned = [], 0
        for n, m, k in product(*(range(r[s][0], r[s][1] + 1) for s in SECTIONS)):
            if (
                pb.opt.fenske_prune
                and pb.n_min_fenske is not None
                and n + m < pb.n_min_fenske - 1.0
            ):
                pruned += 1
                continue
            for lev in range(len(pb.sap_levels)):
                keys.append((n, m, k, lev))
        self.n_pruned = pruned * len(pb.sap_levels)
        if not keys:
            raise OptimizeError(
                f"no candidate design: every stage count in the ranges "
                f"{dict(pb.ranges)} is below Fenske's minimum of "
                f"{pb.n_min_fenske:.1f} extraction + scrub stages for these purities "
                f"(beta = {pb.beta_key:g}); widen optimize.stages"
            )
        self.keys = keys
        self.K = np.array(keys, dtype=int)
        self.index = {k: i for i, k in enumerate(keys)}
        self.cols: dict[tuple, Column] = {}
        self.S_lb = np.full(
            len(keys), pb.S_grid(pb.S_index(min(pb.S_lo.values()), up=True))
        )
        self.dead = np.zeros(len(keys), bool)
        self.milp = _Milp(pb, keys)
        self.kernel_calls = 0
        self.ref_reagent = None
        self.bump: dict[tuple, int] = {}
        self.eps_stages = math.inf
        self.eps_reagent = math.inf
        self.aside: set[tuple] = set()  # unresolved columns HiGHS picked
        self._val = np.zeros(len(keys))
        # columns cut by one feasibility test (see threshold_test): their probe,
        # kernel answers and the grid index tested
        self.tested: dict[tuple, dict] = {}
        self.n_threshold_tests = 0
        self.n_threshold_cut = 0

    # ------------------------------------------------------------- bookkeeping
    def evaluate(self, key, i_hi_known: int | None = None) -> Column:
        """Simulate one column; propagate what it proves to the columns below it.

        A column already threshold-tested (:meth:`threshold_test`) reuses its
        probe and kernel answers; ``i_hi_known`` is a grid index where it was
        found feasible."""
        lev = key[3]
        i_lo = i_hi = None
        for ck, c in self.cols.items():
            if ck[3] != lev:
                continue
            if (
                c.lo_index_end is not None
                and (c.feasible or not c.proven_infeasible)
                and all(a >= b for a, b in zip(ck[:3], key[:3], strict=True))
            ):  # dominating: its proven-infeasible reflux is infeasible here too
                i_lo = max(i_lo if i_lo is not None else -(10**9), c.lo_index_end)
            if (
                c.feasible
                and c.grid_index is not None
                and all(a <= b for a, b in zip(ck[:3], key[:3], strict=True))
            ):  # dominated: its feasible reflux is feasible here too
                i_hi = min(i_hi if i_hi is not None else 10**9, c.grid_index)
        if i_lo is None and i_hi is None:
            # no bound at this level yet: the same stages at another level are a
            # good guess (only a hint -- evaluate_column checks both ends)
            for ck, c in self.cols.items():
                if ck[:3] == key[:3] and c.feasible and c.grid_index is not None:
                    i_lo, i_hi = c.grid_index - 8, c.grid_index + 8
                    break
        for tk, t in self.tested.items():
            if (
                tk[3] == lev
                and t["end"]
                and all(a >= b for a, b in zip(tk[:3], key[:3], strict=True))
            ):  # a threshold test proved this reflux infeasible on a dominating one
                i_lo = max(i_lo if i_lo is not None else -(10**9), t["i"])
        if i_hi_known is not None:
            i_hi = i_hi_known if i_hi is None else min(i_hi, i_hi_known)
        t = self.tested.pop(key, None)
        col = evaluate_column(
            self.pb,
            key[:3],
            lev,
            i_lo=i_lo,
            i_hi=i_hi,
            probe=t["probe"] if t else None,
            memo=t["memo"] if t else None,
            P_guess=self._P_guess(key),
        )
        if key in self.bump and col.feasible:
            col = self._raise_reflux(col, self.bump[key])
        # the threshold test's kernel calls were counted when it ran
        self.kernel_calls += col.kernel_calls - (t["calls"] if t else 0)
        self.cols[key] = col
        below = np.all(self.K[:, :3] <= np.array(key[:3]), axis=1) & (
            self.K[:, 3] == lev
        )
        # monotonicity: fewer stages never need less reflux, and are infeasible
        # where this column is; only what the column *proved* is propagated (an
        # unknown kernel point proves nothing, a side-draw spec is not monotone:
        # the reflux bound propagated is the one the end-outlet specs proved)
        if col.lo_index is not None and not col.proven_infeasible:
            self.S_lb[self.index[key]] = max(self.S_lb[self.index[key]], col.S_lower)
        side_mono = self.pb.opt.side_draw_monotone
        lo_prop = col.lo_index if side_mono else col.lo_index_end
        if lo_prop is not None and not col.proven_infeasible:
            S_end = self.pb.S_grid(lo_prop + 1)
            self.S_lb[below] = np.maximum(self.S_lb[below], S_end)
        if col.proven_infeasible and (side_mono or not col.side_only):
            self.dead[below] = True
        return col

    def _P_guess(self, key) -> float | None:
        """The operating cut of the nearest simulated feasible column (stages,
        then operating level): a first cut to try (see :func:`_feasible_at`)."""
        best, bd = None, math.inf
        for ck, c in self.cols.items():
            if c.feasible:
                d = sum(abs(a - b) for a, b in zip(ck[:3], key[:3], strict=True))
                d += 0.5 * (ck[3] != key[3])
                if d < bd:
                    best, bd = c.P, d
        return best

    def _incumbent_objective(self) -> float:
        """Objective of the cheapest exact feasible column the current choice
        model admits (epsilon constraints included); inf if none."""
        best = math.inf
        for k, c in self.cols.items():
            i = self.index[k]
            if c.feasible and c.exact and c.cost is not None and self.milp.avail[i]:
                best = min(best, float(self.milp.cost[i]))
        return best

    def threshold_index(self, key, C: float) -> int | None:
        """The highest reflux-grid index at which column ``key``'s lower-bound
        cost is still below ``C``: above it the column cannot beat ``C`` whatever
        the kernel says.  None if every reflux of the range stays below ``C``
        (a test could not cut the column)."""
        pb = self.pb
        lev = key[3]
        g_lo, g_hi = grid_range(pb, lev)
        i0 = max(g_lo, pb.S_index(float(self.S_lb[self.index[key]]), up=True))
        if i0 > g_hi:
            return None
        idx = np.arange(i0, g_hi + 1)
        S = pb.S_lo[0] * (1.0 + pb.opt.reflux_step) ** idx
        K = np.repeat(np.array([key], dtype=int), len(idx), axis=0)
        Pa, Pb = self._P_envelope()
        kappa = self._inventory_ratio()
        ref = self.ref_reagent
        val = np.minimum(
            objective_array(pb, bound_terms(pb, K, S, Pa, kappa), ref),
            objective_array(pb, bound_terms(pb, K, S, Pb, kappa), ref),
        )
        under = np.nonzero(val < C)[0]
        if len(under) == 0 or under[-1] == len(idx) - 1:
            return None
        return int(idx[under[-1]])

    def threshold_test(self, key) -> bool:
        """Cut a column with one feasibility test instead of its whole search.

        With an incumbent of objective C, the column can only be cheaper if it is
        feasible at a reflux whose lower-bound cost is below C: at the highest
        such grid index ``i`` (:meth:`threshold_index`).  The kernel tests that
        one reflux; if no cut is feasible there (proven on converged points),
        the least feasible reflux is above ``i`` (feasibility is monotone in the
        reflux, the assumption of the column's own bisection), so the column's
        cost is at least C: its bound is raised to the cost at grid ``i + 1``
        and, if the end-outlet specs alone proved it, so is every column with
        fewer stages.  Returns True if the column was cut; otherwise (feasible
        there, or unknown) the caller simulates it in full, reusing this test.
        """
        if key in self.tested:
            return False
        C = self._incumbent_objective()
        if not math.isfinite(C):
            return False
        i = self.threshold_index(key, C)
        if i is None:
            return False
        pb = self.pb
        probe = Probe(pb, key[:3], key[3])
        probe.P_guess = self._P_guess(key)
        a = _feasible_at(probe, pb.S_grid(i))
        self.kernel_calls += probe.calls
        self.n_threshold_tests += 1
        self.tested[key] = {
            "probe": probe,
            "memo": {i: a},
            "calls": probe.calls,
            "i": i,
            "end": a.state is False and (pb.opt.side_draw_monotone or not a.side_only),
        }
        if a.state is not False:
            return False
        self.n_threshold_cut += 1
        k = self.index[key]
        S_next = pb.S_grid(i + 1)
        self.S_lb[k] = max(self.S_lb[k], S_next)
        if self.tested[key]["end"]:
            below = np.all(self.K[:, :3] <= np.array(key[:3]), axis=1) & (
                self.K[:, 3] == key[3]
            )
            self.S_lb[below] = np.maximum(self.S_lb[below], S_next)
        return True

    def _raise_reflux(self, col: Column, steps: int) -> Column:
        pb = self.pb
        probe = Probe(pb, col.stages, col.lev)
        i = col.grid_index + steps
        S = pb.S_grid(i)
        a = _feasible_at(probe, S, window=True)
        col.S, col.grid_index = S, i
        col.feasible = bool(a.state)
        col.exact = False  # raised above its least reflux: an upper point
        if not a.state:
            col.cost = None
            col.note = "no feasible cut after raising the reflux"
            return col
        P = (
            a.P
            if any(not s_.searched for s_ in pb.opt.specs)
            else (0.5 * (a.P_lo + a.P_hi))
        )
        pt = probe.run(S, P, keep=True)
        if _pass_state(pb, pt, list(range(len(pb.opt.specs)))) is not True:
            P = a.P
            pt = probe.run(S, P, keep=True)
        col.kernel_calls += probe.calls
        col.P, col.flows = P, pb.flows(S, P, col.lev)
        col.values = pt.values
        col.feasible = pt.ok and all(v >= 0 for v in margins(pb, pt.values))
        col.cost = column_cost(pb, probe, pt) if pt.ok else None
        col.exact = col.feasible  # the cheapest point that passes verification
        col.note = f"reflux raised {steps} grid step(s) after a verification miss"
        return col

    def _inventory_ratio(self) -> float:
        """Inventory value per (stage x reflux) bound for unsimulated columns. [USD]

        90 % of the lowest ratio over simulated columns: the RE held in a stage
        scales with the organic capacity that passes it (S) -- an empirical
        bound, the one assumption of the optimality claim beyond monotonicity.
        (One ratio for the whole bank: per-section ratios vary more between
        designs -- the extraction stages of a long extraction section hold
        less per stage -- and bound worse.)
        """
        r = [
            c.cost.inventory_USD / (sum(c.stages) * c.S)
            for c in self.cols.values()
            if c.feasible and c.cost
        ]
        return 0.9 * min(r) if r else 0.0

    def _P_envelope(self):
        Ps = [c.P for c in self.cols.values() if c.feasible]
        if not Ps:
            return self.pb.P_lo, self.pb.P_hi
        return min(Ps) * 0.99, max(Ps) * 1.01

    def refresh(self) -> int:
        """Update every column's cost (exact or bound) in the model. -> # available."""
        pb = self.pb
        Pa, Pb = self._P_envelope()
        kappa = self._inventory_ratio()
        ref = self.ref_reagent
        # bounds for all columns at once (concave in P: the minimum is at an end)
        ta = bound_terms(pb, self.K, self.S_lb, Pa, kappa)
        tb = bound_terms(pb, self.K, self.S_lb, Pb, kappa)
        val = np.minimum(objective_array(pb, ta, ref), objective_array(pb, tb, ref))
        reag = np.minimum(ta["reagent_cost"], tb["reagent_cost"])
        stages = self.K[:, :3].sum(axis=1)
        self._val = val
        cost = val.astype(float)
        avail = ~self.dead
        rg = reag.astype(float)
        for key, c in self.cols.items():
            i = self.index[key]
            if c.feasible and c.exact and c.cost is not None:
                cost[i] = objective_value(pb, c.cost, ref)
                rg[i] = c.cost.reagent_cost_USD_y
                avail[i] = True
            elif c.proven_infeasible or key in self.aside:
                avail[i] = False
            # else: not resolved (kernel points without a steady state left its
            # least reflux open): the lower bound, as for unsimulated columns
        avail = avail & (stages <= self.eps_stages) & (rg <= self.eps_reagent)
        self.milp.set_all(cost, avail)
        return int(avail.sum())

    # ----------------------------------------------------------------- driving
    def run(
        self,
        t_start: float,
        *,
        eps_stages: float | None = None,
        eps_reagent: float | None = None,
    ):
        """Lazy loop until the chosen column's cost is exact.

        An unresolved column that is chosen (its least reflux left open by
        kernel points without a steady state, after every retry) cannot be priced
        exactly: it is set aside (``self.aside``) with its lower bound, which the
        certificate (:meth:`certificate`) reports, and HiGHS re-chooses.

        Returns (key | None, rounds, finished: bool); ``finished`` False when the
        round or time limit stopped the loop (key: best feasible found).
        """
        pb = self.pb
        self.eps_stages = math.inf if eps_stages is None else eps_stages
        self.eps_reagent = math.inf if eps_reagent is None else eps_reagent
        self.aside = set()
        # the corners (most stages) bound everything below them
        r = pb.ranges
        for lev in range(len(pb.sap_levels)):
            corner = (r["extraction"][1], r["scrub"][1], r["strip"][1], lev)
            if corner in self.index and corner not in self.cols:
                self.evaluate(corner)
        if self.ref_reagent is None:
            self.ref_reagent = _reference_reagent(self.cols, pb)
        rounds = 0
        while True:
            navail = self.refresh()
            if navail == 0:
                return None, rounds, True
            i = self.milp.choose()
            if i is None:
                return None, rounds, True  # epsilon constraint leaves nothing
            rounds += 1
            key = self.keys[i]
            if key in self.cols:
                c = self.cols[key]
                if c.feasible and c.exact:
                    self.milp.confirm(i)
                    return key, rounds, True
                self.aside.add(key)
                continue
            # before simulating an interior column, simulate its projections on the
            # far faces of the ranges: each bounds a whole row of columns
            n, m, k, lev = key
            proj = [
                p
                for p in (
                    (n, r["scrub"][1], r["strip"][1], lev),
                    (r["extraction"][1], m, r["strip"][1], lev),
                )
                if p in self.index and p not in self.cols
            ]
            if proj:
                for p in proj:
                    self.evaluate(p)
                continue
            if (
                rounds >= pb.opt.max_rounds
                or time.perf_counter() - t_start > pb.opt.time_limit_s
            ):
                self.evaluate(key)
                return self._best_exact(), rounds, False
            if self.threshold_test(key):
                continue
            t = self.tested.get(key)
            feas = [i for i, a in t["memo"].items() if a.state] if t else []
            self.evaluate(key, i_hi_known=min(feas) if feas else None)

    def certificate(self, chosen, finished: bool) -> dict:
        """What the search proved (call after :meth:`run`).

        ``bound``: no design in the searched space has a lower objective (given
        the stated assumptions): the chosen exact column's objective, or lower if
        a set-aside unresolved column's lower bound is lower.  ``incumbent``: the
        best feasible design found (an unresolved column's feasible point counts).
        ``optimal`` only if the loop finished and no unresolved column's bound is
        below the incumbent (nothing unknown can hide a cheaper design).
        """
        pb, ref = self.pb, self.ref_reagent
        self.refresh()
        val = self._val
        inc, inc_v = None, math.inf
        for key, c in self.cols.items():
            if not (c.feasible and c.cost):
                continue
            if sum(key[:3]) > self.eps_stages:
                continue
            v = objective_value(pb, c.cost, ref)
            if v < inc_v:
                inc, inc_v = key, v
        bounds = {}
        if chosen is not None and chosen in self.cols and self.cols[chosen].exact:
            bounds["chosen"] = objective_value(pb, self.cols[chosen].cost, ref)
        aside = {
            k: float(val[self.index[k]])
            for k in sorted(self.aside)
            if not self.dead[self.index[k]]
        }
        hidden = {k: v for k, v in aside.items() if v < inc_v * (1 - 1e-9)}
        # every column still available to HiGHS carries its exact cost or a lower
        # bound, so their minimum bounds everything not set aside or excluded
        if not finished and self.milp.avail.any():
            bounds["open"] = self.milp.bound()
        bound = min([*bounds.values(), *aside.values()], default=math.inf)
        unresolved = [k for k, c in self.cols.items() if not c.resolved]
        optimal = finished and inc is not None and not hidden
        return {
            "incumbent": inc,
            "incumbent_objective": inc_v if inc is not None else None,
            "bound": bound if math.isfinite(bound) else None,
            "gap": (inc_v - bound) / abs(inc_v)
            if inc is not None and math.isfinite(bound) and inc_v != 0
            else None,
            "optimal": optimal,
            "finished": finished,
            "unresolved_columns": [list(k) for k in unresolved],
            "set_aside_bounds": [
                {"column": list(k), "lower_bound": v} for k, v in aside.items()
            ],
            "could_hide_cheaper": [list(k) for k in hidden],
            "unknown_kernel_points": int(
                sum(c.unknown_points for c in self.cols.values())
            ),
            "rescued_kernel_points": int(
                sum(c.rescued_points for c in self.cols.values())
            ),
            "proven_infeasible_columns": int(
                sum(c.proven_infeasible for c in self.cols.values())
            ),
        }

    def _best_exact(self):
        best, bv = None, math.inf
        for key, c in self.cols.items():
            if c.feasible and c.cost:
                v = objective_value(self.pb, c.cost, self.ref_reagent)
                if v < bv:
                    best, bv = key, v
        return best


def monotonicity_violations(
    cols: dict, skip=(), side_monotone: bool = False
) -> list[tuple]:
    """Pairs of simulated columns (t <= t', same level) where t needs *less*
    reflux than t' by more than one grid step -- evidence against the assumption
    behind the bounds.  t' counts with the reflux its end-outlet specs proved
    infeasible (with ``side_monotone``, its side-draw misses too: then they are
    assumed monotone as well)."""
    feas = [
        (k, c)
        for k, c in cols.items()
        if c.feasible and c.grid_index is not None and k not in skip
    ]

    def lo(c):
        return c.lo_index if side_monotone else c.lo_index_end

    decided = [
        (k, c)
        for k, c in cols.items()
        if lo(c) is not None and lo(c) >= 0 and k not in skip
    ]
    out = []
    for k1, c1 in feas:
        for k2, c2 in decided:
            if k1 == k2 or k1[3] != k2[3]:
                continue
            # t1 <= t2 feasible at a reflux where t2 (more stages) was proven
            # infeasible, by more than one grid step
            if all(a <= b for a, b in zip(k1[:3], k2[:3], strict=True)):
                if c1.grid_index < lo(c2):
                    out.append((k1[:3], k2[:3]))
    return out


def _reference_reagent(cols: dict, pb: Problem) -> float:
    """Scale of the stage objective's reagent tie-break: the reagent cost of the
    first level's corner column (the same for the optimizer and the enumeration)."""
    r = pb.ranges
    c = cols.get((r["extraction"][1], r["scrub"][1], r["strip"][1], 0))
    if c is not None and c.feasible and c.cost:
        return c.cost.reagent_cost_USD_y
    ex = [c.cost.reagent_cost_USD_y for c in cols.values() if c.feasible and c.cost]
    return min(ex) if ex else 1.0


# ----------------------------------------------------------------- verification
def spec_check(pb: Problem, result) -> list[dict]:
    """Check every spec on a CascadeResult (the public simulation)."""
    out = []
    for s in pb.opt.specs:
        v = spec_value(s, result)
        out.append(
            {
                "spec": s.label,
                "stream": s.stream,
                "component": s.component,
                "kind": s.kind,
                "target": s.target,
                "value": v,
                "tolerance": pb.opt.spec_tolerance,
                "met": bool(v >= s.target - pb.opt.spec_tolerance),
            }
        )
    return out


def design_case(pb: Problem, col: Column) -> dict:
    """The ready-to-simulate case dict of a column (no [optimize] table)."""
    return Probe(pb, col.stages, col.lev).case_dict(col.S, col.P)


def verify(pb: Problem, col: Column):
    import rexopt

    case = design_case(pb, col)
    res = rexopt.simulate(case)
    return case, res, spec_check(pb, res)


# ------------------------------------------------------------------- diagnosis
def spec_text(s: Spec) -> str:
    """A spec as the user gave it: the target printed exactly (Python's shortest
    round-trip form: 0.99999999 stays 0.99999999, never "1" or "100.000 %")."""
    return f"{s.component} {s.kind} in {s.stream} >= {s.target!r}"


def fmt_fraction(v: float) -> str:
    """A fraction with enough digits to tell it from 1 (0.999999995 is not "1")."""
    if not np.isfinite(v):
        return "none (the kernel found no steady state)"
    if 0.0 < v < 1.0 and v > 0.999:
        d = max(6, math.ceil(-math.log10(1.0 - v)) + 2)
        return f"{v:.{d}f}"
    return f"{v:.6g}"


def diagnose(pb: Problem) -> list[dict]:
    """Best achievable value of every spec at the largest stages and organic flow
    of the search space, over all operating levels.

    For each end-outlet spec: its best value with every *other* end-outlet spec
    met (the cut set at the edge the opposite-direction specs allow), and whether
    it is binding (best < target).  For a side-draw spec: its best value over
    cuts sampled across the bracket, preferring cuts where the end-outlet specs
    are met (``others_met`` says which).  Values come from converged kernel
    points only (an unknown point is retried, then left out).
    """
    r = pb.ranges
    stages = (r["extraction"][1], r["scrub"][1], r["strip"][1])
    best: dict[int, dict] = {}
    specs = pb.opt.specs
    ends = [i for i, s in enumerate(specs) if s.searched]
    for lev in range(len(pb.sap_levels)):
        probe = Probe(pb, stages, lev)
        S = pb.S_grid(pb.S_index(pb.S_hi[lev], up=False))
        Plo, _, _ = _cut_search(probe, S, "lo")
        Phi, _, _ = _cut_search(probe, S, "hi")
        Pmax = min(pb.P_hi, S * pb.F) * 0.999
        cand: dict[int, list[tuple[float, bool]]] = {}
        for i, s in enumerate(specs):
            if not s.searched:
                continue
            edge = Phi if s.increasing else Plo
            met = bool(np.isfinite(edge))
            if not met:
                # the opposite specs cannot be met at all: report the spec at the
                # edge of the cut bracket that favours it
                edge = Pmax if s.increasing else pb.P_lo
            pt = probe.run(S, min(edge, Pmax))
            cand[i] = [(pt.values[i] if pt.ok else math.nan, met)]
        side = [i for i, s in enumerate(specs) if not s.searched]
        if side:
            for q in np.linspace(pb.P_lo, Pmax, 15):
                pt = probe.run(S, float(q))
                if not pt.ok:
                    continue
                m = margins(pb, pt.values)
                met = all(m[j] >= 0 for j in ends)
                for i in side:
                    cand.setdefault(i, []).append((pt.values[i], met))
        for i, vals in cand.items():
            s = specs[i]
            good = [v for v, met in vals if met and np.isfinite(v)]
            others_met = bool(good)
            pool = good or [v for v, _ in vals if np.isfinite(v)]
            v = max(pool) if pool else math.nan
            old = best.get(i)
            if (
                old is None
                or (others_met and not old["others_met"])
                or (others_met == old["others_met"] and v > old["best_value"])
            ):
                best[i] = {
                    "spec": spec_text(s),
                    "stream": s.stream,
                    "component": s.component,
                    "kind": s.kind,
                    "target": s.target,
                    "target_given": repr(s.target),
                    "best_value": v,
                    "best_value_text": fmt_fraction(v),
                    "binding": bool(not v >= s.target - pb.opt.spec_tolerance),
                    "others_met": others_met,
                    "at_stages": list(stages),
                    "saponification": pb.sap_levels[lev],
                    "side_draw_flow_L_h": pb.draw_levels[lev]
                    if pb.draw_levels
                    else None,
                    "organic_flow_L_h": pb.flows(S, pb.P_lo, lev)[0],
                }
    return [best[i] for i in sorted(best)]


def _fmt_binding(pb: Problem, diag: list[dict]) -> str:
    bind = [d for d in diag if d["binding"]] or diag
    parts = []
    for d in bind:
        others = (
            "with the other specs met"
            if d["others_met"]
            else "(the other specs cannot be met at the same time either)"
        )
        parts.append(
            f"{d['spec']} cannot be met: best achievable {d['best_value_text']} "
            f"{others}, at the most stages allowed "
            f"({'/'.join(map(str, d['at_stages']))} extraction/scrub/strip) and the "
            f"largest organic flow ({d['organic_flow_L_h']:.4g} L/h, "
            f"saponification {d['saponification']:.3g}"
            + (
                f", side draw {d['side_draw_flow_L_h']:.4g} L/h"
                if d["side_draw_flow_L_h"] is not None
                else ""
            )
            + ")"
        )
    msg = "; ".join(parts)
    if not any(d["binding"] for d in diag):
        msg = (
            "every spec is reachable alone at the bounds of the search space but "
            "not all together: " + msg
        )
    if pb.n_min_fenske is not None:
        nmax = pb.ranges["extraction"][1] + pb.ranges["scrub"][1]
        msg += (
            f". Fenske's minimum (total reflux, beta {pb.beta_key:g}) is "
            f"{pb.n_min_fenske:.1f} extraction + scrub stages; the ranges allow {nmax}"
        )
    return msg


# ----------------------------------------------------------------------- driver
def optimize(
    source,
    *,
    opt: OptimizeSpec | dict | None = None,
    where: str | None = None,
    eps_stages: float | None = None,
    verify_design: bool = True,
    _optimizer: Optimizer | None = None,
) -> OptimizeResult:
    """Optimize a cascade design.

    Parameters
    ----------
    source : path, dict or CascadeCase
        A cascade case with an ``[optimize]`` table, or a plain case with ``opt``.
    opt : OptimizeSpec or dict, optional
        The optimize table (overrides the case's).
    eps_stages : float, optional
        Epsilon constraint: at most this many stages in total. [stages]

    Returns
    -------
    OptimizeResult
        ``status`` "optimal" (proven over the searched ranges), "limit" (round or
        time limit: best found, not proven) or "infeasible" (``binding`` names the
        spec(s) and their best achievable values).
    """
    t0 = time.perf_counter()
    if _optimizer is not None:
        pb, optim = _optimizer.pb, _optimizer
    else:
        pb = problem_from(source, opt=opt, where=where)
        optim = Optimizer(pb)
    key, rounds, finished = optim.run(t0, eps_stages=eps_stages)
    cert = optim.certificate(key, finished)
    key = cert["incumbent"]
    verify_rounds = 0
    case = res = None
    checks: list[dict] = []
    verified = False
    while key is not None and verify_design:
        col = optim.cols[key]
        case, res, checks = verify(pb, col)
        verified = all(c["met"] for c in checks)
        if verified or verify_rounds >= 5:
            break
        # tighten: raise this column's reflux one grid step and let HiGHS re-choose
        verify_rounds += 1
        optim.bump[key] = optim.bump.get(key, 0) + 1
        del optim.cols[key]
        optim.evaluate(key)
        key, r2, finished = optim.run(t0, eps_stages=eps_stages)
        rounds += r2
        cert = optim.certificate(key, finished)
        key = cert["incumbent"]
    seconds = time.perf_counter() - t0
    base = dict(
        problem=pb,
        columns=optim.cols,
        n_candidates=len(optim.keys),
        n_pruned=optim.n_pruned,
        rounds=rounds,
        verify_rounds=verify_rounds,
        kernel_calls=optim.kernel_calls,
        milp=optim.milp.info(),
        seconds=seconds,
        certificate=cert,
        threshold_tests=optim.n_threshold_tests,
        threshold_cut=optim.n_threshold_cut,
    )
    n_unres = len(cert["unresolved_columns"])
    unk_txt = (
        f"{n_unres} column(s) stayed unresolved ({cert['unknown_kernel_points']} "
        f"kernel point(s) without a steady state after retries; "
        f"{cert['rescued_kernel_points']} point(s) rescued by a retry)"
    )
    if key is None:
        if n_unres:
            # nothing feasible found, but not everything was decided: not a proof
            msg = (
                f"no feasible design found, and infeasibility is NOT proven: "
                f"{unk_txt}; undecided columns, e.g. "
                f"{', '.join('/'.join(map(str, k[:3])) for k in cert['unresolved_columns'][:5])}"
            )
            return OptimizeResult(
                status="unknown",
                claim="undecided: the kernel found no steady state where it decides",
                best=None,
                case=None,
                verification=None,
                verified=False,
                spec_check=[],
                binding=[],
                message=msg,
                **base,
            )
        diag = diagnose(pb) if eps_stages is None else []
        msg = (
            _fmt_binding(pb, diag)
            if diag
            else f"no design meets the specs with at most {eps_stages:g} stages"
        )
        return OptimizeResult(
            status="infeasible",
            claim="no feasible design in the searched ranges (every column decided)",
            best=None,
            case=None,
            verification=None,
            verified=False,
            spec_check=[],
            binding=diag,
            message=msg,
            **base,
        )
    best = optim.cols[key]
    notes = []
    if best.S <= pb.S_lo[best.lev] * (1 + 1.5 * pb.opt.reflux_step):
        notes.append(
            "the organic flow sits at its lower bound (optimize.organic_flow_L_h): "
            "the specs allow less reflux than the range does"
        )
    if best.S >= pb.S_hi[best.lev] * (1 - 1.5 * pb.opt.reflux_step):
        notes.append("the organic flow sits at its upper bound")
    if n_unres:
        notes.append(unk_txt)
    proven = cert["optimal"]
    viol = monotonicity_violations(
        optim.cols, skip=set(optim.bump), side_monotone=pb.opt.side_draw_monotone
    )
    if viol:
        proven = False
        a, b = viol[0]
        notes.append(
            f"monotonicity in stages failed on {len(viol)} simulated pair(s), e.g. "
            f"{a} is feasible at less reflux than {b} needs: the claim is only "
            "'best found'"
        )
    gap_txt = (
        f"proven lower bound {cert['bound']:.6g} (gap {100 * cert['gap']:.3g} %)"
        if cert["bound"] is not None and cert["gap"] is not None
        else "no lower bound proven"
    )
    if proven and verified:
        status = "optimal"
        claim = (
            f"optimal over the searched ranges ({_ranges_text(pb)}; "
            f"{len(pb.sap_levels)} operating level(s) of saponification x side draw): "
            f"HiGHS chose a column whose "
            f"cost is exact while every other column's cost is at least its "
            f"lower bound "
            f"(monotonicity in stages; reflux grid step {pb.opt.reflux_step:g})"
        )
        if n_unres:
            claim += (
                f"; {n_unres} unresolved column(s) all have lower bounds at or above "
                "this cost"
            )
        if any(not s_.searched for s_ in pb.opt.specs):
            claim += (
                f"; side-draw specs checked at {SIDE_SAMPLES} cuts across each "
                "feasible window (sampled, not searched)"
            )
            if pb.opt.side_draw_monotone:
                claim += (
                    "; side-draw specs assumed monotone in the stage counts "
                    "(optimize.side_draw_monotone = true: a side-draw miss pruned "
                    "the designs with fewer stages)"
                )
        uses_inv = pb.opt.objective == "annualized_cost" or (
            pb.opt.objective == "weighted" and pb.opt.weights.get("annualized_cost")
        )
        if uses_inv:
            claim += (
                "; the RE inventory of unsimulated columns is bounded empirically "
                "(90 % of the lowest inventory/(stages x S) ratio simulated)"
            )
    elif proven and not verify_design:
        status = "optimal"
        claim = "optimal over the searched ranges (not re-simulated: verify_design off)"
    elif not verified and verify_design:
        status = "unverified"
        claim = "the chosen design failed kernel verification"
    elif not finished:
        status = "limit"
        claim = f"best found; not proven (round or time limit); {gap_txt}"
    else:
        status = "best_found"
        hid = cert["could_hide_cheaper"]
        claim = f"best found, not proven optimal: {gap_txt}" + (
            f"; {len(hid)} unresolved column(s) could hide a cheaper design, "
            f"e.g. {'/'.join(map(str, hid[0][:3]))}"
            if hid
            else ""
        )
    return OptimizeResult(
        status=status,
        claim=claim,
        message="; ".join(notes),
        best=best,
        case=case,
        verification=res,
        verified=verified,
        spec_check=checks,
        **base,
    )


def _ranges_text(pb: Problem) -> str:
    return ", ".join(f"{s} {lo}-{hi}" for s, (lo, hi) in pb.ranges.items())


def problem_from(source, *, opt=None, where=None) -> Problem:
    """Problem from a case (path, dict or CascadeCase) and its ``[optimize]``
    table, or ``opt`` (dict or OptimizeSpec) which takes precedence."""
    if isinstance(source, CascadeCase):
        case, o = source, None
    elif opt is not None and (
        isinstance(source, dict)
        and "optimize" not in source
        or not isinstance(source, dict)
        and "optimize" not in _peek(source)
    ):
        case, o = load_case(source, name=where), None
    else:
        case, o = split_case(source, where=where)
    if opt is not None:
        o = opt if isinstance(opt, OptimizeSpec) else _validate_opt(opt, where)
        _check_against_case(case, o, where or "<case>")
    if o is None:
        raise OptimizeError(f"{where or '<case>'}: optimize: missing")
    return build_problem(case, o)


def _peek(path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _validate_opt(d: dict, where) -> OptimizeSpec:
    try:
        return OptimizeSpec.model_validate(d)
    except ValidationError as e:
        lines = [
            f"{where or '<optimize>'}: optimize.{'.'.join(map(str, err['loc']))}: "
            f"{err.get('input')!r} -- {err['msg']}"
            for err in e.errors()
        ]
        raise OptimizeError("\n".join(lines)) from None


# ------------------------------------------------------------------ enumeration
@dataclass
class EnumerationResult:
    best: Column | None
    columns: dict
    seconds: float
    kernel_calls: int
    objective: float

    @property
    def unresolved(self) -> list[tuple]:
        """Columns the kernel could not decide (points without a steady state)."""
        return [k for k, c in self.columns.items() if not c.resolved]


def enumerate_designs(pb: Problem) -> EnumerationResult:
    """Exhaustive baseline: every integer design in the ranges, each with the same
    1-D kernel search on the flows (no bounds, no pruning)."""
    t0 = time.perf_counter()
    r = pb.ranges
    cols, calls = {}, 0
    for n, m, k in product(*(range(r[s][0], r[s][1] + 1) for s in SECTIONS)):
        for lev in range(len(pb.sap_levels)):
            c = evaluate_column(pb, (n, m, k), lev)
            cols[(n, m, k, lev)] = c
            calls += c.kernel_calls
    ref = _reference_reagent(cols, pb)
    best, bv = None, math.inf
    for c in cols.values():
        if c.feasible and c.cost:
            v = objective_value(pb, c.cost, ref)
            if v < bv:
                best, bv = c, v
    return EnumerationResult(best, cols, time.perf_counter() - t0, calls, bv)


# ----------------------------------------------------------------------- pareto
def pareto_stages(pb: Problem, n_points: int = 8) -> list[dict]:
    """Epsilon-constraint front: least reagent cost for a cap on total stages."""
    import copy

    pb2 = copy.copy(pb)
    pb2.opt = pb.opt.model_copy(update={"objective": "reagent_cost"})
    optim = Optimizer(pb2)
    r = pb.ranges
    lo = sum(v[0] for v in r.values())
    hi = sum(v[1] for v in r.values())
    caps = sorted({int(round(v)) for v in np.linspace(lo, hi, n_points)})
    rows = []
    t0 = time.perf_counter()
    for cap in caps:
        key, rounds, proven = optim.run(time.perf_counter(), eps_stages=cap)
        if key is None:
            rows.append({"max_stages": cap, "feasible": False})
            continue
        c = optim.cols[key]
        rows.append(
            {
                "max_stages": cap,
                "feasible": True,
                "total_stages": sum(c.stages),
                "stages": "/".join(map(str, c.stages)),
                "reagent_cost_USD_y": c.cost.reagent_cost_USD_y,
                "annualized_USD_y": c.cost.annualized_USD_y,
                "reflux_S": c.S,
                "proven": proven,
            }
        )
    for row in rows:
        row["front_seconds"] = time.perf_counter() - t0
    return rows


def pareto_recovery(pb: Problem, n_points: int = 5) -> list[dict]:
    """Epsilon-constraint front: least objective for a floor on the first recovery
    spec (or on the first spec's recovery in its stream when none is given)."""
    spec_i = next((i for i, s in enumerate(pb.opt.specs) if s.kind == "recovery"), None)
    rows = []
    if spec_i is None:
        base = pb.opt.specs[0]
        targets = np.linspace(0.95, 0.999, n_points)
        extra = True
    else:
        base = pb.opt.specs[spec_i]
        t = base.target
        targets = np.linspace(max(0.5, t - 0.04), min(0.9999, t + 0.004), n_points)
        extra = False
    comp = base.component
    stream = base.stream
    for tg in targets:
        specs = list(pb.opt.specs)
        new = Spec(stream=stream, component=comp, recovery_min=float(tg))
        if extra:
            specs = specs + [new]
        else:
            specs[spec_i] = new
        opt2 = pb.opt.model_copy(update={"specs": specs})
        pb2 = build_problem(pb.case, opt2)
        res = optimize(None, verify_design=False, _optimizer=Optimizer(pb2))
        row = {"recovery_min": float(tg), "spec": new.label, "status": res.status}
        if res.best is not None:
            c = res.best
            row.update(
                stages="/".join(map(str, c.stages)),
                objective=objective_value(
                    pb2, c.cost, res.best.cost.reagent_cost_USD_y
                ),
                reagent_cost_USD_y=c.cost.reagent_cost_USD_y,
                annualized_USD_y=c.cost.annualized_USD_y,
            )
        rows.append(row)
    return rows


__all__ = [
    "OBJECTIVES",
    "Column",
    "EnumerationResult",
    "OptimizeError",
    "OptimizeResult",
    "OptimizeSpec",
    "Optimizer",
    "Problem",
    "Spec",
    "build_problem",
    "diagnose",
    "enumerate_designs",
    "evaluate_column",
    "optimize",
    "pareto_recovery",
    "pareto_stages",
    "problem_from",
    "split_case",
    "verify",
]

# keep CaseError/CascadeError importable from here for callers catching both
_ = (CaseError, CascadeError)
