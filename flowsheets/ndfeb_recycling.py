"""NdFeB magnet-waste recycling: plant-wide superstructure optimisation.

Process diagram (unit names in brackets)::

    scrap -> [pretreat] crushing | hydrogen decrepitation -> [route]
      selective: [roast] -> [leach] HCl -> [filter] -> hematite residue
      full:      [dissolve] H2SO4 + double sulfate -> sulfate liquor
    -> [liquor_mix] -> [purify] pH adjustment -> hydroxide sludge
    -> [sx_group] (PrNd | DyTb) -> [sx_prnd] Pr | Nd (optional)
                                -> [sx_dytb] Tb | Dy (optional)
    -> [prec_pr|nd|tb|dy] oxalic acid -> [calc_*] calcination -> oxide products
    mother liquors -> [ml_mix] -> [ml_split] -> recycle to leaching | purge
    purge + sulfate liquor -> [neutralize] -> [regen] MgCl2 pyrohydrolysis
    -> [brine_split] discharge | [evap] MVR or multiple effect -> salt + condensate
    condensate -> reuse as process water | cooling tower | discharge

Decisions (one Pyomo MILP solved by HiGHS through :func:`rexopt.highs.solve`):
route binaries (pretreatment, leach route, saponification agent, evaporator,
kiln heating, product slate = optional Pr/Nd and Dy/Tb cuts), one operating
point per unit (data points: roasting temperature, acid ratio and leach
temperature, wash ratio, pH, SX design, oxalic dose, recycle fraction, Mg
regeneration), throughput and number of parallel trains, equipment sizes
with piecewise-linear CAPEX.  The chosen plant is then re-simulated unit by
unit (SX cascades re-run with the kernel) and every element, water and salt
balance is checked.

Functions follow the IDAES flowsheet pattern: :func:`load_case`, :func:`build`,
:func:`build_model`, :func:`solve`, :func:`resimulate`, :func:`report`,
:func:`main`; :func:`run_cli` is the ``rexopt optimize`` glue.
"""

from __future__ import annotations

import json
import math
import time
import tomllib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyomo.environ as pyo
from pydantic import Field, ValidationError

from rexopt.highs import SolveError, SolveReport, current_point, release_solver
from rexopt.highs import solve as highs_solve
from rexopt.schema import StrictModel, count, finite, quantity
from rexopt.units import (
    agents,
    calcination,
    costing,
    dissolution,
    evaporation,
    leaching,
    neutralization,
    precipitation,
    pretreatment,
    purification,
    regeneration,
    roasting,
    solid_liquid,
    sx,
)
from rexopt.units import data as unitdata
from rexopt.units import species as sp
from rexopt.units.base import (
    WATER_KG_KMOL,
    Unit,
    UnitResult,
    check_balance,
    merge,
)
from rexopt.units.linear import (
    build_unit,
    chosen_point,
    concave_cost,
    default_bound,
    exact_concave_cost,
    outlet_species,
    probe,
    propagate_bounds,
    refine_concave_cost,
)
from rexopt.units.mixing import Mixer, Router, Splitter

# --------------------------------------------------------------------------- case


class _Strict(StrictModel):
    """Strict base (rexopt.schema): no bool/str as numbers, finite, no unknown keys."""


class PlantSpec(_Strict):
    scrap_t_yr: (
        quantity(0.0, 1e6, "t/yr", "above world NdFeB output", lo_open=True) | None
    ) = Field(None, description="scrap supply [t/yr]")
    throughput: Literal["fixed", "free"] = "fixed"
    trains: list[count(1, 20, "trains")] = Field([1, 2, 3], min_length=1)


Free = Literal["free"]


class RouteSpec(_Strict):
    pretreatment: Literal["free", "crushing", "hd"] = "free"
    leach_route: Literal["free", "selective", "full"] = "free"
    agent: Literal["free", "NaOH", "NH3", "MgHCO3"] = "free"
    evaporator: Literal["free", "mvr", "mee"] = "free"
    kiln_heating: Literal["free", "gas", "electric"] = "free"
    prnd_cut: Literal["free", "on", "off"] = "free"
    dytb_cut: Literal["free", "on", "off"] = "free"


class TargetSpec(_Strict):
    zld: bool = True
    re_yield_min: float = Field(0.0, ge=0, le=1)
    purity_single_min: float = Field(0.99, ge=0, le=1)
    purity_mixed_min: float = Field(0.99, ge=0, le=1)


METRICS = ("npv", "cost", "yield", "reagents", "wastewater", "energy", "co2")
MAXIMISE = {"npv", "yield"}


class ObjectiveSpec(_Strict):
    kind: Literal[
        "npv",
        "cost",
        "cost_per_kg_reo",
        "yield",
        "reagents",
        "wastewater",
        "energy",
        "co2",
        "weighted",
    ] = "npv"
    weights: dict[str, float] = {}


class ParetoSpec(_Strict):
    enabled: bool = False
    primary: Literal[
        "npv", "cost", "yield", "reagents", "wastewater", "energy", "co2"
    ] = "cost"
    secondary: Literal[
        "npv", "cost", "yield", "reagents", "wastewater", "energy", "co2"
    ] = "co2"
    points: int = Field(5, ge=2, le=20)
    # fresh-water bounds per secondary bound: 1 = water not bounded (a front of
    # two objectives, water reported per point); n >= 2 = a three-objective
    # front, the primary optimised with the secondary and the fresh water bounded
    water_points: int = Field(1, ge=1, le=10)


class SXSpec(_Strict):
    candidates_csv: str | None = None


class SolverSpec(_Strict):
    # [s] wall clock, a guard
    time_limit_s: quantity(0.0, 1e6, "s", "under 12 days", lo_open=True) = 600.0
    mip_gap: float = Field(1e-3, ge=0, lt=1)  # relative [-]
    # MILP solves with refined CAPEX breakpoints at most (ndfeb_recycling.solve)
    capex_rounds: int = Field(3, ge=1, le=10)


class NdfebCase(_Strict):
    kind: Literal["ndfeb_flowsheet"]
    name: str = "NdFeB recycling"
    description: str = ""
    plant: PlantSpec = PlantSpec()
    routes: RouteSpec = RouteSpec()
    targets: TargetSpec = TargetSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    pareto: ParetoSpec = ParetoSpec()
    sx: SXSpec = SXSpec()
    solver: SolverSpec = SolverSpec()
    data: dict[str, finite(dict[str, Any])] = {}


class CaseError(ValueError):
    """The case file is invalid; the message names file, field, value, allowed."""


class InfeasibleCase(RuntimeError):
    """No plant meets the case targets; the message explains which and why."""


def load_case(path: str | Path | dict) -> tuple[NdfebCase, Path | None]:
    """Read and validate a case (TOML path or dict)."""
    if isinstance(path, dict):
        raw, p = path, None
    else:
        p = Path(path)
        with open(p, "rb") as fh:
            raw = tomllib.load(fh)
    try:
        case = NdfebCase.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"])
            lines.append(
                f"{p or '<dict>'}: field {loc} = {e.get('input')!r}: {e['msg']}"
            )
        raise CaseError("\n".join(lines)) from None
    w_bad = set(case.objective.weights) - set(METRICS)
    if w_bad:
        raise CaseError(
            f"{p or '<dict>'}: objective.weights has {sorted(w_bad)}; allowed {METRICS}"
        )
    try:
        unitdata.load_all(case.data)
    except unitdata.DataError as exc:
        raise CaseError(f"{p or '<dict>'}: {exc}") from None
    return case, p


# ----------------------------------------------------------------------- topology


@dataclass
class Plant:
    """Units, connections and data of the flowsheet (no Pyomo)."""

    case: NdfebCase
    data: dict[str, unitdata.DataSet]
    units: dict[str, Unit]
    #: (unit, inlet port) -> list of (unit, outlet port) feeding it
    edges: dict[tuple[str, str], list[tuple[str, str]]]
    #: (unit, outlet port) -> plant outlet category
    sinks: dict[tuple[str, str], str]
    feed_kmol_t: dict[str, float]  # scrap species per tonne dry scrap [kmol/t]
    hours_yr: float
    supply_t_h: float
    sx_tables: dict[str, pd.DataFrame]
    order: list[str] = field(default_factory=list)
    recycle_edges: set = field(default_factory=set)
    sx_rejected: list = field(default_factory=list)


LINES = {
    "pr": ("sx_prnd", "raffinate"),
    "nd": ("sx_prnd", "strip_liquor"),
    "tb": ("sx_dytb", "raffinate"),
    "dy": ("sx_dytb", "strip_liquor"),
}
LINE_OXIDE = {"pr": "Pr", "nd": "Nd", "tb": "Tb", "dy": "Dy"}
ROUTE_TAGS = {
    "pretreatment": ("crushing", "hd"),
    "leach_route": ("selective", "full"),
    "agent": agents.AGENTS,
    "evaporator": ("mvr", "mee"),
    "kiln_heating": ("gas", "electric"),
    "prnd_cut": ("on", "off"),
    "dytb_cut": ("on", "off"),
}


def scrap_species(feed: unitdata.DataSet) -> dict[str, float]:
    """Scrap composition as species [kmol per t dry scrap] (+ moisture).

    Bound oxygen is carried as RE2O3 (grain-boundary oxides), the rest of the
    rare earths as metal.
    """
    wt = feed.table("composition_wt_pct")
    tot = sum(wt.values())
    if abs(tot - 100.0) > 0.5:
        raise CaseError(f"scrap composition sums to {tot:.2f} wt %, not 100")
    kmol = {
        el: 1000.0 * w / tot / sp.ATOMIC_MASS_g_mol[el]
        for el, w in wt.items()
        if el != "O"
    }
    o = 1000.0 * wt.get("O", 0.0) / tot / sp.ATOMIC_MASS_g_mol["O"]
    re_tot = sum(kmol[r] for r in sp.RARE_EARTHS)
    out: dict[str, float] = {}
    for el, n in kmol.items():
        if el in sp.RARE_EARTHS:
            as_oxide = min(n, 2.0 / 3.0 * o * n / re_tot)
            out[f"{el}2O3(s)"] = as_oxide / 2
            out[f"{el}(s)"] = n - as_oxide
        else:
            out[f"{el}(s)"] = n
    m = feed("moisture.wt_pct_wet") / 100.0
    out["H2O(l)"] = 1000.0 * m / (1 - m) / WATER_KG_KMOL
    return out


def re_split(feed_kmol_t: dict[str, float]) -> dict[str, float]:
    re = {r: 0.0 for r in sp.RARE_EARTHS}
    for k, v in feed_kmol_t.items():
        r = sp.re_of(k)
        if r:
            re[r] += v * sp.elements(k)[r]
    tot = sum(re.values())
    return {r: v / tot for r, v in re.items()}


def nominal_sx_feeds(split: dict[str, float]) -> dict[str, dict[str, float]]:
    """Design feed compositions of the three cuts (mole fractions)."""
    # traces carried over from the group cut (its raffinate keeps ~1e-4 of Dy/Tb
    # relative to PrNd; its strip liquor almost no Pr/Nd).  A design feed with more
    # light traces than the plant gives leaves the Dy/Tb cut short of organic.
    light = split["Pr"] + split["Nd"]
    heavy = split["Dy"] + split["Tb"]
    prnd = {"Pr": split["Pr"], "Nd": split["Nd"], "Dy": 1e-4 * light}
    prnd["Tb"] = 1e-4 * light
    dytb = {"Dy": split["Dy"], "Tb": split["Tb"], "Pr": 1e-5 * heavy}
    dytb["Nd"] = 1e-5 * heavy
    norm = lambda d: {k: v / sum(d.values()) for k, v in d.items()}  # noqa: E731
    return {"group": dict(split), "prnd": norm(prnd), "dytb": norm(dytb)}


def sx_candidate_tables(
    case: NdfebCase,
    d: dict,
    split: dict[str, float],
    runner: Callable | None = None,
    case_dir: Path | None = None,
    rejected: list | None = None,
) -> dict[str, pd.DataFrame]:
    """Candidate SX designs per cut: from a CSV given in the case, else the kernel."""
    if case.sx.candidates_csv:
        p = Path(case.sx.candidates_csv)
        if not p.is_absolute() and case_dir is not None:
            p = case_dir / p
        df = sx.read_table(p)
        return {
            c: df[df["cut"] == c].reset_index(drop=True)
            for c in ("group", "prnd", "dytb")
        }
    feeds = nominal_sx_feeds(split)
    return {
        c: sx.candidate_table(d["sx"], c, feeds[c], runner, rejected) for c in feeds
    }


