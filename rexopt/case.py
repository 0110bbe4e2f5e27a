"""Cascade case files: TOML (or dicts of the same shape) validated on load.

Every error names the file, the field (dotted path), the value and what is
allowed; see docs/cases.md for the schema and the reason for every limit.  Numbers
carry their unit in the field name.

Two entry points, used by every command so that ``validate`` runs exactly the
checks the commands run:

- :func:`load_case` -> :class:`CascadeCase`: schema, physical limits and every
  cross-field rule (keys of keyed tables, feeds, capacities, model parameters);
- :func:`load_cascade` -> :class:`rexopt.cascade.Cascade`: the same, then the
  stage network and the kernel's stage parameters are built (side draws larger
  than the flow at their stage, stages without an aqueous phase), as ``simulate``
  builds them.

A cascade file with an ``[optimize]`` table is a cascade too: its table is
validated as ``rexopt optimize`` validates it and then set aside; the case's
:attr:`CascadeCase.notes` say so.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from rexopt.chemistry import element, elements, p507_relative_affinities, read_data
from rexopt.schema import Agent, StrictModel, count, format_validation_error, quantity

# ------------------------------------------------------------------ the limits
# Each limit is listed with its reason in docs/cases.md ("Limits").
MAX_STAGES_PER_SECTION = 1000
MIN_FLOW_L_H = 1e-3
MAX_FLOW_L_H = 1e7
MAX_ACIDITY_MOL_L = 12.0
MAX_METAL_MOL_L = 4.0  # total dissolved metal of one aqueous stream
MAX_ANION_EQ_L = 12.5  # anion equivalents of one aqueous stream
MAX_CONC_G_L = 1000.0
MIN_EXTRACTANT_MOL_L = 1e-3
MAX_EXTRACTANT_MOL_L = 3.2
MIN_CONC_MOL_L = 1e-15  # a stated concentration is 0 or at least this
MIN_ACIDITY_MOL_L = 1e-7  # a stated free acidity is 0 or at least this (pH 7)
MIN_SAPONIFICATION = 1e-3  # a stated saponification is 0 or at least this
MAX_ORGANIC_METAL_MOL_L = 1.1  # any one metal on an organic inlet, <= C_HA/3
K_REF_RANGE_L_MOL = (1e-8, 1e6)
SEPARATION_FACTOR_RANGE = (1e-8, 1e8)
MAX_D = 1e6
LOG10_K_RANGE = (-30.0, 30.0)
SLOPE_RANGE = (-20.0, 20.0)
KA_HSO4_RANGE_MOL_L = (1e-4, 1.0)
MAX_FLOW_RATIO = 1e5  # any inlet flow against the organic flow, both ways

Stages = count(1, MAX_STAGES_PER_SECTION, "stages", "per section")
Flow = quantity(MIN_FLOW_L_H, MAX_FLOW_L_H, "L/h", "1 mL/h to 10,000 m3/h")
FlowOrZero = quantity(0.0, MAX_FLOW_L_H, "L/h", "at most 10,000 m3/h")
Acidity = quantity(0.0, MAX_ACIDITY_MOL_L, "mol/L", "concentrated HCl is 12 mol/L")
AqConc = quantity(0.0, MAX_METAL_MOL_L, "mol/L", "rare-earth chlorides saturate near 4")
ConcGL = quantity(0.0, MAX_CONC_G_L, "g/L", "a litre of solution")
OrgConc = quantity(
    0.0, MAX_ORGANIC_METAL_MOL_L, "mol/L", "<= C_HA/3 of neat extractant"
)
Fraction01 = quantity(0.0, 1.0, "", "a fraction")
KRef = quantity(
    *K_REF_RANGE_L_MOL, "L/mol", "beyond it every stage extracts all or none"
)
SepFactor = quantity(*SEPARATION_FACTOR_RANGE, "", "relative affinity, Fe/La is 1e7")
DRatio = quantity(0.0, MAX_D, "", "distribution ratio")
KaHSO4 = quantity(
    *KA_HSO4_RANGE_MOL_L, "mol/L", "HSO4- acidity constant, 0.0102 at 25 C"
)
Slope = quantity(*SLOPE_RANGE, "", "slope of log10 D")
Log10 = quantity(*LOG10_K_RANGE, "", "log10 of a constant")
Stoich = quantity(0.0, 12.0, "", "extractant molecules per ion", lo_open=True)
StoichOrZero = quantity(0.0, 12.0, "", "protons per ion")


class CaseError(ValueError):
    """A case file (or dict) that cannot be used; the message says where and why."""


class _Strict(StrictModel):
    """Strict base of the cascade tables (see rexopt.schema.StrictModel)."""


class SectionSpec(_Strict):
    stages: Stages = Field(description="number of mixer-settler stages")
    efficiency: quantity(0.0, 1.0, "", "Murphree efficiency", lo_open=True) = Field(
        1.0, description="Murphree stage efficiency, organic basis [-]"
    )


class Sections(_Strict):
    extraction: SectionSpec
    scrub: SectionSpec | None = None
    strip: SectionSpec | None = None


class Organic(_Strict):
    flow_L_h: Flow
    extractant_mol_L: quantity(
        MIN_EXTRACTANT_MOL_L,
        MAX_EXTRACTANT_MOL_L,
        "mol/L",
        "1 mmol/L up to neat P507, 3.1 mol/L",
    ) = 1.5
    saponification: quantity(0.0, 1.0, "", "fraction of HA as salt", hi_open=True) = 0.0
    agent: Agent = "NH3"
    recycle: bool = False
    conc_mol_L: dict[str, OrgConc] = {}


class Feed(_Strict):
    phase: Literal["aqueous", "organic"] = "aqueous"
    stage: count(1, None, "", "1-based global stage") | None = Field(
        None, description="1-based global stage"
    )
    flow_L_h: Flow
    acidity_mol_L: Acidity = 0.0
    conc_mol_L: dict[str, AqConc] | None = None
    conc_g_L: dict[str, ConcGL] | None = None
    # anions as analysed (aqueous feed; docs/kernel.md, Anions).  None of them
    # given: the anions are derived from the metal charges and the acidity
    # (electroneutral by construction, all sulfate in sulfate medium)
    sulfate_mol_L: quantity(
        0.0, MAX_ANION_EQ_L / 2.0, "mol/L", "total sulfate, SO4-- + HSO4-"
    ) | None = None
    chloride_mol_L: quantity(0.0, MAX_ANION_EQ_L, "mol/L", "total chloride") | None = (
        None
    )
    other_anions_eq_L: quantity(
        0.0, MAX_ANION_EQ_L, "eq/L", "e.g. nitrate; charge equivalents"
    ) | None = None
    # which stated quantity absorbs the charge imbalance of the analysis
    close_charge_on: Literal["acidity", "sulfate", "chloride", "other_anions"] = (
        "acidity"
    )

    @model_validator(mode="after")
    def _one_conc(self):
        if (self.conc_mol_L is None) == (self.conc_g_L is None):
            raise ValueError("give exactly one of conc_mol_L or conc_g_L")
        return self

    def conc_as_mol_L(self) -> dict[str, float]:
        """The feed's metal concentrations in mol/L (conc_g_L converted)."""
        if self.conc_mol_L is not None:
            return dict(self.conc_mol_L)
        out = {}
        for k, v in (self.conc_g_L or {}).items():
            try:
                out[k] = v / element(k).molar_mass_g_mol
            except KeyError:
                out[k] = 0.0
        return out


