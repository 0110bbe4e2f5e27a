"""Separation-line case files (``kind = "separation_line"``), validated on load.

Every error names the file, the field, the bad value and what is allowed.  The
schema is documented in docs/lines.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from rexopt.chemistry import p507_relative_affinities, read_data
from rexopt.schema import Agent, StrictModel, count, format_validation_error, quantity

OBJECTIVES = ("annualized_cost", "reagents", "stages", "energy", "wastewater")

# limits (each with its reason in docs/cases.md)
MAX_CAPACITY_T_REO_Y = 1e6  # above world REO output (~0.35 Mt/y)
Pct = quantity(0.0, 100.0, "% REO", "a share of the oxide")
Fraction = quantity(0.0, 1.0, "", "a fraction", lo_open=True)
Price = quantity(0.0, 1e5, "USD/kg", "above any oxide price (Lu2O3 ~ 1e3-1e4)")
SepFactor = quantity(1e-8, 1e8, "", "relative affinity, Fe/La is 1e7")
Seconds = quantity(0.0, 1e6, "s", "under 12 days", lo_open=True)


class LineCaseError(ValueError):
    """A separation-line case is malformed; the message says where and why."""


class _M(StrictModel):
    """Strict base of the line-case tables (see rexopt.schema.StrictModel)."""


class FeedSpec(_M):
    preset: str | None = None  # name of a table in rexopt/data/feeds.toml
    oxide_pct: dict[str, Pct] = Field(default_factory=dict)  # [% REO], overrides
    components: list[str] | None = None  # keep only these (renormalised)
    capacity_t_REO_y: quantity(
        0.0, MAX_CAPACITY_T_REO_Y, "t REO/y", "above world REO output", lo_open=True
    ) = 3000.0
    # total RE of the aqueous feed [mol/L]
    conc_mol_L: quantity(
        0.0, 4.0, "mol/L", "rare-earth chlorides saturate near 4", lo_open=True
    ) = 1.0
    acidity_mol_L: quantity(0.0, 12.0, "mol/L", "concentrated HCl is 12") = 0.01


class ProductSpec(_M):
    name: str
    components: list[str]
    purity: Fraction = 0.99  # group mole fraction [-]
    recovery: Fraction = 0.96  # of the product's feed [-]
    price_USD_kg: Price | None = None  # oxide value, for the report


class ChemistrySpec(_M):
    separation_factors: dict[str, SepFactor] = Field(default_factory=dict)
    agent: Agent = "NH3"
    extractant_mol_L: quantity(
        0.0, 3.2, "mol/L", "neat P507 is 3.1 mol/L", lo_open=True
    ) = 1.5
    saponification: quantity(
        0.0, 1.0, "", "fraction of HA as salt", lo_open=True, hi_open=True
    ) = 0.36
    K_ref_L_mol: quantity(1e-8, 1e6, "L/mol", "as for cascades") = 50.0


class DesignSpec(_M):
    optimum: Literal["simple", "precise"] = "simple"
    max_stages_per_cascade: count(2, 1000, "stages", "as for cascades") = 200
    strip_stages: count(1, 1000, "stages", "as for cascades") = 6
    # extra stages per designed section
    stage_margin: count(0, 1000, "stages", "as for cascades") = 0
    three_outlet: bool = True
    linkage: bool = True
    # "xu_organic_feed": the linked cascade is fed the upstream's loaded organic
    # (Xu's organic-feed design, calibrated and re-simulated by the kernel);
    # "exchange": UNVERIFIED estimate -- the loaded organic replaces the
    # downstream's saponified organic (DOMAIN 2.8 claim), not a kernel case
    link_model: Literal["exchange", "xu_organic_feed"] = "xu_organic_feed"
    verify_candidates: bool = True  # simulate every candidate with the kernel
    # move each candidate's scrub (and organic) flow on the kernel until its
    # outlets meet the cut's purity targets (needs verify_candidates)
    calibrate: bool = True
    exclude_kernel_failures: bool = True  # drop candidates the kernel cannot solve
    # drop candidates
    min_kernel_purity: (
        quantity(0.0, 1.0, "", "a fraction", lo_open=True, hi_open=True) | None
    ) = None
    # whose kernel group purity of any outlet falls below this [-]
    force: list[str] = Field(default_factory=list)  # cuts that must be used
    # in-line repair: the chosen cascades are re-calibrated on the feed they
    # actually receive so that each boundary's crossing stays below
    # (1 - repair_margin) x its budget [-]; then HiGHS is re-solved with the
    # repaired costs until the choice is stable (at most repair_rounds solves)
    repair: bool = True
    repair_margin: quantity(0.0, 1.0, "", "a fraction of the budget", hi_open=True) = (
        0.25
    )
    repair_rounds: count(1, 10, "solves") = 3


class ObjectiveSpec(_M):
    kind: Literal["annualized_cost", "reagents", "stages", "energy", "wastewater"] = (
        "annualized_cost"
    )
    pareto: list[str] = Field(default_factory=list)  # two objective names
    points: count(2, 50, "points") = 5
    time_limit_s: Seconds = 60.0


class ZLDSpec(_M):
    evaporator: Literal["mvr", "mee"] = "mvr"


class ConventionalSpec(_M):
    sequence: list[str] = Field(default_factory=list)  # cuts, as in design.force
    linked: bool = False


class LineCase(_M):
    kind: Literal["separation_line"]
    name: str = "separation line"
    feed: FeedSpec
    products: list[ProductSpec]
    chemistry: ChemistrySpec = Field(default_factory=ChemistrySpec)
    design: DesignSpec = Field(default_factory=DesignSpec)
    objective: ObjectiveSpec = Field(default_factory=ObjectiveSpec)
    zld: ZLDSpec = Field(default_factory=ZLDSpec)
    costs: dict[str, quantity(-1e9, 1e9, "", "a finite cost")] = Field(
        default_factory=dict
    )
    conventional: ConventionalSpec = Field(default_factory=ConventionalSpec)

    @model_validator(mode="after")
    def _pareto(self):
        for p in self.objective.pareto:
            if p not in OBJECTIVES:
                raise ValueError(
                    f"objective.pareto: {p!r} is not allowed; allowed {OBJECTIVES}"
                )
        if self.objective.pareto and len(self.objective.pareto) != 2:
            raise ValueError(
                f"objective.pareto: {self.objective.pareto!r} -- give exactly two "
                "objectives"
            )
        return self


def feed_presets() -> dict[str, dict]:
    """The feed tables of ``rexopt/data/feeds.toml`` (values with source/status)."""
    data = read_data("feeds")
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def load_line_case(case: str | Path | dict, *, name: str | None = None) -> LineCase:
    """Read and validate a separation-line case (path or dict).

    Every problem is one line ``<file>: <field>: <value> -- <allowed>``.
    """
    where = name or "<case dict>"
    if isinstance(case, str | Path):
        where = name or str(case)
        try:
            with open(case, "rb") as fh:
                case = tomllib.load(fh)
        except FileNotFoundError:
            raise LineCaseError(f"{where}: no such case file") from None
        except (OSError, UnicodeDecodeError) as err:
            raise LineCaseError(f"{where}: cannot read: {err}") from None
        except tomllib.TOMLDecodeError as err:
            raise LineCaseError(f"{where}: not valid TOML: {err}") from None
    try:
        lc = LineCase.model_validate(case)
    except ValidationError as err:
        lines = format_validation_error(err, where, model=LineCase, data=case)
        raise LineCaseError("\n".join(lines)) from None
    _check_semantics(lc, where)
    return lc


def line_components(lc: LineCase) -> list[str]:
    """The components of the line's feed (preset and oxide_pct, then filtered)."""
    comps: dict[str, float] = {}
    preset = feed_presets().get(lc.feed.preset or "", {})
    for k, v in preset.items():
        if isinstance(v, dict) and "value" in v:
            comps[k] = float(v["value"])
    comps.update(lc.feed.oxide_pct)
    if lc.feed.components is not None:
        comps = {k: comps.get(k, 0.0) for k in lc.feed.components}
    return [k for k, v in comps.items() if v > 0]