def build(
    case: NdfebCase,
    sx_tables: dict[str, pd.DataFrame] | None = None,
    runner: Callable | None = None,
    case_dir: Path | None = None,
) -> Plant:
    """Build the flowsheet: units with their operating points and connections."""
    d = unitdata.load_all(case.data)
    feed_t = scrap_species(d["feed"])
    split = re_split(feed_t)
    rejected: list = []
    if sx_tables is None:
        sx_tables = sx_candidate_tables(case, d, split, runner, case_dir, rejected)
    if sx_tables["group"].empty:
        raise InfeasibleCase(
            "no candidate design of the (PrNd)/(DyTb) group cut is usable: "
            + "; ".join(
                f"{r['name']}: {r['reason']}" for r in rejected if r["cut"] == "group"
            )
        )
    for cut, tag in (("prnd", "prnd_cut"), ("dytb", "dytb_cut")):
        if sx_tables[cut].empty:
            if getattr(case.routes, tag) == "on":
                raise InfeasibleCase(
                    f"{tag} = 'on' but no candidate design of that cut is usable: "
                    + "; ".join(
                        f"{r['name']}: {r['reason']}"
                        for r in rejected
                        if r["cut"] == cut
                    )
                )
    ag = d["agents"]
    prec_pts = precipitation.points(d["precipitation"])
    units: dict[str, Unit] = {
        "pretreat": pretreatment.Pretreatment(
            "pretreat", pretreatment.points(d["pretreatment"])
        ),
        "route": Router("route", "leach_route", ("selective", "full")),
        "roast": roasting.Roasting("roast", roasting.points(d["roasting"])),
        "leach": leaching.SelectiveLeach(
            "leach", leaching.points(d["leaching"], split)
        ),
        "filter": solid_liquid.SolidLiquid(
            "filter", solid_liquid.points(d["separation"])
        ),
        "dissolve": dissolution.FullDissolution(
            "dissolve",
            dissolution.points(
                d["leaching"], split, d["sx"]("chemistry.feed_RE_mol_L")
            ),
        ),
        "liquor_mix": Mixer("liquor_mix", ("a", "b")),
        "purify": purification.Purification(
            "purify", purification.points(d["purification"], ag)
        ),
        "sx_group": sx.SXCut(
            "sx_group",
            sx.points(sx_tables["group"], ag, d["sx"], False),
            "group",
            d["sx"],
        ),
        "sx_prnd": sx.SXCut(
            "sx_prnd", sx.points(sx_tables["prnd"], ag, d["sx"], True), "prnd", d["sx"]
        ),
        "sx_dytb": sx.SXCut(
            "sx_dytb", sx.points(sx_tables["dytb"], ag, d["sx"], True), "dytb", d["sx"]
        ),
        "ml_mix": Mixer("ml_mix", tuple(LINES)),
        "ml_split": Splitter(
            "ml_split",
            [0.0, 0.25, 0.5, 0.75, 0.9],
            "recycle",
            "purge",
            "recycle_fraction",
        ),
        "recycle_route": Router("recycle_route", "leach_route", ("selective", "full")),
        "acid_mix": Mixer("acid_mix", ("purge", "sulfate")),
        "neutralize": neutralization.Neutralization(
            "neutralize", neutralization.points(ag, d["purification"])
        ),
        "regen": regeneration.MgRegeneration("regen", regeneration.points(ag)),
        "brine_split": Splitter(
            "brine_split",
            [0.0, 0.25, 0.5, 0.75, 1.0],
            "discharge",
            "evaporate",
            "discharge_fraction",
        ),
        "evap": evaporation.EvaporatorCrystallizer(
            "evap", evaporation.points(d["evaporation"])
        ),
    }
    for line in LINES:
        units[f"prec_{line}"] = precipitation.OxalatePrecipitation(
            f"prec_{line}", prec_pts
        )
        units[f"calc_{line}"] = calcination.Calcination(
            f"calc_{line}", calcination.points(d["precipitation"])
        )
    E: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)

    def connect(src, sport, dst, dport):
        E[(dst, dport)].append((src, sport))

    connect("pretreat", "powder", "route", "inlet")
    connect("route", "selective", "roast", "feed")
    connect("roast", "calcine", "leach", "calcine")
    connect("leach", "pulp", "filter", "pulp")
    connect("route", "full", "dissolve", "feed")
    connect("filter", "filtrate", "liquor_mix", "a")
    connect("dissolve", "re_liquor", "liquor_mix", "b")
    connect("liquor_mix", "outlet", "purify", "liquor")
    connect("purify", "purified", "sx_group", "feed")
    connect("sx_group", "raffinate", "sx_prnd", "feed")
    connect("sx_group", "strip_liquor", "sx_dytb", "feed")
    for line, (u, port) in LINES.items():
        connect(u, port, f"prec_{line}", "liquor")
        connect(f"prec_{line}", "cake", f"calc_{line}", "cake")
        connect(f"prec_{line}", "mother_liquor", "ml_mix", line)
    connect("ml_mix", "outlet", "ml_split", "inlet")
    connect("ml_split", "recycle", "recycle_route", "inlet")
    connect("recycle_route", "selective", "leach", "recycle")
    connect("recycle_route", "full", "dissolve", "recycle")
    connect("ml_split", "purge", "acid_mix", "purge")
    connect("dissolve", "sulfate_liquor", "acid_mix", "sulfate")
    connect("acid_mix", "outlet", "neutralize", "acidic")
    connect("neutralize", "brine", "regen", "brine")
    connect("regen", "brine", "brine_split", "inlet")
    connect("brine_split", "evaporate", "evap", "brine")
    sinks = {
        ("pretreat", "coating"): "coating",
        ("filter", "residue"): "residue",
        ("dissolve", "residue"): "residue",
        ("purify", "sludge"): "sludge",
        ("neutralize", "sludge"): "sludge",
        ("brine_split", "discharge"): "discharge",
        ("evap", "salt"): "salt",
        ("evap", "condensate"): "condensate",
    }
    for u in (
        "pretreat",
        "roast",
        "leach",
        "dissolve",
        "purify",
        "sx_group",
        "sx_prnd",
        "sx_dytb",
    ):
        sinks[(u, "offgas")] = "offgas"
    for line in LINES:
        sinks[(f"calc_{line}", "product")] = f"product_{line}"
        sinks[(f"calc_{line}", "offgas")] = "offgas"
    # every outlet goes somewhere
    fed = {s for v in E.values() for s in v}
    for name, u in units.items():
        for port in u.outlets:
            if (name, port) not in fed and (name, port) not in sinks:
                raise RuntimeError(f"outlet {name}.{port} goes nowhere")
    fd = d["feed"]
    hours = fd("supply.operating_h_yr")
    supply = case.plant.scrap_t_yr or fd("supply.scrap_t_yr")
    plant = Plant(
        case, d, units, dict(E), sinks, feed_t, hours, supply / hours, sx_tables
    )
    plant.sx_rejected = rejected
    plant.recycle_edges = {("leach", "recycle"), ("dissolve", "recycle")}
    plant.order = [
        "pretreat",
        "route",
        "roast",
        "leach",
        "filter",
        "dissolve",
        "liquor_mix",
        "purify",
        "sx_group",
        "sx_prnd",
        "sx_dytb",
        *[f"prec_{x}" for x in LINES],
        *[f"calc_{x}" for x in LINES],
        "ml_mix",
        "ml_split",
        "recycle_route",
        "acid_mix",
        "neutralize",
        "regen",
        "brine_split",
        "evap",
    ]
    return plant


# ---------------------------------------------------------------------- MILP model


def _species_sets(plant: Plant):
    """Fixed point of the species each inlet port can carry, and the probes."""
    ins: dict[tuple[str, str], set[str]] = defaultdict(set)
    ins[("pretreat", "scrap")] = set(plant.feed_kmol_t)
    cache: dict = {}
    probes: dict[str, Any] = {}
    for _ in range(12):
        changed = False
        for name in plant.order:
            u = plant.units[name]
            key_in = {p: sorted(ins[(name, p)]) for p in u.inlets if ins[(name, p)]}
            ck = (name, tuple((p, tuple(v)) for p, v in sorted(key_in.items())))
            if ck not in cache:
                cache[ck] = probe(u, key_in)
            probes[name] = (key_in, cache[ck])
            outs = outlet_species(cache[ck])
            for (dst, dport), srcs in plant.edges.items():
                for src, sport in srcs:
                    if src == name:
                        new = outs.get(sport, set()) - ins[(dst, dport)]
                        if new:
                            ins[(dst, dport)] |= new
                            changed = True
        if not changed:
            return probes
    raise RuntimeError("species propagation did not converge")


def build_model(plant: Plant) -> pyo.ConcreteModel:
    """The plant MILP (linear in flows, binaries for routes and operating points)."""
    case = plant.case
    d = plant.data
    c = d["costs"]
    m = pyo.ConcreteModel(name="ndfeb_plant")
    m.plant = plant
    probes = _species_sets(plant)
    feed_ub = {
        ("pretreat", "scrap", s): v * plant.supply_t_h
        for s, v in plant.feed_kmol_t.items()
    }
    ub = propagate_bounds(
        plant.order,
        probes,
        plant.edges,
        feed_ub,
        plant.recycle_edges,
        exclusive={"liquor_mix"},
    )
    loose = default_bound(plant.supply_t_h * 2)
    m.flow_bounds = ub
    m.scrap_t_h = pyo.Var(bounds=(0, plant.supply_t_h), doc="scrap processed [t/h]")
    if case.plant.throughput == "fixed":
        m.scrap_t_h.fix(plant.supply_t_h)
    # route binaries
    m.route = pyo.Var(
        [(t, o) for t, opts in ROUTE_TAGS.items() for o in opts], within=pyo.Binary
    )
    m.route_one = pyo.ConstraintList()
    for t, opts in ROUTE_TAGS.items():
        m.route_one.add(sum(m.route[t, o] for o in opts) == 1)
        forced = getattr(case.routes, t)
        if forced != "free":
            m.route[t, forced].fix(1)
            for o in opts:
                if o != forced:
                    m.route[t, o].fix(0)
    m.units = pyo.Block(list(plant.order))
    link = pyo.ConstraintList()
    m.link = link
    # blocks are built in flow order; recycle inlets are Vars tied to their sources
    # once every block exists
    m.recycle_in = pyo.Var(
        [(u, p, s) for (u, p) in plant.recycle_edges for s in probes[u][0].get(p, [])],
        within=pyo.NonNegativeReals,
    )
    built = set()
    for name in plant.order:
        u = plant.units[name]
        blk = m.units[name]
        key_in, pr = probes[name]
        exprs = {}
        for p in u.inlets:
            exprs[p] = {}
            for s in key_in.get(p, []):
                if name == "pretreat":
                    exprs[p][s] = m.scrap_t_h * plant.feed_kmol_t[s]
                elif (name, p) in plant.recycle_edges:
                    exprs[p][s] = m.recycle_in[name, p, s]
                else:
                    terms = [
                        m.units[src].out[sport, s]
                        for src, sport in plant.edges.get((name, p), [])
                        if src in built and (sport, s) in m.units[src].out
                    ]
                    exprs[p][s] = sum(terms) if terms else 0.0

        def bound(p, s, name=name):
            if ub is None:
                return loose(p, s)
            return 1.01 * ub.get((name, p, s), 0.0) + 1e-6

        build_unit(
            blk,
            u,
            {
                p: {s: e for s, e in v.items() if not isinstance(e, float)}
                for p, v in exprs.items()
            },
            probes=pr,
            bound=bound,
        )
        built.add(name)
        # route links
        if len(u.points) > 1:
            for tag, opts in ROUTE_TAGS.items():
                key = "cut_on" if tag in ("prnd_cut", "dytb_cut") else tag
                if tag == "prnd_cut" and name != "sx_prnd":
                    continue
                if tag == "dytb_cut" and name != "sx_dytb":
                    continue
                if key not in u.points[0]:
                    continue
                for o in opts:
                    val = (o == "on") if key == "cut_on" else o
                    ks = [k for k, pt in enumerate(u.points) if pt[key] == val]
                    link.add(sum(blk.y[k] for k in ks) == m.route[tag, o])
    # symmetry breaking: a unit that carries no flow under a route takes its first
    # operating point (otherwise HiGHS branches on points that change nothing)
    m.idle_point = pyo.ConstraintList()
    idle_when_off = {
        "roast": ("leach_route", "selective"),
        "leach": ("leach_route", "selective"),
        "filter": ("leach_route", "selective"),
        "dissolve": ("leach_route", "full"),
        "prec_nd": ("prnd_cut", "on"),
        "prec_dy": ("dytb_cut", "on"),
    }
    for name, (tag, opt) in idle_when_off.items():
        blk = m.units[name]
        if not isinstance(blk.y, dict):
            for k in blk.y:
                if k > 0:
                    m.idle_point.add(blk.y[k] <= m.route[tag, opt])
    m.recycle_link = pyo.ConstraintList()
    for name, p, s in m.recycle_in:
        srcs = plant.edges[(name, p)]
        m.recycle_link.add(
            m.recycle_in[name, p, s]
            == sum(
                m.units[src].out[sport, s]
                for src, sport in srcs
                if (sport, s) in m.units[src].out
            )
        )
    _build_plant_balances(m, plant)
    _build_costs(m, plant, c)
    _build_targets(m, plant)
    return m


def _stream_expr(m, unit: str, port: str) -> dict[str, Any]:
    blk = m.units[unit]
    return {s: blk.out[q, s] for (q, s) in blk.out if q == port}


def _mass(st: dict[str, Any]):
    return sum(v * sp.molar_mass_kg_kmol(s) for s, v in st.items())