class AcidStream(_Strict):
    flow_L_h: FlowOrZero
    acidity_mol_L: Acidity
    conc_mol_L: dict[str, AqConc] = {}


class SideDraw(_Strict):
    phase: Literal["aqueous", "organic"]
    stage: count(1, None, "", "1-based global stage")
    flow_L_h: Flow
    name: str | None = None


class ConstantModel(_Strict):
    distribution: dict[Literal["extraction", "scrub", "strip"], dict[str, DRatio]]


class SaturatedModel(_Strict):
    separation_factors: dict[str, SepFactor] | None = None
    dataset: str | None = None  # a .toml data file (rexopt.case_data)
    K_ref_L_mol: KRef | None = None
    K_ref_scrub_L_mol: KRef | None = None
    K_ref_strip_L_mol: KRef | None = None


class EmpiricalParams(_Strict):
    a: Slope = 0.0
    b: Slope = 0.0
    c: Log10 = 0.0
    d: Slope = 0.0
    D: DRatio | None = None
    nu: Stoich | None = None


class EmpiricalModel(_Strict):
    params: dict[str, EmpiricalParams] = {}
    # bundled name or a .toml data file (rexopt.case_data)
    dataset: str | None = None
    E_unit: Literal["mol/L", "vol%"] = "mol/L"
    extractant_vol_pct: (
        quantity(0.0, 100.0, "vol%", "of the organic", lo_open=True) | None
    ) = None
    ka_HSO4_mol_L: KaHSO4 = 0.0102


