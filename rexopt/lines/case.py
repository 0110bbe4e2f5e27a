"""Separation-line case files (``kind = "separation_line"``), validated on load.

Every error names the file, the field, the bad value and what is allowed.  The
schema is documented in docs/lines.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rexopt.chemistry import element, p507_relative_affinities, read_data

OBJECTIVES = ("annualized_cost", "reagents", "stages", "energy", "wastewater")


class LineCaseError(ValueError):
    """A separation-line case is malformed; the message says where and why."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedSpec(_M):
    preset: str | None = None  # name of a table in rexopt/data/feeds.toml
    oxide_pct: dict[str, float] = Field(default_factory=dict)  # [% REO], overrides
    components: list[str] | None = None  # keep only these (renormalised)
    capacity_t_REO_y: float = Field(3000.0, gt=0)  # [t REO/y]
    conc_mol_L: float = Field(1.0, gt=0)  # total RE of the aqueous feed [mol/L]
    acidity_mol_L: float = Field(0.01, ge=0)  # free H+ [mol/L]


class ProductSpec(_M):
    name: str
    components: list[str]
    purity: float = Field(0.99, gt=0, le=1)  # group mole fraction [-]
    recovery: float = Field(0.96, gt=0, le=1)  # of the product's feed [-]
    price_USD_kg: float | None = Field(None, ge=0)  # oxide value, for the report


class ChemistrySpec(_M):
    separation_factors: dict[str, float] = Field(default_factory=dict)
    agent: Literal["NH3", "NaOH", "Mg(HCO3)2"] = "NH3"
    extractant_mol_L: float = Field(1.5, gt=0)
    saponification: float = Field(0.36, gt=0, lt=1)
    K_ref_L_mol: float = Field(50.0, gt=0)


class DesignSpec(_M):
    optimum: Literal["simple", "precise"] = "simple"
    max_stages_per_cascade: int = Field(200, ge=2)
    strip_stages: int = Field(6, ge=1)
    stage_margin: int = Field(0, ge=0)  # extra stages per designed section
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
    min_kernel_purity: float | None = Field(None, gt=0, lt=1)  # drop candidates
    # whose kernel group purity of any outlet falls below this [-]
    force: list[str] = Field(default_factory=list)  # cuts that must be used
    # in-line repair: the chosen cascades are re-calibrated on the feed they
    # actually receive so that each boundary's crossing stays below
    # (1 - repair_margin) x its budget [-]; then HiGHS is re-solved with the
    # repaired costs until the choice is stable (at most repair_rounds solves)
    repair: bool = True
    repair_margin: float = Field(0.25, ge=0, lt=1)
    repair_rounds: int = Field(3, ge=1, le=10)


class ObjectiveSpec(_M):
    kind: Literal["annualized_cost", "reagents", "stages", "energy", "wastewater"] = (
        "annualized_cost"
    )
    pareto: list[str] = Field(default_factory=list)  # two objective names
    points: int = Field(5, ge=2, le=50)
    time_limit_s: float = Field(60.0, gt=0)


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
    costs: dict[str, float] = Field(default_factory=dict)
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


def load_line_case(case: str | Path | dict) -> LineCase:
    """Read and validate a separation-line case (path or dict)."""
    where = "case"
    if isinstance(case, str | Path):
        where = str(case)
        try:
            with open(case, "rb") as fh:
                case = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise LineCaseError(f"{where}: cannot read: {err}") from err
    try:
        lc = LineCase.model_validate(case)
    except ValidationError as err:
        msgs = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            msgs.append(f"{where}: {loc} = {e.get('input')!r} -- {e['msg']}")
        raise LineCaseError("\n".join(msgs)) from None
    _check_semantics(lc, where)
    return lc


def _check_semantics(lc: LineCase, where: str) -> None:
    errs = []
    presets = feed_presets()
    if lc.feed.preset is not None and lc.feed.preset not in presets:
        errs.append(
            f"{where}: feed.preset = {lc.feed.preset!r} -- allowed {sorted(presets)}"
        )
    if lc.feed.preset is None and not lc.feed.oxide_pct:
        errs.append(f"{where}: feed -- give a preset or oxide_pct")
    known = p507_relative_affinities()
    for c in list(lc.feed.oxide_pct) + list(lc.feed.components or []):
        try:
            element(c)
        except KeyError:
            errs.append(f"{where}: feed: unknown element {c!r}")
    for c, v in lc.feed.oxide_pct.items():
        if v < 0:
            errs.append(f"{where}: feed.oxide_pct.{c} = {v!r} -- must be >= 0")
    for k, v in lc.chemistry.separation_factors.items():
        if not v > 0:
            errs.append(
                f"{where}: chemistry.separation_factors.{k} = {v!r} -- must be > 0"
            )
    for p in lc.products:
        for c in p.components:
            if c not in known and c not in lc.chemistry.separation_factors:
                errs.append(
                    f"{where}: products.{p.name}.components: {c!r} has no "
                    "separation factor (give chemistry.separation_factors)"
                )
    names = [p.name for p in lc.products]
    if len(set(names)) != len(names):
        errs.append(f"{where}: products: names must be unique, got {names}")
    if len(lc.products) < 2:
        errs.append(f"{where}: products: need at least two products")
    if errs:
        raise LineCaseError("\n".join(errs))