def _build_plant_balances(m, plant: Plant):
    """Reagent pools, water network, utilities, discharge."""
    d = plant.data
    # reagents: sum over units; air is free; water via the pool
    reag = defaultdict(list)
    for name in plant.order:
        for s, e in m.units[name].reag.items():
            reag[s].append(e)
    m.reagent_species = [s for s in reag if s not in ("O2(g)", "N2(g)", "H2O(l)")]
    m.buy = pyo.Var(
        m.reagent_species, within=pyo.NonNegativeReals, doc="purchased reagent [kmol/h]"
    )
    m.buy_eq = pyo.Constraint(
        m.reagent_species, rule=lambda m, s: m.buy[s] == sum(reag[s])
    )
    m.air = {s: sum(reag.get(s, [])) for s in ("O2(g)", "N2(g)")}
    # water pool
    cond = _stream_expr(m, "evap", "condensate").get("H2O(l)", 0.0)
    m.water_demand = sum(reag["H2O(l)"])
    m.water_bound = sum(
        costing.REAGENT_WATER_MOL_MOL.get(s, 0.0) * m.buy[s] for s in m.reagent_species
    )
    m.water_reuse = pyo.Var(
        within=pyo.NonNegativeReals, doc="condensate reused [kmol/h]"
    )
    m.water_fresh = pyo.Var(within=pyo.NonNegativeReals, doc="fresh water [kmol/h]")
    m.water_tower = pyo.Var(
        within=pyo.NonNegativeReals, doc="to cooling towers [kmol/h]"
    )
    m.cond_discharge = pyo.Var(within=pyo.NonNegativeReals, doc="condensate discharged")
    m.water_pool = pyo.Constraint(
        expr=m.water_demand == m.water_bound + m.water_reuse + m.water_fresh
    )
    m.cond_split = pyo.Constraint(
        expr=cond == m.water_reuse + m.water_tower + m.cond_discharge
    )
    ct = d["evaporation"]("common.cooling_tower_evap_t_t_scrap")
    m.tower_cap = pyo.Constraint(
        expr=m.water_tower * WATER_KG_KMOL / 1000 <= ct * m.scrap_t_h
    )
    # liquid discharge
    dis = _stream_expr(m, "brine_split", "discharge")
    m.discharge_kg_h = _mass(dis) + WATER_KG_KMOL * m.cond_discharge
    if plant.case.targets.zld:
        m.zld = pyo.Constraint(expr=m.discharge_kg_h == 0)
    # utilities
    u = defaultdict(list)
    for name in plant.order:
        for k, e in m.units[name].util.items():
            u[k].append(e)
    h = d["roasting"].table("heat")
    m.kiln_heat = pyo.Var(within=pyo.NonNegativeReals, doc="kiln heat duty [kW]")
    m.kiln_heat_eq = pyo.Constraint(expr=m.kiln_heat >= sum(u["heat_kW"]))
    m.kiln_gas = pyo.Var(within=pyo.NonNegativeReals)
    m.kiln_el = pyo.Var(within=pyo.NonNegativeReals)
    m.kiln_split = pyo.Constraint(expr=m.kiln_heat == m.kiln_gas + m.kiln_el)
    big = 2000.0 * max(plant.supply_t_h, 0.05) * 10
    m.kiln_gas_on = pyo.Constraint(
        expr=m.kiln_gas <= big * m.route["kiln_heating", "gas"]
    )
    m.kiln_el_on = pyo.Constraint(
        expr=m.kiln_el <= big * m.route["kiln_heating", "electric"]
    )
    m.electricity_kW = sum(u["electricity_kW"]) + m.kiln_el / h["electric_efficiency"]
    m.fuel_kW = sum(u["fuel_kW"]) + m.kiln_gas / h["gas_efficiency"]
    m.steam_t_h = sum(u["steam_t_h"])
    m.util_lists = u


#: prices and factors that are mutable Params of the model (PlantSession.solve
#: changes them without a rebuild); keys are dotted paths in costs.toml
PRICE_KEYS = (
    *[f"products_USD_kg.{k}" for k in ("Pr6O11", "Nd2O3", "Dy2O3", "Tb4O7")],
    "products_USD_kg.mixed_discount",
    "feed_USD_t.scrap",
    *[
        f"reagents_USD_t.{k}"
        for k in (
            "HCl",
            "NaOH",
            "NH3",
            "MgO",
            "CO2",
            "H2SO4",
            "Na2SO4",
            "H2C2O4_2H2O",
            "H2O2",
            "H2",
            "water",
        )
    ],
    *[
        f"byproducts_USD_t.{k}"
        for k in (
            "salt_NaCl",
            "salt_NH4Cl",
            "salt_MgCl2",
            "salt_other",
            "residue",
            "sludge",
            "wastewater",
        )
    ],
    *[
        f"utilities.{k}"
        for k in (
            "electricity_USD_kWh",
            "fuel_USD_kWh",
            "steam_USD_t",
            "grid_kgCO2_kWh",
            "fuel_kgCO2_kWh",
            "steam_kgCO2_t",
        )
    ],
    *[
        f"finance.{k}"
        for k in (
            "discount_rate",
            "life_yr",
            "tax_rate",
            "depreciation_yr",
            "working_capital_frac",
            "maintenance_frac",
            "labour_USD_yr_train",
        )
    ],
)
_REAGENT_KEY = {
    "HCl(aq)": "HCl",
    "NaOH(aq)": "NaOH",
    "NH3(aq)": "NH3",
    "MgO(s)": "MgO",
    "CO2(g)": "CO2",
    "H2SO4(aq)": "H2SO4",
    "Na2SO4(aq)": "Na2SO4",
    "H2C2O4(H2O)2(s)": "H2C2O4_2H2O",
    "H2O2(aq)": "H2O2",
    "H2(g)": "H2",
}


def set_finance_params(m, values: dict[str, float]) -> costing.Finance:
    """Set the NPV coefficients (mutable Params) from finance values; checked."""
    fin = costing.Finance(
        float(values["finance.discount_rate"]),
        int(values["finance.life_yr"]),
        float(values["finance.tax_rate"]),
        int(values["finance.depreciation_yr"]),
        float(values["finance.working_capital_frac"]),
    )
    fin.check()
    for k, v in fin.coefficients().items():
        m.fin_k[k] = v
    m.fin_k["annuity"] = fin.annuity
    m.finance = fin
    return fin


def _build_costs(m, plant: Plant, c: unitdata.DataSet):
    hrs = plant.hours_yr
    m.price = pyo.Param(
        list(PRICE_KEYS),
        initialize={k: float(c(k)) for k in PRICE_KEYS},
        mutable=True,
        doc="prices and factors of costs.toml (dotted path)",
    )
    P = m.price
    m.fin_k = pyo.Param(
        ["k_capex", "k_wc", "k_cash", "annuity"], initialize=0.0, mutable=True
    )
    set_finance_params(m, {k: pyo.value(P[k]) for k in PRICE_KEYS})
    # products
    m.prod = {}
    for line in LINES:
        m.prod[line] = _stream_expr(m, f"calc_{line}", "product")
    disc = P["products_USD_kg.mixed_discount"]
    ox_key = {r: f"{sp.RE_OXIDE[r][0]}(s)" for r in sp.RARE_EARTHS}
    price = {r: P[f"products_USD_kg.{sp.RE_OXIDE[r][0]}"] for r in sp.RARE_EARTHS}

    def ox_mass(line, r):
        v = m.prod[line].get(ox_key[r])
        return 0.0 if v is None else v * sp.molar_mass_kg_kmol(ox_key[r])

    # big-M from the most the feed could give (all RE as oxide at the best price)
    re_max = {
        r: plant.supply_t_h
        * sum(v * sp.elements(k).get(r, 0) for k, v in plant.feed_kmol_t.items())
        for r in sp.RARE_EARTHS
    }
    ox_kg_kmol = {
        r: sp.molar_mass_kg_kmol(ox_key[r]) / sp.RE_OXIDE[r][1] for r in sp.RARE_EARTHS
    }
    m.oxide_max_kg_h = sum(re_max[r] * ox_kg_kmol[r] for r in sp.RARE_EARTHS)
    # Revenue [kUSD/h]: each oxide of a line is split into the part sold as a single
    # oxide (cut on) and the part sold in a mixed oxide (cut off), each bounded by
    # the most the feed can give, so the relaxation stays tight.
    price = {r: v / 1000.0 for r, v in price.items()}
    ox_max = {r: 1.05 * re_max[r] * ox_kg_kmol[r] for r in sp.RARE_EARTHS}
    m.ox_max = ox_max
    on = {"pr": m.route["prnd_cut", "on"], "tb": m.route["dytb_cut", "on"]}
    mixed_with = {"pr": ("Pr", "Nd"), "tb": ("Tb", "Dy")}
    idx = [(li, r) for li, rs in mixed_with.items() for r in rs]
    m.sold_on = pyo.Var(idx, within=pyo.NonNegativeReals, doc="oxide sold alone [kg/h]")
    m.sold_mix = pyo.Var(
        idx, within=pyo.NonNegativeReals, doc="oxide sold mixed [kg/h]"
    )
    m.sold_c = pyo.ConstraintList()
    for li, r in idx:
        m.sold_c.add(m.sold_on[li, r] + m.sold_mix[li, r] == ox_mass(li, r))
        m.sold_c.add(m.sold_on[li, r] <= ox_max[r] * on[li])
        m.sold_c.add(m.sold_mix[li, r] <= ox_max[r] * (1 - on[li]))
    m.rev = pyo.Expression(
        list(LINES),
        rule=lambda m, li: (
            price[LINE_OXIDE[li]] * m.sold_on[li, LINE_OXIDE[li]]
            + disc * sum(price[r] * m.sold_mix[li, r] for r in mixed_with[li])
            if li in mixed_with
            else price[LINE_OXIDE[li]] * ox_mass(li, LINE_OXIDE[li])
        ),
        doc="revenue [kUSD/h]",
    )
    m.ox_mass = ox_mass
    # by-products and wastes [USD/h]
    bp = {k.split(".", 1)[1]: P[k] for k in PRICE_KEYS if k.startswith("byproducts_")}
    salt = _stream_expr(m, "evap", "salt")
    salt_price = {
        "NaCl(s)": bp["salt_NaCl"],
        "NH4Cl(s)": bp["salt_NH4Cl"],
        "MgCl2(s)": bp["salt_MgCl2"],
    }
    m.salt_usd_h = sum(
        v * sp.molar_mass_kg_kmol(s) / 1000 * salt_price.get(s, bp["salt_other"])
        for s, v in salt.items()
        if s != "H2O(l)"
    )
    res = _mass(_stream_expr(m, "filter", "residue")) + _mass(
        _stream_expr(m, "dissolve", "residue")
    )
    slu = _mass(_stream_expr(m, "purify", "sludge")) + _mass(
        _stream_expr(m, "neutralize", "sludge")
    )
    m.waste_usd_h = (
        res * bp["residue"] + slu * bp["sludge"] + m.discharge_kg_h * bp["wastewater"]
    ) / 1000
    # OPEX [USD/h]
    rp = {s: P[f"reagents_USD_t.{k}"] for s, k in _REAGENT_KEY.items()}
    m.reagent_usd_h = sum(
        m.buy[s] * sp.molar_mass_kg_kmol(s) / 1000 * rp[s] for s in m.reagent_species
    )
    ut = {k.split(".", 1)[1]: P[k] for k in PRICE_KEYS if k.startswith("utilities.")}
    m.utility_usd_h = (
        m.electricity_kW * ut["electricity_USD_kWh"]
        + m.fuel_kW * ut["fuel_USD_kWh"]
        + m.steam_t_h * ut["steam_USD_t"]
        + m.water_fresh * WATER_KG_KMOL / 1000 * P["reagents_USD_t.water"]
    )
    m.scrap_usd_h = m.scrap_t_h * P["feed_USD_t.scrap"]
    # trains and CAPEX
    trains = [n for n in plant.case.plant.trains]
    m.trains = pyo.Var(trains, within=pyo.Binary)
    m.trains_one = pyo.Constraint(expr=sum(m.trains[n] for n in trains) == 1)
    sizes = defaultdict(list)
    for name in plant.order:
        for e, x in m.units[name].size.items():
            sizes[e].append(x)
    m.capex_blk = pyo.Block(list(sizes))
    m.capex_items = {}
    for e, xs in sizes.items():
        fn = costing.installed_cost_fn(c, e)
        m.capex_items[e] = concave_cost(
            m.capex_blk[e],
            sum(xs),
            fn,
            c(f"equipment.{e}.max_per_train"),
            {n: m.trains[n] for n in trains},
            c(f"equipment.{e}.exp"),
        )
    m.sizes = {e: sum(xs) for e, xs in sizes.items()}
    m.capex_usd = 1e6 * sum(m.capex_items.values())
    m.labour_usd_yr = sum(
        P["finance.labour_USD_yr_train"] * n * m.trains[n] for n in trains
    )
    m.maintenance_usd_yr = P["finance.maintenance_frac"] * m.capex_usd
    m.opex_usd_yr = (
        hrs * (m.reagent_usd_h + m.utility_usd_h - m.waste_usd_h - m.salt_usd_h)
        + m.labour_usd_yr
        + m.maintenance_usd_yr
    )
    m.revenue_usd_yr = 1000.0 * hrs * sum(m.rev[x] for x in LINES)
    m.operating_cost_usd_yr = m.opex_usd_yr + hrs * m.scrap_usd_h
    # after-tax NPV (costing.Finance: tax, straight-line depreciation, working
    # capital); the coefficients are mutable Params
    k = m.fin_k
    m.npv_usd = (
        -k["k_capex"] * m.capex_usd
        - k["k_wc"] * m.operating_cost_usd_yr
        + k["k_cash"] * (m.revenue_usd_yr - m.operating_cost_usd_yr)
    )
    # annualised cost before tax: CAPEX / annuity factor + operating cost
    m.cost_usd_yr = m.capex_usd / k["annuity"] + m.operating_cost_usd_yr
    # RE yield, REO, reagents, energy, CO2
    re_feed = sum(
        v * sp.elements(k).get(sp.re_of(k), 0)
        for k, v in plant.feed_kmol_t.items()
        if sp.re_of(k)
    )
    m.re_feed_kmol_h = m.scrap_t_h * re_feed
    m.re_prod_kmol_h = sum(
        v * sp.elements(s).get(sp.re_of(s), 0)
        for line in LINES
        for s, v in m.prod[line].items()
        if sp.re_of(s)
    )
    m.reo_kg_h = sum(ox_mass(line, r) for line in LINES for r in sp.RARE_EARTHS)
    m.reagents_t_yr = hrs * sum(
        m.buy[s] * sp.molar_mass_kg_kmol(s) / 1000 for s in m.reagent_species
    )
    m.energy_MWh_yr = (
        hrs * (m.electricity_kW + m.fuel_kW + m.steam_t_h * 2100 / 3.6) / 1000
    )
    co2_proc = 0
    for (u, port), cat in plant.sinks.items():
        if cat == "offgas":
            v = _stream_expr(m, u, port).get("CO2(g)")
            if v is not None:
                co2_proc = co2_proc + v
    m.co2_t_yr = (
        hrs
        * (
            m.electricity_kW * ut["grid_kgCO2_kWh"]
            + m.fuel_kW * ut["fuel_kgCO2_kWh"]
            + m.steam_t_h * ut["steam_kgCO2_t"]
            + co2_proc * 44.01
        )
        / 1000
    )
    m.wastewater_t_yr = hrs * m.discharge_kg_h / 1000