class MassActionParams(_Strict):
    log10_K: Log10
    n: Stoich = 3.0
    m: StoichOrZero = 3.0
    nu: Stoich = 6.0


class MassActionModel(_Strict):
    params: dict[str, MassActionParams] = {}
    dataset: str | None = None  # a .toml data file (rexopt.case_data)
    ka_HSO4_mol_L: KaHSO4 = 0.0102


CHEMISTRY_DATASETS = ("p507_hcl", "d2ehpa_tbp_empirical")


class Chemistry(_Strict):
    model: Literal["constant", "saturated", "empirical_ph", "mass_action"]
    medium: Literal["chloride", "sulfate"] = "chloride"
    components: list[str] = Field(min_length=1, max_length=40)
    dataset: Literal["p507_hcl", "d2ehpa_tbp_empirical"] | None = None
    constant: ConstantModel | None = None
    saturated: SaturatedModel | None = None
    empirical_ph: EmpiricalModel | None = None
    mass_action: MassActionModel | None = None


class CascadeCase(_Strict):
    kind: Literal["cascade"] = "cascade"
    name: str = "cascade"
    description: str = ""
    chemistry: Chemistry
    sections: Sections
    organic: Organic
    feed: Feed
    scrub: AcidStream | None = None
    strip: AcidStream | None = None
    side_draws: list[SideDraw] = Field([], max_length=100)

    # a tuple default: a default_factory here cost 0.5 ms per load (pydantic
    # inspects the factory's signature on every validation)
    _notes: tuple[str, ...] = PrivateAttr(default=())

    @property
    def notes(self) -> list[str]:
        """What loading set aside (e.g. an ``[optimize]`` table), in words."""
        return list(self._notes)

    @property
    def n_stages(self) -> int:
        s = self.sections
        return (
            s.extraction.stages
            + (s.scrub.stages if s.scrub else 0)
            + (s.strip.stages if s.strip else 0)
        )


