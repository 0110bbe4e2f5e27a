"""Case files: TOML (or dicts of the same shape) validated on load.

Every error names the file, the field, the value and what is allowed; see
docs/cases.md for the schema.  Numbers carry their unit in the field name.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rexopt.chemistry import elements

PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


class CaseError(ValueError):
    """A case file (or dict) that cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SectionSpec(_Strict):
    stages: int = Field(ge=1, le=2000, description="number of mixer-settler stages")
    efficiency: float = Field(
        1.0, gt=0, le=1, description="Murphree stage efficiency, organic basis [-]"
    )


class Sections(_Strict):
    extraction: SectionSpec
    scrub: SectionSpec | None = None
    strip: SectionSpec | None = None


class Organic(_Strict):
    flow_L_h: PosFloat
    extractant_mol_L: PosFloat = 1.5
    saponification: float = Field(0.0, ge=0, lt=1)
    agent: Literal["NH3", "NaOH", "Mg(HCO3)2"] = "NH3"
    recycle: bool = False
    conc_mol_L: dict[str, NonNegFloat] = {}


class Feed(_Strict):
    phase: Literal["aqueous", "organic"] = "aqueous"
    stage: int | None = Field(None, ge=1, description="1-based global stage")
    flow_L_h: PosFloat
    acidity_mol_L: NonNegFloat = 0.0
    conc_mol_L: dict[str, NonNegFloat] | None = None
    conc_g_L: dict[str, NonNegFloat] | None = None

    @model_validator(mode="after")
    def _one_conc(self):
        if (self.conc_mol_L is None) == (self.conc_g_L is None):
            raise ValueError("give exactly one of conc_mol_L or conc_g_L")
        return self


class AcidStream(_Strict):
    flow_L_h: NonNegFloat
    acidity_mol_L: NonNegFloat
    conc_mol_L: dict[str, NonNegFloat] = {}


class SideDraw(_Strict):
    phase: Literal["aqueous", "organic"]
    stage: int = Field(ge=1)
    flow_L_h: PosFloat
    name: str | None = None


class ConstantModel(_Strict):
    distribution: dict[Literal["extraction", "scrub", "strip"], dict[str, NonNegFloat]]


class SaturatedModel(_Strict):
    separation_factors: dict[str, PosFloat] | None = None
    K_ref_L_mol: PosFloat | None = None
    K_ref_scrub_L_mol: PosFloat | None = None
    K_ref_strip_L_mol: PosFloat | None = None


class EmpiricalParams(_Strict):
    a: float = 0.0
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0
    D: NonNegFloat | None = None
    nu: PosFloat | None = None


class EmpiricalModel(_Strict):
    params: dict[str, EmpiricalParams] = {}
    dataset: str | None = None
    E_unit: Literal["mol/L", "vol%"] = "mol/L"
    extractant_vol_pct: PosFloat | None = None
    ka_HSO4_mol_L: PosFloat = 0.0102


class MassActionParams(_Strict):
    log10_K: float
    n: float = Field(3.0, gt=0)
    m: float = Field(3.0, ge=0)
    nu: float = Field(6.0, gt=0, le=12)


class MassActionModel(_Strict):
    params: dict[str, MassActionParams] = {}
    ka_HSO4_mol_L: PosFloat = 0.0102


class Chemistry(_Strict):
    model: Literal["constant", "saturated", "empirical_ph", "mass_action"]
    medium: Literal["chloride", "sulfate"] = "chloride"
    components: list[str] = Field(min_length=1)
    dataset: str | None = "p507_hcl"
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
    side_draws: list[SideDraw] = []

    @property
    def n_stages(self) -> int:
        s = self.sections
        return (
            s.extraction.stages
            + (s.scrub.stages if s.scrub else 0)
            + (s.strip.stages if s.strip else 0)
        )


def _fmt_loc(loc) -> str:
    return ".".join(str(p) for p in loc)


def _semantic_checks(case: CascadeCase) -> list[tuple[str, Any, str]]:
    """Cross-field rules pydantic cannot express; (field, value, what is allowed)."""
    errs: list[tuple[str, Any, str]] = []
    known = elements()
    comps = case.chemistry.components
    for i, c in enumerate(comps):
        if c not in known:
            errs.append((f"chemistry.components.{i}", c, f"one of {', '.join(known)}"))
    if len(set(comps)) != len(comps):
        errs.append(("chemistry.components", comps, "each component once"))

    def check_keys(field, d):
        for k in d or {}:
            if k not in comps:
                errs.append(
                    (f"{field}.{k}", k, f"a listed component ({', '.join(comps)})")
                )

    check_keys("feed.conc_mol_L", case.feed.conc_mol_L)
    check_keys("feed.conc_g_L", case.feed.conc_g_L)
    check_keys("organic.conc_mol_L", case.organic.conc_mol_L)
    feed_total = sum((case.feed.conc_mol_L or case.feed.conc_g_L or {}).values())
    if feed_total <= 0:
        errs.append(("feed.conc_mol_L", feed_total, "at least one component > 0"))
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
    N = case.n_stages
    if case.feed.stage is not None and case.feed.stage > N:
        errs.append(
            ("feed.stage", case.feed.stage, f"1..{N} (the cascade has {N} stages)")
        )
    for k, d in enumerate(case.side_draws):
        if d.stage > N:
            errs.append((f"side_draws.{k}.stage", d.stage, f"1..{N}"))
    m = case.chemistry.model
    block = getattr(case.chemistry, m)
    if m == "constant":
        if block is None:
            errs.append(
                (
                    "chemistry.constant",
                    None,
                    "a [chemistry.constant] table with distribution",
                )
            )
        else:
            for sname in ("extraction", "scrub", "strip"):
                if getattr(sec, sname) is None:
                    continue
                table = block.distribution.get(sname)
                if table is None:
                    errs.append(
                        (
                            f"chemistry.constant.distribution.{sname}",
                            None,
                            "D for every component in every section",
                        )
                    )
                    continue
                for c in comps:
                    if c not in table:
                        errs.append(
                            (
                                f"chemistry.constant.distribution.{sname}.{c}",
                                None,
                                "D >= 0 for every component",
                            )
                        )
    if (
        m == "empirical_ph"
        and block is not None
        and block.E_unit == "vol%"
        and block.extractant_vol_pct is None
    ):
        errs.append(
            (
                "chemistry.empirical_ph.extractant_vol_pct",
                None,
                "the extractant volume % when E_unit = 'vol%'",
            )
        )
    return errs


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
        return tomllib.loads(path.read_text(encoding="utf-8")), where
    except tomllib.TOMLDecodeError as e:
        raise error(f"{where}: not valid TOML: {e}") from None


def load_case(source: str | Path | dict, *, name: str | None = None) -> CascadeCase:
    """Read and validate a case from a TOML path or a dict.

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
    try:
        case = CascadeCase.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = _fmt_loc(err["loc"])
            val = err.get("input")
            if isinstance(val, dict):
                val = "{...}"
            lines.append(f"{where}: {loc}: {val!r} -- {err['msg']}")
        raise CaseError("\n".join(lines)) from None
    errs = _semantic_checks(case)
    if errs:
        raise CaseError(
            "\n".join(f"{where}: {f}: {v!r} -- expected {a}" for f, v, a in errs)
        )
    return case