def _build_targets(m, plant: Plant):
    t = plant.case.targets
    m.yield_min = pyo.Param(initialize=t.re_yield_min, mutable=True)
    m.yield_con = pyo.Constraint(
        expr=m.re_prod_kmol_h >= m.yield_min * m.re_feed_kmol_h
    )
    group = {"pr": ("Pr", "Nd"), "nd": ("Nd",), "tb": ("Tb", "Dy"), "dy": ("Dy",)}
    m.purity = pyo.ConstraintList()
    on = {
        "pr": m.route["prnd_cut", "on"],
        "nd": m.route["prnd_cut", "on"],
        "tb": m.route["dytb_cut", "on"],
        "dy": m.route["dytb_cut", "on"],
    }
    mixed = {"pr": ("Pr", "Nd"), "tb": ("Tb", "Dy")}
    m.purity_single_min = pyo.Param(initialize=t.purity_single_min, mutable=True)
    m.purity_mixed_min = pyo.Param(initialize=t.purity_mixed_min, mutable=True)
    for line in LINES:
        tot = _mass(m.prod[line])
        r = LINE_OXIDE[line]
        # the line can hold at most its group's oxides plus a few % impurities
        big = 1.2 * sum(m.ox_max[x] for x in group[line])
        m.purity.add(
            m.ox_mass(line, r) >= m.purity_single_min * tot - big * (1 - on[line])
        )
        if line in mixed:
            both = sum(m.ox_mass(line, x) for x in mixed[line])
            m.purity.add(both >= m.purity_mixed_min * tot - big * on[line])
    # RE fed at a fixed throughput [kmol/h] (PlantSession updates it)
    m.yield_den = pyo.Param(
        initialize=max(1e-9, pyo.value(m.re_feed_kmol_h) or 1.0), mutable=True
    )
    m.metric = {
        "npv": m.npv_usd,
        "cost": m.cost_usd_yr,
        "yield": m.re_prod_kmol_h / m.yield_den
        if m.scrap_t_h.fixed
        else m.re_prod_kmol_h,
        "reagents": m.reagents_t_yr,
        "wastewater": m.wastewater_t_yr,
        "energy": m.energy_MWh_yr,
        "co2": m.co2_t_yr,
    }
    m.eps = pyo.Param(initialize=0.0, mutable=True)
    m.eps_sense = 1


METRIC_SCALE = {
    "npv": 1e7,
    "cost": 1e6,
    "yield": 0.01,
    "reagents": 1e3,
    "wastewater": 1e3,
    "energy": 1e3,
    "co2": 1e3,
}


def set_objective(
    m, kind: str, weights: dict[str, float] | None = None, q: float = 0.0
):
    """Activate one objective (``q`` is the Dinkelbach ratio for cost_per_kg_reo)."""
    if hasattr(m, "obj"):
        m.del_component(m.obj)
    if kind == "weighted":
        w = weights or {"cost": 1.0}
        expr = sum(
            wt * (-1 if k in MAXIMISE else 1) * m.metric[k] / METRIC_SCALE[k]
            for k, wt in w.items()
        )
        m.obj = pyo.Objective(expr=expr, sense=pyo.minimize)
    elif kind == "cost_per_kg_reo":
        m.obj = pyo.Objective(
            expr=(m.cost_usd_yr - q * m.plant.hours_yr * m.reo_kg_h) / 1e6,
            sense=pyo.minimize,
        )
    else:
        sense = pyo.maximize if kind in MAXIMISE else pyo.minimize
        m.obj = pyo.Objective(expr=m.metric[kind] / METRIC_SCALE[kind], sense=sense)


# ----------------------------------------------------------------------- solving


@dataclass
class Choice:
    """The decisions read back from the MILP."""

    routes: dict[str, str]
    points: dict[str, int]
    trains: int
    scrap_t_h: float


def read_choice(m) -> Choice:
    routes = {
        t: max(opts, key=lambda o: pyo.value(m.route[t, o]))
        for t, opts in ROUTE_TAGS.items()
    }
    pts = {name: chosen_point(m.units[name]) for name in m.plant.order}
    trains = max(m.trains, key=lambda n: pyo.value(m.trains[n]))
    return Choice(routes, pts, trains, pyo.value(m.scrap_t_h))


#: objectives in which CAPEX appears (the piecewise-linear CAPEX is refined)
CAPEX_OBJECTIVES = {"npv", "cost", "cost_per_kg_reo"}
#: relative difference between the MILP's CAPEX and the power law at the chosen
#: sizes at which refinement stops
CAPEX_REL_TOL = 1e-3


def capex_check(m) -> dict:
    """MILP CAPEX vs the power law at the sizes the MILP chose (same trains)."""
    n = max(m.trains, key=lambda k: pyo.value(m.trains[k]))
    items = {}
    for e in m.capex_items:
        x = max(pyo.value(m.sizes[e]), 0.0)
        items[e] = {
            "size": x,
            "milp_MUSD": pyo.value(m.capex_items[e]),
            "exact_MUSD": exact_concave_cost(m.capex_blk[e], x, n),
        }
    milp = sum(v["milp_MUSD"] for v in items.values())
    exact = sum(v["exact_MUSD"] for v in items.values())
    return {
        "trains": n,
        "milp_capex_USD": 1e6 * milp,
        "exact_capex_USD": 1e6 * exact,
        "rel_diff": (exact - milp) / max(exact, 1e-12),
        "items": items,
    }


def _uses_capex(case: NdfebCase) -> bool:
    k = case.objective.kind
    if k == "weighted":
        return bool({"npv", "cost"} & set(case.objective.weights or {"cost": 1.0}))
    return k in CAPEX_OBJECTIVES


def _objective_value(m) -> float:
    return float(pyo.value(m.obj))


def _decision_vars(m) -> list:
    """The plant's decision binaries: routes, trains, operating points."""
    out = [v for v in m.route.values()] + [v for v in m.trains.values()]
    for name in m.plant.order:
        y = m.units[name].y
        if not isinstance(y, dict):
            out.extend(y.values())
    return out


def _fix_plant(m) -> list:
    """Fix every binary except the CAPEX segments at its value; returns them."""
    seg = {id(v) for b in m.capex_blk.values() for v in b.seg.values()}
    fixed = []
    for v in m.component_data_objects(pyo.Var, descend_into=True):
        if v.is_binary() and not v.fixed and id(v) not in seg:
            v.fix(round(pyo.value(v)))
            fixed.append(v)
    return fixed


def _polish(m, case: NdfebCase) -> SolveReport:
    """Make the CAPEX of the chosen plant exact: fix its decisions, add breakpoints
    at its sizes, re-solve the flows (a small MILP: only CAPEX segments free)."""
    fixed = _fix_plant(m)
    rep = None
    try:
        for _ in range(3):
            chk = capex_check(m)
            if rep is not None and abs(chk["rel_diff"]) <= CAPEX_REL_TOL:
                break
            for e, v in chk["items"].items():
                if v["size"] > 0:
                    refine_concave_cost(m.capex_blk[e], (v["size"],))
            # the CAPEX blocks were rebuilt: loading the model into a new HiGHS
            # object is faster than Pyomo's one-by-one column deletions; the
            # plant just solved is feasible here and HiGHS starts from it
            release_solver(m)
            rep = _solve_once(m, case, current_point(m), "the plant being polished")
    finally:
        for v in fixed:
            v.unfix()
    return rep


#: default of :func:`solve`'s ``tighten``: off, as on the bundled case the LP bound
#: cuts HiGHS's nodes by about 1.5 x but not its wall time, and costs one LP per
#: bank per solve (benchmarks/bench_ndfeb.py --bound compares the two)
TIGHTEN_BANK_BOUNDS = False


def tighten_bank_flow_bounds(m) -> dict[str, dict[str, float | str]]:
    """Tighten each SX bank's U (``q_part[g] <= U y``) by an LP bound of its flow.

    For each bank with a proportional part (:func:`rexopt.units.linear.
    _proportional_part`), solve the LP relaxation of the model as it stands (every
    active constraint, fixed variables held) maximising the bank's base form q;
    every integer-feasible plant of this model lies in that relaxation, so its
    optimum bounds q at each of them.  U is set to that optimum (plus 1e-6
    relative and 1e-6 absolute, for the LP's tolerances), never above the
    propagated bound.  A bank whose LP is not solved to optimality keeps the
    propagated bound, and the returned record says so.  The bound holds only for
    the model's current constraints: :func:`solve` computes it on entry and puts
    the propagated bounds back on exit.  Returns {bank: record}, also kept in
    ``m.bank_flow_bounds``.
    """
    import highspy
    import numpy as np
    from pyomo.contrib.solver.solvers.highs import Highs

    banks = [
        n
        for n in m.plant.order
        if hasattr(m.units[n], "q_part") and hasattr(m.units[n], "q_ub")
    ]
    out: dict[str, dict[str, float | str]] = {}
    if not banks:
        m.bank_flow_bounds = out
        return out
    opt = Highs()
    opt.set_instance(m)  # a separate HiGHS object: the model's own is untouched
    h = opt._solver_model
    h.setOptionValue("output_flag", False)
    vmap = opt._pyomo_var_to_solver_var_map
    n = h.getNumCol()
    cols = np.arange(n, dtype=np.int32)
    h.changeColsIntegrality(n, cols, np.zeros(n, dtype=np.uint8))
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.changeObjectiveOffset(0.0)
    for name in banks:
        blk = m.units[name]
        prop = float(blk.q_ub_propagated)
        h.changeColsCost(n, cols, np.zeros(n))
        idx = [vmap[id(blk.q_part[g])] for g in blk.q_part if id(blk.q_part[g]) in vmap]
        rec: dict[str, float | str] = {"propagated_bound": prop}
        h.changeColsCost(len(idx), np.asarray(idx, dtype=np.int32), np.ones(len(idx)))
        h.run()
        status = h.modelStatusToString(h.getModelStatus())
        if status == "Optimal" and len(idx) == len(blk.q_part):
            lp = float(h.getInfo().objective_function_value)
            used = min(prop, max(0.0, lp) * (1 + 1e-6) + 1e-6)
            rec.update(lp_bound=lp, used_bound=used, status="lp bound")
        else:
            used = prop
            rec.update(
                used_bound=used,
                status=f"propagated bound kept (LP relaxation: {status})",
            )
        blk.q_ub.set_value(used)
        out[name] = rec
    m.bank_flow_bounds = out
    return out


def restore_bank_flow_bounds(m) -> None:
    """Put each SX bank's U back to its propagated bound (valid for any spec)."""
    for name in m.plant.order:
        blk = m.units[name]
        if hasattr(blk, "q_ub") and hasattr(blk, "q_ub_propagated"):
            blk.q_ub.set_value(blk.q_ub_propagated)