# --------------------------------------------------------- cross-field rules
def _semantic_checks(case: CascadeCase) -> list[tuple[str, Any, str]]:
    """Rules across fields; (field, value, what is allowed) per problem."""
    errs: list[tuple[str, Any, str]] = []
    known = elements()
    chem = case.chemistry
    comps = chem.components
    for i, c in enumerate(comps):
        if c not in known:
            errs.append((f"chemistry.components.{i}", c, f"one of {', '.join(known)}"))
    if len(set(comps)) != len(comps):
        errs.append(("chemistry.components", comps, "each component once"))
    if errs:
        return errs  # the rest would repeat the same mistake

    def check_keys(field, d, allowed=comps):
        for k in d or {}:
            if k not in allowed:
                errs.append(
                    (
                        f"{field}.{k}",
                        k,
                        f"a key naming a listed component ({', '.join(allowed)})",
                    )
                )

    f = case.feed
    check_keys("feed.conc_mol_L", f.conc_mol_L)
    check_keys("feed.conc_g_L", f.conc_g_L)
    check_keys("organic.conc_mol_L", case.organic.conc_mol_L)
    feed_field = "feed.conc_mol_L" if f.conc_mol_L is not None else "feed.conc_g_L"
    feed_mol = f.conc_as_mol_L()
    if f.conc_g_L is not None:
        for k, v in feed_mol.items():
            if v > MAX_METAL_MOL_L:
                errs.append(
                    (
                        f"feed.conc_g_L.{k}",
                        f.conc_g_L[k],
                        f"<= {MAX_METAL_MOL_L * element(k).molar_mass_g_mol:.4g} g/L "
                        f"({MAX_METAL_MOL_L:g} mol/L of {k}: solubility scale)",
                    )
                )
    if sum(feed_mol.values()) <= 0:
        errs.append((feed_field, "all zero", "at least one component > 0"))

    # every listed component is fed somewhere
    fed = {k for k, v in feed_mol.items() if v > 0}
    fed |= {k for k, v in case.organic.conc_mol_L.items() if v > 0}
    for name in ("scrub", "strip"):
        stream = getattr(case, name)
        if stream is not None:
            fed |= {k for k, v in stream.conc_mol_L.items() if v > 0}
    for i, c in enumerate(comps):
        if c not in fed and not (
            case.organic.recycle and case.organic.conc_mol_L.get(c, 0) > 0
        ):
            errs.append(
                (
                    f"chemistry.components.{i}",
                    c,
                    f"a component that is fed: give {c} > 0 in {feed_field} (or in "
                    "a scrub/organic inlet), or remove it from chemistry.components",
                )
            )

    # stated concentrations are 0 or above the floor (traces below any analysis)
    def floor(field, conc: dict, to_mol=None):
        for k, v in conc.items():
            mol = to_mol(k, v) if to_mol else v
            if 0 < mol < MIN_CONC_MOL_L:
                errs.append(
                    (
                        f"{field}.{k}",
                        v,
                        f"0 or >= {MIN_CONC_MOL_L:g} mol/L (a trace below any "
                        "chemical analysis: write 0)",
                    )
                )

    if f.conc_mol_L is not None:
        floor("feed.conc_mol_L", f.conc_mol_L)
    else:
        floor("feed.conc_g_L", f.conc_g_L, lambda k, v: feed_mol.get(k, 0.0))
    floor("organic.conc_mol_L", case.organic.conc_mol_L)
    for name in ("scrub", "strip"):
        stream = getattr(case, name)
        if stream is not None:
            floor(f"{name}.conc_mol_L", stream.conc_mol_L)

    def zero_or_at_least(field, value, least, unit, why):
        if 0 < value < least:
            errs.append((field, value, f"0 or >= {least:g}{unit} ({why}: write 0)"))

    for name, stream in (("feed", f), ("scrub", case.scrub), ("strip", case.strip)):
        if stream is not None:
            zero_or_at_least(
                f"{name}.acidity_mol_L",
                stream.acidity_mol_L,
                MIN_ACIDITY_MOL_L,
                " mol/L",
                "pure water holds 1e-7 mol/L H+",
            )
    zero_or_at_least(
        "organic.saponification",
        case.organic.saponification,
        MIN_SAPONIFICATION,
        "",
        "below 0.1 % the organic holds under 0.5 mmol/L of metal",
    )

    # aqueous streams: total metal and anion equivalents; organic inlets: capacity
    def aqueous_totals(field, conc: dict, acidity: float):
        metal = sum(conc.values())
        if metal > MAX_METAL_MOL_L:
            errs.append(
                (
                    field,
                    round(metal, 6),
                    f"total dissolved metal <= {MAX_METAL_MOL_L:g} mol/L (solubility "
                    "scale of rare-earth chlorides)",
                )
            )
        eq = acidity + sum(v * element(k).charge for k, v in conc.items() if k in known)
        if eq > MAX_ANION_EQ_L:
            errs.append(
                (
                    field,
                    round(eq, 6),
                    f"anion equivalents (acidity + sum z*c) <= {MAX_ANION_EQ_L:g} eq/L "
                    "(concentrated HCl and saturated RECl3 both hold about 12 eq/L)",
                )
            )

    C_HA = case.organic.extractant_mol_L

    def organic_capacity(field, conc: dict):
        eq = sum(v * element(k).charge for k, v in conc.items() if k in known)
        if eq > C_HA:
            errs.append(
                (
                    field,
                    round(eq, 6),
                    f"metal charge on the organic (sum z*y) <= extractant_mol_L = "
                    f"{C_HA:g} mol/L (one HA per charge)",
                )
            )

    if f.phase == "aqueous":
        aqueous_totals(feed_field, feed_mol, f.acidity_mol_L)
    else:
        organic_capacity(feed_field, feed_mol)
        if f.acidity_mol_L > 0:
            errs.append(
                (
                    "feed.acidity_mol_L",
                    f.acidity_mol_L,
                    "0 for an organic feed (free acid is an aqueous quantity)",
                )
            )
    organic_capacity("organic.conc_mol_L", case.organic.conc_mol_L)

    sec = case.sections
    for name in ("scrub", "strip"):
        stream = getattr(case, name)
        section = getattr(sec, name)
        if section is not None and (stream is None or stream.flow_L_h <= 0):
            errs.append(
                (
                    name,
                    None if stream is None else stream.flow_L_h,
                    f"a [{name}] stream with flow_L_h > 0 when sections.{name} exists",
                )
            )
        if section is None and stream is not None:
            errs.append((name, "given", f"no [{name}] stream without sections.{name}"))
        if stream is not None:
            check_keys(f"{name}.conc_mol_L", stream.conc_mol_L)
            aqueous_totals(
                f"{name}.conc_mol_L", stream.conc_mol_L, stream.acidity_mol_L
            )

    # flows against the organic flow
    O = case.organic.flow_L_h
    flows = [("feed.flow_L_h", f.flow_L_h)]
    for name in ("scrub", "strip"):
        stream = getattr(case, name)
        if stream is not None and stream.flow_L_h > 0:
            flows.append((f"{name}.flow_L_h", stream.flow_L_h))
    for field, q in flows:
        if not (O / MAX_FLOW_RATIO <= q <= O * MAX_FLOW_RATIO):
            errs.append(
                (
                    field,
                    q,
                    f"{O / MAX_FLOW_RATIO:.4g}..{O * MAX_FLOW_RATIO:.4g} L/h (within "
                    f"{MAX_FLOW_RATIO:.0e} of organic.flow_L_h = {O:g}: phase ratio)",
                )
            )

    N = case.n_stages
    if f.stage is not None and f.stage > N:
        errs.append(("feed.stage", f.stage, f"1..{N} (the cascade has {N} stages)"))
    names = set()
    for k, d in enumerate(case.side_draws):
        if d.stage > N:
            errs.append((f"side_draws.{k}.stage", d.stage, f"1..{N}"))
        nm = d.name or f"side_draw_{k + 1}"
        if nm in names or nm in (
            "raffinate",
            "strip_liquor",
            "loaded_organic",
            "stripped_organic",
        ):
            errs.append(
                (f"side_draws.{k}.name", nm, "a name not used by another outlet")
            )
        names.add(nm)

    _model_checks(case, errs)
    return errs


