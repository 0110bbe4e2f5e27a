"""Countercurrent SX cascade: network, equilibrium parameters, kernel call, results.

A :class:`Cascade` turns a validated case (``rexopt.case``) into the arrays the
kernel solves (``rexopt.kernels.solve_cascade``; see docs/ARCHITECTURE.md for the
equations), closes the organic loop when asked, and wraps the solution in a
:class:`~rexopt.results.CascadeResult`.

Stage numbering: the kernel uses 0-based stages 0..N-1 along the organic flow
(extraction, then scrub, then strip); case files and reports use 1-based numbers.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np

from rexopt import kernels, watch
from rexopt.case import CascadeCase, CaseError, load_case
from rexopt.chemistry import (
    agents,
    element,
    p507_relative_affinities,
    read_data,
)

SECTIONS = ("extraction", "scrub", "strip")
# how the kernel started (info[INFO_PATH]); see docs/kernel.md
START_PATHS = (
    "warm start",
    "linear",
    "continuation",
    "pseudo-transient",
    "linear (exact elimination)",
)
EXACT_START = START_PATHS[4]  # constant D: relative accuracy at any circulation
# concentrations above this are reported but warned about: no aqueous or organic
# phase holds that much metal (the constant-D model has no loading limit, so a
# component held up in a high-reflux section piles up without bound) [mol/L]
PHYSICAL_MAX_MOL_L = 100.0
# fallback walk in organic flow (Cascade._organic_flow_walk): relative offsets of
# the starting flow, tried below then above the case's flow, and a bound on the
# kernel calls of the whole fallback
WALK_OFFSETS = (1e-4, 1e-3, 1e-2)
WALK_MAX_SOLVES = 400
WALK_ORIGIN_SOLVES = 80  # kernel calls for the walk from one origin
# second fallback (Cascade._feed_walk): the feed's metal concentrations scaled by
# each of these factors, solved cold, then raised back to the case's in
# warm-started steps of the log of the factor; kernel calls for the whole fallback
FEED_WALK_ORIGINS = (0.1, 0.01)
FEED_WALK_MAX_SOLVES = 120
# last fallback (Cascade._arclength_walk, after the stage-count walk):
# pseudo-arclength continuation (rexopt.continuation) from each of these
# neighbours of the case, tried in turn, each from the kernel's cold solve
# there: the organic flow x (1 + offset), the
# base on the saponified organic x factor (pH models), or the feed's metals x factor
# (on the seed-0 stress failures: with paths of up to 1,500 steps the cascades
# reached came from 0.95 x, 1.05 x, 1.25 x the organic flow and the feed x 0.1;
# with 5,000 steps, 22 of the 23 more came from the base x 0.5, one from the feed);
# last, the metals' affinities pulled together (the spread of their log affinity
# constants x 0: every metal alike, the lumped cascade the kernel's own cold start
# begins from) -- the homotopy in the separation factors; then the base x 0.25
# and x 0.05 (mass-action cascades short of acid whose cold solve at half the base
# fails too: seed-0 stress cascades 1366 and 1138 are reached from them)
ARC_ORIGINS = (
    ("organic flow", -0.05),
    ("organic flow", 0.05),
    ("saponification", 0.5),
    ("feed", 0.1),
    ("organic flow", 0.25),
    ("separation factors", 0.0),
    ("saponification", 0.25),
    ("saponification", 0.05),
)
# the stage-count walk (the fallback before arclength): the longest run of
# stages (a section, or its part between feeds and side draws) cut to these
# fractions of its stages (arclength on the cut case where it is not solved),
# solved there, then given its stages back this many at a time (halved on a
# failed warm solve) within this many kernel calls; runs shorter than
# STAGE_WALK_MIN are not walked (measured: seed-0 stress cascade
# 5635, 275 strip stages, solved at 28 and walked up in 10 warm solves)
STAGE_WALK_FRACTIONS = (0.1, 0.3)
STAGE_WALK_STEP = 25
STAGE_WALK_MAX_SOLVES = 200
STAGE_WALK_MIN = 10
# a run of this many stages or more is walked before the organic-flow and feed
# walks (on a long cascade their failing kernel calls cost more than the walk:
# seed-1 stress cascade 7579, 411 extraction stages, 180 -> 33 s; of the 37
# seed-1 cascades with such a run that reached the two walks, 32 faster, in all
# 1,221 -> 571 s)
STAGE_WALK_FIRST = 100
# a component circulating more than this many times its throughput through one
# stage has its relative accuracy limited by round-off (1e-16 x circulation) above
# 1e-11: said in the result's warnings
CIRCULATION_WARN = 1e5
# above this circulation the answer is not reported at all (CascadeError): measured
# on random constant-D cascades, components circulating 6e12 and 8e15 times their
# throughput came out wrong by a factor 2 and 1e39 with closed balances
CIRCULATION_MAX = 1e12
# a solve whose outlets close some species' (or the protons') balance only to worse
# than this (relative to its input) is not a steady state: no answer is reported
# (CascadeError).  Measured: a 349-stage constant-D cascade (bench_stress seed 0,
# cascade 2043) accepted by the kernel's organic-flow walk at round-off level had
# three components (circulating 1e10-5e11 times their throughput) leaving at 1e-61
# of their input; the same 1e-4 the circulation limit allows for round-off
BALANCE_MAX = 1e-4
# branch search (Cascade.branches): relative offset of the organic flow whose
# solutions are continued back to the case's, and the relative difference below
# which two solutions are one branch (each is converged to 1e-10)
BRANCH_OFFSET = 1e-3
BRANCH_SAME = 1e-6
# Newton iterations the warm start from a neighbouring flow's solution gets at the
# case's flow: a continuation that needs more is not counted as a branch (the
# steady state of a sharp-front cascade moves by factors up to 1e3 for 0.1 % of
# organic flow; from there plain Newton crawls, and 200 iterations cost 40 cold
# solves of the bundled Pr/Nd case)
BRANCH_WARM_ITER = 60
# the branch search's start for pH models over the whole pH domain at once
WHOLE_DOMAIN_START = "cold start over the whole pH domain (not held in the acid medium)"
# a relative Newton correction up to this is an estimate of the error (Newton is
# near its quadratic convergence); above it the trace it belongs to is not converged
REL_ESTIMATE_MAX = 1e-3
# what convergence["branch_search"] says where no search is needed
UNIQUE_LINEAR = (
    "not searched: one steady state (proven: the stage balances are linear in the "
    "concentrations, constant D, a nonsingular M-matrix per component)"
)
# organic loop (Cascade._close_loop): passes combined by Anderson acceleration;
# passes before the fallbacks (simulate's max_recycle)
LOOP_HISTORY = 6
LOOP_PASSES = 1000
# passes run out while a metal still builds up by this fraction of its throughput
# per pass or more: the error says the organic is still filling; with the loading
# change below LOOP_CLOSING of throughput: the error says the passes were closing
LOOP_FILLING = 0.5
LOOP_CLOSING = 1e-6
# the loop's fallback, Newton's method on the returning organic: iterations, the
# finite-difference step (relative to the metal's concentration, floored at this
# fraction of its throughput) and the halvings of a step before it gives up
LOOP_NEWTON_ITER = 40
LOOP_NEWTON_FD = 1e-6
LOOP_NEWTON_FD_FLOOR = 1e-9
LOOP_NEWTON_HALVINGS = 20
# the loop's last fallback (pH models with a saponified organic), continuation in
# the organic's base: the factors on the base tried as origins (the loop closed
# there by its accelerated passes alone), the first step and the smallest step on
# that factor, the passes a step may take to close before it is halved, and the
# steps (closed or halved) the walk may take: of the seed-0 stress loops it ended
# on, one closed in 5 steps and all but two stopped within 19; those two crawled
# (469 and 3,971 steps, 9.5 min) where Anderson barely contracts
LOOP_BASE_ORIGINS = (0.5, 0.25, 0.05)
LOOP_BASE_STEP = 0.1
LOOP_BASE_MIN_STEP = 1e-6
LOOP_BASE_PASSES = 60
LOOP_BASE_STEPS = 200
# the acid medium the pH models are stated for: free acid at least this [mol/L]
# (pH <= 5).  Hydrolysis and precipitation of the metals, which set in above it
# (Fe(III) far below), are not modelled: a converged answer with a stage below it
# is warned; the base walk stopping below it (and below ACID_TREND_FALL of its
# origin's) says the free acid runs out
ACID_MEDIUM_MIN = 1e-5
# a failed organic loop whose lowest free acid fell below this fraction of the
# first pass's is reported as running towards a stage without free acid
ACID_TREND_FALL = 0.1
# acid budget (docs/kernel.md): below this ratio of free acid supplied to the
# base + metal equivalents the organic brings, the case is warned as marginal
BUDGET_MARGIN = 1.1
ACCURACY_FLOOR_TEXT = (
    f"{kernels.ACC_FLOOR:g} x (component throughput / mean stage flow) mol/L"
)


def _built_once(method):
    """Run ``method`` with :meth:`Cascade._memo_get` keeping what it builds (the
    network's aqueous side, the stage parameters) until it returns: the case's
    neighbouring organic flows and organic-loop passes reuse them."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if self._memo is not None:  # already inside one
            return method(self, *args, **kwargs)
        self._memo = {}
        try:
            return method(self, *args, **kwargs)
        finally:
            self._memo = None

    return run


class CascadeError(RuntimeError):
    """The cascade has no steady state the kernel could find; says where and why."""


class InfeasibleCascadeError(CascadeError):
    """The inputs allow no steady state, proven from the inputs alone (kept for
    callers that catch it; the kernel's own failures are never raised as this:
    a solver that stops proves nothing about the steady state)."""


class CascadeTimeLimit(CascadeError):
    """``simulate`` ran past its ``time_limit_s`` before a steady state was
    found: says in which phase it stopped and what it had tried.  Proves nothing
    about the steady state.  ``elapsed_s`` [s] and ``phase`` are attributes."""

    def __init__(self, msg: str, elapsed_s: float, phase: str):
        super().__init__(msg)
        self.elapsed_s = elapsed_s
        self.phase = phase


class AcidBudgetError(CascadeError):
    """The solve failed and the acid budget of the inputs is short (the free acid
    of the aqueous streams is below the base and metal equivalents the organic
    brings): the probable cause, stated with the streams and the remedies."""


@dataclass
class Network:
    """Flows and external inputs of every stage (kernel order, 0-based)."""

    N: int
    species: list[str]
    z: np.ndarray
    section: list[str]  # section of each stage
    local: list[int]  # 1-based stage number within its section
    aq_out: np.ndarray  # [L/h]
    aq_pass: np.ndarray  # [L/h] j -> j-1
    org_out: np.ndarray  # [L/h]
    org_pass: np.ndarray  # [L/h] j -> j+1
    org_in: np.ndarray  # [L/h]
    ext_aq: np.ndarray  # [mol/h] (N, C)
    ext_org: np.ndarray  # [mol/h] (N, C)
    anion_eq: np.ndarray  # [eq/h] aqueous anion equivalents entering each stage
    acid_in: np.ndarray  # [mol/h] free H+ entering with aqueous streams, per stage
    outlets: list[tuple[str, str, int, float]] = field(default_factory=list)
    # (name, phase, stage, flow_L_h); internal streams are reported but not balanced
    internal: list[tuple[str, str, int, float]] = field(default_factory=list)
    # [mol/h] total sulfate entering with aqueous streams, per stage; None: all the
    # anion equivalents are sulfate in sulfate medium, none in chloride medium
    sulfate_in: np.ndarray | None = None
    # the feed's charge balance as stated and as closed (Cascade.feed_anions)
    feed_charge: dict | None = None
    # organic loop: the fraction of the stated saponification base the returning
    # organic took up (below 1 where its metals leave too few free sites)
    base_taken: float = 1.0

    def label(self, j: int) -> str:
        return f"stage {j + 1} ({self.section[j]} stage {self.local[j]})"


class Cascade:
    """One cascade built from a case; :meth:`simulate` solves it.

    Parameters
    ----------
    case : CascadeCase, dict or path
        A validated case, or anything :func:`rexopt.case.load_case` accepts.
    """

    def __init__(self, case):
        self.case = case if isinstance(case, CascadeCase) else load_case(case)
        self.warnings: list[str] = []
        self._x_last: np.ndarray | None = None
        c = self.case
        self.components = list(c.chemistry.components)
        self.model = c.chemistry.model
        self.agent = agents()[c.organic.agent]
        self.pH_model = self.model in ("empirical_ph", "mass_action")
        species = list(self.components)
        if (
            self.pH_model
            and c.organic.saponification > 0
            and self.agent.ion not in species
        ):
            species.append(self.agent.ion)
        self.species = species
        self.z = np.array([float(element(s).charge) for s in species])
        # what network() and stage_parameters() build once per simulate
        # (_memo_get); None outside simulate
        self._memo: dict | None = None

    # ------------------------------------------------------------------ network
    def _memo_get(self, key: str, build):
        """``build()``, kept for the rest of the current :meth:`simulate` (the
        case is not changed while it runs); outside it built afresh every time
        (callers such as the design optimizer change the case between calls)."""
        memo = self._memo
        if memo is None:
            return build()
        if key not in memo:
            memo[key] = build()
        return memo[key]

    def _stage_index(self) -> tuple[list[str], list[int], dict[str, tuple[int, int]]]:
        return self._memo_get("stage_index", self._build_stage_index)

    def _build_stage_index(self):
        sec, loc, span = [], [], {}
        start = 0
        for name in SECTIONS:
            spec = getattr(self.case.sections, name)
            if spec is None:
                continue
            span[name] = (start, start + spec.stages)
            sec += [name] * spec.stages
            loc += list(range(1, spec.stages + 1))
            start += spec.stages
        return sec, loc, span

    def _conc_vector(self, conc: dict | None, g_L: bool = False) -> np.ndarray:
        v = np.zeros(len(self.species))
        for k, val in (conc or {}).items():
            i = self.species.index(k)
            v[i] = val / element(k).molar_mass_g_mol if g_L else val
        return v

    def network(
        self,
        organic_in_mol_L: np.ndarray | None = None,
        organic_flow_L_h: float | None = None,
        feed_scale: float = 1.0,
        base_scale: float = 1.0,
        sites: tuple | None = None,
    ) -> Network:
        """Flows and inputs of every stage.

        Parameters
        ----------
        organic_in_mol_L : array, optional
            Metal concentrations of the organic entering stage 1 (used by the
            organic-loop closure); default from the case. [mol/L]
        organic_flow_L_h : float, optional
            Organic flow entering stage 1 instead of the case's (the organic-flow
            walk and the branch search solve neighbouring flows; everything else
            is the case's). [L/h]
        feed_scale : float
            Factor on the feed's metal concentrations (the feed walk solves the
            case with less metal fed; everything else is the case's). [-]
        base_scale : float
            Factor on the base the saponified organic brings (the arclength
            origin and the organic loop's continuation in the base solve the case
            with less of it; everything else is the case's). [-]
        sites : (nu, cap), optional
            Site use of every species and the capacity at stage 1 (the stage
            parameters' ``nu[0]`` and ``cap[0]``), given with
            ``organic_in_mol_L`` by the organic loop: the returning organic is
            re-saponified with the stated base up to its free extractant (what
            its metals leave of ``cap``), no further (docs/kernel.md, "Organic
            loop"); ``Network.base_taken`` is the fraction of the stated base
            taken up.

        Nothing on the aqueous side depends on the organic inlet: during a
        :meth:`simulate` it is built once and shared (the same arrays) by the
        networks of the case and of its neighbouring organic flows; only the
        organic side is built per call.
        """
        c = self.case
        if feed_scale == 1.0:
            aq = self._memo_get("aqueous_side", self._aqueous_side)
        else:  # another feed: another aqueous side, not kept
            aq = self._aqueous_side(feed_scale)
        for msg in aq["warnings"]:  # the feed's charge closure (feed_anions)
            if msg not in self.warnings:
                self.warnings.append(msg)
        sec, loc, span, N = aq["section"], aq["local"], aq["span"], aq["N"]
        z = self.z

        # organic inlet (stage 1), saponified
        O = c.organic.flow_L_h if organic_flow_L_h is None else float(organic_flow_L_h)
        y_in = (
            self._conc_vector(c.organic.conc_mol_L)
            if organic_in_mol_L is None
            else np.asarray(organic_in_mol_L, float).copy()
        )
        base_taken = 1.0
        if self.pH_model and c.organic.saponification > 0:
            ion = self.species.index(self.agent.ion)
            y_in[ion] = self._stated_base_mol_L(base_scale)
            if sites is not None and y_in[ion] > 0.0:
                most = max(_free_sites(y_in, sites, ion), 0.0) / sites[0][ion]
                if most < y_in[ion]:
                    base_taken = most / y_in[ion]
                    y_in[ion] = most
        # the organic feed (if any) was added to zeros; x + y == y + x in IEEE
        # arithmetic, so adding the inlet second gives the numbers of adding it first
        org_add = aq["org_add"].copy()
        org_add[0] += O
        ext_org = aq["ext_org"].copy()
        ext_org[0] += O * y_in

        org_draw = aq["org_draw"]
        if not aq["org_draws"]:
            # no draw: each stage passes on what enters it, a running sum (NumPy
            # accumulates in order, as the loop below does; x - 0.0 == x)
            org_in = np.cumsum(org_add)
            ok = bool(np.all(org_in >= -1e-12 * np.maximum(org_in, 1.0)))
        else:
            ok = False
        if ok:
            org_out = org_in.copy()
            org_pass = org_in.copy()
            org_pass[N - 1] = 0.0
        else:
            add_l, draw_l = org_add.tolist(), org_draw.tolist()
            in_l, pass_l = [0.0] * N, [0.0] * N
            up = 0.0
            for j in range(N):
                out = up + add_l[j]
                in_l[j] = out
                left = out - draw_l[j]
                if left < -1e-12 * max(out, 1.0):
                    raise CaseError(
                        f"side draw at {sec[j]} stage {loc[j]} (stage {j + 1}): "
                        f"{draw_l[j]:g} L/h organic asked, only {out:g} L/h flows "
                        f"there"
                    )
                pass_l[j] = left if j < N - 1 else 0.0
                up = pass_l[j]
            org_in = np.array(in_l)
            org_out = org_in.copy()
            org_pass = np.array(pass_l)
        outlets = list(aq["aq_outlets"])
        last = "stripped_organic" if "strip" in span else "loaded_organic"
        outlets.append((last, "organic", N - 1, org_out[N - 1] - org_draw[N - 1]))
        internal = []
        if "strip" in span:
            jl = span["strip"][0] - 1
            internal.append(("loaded_organic", "organic", jl, org_pass[jl]))
        outlets += aq["draws"]
        j = aq["dry_stage"]
        if j is not None:  # checked after the organic side, as a full build does
            raise CaseError(
                f"no aqueous flows through {sec[j]} stage {loc[j]} (stage {j + 1}): "
                f"every stage needs an aqueous phase (check feed stage and scrub/strip "
                f"flows)"
            )
        self._feed_stage = aq["feed_stage"]
        return Network(
            N,
            self.species,
            z,
            sec,
            loc,
            aq["aq_out"],
            aq["aq_pass"],
            org_out,
            org_pass,
            org_in,
            aq["ext_aq"],
            ext_org,
            aq["anion_eq"],
            aq["acid_in"],
            outlets,
            internal,
            aq["sulfate_in"],
            aq["feed_charge"],
            base_taken,
        )

    def _loop_network(self, r, par: dict, base_scale: float = 1.0) -> Network:
        """The network of an organic-loop pass: the stripped organic ``r``
        [mol/L] returning to stage 1, re-saponified with the stated base (times
        ``base_scale``) up to the free sites of stage 1 (``par``'s)."""
        return self.network(
            organic_in_mol_L=r, base_scale=base_scale, sites=_inlet_sites(par)
        )

    def _stated_base_mol_L(self, base_scale: float = 1.0) -> float:
        """The saponification counter-ion on the organic entering stage 1 as
        stated (pH models): s x C_HA / z, times ``base_scale``. [mol/L]"""
        c = self.case
        z = self.z[self.species.index(self.agent.ion)]
        return base_scale * c.organic.saponification * c.organic.extractant_mol_L / z

    def _aqueous_side(self, feed_scale: float = 1.0) -> dict:
        """Everything of :meth:`network` that does not depend on the organic
        inlet (for the feed's metals scaled by ``feed_scale``): stage layout, aqueous inputs and flows, the organic feed (if the
        feed is organic), side draws.  Raises the CaseError of an aqueous side
        draw larger than its stage's flow; a stage with no aqueous flow is
        returned (``dry_stage``) and raised by :meth:`network` after the organic
        side's checks, in the order a full build checks them."""
        c = self.case
        sec, loc, span = self._stage_index()
        N, C = len(sec), len(self.species)
        z = self.z
        aq_in = np.zeros(N)
        ext_aq = np.zeros((N, C))
        ext_org = np.zeros((N, C))
        anion = np.zeros(N)
        acid = np.zeros(N)
        org_add = np.zeros(N)

        sulfate = np.zeros(N)
        sulfate_medium = c.chemistry.medium == "sulfate"

        def add_aq(j, flow, conc, acidity, sulfate_mol_L=None):
            aq_in[j] += flow
            ext_aq[j] += flow * conc
            eq = float(z @ conc) + acidity
            anion[j] += flow * eq
            acid[j] += flow * acidity
            if sulfate_mol_L is None:
                sulfate_mol_L = eq / 2.0 if sulfate_medium else 0.0
            sulfate[j] += flow * sulfate_mol_L

        # feed
        f = c.feed
        fconc = self._conc_vector(
            f.conc_mol_L if f.conc_mol_L is not None else f.conc_g_L,
            g_L=f.conc_mol_L is None,
        ) * float(feed_scale)
        if f.stage is not None:
            jf = f.stage - 1
        elif f.phase == "aqueous":
            jf = span["extraction"][1] - 1
        else:
            jf = span["scrub"][0] if "scrub" in span else span["extraction"][1] - 1
        charge = None
        warnings: list[str] = []
        if f.phase == "aqueous":
            # the warning feed_anions gives is kept with the side and given again
            # by every network() call, as a fresh build would
            kept, self.warnings = self.warnings, warnings
            try:
                charge = self.feed_anions(fconc)
            finally:
                self.warnings = kept
            add_aq(
                jf, f.flow_L_h, fconc, charge["acidity_mol_L"], charge["sulfate_mol_L"]
            )
        else:
            org_add[jf] += f.flow_L_h
            ext_org[jf] += f.flow_L_h * fconc
        for name in ("scrub", "strip"):
            stream = getattr(c, name)
            if stream is not None and name in span:
                add_aq(
                    span[name][1] - 1,
                    stream.flow_L_h,
                    self._conc_vector(stream.conc_mol_L),
                    stream.acidity_mol_L,
                )

        aq_draw = [0.0] * N
        org_draw = np.zeros(N)
        draws = []
        org_draws = False
        for k, d in enumerate(c.side_draws):
            j = d.stage - 1
            if d.phase == "aqueous":
                aq_draw[j] += d.flow_L_h
            else:
                org_draw[j] += d.flow_L_h
                org_draws = True
            draws.append((d.name or f"side_draw_{k + 1}", d.phase, j, d.flow_L_h))

        # aqueous runs from the top of each section chain down to stage 1; the strip
        # section's aqueous leaves at its first stage (strip liquor).  Python floats:
        # the same IEEE double arithmetic as NumPy's, without its per-item cost
        strip_first = span["strip"][0] if "strip" in span else None
        ends = [0] if strip_first is None else sorted({0, strip_first})
        aq_out = aq_pass = None
        if not any(aq_draw):
            # no draw: each stage passes on all that enters it, a running sum from
            # the top of each chain (NumPy accumulates in order, as the loop below
            # does; x - 0.0 == x)
            aq_out = np.empty(N)
            for lo, hi in zip(ends, ends[1:] + [N], strict=True):
                aq_out[lo:hi] = np.cumsum(aq_in[lo:hi][::-1])[::-1]
            if np.all(aq_out >= -1e-12 * np.maximum(aq_out, 1.0)):
                aq_pass = aq_out.copy()
                aq_pass[ends] = 0.0
                aq_outlets = [
                    (
                        "raffinate" if j == 0 else "strip_liquor",
                        "aqueous",
                        j,
                        aq_out[j] - 0.0,
                    )
                    for j in reversed(ends)
                ]
        if aq_pass is None:
            aq_out, aq_pass, aq_outlets = self._aqueous_chain(
                aq_in.tolist(), aq_draw, strip_first, sec, loc
            )
        dry = np.flatnonzero(aq_out <= 0.0)
        return {
            "section": sec,
            "local": loc,
            "span": span,
            "N": N,
            "feed_stage": jf,
            "aq_out": aq_out,
            "aq_pass": aq_pass,
            "ext_aq": ext_aq,
            "anion_eq": anion,
            "acid_in": acid,
            "sulfate_in": sulfate if charge is not None and charge["stated"] else None,
            "feed_charge": charge,
            "warnings": warnings,
            "org_add": org_add,
            "ext_org": ext_org,
            "org_draw": org_draw,
            "org_draws": org_draws,
            "aq_outlets": aq_outlets,
            "draws": draws,
            "dry_stage": int(dry[0]) if dry.size else None,
        }

    @staticmethod
    def _aqueous_chain(in_l, aq_draw, strip_first, sec, loc):
        """Aqueous stage flows, stage by stage from the top of each chain down,
        less the side draws (Python floats: the same IEEE arithmetic as NumPy's
        without its per-item cost).  Returns aq_out, aq_pass, aqueous outlets."""
        N = len(in_l)
        out_l = [0.0] * N
        pass_l = [0.0] * N
        aq_outlets = []
        down = 0.0
        for j in range(N - 1, -1, -1):
            out = down + in_l[j]
            out_l[j] = out
            left = out - aq_draw[j]
            if left < -1e-12 * max(out, 1.0):
                raise CaseError(
                    f"side draw at {sec[j]} stage {loc[j]} (stage {j + 1}): "
                    f"{aq_draw[j]:g} L/h aqueous asked, only {out:g} L/h flows there"
                )
            if j == 0 or j == strip_first:
                aq_outlets.append(
                    (
                        "raffinate" if j == 0 else "strip_liquor",
                        "aqueous",
                        j,
                        np.float64(left),
                    )
                )
                down = 0.0
            else:
                pass_l[j] = left
                down = left
        return np.array(out_l), np.array(pass_l), aq_outlets

    def feed_anions(self, fconc: np.ndarray) -> dict:
        """The aqueous feed's charge balance: cations (metals + total acidity)
        against the stated anions, and the stated quantity that closes it.

        Returns a dict: ``stated`` (whether any anion was given), the
        ``residual_eq_L`` of the analysis (cations - anions, before closing),
        ``closed_on``, ``adjusted`` ({field: [stated, used]}), and the
        ``acidity_mol_L`` and ``sulfate_mol_L`` (None: derived) the network uses.
        Raises CaseError where no non-negative value of the closing quantity
        balances the charges (the stated feed is impossible)."""
        f = self.case.feed
        cations = float(self.z @ fconc)
        acidity = f.acidity_mol_L
        if (
            f.sulfate_mol_L is None
            and f.chloride_mol_L is None
            and (f.other_anions_eq_L is None)
        ):
            return {
                "stated": False, "residual_eq_L": 0.0, "closed_on": None,
                "adjusted": {}, "acidity_mol_L": acidity, "sulfate_mol_L": None,
            }  # fmt: skip
        so4 = f.sulfate_mol_L or 0.0
        cl = f.chloride_mol_L or 0.0
        other = f.other_anions_eq_L or 0.0
        residual = cations + acidity - (2.0 * so4 + cl + other)
        on = f.close_charge_on
        field_name = {
            "acidity": "acidity_mol_L", "sulfate": "sulfate_mol_L",
            "chloride": "chloride_mol_L", "other_anions": "other_anions_eq_L",
        }[on]  # fmt: skip
        old = {"acidity": acidity, "sulfate": so4, "chloride": cl,
               "other_anions": other}[on]  # fmt: skip
        # the closing quantity takes the whole residual (sulfate carries 2 eq/mol)
        new = (
            old - residual
            if on == "acidity"
            else old + residual / (2.0 if on == "sulfate" else 1.0)
        )
        tiny = 1e-12 * (cations + acidity + 2.0 * so4 + cl + other)
        if new < 0.0 and -new * (2.0 if on == "sulfate" else 1.0) <= tiny:
            new = 0.0
        if new < 0.0:
            raise CaseError(
                f"feed.close_charge_on: {on!r} -- the stated feed is impossible: "
                f"closing its charge balance (metal cations {cations:.6g} eq/L + "
                f"acidity {acidity:.6g} mol/L against anions "
                f"{2.0 * so4 + cl + other:.6g} eq/L) needs feed.{field_name} = "
                f"{new:.6g}, below 0; close on another quantity or correct the "
                f"analysis"
            )
        used = {"acidity": acidity, "sulfate": so4, "chloride": cl,
                "other_anions": other}  # fmt: skip
        used[on] = new
        msg = (
            f"feed: charges do not balance as stated (cations + acidity - "
            f"anions = {residual:.4g} eq/L); closed on {on}: feed.{field_name} "
            f"{old:.6g} -> {new:.6g}"
        )
        if abs(residual) > tiny and msg not in self.warnings:
            self.warnings.append(msg)
        return {
            "stated": True,
            "residual_eq_L": residual,
            "closed_on": on,
            "adjusted": {field_name: [old, new]} if abs(residual) > tiny else {},
            "acidity_mol_L": used["acidity"],
            "sulfate_mol_L": used["sulfate"],
        }

    # ---------------------------------------------------------- equilibrium data
    def _relative_affinity(self) -> dict[str, float]:
        sat = self.case.chemistry.saturated
        if sat is not None and sat.separation_factors:
            rel = dict(sat.separation_factors)
            missing = [s for s in self.components if s not in rel]
            if missing:
                raise CaseError(
                    f"chemistry.saturated.separation_factors: missing {', '.join(missing)}"
                    f" -- give a relative affinity for every component"
                )
            return rel
        base = p507_relative_affinities()
        missing = [s for s in self.components if s not in base]
        if missing:
            raise CaseError(
                f"chemistry.saturated.separation_factors: no default for "
                f"{', '.join(missing)} in dataset p507_hcl -- give them in the case"
            )
        return {s: base[s] for s in self.species if s in base}

    def stage_parameters(self, net: Network) -> dict:
        """Kernel parameters (a, b, c, d, nu, sigma, cap, Q, ST, ka, flags) per stage.

        Only the capacity profile of the saturated model depends on the organic
        flows; during a :meth:`simulate` the rest is built once and shared by
        the networks that share the case's aqueous side (:meth:`network` at
        another organic flow or inlet)."""
        memo = self._memo
        aq = (net.aq_out, net.aq_pass, net.anion_eq, net.acid_in, net.sulfate_in)
        base = memo.get("stage_parameters") if memo is not None else None
        if base is None or any(
            u is not v for u, v in zip(base["aqueous"], aq, strict=True)
        ):
            n = len(self.warnings)
            par = self._stage_parameters(net)
            base = {
                "aqueous": aq,
                "par": par,
                "warnings": self.warnings[n:] if self.model != "saturated" else [],
            }
            if memo is not None:
                memo["stage_parameters"] = base
            return dict(par)
        par = dict(base["par"])
        if self.model == "saturated":
            par["cap"] = self._saturated_capacity(net)
        self.warnings += base["warnings"]
        return par

    def _saturated_capacity(self, net: Network) -> np.ndarray:
        """The saturated model's organic capacity per stage [mol/L]: s C_HA / 3,
        less the sites the scrub acid converts to H form where it enters (Xu's
        scrub), spread over the organic flowing there."""
        c = self.case
        ymax = c.organic.saponification * c.organic.extractant_mol_L / 3.0
        # sites converted up to each stage [mol/h]: a running sum in stage order
        # (NumPy accumulates in order; + 0.0 is exact), the same for every organic
        # flow on one aqueous side
        memo = self._memo
        kept = memo.get("scrub_acid") if memo is not None else None
        if kept is not None and kept[0] is net.acid_in and kept[1] is net.section:
            used = kept[2]
        else:
            scrub = self._section_codes(net) == SECTIONS.index("scrub")
            used = np.cumsum(np.where(scrub, net.acid_in / 3.0, 0.0))
            if memo is not None:
                memo["scrub_acid"] = (net.acid_in, net.section, used)
        cap = ymax - used / net.org_in
        if np.any(cap <= 0):
            j = int(np.argmax(cap <= 0))
            self.warnings.append(
                f"acid entering at {net.label(j)} exceeds the organic capacity: "
                f"the organic is fully stripped there (capacity floored at 1e-9 of Ymax)"
            )
            cap = np.maximum(cap, 1e-9 * ymax)
        return cap

    def _section_codes(self, net: Network) -> np.ndarray:
        """Index in SECTIONS of every stage's section."""
        memo = self._memo
        kept = memo.get("section_codes") if memo is not None else None
        if kept is not None and kept[0] is net.section:
            return kept[1]
        code = {name: k for k, name in enumerate(SECTIONS)}
        codes = np.array([code[s] for s in net.section], dtype=np.intp)
        if memo is not None:
            memo["section_codes"] = (net.section, codes)
        return codes

    def _section_rows(self, net: Network, rows: dict) -> np.ndarray:
        """(N, C) array whose row j is ``rows[section of stage j]`` (each a list
        over the species)."""
        table = np.array([rows.get(name, rows[next(iter(rows))]) for name in SECTIONS])
        return table[self._section_codes(net)]

    def _stage_parameters(self, net: Network) -> dict:
        c = self.case
        N, C = net.N, len(self.species)
        a = np.zeros((N, C))
        b = np.zeros((N, C))
        cc = np.zeros((N, C))
        d = np.zeros((N, C))
        nu = np.ones((N, C))
        sigma = np.ones(N)
        cap = np.ones(N)
        # aqueous anion profile (anions are not extracted): mixing down the chains
        # (Python floats: the same IEEE arithmetic as NumPy's, less per-item cost)
        out_l, pass_l = net.aq_out.tolist(), net.aq_pass.tolist()

        def mixed_down(inflow):
            q = [0.0] * N
            down = 0.0
            for j in range(N - 1, -1, -1):
                q[j] = (down + inflow[j]) / out_l[j]
                down = q[j] * pass_l[j]
            return np.array(q)

        Q = mixed_down(net.anion_eq.tolist())
        if net.sulfate_in is None:
            ST = Q / 2.0 if c.chemistry.medium == "sulfate" else np.zeros(N)
        else:  # the feed states its anions: total sulfate mixed down the chains
            ST = mixed_down(net.sulfate_in.tolist())
        ka = 0.0102
        use_ph = use_F = 0
        m = self.model
        present = sorted(set(net.section), key=SECTIONS.index)
        if m == "constant":
            tab = c.chemistry.constant.distribution
            cc = self._section_rows(
                net,
                {
                    name: [math.log10(max(tab[name][s], 1e-300)) for s in self.species]
                    for name in present
                },
            )
        elif m == "saturated":
            if c.organic.saponification <= 0:
                raise CaseError(
                    "organic.saponification: 0 -- the saturated (Xu) model needs a "
                    "saponified organic: its capacity is s*C_HA/3"
                )
            rel = self._relative_affinity()
            ds = read_data("p507_hcl")["saturated"]
            blk = c.chemistry.saturated
            K = (
                blk.K_ref_L_mol
                if blk and blk.K_ref_L_mol
                else ds["K_ref_L_mol"]["value"]
            )
            Kw = blk.K_ref_scrub_L_mol if blk and blk.K_ref_scrub_L_mol else K
            Ks = (
                blk.K_ref_strip_L_mol
                if blk and blk.K_ref_strip_L_mol
                else ds["K_ref_strip_L_mol"]["value"]
            )
            ref = min(rel[s] for s in self.components)
            Ksec = {"extraction": K, "scrub": Kw, "strip": Ks}
            cc = self._section_rows(
                net,
                {
                    name: [math.log10(Ksec[name] * rel[s] / ref) for s in self.species]
                    for name in present
                },
            )
            d[:] = 1.0
            nu[:] = self.z / 3.0
            # scrub acid converts loaded sites to H form where it enters (Xu's
            # scrub): the capacity drops at and after that stage.  Strip acid is in
            # excess and acts through the strip affinity K_ref_strip instead.
            cap = self._saturated_capacity(net)
            use_F = 1
        elif m == "mass_action":
            ds = read_data("p507_hcl")["mass_action"]
            blk = c.chemistry.mass_action
            params = dict(blk.params) if blk else {}
            ka = blk.ka_HSO4_mol_L if blk else ka
            rel = p507_relative_affinities()
            for i, s in enumerate(self.species):
                if s in params:
                    p = params[s]
                    lk, n_, m_, nu_ = p.log10_K, p.n, p.m, p.nu
                elif s == self.agent.ion and s not in self.components:
                    ci = ds["counter_ion"]
                    lk, n_, m_, nu_ = ci["log10_K"], ci["n"], ci["m"], ci["nu"]
                elif s in rel:
                    lk = ds["log10_K_La"]["value"] + math.log10(rel[s])
                    n_, m_, nu_ = ds["n"]["value"], ds["m"]["value"], ds["nu"]["value"]
                    if element(s).charge != 3:
                        n_ = m_ = float(element(s).charge)
                        nu_ = 2.0 * element(s).charge
                else:
                    raise CaseError(
                        f"chemistry.mass_action.params.{s}: missing -- give log10_K "
                        f"(and n, m, nu) for {s}"
                    )
                a[:, i], cc[:, i], d[:, i], nu[:, i] = m_, lk, n_, nu_
            sigma[:] = 2.0
            cap[:] = c.organic.extractant_mol_L
            use_ph = use_F = 1
        elif m == "empirical_ph":
            blk = c.chemistry.empirical_ph
            params = dict(blk.params) if blk else {}
            dsname = blk.dataset if blk and blk.dataset else "d2ehpa_tbp_empirical"
            ds = read_data(dsname)["params"]
            ka = blk.ka_HSO4_mol_L if blk else ka
            for i, s in enumerate(self.species):
                if s in params:
                    p = params[s]
                    if p.D is not None:
                        cc[:, i] = math.log10(max(p.D, 1e-300))
                    else:
                        a[:, i], b[:, i], cc[:, i], d[:, i] = p.a, p.b, p.c, p.d
                    nu[:, i] = p.nu if p.nu is not None else self.z[i]
                elif s in ds:
                    p = ds[s]
                    a[:, i], b[:, i], cc[:, i], d[:, i] = p["a"], p["b"], p["c"], p["d"]
                    nu[:, i] = self.z[i]
                elif s == self.agent.ion:
                    # counter-ion released by acid: log10 D = pH - 3 [U]
                    a[:, i], cc[:, i] = 1.0, -3.0
                    nu[:, i] = self.z[i]
                    self.warnings.append(
                        f"{s}: counter-ion uses the unverified default log10 D = pH - 3"
                    )
                else:
                    raise CaseError(
                        f"chemistry.empirical_ph.params.{s}: missing -- give a, b, c, d "
                        f"or a constant D for {s} (dataset {dsname} has "
                        f"{', '.join(ds)})"
                    )
            E_tot = (
                blk.extractant_vol_pct
                if blk and blk.E_unit == "vol%"
                else c.organic.extractant_mol_L
            )
            sigma[:] = c.organic.extractant_mol_L / E_tot
            cap[:] = c.organic.extractant_mol_L
            use_ph = int(np.any(a != 0) or np.any(b != 0))
            use_F = int(np.any(d != 0) or np.any(b != 0))
        return dict(
            a=a,
            b=b,
            c=cc,
            d=d,
            nu=nu,
            sigma=sigma,
            cap=cap,
            Q=Q,
            ST=ST,
            ka=float(ka),
            use_ph=use_ph,
            use_F=use_F,
        )

    def _basic_text(self, net: Network, HT) -> str:
        """Where stages are basic (total acidity H_T = [H+] + [HSO4-] - [OH-]
        below zero, so [OH-] > [H+]: pH above 7): what the model carries there."""
        basic = np.flatnonzero(HT < 0.0)
        if basic.size == 0:
            return ""
        return (
            f"; at {_stage_runs(basic)} the aqueous is basic (pH above 7): the "
            f"{self.agent.ion} and metal cations there exceed the anions and the "
            f"excess is carried as OH- (water's ion product), with no acid-base "
            f"chemistry of the base or the metals beyond that"
        )

    # ------------------------------------------------------------ acid budget
    def acid_budget(self, net: Network) -> dict | None:
        """Proton/base budget of the stated inputs (docs/kernel.md, "Acid budget").

        At steady state the aqueous anions leave only with the aqueous outlets,
        each electroneutral; with free acid >= 0 in each (the acid medium), the
        aqueous outlets carry at most (anion equivalents in) of metal and base
        cations, and the rest of the base and metal equivalents that enter leaves
        with the organic outlets.  Hence a steady state in the acid medium
        carries at least ``deficit_eq_h`` = (base + metal equivalents entering on
        the organic) - (free acid of all aqueous streams) out on its organic
        outlets; one that does not carries the rest out as base (OH-, pH above 7)
        in its aqueous outlets.  Returns None for a model without [H+] or a cascade
        without a strip section (there the loaded organic leaving with base is
        the normal outlet)."""
        if not self.pH_model or "strip" not in self._stage_index()[2]:
            return None
        c = self.case
        span = self._stage_index()[2]
        organic_eq = float((net.ext_org @ net.z).sum())
        stated_eq = 0.0
        if c.organic.saponification > 0:
            o = c.organic
            stated_eq = o.flow_L_h * o.saponification * o.extractant_mol_L
        # an organic-loop pass's network carries the base its returning organic
        # takes up (Network.base_taken), not always all of the stated base
        base_eq = stated_eq * net.base_taken
        acid = {}
        jf = self._feed_stage
        if c.feed.phase == "aqueous":
            acid["feed"] = float(net.acid_in[jf])
        for name in ("scrub", "strip"):
            stream = getattr(c, name)
            if stream is not None and name in span:
                acid[name] = stream.flow_L_h * stream.acidity_mol_L
        if c.feed.phase == "aqueous" and "feed" in acid:
            # the feed's stage may also take the scrub's top stage
            for name in ("scrub", "strip"):
                if name in acid and span[name][1] - 1 == jf:
                    acid["feed"] -= acid[name]
        acid_eq = float(sum(acid.values()))
        deficit = organic_eq - acid_eq
        metal_eq = organic_eq - base_eq
        if abs(metal_eq) <= 1e-9 * organic_eq:
            metal_eq = 0.0  # the round-off of the difference (2.8e-14 eq/h seen)
        return {
            "base_eq_h": base_eq,
            "base_stated_eq_h": stated_eq,
            "organic_metal_eq_h": metal_eq,
            "organic_eq_h": organic_eq,
            "acid_eq_h": acid,
            "acid_total_eq_h": acid_eq,
            "deficit_eq_h": deficit,
            "coverage": acid_eq / organic_eq if organic_eq > 0 else float("inf"),
        }

    def _budget_text(self, b: dict) -> str:
        c = self.case
        acid = ", ".join(f"{k} {v:.4g}" for k, v in b["acid_eq_h"].items())
        return (
            f"acid budget: the organic brings {b['organic_eq_h']:.4g} eq/h of "
            f"cations to exchange (organic.saponification {c.organic.saponification:g}"
            f" x extractant {c.organic.extractant_mol_L:g} mol/L x organic "
            f"{c.organic.flow_L_h:g} L/h = {b['base_stated_eq_h']:.4g} eq/h "
            f"{self.agent.ion}"
            + (
                f", of which the organic takes up {b['base_eq_h']:.4g}"
                if b["base_eq_h"] < b["base_stated_eq_h"]
                else ""
            )
            + (
                f", metals {b['organic_metal_eq_h']:.4g} eq/h"
                if b["organic_metal_eq_h"] > 0
                else ""
            )
            + f"); the aqueous streams bring {b['acid_total_eq_h']:.4g} eq/h free "
            f"acid ({acid})"
        )

    def _check_budget(self, b: dict | None) -> None:
        """Warn where the acid budget is short or marginal (before the solve)."""
        if b is None or b["organic_eq_h"] <= 0:
            return
        if b["deficit_eq_h"] > 0:
            self.warnings.append(
                f"{self._budget_text(b)}: short by {b['deficit_eq_h']:.4g} eq/h, so "
                f"the organic outlets carry at least that much {self.agent.ion}/"
                f"metal unstripped ({self._share(b)} of the organic's extractant "
                f"sites), or the aqueous outlets carry the rest out as base (pH "
                f"above 7, beyond the acid medium the {self.model} model is "
                f"stated for): the strip cannot strip the organic clean -- raise "
                f"strip.acidity_mol_L or strip.flow_L_h, or lower "
                f"organic.saponification"
            )
        elif b["coverage"] < BUDGET_MARGIN:
            self.warnings.append(
                f"{self._budget_text(b)}: a clean strip leaves only "
                f"{-b['deficit_eq_h']:.4g} eq/h free acid in all aqueous outlets "
                f"together (coverage {b['coverage']:.3g}, below {BUDGET_MARGIN:g}): "
                f"marginal for the acid medium the {self.model} model assumes"
            )

    def _share(self, b: dict) -> str:
        c = self.case
        sites = c.organic.flow_L_h * c.organic.extractant_mol_L
        return f"{100.0 * b['deficit_eq_h'] / sites:.3g} %" if sites > 0 else "all"

    def _budget_error(self, b: dict | None, err: CascadeError) -> CascadeError:
        """The solve's error, restated with the acid budget first where it is
        short (the probable cause; not a proof that no steady state exists)."""
        if b is None or b["deficit_eq_h"] <= 0 or b["organic_eq_h"] <= 0:
            return err
        st = self.case.strip
        strip = (
            f" (now {st.flow_L_h:g} L/h x {st.acidity_mol_L:g} mol/L)"
            if st is not None
            else ""
        )
        return AcidBudgetError(
            f"acid budget short, no steady state found: {self._budget_text(b)}, "
            f"short by {b['deficit_eq_h']:.4g} eq/h -- every steady state carries "
            f"at least that much {self.agent.ion}/metal out unstripped on the "
            f"organic ({self._share(b)} of its extractant sites) or the rest out "
            f"as base (pH above 7) in its aqueous outlets, and the strip's "
            f"acid is exchanged for {self.agent.ion}, far from the acid medium the "
            f"{self.model} model is stated for (the probable cause of this "
            f"failure, not a proof that no steady state exists) -- raise "
            f"strip.acidity_mol_L or "
            f"strip.flow_L_h{strip}, or lower organic.saponification; the "
            f"solve: {err}"
        )

    # ----------------------------------------------------------------- solving
    def _raise_for(
        self,
        st: int,
        net: Network,
        par: dict,
        info: np.ndarray,
        walked: bool = False,
        context: str = "",
        arc: str | None = None,
    ):
        arc_text = f"; {arc}" if arc else ""
        j = int(info[kernels.INFO_STAGE])
        i = int(info[kernels.INFO_COMP])
        where = net.label(min(max(j, 0), net.N - 1))
        comp = self.species[min(max(i, 0), len(self.species) - 1)]
        if st == kernels.NO_ACID:
            # [H+] from the charge balance (with water's OH-) is positive for any
            # total acidity; status 2 means an iterate took it outside the range
            # of double precision -- where the solver stopped, not infeasibility
            raise CascadeError(
                f"{context}cascade solve did not converge: its iterates reached a "
                f"profile whose free acid [H+] is not a positive double at {where} "
                f"(aqueous anions {par['Q'][j]:.4g} eq/L) after "
                f"{int(info[kernels.INFO_TOTAL])} Newton iterations; this is where "
                f"the solver stopped, not a proof that the cascade has no steady "
                f"state{arc_text}"
            )
        why = {
            kernels.NOT_CONVERGED: "did not converge",
            kernels.SINGULAR: "hit a singular stage Jacobian",
            kernels.BAD_SITE_BALANCE: "found no free-extractant value that closes the "
            "site balance (loading beyond capacity)",
        }.get(st, f"failed (status {st})")
        raise CascadeError(
            f"{context}cascade solve {why} at {where}, component {comp}: scaled residual "
            f"{info[kernels.INFO_RESID]:.3g} after {int(info[kernels.INFO_TOTAL])} Newton "
            f"iterations and {int(info[kernels.INFO_HOMOTOPY])} continuation steps"
            + (
                f"; no walk in organic flow from "
                f"{', '.join(f'+-{r:g}' for r in WALK_OFFSETS)} of it and no walk "
                f"up from {' or '.join(f'{r:g}' for r in FEED_WALK_ORIGINS)} x the "
                f"feed's metals converged either"
                if walked
                else ""
            )
            + arc_text
        )

    def _organic_flow_walk(self, tol: float, max_iter: int):
        """Fallback when no start converges: solve at a nearby organic flow, then
        walk the organic flow back to the case's value, warm-starting each step.

        Near a change of regime (organic capacity close to the metal load) the
        steady state can move by tens of decades for a change of organic flow of
        1e-4 relative, and the cold start misses it (docs/kernel.md, Known limits);
        the profile at a neighbouring flow, carried over in small steps, reaches it.
        Every accepted point is a converged steady state of its flow, the last one
        of the case's own flow, so the path changes nothing in the answer.  Returns
        (kernel tuple + start text, or None when no walk reaches the case's flow
        within WALK_MAX_SOLVES kernel calls; the Newton iterations of every call).
        """
        target = self.case.organic.flow_L_h
        n_steps = 0
        iters = 0

        eff = self.efficiencies()

        def solve(flow, x0):
            nonlocal n_steps, iters
            net, par = self._neighbour(flow)
            res = solve_arrays(net, par, eff, x0, tol=tol, max_iter=max_iter)
            n_steps += 1
            iters += int(res[5][kernels.INFO_TOTAL])
            return res

        for rel in WALK_OFFSETS:
            for sign in (-1.0, 1.0):
                if n_steps >= WALK_MAX_SOLVES:
                    return None, iters
                flow = origin = target * (1.0 + sign * rel)
                res = solve(flow, None)
                if res[0] != kernels.OK:
                    continue
                step = (target - flow) / 8.0
                first = n_steps
                # a walk that creeps (a slow front) gives way to the next origin
                while (
                    n_steps < WALK_MAX_SOLVES and n_steps - first < WALK_ORIGIN_SOLVES
                ):
                    nxt = flow + step
                    if (nxt - target) * sign <= 0.0:  # would pass the target
                        nxt = target
                    trial = solve(nxt, res[1])
                    if trial[0] == kernels.OK:
                        flow, res = nxt, trial
                        if flow == target:
                            start = f"organic-flow walk from {origin:.6g} L/h"
                            return (*res, start), iters
                        step *= 1.5
                    else:
                        step *= 0.25
                        if abs(step) < 1e-9 * target:
                            break
        return None, iters

    def _arclength_walk(self, net, par, tol: float, max_iter: int, *, on=""):
        """Last fallback (after the stage-count walk): follow the steady state
        by pseudo-arclength continuation (:mod:`rexopt.continuation`) from a
        neighbour of the case the kernel solves cold (ARC_ORIGINS, in turn:
        other organic flows, less base on the organic, less metal fed) to the
        case, then solve the case with the kernel warm from the profile
        reached.

        Passes the steep stretches and turning points of the branch where the
        walks in a parameter stop (stress cascades 1354 and 6850 of
        bench_stress).  The answer is the kernel's own converged solve of the
        case, so the path changes nothing in it.  Returns (kernel tuple + start
        text, None) or (None, what was tried), and the Newton iterations of every
        kernel call and path corrector.  ``on``: which case this is, in the
        progress messages (the stage-count walk's cut case)."""
        from rexopt import continuation

        eff = self.efficiencies()
        if self._murphree(eff):
            return None, "no arclength continuation (Murphree stages)", 0
        target = self.case.organic.flow_L_h
        iters = 0
        tried = []
        for kind, v in ARC_ORIGINS:
            if kind == "saponification":
                if not (self.pH_model and self.case.organic.saponification > 0):
                    continue
                # the base enters with the organic at stage 1 only
                net0, par0 = self.network(base_scale=v), par
                where = f"saponification x {v:g}"
                origin = f"the organic's base x {v:g}"
            elif kind == "separation factors":
                net0, par0 = net, self._pulled_affinities(par, v)
                where = f"affinity spread x {v:g}"
                origin = (
                    "every metal's affinity alike"
                    if v == 0.0
                    else f"the metals' affinity spread x {v:g}"
                )
            elif kind == "feed":
                try:
                    net0, par0 = self._neighbour(None, feed_scale=v)
                except CaseError:  # stated anions the scaled feed cannot balance
                    tried.append(f"feed x {v:g}: cannot be stated")
                    continue
                where = f"feed x {v:g}"
                origin = f"the feed's metals x {v:g}"
            else:
                net0, par0 = self._neighbour(target * (1.0 + v))
                where = f"organic flow {v:+g}"
                origin = f"organic flow {target * (1.0 + v):.6g} L/h"
            watch.note(f"{on}path from {origin}")
            r0 = solve_arrays(net0, par0, eff, tol=tol, max_iter=max_iter)
            iters += int(r0[5][kernels.INFO_TOTAL])
            if r0[0] != kernels.OK:
                tried.append(f"{where}: no cold solve there")
                continue
            x0, rep = continuation.follow(net0, par0, r0[1], r0[4], net, par, eff)
            iters += rep["newton"]
            res, how, extra = _solve_from_path(net, par, eff, x0, rep, tol, max_iter)
            iters += extra
            if how == "warm":
                start = f"arclength continuation from {origin} ({rep['steps']} steps)"
                return (*res, start), None, iters + int(res[5][kernels.INFO_TOTAL])
            if how == "transient":
                steps = f"{rep['steps']} steps" + (
                    "" if x0 is not None else f", stopped {rep['p']:.3g} of the way"
                )
                start = (
                    f"pseudo-transient from the end of the arclength path from "
                    f"{origin} ({steps})"
                )
                return (*res, start), None, iters + int(res[5][kernels.INFO_TOTAL])
            stop = (
                "reached, kernel not converged from there"
                if x0 is not None
                else self._arc_stop(rep, net, kind, v)
            )
            if how == "transient failed":
                stop += "; the pseudo-transient from where it ended did not converge"
            tried.append(f"{where}: {stop}")
        return None, (
            "no arclength continuation reached it either (from "
            + "; ".join(tried)
            + ")"
        ), iters

    def _walk_run(self) -> tuple[str, int, int, bool]:
        """The run of stages the stage-count walk cuts: the longest run of one
        section with no feed or side draw strictly inside it (one at its first
        or last stage keeps its place when the run is cut), a whole section
        where none lies inside.  Returns (section, first row, end row, whether
        the run is the whole section), rows 0-based with the end excluded; the
        first such run of the longest."""
        spans = self._stage_index()[2]
        placed = [self.case.feed.stage] + [d.stage for d in self.case.side_draws]
        best = None
        for sec, (a, b) in spans.items():
            # a feed or draw at 1-based stage p inside ends one run and starts
            # the next: row p - 1 belongs to both
            ends = [a, *sorted({p - 1 for p in placed if p and a + 1 < p < b}), b - 1]
            for lo, hi in zip(ends[:-1], ends[1:]):
                if best is None or hi + 1 - lo > best[2] - best[1]:
                    best = (sec, lo, hi + 1, (lo, hi + 1) == (a, b))
        return best

    def _stage_walk(self, net, par, tol: float, max_iter: int):
        """Fallback before arclength: solve the case with its longest run of
        stages (a section, or the part of one between feeds and side draws:
        _walk_run) cut to STAGE_WALK_FRACTIONS of its stages (cold, then the
        organic-flow and feed walks, then arclength continuation on the cut
        case), then give the run its stages back STAGE_WALK_STEP at a
        time, each new stage a copy of the run's flattest stage (the smallest
        change of log concentration to its neighbour) and each cascade solved
        by the kernel warm from the last.

        A long section of a cascade short of acid holds a plateau where a
        stage inserted changes almost nothing: seed-0 stress cascade 5635
        (60/107/275 stages, mass action), which no start, walk or arclength
        path reaches, is solved at 28 strip stages by the feed walk and
        carried to 275 in 10 warm solves of one Newton iteration each.  Every
        accepted point is a converged steady state of its own stage count, the
        last one the case itself (its own network), so the walk changes
        nothing in the answer.  Returns (kernel tuple + start text, None) or
        (None, what was tried), and the Newton iterations of every call."""
        sec, a, b, whole = self._walk_run()
        n = b - a
        where = f"the {sec} section" if whole else (
            f"stages {a + 1}-{b} of the {sec} section"
        )  # fmt: skip
        if n < STAGE_WALK_MIN:
            return None, (
                f"no stage-count walk (the longest run of stages with no feed or "
                f"side draw inside, {where}, has {n} stages; walked from "
                f"{STAGE_WALK_MIN} up)"
            ), 0
        eff = self.efficiencies()
        iters = 0
        tried = []
        for frac in STAGE_WALK_FRACTIONS:
            m = max(1, round(n * frac))
            cut = f"{where} cut to {m} of {n} stages"
            watch.note(cut)
            try:
                short = self._with_stages(sec, b, m, n)
                snet = short.network()
                spar = short.stage_parameters(snet)
                res, sstart, extra, _, _ = short._steady_state(
                    snet, spar, short.efficiencies(), None, tol, max_iter,
                    deep=False,
                )  # fmt: skip
            except CaseError as e:  # the shorter case cannot be stated
                tried.append(f"{m} stages: {e}")
                continue
            iters += extra
            if res[0] != kernels.OK:
                # arclength on the short case: a tenth of the stages makes its
                # paths about ten times cheaper than the whole case's
                arc, _, extra = short._arclength_walk(
                    snet, spar, tol, max_iter, on=f"{cut}: arclength "
                )
                iters += extra
                if arc is None:
                    tried.append(
                        f"{m} stages: not solved there"
                        + (
                            " (no arclength continuation: Murphree stages)"
                            if self._murphree(eff)
                            else ", nor by arclength"
                        )
                    )
                    continue
                res, sstart = arc[:6], arc[6]
            x, have, k, calls, why = res[1], m, STAGE_WALK_STEP, 0, ""
            while have < n and calls < STAGE_WALK_MAX_SOLVES:
                watch.note(f"{where} given back {have} of {n} stages")
                k = min(k, n - have)
                if have + k == n:  # the case's own network and parameters
                    net1, par1, eff1 = net, par, eff
                else:
                    try:
                        nxt = self._with_stages(sec, b, have + k, n)
                        net1 = nxt.network()
                        par1, eff1 = nxt.stage_parameters(net1), nxt.efficiencies()
                    except CaseError as e:
                        why = f" ({have + k} stages: {e})"
                        break
                r = solve_arrays(
                    net1, par1, eff1, _inserted(x, a, a + have, k), tol=tol,
                    max_iter=max_iter, limits=kernels.LIMIT_WARM_ONLY,
                )  # fmt: skip
                calls += 1
                iters += int(r[5][kernels.INFO_TOTAL])
                if r[0] == kernels.OK:
                    x, have, k = r[1], have + k, STAGE_WALK_STEP
                else:
                    k //= 2
                    if k == 0:
                        break
            if have == n:
                if whole:
                    start = (
                        f"stage-count walk: the {sec} section solved at {m} of its "
                        f"{n} stages (start: {sstart}), then given its stages back "
                        f"in {calls} warm solves, each new stage a copy of its "
                        "flattest stage"
                    )
                else:
                    start = (
                        f"stage-count walk: the {sec} section solved with its "
                        f"stages {a + 1}-{b} cut to {m} of {n} (start: {sstart}), "
                        f"then given them back in {calls} warm solves, each new "
                        "stage a copy of the run's flattest stage"
                    )
                return (*r, start), None, iters
            tried.append(
                f"{m} stages: the walk stopped at {have} stages after {calls} "
                f"warm solves{why}"
            )
        return None, (
            f"no stage-count walk in {where} reached it either (from "
            + "; ".join(tried)
            + ")"
        ), iters

    def _with_stages(self, sec: str, end: int, m: int, n: int) -> Cascade:
        """This case with the run of ``n`` stages of section ``sec`` that ends
        at 1-based stage ``end`` cut to ``m``: a feed or side draw at the run's
        last stage or beyond keeps its place relative to the run's end (none
        lies strictly inside the run: _walk_run)."""
        case = self.case.model_copy(deep=True)
        getattr(case.sections, sec).stages += m - n
        for item in [case.feed, *case.side_draws]:
            if item.stage is not None and item.stage >= end:
                item.stage += m - n
        return Cascade(case)

    def _pulled_affinities(self, par: dict, v: float) -> dict:
        """The stage parameters with each metal's log affinity constant (``c``:
        log10 K of the saturated and mass-action laws, the intercept of the
        empirical pH law) pulled towards the metals' mean at each stage: c_mean +
        v (c - c_mean).  v = 0: every metal of the case distributes alike (their
        separation factors 1 in the saturated model); v = 1: the case.  The
        saponification agent's constants are kept."""
        metals = [self.species.index(s) for s in self.components]
        c = np.array(par["c"], float)
        cm = c[:, metals]
        mean = cm.mean(axis=1, keepdims=True)
        c[:, metals] = mean + v * (cm - mean)
        out = dict(par)
        out["c"] = c
        return out

    def _arc_stop(self, rep: dict, net, kind: str, v: float) -> str:
        """Where and why an arclength path stopped short, in the case's terms."""
        from rexopt import continuation

        p = rep["p"]
        if kind == "feed":
            at = f"the feed's metals x {v + p * (1.0 - v):.6g}"
        elif kind == "saponification":
            at = f"the organic's base x {v + p * (1.0 - v):.6g}"
        elif kind == "separation factors":
            at = f"the metals' affinity spread x {v + p * (1.0 - v):.6g}"
        elif kind == "organic flow":
            flow = self.case.organic.flow_L_h * (1.0 + v * (1.0 - p))
            at = f"organic flow {flow:.6g} L/h"
        else:
            at = f"{p:.6g} of the way"
        run = rep.get("runoff")
        if run is not None:
            j = min(max(run["stage"], 0), net.N - 1)
            sp = self.species[run["component"]]
            dec = run["decades"]
            return (
                f"the branch followed is vertical at {at} when the path's "
                f"{rep['steps'] + rep['rejected']} steps are used: over the last "
                f"{continuation.RUNOFF_STEPS} steps {sp} at {net.label(j)} "
                f"{'fell' if dec < 0 else 'rose'} by {abs(dec):.3g} decades with the "
                f"parameter fixed to {continuation.RUNOFF_DP:g} (a front crossing "
                f"the stages at a nearly fixed parameter, or a concentration "
                f"running to zero or without bound; not a proof that no steady "
                f"state exists)"
            )
        return f"stopped at {at} ({rep['reason']})"

    def _feed_walk(self, tol: float, max_iter: int):
        """Second fallback, when the organic-flow walk fails too: solve the case
        with the feed's metal concentrations scaled by 0.1 (then 0.01), cold, and
        raise them back to the case's in warm-started steps.

        Measured on the random mass-action cascades of benchmarks/bench_stress.py
        that neither start reaches: at a tenth of the metal fed the cold start
        converges, and each step up is a few Newton iterations from the last
        profile.  Every accepted point is a converged steady state of its own
        feed, the last one the case's, so the path changes nothing in the answer.
        Returns (kernel tuple + start text, or None when no walk reaches the case's
        feed within FEED_WALK_MAX_SOLVES kernel calls or a scaled feed cannot be
        stated; the Newton iterations of every call)."""
        n_steps = 0
        iters = 0
        eff = self.efficiencies()

        def solve(scale, x0):
            # a step is the warm start alone: where it fails, a smaller step from
            # the same profile is what is tried next, not the cold start
            nonlocal n_steps, iters
            net, par = self._neighbour(None, feed_scale=scale)
            limits = 0 if x0 is None else kernels.LIMIT_WARM_ONLY
            res = solve_arrays(
                net, par, eff, x0, tol=tol, max_iter=max_iter, limits=limits
            )
            n_steps += 1
            iters += int(res[5][kernels.INFO_TOTAL])
            return res

        for origin in FEED_WALK_ORIGINS:
            if n_steps >= FEED_WALK_MAX_SOLVES:
                return None, iters
            try:
                res = solve(origin, None)
            except CaseError:  # stated anions that the scaled feed cannot balance
                return None, iters
            if res[0] != kernels.OK:
                continue
            log_s = math.log(origin)
            step = -log_s / 4.0
            while n_steps < FEED_WALK_MAX_SOLVES:
                nxt = min(log_s + step, 0.0)
                trial = solve(1.0 if nxt == 0.0 else math.exp(nxt), res[1])
                if trial[0] == kernels.OK:
                    log_s, res = nxt, trial
                    if log_s == 0.0:
                        start = f"feed walk from {origin:g} x the feed's metals"
                        return (*res, start), iters
                    step *= 1.5
                else:
                    step *= 0.25
                    if step < 1e-6:
                        break
        return None, iters

    @_built_once
    def _steady_state(self, net, par, eff, x0, tol, max_iter, *, deep=True):
        """The once-through steady state: the kernel's solve from ``x0`` (None:
        cold), then, while none converged, the fallbacks in turn -- the
        organic-flow walk and the feed walk (status NOT_CONVERGED only), then
        (``deep``) the stage-count walk and arclength continuation; where the
        walk's run has STAGE_WALK_FIRST stages or more, the stage-count walk
        comes first (``deep`` and NOT_CONVERGED), before the two walks.

        Returns (kernel tuple, start text, Newton iterations of every call,
        whether the two walks failed, what the deep fallbacks tried or None).
        The tuple's status is the last failure where nothing converged."""
        st, x, y, h, F, info = solve_arrays(
            net, par, eff, x0, tol=tol, max_iter=max_iter
        )
        start = START_PATHS[int(info[kernels.INFO_PATH])]
        iters = int(info[kernels.INFO_TOTAL])
        walk_failed = False
        tried = []
        deep_fallbacks = (self._stage_walk, self._arclength_walk) if deep else ()
        # every fallback's Newton iterations count, reached or not
        # the phases of the top-level solve only (a walk's cut case is not deep)
        enter = watch.enter if deep else (lambda phase: None)
        if st == kernels.NOT_CONVERGED and deep:
            _, a, b, _ = self._walk_run()
            if b - a >= STAGE_WALK_FIRST:
                # a long run of stages: the stage-count walk before the two walks
                enter("stage-count walk")
                walked, why, extra = self._stage_walk(net, par, tol, max_iter)
                iters += extra
                deep_fallbacks = (self._arclength_walk,)
                if walked is not None:
                    st, x, y, h, F, info, start = walked
                else:
                    tried.append(why)
        if st == kernels.NOT_CONVERGED:
            enter("organic-flow walk")
            walked, extra = self._organic_flow_walk(tol, max_iter)
            iters += extra
            walk_failed = walked is None
            if walked is None:
                enter("feed walk")
                walked, extra = self._feed_walk(tol, max_iter)
                iters += extra
            if walked is not None:
                st, x, y, h, F, info, start = walked
                walk_failed = False
        for fallback in deep_fallbacks:
            if st == kernels.OK:
                break
            enter(
                "stage-count walk"
                if fallback == self._stage_walk
                else "arclength continuation"
            )
            walked, why, extra = fallback(net, par, tol, max_iter)
            iters += extra
            if walked is not None:
                st, x, y, h, F, info, start = walked
                walk_failed = False
            else:
                tried.append(why)
        return (
            (st, x, y, h, F, info),
            start,
            iters,
            walk_failed,
            "; ".join(tried) if st != kernels.OK and tried else None,
        )

    def simulate(
        self,
        *,
        tol: float = 1e-12,
        max_iter: int = 200,
        warm_start=None,
        recycle_tol: float = 1e-12,
        max_recycle: int = LOOP_PASSES,
        branch_search: bool = True,
        time_limit_s: float | None = None,
    ):
        """Solve the steady state and return a :class:`CascadeResult`.

        Parameters
        ----------
        tol : float
            Largest stage-balance residual relative to each component's throughput;
            every concentration above the accuracy floor is also converged to a
            relative Newton correction of max(tol, 1e-11) (docs/kernel.md).
        warm_start : array (N, C), optional
            Aqueous profile to start from [mol/L] (e.g. ``result.x`` of a neighbour).
        recycle_tol : float
            The organic loop is closed when the returning organic agrees with
            what the strip leaves on it to this fraction of each metal's
            throughput. [-]
        max_recycle : int
            Passes of the organic loop before its fallbacks (Newton's method on
            the returning organic, the walk in the base); ``LOOP_PASSES`` (1000)
            by default.  Where they run out while a metal still builds up on the
            circulating organic, or while the passes were closing, the error
            says so (docs/kernel.md, "Organic loop").
        branch_search : bool
            Look for other steady states (:meth:`branches`; four more kernel
            solves).  Where more than one is found, the one the cold start reaches
            is reported, so the answer does not depend on ``warm_start``; every
            branch found is listed in ``convergence["branches"]``.
        time_limit_s : float, optional
            Stop after this many seconds [s] with :class:`CascadeTimeLimit` (a
            ``CascadeError`` naming the phase it stopped in and every phase it
            ran); None: no limit.  Checked before every kernel solve and
            arclength step, so it can be passed by the length of one of them.
            A solve running past ``rexopt.watch.QUIET_S`` logs its phases
            (logger ``rexopt.cascade``, INFO; :mod:`rexopt.watch`).
        """
        bad = time_limit_s is not None and (
            isinstance(time_limit_s, bool)
            or not isinstance(time_limit_s, (int, float))
            or not math.isfinite(time_limit_s)
            or time_limit_s <= 0
        )
        if bad:
            raise ValueError(
                f"time_limit_s = {time_limit_s!r}: allowed a number of seconds "
                f"above 0, or None (no limit)"
            )
        if (
            isinstance(max_recycle, bool)
            or not isinstance(max_recycle, (int, np.integer))
            or max_recycle < 1
        ):
            raise ValueError(
                f"max_recycle = {max_recycle!r}: allowed a whole number of organic-"
                f"loop passes, 1 or more"
            )
        name = f"cascade {self.case.name!r}"
        with watch.watching(name, time_limit_s) as w:
            try:
                return self._simulate(
                    tol, max_iter, warm_start, recycle_tol, max_recycle, branch_search
                )
            except watch.TimeLimitReached as e:
                raise CascadeTimeLimit(
                    f"no steady state found within the time limit of "
                    f"{w.limit_s:g} s: stopped in the {e}; phases run: "
                    f"{w.history()}.  This proves nothing about the steady state "
                    f"(more time may reach it): raise time_limit_s (rexopt "
                    f"simulate --time-limit SECONDS) or leave it unset (no limit)",
                    w.elapsed(),
                    w.phase,
                ) from None

    def _simulate(
        self, tol, max_iter, warm_start, recycle_tol, max_recycle, branch_search
    ):
        """:meth:`simulate` inside its watch."""
        from rexopt.results import CascadeResult

        t0 = time.perf_counter()
        c = self.case
        self.warnings = []
        eff = self.efficiencies()
        net = self.network()
        budget = self.acid_budget(net)
        self._check_budget(budget)
        par = self.stage_parameters(net)
        solved, start, iters, walk_failed, failed = self._steady_state(
            net, par, eff, warm_start, tol, max_iter
        )
        st, x, y, h, F, info = solved
        if st != kernels.OK:
            try:
                self._raise_for(st, net, par, info, walk_failed, arc=failed)
            except CascadeError as e:
                raise self._budget_error(budget, e) from e
        loops = 0
        loop_note = ""
        if c.organic.recycle:
            try:
                st, x, y, h, F, info, net, loops, extra, loop_note = self._close_loop(
                    net, par, eff, (st, x, y, h, F, info), tol, max_iter,
                    recycle_tol, max_recycle,
                )  # fmt: skip
            except CascadeError as e:
                raise self._budget_error(budget, e) from e
            iters += extra
            if net.base_taken < 1.0:
                self.warnings.append(self._base_taken_text(net, par, y, budget))
        branches = None
        branch_note = None
        if branch_search and not c.organic.recycle and not (
            par["use_ph"] or par["use_F"]
        ):
            # linear stage balances (constant D): the system is a nonsingular
            # M-matrix per component, so the steady state is unique; no search
            branch_note = UNIQUE_LINEAR
            branches = [
                {
                    "start": start,
                    "cold_start": start != START_PATHS[0],
                    "max_relative_difference": 0.0,
                    "outlets_mol_h": self._outlet_flows(net, x, y),
                    "unique": UNIQUE_LINEAR,
                }
            ]
        elif branch_search and not c.organic.recycle:
            found = self.branches(
                net, par, eff, (st, x, y, h, F, info), start, tol=tol,
                max_iter=max_iter,
            )  # fmt: skip
            branches = found["branches"]
            searched = self._searched(par)
            if found["unresolved"]:
                branch_note = (
                    f"{searched}; not compared (relative "
                    f"error estimate above {BRANCH_SAME:g}): "
                    + ", ".join(found["unresolved"])
                )
            if len(branches) > 1:
                if not branches[0]["cold_start"]:
                    # report the branch the cold start reaches (history-independent)
                    cold = next((b for b in branches if b["cold_start"]), None)
                    if cold is not None:
                        k = branches.index(cold)
                        st, x, y, h, F, info = found["solutions"][k]
                        start = cold["start"]
                        branches.insert(0, branches.pop(k))
                        sols = found["solutions"]
                        sols.insert(0, sols.pop(k))
                        # differences from the reported branch
                        for bi, si in zip(branches, sols, strict=True):
                            bi["max_relative_difference"] = float(
                                found["distance"](si[1], x).max()
                            )
                self.warnings.append(
                    f"{len(branches)} steady states found for these inputs "
                    f"(convergence['branches']); reported: the one reached from "
                    f"{branches[0]['start']}"
                    + (" (the cold start's)" if branches[0]["cold_start"] else "")
                    + "; the others differ by up to a factor "
                    f"{max(b['max_relative_difference'] for b in branches[1:]) + 1:.3g}"
                    f" in some stage concentration"
                )
        self._x_last = x
        rel_err = float(info[kernels.INFO_RELSTEP])
        if rel_err > 1e-10 and start == EXACT_START:
            self.warnings.append(
                f"exact elimination over {net.N} stages: error bound {rel_err:.2g} "
                f"relative on every concentration (first-order bound), not 1e-10"
            )
        elif 1e-10 < rel_err <= REL_ESTIMATE_MAX:
            self.warnings.append(
                f"accepted at round-off level with a largest relative Newton "
                f"correction of {rel_err:.2g}: concentrations above the accuracy "
                f"floor are right to about that, not to 1e-10"
            )
        elif rel_err > REL_ESTIMATE_MAX:
            self.warnings.append(
                f"accepted with every balance closed but a largest relative Newton "
                f"correction of {rel_err:.2g}: some concentration above the accuracy "
                f"floor (a trace) is not converged and may be wrong by orders of "
                f"magnitude; the correction is no error bound there"
            )
        circ = circulation(net, x, y)
        # the exact elimination (constant D) gives every concentration to relative
        # accuracy whatever the circulation: no round-off limit to state
        exact = start == EXACT_START
        if exact:
            circ = np.zeros_like(circ)
        big = max(float(x.max()), float(y.max()))
        if big > PHYSICAL_MAX_MOL_L:
            i = int(np.argmax(np.maximum(x, y).max(axis=0)))
            self.warnings.append(
                f"{self.species[i]} reaches {big:.3g} mol/L in the cascade: no "
                f"phase holds that much (above {PHYSICAL_MAX_MOL_L:g} mol/L); it is "
                f"held up between sections with almost no way out, and the "
                f"{c.chemistry.model} model has no loading limit -- the numbers are "
                f"the model's exact steady state, not a physical one"
            )
        if self.pH_model and float(np.min(h)) < ACID_MEDIUM_MIN:
            low = np.flatnonzero(h < ACID_MEDIUM_MIN)
            j = int(np.argmin(h))
            self.warnings.append(
                f"free acid below {ACID_MEDIUM_MIN:g} mol/L (pH above "
                f"{-np.log10(ACID_MEDIUM_MIN):g}) at {_stage_runs(low)}; the lowest "
                f"{h[j]:.3g} mol/L (pH {-np.log10(h[j]):.2f}) at {net.label(j)}: "
                f"outside the acid medium the {c.chemistry.model} model is stated "
                f"for -- hydrolysis and precipitation of the metals, which set in "
                f"at higher pH, are not modelled; the concentrations at those "
                f"stages are the model's, unchecked against that chemistry"
                + self._basic_text(net, par["Q"] - x @ net.z)
            )
        if circ.max() > CIRCULATION_MAX:
            i = int(np.argmax(circ))
            raise CascadeError(
                f"{self.species[i]} circulates {circ[i]:.3g} times its throughput "
                f"through one stage: it is held up in the cascade with almost no "
                f"way out, and its steady state is not determined in double "
                f"precision (round-off of those flows exceeds its outlet flows "
                f"x 1e-4); no answer is reported -- check its distribution ratios "
                f"in the extraction and scrub sections"
            )
        for i in np.flatnonzero(circ > CIRCULATION_WARN):
            self.warnings.append(
                f"{self.species[i]} circulates {circ[i]:.3g} times its throughput "
                f"through one stage (held up in a high-reflux section): double-"
                f"precision round-off limits its concentrations to about "
                f"{1e-16 * circ[i]:.1g} relative"
            )
        conv = {
            "status": "converged",
            "kernel": kernels.kernel_info()["cascade_kernel"],
            "newton_iterations": iters,
            "continuation_steps": int(info[kernels.INFO_HOMOTOPY]),
            "start": start + loop_note,
            "scaled_residual": float(info[kernels.INFO_RESID]),
            # relative error estimate of every concentration above the accuracy
            # floor (the last Newton correction in the log variables)
            "relative_error_estimate": rel_err,
            "accuracy_floor": ACCURACY_FLOOR_TEXT,
            "organic_loop_passes": loops,
            # organic loop: the fraction of the stated saponification base the
            # returning organic takes up (1: all; below 1 where its metals leave
            # too few free sites, warned)
            "saponification_base_taken": float(net.base_taken),
            # the aqueous feed's charge balance: cations + acidity - anions as
            # stated [eq/L], and what closed it (None: anions derived)
            "feed_electroneutrality": {
                k: (net.feed_charge or {}).get(k)
                for k in ("residual_eq_L", "closed_on", "adjusted")
            },
            "branches": (
                [{k: v for k, v in b.items()} for b in branches]
                if branches is not None
                else "not searched"
                + (" (organic loop)" if branch_search and c.organic.recycle else "")
            ),
            # how the branches were established: searched (starts tried), or
            # skipped because uniqueness is proven (linear stage balances)
            "branch_search": (
                branch_note
                if branch_note is not None
                else self._searched(par)
                if branches is not None
                else "not searched"
            ),
            "solve_time_s": time.perf_counter() - t0,
        }
        res = CascadeResult.build(
            self, net, par, x, y, h, F, conv, list(self.warnings)
        )
        # the balances from the result's arrays (the same numbers as res.balance,
        # without building the table on every simulate)
        bad = res.unbalanced(BALANCE_MAX)  # no input (NaN error): never listed
        if bad:
            name, i_mol_h, o_mol_h, e = max(bad, key=lambda r: r[3])
            raise CascadeError(
                f"the {name} balance closes only to {e:.3g} relative (in "
                f"{i_mol_h:.3g} mol/h, out {o_mol_h:.3g} mol/h) on the solve "
                f"the kernel accepted (scaled residual "
                f"{conv['scaled_residual']:.3g}, start: {start}): it is not a "
                f"steady state, no answer is reported"
                + (
                    f" ({len(bad)} balances above {BALANCE_MAX:g}: "
                    f"{', '.join(r[0] for r in bad)})"
                    if len(bad) > 1
                    else ""
                )
            )
        return res

    def _close_loop(
        self, net, par, eff, first, tol, max_iter, recycle_tol, max_recycle,
        r0=None, base_scale=1.0, fallbacks=True,
    ):  # fmt: skip
        """Organic loop: the stripped organic returns (re-saponified) to stage 1.

        The loop variable is the metal content r of the returning organic [mol/L];
        one pass g(r) solves the cascade with r entering and returns what the
        strip section leaves on the organic.  The steady state is the fixed point
        r = g(r), solved by Anderson acceleration (the last LOOP_HISTORY passes
        combined to cancel the residual r - g(r) in the least-squares sense; plain
        passes contract only by the fraction the strip leaves on the organic, 0.99
        per pass on some cascades).  A combined point the kernel cannot solve
        (e.g. beyond the organic's capacity) is dropped for the plain pass from
        the last solved one, and the history restarts.  Where that fails (a pass
        not solved even by arclength continuation from the pass before, or
        ``max_recycle`` passes without closing), Newton's method on r
        (:meth:`_loop_newton`) is tried from the solved pass closest to closing,
        and where that fails too, continuation in the organic's base
        (:meth:`_loop_base_walk`).
        Every pass is a converged kernel solve; the answer is the last one, whose
        returning organic agrees with what it strips to ``recycle_tol`` of each
        metal's throughput.  ``first`` is the kernel tuple of the pass with
        ``r0`` returning (None: no metal) and ``net`` its network;
        ``base_scale`` the factor on the organic's base (Cascade.network);
        ``fallbacks=False`` raises at the first failure (no arclength pass, no
        Newton, no base walk), with the Newton iterations spent in the error's
        ``newton_iterations`` and the passes it solved or tried after the first
        in its ``passes``.  Returns (st, x, y, h, F, info, net, passes, newton
        iterations, note for convergence["start"])."""
        c = self.case
        sites = _inlet_sites(par)
        ion = None  # the base, re-saponified each pass (pH models, saponified)
        if self.pH_model and c.organic.saponification > 0:
            ion = self.species.index(self.agent.ion)
        metals = [i for i in range(len(self.species)) if i != ion]
        # site use of the stated base at the inlet
        base_sites = 0.0
        if ion is not None:
            base_sites = sites[0][ion] * self._stated_base_mol_L(base_scale)

        def overfull(v) -> bool:
            # v's metals and the stated base exceed stage 1's sites (sigma F +
            # sum nu y = cap: Cascade.network bounds the base taken up there)
            return bool(par["use_F"]) and base_sites > _free_sites(v, sites, ion)

        C = len(self.species)
        # throughput: what the feeds and the base bring, without returning metal
        net_in = net if r0 is None else self.network(base_scale=base_scale)
        scale = np.maximum(net_in.ext_aq.sum(0) + net_in.ext_org.sum(0), 1e-300)
        w = c.organic.flow_L_h / scale  # loading change -> fraction of throughput
        r = np.zeros(C) if r0 is None else np.array(r0, float)
        iters = 0
        passes = 0
        solves = 0  # kernel solves of passes made here (``first`` not counted)
        hist_r, hist_g = [], []
        last_good = None  # g of the last solved point: the plain pass from it
        st, x, y, h, F, info = first
        net_ok = net  # network of the last solved pass
        arc_note = None
        arc_passes = []  # passes (1-based) reached by arclength: said in start
        pt_passes = []  # passes solved by the pseudo-transient from the pass before
        best = None  # (loading change, r, kernel tuple) of the pass closest to closing
        # (pass, lowest [H+] of the pass [mol/L], its stage index) of the first and
        # of the last solved pass (pH models)
        acid_first = acid_last = None
        last_solved = 0  # the last pass solved (0: ``first``); an accelerated
        # point the kernel could not solve counts as a pass, not as solved
        if fallbacks:  # (not the base walk's loops, which say their own step)
            watch.enter("organic loop")

        def by_transient(newton):
            k = newton.get("transient_passes", 0)
            if not k:
                return ""
            return (
                f", {k} of them solved by the kernel's pseudo-transient from the "
                f"neighbouring pass's profile"
            )

        def note(newton=None):
            text = ""
            if arc_passes:
                by_pt = [k for k, pt in arc_passes if pt]
                text = (
                    f"; organic-loop pass{'es' if len(arc_passes) > 1 else ''} "
                    f"{', '.join(str(k) for k, _ in arc_passes)} reached by "
                    f"arclength continuation from the pass before"
                    + (
                        f" (pass{'es' if len(by_pt) > 1 else ''} "
                        f"{', '.join(str(k) for k in by_pt)} by the pseudo-transient "
                        f"from where the path ended)"
                        if by_pt
                        else ""
                    )
                )
            if pt_passes:
                text += (
                    f"; organic-loop pass{'es' if len(pt_passes) > 1 else ''} "
                    f"{', '.join(str(k) for k in pt_passes)} solved by the "
                    f"pseudo-transient from the pass before"
                )
            if newton is not None:
                text += (
                    f"; organic loop closed by Newton's method on the returning "
                    f"organic ({newton['iterations']} iterations, "
                    f"{newton['passes']} passes{by_transient(newton)}) after "
                    f"{solves} Anderson-accelerated passes had not closed it"
                )
            return text

        def acid_trend():
            # the lowest free acid of the first and the last solved pass, where it
            # fell (stress loops whose metal builds up: the raffinate's, pass by pass)
            if acid_first is None or acid_last[0] == acid_first[0]:
                return ""
            (p0, h0, j0), (pk, hk, jk) = acid_first, acid_last
            if not hk < ACID_TREND_FALL * h0:
                return ""
            return (
                f"; the lowest free acid of a solved pass fell from {h0:.3g} mol/L "
                f"(pass {p0}, at {net.label(j0)}) to {hk:.3g} mol/L (pH "
                f"{-np.log10(hk):.1f}; pass {pk}, at {net.label(jk)}, the last "
                f"solved): the loop runs towards a "
                f"stage without free acid, outside the acid medium the "
                f"{self.model} model is stated for"
            )

        def newton_or_raise(err: CascadeError):
            nonlocal iters
            if not fallbacks:
                err.newton_iterations = iters
                err.passes = solves
                raise err
            got = self._loop_newton(
                par, eff, best, metals, w, net.section, tol, max_iter, recycle_tol
            )
            iters += got["newton_iterations"]
            if got["result"] is not None:
                st, x, y, h, F, info = got["result"]
                return (st, x, y, h, F, info, got["net"], solves + got["passes"],
                        iters, note(got))  # fmt: skip
            walk = self._loop_base_walk(
                par, eff, metals, first[1], tol, max_iter, recycle_tol, max_recycle
            )
            iters += walk["newton_iterations"]
            if walk["result"] is None:
                why = f"; {walk['why']}" if walk["why"] else ""
                raise type(err)(f"{err}{acid_trend()}; {got['why']}{why}") from err
            st, x, y, h, F, info = walk["result"]
            return (st, x, y, h, F, info, walk["net"],
                    solves + got["passes"] + walk["passes"], iters,
                    note() + walk["note"])  # fmt: skip

        while True:
            if passes > 0:
                if fallbacks:
                    watch.note(
                        f"pass {passes + 1}; the best solved pass off by "
                        f"{best[0]:.3g} of a metal's throughput"
                    )
                net = self._loop_network(r, par, base_scale)
                # the point is the plain pass from the last solved one when the
                # history holds at most that pass (Anderson on one entry is the
                # plain pass): no other point to fall back to
                plain = last_good is None or len(hist_r) <= 1
                # an accelerated point from a pass in the acid medium is held
                # there: one the kernel solves only as a basic profile is an
                # extrapolation's overshoot, replaced by the plain pass below
                held = (
                    not plain
                    and acid_last is not None
                    and acid_last[1] >= ACID_MEDIUM_MIN
                )
                # warm from the last pass; the kernel starts cold itself if that fails
                res = solve_arrays(
                    net, par, eff, x, tol=tol, max_iter=max_iter,
                    limits=kernels.LIMIT_ACID_ONLY if held else 0,
                )  # fmt: skip
                iters += int(res[5][kernels.INFO_TOTAL])
                solves += 1
                if res[0] != kernels.OK and plain:
                    # the kernel's pseudo-transient from the last pass's profile
                    # (one solve): the pass where the returning organic's metals
                    # first leave too few free sites for the stated base (its
                    # uptake capped, Cascade.network) -- stress loop 461, which
                    # the cold and warm starts and arclength miss there
                    pt = solve_arrays(
                        net, par, eff, x, tol=tol, max_iter=max_iter,
                        limits=kernels.LIMIT_WARM_ONLY | kernels.LIMIT_WARM_TRANSIENT,
                    )  # fmt: skip
                    iters += int(pt[5][kernels.INFO_TOTAL])
                    if pt[0] == kernels.OK:
                        res = pt
                        pt_passes.append(passes + 1)
                if res[0] != kernels.OK and plain and fallbacks:
                    # about to fail: follow the steady state by arclength from
                    # the last solved pass to this one (rexopt.continuation)
                    arc, arc_note, arc_iters = self._arc_pass(
                        net_ok, net, par, eff, x, F, tol, max_iter
                    )
                    iters += arc_iters
                    if arc is not None:
                        res = arc
                        iters += int(res[5][kernels.INFO_TOTAL])
                        pt = res[5][kernels.INFO_PATH] == kernels.PATH_TRANSIENT
                        arc_passes.append((passes + 1, bool(pt)))
                if res[0] != kernels.OK:
                    if plain:
                        try:
                            self._raise_for(
                                res[0], net, par, res[5],
                                context=f"organic loop, pass {passes + 1} (the "
                                f"stripped organic of pass {last_solved} returning, "
                                f"{float(r @ np.abs(self.z)):.3g} eq/L of metal): ",
                                arc=arc_note,
                            )  # fmt: skip
                        except CascadeError as e:
                            return newton_or_raise(
                                self._loop_budget_error(net, last_solved, e)
                            )
                    # an accelerated point the kernel cannot solve: plain pass
                    r = last_good
                    hist_r, hist_g = [], []
                    last_good = None
                    passes += 1
                    if passes > max_recycle:
                        break
                    continue
                st, x, y, h, F, info = res
                net_ok = net
            g = _returning(y, metals)
            last_solved = passes
            if self.pH_model:
                j = int(np.argmin(h))
                acid_last = (passes, float(h[j]), j)
                acid_first = acid_first or acid_last
            err = float(np.max(np.abs(g - r) * w))
            if err <= recycle_tol:
                return st, x, y, h, F, info, net, solves, iters, note()
            if best is None or err < best[0]:
                best = (err, r.copy(), (st, x, y, h, F, info))
            passes += 1
            if passes > max_recycle:
                break
            last_good = g
            hist_r.append(r.copy())
            hist_g.append(g)
            hist_r, hist_g = hist_r[-LOOP_HISTORY:], hist_g[-LOOP_HISTORY:]
            if len(hist_r) > 1:
                Fk = np.array([(gg - rr) * w for gg, rr in zip(hist_g, hist_r)]).T
                dF = np.diff(Fk, axis=1)
                gam = np.linalg.lstsq(dF, Fk[:, -1], rcond=None)[0]
                r_new = g - np.diff(np.array(hist_g).T, axis=1) @ gam
                # no estimate of the fixed point: a step against the plain pass's
                # (a local rate of 1 or more: no fixed point ahead to extrapolate
                # to), a metal below zero by more than the plain pass moves it, or
                # more metal than the inlet's sites hold beside the stated base
                # where the plain pass's does not (an overshoot into where the
                # base taken up is bounded: another map than the passes', on
                # which seed-0 loop 3316 lost its way).  Where a pass adds the
                # same metal to the organic pass after pass (Fe building up until
                # its sites fill: stress loop 461), the residuals' differences
                # vanish and Anderson's step is unbounded or backwards; the plain
                # pass instead, history restarted there
                back = float(((r_new - r) * w) @ ((g - r) * w)) < 0.0
                below = float(np.max(np.maximum(-r_new, 0.0) * w))
                if back or below > err or (overfull(r_new) and not overfull(g)):
                    r_new = g
                    hist_r, hist_g = hist_r[-1:], hist_g[-1:]
            else:
                r_new = g
            r = np.maximum(r_new, 0.0)
        return newton_or_raise(
            CascadeError(
                f"organic loop did not close after {max_recycle} passes (loading "
                f"change {err:.3g} of throughput in the last solved pass; "
                f"Anderson-accelerated fixed point on the returning organic): no "
                f"steady state of the loop was found -- this does not prove that "
                f"none exists"
                + self._filling_text(r, g, w, par, metals, ion, max_recycle)
                + (
                    f"; the passes were closing: the loading change had come down "
                    f"to {err:.3g} of throughput (the loop is closed at "
                    f"recycle_tol = {recycle_tol:g}): more passes may close it -- "
                    f"raise max_recycle (rexopt simulate --loop-passes)"
                    if err <= LOOP_CLOSING
                    else ""
                )
            )
        )

    def _filling_text(self, r, g, w, par, metals, ion, passes: int) -> str:
        """Where the loop's passes ran out while a metal still builds up on the
        circulating organic at LOOP_FILLING of its throughput per pass or more
        (the organic is still filling: seed-0 stress loop 5443 closes after
        about 900 passes), the words saying so, with the share of the sites its
        metals hold, and the remedy."""
        f = (g - r) * w
        k = metals[int(np.argmax(f[metals]))]
        if not f[k] >= LOOP_FILLING:
            return ""
        text = (
            f"; {self.species[k]} still builds up on the circulating organic by "
            f"{f[k]:.3g} of its throughput per pass after {passes} passes"
        )
        if par["use_F"]:
            sites = _inlet_sites(par)
            held = 1.0 - _free_sites(g, sites, ion) / sites[1]
            text += (
                f" (the organic is still filling: the metals it returns with hold "
                f"{held:.1%} of its extractant's sites)"
            )
        return (
            text + ": more passes may close the loop -- raise max_recycle "
            "(rexopt simulate --loop-passes)"
        )

    def _loop_newton(
        self, par, eff, best, metals, w, sections, tol, max_iter, recycle_tol
    ):
        """Newton's method on the organic loop's fixed point r = g(r).

        Unknowns: the metal concentrations r of the returning organic [mol/L];
        residual f(r) = (g(r) - r) w, the loading change as a fraction of each
        metal's throughput.  The Jacobian of g is formed by forward differences
        (step LOOP_NEWTON_FD x r_i, at least LOOP_NEWTON_FD_FLOOR of the metal's
        throughput; backward where the forward pass is not solved), one pass
        per metal, every pass warm from the base point's profile (plain Newton,
        then the kernel's pseudo-transient from that profile; a pass neither
        reaches counts as not solved, no cold start).  The step is
        halved (at most LOOP_NEWTON_HALVINGS times, r kept >= 0) until the pass
        is solved and max |f| falls.  ``best`` = (max |f|, r, kernel tuple) of the
        solved pass to start from; ``sections`` the section of every stage.
        Returns a dict: result (the kernel tuple of the closing pass, or None),
        net, passes, newton_iterations (the kernel's), iterations (Newton's on r)
        and why (words, where not closed)."""
        watch.enter("organic loop: Newton's method on the returning organic")
        c = self.case
        O = c.organic.flow_L_h
        m = np.asarray(metals)
        kernel_iters = 0
        passes = 0
        transient = 0

        def g_of(r, x0):
            nonlocal kernel_iters, passes, transient
            net = self._loop_network(r, par)
            # warm only: the kernel's cold fallback costs ~1e3 iterations
            # there; where plain Newton from the solved neighbour's profile
            # misses (small steps of the returning Fe on stress loop 9613, its
            # raffinate near pH 6.4), the pseudo-transient from that profile
            res, how, failed = _solve_from_path(net, par, eff, x0, {}, tol, max_iter)
            kernel_iters += failed
            passes += 1
            if res is None:
                return None, None, None
            kernel_iters += int(res[5][kernels.INFO_TOTAL])
            transient += how == "transient"
            return _returning(res[2], m), res, net

        err, r, res = best
        g = _returning(res[2], m)
        f = (g - r) * w
        out = {"result": None, "net": None, "iterations": 0}
        why = None
        for it in range(LOOP_NEWTON_ITER):
            x0 = res[1]
            J = np.empty((len(m), len(m)))
            for col, i in enumerate(m):
                step = LOOP_NEWTON_FD * max(r[i], LOOP_NEWTON_FD_FLOOR / w[i])
                for sgn in (1.0, -1.0):
                    rp = r.copy()
                    rp[i] += sgn * step
                    if rp[i] < 0:
                        continue
                    gp = g_of(rp, x0)[0]
                    if gp is not None:
                        J[:, col] = (gp - g)[m] * w[m] / (sgn * step)
                        break
                else:
                    why = (
                        f"the passes around the closest point are not solved "
                        f"(returning {self.species[i]} +-{step:.3g} mol/L)"
                    )
                    break
            if why:
                break
            J[np.arange(len(m)), np.arange(len(m))] -= w[m]
            try:
                d = np.zeros_like(r)
                d[m] = np.linalg.solve(J, -f[m])
            except np.linalg.LinAlgError:
                why = "the Jacobian of the pass is singular at the closest point"
                break
            t = 1.0
            for _ in range(LOOP_NEWTON_HALVINGS + 1):
                rn = np.maximum(r + t * d, 0.0)
                gn, resn, netn = g_of(rn, x0)
                if gn is not None:
                    fn = (gn - rn) * w
                    errn = float(np.max(np.abs(fn)))
                    if errn <= recycle_tol or errn < (1.0 - 1e-4 * t) * err:
                        break
                t *= 0.5
            else:
                why = "no step along Newton's direction reduces the loading change"
                break
            r, g, f, err, res = rn, gn, fn, errn, resn
            out["iterations"] = it + 1
            if err <= recycle_tol:
                out.update(result=resn, net=netn)
                break
        else:
            why = f"not closed in {LOOP_NEWTON_ITER} iterations"
        out["passes"] = passes
        out["transient_passes"] = transient
        out["newton_iterations"] = kernel_iters
        if out["result"] is None:
            k = int(m[np.argmax(np.abs(f[m]))])
            yk = res[2][:, k]
            s0 = sections.index("strip") if "strip" in sections else None
            strip = ""
            if s0 and yk[s0 - 1] > 0:
                strip = (
                    f"; there the strip section strips {1.0 - yk[-1] / yk[s0 - 1]:.3g}"
                    f" of the {self.species[k]} concentration on the organic that "
                    f"brings it"
                )
            out["why"] = (
                f"Newton's method on the returning organic (finite-difference "
                f"Jacobian of the pass) from the pass closest to closing "
                f"stopped after {out['iterations']} iterations and {passes} passes: "
                f"{why}; closest loading change {err:.3g} of "
                f"{self.species[k]}'s throughput per pass ({self.species[k]} "
                f"{'builds up' if f[k] > 0 else 'runs down'} on the circulating "
                f"organic, {float(r[k]):.3g} mol/L returning at "
                f"{O:g} L/h){strip}"
            )
        return out

    def _loop_base_walk(
        self, par, eff, metals, x_first, tol, max_iter, recycle_tol, max_recycle
    ) -> dict:
        """The organic loop followed in the organic's base, from less of it.

        The last fallback of :meth:`_close_loop` (pH models with a saponified
        organic): the loop is closed by its accelerated passes alone with the
        base scaled by a factor v0 (LOOP_BASE_ORIGINS, in turn, the first that
        closes; its first pass solved warm from ``x_first``, the profile of the
        case's first pass, else cold), then v is raised to 1 in steps
        (LOOP_BASE_STEP, x 1.5 after a step closed in few passes, halved where a
        step's loop does not close within LOOP_BASE_PASSES passes, down to
        LOOP_BASE_MIN_STEP; at most LOOP_BASE_STEPS steps, closed or halved),
        every step's loop started from the returning organic
        and the profile of the step before (warm, else followed there by
        arclength continuation).  The answer at v = 1 is the case's
        loop closed like any other (same test, every pass a converged kernel
        solve).  Where the steps stop short, ``why`` gives the largest base
        reached, with the lowest free acid there against the origin's (loops
        whose raffinate runs out of free acid as the base grows: the base at
        which the branch followed leaves the acid medium).  Returns a dict:
        result (kernel tuple or None), net, passes, newton_iterations, note (for
        convergence["start"]) and why."""
        c = self.case
        out = {"result": None, "net": None, "passes": 0, "newton_iterations": 0,
               "note": "", "why": ""}  # fmt: skip
        if not (self.pH_model and c.organic.saponification > 0):
            return out
        watch.enter("organic loop: walk in the organic's base")
        s = c.organic.saponification

        def close(net, first, r0, v, max_passes):
            # the loop at base factor v from (r0, first); None where it fails
            try:
                got = self._close_loop(
                    net, par, eff, first, tol, max_iter, recycle_tol, max_passes,
                    r0=r0, base_scale=v, fallbacks=False,
                )  # fmt: skip
            except CascadeError as e:
                out["newton_iterations"] += getattr(e, "newton_iterations", 0)
                out["passes"] += getattr(e, "passes", 0)
                return None
            out["newton_iterations"] += got[8]
            out["passes"] += got[7]
            return got

        tried, got = [], None
        for v0 in LOOP_BASE_ORIGINS:
            watch.note(f"origin: the base x {v0:g}")
            net0 = self.network(base_scale=v0)
            first = solve_arrays(net0, par, eff, x_first, tol=tol, max_iter=max_iter)
            out["newton_iterations"] += int(first[5][kernels.INFO_TOTAL])
            out["passes"] += 1  # every kernel solve of a pass, solved or not
            if first[0] != kernels.OK:
                tried.append(f"x {v0:g}: its first pass not solved")
                continue
            got = close(net0, first, None, v0, max_recycle)
            if got is not None:
                break
            tried.append(f"x {v0:g}: the loop does not close there either")
        if got is None:
            out["why"] = (
                "continuation in the organic's base (organic.saponification) found "
                "no origin: " + "; ".join(tried)
            )
            return out
        h0 = float(np.min(got[3]))
        v, dv, steps, tries = v0, LOOP_BASE_STEP, 0, 0
        while v < 1.0 and dv >= LOOP_BASE_MIN_STEP and tries < LOOP_BASE_STEPS:
            tries += 1
            v1 = min(v + dv, 1.0)
            watch.note(f"the base x {v1:.6g} (step {tries})")
            r = _returning(got[2], metals)
            net = self._loop_network(r, par, v1)
            # warm from the step before, else followed to it by arclength (so
            # each step's loop starts on the steady state the last one closed on)
            first = solve_arrays(
                net, par, eff, got[1], tol=tol, max_iter=max_iter,
                limits=kernels.LIMIT_WARM_ONLY,
            )  # fmt: skip
            out["newton_iterations"] += int(first[5][kernels.INFO_TOTAL])
            out["passes"] += 1
            if first[0] != kernels.OK:
                arc, _, arc_iters = self._arc_pass(
                    got[6], net, par, eff, got[1], got[4], tol, max_iter
                )
                out["newton_iterations"] += arc_iters
                if arc is not None:
                    first = arc
                    out["newton_iterations"] += int(arc[5][kernels.INFO_TOTAL])
            step = None
            if first[0] == kernels.OK:
                step = close(net, first, r, v1, LOOP_BASE_PASSES)
            if step is None:
                dv /= 2.0
                continue
            got, v, steps = step, v1, steps + 1
            if got[7] < LOOP_BASE_PASSES // 4:
                dv *= 1.5
        if v >= 1.0:
            out["result"], out["net"] = got[:6], got[6]
            out["note"] = (
                f"; organic loop closed by continuation in the organic's base "
                f"(organic.saponification x {v0:g} -> x 1, {steps} "
                f"step{'s' if steps != 1 else ''}, "
                f"{out['passes']} passes) after Newton's method on the returning "
                f"organic had not closed it"
            )
            return out
        h = got[3]
        j = int(np.argmin(h))
        text = (
            f"continuation in the organic's base from organic.saponification x "
            f"{v0:g} ({v0 * s:.4g}), where the loop closes: {steps} "
            f"step{'s' if steps != 1 else ''} up to x "
            f"{v:.6g} (saponification {v * s:.6g} of the stated {s:g}), where "
            + (
                f"the step fell below {LOOP_BASE_MIN_STEP:g}"
                if dv < LOOP_BASE_MIN_STEP
                else f"its budget of {LOOP_BASE_STEPS} steps (closed or halved) "
                f"ran out at step {dv:.3g}"
            )
            + f"; there the lowest free acid "
            f"is {h[j]:.3g} mol/L (pH {-np.log10(h[j]):.1f}, at "
            f"{got[6].label(j)}; {h0:.3g} mol/L at x {v0:g})"
        )
        if h[j] < min(ACID_TREND_FALL * h0, ACID_MEDIUM_MIN):
            text += (
                f": the free acid runs out as the base grows -- no steady state of "
                f"the loop in the acid medium the {self.model} model is stated for "
                f"was found beyond saponification {v * s:.4g} (this does not prove "
                f"that none exists); lower organic.saponification below it"
            )
        out["why"] = text
        return out

    def _arc_pass(self, net0, net, par, eff, x0, F0, tol, max_iter):
        """An organic-loop pass the kernel did not solve, retried warm from the
        profile that arclength continuation reaches from the last solved pass
        (the same cascade with the previous returning organic), and where the
        path stops short or the kernel does not converge from where it ends, by
        the kernel's pseudo-transient from that profile.  Returns the kernel
        tuple of that solve (or None; its info's INFO_PATH is PATH_TRANSIENT
        where the pseudo-transient solved it), what stopped it (or None) and the
        Newton iterations of the path's correctors and of the failed kernel
        solves (a returned tuple's own are in its info)."""
        from rexopt import continuation

        if self._murphree(eff):
            return None, "no arclength continuation (Murphree stages)", 0
        xa, rep = continuation.follow(net0, par, x0, F0, net, par, eff)
        res, how, extra = _solve_from_path(net, par, eff, xa, rep, tol, max_iter)
        iters = rep["newton"] + extra
        if res is not None:
            return res, None, iters
        if xa is not None:
            stop = (
                "arclength continuation reached this pass, but the kernel did not "
                "converge from the profile it reached"
            )
        else:
            stop = (
                "arclength continuation from the last solved pass to this one "
                f"stopped at {rep['p']:.4g} of the way ({rep['reason']})"
            )
        if how == "transient failed":
            stop += "; the pseudo-transient from where it ended did not converge"
        return None, stop, iters

    @staticmethod
    def _murphree(eff) -> bool:
        return bool(np.any(np.asarray(eff) < 1.0))

    def _base_taken_text(self, net, par, y, budget: dict | None = None) -> str:
        """The warning of a loop whose returning organic took up less than the
        stated saponification base (Cascade.network's ``sites``); where the
        stated inputs' acid budget was short, the budget again with the base
        taken up."""
        c = self.case
        nu, cap = _inlet_sites(par)
        ion = self.species.index(self.agent.ion)
        r = y[-1].copy()
        r[ion] = 0.0
        used = nu * r
        share = float(used.sum() / cap)
        top = [i for i in np.argsort(-used) if used[i] > 0.01 * used.sum()][:3]
        metals = ", ".join(f"{self.species[i]} {r[i]:.3g} mol/L" for i in top)
        stated = c.organic.saponification * c.organic.extractant_mol_L * (
            c.organic.flow_L_h
        )
        return (
            f"organic loop: the stripped organic returns holding {share:.1%} of "
            f"the extractant's sites as metal ({metals}); re-saponified with the "
            f"stated base up to its free sites, it takes up only "
            f"{net.base_taken:.1%} of the base organic.saponification = "
            f"{c.organic.saponification:g} states ({net.base_taken * stated:.4g} of "
            f"{stated:.4g} eq/h): the rest is not taken up by the organic (it stays "
            f"in the saponification liquor, outside this cascade; the reagent "
            f"table counts the base as stated).  The strip leaves that metal on "
            f"the circulating organic: strip it harder (more acid or stages) or "
            f"remove it before the cascade"
            + self._budget_taken_text(net, budget)
        )

    def _budget_taken_text(self, net, budget: dict | None) -> str:
        """The loop's acid budget with the base its organic took up, where the
        budget of the stated base was short (its warning counts the stated
        base)."""
        if budget is None or budget["deficit_eq_h"] <= 0:
            return ""
        untaken = (1.0 - net.base_taken) * budget["base_stated_eq_h"]
        d = budget["deficit_eq_h"] - untaken
        how = (
            f"short by {d:.4g} eq/h"
            if d > 0
            else f"covered, with {-d:.4g} eq/h of free acid to spare"
        )
        return (
            f".  With the base taken up the loop's acid budget is {how} (short by "
            f"{budget['deficit_eq_h']:.4g} eq/h with the stated base, as the acid "
            f"budget warning says)"
        )

    def _loop_budget_error(self, net, passes: int, err: CascadeError):
        """A failed organic-loop pass, restated where that pass is short of acid.

        The loop's own budget (base against acid, docs/kernel.md) does not count
        the returning metal: at the loop's steady state it enters and leaves on
        the organic.  A single pass does: its organic brings the metal the last
        strip left on it, to be stripped again.  Short there means metal is
        building up on the circulating organic faster than the strip removes
        it, which is what the message says (a probable cause, not a proof)."""
        b = self.acid_budget(net)
        if b is None or b["deficit_eq_h"] <= 0 or b["organic_metal_eq_h"] <= 0:
            return err
        return CascadeError(
            f"{err}; that pass is short of acid: the organic returning from pass "
            f"{passes} brings {b['organic_metal_eq_h']:.4g} eq/h of metal besides "
            f"{b['base_eq_h']:.4g} eq/h {self.agent.ion}"
            + (
                f" (of the {b['base_stated_eq_h']:.4g} eq/h stated: its free sites "
                f"take up no more)"
                if b["base_eq_h"] < b["base_stated_eq_h"]
                else ""
            )
            + f", against "
            f"{b['acid_total_eq_h']:.4g} eq/h of free acid (short by "
            f"{b['deficit_eq_h']:.4g} eq/h): metal builds up on the circulating "
            f"organic faster than the strip removes it (the probable cause, not a "
            f"proof that the loop has no steady state) -- raise "
            f"strip.acidity_mol_L or strip.flow_L_h"
        )

    def _neighbour(self, flow: float | None, feed_scale: float = 1.0):
        """Network and stage parameters of this case at another organic flow
        [L/h] (None: the case's) or with the feed's metals scaled by
        ``feed_scale``; what they would warn about concerns that variant, not the
        case, and is not kept in this case's warnings."""
        n = len(self.warnings)
        net = self.network(organic_flow_L_h=flow, feed_scale=feed_scale)
        par = self.stage_parameters(net)
        del self.warnings[n:]
        return net, par

    def _outlet_flows(self, net, x, y) -> dict:
        """Outlet flows of every species [mol/h], by outlet."""
        flows = {}
        for name, phase, j, q in net.outlets:
            conc = x[j] if phase == "aqueous" else y[j]
            flows[name] = {sp: float(q * conc[i]) for i, sp in enumerate(net.species)}
        return flows

    def _searched(self, par) -> str:
        """The starts the branch search tries, as convergence["branch_search"]
        states them."""
        return (
            "searched: cold start"
            + (", cold start over the whole pH domain" if par["use_ph"] else "")
            + f", organic flow +-{BRANCH_OFFSET:g} continued back"
        )

    @_built_once
    def branches(self, net, par, eff, x, start, *, tol=1e-12, max_iter=200):
        """Steady states of this case reached from distinct starts.

        ``x`` is the solution found, as the kernel tuple (status, x, y, h, F,
        info) or as the aqueous profile alone (then solved once more for y, h, F),
        reached from ``start``.  Starts tried besides it: the cold start (when
        ``x`` came from elsewhere), for pH models the cold start over the whole
        pH domain at once (the kernel's is held in the acid medium first; not
        tried where a cold start gave a basic answer, which is that start's
        already), and the continuation from the solutions at
        the organic flow +-BRANCH_OFFSET away (a cold solve there by the
        continuation start, without the pseudo-transient fallback; then a warm
        start alone at the case's own flow, at most BRANCH_WARM_ITER Newton
        iterations: a cold fallback would only repeat the cold answer): the two sides of a hysteresis in organic flow, where
        high-reflux cascades have their multiple steady states.  The neighbouring
        networks are the case's with the organic flow replaced (no new case is
        built).  Two solutions are the same branch when every concentration
        above the accuracy floor agrees to BRANCH_SAME relative.  Returns a
        dict: ``branches`` (list of dicts: start, cold_start,
        max_relative_difference from the first, outlet flows [mol/h]),
        ``solutions`` (kernel tuples), ``distance`` (the per-component
        distance of two profiles used for it) and ``unresolved`` (starts whose
        solution has a relative error estimate above BRANCH_SAME: not compared).
        This finds the branches these starts reach, not necessarily all.
        """
        watch.enter("branch search")
        if isinstance(x, tuple):
            first = x
        else:
            first = solve_arrays(net, par, eff, x, tol=tol, max_iter=max_iter)
        x = first[1]
        scale = (net.ext_aq + net.ext_org).sum(0)
        floor = kernels.ACC_FLOOR * scale / (net.aq_out + net.org_out).mean()
        circ = circulation(net, x, np.zeros_like(x))
        same = np.maximum(BRANCH_SAME, 1e-13 * circ)
        sols = [first]
        info_rows = [(start, start != START_PATHS[0])]

        def distance(a, b):
            act = (a >= floor) | (b >= floor)
            d = np.where(act, np.abs(a - b) / np.maximum(np.minimum(a, b), floor), 0.0)
            return d.max(axis=0)

        unresolved = []

        def add(res, label, cold):
            if res[0] != kernels.OK:
                return
            if res[5][kernels.INFO_RELSTEP] > BRANCH_SAME:
                # not converged finely enough to tell branches apart at BRANCH_SAME
                # (e.g. traces accepted at the iteration budget): not compared
                unresolved.append(label)
                return
            for s in sols:
                if np.all(distance(res[1], s[1]) <= same):
                    return
            sols.append(res)
            info_rows.append((label, cold))

        if start == START_PATHS[0]:  # x came from a warm start: try the cold one
            res = solve_arrays(net, par, eff, None, tol=tol, max_iter=max_iter)
            add(res, START_PATHS[int(res[5][kernels.INFO_PATH])], True)
        if par["use_ph"] and not (
            start != START_PATHS[0] and np.any(par["Q"] - x @ net.z <= 0.0)
        ):
            # the kernel's cold start is held in the acid medium first; the same
            # start over the whole pH domain at once may reach a basic steady
            # state besides the acid one (a basic answer from a cold start is
            # already the whole-domain start's)
            res = solve_arrays(
                net, par, eff, None, tol=tol, max_iter=max_iter,
                limits=kernels.LIMIT_WHOLE_DOMAIN | kernels.LIMIT_NO_TRANSIENT,
            )  # fmt: skip
            add(res, WHOLE_DOMAIN_START, True)
        target = self.case.organic.flow_L_h
        for rel in (-BRANCH_OFFSET, BRANCH_OFFSET):
            flow = target * (1.0 + rel)
            snet, spar = self._neighbour(flow)
            near = solve_arrays(
                snet, spar, eff, None, tol=tol, max_iter=max_iter,
                limits=kernels.LIMIT_NO_TRANSIENT,
            )  # fmt: skip
            if near[0] != kernels.OK:
                continue
            res = solve_arrays(
                net, par, eff, near[1], tol=tol,
                max_iter=min(max_iter, BRANCH_WARM_ITER),
                limits=kernels.LIMIT_WARM_ONLY,
            )  # fmt: skip
            add(res, f"organic flow {flow:.6g} L/h (continued)", False)
        out = []
        for (label, cold), s in zip(info_rows, sols, strict=True):
            out.append(
                {
                    "start": label,
                    "cold_start": bool(cold),
                    "max_relative_difference": float(distance(s[1], sols[0][1]).max()),
                    "outlets_mol_h": self._outlet_flows(net, s[1], s[2]),
                }
            )
        return {
            "branches": out,
            "solutions": sols,
            "distance": distance,
            "unresolved": unresolved,
        }

    def efficiencies(self) -> np.ndarray:
        """Murphree efficiency of every stage in kernel order (organic basis) [-]."""
        eff = []
        for name in SECTIONS:
            spec = getattr(self.case.sections, name)
            if spec is not None:
                eff += [spec.efficiency] * spec.stages
        return np.array(eff, float)


def _inlet_sites(par: dict) -> tuple[np.ndarray, float]:
    """Site use of every species and the capacity at stage 1, where the
    returning organic of a loop enters (``Cascade.network``'s ``sites``)."""
    return np.asarray(par["nu"])[0], float(np.asarray(par["cap"]).reshape(-1)[0])


def _free_sites(v: np.ndarray, sites: tuple, ion: int | None) -> float:
    """Extractant left free at stage 1 by the metals of organic ``v`` [mol/L]:
    cap - sum nu_i v_i over every species but the base ``ion`` (None: all), in
    site units, mol/L (negative where the metals alone overfill the sites)."""
    nu, cap = sites
    metal = np.arange(len(v)) != ion if ion is not None else slice(None)
    return float(cap - nu[metal] @ v[metal])


def _returning(y: np.ndarray, metals) -> np.ndarray:
    """The organic an organic-loop pass returns to extraction stage 1 [mol/L]:
    the metals of the last stage's organic (the stripped organic), zero for the
    species the loop does not carry back (the base, re-saponified to the stated
    degree)."""
    g = np.zeros(y.shape[1])
    g[metals] = y[-1, metals]
    return g


def solve_arrays(
    net: Network,
    par: dict,
    eff,
    x0=None,
    *,
    tol=1e-12,
    max_iter=200,
    kernel=None,
    limits=0,
):
    """Call a cascade kernel on a network and its stage parameters.

    ``kernel`` defaults to the active one (``rexopt.kernels``); tests and
    benchmarks pass the compiled or the pure twin explicitly.  ``x0`` is an aqueous
    profile to start from (None: cold start); ``limits`` restricts the starts
    (``kernels.LIMIT_WARM_ONLY``: a failed warm start is returned as it failed;
    ``kernels.LIMIT_NO_TRANSIENT``: no pseudo-transient fallback;
    ``LIMIT_ACID_ONLY`` / ``LIMIT_WHOLE_DOMAIN``: pH models, one round of the
    starts only; ``LIMIT_WARM_TRANSIENT``: the warm start is the pseudo-transient
    from ``x0``; docs/kernel.md).  Returns (status, x, y, h, F, info).
    """
    watch.tick()  # a watched simulate's time limit and progress (rexopt.watch)
    fn = kernels.solve_cascade if kernel is None else kernel
    N, C = net.ext_aq.shape
    x = np.full((N, C), -1.0) if x0 is None else np.array(x0, float, copy=True)
    y = np.zeros((N, C))
    h = np.zeros(N)
    F = np.zeros(N)
    info = np.zeros(kernels.INFO_SIZE)
    st = fn(
        net.aq_out, net.aq_pass, net.org_out, net.org_pass, net.org_in,
        np.ascontiguousarray(net.ext_aq), np.ascontiguousarray(net.ext_org),
        par["a"], par["b"], par["c"], par["d"], par["nu"], par["sigma"], par["cap"],
        net.z, par["Q"], par["ST"], par["ka"], eff, par["use_ph"], par["use_F"],
        x, y, h, F, tol, max_iter, info, *((limits,) if limits else ()),
    )  # fmt: skip
    return st, x, y, h, F, info


def _solve_from_path(net, par, eff, xa, rep: dict, tol: float, max_iter: int):
    """The kernel's solve of a case from where an arclength path ended: warm
    Newton from the point it reached at p = 1 (``xa``), else the kernel's
    pseudo-transient (the case's own dynamics: a front the path crosses stage by
    stage at a nearly fixed parameter moves on in pseudo-time) from that point
    or from where the path stopped short (``rep["x_end"]``).  Also the solve of
    a pass of Newton's method on the organic loop from its neighbour's profile
    (``xa``; ``rep`` empty).

    Returns (kernel tuple or None, which solve answered -- "warm" or
    "transient" -- or why none did -- "transient failed" or "no profile" --,
    the Newton iterations of the failed solves; a returned tuple's own are in
    its info)."""
    iters = 0
    if xa is not None:
        res = solve_arrays(
            net, par, eff, xa, tol=tol, max_iter=max_iter,
            limits=kernels.LIMIT_WARM_ONLY,
        )  # fmt: skip
        if res[0] == kernels.OK:
            return res, "warm", iters
        iters += int(res[5][kernels.INFO_TOTAL])
    end = xa if xa is not None else rep.get("x_end")
    if end is None:
        return None, "no profile", iters
    res = solve_arrays(
        net, par, eff, end, tol=tol, max_iter=max_iter,
        limits=kernels.LIMIT_WARM_ONLY | kernels.LIMIT_WARM_TRANSIENT,
    )  # fmt: skip
    if res[0] == kernels.OK:
        return res, "transient", iters
    return None, "transient failed", iters + int(res[5][kernels.INFO_TOTAL])


def _inserted(x: np.ndarray, a: int, b: int, k: int) -> np.ndarray:
    """Profile ``x`` with ``k`` copies of the flattest stage of rows a..b-1
    (the smallest largest change of log concentration to the next stage of the
    span) inserted after it."""
    j = a
    if b - a > 1:
        lx = np.log(np.maximum(x[a:b], 1e-300))
        j = a + int(np.argmin(np.abs(np.diff(lx, axis=0)).max(axis=1)))
    return np.concatenate([x[: j + 1], np.repeat(x[j : j + 1], k, axis=0), x[j + 1 :]])


def circulation(net: Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Circulation factor of every component: the largest gross flow through one
    of its stage balances (everything entering and leaving that stage) over its
    throughput. [-]

    About 2 for a component that passes through once; far above that for one held
    up in a high-reflux section.  Round-off of those balances (1e-16 of the gross
    flow) limits the relative accuracy any double-precision answer can have to
    about ``1e-16 x circulation`` (docs/kernel.md, Accuracy)."""
    ext = net.ext_aq + net.ext_org
    g = ext + net.aq_out[:, None] * x + net.org_out[:, None] * y
    g[:-1] += net.aq_pass[1:, None] * x[1:]
    g[1:] += net.org_pass[:-1, None] * y[:-1]
    return g.max(axis=0) / np.maximum(ext.sum(axis=0), 1e-300)


def _stage_runs(idx) -> str:
    """Stage indices (0-based, ascending) as 1-based runs: 'stages 3-7, 12'."""
    runs, start = [], None
    for k, j in enumerate(idx):
        if start is None:
            start = j
        if k + 1 == len(idx) or idx[k + 1] != j + 1:
            runs.append(f"{start + 1}" if start == j else f"{start + 1}-{j + 1}")
            start = None
    return ("stage " if len(idx) == 1 else "stages ") + ", ".join(runs)


def simulate(case, **kwargs):
    """Simulate a cascade case (path, dict or CascadeCase) -> CascadeResult."""
    return Cascade(case).simulate(**kwargs)