def solve(
    m,
    case: NdfebCase,
    max_rounds: int | None = None,
    start: dict | None = None,
    start_label: str = "given",
    tighten: bool | None = None,
) -> SolveReport:
    """Solve the plant MILP with a CAPEX that is exact at the reported plant.

    With ``tighten`` (default :data:`TIGHTEN_BANK_BOUNDS`, off), each SX bank's flow
    bound U is first tightened to the LP bound of the model as it stands
    (:func:`tighten_bank_flow_bounds`, recorded in ``m.bank_flow_bounds``) and
    put back to the propagated bound on return, so a later solve with other
    constraints never inherits it.  The bound removes no integer-feasible plant,
    so the optimum and the gap HiGHS proves are those of the same model; only
    the search path (and so which plant within the gap) can change.
    """
    if tighten is None:
        tighten = TIGHTEN_BANK_BOUNDS
    if not tighten:
        m.bank_flow_bounds = {}
        return _solve_rounds(m, case, max_rounds, start, start_label)
    tighten_bank_flow_bounds(m)
    try:
        return _solve_rounds(m, case, max_rounds, start, start_label)
    finally:
        restore_bank_flow_bounds(m)


def _solve_rounds(
    m,
    case: NdfebCase,
    max_rounds: int | None,
    start: dict | None,
    start_label: str,
) -> SolveReport:
    """The CAPEX rounds of :func:`solve` (U as the caller left it).

    The piecewise-linear CAPEX is exact at its breakpoints and below the power law
    between them (chords of a concave curve), so the MILP's optimum is a bound of
    the true problem and its plant's CAPEX can be underestimated.  Each round:
    solve the MILP (bound B), fix the chosen plant's discrete decisions, add a
    breakpoint at each chosen size and re-solve (``_polish``): the plant's CAPEX
    is then exact and its objective V true.  Stop when ``|B - V| <= mip_gap |V|``
    (the plant is proven within the gap for the exact cost); otherwise add
    breakpoints around the chosen sizes and solve the MILP again.  The best exact
    plant is returned; every round is recorded in ``m.capex_rounds`` and the
    proven gap in ``m.capex_gap`` (None when CAPEX is not in the objective or the
    objective is the Dinkelbach ratio).  The report's ``seconds`` is the total.
    ``start`` is a MIP start of the first MILP (recorded in the report's
    ``mip_start``); it changes where HiGHS starts, not the gap it proves.
    """
    if max_rounds is None:
        max_rounds = case.solver.capex_rounds
    m.capex_rounds = []
    m.capex_gap = None
    rep = _solve_once(m, case, start, start_label)
    total = rep.seconds
    nodes = rep.nodes or 0
    if not _uses_capex(case):
        chk = capex_check(m)
        m.capex_rounds.append(
            {
                "round": 1,
                "milp_capex_USD": chk["milp_capex_USD"],
                "exact_capex_USD": chk["exact_capex_USD"],
                "rel_diff": chk["rel_diff"],
                "seconds": rep.seconds,
                "note": "CAPEX is not in the objective; reported at the power law",
            }
        )
        return rep
    if case.objective.kind == "cost_per_kg_reo":
        # the Dinkelbach objective changes with its ratio: no bound to compare;
        # the chosen plant's CAPEX is made exact
        chk0 = capex_check(m)
        pol = _polish(m, case)
        chk = capex_check(m)
        m.capex_rounds.append(
            {
                "round": 1,
                "milp_capex_first_USD": chk0["milp_capex_USD"],
                "exact_capex_first_USD": chk0["exact_capex_USD"],
                "milp_capex_USD": chk["milp_capex_USD"],
                "exact_capex_USD": chk["exact_capex_USD"],
                "rel_diff": chk["rel_diff"],
                "seconds": rep.seconds + pol.seconds,
                "note": "Dinkelbach objective: CAPEX made exact at the chosen plant, "
                "no optimality certificate for the exact cost",
            }
        )
        pol.seconds += total
        pol.mip_start = rep.mip_start
        return pol
    maximise = case.objective.kind in MAXIMISE
    sign = 1.0 if maximise else -1.0
    size = (rep.n_variables, rep.n_integer, rep.n_constraints)
    gap_req = case.solver.mip_gap
    best = None  # (exact value, solution, report)
    ub = None  # bound of the exact problem (in the objective's sense)
    first_rep = rep
    for rnd in range(1, max_rounds + 1):
        cut_off = False
        if rnd > 1:
            # the MILP (with breakpoints at every plant polished so far) must beat
            # the best exact plant by more than the gap
            thr = best[0] + sign * gap_req * abs(best[0])
            m.capex_cutoff = pyo.Constraint(expr=sign * m.obj.expr >= sign * thr)
            t_cut = time.perf_counter()
            try:
                rep = _solve_once(m, case)
                nodes += rep.nodes or 0
            except SolveError as exc:
                if "infeasible" not in str(exc):
                    raise
                cut_off = True
            finally:
                m.del_component(m.capex_cutoff)
            total += time.perf_counter() - t_cut
            if cut_off:
                # no plant beats the best one by more than the gap: proven
                ub = thr
                m.capex_rounds.append(
                    {
                        "round": rnd,
                        # = gap_req by construction (no rounding noise)
                        "proven_gap": gap_req,
                        "seconds": time.perf_counter() - t_cut,
                        "note": "no plant beats the best exact plant by more than "
                        "the MIP gap (cutoff MILP infeasible)",
                    }
                )
                m.capex_gap = m.capex_rounds[-1]["proven_gap"]
                break
        chk0 = capex_check(m)
        b_r = rep.objective + sign * (rep.gap or 0.0) * abs(rep.objective)
        if rnd == 1:
            ub = b_r
        else:
            # optimum: inside the cutoff region (<= b_r) or within the gap of best
            ub = max(sign * b_r, sign * thr) * sign
        pol = _polish(m, case)
        total += pol.seconds
        nodes += pol.nodes or 0
        val = _objective_value(m)
        chk = capex_check(m)
        if best is None or sign * (val - best[0]) > 0:
            best = (val, _snapshot(m), pol)
        cert = sign * (ub - best[0]) / max(abs(best[0]), 1e-12)
        m.capex_rounds.append(
            {
                "round": rnd,
                "milp_capex_first_USD": chk0["milp_capex_USD"],
                "exact_capex_first_USD": chk0["exact_capex_USD"],
                "milp_capex_USD": chk["milp_capex_USD"],
                "exact_capex_USD": chk["exact_capex_USD"],
                "rel_diff": chk["rel_diff"],
                "bound": ub,
                "exact_objective": val,
                "proven_gap": cert,
                "seconds": rep.seconds + pol.seconds,
                "breakpoints": sum(len(x._cc_breaks) for x in m.capex_blk.values()),
            }
        )
        m.capex_gap = cert
        if cert <= gap_req * (1 + 1e-9) + 1e-12:
            break
    _restore(m, best[1])
    out = best[2]
    out.seconds = total
    out.n_variables, out.n_integer, out.n_constraints = size
    out.requested_gap = gap_req
    out.time_limit_s = first_rep.time_limit_s
    out.mip_start = first_rep.mip_start
    out.nodes = nodes  # all rounds and polishes
    out.what = "NdFeB plant"
    if m.capex_gap is not None and m.capex_gap > gap_req * (1 + 1e-9) + 1e-12:
        out.status = "feasible"
        out.termination = (
            f"exact-CAPEX gap {100 * m.capex_gap:.3f} % after {len(m.capex_rounds)} "
            "rounds of breakpoint refinement (solver.capex_rounds)"
        )
    elif first_rep.status != "optimal":
        out.status = first_rep.status
        out.termination = first_rep.termination
    out.gap = m.capex_gap
    return out


def _snapshot(m) -> dict:
    return {
        id(v): (v, v.value)
        for v in m.component_data_objects(pyo.Var, descend_into=True)
    }


def _restore(m, snap: dict) -> None:
    for v, val in snap.values():
        v.set_value(val, skip_validation=True)


#: share of the case's MIP gap HiGHS is asked for; the rest is the budget of the
#: piecewise-linear CAPEX (chords up to 1.8-4 % below the power law), so that the
#: exact-CAPEX certificate usually meets the case's gap in the first round
HIGHS_GAP_SHARE = 0.5

#: HiGHS search options of the plant MILPs.  HiGHS restarts its root (presolve,
#: cut rounds, strong branching all over again) when a few % of the binaries are
#: fixed by reduced costs; without that restart the bundled case needs 404
#: instead of 458 nodes and about a fifth less CPU time for the same plant.
#: Search settings only: the gap, the limits and the answer's guarantee are
#: unchanged.
HIGHS_OPTIONS = {"mip_allow_restart": False}


def _solve_once(
    m, case: NdfebCase, start: dict | None = None, start_label: str = "given"
) -> SolveReport:
    """Solve the plant MILP for the case objective (Dinkelbach for cost per kg).

    ``start`` ({id(var): value}) is a MIP start for HiGHS (see
    :func:`rexopt.highs.solve`); the Dinkelbach iterations after the first start
    from the previous iteration's plant.
    """
    kind = case.objective.kind
    opts = dict(
        time_limit_s=case.solver.time_limit_s,
        mip_gap=HIGHS_GAP_SHARE * case.solver.mip_gap,
        what="NdFeB plant",
        options=HIGHS_OPTIONS,
    )
    if kind != "cost_per_kg_reo":
        set_objective(m, kind, case.objective.weights)
        return highs_solve(m, mip_start=start, start_label=start_label, **opts)
    q = 0.0
    rep = None
    for it in range(8):
        set_objective(m, kind, q=q)
        if it:
            start, start_label = current_point(m), "previous Dinkelbach iteration"
        rep = highs_solve(m, mip_start=start, start_label=start_label, **opts)
        reo = pyo.value(m.reo_kg_h) * m.plant.hours_yr
        new_q = pyo.value(m.cost_usd_yr) / max(reo, 1e-9)
        if abs(new_q - q) <= 1e-4 * max(1.0, abs(new_q)):
            break
        q = new_q
    return rep


CUT_LINES = {"prnd_cut": ("pr", "nd"), "dytb_cut": ("tb", "dy")}
CUT_NAMES = {"prnd_cut": "Pr/Nd cut", "dytb_cut": "Dy/Tb cut"}


def binding_limits(m, plant: Plant, tol: float = 1e-3) -> list[dict]:
    """Capacity limits the chosen plant sits on (equipment caps, trains, towers)."""
    c = plant.data["costs"]
    n = max(m.trains, key=lambda k: pyo.value(m.trains[k]))
    n_max = max(plant.case.plant.trains)
    out = []
    for e in sorted(m.sizes):
        x = pyo.value(m.sizes[e])
        cap = n * c(f"equipment.{e}.max_per_train")
        if x > 0 and x >= (1 - tol) * cap:
            out.append(
                {
                    "limit": f"equipment.{e}.max_per_train",
                    "text": f"{e}: {x:,.4g} {c(f'equipment.{e}.size_unit')} = {n} "
                    f"train(s) x max_per_train {cap / n:g} (costs.toml "
                    f"equipment.{e}.max_per_train)"
                    + (
                        f"; {n} is the largest train count allowed (plant.trains)"
                        if n == n_max
                        else ""
                    ),
                }
            )
    ct = plant.data["evaporation"]("common.cooling_tower_evap_t_t_scrap")
    tower = pyo.value(m.water_tower) * WATER_KG_KMOL / 1000
    cap_t = ct * pyo.value(m.scrap_t_h)
    if cap_t > 0 and tower >= (1 - tol) * cap_t:
        out.append(
            {
                "limit": "evaporation.common.cooling_tower_evap_t_t_scrap",
                "text": f"cooling towers evaporate {tower:,.3g} t/h = their capacity "
                f"{ct} t per t scrap (evaporation.toml "
                "common.cooling_tower_evap_t_t_scrap)",
            }
        )
    return out


def _capacity_probe(case: NdfebCase, plant: Plant, force: dict[str, str]) -> str | None:
    """Re-solve with twice the train options and 10x the equipment caps; if that
    is feasible, name the caps and train count the plant needed (else None)."""
    n_max = max(case.plant.trains)
    trains = sorted(set(case.plant.trains) | set(range(n_max + 1, 2 * n_max + 1)))
    data = {k: dict(v) for k, v in case.data.items()}
    c = plant.data["costs"]
    eq = {}
    for e in c.keys("equipment"):
        eq[e] = {"max_per_train": 10 * c(f"equipment.{e}.max_per_train")}
    data.setdefault("costs", {})
    data["costs"] = {**data["costs"], "equipment": eq}
    routes = {**case.routes.model_dump(), **force}
    c2 = case.model_copy(
        update={
            "plant": case.plant.model_copy(update={"trains": trains}),
            "routes": RouteSpec(**routes),
            "data": data,
        }
    )
    try:
        p2 = build(c2, sx_tables=plant.sx_tables)
        m2 = build_model(p2)
        _solve_once(m2, c2)
    except (SolveError, CaseError, InfeasibleCase):
        return None
    n = max(m2.trains, key=lambda k: pyo.value(m2.trains[k]))
    over = []
    for e in sorted(m2.sizes):
        x = pyo.value(m2.sizes[e])
        cap = n_max * c(f"equipment.{e}.max_per_train")
        if x > cap * (1 + 1e-6):
            over.append(
                f"{e} needs {x:,.4g} {c(f'equipment.{e}.size_unit')} > {n_max} "
                f"train(s) x {cap / n_max:g} (costs.toml equipment.{e}.max_per_train)"
            )
    if not over and n <= n_max:
        return None
    return (
        f"the capacity limits bind: with up to {2 * n_max} trains and 10x the "
        f"equipment caps a plant exists ({n} trains); "
        + "; ".join(over)
        + f".  Allow more trains (plant.trains, now up to {n_max}) or raise "
        "max_per_train in [data.costs.equipment.<item>]"
    )