def _model_checks(case: CascadeCase, errs: list) -> None:
    chem = case.chemistry
    comps = chem.components
    m = chem.model
    block = getattr(chem, m)
    sec = case.sections
    for other in ("constant", "saturated", "empirical_ph", "mass_action"):
        if other != m and getattr(chem, other) is not None:
            errs.append(
                (
                    f"chemistry.{other}",
                    "given",
                    f"only the block of the chosen model (chemistry.model = {m!r})",
                )
            )
    if chem.dataset is not None:
        want = "d2ehpa_tbp_empirical" if m == "empirical_ph" else "p507_hcl"
        if m == "constant" or chem.dataset != want:
            errs.append(
                (
                    "chemistry.dataset",
                    chem.dataset,
                    f"{want!r} (the defaults of the {m} model)"
                    if m != "constant"
                    else "no dataset (the constant model has no defaults)",
                )
            )
    agent_ion = {"NH3": "NH4", "NaOH": "Na", "Mg(HCO3)2": "Mg"}[case.organic.agent]
    species = list(comps)
    if m in ("empirical_ph", "mass_action") and case.organic.saponification > 0:
        if agent_ion not in species:
            species.append(agent_ion)

    def keyed(field, d, allowed):
        for k in d or {}:
            if k not in allowed:
                errs.append((f"{field}.{k}", k, f"a key among {', '.join(allowed)}"))

    if m == "constant":
        if block is None:
            errs.append(
                (
                    "chemistry.constant",
                    None,
                    "a [chemistry.constant] table with distribution",
                )
            )
            return
        for sname in ("extraction", "scrub", "strip"):
            table = block.distribution.get(sname)
            if getattr(sec, sname) is None:
                if table is not None:
                    errs.append(
                        (
                            f"chemistry.constant.distribution.{sname}",
                            "given",
                            f"no D table for a section the cascade lacks ({sname})",
                        )
                    )
                continue
            if table is None:
                errs.append(
                    (
                        f"chemistry.constant.distribution.{sname}",
                        None,
                        "D for every component in every section",
                    )
                )
                continue
            keyed(f"chemistry.constant.distribution.{sname}", table, comps)
            for c in comps:
                if c not in table:
                    errs.append(
                        (
                            f"chemistry.constant.distribution.{sname}.{c}",
                            None,
                            "D >= 0 for every component",
                        )
                    )
    elif m == "saturated":
        if case.organic.saponification <= 0:
            errs.append(
                (
                    "organic.saponification",
                    case.organic.saponification,
                    "> 0: the saturated (Xu) model needs a saponified organic: its "
                    "capacity is s*C_HA/3",
                )
            )
        sf = block.separation_factors if block is not None else None
        if sf:
            keyed("chemistry.saturated.separation_factors", sf, comps)
            missing = [c for c in comps if c not in sf]
            if missing:
                errs.append(
                    (
                        "chemistry.saturated.separation_factors",
                        "{...}",
                        f"a factor for every component (missing {', '.join(missing)})",
                    )
                )
        else:
            base = p507_relative_affinities()
            missing = [c for c in comps if c not in base]
            if missing:
                errs.append(
                    (
                        "chemistry.saturated.separation_factors",
                        None,
                        f"factors for {', '.join(missing)} (no default in p507_hcl)",
                    )
                )
    elif m == "mass_action":
        params = block.params if block is not None else {}
        keyed("chemistry.mass_action.params", params, species)
        rel = p507_relative_affinities()
        for s in comps:
            if s not in params and s not in rel:
                errs.append(
                    (
                        f"chemistry.mass_action.params.{s}",
                        None,
                        f"log10_K (and n, m, nu) for {s}: no default in p507_hcl",
                    )
                )
    elif m == "empirical_ph":
        params = block.params if block is not None else {}
        keyed("chemistry.empirical_ph.params", params, species)
        dsname = block.dataset if block and block.dataset else "d2ehpa_tbp_empirical"
        ds = read_data(dsname)["params"]
        for s in comps:
            if s not in params and s not in ds:
                errs.append(
                    (
                        f"chemistry.empirical_ph.params.{s}",
                        None,
                        f"a, b, c, d or a constant D for {s} (dataset {dsname} has "
                        f"{', '.join(ds)})",
                    )
                )
        for s, p in params.items():
            if p.D is not None and any(
                k in p.model_fields_set for k in ("a", "b", "c", "d")
            ):
                errs.append(
                    (
                        f"chemistry.empirical_ph.params.{s}",
                        "{...}",
                        "either a constant D or the coefficients a, b, c, d, not both",
                    )
                )
        if block is not None and block.E_unit == "vol%":
            if block.extractant_vol_pct is None:
                errs.append(
                    (
                        "chemistry.empirical_ph.extractant_vol_pct",
                        None,
                        "the extractant volume % when E_unit = 'vol%'",
                    )
                )


