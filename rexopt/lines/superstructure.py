"""Superstructure of a separation line: states, candidate cuts, linkage options.

Products are contiguous blocks of components in extraction order (P507-HCl by
default).  A *state* is a contiguous run of product blocks ``(i, j)``; a *task*
is a cascade that splits a state: a two-outlet cut after block ``k``
(``i <= k < j``) or a three-outlet cut after blocks ``k1 < k2`` (aqueous middle
draw).  Every task is sized in closed form by Xu's theory on its lumped key pair
(:func:`rexopt.design.xu.xu_design_multicomponent`,
:func:`rexopt.design.xu.xu_three_outlet`) and turned into a kernel case by
:func:`rexopt.design.xu.design_to_case`; each candidate can be simulated by the
kernel to record its purities beside the theory's.

Impurity budgets (why the cuts are independent of the sequence): with sharp
splits every boundary between two adjacent products is cut exactly once in any
sequence, and the key components that cross a cut follow their neighbours to the
product next to that boundary.  So product p's impurity comes only from its two
boundary cuts, and its losses go only to its two neighbours.  Each product's
impurity budget ``R F (1 - P)/P`` and loss budget ``(1 - R) F`` are split evenly
over its boundaries; boundary k then has fixed crossing amounts ``down[k]`` (block
k+1 material into block k) and ``up[k]`` (block k into k+1) [mol/h], and every
task that cuts at k is designed for exactly those amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rexopt.chemistry import element, p507_relative_affinities
from rexopt.design import costing
from rexopt.design.xu import (
    design_to_case,
    xu_design_multicomponent,
    xu_three_outlet,
)
from rexopt.lines.case import LineCase, feed_presets
from rexopt.lines.zld import WATER_MOL_L, brine_to_zld

#: line costs not in rexopt/data/costs.toml (override in the case [costs] table)
LINE_COSTS = {
    "electricity_USD_kWh": (0.0804, "[S53] US industrial 2023", "verified"),
    "steam_USD_t": (21.0, "[D] 140-170 yuan/t [S29] at 7.2 yuan/USD", "derived"),
}
LOADING_FRACTION = 0.98  # loaded-organic feed: share of its sites carrying RE
VARIANTS = (("aq", True), ("aq", False), ("org", True), ("org", False))


class LineSpecError(ValueError):
    """The product specifications cannot be met; the message says which and why."""


@dataclass
class Feed:
    components: list[str]  # extraction order, least extractable first
    mol_h: dict[str, float]  # [mol/h]
    oxide_pct: dict[str, float]  # normalised [% REO]
    status: dict[str, str]
    K: dict[str, float]  # relative affinities [-]

    @property
    def total_mol_h(self) -> float:
        return float(sum(self.mol_h.values()))


@dataclass
class Variant:
    """One way to run a task: aqueous or loaded-organic feed, with or without strip."""

    feed: str  # "aq" | "org"
    strip: bool
    S: float
    W: float
    stages: int  # installed stages (extraction + scrub + strip) [stages]
    base_mol_h: float  # [mol/h]
    acid_mol_h: float  # [mol/h]
    zld: dict[str, float]
    cost: costing.CascadeCost
    metrics: dict[str, float] = field(default_factory=dict)
    water: dict = field(default_factory=dict)  # see cascade_water
    # ions of its aqueous outlets per design feed (rexopt.lines.streams)
    ions: dict = field(default_factory=dict)


@dataclass
class Task:
    key: tuple  # (i, j, cuts...)
    label: str
    group: tuple[int, int]
    cuts: tuple[int, ...]
    outputs: dict[str, tuple[int, int]]  # "organic" | "middle" | "raffinate"
    components: list[str]
    feed_mol_h: dict[str, float]
    design: object = None
    design_org: object = None
    case: dict | None = None
    variants: dict[tuple[str, bool], Variant] = field(default_factory=dict)
    theory: dict[str, float] = field(default_factory=dict)  # group purities
    kernel: dict[str, float] = field(default_factory=dict)
    kernel_design: dict[str, float] = field(default_factory=dict)  # uncalibrated
    calib: dict | None = None  # kernel calibration (rexopt.lines.calibrate)
    # kernel calibration of the loaded-organic-feed design (xu_organic_feed)
    calib_org: dict | None = None
    kernel_org: dict[str, float] = field(default_factory=dict)
    excluded: str | None = None
    # kernel outlet ions by operating point (see _variant_ions)
    ion_cache: dict = field(default_factory=dict, repr=False)

    @property
    def F(self) -> float:
        return float(sum(self.feed_mol_h.values()))


@dataclass
class Superstructure:
    case: LineCase
    feed: Feed
    blocks: list[tuple[str, list[str]]]  # (product name, components)
    specs: list[tuple[float, float]]  # (purity, recovery) per block
    down: list[float]  # crossing amounts at boundary k [mol/h]
    up: list[float]
    tasks: dict[tuple, Task]
    costs: dict[str, float]
    messages: list[str] = field(default_factory=list)

    @property
    def root(self) -> tuple[int, int]:
        return (0, len(self.blocks) - 1)

    def states(self) -> list[tuple[int, int]]:
        P = len(self.blocks)
        return [(i, j) for i in range(P) for j in range(i, P)]

    def block_label(self, s: tuple[int, int]) -> str:
        return "+".join(self.blocks[b][0] for b in range(s[0], s[1] + 1))

    def sizes(self) -> dict[str, int]:
        t = list(self.tasks.values())
        return {
            "products": len(self.blocks),
            "components": len(self.feed.components),
            "states": len(self.states()),
            "candidate_cuts": len(t),
            "two_outlet_cuts": sum(1 for x in t if len(x.cuts) == 1),
            "three_outlet_cuts": sum(1 for x in t if len(x.cuts) == 2),
            "excluded_cuts": sum(1 for x in t if x.excluded),
            "task_variants": sum(len(x.variants) for x in t if not x.excluded),
        }


# ------------------------------------------------------------------------ feed
def build_feed(case: LineCase) -> Feed:
    """Molar feed [mol/h] from the oxide composition and the plant capacity."""
    presets = feed_presets()
    pct: dict[str, float] = {}
    status: dict[str, str] = {}
    if case.feed.preset:
        for k, v in presets[case.feed.preset].items():
            if isinstance(v, dict):
                pct[k] = float(v["value"])
                status[k] = v["status"]
    for k, v in case.feed.oxide_pct.items():
        pct[k] = float(v)
        status[k] = "case"
    if case.feed.components is not None:
        pct = {k: pct.get(k, 0.0) for k in case.feed.components}
    pct = {k: v for k, v in pct.items() if v > 0}
    tot = sum(pct.values())
    pct = {k: 100.0 * v / tot for k, v in pct.items()}
    K = dict(p507_relative_affinities())
    K.update(case.chemistry.separation_factors)
    comps = sorted(pct, key=lambda c: K[c])
    hours = costing.load_costs()["operating_hours_h_y"]
    kg_h = case.feed.capacity_t_REO_y * 1e3 / hours  # oxide [kg/h]
    mol_h = {
        c: kg_h * pct[c] / 100.0 * 1e3 / element(c).oxide_g_per_mol_metal for c in comps
    }
    return Feed(
        comps,
        mol_h,
        pct,
        {c: status.get(c, "case") for c in comps},
        {c: K[c] for c in comps},
    )


def _blocks(case: LineCase, feed: Feed):
    order = feed.components
    where = {}
    errs = []
    for p in case.products:
        for c in p.components:
            if c in where:
                errs.append(f"component {c} is in two products ({where[c]}, {p.name})")
            where[c] = p.name
            if c not in feed.mol_h:
                errs.append(
                    f"product {p.name}: component {c} is not in the feed "
                    f"(feed has {order}); a product needs feed of every component"
                )
    missing = [c for c in order if c not in where]
    if missing:
        errs.append(
            f"feed components {missing} are in no product: add them to a product "
            "(e.g. a by-product group) or drop them with feed.components"
        )
    if errs:
        raise LineSpecError("infeasible product specification:\n  " + "\n  ".join(errs))
    blocks = []
    seen = []
    for c in order:
        name = where[c]
        if blocks and blocks[-1][0] == name:
            blocks[-1][1].append(c)
        else:
            if name in seen:
                comp = next(p.components for p in case.products if p.name == name)
                raise LineSpecError(
                    f"infeasible product specification: product {name} = {comp} is not "
                    f"contiguous in the extraction order {order}; a cascade line of "
                    "sharp cuts can only make groups of adjacent components"
                )
            seen.append(name)
            blocks.append((name, [c]))
    return blocks


def _budgets(blocks, specs, feed: Feed):
    P = len(blocks)
    Fb = [sum(feed.mol_h[c] for c in comps) for _, comps in blocks]
    nb = [(1 if b > 0 else 0) + (1 if b < P - 1 else 0) for b in range(P)]
    imp = [specs[b][1] * Fb[b] * (1 - specs[b][0]) / specs[b][0] for b in range(P)]
    loss = [(1 - specs[b][1]) * Fb[b] for b in range(P)]
    down, up = [], []
    errs = []
    for k in range(P - 1):
        down.append(min(imp[k] / nb[k], loss[k + 1] / nb[k + 1]))
        up.append(min(loss[k] / nb[k], imp[k + 1] / nb[k + 1]))
        for amt, what in ((down[k], "into"), (up[k], "out of")):
            if not amt > 0:
                a, b = blocks[k][0], blocks[k + 1][0]
                errs.append(
                    f"boundary {a}|{b}: no material may cross it ({what} {a}): a "
                    "purity or recovery of exactly 1 needs infinitely many stages; "
                    "give purity and recovery < 1"
                )
    if errs:
        raise LineSpecError("infeasible product specification:\n  " + "\n  ".join(errs))
    return down, up


# ------------------------------------------------------------------------ tasks
def _task_components(blocks, i, j):
    return [c for b in range(i, j + 1) for c in blocks[b][1]]


def _amount(blocks, feed, i, j):
    return sum(feed.mol_h[c] for c in _task_components(blocks, i, j))


def _label(blocks, i, j, cuts):
    parts, start = [], i
    for k in (*cuts, j):
        parts.append("+".join(blocks[b][0] for b in range(start, k + 1)))
        start = k + 1
    return " | ".join(parts)


def _design_task(ss: Superstructure, t: Task) -> None:
    """Xu designs (aqueous and loaded-organic feed) of one task."""
    blocks, feed, case = ss.blocks, ss.feed, ss.case
    i, j = t.group
    comps = t.components
    frac = [t.feed_mol_h[c] for c in comps]
    K = {c: feed.K[c] for c in comps}
    opt = case.design.optimum
    if len(t.cuts) == 1:
        k = t.cuts[0]
        nB = len(_task_components(blocks, i, k))
        A = _amount(blocks, feed, k + 1, j)
        B = _amount(blocks, feed, i, k)
        pA = A / (A + ss.up[k])
        pB = B / (B + ss.down[k])
        t.theory = {"purity_organic": pA, "purity_raffinate": pB}
        t.design = xu_design_multicomponent(comps, frac, K, nB, pA, pB, optimum=opt)
        try:
            t.design_org = xu_design_multicomponent(
                comps, frac, K, nB, pA, pB, optimum=opt, feed_phase="organic"
            )
        except ValueError:
            t.design_org = None
    else:
        k1, k2 = t.cuts
        C = _amount(blocks, feed, i, k1)
        Bm = _amount(blocks, feed, k1 + 1, k2)
        A = _amount(blocks, feed, k2 + 1, j)
        cA = blocks[k2 + 1][1][0]
        bA = blocks[k2][1][-1]
        bC = blocks[k1 + 1][1][0]
        cC = blocks[k1][1][-1]
        mid = Bm + ss.down[k2] + ss.up[k1]
        pA = A / (A + ss.up[k2])
        pC = C / (C + ss.down[k1])
        t.theory = {
            "purity_organic": pA,
            "purity_middle": Bm / mid,
            "purity_raffinate": pC,
        }
        t.design = xu_three_outlet(
            [A, Bm, C],
            pA,
            pC,
            K[cA] / K[bA],
            K[bC] / K[cC],
            middle_max_A=ss.down[k2] / mid,
            middle_max_C=ss.up[k1] / mid,
            optimum=opt,
            names=("A", "B", "C"),
        )


def _case_for(ss: Superstructure, t: Task, design, feed_mol_h: dict, phase="aq"):
    ch = ss.case.chemistry
    comps = [c for c in ss.feed.components if feed_mol_h.get(c, 0.0) > 0]
    F = sum(feed_mol_h[c] for c in comps)
    if phase == "aq":
        Q_f = F / ss.case.feed.conc_mol_L
    else:  # loaded organic near saturation (see docs/lines.md)
        Q_f = F / (LOADING_FRACTION * ch.saponification * ch.extractant_mol_L / 3.0)
    return design_to_case(
        design,
        components=comps,
        feed_flow_L_h=Q_f,
        feed_conc_mol_L={c: feed_mol_h[c] / Q_f for c in comps},
        extractant_mol_L=ch.extractant_mol_L,
        saponification=ch.saponification,
        K_ref_L_mol=ch.K_ref_L_mol,
        strip_stages=ss.case.design.strip_stages,
        stage_margin=ss.case.design.stage_margin,
        agent=ch.agent,
        feed_acidity_mol_L=ss.case.feed.acidity_mol_L,
        separation_factors={c: ss.feed.K[c] for c in comps},
        name=f"{t.label} ({'loaded-organic' if phase == 'org' else 'aqueous'} feed)",
    )


def _variant(ss: Superstructure, t: Task, feed_phase: str, strip: bool) -> Variant:
    """Reagents, stages, ZLD and cost of one way to run a task (DOMAIN 2.4, 5).

    ``feed_phase = "org"``: the task is fed with the loaded organic of the cascade
    upstream (linkage).  ``design.link_model = "xu_organic_feed"`` (default): Xu's
    organic-feed design (the loaded organic joins at the first scrub stage),
    calibrated on the kernel like the aqueous one (``t.calib_org``); its base is
    the fresh saponified organic it really needs and its acid the scrub (+ strip)
    acid of the calibrated kernel case, so what a link saves (the upstream strip
    acid and strip stages, less any extra scrub acid and fresh organic the linked
    cascade needs) comes out of kernel-calibrated flows.  ``"exchange"``
    (**unverified estimate**, no kernel counterpart): the loaded rare earth
    replaces ``min(S, 1)`` mol of saponified extractant per mol fed (3 mol base
    each) while the aqueous-feed design is kept -- the DOMAIN 2.8 claim of
    3 mol acid + 3 mol base saved per mol RE transferred, not a balance result.
    """
    mode = ss.case.design.link_model
    exchange = feed_phase == "org" and mode == "exchange"
    design = t.design if (feed_phase == "aq" or exchange) else t.design_org
    case = _case_for(ss, t, design, t.feed_mol_h, "aq" if exchange else feed_phase)
    calib = t.calib if (feed_phase == "aq" or exchange) else t.calib_org
    calibrated = calib is not None and bool(calib.get("feasible"))
    if calibrated:
        from rexopt.lines.calibrate import apply_calibration

        case = apply_calibration(case, calib)
    F = t.F
    S, W = design.S, design.W
    d = design.upper if hasattr(design, "upper") else design
    fpA = d.fp_A
    n_ext = case["sections"]["extraction"]["stages"]
    n_scr = case["sections"]["scrub"]["stages"]
    n_str = case["sections"]["strip"]["stages"] if strip else 0
    Q_org = case["organic"]["flow_L_h"]
    Q_f = case["feed"]["flow_L_h"]
    Q_scr = case["scrub"]["flow_L_h"]
    Q_str = case["strip"]["flow_L_h"] if strip else 0.0
    org_f = Q_f if (feed_phase == "org" and not exchange) else 0.0
    aq_f = Q_f if feed_phase == "aq" else 0.0
    org = np.array([Q_org] * n_ext + [Q_org + org_f] * (n_scr + n_str))
    aq = np.array([Q_scr + aq_f] * n_ext + [Q_scr] * n_scr + [Q_str] * n_str)
    base = 3.0 * S * F  # saponification [mol/h]
    if exchange:
        base = 3.0 * max(S - 1.0, 0.0) * F
    # acid = scrub (3 W) + strip (3 f'_A, RE leaving in the organic) [DOMAIN 2.4]
    acid = 3.0 * W * F + (3.0 * fpA * F if strip else 0.0)
    if calibrated:
        # the kernel-calibrated design: base = s C_HA O, acid = scrub + strip acid
        o = case["organic"]
        base = o["saponification"] * o["extractant_mol_L"] * Q_org
        if exchange:
            base = max(base - 3.0 * min(S, 1.0) * F, 0.0)
        acid = Q_scr * case["scrub"]["acidity_mol_L"] + (
            Q_str * case["strip"]["acidity_mol_L"] if strip else 0.0
        )
    # water from the kernel's own streams, one rule for every cascade (root,
    # downstream, linked or not): aqueous inlets less the aqueous outlets that go
    # on to another cascade (counted there as its feed)
    run_case = case
    if not strip:
        run_case = {k: v for k, v in case.items() if k != "strip"}
        run_case["sections"] = {
            k: v for k, v in case["sections"].items() if k != "strip"
        }
    wb = cascade_water(run_case, passed_on(ss, t, strip))
    # fresh water this cascade brings into the line: its scrub and strip solutions
    # and, at the root only, the line feed; a downstream aqueous feed is an
    # upstream outlet, counted there, plus the conditioning step's dilution water
    # (rexopt.lines.streams.condition, costed per connection by pair_metrics)
    inl = wb["inlets_L_h"]
    water_L_h = inl.get("scrub", 0.0) + inl.get("strip", 0.0)
    if t.group == ss.root:
        water_L_h += inl.get("feed", 0.0)
    wb["fresh_L_h"] = water_L_h
    z = brine_to_zld(
        base,
        water_L_h,
        agent=ss.case.chemistry.agent,
        evaporator=ss.case.zld.evaporator,
    )
    ox = sum(
        v * element(c).oxide_g_per_mol_metal / 1e3 for c, v in t.feed_mol_h.items()
    )
    cc = costing.cascade_cost(
        stages=(n_ext, n_scr, n_str),
        org_flow_L_h=org,
        aq_flow_L_h=aq,
        base_HA_mol_h=base,
        agent=ss.case.chemistry.agent,
        acid_mol_h=acid,
        water_L_h=Q_scr + Q_str,
        product_oxide_kg_h=ox,
        costs=ss.costs,
    )
    hours = ss.costs["operating_hours_h_y"]
    energy_USD_y = hours * (
        z["electricity_kWh_h"] * ss.costs["electricity_USD_kWh"]
        + z["steam_t_h"] * ss.costs["steam_USD_t"]
    )
    v = Variant(feed_phase, strip, S, W, n_ext + n_scr + n_str, base, acid, z, cc)
    v.water = wb
    v.ions = _variant_ions(ss, t, case, run_case, strip)
    v.metrics = {
        "annualized_cost": cc.annualized_USD_y + energy_USD_y,  # [USD/y]
        "reagents": (base + acid) / 1e3,  # acid + base [kmol/h]
        "stages": float(v.stages),
        "energy": z["electricity_kWh_h"],  # evaporation [kWh/h]
        "wastewater": z["water_evaporated_t_h"],  # brine water to ZLD [t/h]
    }
    return v


def _variant_ions(ss: Superstructure, t: Task, case: dict, run_case: dict, strip):
    """Ions of the aqueous outlets of a variant's kernel case (per design feed).

    The case (with its strip section) is simulated once per operating point; the
    strip-less variant has the same raffinate and loaded organic (no aqueous
    flows from the strip section into the scrub section).  If the kernel fails,
    or the candidate is not simulated (``design.verify_candidates = false``), the
    rare earth is split sharply as the cut's design says, and ``source`` says so.
    """
    from rexopt.lines.streams import kernel_flows, outlet_ions

    key = (
        case["feed"]["phase"],
        round(case["organic"]["flow_L_h"], 9),
        round(case["scrub"]["flow_L_h"], 9),
        round(case["feed"]["flow_L_h"], 9),
    )
    hit = t.ion_cache.get(key)
    if hit is None:
        outlet = loaded = stripped = None
        source = "kernel"
        if ss.case.design.verify_candidates:
            import rexopt
            from rexopt.cascade import CascadeError

            try:
                outlet, loaded, stripped = kernel_flows(rexopt.simulate(case))
            except CascadeError as err:
                source = f"sharp design split (kernel failed: {str(err)[:80]})"
        else:
            source = "sharp design split (candidates not simulated)"
        if outlet is None:
            sides = {}
            for o_name, (a, b) in t.outputs.items():
                comps = set(_task_components(ss.blocks, a, b))
                sides[o_name] = {c: v for c, v in t.feed_mol_h.items() if c in comps}
            outlet = {"raffinate": sides["raffinate"]}
            if "strip" in case["sections"]:
                outlet["strip_liquor"] = sides["organic"]
            if "middle" in sides:
                outlet["side_draw_1"] = sides["middle"]
            loaded = sides["organic"]
        hit = t.ion_cache[key] = (outlet, loaded, stripped, source)
    outlet, loaded, stripped, source = hit
    if strip:
        out = outlet_ions(case, outlet, loaded, stripped_mol_h=stripped)
    else:
        keep = {k: v for k, v in outlet.items() if k != "strip_liquor"}
        out = outlet_ions(run_case, keep, loaded)
    out["source"] = source
    return out


def pair_metrics(ss: Superstructure, u: Task, fu: str, output: str, t: Task) -> dict:
    """Conditioning step between task ``u`` (fed ``fu``) and the aqueous-fed task
    ``t`` that splits its ``output`` ("organic" = strip liquor, "raffinate",
    "middle"): the upstream outlet from u's kernel case (per design feed) brought
    to t's design feed (``feed.conc_mol_L``, ``feed.acidity_mol_L``).  Metrics as
    the variants' (:data:`rexopt.lines.model.UNITS`), from :func:`step_metrics`.
    """
    from rexopt.lines.streams import condition

    name = {"organic": "strip_liquor", "raffinate": "raffinate"}.get(
        output, "side_draw_1"
    )
    stream = u.variants[(fu, True)].ions["outlets"][name]
    tv = t.variants[("aq", True)]
    target = tv.water["inlets_L_h"]["feed"]
    cond = condition(stream, target, ss.case.feed.acidity_mol_L)
    return step_metrics(ss, cond)


def step_metrics(ss: Superstructure, cond: dict) -> dict:
    """Water, reagents, energy and cost of one conditioning step
    (:func:`rexopt.lines.streams.condition`): its base (neutralisation, as salt to
    ZLD), make-up acid and dilution water are added to the line; the water it
    evaporates to concentrate was counted where it entered the line (every litre
    of the line is evaporated once, here or in the ZLD evaporator, at the same
    kWh/t), so it adds no water or energy of its own.
    """
    z = brine_to_zld(
        cond["base_eq_mol_h"],
        cond["dilution_L_h"],
        agent=ss.case.chemistry.agent,
        evaporator=ss.case.zld.evaporator,
    )
    cc = costing.cascade_cost(
        stages=(0, 0, 0),
        org_flow_L_h=np.zeros(0),
        aq_flow_L_h=np.zeros(0),
        base_HA_mol_h=cond["base_eq_mol_h"],
        agent=ss.case.chemistry.agent,
        acid_mol_h=cond["acid_mol_h"],
        water_L_h=cond["dilution_L_h"],
        product_oxide_kg_h=0.0,
        costs=ss.costs,
    )
    hours = ss.costs["operating_hours_h_y"]
    energy_USD_y = hours * (
        z["electricity_kWh_h"] * ss.costs["electricity_USD_kWh"]
        + z["steam_t_h"] * ss.costs["steam_USD_t"]
    )
    return {
        "annualized_cost": cc.reagent_cost_USD_y + energy_USD_y,
        "reagents": (cond["base_eq_mol_h"] + cond["acid_mol_h"]) / 1e3,
        "stages": 0.0,
        "energy": z["electricity_kWh_h"],
        "wastewater": z["water_evaporated_t_h"],
        "_zld": z,
        "_cond": cond,
    }


#: kernel outlet -> task output it carries (aqueous outlets only)
AQ_OUTLET_OUTPUT = {"strip_liquor": "organic", "raffinate": "raffinate"}


def _output_of(name: str) -> str | None:
    if name in AQ_OUTLET_OUTPUT:
        return AQ_OUTLET_OUTPUT[name]
    return "middle" if name.startswith("side_draw") else None


def passed_on(ss: Superstructure, t: Task, strip: bool) -> set[str]:
    """Kernel aqueous outlets of task ``t`` that feed another cascade (their
    output state is not a single product); without strip the organic output
    leaves as loaded organic, not as an aqueous outlet."""
    out = set()
    for name in ("strip_liquor", "raffinate", "side_draw_1"):
        o = _output_of(name)
        if o not in t.outputs or (o == "organic" and not strip):
            continue
        a, b = t.outputs[o]
        if a != b:
            out.add(name)
    return out


def aqueous_inlets_L_h(case: dict) -> dict[str, float]:
    """Aqueous inlets of a kernel case [L/h]: the feed when it is aqueous, and the
    scrub and strip solutions of the sections the case has."""
    inl = {}
    if case["feed"]["phase"] == "aqueous":
        inl["feed"] = float(case["feed"]["flow_L_h"])
    for name in ("scrub", "strip"):
        if name in case and name in case["sections"]:
            inl[name] = float(case[name]["flow_L_h"])
    return inl


def cascade_water(case: dict, passed: set[str]) -> dict:
    """Water of one cascade read from the kernel's own streams (its network).

    Returns
    -------
    dict
        ``inlets_L_h`` (aqueous feed, scrub, strip solution), ``outlets_L_h``
        (every aqueous outlet of the kernel network), ``passed_on_L_h`` (the
        outlets in ``passed``, which feed another cascade), ``water_in_L_h``,
        ``water_out_L_h`` (equal: the kernel conserves aqueous volume) and
        ``water_counted_L_h`` = in - passed on.  The variant's water metric is
        ``fresh_L_h`` (set by the caller): its scrub and strip solutions, plus
        the feed at the root; a downstream feed's water is the upstream outlet's
        plus the conditioning step's dilution (:func:`pair_metrics`).
    """
    from rexopt.cascade import Cascade

    net = Cascade(case).network()
    inl = aqueous_inlets_L_h(case)
    outl = {
        name: float(flow) for name, phase, _j, flow in net.outlets if phase == "aqueous"
    }
    w_in, w_out = sum(inl.values()), sum(outl.values())
    passed_L_h = sum(v for k, v in outl.items() if k in passed)
    return {
        "inlets_L_h": inl,
        "outlets_L_h": outl,
        "passed_on": sorted(passed & set(outl)),
        "passed_on_L_h": passed_L_h,
        "water_in_L_h": w_in,
        "water_out_L_h": w_out,
        "water_counted_L_h": w_in - passed_L_h,
    }


def _kernel_purities(ss: Superstructure, t: Task, res) -> dict:
    """Group purities and recoveries of each outlet of a kernel result."""
    groups = outlet_groups(res)
    out = {}
    for name, (a, b) in t.outputs.items():
        mine_c = _task_components(ss.blocks, a, b)  # a list: summed in one order
        side = set(mine_c)
        flows = groups[name]
        tot = sum(flows.values())
        mine = sum(flows.get(c, 0.0) for c in mine_c)
        fed = sum(v for c, v in t.feed_mol_h.items() if c in side)
        if tot > 0:
            out[f"purity_{name}"] = mine / tot
        out[f"recovery_{name}"] = mine / fed if fed > 0 else 0.0
    out["max_balance_error"] = float(res.convergence["max_balance_error"])
    return out


def verify_task(ss: Superstructure, t: Task, calibrate: bool | None = None) -> None:
    """Simulate the designed (aqueous-feed) cascade with the kernel; group purities.

    With ``calibrate`` (default ``case.design.calibrate``) the scrub flow (and if
    needed the organic flow) is moved on the kernel until both outlets meet the
    cut's purity targets (:mod:`rexopt.lines.calibrate`); ``t.calib`` holds the
    calibrated flows, ``t.kernel`` the kernel purities/recoveries at the calibrated
    point (``t.kernel_design`` those at the design_to_case point), and the task's
    variants are re-costed from the calibrated flows.
    """
    import rexopt
    from rexopt.lines.calibrate import calibrate_case

    t.case = _case_for(ss, t, t.design, t.feed_mol_h, "aq")
    try:
        res = rexopt.simulate(t.case)
        t.kernel_design = _kernel_purities(ss, t, res)
    except Exception as err:  # kernel failures are reported, not hidden
        t.kernel_design = {"error": f"{type(err).__name__}: {err}"}
    do_cal = ss.case.design.calibrate if calibrate is None else calibrate
    if not do_cal:
        t.kernel = dict(t.kernel_design)
        return

    def fn(r):
        k = _kernel_purities(ss, t, r)
        return k.get("purity_organic", 0.0), k.get("purity_raffinate", 0.0), k

    tgt_o = t.theory["purity_organic"]
    tgt_r = t.theory["purity_raffinate"]
    cal = calibrate_case(t.case, fn, tgt_o, tgt_r)
    t.calib = cal
    if cal["feasible"]:
        t.kernel = {
            k: v
            for k, v in cal.items()
            if k.startswith(("purity_", "recovery_", "max_balance"))
        }
        for key in list(t.variants):
            t.variants[key] = _variant(ss, t, *key)
        _calibrate_org_feed(ss, t, fn, tgt_o, tgt_r)
    elif "purity_organic" in cal:
        t.kernel = {
            k: v
            for k, v in cal.items()
            if k.startswith(("purity_", "recovery_", "max_balance"))
        }
        t.kernel["not_calibrated"] = cal["reason"]
    else:
        t.kernel = {"error": "kernel fails at every calibration point"}


def _calibrate_org_feed(ss: Superstructure, t: Task, fn, tgt_o, tgt_r) -> None:
    """Calibrate the loaded-organic-feed variants of ``t`` on the kernel.

    The design feed enters as loaded organic carrying the task's feed at
    ``LOADING_FRACTION`` of its sites (the kernel gives each litre of entering
    organic the capacity s C_HA/3, so the feed volume is the one that carries
    exactly those sites; see :mod:`rexopt.lines.verify`).  Its fresh organic and
    scrub flows are moved like the aqueous design's.  If no flows meet both
    targets the organic-feed variants are dropped (the task can then not be the
    downstream end of a link) and the reason is kept in ``t.kernel_org``.
    """
    from rexopt.lines.calibrate import calibrate_case

    if (
        ss.case.design.link_model != "xu_organic_feed"
        or t.design_org is None
        or not any(f == "org" for f, _ in t.variants)
    ):
        return
    case = _case_for(ss, t, t.design_org, t.feed_mol_h, "org")
    cal = calibrate_case(case, fn, tgt_o, tgt_r)
    t.calib_org = cal
    t.kernel_org = {
        k: v
        for k, v in cal.items()
        if k.startswith(("purity_", "recovery_", "max_balance"))
    }
    if cal["feasible"]:
        for key in [k for k in t.variants if k[0] == "org"]:
            t.variants[key] = _variant(ss, t, *key)
    else:
        t.kernel_org["not_calibrated"] = cal.get("reason", "kernel failed")
        for key in [k for k in t.variants if k[0] == "org"]:
            del t.variants[key]


def outlet_group(name: str) -> str:
    """The task output a kernel outlet belongs to: "raffinate", "middle" (a side
    draw) or "organic" (the strip liquor or stripped organic)."""
    if name == "raffinate":
        return "raffinate"
    return "middle" if name.startswith("side_draw") else "organic"


def outlet_groups(res) -> dict[str, dict[str, float]]:
    """Kernel outlets grouped as organic side / middle draw / raffinate [mol/h]."""
    o = res.outlets
    groups: dict[str, dict[str, float]] = {"organic": {}, "middle": {}, "raffinate": {}}
    for name in o.index:
        g = outlet_group(name)
        for c in res.components:
            groups[g][c] = groups[g].get(c, 0.0) + float(o.loc[name, f"{c}_mol_h"])
    return groups


def build_superstructure(
    case: LineCase, *, verify: bool | None = None
) -> Superstructure:
    """All states and candidate cuts of ``case``, each designed and costed.

    Parameters
    ----------
    case : LineCase
    verify : bool, optional
        Simulate every candidate with the kernel
        (default: ``case.design.verify_candidates``).

    Raises
    ------
    LineSpecError
        The product specification cannot be met by any line; the message says why.
    """
    feed = build_feed(case)
    blocks = _blocks(case, feed)
    byname = {p.name: p for p in case.products}
    specs = [(byname[n].purity, byname[n].recovery) for n, _ in blocks]
    down, up = _budgets(blocks, specs, feed)
    costs_in = dict(case.costs)
    extra = {k: costs_in.pop(k, v[0]) for k, v in LINE_COSTS.items()}
    costs = costing.load_costs(costs_in, where="case.costs")
    costs.update(extra)
    ss = Superstructure(case, feed, blocks, specs, down, up, {}, costs)
    P = len(blocks)
    for i in range(P):
        for j in range(i + 1, P):
            cutsets = [(k,) for k in range(i, j)]
            if case.design.three_outlet:
                cutsets += [(a, b) for a in range(i, j) for b in range(a + 1, j)]
            for cuts in cutsets:
                outputs = {"organic": (cuts[-1] + 1, j), "raffinate": (i, cuts[0])}
                if len(cuts) == 2:
                    outputs["middle"] = (cuts[0] + 1, cuts[1])
                comps = _task_components(blocks, i, j)
                t = Task(
                    key=(i, j, *cuts),
                    label=_label(blocks, i, j, cuts),
                    group=(i, j),
                    cuts=cuts,
                    outputs=outputs,
                    components=comps,
                    feed_mol_h={c: feed.mol_h[c] for c in comps},
                )
                ss.tasks[t.key] = t
                try:
                    _design_task(ss, t)
                except ValueError as err:
                    t.excluded = f"no Xu design: {err}"
                    continue
                for fp, strip in VARIANTS:
                    if fp == "org" and len(cuts) == 2:
                        continue
                    if (
                        fp == "org"
                        and case.design.link_model != "exchange"
                        and t.design_org is None
                    ):
                        continue
                    t.variants[(fp, strip)] = _variant(ss, t, fp, strip)
                st = t.variants[("aq", True)].stages
                if st > case.design.max_stages_per_cascade:
                    t.excluded = (
                        f"{st} stages > design.max_stages_per_cascade = "
                        f"{case.design.max_stages_per_cascade}"
                    )
    do_verify = case.design.verify_candidates if verify is None else verify
    if do_verify:
        for t in ss.tasks.values():
            if t.design is not None:
                verify_task(ss, t)
                _kernel_filter(ss, t)
    _explain_boundaries(ss)
    return ss


def _kernel_filter(ss: Superstructure, t: Task) -> None:
    """Exclude a candidate the kernel cannot solve or finds too impure (opt-in)."""
    if t.excluded:
        return
    d = ss.case.design
    if t.calib is not None and not t.calib.get("feasible"):
        t.excluded = (
            f"kernel calibration infeasible: {t.calib.get('reason')} (best: "
            f"organic {t.kernel.get('purity_organic', float('nan')):.5f} vs "
            f"{t.theory['purity_organic']:.5f}, raffinate "
            f"{t.kernel.get('purity_raffinate', float('nan')):.5f} vs "
            f"{t.theory['purity_raffinate']:.5f})"
        )
    elif "error" in t.kernel and d.exclude_kernel_failures:
        t.excluded = f"kernel check failed: {t.kernel['error'][:120]}"
    elif d.min_kernel_purity is not None:
        low = {
            k: v
            for k, v in t.kernel.items()
            if k.startswith("purity") and v < d.min_kernel_purity
        }
        if low:
            t.excluded = (
                f"kernel group purity {low} < design.min_kernel_purity = "
                f"{d.min_kernel_purity}"
            )


def _explain_boundaries(ss: Superstructure) -> None:
    """Every boundary must be cut by some admissible task, else say why not."""
    errs = []
    for k in range(len(ss.blocks) - 1):
        cands = [t for t in ss.tasks.values() if k in t.cuts]
        if any(t.excluded is None for t in cands):
            continue
        a, b = ss.blocks[k][0], ss.blocks[k + 1][0]
        best = min(
            (t.variants[("aq", True)].stages for t in cands if t.variants),
            default=math.inf,
        )
        reasons = sorted({t.excluded for t in cands})
        errs.append(
            f"boundary {a}|{b}: every candidate cut is excluded (fewest stages "
            f"{best}); reasons: {'; '.join(reasons)}.  Relax the purity/recovery of "
            f"{a} or {b} or raise design.max_stages_per_cascade."
        )
    if errs:
        raise LineSpecError("infeasible product specification:\n  " + "\n  ".join(errs))


def parse_cut(ss: Superstructure, text: str) -> tuple:
    """Task key of a cut written as product names, e.g. ``"La Ce PrNd | SEG HREE"``."""
    names = [b[0] for b in ss.blocks]
    parts = [p.split() for p in text.split("|")]
    flat = [n for p in parts for n in p]
    bad = [n for n in flat if n not in names]
    if bad or len(parts) not in (2, 3) or any(not p for p in parts):
        raise LineSpecError(
            f"cut {text!r}: write product names separated by one or two '|' "
            f"(allowed names {names}); unknown {bad}"
        )
    idx = [names.index(n) for n in flat]
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise LineSpecError(
            f"cut {text!r}: the products must be adjacent and in extraction order "
            f"{names}"
        )
    i, j = idx[0], idx[-1]
    cuts, pos = [], i
    for p in parts[:-1]:
        pos += len(p)
        cuts.append(pos - 1)
    key = (i, j, *cuts)
    if key not in ss.tasks:
        raise LineSpecError(f"cut {text!r} is not in the superstructure")
    return key


__all__ = [
    "Feed",
    "LineSpecError",
    "Superstructure",
    "Task",
    "Variant",
    "build_superstructure",
    "parse_cut",
    "WATER_MOL_L",
]