def slate_decisions(m, case: NdfebCase, plant: Plant, choice) -> dict:
    """The product slate as decisions: every optional cut that is off is explained.

    For a cut the case leaves free and the optimiser switched off, the model is
    re-solved with the cut forced on: either the NPV of the best plant with it on
    (the economic reason), or why no such plant exists: the single-oxide purity
    spec (then the best achievable spec is bracketed by bisection and the NPV of
    relaxing the spec to it is given) or the capacity limits (named).  The
    reported plant's solution is restored afterwards.
    """
    npv_rep = pyo.value(m.npv_usd)
    out = {"cuts": [], "binding_limits": binding_limits(m, plant), "warnings": []}
    snap = _snapshot(m)
    kept = (list(getattr(m, "capex_rounds", [])), getattr(m, "capex_gap", None))
    try:
        for tag, name in CUT_NAMES.items():
            state = choice.routes[tag]
            forced = getattr(case.routes, tag)
            entry = {"cut": tag, "name": name, "state": state, "forced": forced}
            out["cuts"].append(entry)
            if state == "on":
                entry["reason"] = (
                    "forced on by the case" if forced == "on" else "chosen"
                )
                continue
            if forced == "off":
                entry["reason"] = "forced off by the case (routes." + tag + ")"
                continue
            entry.update(_cut_off_reason(m, case, plant, tag, npv_rep))
            if entry.get("spec_unreachable"):
                out["warnings"].append(entry["reason"])
    finally:
        _restore(m, snap)
        m.capex_rounds, m.capex_gap = kept
    return out


def _fix_route(m, tag: str, opt: str):
    saved = {o: (m.route[tag, o].fixed, m.route[tag, o].value) for o in ROUTE_TAGS[tag]}
    for o in ROUTE_TAGS[tag]:
        m.route[tag, o].fix(1 if o == opt else 0)
    return saved


def _unfix_route(m, tag: str, saved) -> None:
    for o, (fx, val) in saved.items():
        if fx:
            m.route[tag, o].fix(val)
        else:
            m.route[tag, o].unfix()


def _cut_off_reason(m, case, plant, tag, npv_rep) -> dict:
    name = CUT_NAMES[tag]
    spec = case.targets.purity_single_min
    saved = _fix_route(m, tag, "on")
    try:
        try:
            solve(m, case, max_rounds=1)
            npv_on = pyo.value(m.npv_usd)
            return {
                "npv_with_cut_on_USD": npv_on,
                "npv_difference_USD": npv_rep - npv_on,
                "reason": f"{name} off by economics: the best plant with it on has "
                f"NPV {npv_on:,.0f} USD, {npv_rep - npv_on:,.0f} USD less",
            }
        except SolveError:
            pass
        # is it the purity spec?  The bisection only asks "is there a plant?":
        # HiGHS stops at its first feasible plant, starting from the last plant
        # found (it meets every lower spec); the NPV at the bracket's lower end is
        # then solved to the case's gap
        m.purity_single_min = 0.0
        found = _feasible(m, case, None)
        if found is not None:
            # bisection on the impurity 1 - purity, geometric (a precision that
            # scales with the purity level): stop at 10 % relative
            lo, hi = 0.0, spec
            for _ in range(12):
                if lo <= 0:
                    mid = min(0.9, spec) if hi == spec else 0.5 * hi
                else:
                    mid = 1 - math.sqrt((1 - lo) * (1 - hi))
                m.purity_single_min = mid
                point = _feasible(m, case, found)
                if point is not None:
                    lo, found = mid, point
                else:
                    hi = mid
                if lo > 0 and (1 - lo) <= 1.1 * (1 - hi):
                    break
            m.purity_single_min = lo
            _solve_once(m, case, found, "a plant meeting the relaxed spec")
            npv_lo = pyo.value(m.npv_usd)
            gain = npv_lo - npv_rep
            return {
                "spec_unreachable": True,
                "best_achievable_purity": [lo, hi],
                "npv_with_spec_relaxed_USD": npv_lo,
                "npv_difference_USD": -gain,
                "reason": (
                    f"targets.purity_single_min = {spec:.10g} cannot be met by any "
                    f"{name} design in the candidate table; the best spec a plant "
                    f"with the cut meets lies in [{lo:.6f}, {hi:.6f}].  The cut is "
                    f"switched off and the mixed oxide is sold instead.  Relaxing "
                    f"the spec to {lo:.6f} gives a plant with the cut on and NPV "
                    f"{npv_lo:,.0f} USD ({gain:+,.0f} USD vs the plant reported)"
                ),
            }
        cap = _capacity_probe(case, plant, {tag: "on"})
        if cap:
            return {"reason": f"{name} off because {cap}", "capacity_binds": True}
        return {
            "reason": f"{name} off: no plant with the cut on meets the targets "
            "(yield, ZLD, purity) even with the purity spec at 0 and with more "
            "trains; see the infeasibility diagnosis of a run with "
            f"routes.{tag} = 'on'"
        }
    finally:
        m.purity_single_min = spec
        _unfix_route(m, tag, saved)


def _feasible(m, case: NdfebCase, start: dict | None) -> dict | None:
    """A feasible plant of the model as it stands ({id(var): value}), or None.

    HiGHS stops at its first feasible plant (``mip_max_improving_sols = 1``); an
    infeasible model is proven so.  Used where only existence matters (the purity
    bisection).  A plant not found within the time limit counts as none; the
    bracket it gives is then on the safe side (the spec reported as unreachable
    is one no plant was found for).
    """
    set_objective(m, case.objective.kind, case.objective.weights)
    try:
        highs_solve(
            m,
            time_limit_s=case.solver.time_limit_s,
            mip_gap=HIGHS_GAP_SHARE * case.solver.mip_gap,
            what="NdFeB plant (feasibility)",
            mip_start=start,
            start_label="last feasible plant",
            options={**HIGHS_OPTIONS, "mip_max_improving_sols": 1},
        )
    except SolveError:
        return None
    return current_point(m)