# ----------------------------------------------------------------- loading
def read_case_source(
    source: str | Path | dict, *, name: str | None = None, error=CaseError
) -> tuple[dict, str]:
    """The raw mapping of a case (TOML path or dict) and how to name it in errors."""
    if isinstance(source, dict):
        return dict(source), name or "<case dict>"
    path = Path(source)
    where = name or str(path)
    if not path.is_file():
        raise error(f"{where}: no such case file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{where}: cannot read: {e}") from None
    try:
        return tomllib.loads(text), where
    except tomllib.TOMLDecodeError as e:
        raise error(f"{where}: not valid TOML: {e}") from None


def _fmt_value(v) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v!r}"
    return repr(v)


def _base_dir(source, name: str | None, base_dir) -> Path:
    """Folder a data file named by relative path is read from."""
    if base_dir is not None:
        return Path(base_dir)
    if isinstance(source, str | Path):
        return Path(source).resolve().parent
    if name and Path(name).is_file():  # a dict read from this file (split_case)
        return Path(name).resolve().parent
    return Path.cwd()


def load_case(
    source: str | Path | dict,
    *,
    name: str | None = None,
    base_dir: str | Path | None = None,
) -> CascadeCase:
    """Read and validate a cascade case from a TOML path or a dict.

    An ``[optimize]`` table is validated as ``rexopt optimize`` validates it, then
    set aside (see :attr:`CascadeCase.notes`).

    A data file named by a model block (``dataset = "params.toml"``) is read and
    its parameters written into the block (:mod:`rexopt.case_data`); a relative
    path is read from ``base_dir``, else from the case file's folder (a dict whose
    ``name`` is an existing file counts as read from it), else from the current
    directory.  The notes say which file gave which parameters.

    Raises
    ------
    CaseError
        With one line per problem: ``<file>: <field>: <value> -- <allowed>``.
    """
    data, where = read_case_source(source, name=name)
    kind = data.get("kind", "cascade")
    if kind != "cascade":
        raise CaseError(
            f"{where}: kind: {kind!r} -- this reader handles kind = 'cascade' "
            f"(other kinds are read by their own commands)"
        )
    notes = []
    if "optimize" in data:
        from rexopt.design.optimize import OptimizeError, split_case

        if base_dir is None and not isinstance(source, dict):
            base_dir = _base_dir(source, name, None)
        data = dict(data)
        opt = data.pop("optimize")
        try:
            case = load_case(data, name=where, base_dir=base_dir)
            split_case({**data, "optimize": opt}, where=where)
        except OptimizeError as e:
            raise CaseError(str(e)) from None
        notes = list(case.notes)
        notes.append(
            "the [optimize] table was validated and not used: `rexopt simulate` "
            "solves the base cascade as written (run `rexopt optimize` to optimize)"
        )
        case._notes = tuple(notes)
        return case
    try:
        case = CascadeCase.model_validate(data)
    except ValidationError as e:
        lines = format_validation_error(e, where, model=CascadeCase, data=data)
        raise CaseError("\n".join(lines)) from None
    from rexopt.case_data import resolve_data_files

    errs, notes = resolve_data_files(case, _base_dir(source, name, base_dir))
    if not errs:
        errs = _semantic_checks(case)
    if errs:
        raise CaseError(
            "\n".join(
                f"{where}: {f}: {_fmt_value(v)} -- expected {a}" for f, v, a in errs
            )
        )
    case._notes = tuple(notes)
    return case


def load_cascade(source, *, name: str | None = None):
    """Load, validate and build a cascade exactly as ``simulate`` does.

    Returns a :class:`rexopt.cascade.Cascade` whose network and stage parameters
    were built once (so side draws larger than the flow at their stage, or a
    stage without aqueous phase, are refused here with the file named).  Any
    note of :func:`load_case` is in ``cascade.case.notes``.
    """
    from rexopt.cascade import Cascade

    if isinstance(source, CascadeCase):
        case, where = source, name or "<case>"
    else:
        where = name or (str(source) if not isinstance(source, dict) else "<case dict>")
        case = load_case(source, name=where)
    try:
        cas = Cascade(case)
        net = cas.network()
        cas.stage_parameters(net)
    except CaseError as e:
        msg = str(e)
        raise CaseError(
            msg if msg.startswith(f"{where}:") else f"{where}: {msg}"
        ) from None
    return cas