def _check_semantics(lc: LineCase, where: str) -> None:
    from rexopt.chemistry import elements

    errs = []
    rare_earths = [s for s, e in elements().items() if e.group == "REE"]
    presets = feed_presets()
    if lc.feed.preset is not None and lc.feed.preset not in presets:
        errs.append(
            f"{where}: feed.preset: {lc.feed.preset!r} -- one of {', '.join(presets)}"
        )
    if lc.feed.preset is None and not lc.feed.oxide_pct:
        errs.append(f"{where}: feed.oxide_pct: {{}} -- give a preset or oxide_pct")
    for c in lc.feed.oxide_pct:
        if c not in rare_earths:
            errs.append(
                f"{where}: feed.oxide_pct.{c}: {c!r} -- a rare-earth element "
                f"({', '.join(rare_earths)})"
            )
    if 0 < lc.feed.acidity_mol_L < 1e-7:
        errs.append(
            f"{where}: feed.acidity_mol_L: {lc.feed.acidity_mol_L!r} -- 0 or >= 1e-07 "
            "mol/L (pure water holds 1e-7 mol/L H+: write 0)"
        )
    comps_in = lc.feed.components or []
    for i, c in enumerate(comps_in):
        if c not in rare_earths:
            errs.append(
                f"{where}: feed.components.{i}: {c!r} -- a rare-earth element "
                f"({', '.join(rare_earths)})"
            )
    if len(set(comps_in)) != len(comps_in):
        errs.append(f"{where}: feed.components: {comps_in!r} -- each component once")
    if errs:
        raise LineCaseError("\n".join(errs))
    comps = line_components(lc)
    if len(comps) < 2:
        errs.append(
            f"{where}: feed: {comps!r} -- at least two components with a share > 0 "
            "(preset, oxide_pct and components together)"
        )
    for c in lc.feed.components or []:
        if c not in comps:
            errs.append(
                f"{where}: feed.components: {c!r} -- a component with a share > 0 "
                "in the preset or oxide_pct (it is listed but not fed)"
            )
    sf = lc.chemistry.separation_factors
    for k in sf:
        if k not in comps:
            errs.append(
                f"{where}: chemistry.separation_factors.{k}: {k!r} -- a key naming "
                f"a feed component ({', '.join(comps)})"
            )
    known = p507_relative_affinities()
    for c in comps:
        if c not in known and c not in sf:
            errs.append(
                f"{where}: chemistry.separation_factors.{c}: missing -- no default "
                "in p507_hcl; give it"
            )
    names = [p.name for p in lc.products]
    seen: dict[str, str] = {}
    for i, p in enumerate(lc.products):
        if not p.name.strip():
            errs.append(f"{where}: products.{i}.name: {p.name!r} -- a non-empty name")
        if not p.components:
            errs.append(f"{where}: products.{i}.components: [] -- at least one")
        for c in p.components:
            if c not in comps:
                errs.append(
                    f"{where}: products.{i}.components: {c!r} -- a feed component "
                    f"({', '.join(comps)})"
                )
            elif c in seen:
                errs.append(
                    f"{where}: products.{i}.components: {c!r} -- each component in "
                    f"one product (also in {seen[c]!r})"
                )
            else:
                seen[c] = p.name
    # a feed component in no product is explained by build_superstructure
    if len(set(names)) != len(names):
        errs.append(f"{where}: products: {names!r} -- unique names")
    if len(lc.products) < 2:
        errs.append(f"{where}: products: {len(lc.products)} -- at least two products")
    if lc.costs:
        from rexopt.design import costing
        from rexopt.lines.superstructure import LINE_COSTS

        rest = {k: v for k, v in lc.costs.items() if k not in LINE_COSTS}
        for k in LINE_COSTS:
            if k in lc.costs and lc.costs[k] < 0:
                errs.append(f"{where}: costs.{k}: {lc.costs[k]!r} -- >= 0")
        try:
            costing.load_costs(rest, where="costs")
        except ValueError as e:
            msg = str(e)
            if "unknown cost key" in msg:
                msg += ", " + ", ".join(LINE_COSTS)
            errs.append(f"{where}: {msg}")
    if errs:
        raise LineCaseError("\n".join(errs))