def diagnose(m, case: NdfebCase, err: Exception) -> str:
    """Explain an infeasible case in words (which target the data cannot reach)."""
    if "without a solution" in str(err):
        return (
            f"{err}: HiGHS found no plant within solver.time_limit_s = "
            f"{case.solver.time_limit_s} s.  Raise the time limit or the MIP gap, or "
            "fix some routes in [routes] to shrink the superstructure."
        )
    lines = [f"The case has no feasible plant: {err}."]
    cap = _capacity_probe(case, m.plant, {})
    if cap:
        lines.append(f"Capacity: {cap}.")
        return "\n".join(lines)
    t = case.targets
    m.purity_single_min = 0.0
    m.purity_mixed_min = 0.0
    try:
        _solve_once(m, case)
        lines.append(
            f"The purity specs bind: without them a plant exists.  No candidate SX "
            f"design gives products at purity_single_min = {t.purity_single_min:.10g}"
            f" / purity_mixed_min = {t.purity_mixed_min:.10g} with the forced "
            "routes; lower the spec (a free cut is switched off and reported with "
            "the best achievable spec) or supply better SX candidates."
        )
        return "\n".join(lines)
    except SolveError:
        pass
    finally:
        m.purity_single_min = t.purity_single_min
        m.purity_mixed_min = t.purity_mixed_min
    d = m.plant.data
    lv = d["leaching"]
    max_leach = max(
        max(lv(f"selective.extent_RE.{k}")) for k in lv.keys("selective.extent_RE")
    )
    max_prec = max(d["precipitation"]("re_recovery"))
    t = case.targets
    if t.re_yield_min > 0:
        m.yield_min = 0.0
        try:
            set_objective(m, "yield" if m.scrap_t_h.fixed else "npv")
            highs_solve(
                m, time_limit_s=case.solver.time_limit_s, what="NdFeB plant (max yield)"
            )
            y = pyo.value(m.re_prod_kmol_h) / pyo.value(m.re_feed_kmol_h)
            y_free = None
            if t.zld and hasattr(m, "zld"):
                m.zld.deactivate()
                try:
                    highs_solve(
                        m,
                        time_limit_s=case.solver.time_limit_s,
                        what="NdFeB plant (max yield, no ZLD)",
                    )
                    y_free = pyo.value(m.re_prod_kmol_h) / pyo.value(m.re_feed_kmol_h)
                except SolveError:
                    pass
                finally:
                    m.zld.activate()
            if y + 1e-6 >= t.re_yield_min:
                lines.append(
                    f"The RE yield target {t.re_yield_min:.2%} alone is reachable "
                    f"({y:.2%}); it is the combination with the other targets "
                    "that fails."
                )
                raise SolveError("yield reachable")  # go on to the other checks
            lines.append(
                f"Requested RE yield {t.re_yield_min:.2%} is above the best this "
                f"flowsheet reaches with its data: {y:.2%}.  The leach data top out "
                f"at {max_leach:.2%} RE extracted "
                "(leaching.toml [selective.extent_RE]) "
                f"and oxalate precipitation at {max_prec:.2%} per pass "
                f"(precipitation.toml re_recovery, [S35]); purity targets and losses "
                f"to residue, sludge and SX cut the rest.  Lower re_yield_min or "
                f"supply better leach data."
            )
            if y_free is not None and y_free > y + 1e-4:
                lines.append(
                    f"Zero liquid discharge costs yield here: without it the best is "
                    f"{y_free:.2%} (more acid and base bring water that must leave "
                    f"as vapour or in solids)."
                )
            return "\n".join(lines)
        except SolveError as exc2:
            if "yield reachable" not in str(exc2):
                lines.append("It stays infeasible without the yield target.")
        finally:
            m.yield_min = t.re_yield_min
    if t.zld and hasattr(m, "zld"):
        m.zld.deactivate()
        try:
            set_objective(m, "wastewater")
            highs_solve(
                m,
                time_limit_s=case.solver.time_limit_s,
                what="NdFeB plant (least discharge)",
            )
            ct = d["evaporation"]("common.cooling_tower_evap_t_t_scrap")
            lines.append(
                "Zero liquid discharge is the binding target: without it the least "
                f"liquid discharge is {pyo.value(m.wastewater_t_yr):,.0f} t/yr.  Water "
                "brought by reagent solutions and made by neutralisation must leave as "
                "vapour, in cakes and salts, or in cooling towers (capacity "
                f"{ct} t per t scrap, evaporation.toml common."
                "cooling_tower_evap_t_t_scrap); choose another route or set "
                "zld = false."
            )
            return "\n".join(lines)
        except SolveError:
            lines.append("It stays infeasible without zero liquid discharge.")
        finally:
            m.zld.activate()
    lines.append(
        f"Purity targets: single {t.purity_single_min:.3%}, mixed "
        f"{t.purity_mixed_min:.3%}; forced routes: "
        f"{ {k: v for k, v in case.routes.model_dump().items() if v != 'free'} }."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ re-simulation


@dataclass
class Resim:
    """Rigorous re-simulation of the chosen plant."""

    streams: dict[tuple[str, str], dict[str, float]]  # (unit, outlet) -> species
    inlets: dict[str, dict[str, dict[str, float]]]
    results: dict[str, UnitResult]
    points: dict[str, dict]
    iterations: int
    unit_imbalance: dict[str, dict[str, float]]
    plant_imbalance: dict[str, float]
    recycle_residual: float
    sx_verification: dict[str, dict]
    #: kernel stage profiles of the chosen cascades (case scale), by SX unit
    sx_profiles: dict[str, Any] = field(default_factory=dict)
    #: the candidate row each SX bank ran at in the re-simulation (flows per mol
    #: fed re-set for its feed, rexopt.units.sx.feed_forward), by SX unit
    sx_rows: dict[str, dict] = field(default_factory=dict)


def resimulate(
    plant: Plant,
    choice: Choice,
    runner: Callable | None = None,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> Resim:
    """Sequential-modular simulation of the chosen plant; SX cuts re-run the kernel.

    The recycle (mother liquor to leaching) is torn and converged by successive
    substitution to ``tol`` (relative).
    """
    feed = {s: v * choice.scrap_t_h for s, v in plant.feed_kmol_t.items()}
    for name in ("sx_group", "sx_prnd", "sx_dytb"):
        plant.units[name].runner = runner
    streams: dict[tuple[str, str], dict[str, float]] = {}
    tear: dict[tuple[str, str], dict[str, float]] = {e: {} for e in plant.recycle_edges}
    pts = {n: plant.units[n].points[choice.points[n]] for n in plant.order}
    results: dict[str, UnitResult] = {}
    inlets_all: dict[str, dict] = {}
    resid = float("inf")
    it = 0
    try:
        for it in range(1, max_iter + 1):  # noqa: B007
            for name in plant.order:
                u = plant.units[name]
                ins = {}
                for p in u.inlets:
                    if name == "pretreat":
                        ins[p] = dict(feed)
                    elif (name, p) in plant.recycle_edges:
                        ins[p] = dict(tear[(name, p)])
                    else:
                        ins[p] = merge(
                            *[
                                streams.get(src, {})
                                for src in plant.edges.get((name, p), [])
                            ]
                        )
                # the kernel is re-run once, on the converged feed (last pass)
                if name.startswith("sx_"):
                    u.runner = runner if (runner is not None and resid < 1e-6) else None
                r = u.simulate(ins, pts[name])
                results[name] = r
                inlets_all[name] = ins
                for q, st in r.outlets.items():
                    streams[(name, q)] = st
            new = {
                e: merge(*[streams[s] for s in plant.edges[e]])
                for e in plant.recycle_edges
            }
            num = sum(
                abs(new[e].get(k, 0.0) - tear[e].get(k, 0.0))
                for e in new
                for k in set(new[e]) | set(tear[e])
            )
            den = sum(abs(v) for e in new for v in new[e].values()) + 1e-12
            prev_resid = resid
            resid = num / den
            tear = new
            if resid < tol and (runner is None or prev_resid < 1e-6):
                break
    finally:
        for name in ("sx_group", "sx_prnd", "sx_dytb"):
            plant.units[name].runner = None
    unit_imb = {
        n: check_balance(inlets_all[n], results[n], tol=1e-9) for n in plant.order
    }
    # plant-wide element balance: feed + reagents in, sinks out
    tot_in = sp.element_flows(merge(feed, *[r.reagents for r in results.values()]))
    tot_out = sp.element_flows(merge(*[streams[k] for k in plant.sinks]))
    plant_imb = {
        e: (tot_in.get(e, 0.0) - tot_out.get(e, 0.0)) / max(1e-12, tot_in.get(e, 0.0))
        for e in set(tot_in) | set(tot_out)
    }
    sxv = {}
    sxp = {}
    sxr = {}
    for name in ("sx_group", "sx_prnd", "sx_dytb"):
        v = plant.units[name].verification
        if v and v.get("profiles") is not None and pts[name].get("cut_on"):
            sxp[name] = {"profiles": v["profiles"], "case": v["case"]}
        if v and pts[name].get("cut_on"):
            diff = max(abs(v["raff"][c] - v["table"][c]) for c in v["raff"])
            sxv[name] = {
                "design": pts[name]["design"],
                "max_abs_recovery_difference": diff,
                "raffinate_recovery_kernel": v["raff"],
                "raffinate_recovery_table": v["table"],
                # the kernel ran at the plant's feed concentration
                "feed_RE_mol_L": v["feed_RE_mol_L"],
                # absent from the bank's feed: run as tracers (sx.TRACER_FRACTION)
                "tracers": v["tracers"],
                # flows per mol fed re-set for the bank's feed (None: as designed)
                "feed_forward": v["feed_forward"],
            }
            sxr[name] = v["row"]
        plant.units[name].verification = {}
    return Resim(
        streams, inlets_all, results, pts, it, unit_imb, plant_imb, resid, sxv, sxp,
        sxr,
    )  # fmt: skip


# ------------------------------------------------------------------------ results


@dataclass
class Result:
    case: NdfebCase
    plant: Plant
    model: Any
    solve: SolveReport
    choice: Choice
    resim: Resim
    summary: dict
    tables: dict[str, pd.DataFrame]
    pareto: pd.DataFrame | None
    timings_s: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)


def summarize(m, plant: Plant, choice: Choice, rs: Resim) -> tuple[dict, dict]:
    """Report figures from the re-simulated plant (MILP values beside for checks)."""
    from rexopt.units import report as rep

    return rep.summarize(m, plant, choice, rs)


def run(
    case: NdfebCase,
    sx_tables: dict | None = None,
    runner: Callable | None = None,
    case_dir: Path | None = None,
    verify_runner: Callable | None = None,
) -> Result:
    """Build, solve, re-simulate; no files written."""
    t0 = time.perf_counter()
    plant = build(case, sx_tables=sx_tables, runner=runner, case_dir=case_dir)
    t1 = time.perf_counter()
    m = build_model(plant)
    t2 = time.perf_counter()
    try:
        rep = solve(m, case)
    except SolveError as exc:
        raise InfeasibleCase(diagnose(m, case, exc)) from None
    # the bounds of the reported plant's solve (later re-solves overwrite
    # m.bank_flow_bounds)
    m.bank_flow_bounds_main = dict(m.bank_flow_bounds)
    t3 = time.perf_counter()
    choice = read_choice(m)
    if verify_runner is None and sx_tables is None:
        # the chosen cascades are re-run with the kernel; a user table without a
        # kernel is reported as not re-verified
        try:
            verify_runner = runner or sx.kernel()
        except sx.KernelUnavailable:
            if not case.sx.candidates_csv:
                raise
    rs = resimulate(plant, choice, runner=verify_runner)
    t4 = time.perf_counter()
    summ, tables = summarize(m, plant, choice, rs)
    # re-solves the model (cut forced on ...), then restores the solution
    summ["decisions"] = slate_decisions(m, case, plant, choice)
    # the front re-solves the model; the reported plant was summarised above
    pareto = (
        pareto_front(m, case, headline_metrics(m, choice))
        if case.pareto.enabled
        else None
    )
    t5 = time.perf_counter()
    timings = {
        "sx_candidates_and_build": t1 - t0,
        "milp_build": t2 - t1,
        "milp_solve": t3 - t2,
        "resimulation": t4 - t3,
        "report_and_pareto": t5 - t4,
    }
    return Result(case, plant, m, rep, choice, rs, summ, tables, pareto, timings)


# ------------------------------------------------------------ re-solve session

#: case paths a PlantSession applies to the built model without a rebuild
#: (besides ``data.costs.<PRICE_KEYS>``)
SESSION_PARAM_KEYS = (
    "plant.scrap_t_yr",
    "plant.throughput",
    "plant.trains",
    "targets.re_yield_min",
    "targets.purity_single_min",
    "targets.purity_mixed_min",
    "targets.zld",
    "routes.<tag>",
    "objective.*",
    "solver.*",
    "name",
    "description",
)


def _set_path(tree: dict, path: str, value) -> None:
    parts = path.split(".")
    node = tree
    for p in parts[:-1]:
        nxt = node.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            node[p] = nxt
        node = nxt
    node[parts[-1]] = value


class PlantSession:
    """The plant MILP built once and re-solved under case overrides.

    ``PlantSession(case)`` builds the plant (SX candidate tables, units) and its
    Pyomo model once; ``solve(overrides)`` applies the overrides to the base case,
    validates the result as a case (errors name the field), and re-solves the
    same model on its persistent HiGHS object when every override is one of:

    * ``data.costs.<path>`` for every price and factor in ``PRICE_KEYS`` (oxide
      prices ``products_USD_kg.Nd2O3`` ..., ``products_USD_kg.mixed_discount``,
      ``feed_USD_t.scrap``, ``reagents_USD_t.HCl`` ... ``water``,
      ``byproducts_USD_t.*``, ``utilities.*`` incl. CO2 factors,
      ``finance.discount_rate|life_yr|tax_rate|depreciation_yr|
      working_capital_frac|maintenance_frac|labour_USD_yr_train``): mutable Params;
    * ``plant.scrap_t_yr`` up to the capacity the session was built for
      (``max_scrap_t_yr``, default the base case's supply) and
      ``plant.throughput``: bounds / fixing of the throughput variable;
    * ``plant.trains`` (a subset of the built train options): binaries fixed to 0;
    * ``targets.re_yield_min``, ``targets.purity_single_min``,
      ``targets.purity_mixed_min``: mutable Params; ``targets.zld``: the ZLD row
      is switched off or on (on needs a model built with it);
    * ``routes.<tag>`` (``pretreatment``, ``leach_route``, ``agent``,
      ``evaporator``, ``kiln_heating``, ``prnd_cut``, ``dytb_cut``): route
      binaries fixed or freed;
    * ``objective.*``, ``pareto.*``, ``solver.*``, ``name``, ``description``.

    Any other override (feed composition ``data.feed.composition_wt_pct.<El>``,
    any other data file, equipment cost correlations ``data.costs.equipment.*``,
    a capacity above ``max_scrap_t_yr``, new train counts, ZLD on in a model built
    without it, ``sx.*``) needs a model built for it; the result says so in
    ``result.summary["session"]`` (``rebuilt``, ``rebuild_reason``, ``built_for``)
    as it says which overrides were applied as parameters.  Whether an override
    is structural is judged against the base build, never against the model the
    previous scenario left: a scenario with structural overrides is solved on a
    model built for exactly those (kept while the next scenarios have the same
    ones), every other scenario on the base build (rebuilt if a structural
    scenario replaced it).  The SX candidate tables are kept unless
    ``data.feed.*``, ``data.sx.*`` or ``sx.*`` changes.

    So that no answer depends on the scenarios solved before it, every scenario
    starts from the same CAPEX breakpoints (those of a fresh build), loads the
    kept Pyomo model into a new HiGHS object (:func:`rexopt.highs.release_solver`;
    a kept basis steers a gap-stopped search to another plant within the gap),
    and, with ``mip_start=True`` (default), gets the same MIP start: the
    decisions of the base case's plant (:meth:`_base_start`, one extra MILP when
    the session is made), never the previous scenario's plant.  HiGHS drops the
    start for a scenario no plant with those decisions fits (another capacity
    the trains cannot carry, a forced route).  The start is recorded in
    ``summary["session"]["mip_start"]``.
    """

    def __init__(
        self,
        case: NdfebCase,
        sx_tables: dict | None = None,
        runner: Callable | None = None,
        case_dir: Path | None = None,
        verify_runner: Callable | None = None,
        max_scrap_t_yr: float | None = None,
        mip_start: bool = True,
    ):
        self.base_case = case
        self.base_dict = case.model_dump(exclude_unset=True)
        self.runner = runner
        self.case_dir = case_dir
        self._given_tables = sx_tables
        self.max_scrap_t_yr = max_scrap_t_yr
        self.verify_runner = verify_runner
        if verify_runner is None and sx_tables is None:
            try:
                self.verify_runner = runner or sx.kernel()
            except sx.KernelUnavailable:
                if not case.sx.candidates_csv:
                    raise
        self.n_builds = 0
        self._build(case, sx_tables)
        # what the base build holds: a scenario is structural relative to it
        # (never relative to whatever model the previous scenario left)
        self.base_supply_t_h = self.built_supply_t_h
        self.base_trains = set(self.built_trains)
        self.base_zld = self.built_zld
        self.base_tables = self.sx_tables
        #: structural overrides the current model was built for (() = base build)
        self.built_signature: tuple = ()
        self.use_mip_start = mip_start
        self._start_names: dict[str, float] | None = None
        self.base_start_report: SolveReport | None = None
        if mip_start:
            # on the base build, before any scenario can replace it
            self._base_start()

    # -- building
    def _build(self, case: NdfebCase, sx_tables: dict | None) -> None:
        t0 = time.perf_counter()
        build_case = case
        if self.max_scrap_t_yr is not None:
            sup = case.plant.scrap_t_yr or self._supply_default(case)
            if self.max_scrap_t_yr > sup:
                # build for the largest capacity; the case's own is a fixed value
                build_case = case.model_copy(
                    update={
                        "plant": case.plant.model_copy(
                            update={"scrap_t_yr": self.max_scrap_t_yr}
                        )
                    }
                )
        self.plant = build(
            build_case, sx_tables=sx_tables, runner=self.runner, case_dir=self.case_dir
        )
        t1 = time.perf_counter()
        self.model = build_model(self.plant)
        self.built_case = case
        self.built_supply_t_h = self.plant.supply_t_h
        self.built_trains = set(case.plant.trains)
        self.built_zld = case.targets.zld
        self.sx_tables = self.plant.sx_tables
        self.base_breaks = {
            e: tuple(b._cc_breaks) for e, b in self.model.capex_blk.items()
        }
        self.n_builds += 1
        self.build_seconds = {"plant": t1 - t0, "model": time.perf_counter() - t1}

    @staticmethod
    def _supply_default(case: NdfebCase) -> float:
        d = unitdata.load_all(case.data)
        return d["feed"]("supply.scrap_t_yr")

    def _case_for(self, overrides: dict[str, Any]) -> NdfebCase:
        import copy

        raw = copy.deepcopy(self.base_dict)
        raw.setdefault("kind", "ndfeb_flowsheet")
        for k, v in overrides.items():
            _set_path(raw, k, v)
        case, _ = load_case(raw)
        return case

    def _structural(self, case: NdfebCase, keys: list[str]) -> list[str]:
        """Reasons why the model must be rebuilt for ``case`` (empty: re-solve)."""
        why = []
        for k in keys:
            if k.startswith("data.costs."):
                path = k[len("data.costs.") :]
                if path not in PRICE_KEYS and not any(
                    p.startswith(path + ".") for p in PRICE_KEYS
                ):
                    why.append(f"{k} is not a model parameter")
            elif k.startswith("data."):
                why.append(f"{k} changes unit data or the feed")
            elif k.startswith("sx."):
                why.append(f"{k} changes the SX candidates")
            elif k.split(".")[0] in ("routes", "objective", "pareto", "solver"):
                continue
            elif k in ("name", "description", "plant.throughput"):
                continue
            elif k in (
                "targets.re_yield_min",
                "targets.purity_single_min",
                "targets.purity_mixed_min",
            ):
                continue
            elif k == "targets.zld":
                if case.targets.zld and not self.base_zld:
                    why.append("targets.zld = true in a model built without ZLD")
            elif k.startswith("plant.trains"):
                if not set(case.plant.trains) <= self.base_trains:
                    why.append(
                        f"plant.trains = {case.plant.trains} is not a subset of the "
                        f"built options {sorted(self.base_trains)}"
                    )
            elif k == "plant.scrap_t_yr":
                sup = case.plant.scrap_t_yr or self._supply_default(case)
                if sup / self.plant.hours_yr > self.base_supply_t_h * (1 + 1e-9):
                    why.append(
                        f"plant.scrap_t_yr = {sup:g} is above the capacity the model "
                        f"was built for ({self.base_supply_t_h * self.plant.hours_yr:g}"
                        " t/yr; PlantSession(max_scrap_t_yr=...) builds for more)"
                    )
            else:
                why.append(f"{k} has no parameter in the model")
        return why

    # -- parameters
    def _apply(self, case: NdfebCase) -> None:
        m = self.model
        plant = self.plant
        d = unitdata.load_all(case.data)
        plant.case = case
        plant.data = d
        for k in PRICE_KEYS:
            m.price[k] = float(d["costs"](k))
        set_finance_params(m, {k: pyo.value(m.price[k]) for k in PRICE_KEYS})
        # throughput
        sup_t_h = (case.plant.scrap_t_yr or d["feed"]("supply.scrap_t_yr")) / (
            plant.hours_yr
        )
        m.scrap_t_h.unfix()
        m.scrap_t_h.setub(sup_t_h)
        if case.plant.throughput == "fixed":
            m.scrap_t_h.fix(sup_t_h)
        re_feed = pyo.value(m.re_feed_kmol_h) / max(pyo.value(m.scrap_t_h), 1e-30)
        m.yield_den = max(1e-9, re_feed * sup_t_h)
        # trains
        for n in m.trains:
            if n in case.plant.trains:
                m.trains[n].unfix()
            else:
                m.trains[n].fix(0)
        # routes
        for t, opts in ROUTE_TAGS.items():
            forced = getattr(case.routes, t)
            for o in opts:
                if forced == "free":
                    m.route[t, o].unfix()
                else:
                    m.route[t, o].fix(1 if o == forced else 0)
        # targets
        t = case.targets
        m.yield_min = t.re_yield_min
        m.purity_single_min = t.purity_single_min
        m.purity_mixed_min = t.purity_mixed_min
        if hasattr(m, "zld"):
            if t.zld:
                m.zld.activate()
            else:
                m.zld.deactivate()
        # the same starting breakpoints for every scenario (order independence)
        for e, blk in m.capex_blk.items():
            if tuple(blk._cc_breaks) != self.base_breaks[e]:
                args = blk._cc_args
                concave_cost(blk, **args, extra_breaks=self.base_breaks[e])

    # -- solving
    def _base_start(self) -> dict[str, float]:
        """The base case's plant decisions by variable name (the MIP start).

        Solved once per session, on the base build when the session is made
        (first MILP of the base case, no overrides, on a fresh HiGHS object), so
        every scenario gets the same start whatever was solved before it.  Only
        the decisions (routes, trains, operating points) are given, by name, so a
        model built for structural overrides takes them too where its variables
        have the same names; HiGHS completes the flows, or drops the start if no
        plant with those decisions is feasible for the scenario.  Empty if the
        base case has no feasible plant.
        """
        if self._start_names is None:
            m = self.model
            self._apply(self.base_case)
            release_solver(m)
            try:
                self.base_start_report = _solve_once(m, self.base_case)
            except SolveError:
                self._start_names = {}
            else:
                self._start_names = {
                    v.name: float(round(v.value))
                    for v in _decision_vars(m)
                    if v.value is not None
                }
            release_solver(m)
        return self._start_names

    # -- solving
    def solve(self, overrides: dict[str, Any] | None = None) -> Result:
        """Re-solve for the base case with ``overrides`` (dotted case paths)."""
        overrides = dict(overrides or {})
        t0 = time.perf_counter()
        case = self._case_for(overrides)
        keys = sorted(overrides)
        why = self._structural(case, keys)
        sig = tuple(
            (k, repr(overrides[k])) for k in keys if self._structural(case, [k])
        )
        rebuilt = sig != self.built_signature
        if rebuilt:
            if not sig:
                why = [
                    "back to the base build (the model held was built for "
                    + ", ".join(f"{k} = {v}" for k, v in self.built_signature)
                    + ")"
                ]
            keep_tables = not any(
                k.startswith(("data.feed.", "data.sx.", "sx.")) for k, _ in sig
            )
            self._build(case, (self.base_tables if keep_tables else self._given_tables))
            self.built_signature = sig
        t1 = time.perf_counter()
        start, start_label = None, None
        if self.use_mip_start:
            m = self.model
            comps = ((m.find_component(n), v) for n, v in self._base_start().items())
            start = {id(c): v for c, v in comps if c is not None} or None
            start_label = "decisions of the session's base-case plant"
        self._apply(case)
        m = self.model
        # a fresh HiGHS object: the answer must not depend on the scenarios
        # solved before (a kept basis steers the search to another plant within
        # the gap); the model itself (the expensive part) is kept, and the MIP
        # start is the same for every scenario
        release_solver(m)
        try:
            rep = solve(m, case, start=start, start_label=start_label or "given")
        except SolveError as exc:
            raise InfeasibleCase(diagnose(m, case, exc)) from None
        t2 = time.perf_counter()
        choice = read_choice(m)
        rs = resimulate(self.plant, choice, runner=self.verify_runner)
        t3 = time.perf_counter()
        summ, tables = summarize(m, self.plant, choice, rs)
        summ["decisions"] = slate_decisions(m, case, self.plant, choice)
        pareto = (
            pareto_front(m, case, headline_metrics(m, choice))
            if case.pareto.enabled
            else None
        )
        t4 = time.perf_counter()
        structural = {k for k, _ in sig}
        summ["session"] = {
            "rebuilt": rebuilt,
            "rebuild_reason": "; ".join(why) if rebuilt else "",
            "built_for": sorted(structural),
            "overrides_as_parameters": sorted(set(overrides) - structural),
            "builds_so_far": self.n_builds,
            "mip_start": rep.mip_start,
        }
        timings = {
            "case_and_rebuild": t1 - t0,
            "milp_solve": t2 - t1,
            "resimulation": t3 - t2,
            "report_and_pareto": t4 - t3,
        }
        return Result(
            case, self.plant, m, rep, choice, rs, summ, tables, pareto, timings
        )


def headline_metrics(m, choice) -> dict:
    """MILP metrics of the reported plant (the model holds its solution)."""
    out = {k: pyo.value(v) for k, v in m.metric.items()}
    out["fresh_water_t_yr"] = _fresh_water_t_yr(m)
    out["agent"] = choice.routes["agent"]
    out["evaporator"] = choice.routes["evaporator"]
    return out


def _fresh_water_t_yr(m) -> float:
    return pyo.value(m.water_fresh) * WATER_KG_KMOL / 1000 * m.plant.hours_yr


def pareto_front(m, case: NdfebCase, head: dict | None = None) -> pd.DataFrame:
    """Epsilon-constraint front: optimise the primary with the secondary bounded.

    The bounds run from the secondary's own optimum to the secondary value of the
    primary's optimum, widened to include the reported (headline) plant; the
    headline plant is a row of its own (``headline = True``).  Every row also
    has the fresh water [t/yr].  With ``water_points`` n >= 2 the front has three
    objectives: at each secondary bound the fresh water is bounded too, at n
    values from its least possible value under that bound to the value of the
    plant optimal for the primary there (rows with ``fresh_water_bound_t_yr``).
    The MILP metrics use the piecewise-linear CAPEX (no exact-CAPEX rounds per
    point).  Each solve starts HiGHS from the plant the model holds (the reported
    plant, then the previous point), which is feasible for the ends and often for
    the next bound; the gap asked for is the case's ``solver.mip_gap``.
    """
    p, s, n = case.pareto.primary, case.pareto.secondary, case.pareto.points
    nw = case.pareto.water_points
    opts = dict(
        time_limit_s=case.solver.time_limit_s,
        mip_gap=case.solver.mip_gap,
        what="NdFeB plant (Pareto)",
    )
    ends = []
    for k in (s, p):
        set_objective(m, k)
        highs_solve(m, mip_start=current_point(m), start_label="plant held", **opts)
        ends.append(pyo.value(m.metric[s]))
    if head is not None:
        ends.append(head[s])
    lo, hi = min(ends), max(ends)
    sign = -1 if s in MAXIMISE else 1
    water = m.water_fresh * WATER_KG_KMOL / 1000 * m.plant.hours_yr  # [t/yr]
    m.eps_con = pyo.Constraint(expr=sign * m.metric[s] <= m.eps)
    if nw > 1:
        m.eps_water = pyo.Param(initialize=1e30, mutable=True)
        m.eps_water_con = pyo.Constraint(expr=water <= m.eps_water)
    rows = []

    def solve_point(label):
        return highs_solve(m, mip_start=current_point(m), start_label=label, **opts)

    def point(bounds, rep):
        return {
            **bounds,
            p: pyo.value(m.metric[p]),
            s: pyo.value(m.metric[s]),
            "fresh_water_t_yr": _fresh_water_t_yr(m),
            "agent": read_choice(m).routes["agent"],
            "evaporator": read_choice(m).routes["evaporator"],
            # False: HiGHS stopped on its time limit (see SolveReport.warning)
            "proven_optimal": rep.status == "optimal",
            "headline": False,
        }

    try:
        for i in range(n):
            val = lo + (hi - lo) * i / (n - 1)
            m.eps = sign * val + 1e-6 * max(1.0, abs(val))
            bounds = {f"{s}_bound": val}
            if nw > 1:
                m.eps_water = 1e30
            set_objective(m, p)
            try:
                rep = solve_point("previous Pareto point")
            except SolveError:
                rows.append({**bounds, p: float("nan"), s: float("nan")})
                continue
            rows.append(point(bounds, rep))
            if nw == 1:
                continue
            # the water range at this bound: from the plant optimal for the
            # primary (just solved) down to the least fresh water possible
            w_hi = _fresh_water_t_yr(m)
            m.del_component(m.obj)  # set_objective's way of changing objective
            m.obj = pyo.Objective(expr=water / 1e3, sense=pyo.minimize)
            try:
                solve_point("previous Pareto point")
                w_lo = _fresh_water_t_yr(m)
            except SolveError:  # the bounded points are recorded as not solved
                w_lo = float("nan")
            finally:
                set_objective(m, p)
            for j in range(nw - 1):  # j = nw - 1 is the unbounded point above
                w = w_lo + (w_hi - w_lo) * j / (nw - 1)
                wb = {**bounds, "fresh_water_bound_t_yr": w}
                if w != w:  # NaN: the least-water solve failed
                    rows.append({**wb, p: float("nan"), s: float("nan")})
                    continue
                m.eps_water = w + 1e-6 * max(1.0, abs(w))
                try:
                    rep = solve_point("previous Pareto point")
                except SolveError:
                    rows.append({**wb, p: float("nan"), s: float("nan")})
                    continue
                rows.append(point(wb, rep))
    finally:
        m.del_component(m.eps_con)
        if nw > 1:
            m.del_component(m.eps_water_con)
            m.del_component(m.eps_water)
    if head is not None:
        rows.append(
            {
                f"{s}_bound": float("nan"),
                p: head[p],
                s: head[s],
                "fresh_water_t_yr": head["fresh_water_t_yr"],
                "agent": head["agent"],
                "evaporator": head["evaporator"],
                "proven_optimal": True,
                "headline": True,
            }
        )
    return pd.DataFrame(rows)


def report(res: Result) -> str:
    from rexopt.units import report as rep

    return rep.text_report(res)


def write_outputs(res: Result, out_dir: str | Path) -> dict[str, str]:
    from rexopt.units import report as rep

    return rep.write_outputs(res, Path(out_dir))


def main(
    case_path: str | Path,
    out_dir: str | Path,
    sx_tables: dict | None = None,
    runner: Callable | None = None,
    verify_runner: Callable | None = None,
) -> Result:
    """Optimise the case, re-simulate, write the report files; returns the Result."""
    case, p = load_case(case_path)
    res = run(
        case,
        sx_tables=sx_tables,
        runner=runner,
        case_dir=p.parent if p else None,
        verify_runner=verify_runner,
    )
    res.files = write_outputs(res, out_dir)
    return res


def run_cli(case_path: str, out_dir: str) -> int:
    """``rexopt optimize CASE`` for kind = "ndfeb_flowsheet": print, write files."""
    try:
        res = main(case_path, out_dir)
    except (CaseError, InfeasibleCase, sx.KernelUnavailable, unitdata.DataError) as exc:
        print(f"error: {exc}")
        return 2
    print(report(res))
    print("\nfiles:")
    for k, v in res.files.items():
        print(f"  {k}: {v}")
    return 0


__all__ = [
    "load_case",
    "build",
    "build_model",
    "solve",
    "resimulate",
    "run",
    "PlantSession",
    "main",
    "run_cli",
    "report",
    "write_outputs",
    "json",
]
