"""Design a cascade from a case: Xu's closed form, then flows corrected on the kernel.

:func:`design_case` is what ``rexopt design`` runs:

1. The case is read by the same validated loader as ``rexopt simulate``
   (:func:`rexopt.case.load_case`); the feed is read the way the kernel reads it (any
   feed form the case schema accepts), the separation factors are the case's or, if
   it gives none, the bundled data set's (as the kernel does).
2. Specs (purity / recovery of a component in an outlet) come from the arguments,
   else from the case's ``[optimize]`` ``specs``, else a stated default.
3. Xu's closed form (:mod:`rexopt.design.xu`) gives the extraction amount S, the
   scrub amount W, the stage numbers and, for a three-outlet case, the middle draw;
   :func:`rexopt.design.xu.design_to_case` turns them into flows.
4. The kernel (the saturated model of :mod:`rexopt.cascade`) does not sit exactly at
   the closed form's split, so the scrub flow (and, if needed, the organic flow) is
   moved on the kernel until every end-outlet spec is met, reusing
   :func:`rexopt.lines.calibrate.calibrate_case`; a three-outlet design also tries
   several draw flows; if no flows meet the specs, stages are added (up to
   ``max_stage_rounds`` times).
5. The corrected case is simulated once more from a plain dict, and every spec is
   checked; what is not met is said in words in :attr:`DesignResult.notes`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rexopt.case import CascadeCase, CaseError, load_case, read_case_source
from rexopt.design.specs import (
    ORGANIC_SIDE,
    improves_to_organic,
    is_end_outlet,
    spec_label,
    spec_value,
)
from rexopt.design.xu import (
    ThreeOutletDesign,
    XuDesign,
    design_to_case,
    xu_design,
    xu_design_multicomponent,
    xu_three_outlet,
)

__all__ = [
    "DesignError",
    "DesignSpec",
    "DesignResult",
    "closed_form_design",
    "design_case",
    "design_note",
    "design_requirements",
    "read_design_case",
    "spec_value",
]

DEFAULT_PURITY = 0.995
STRIP_EXCESS = 1.2  # strip H+ over 3 per RE of organic product [-]
DRAW_FACTORS = (1.0, 0.8, 1.25, 0.6, 1.6, 0.45, 2.0)  # x the closed-form draw flow
STAGE_GROWTH = 0.15  # fraction of a section's stages added per round


class DesignError(CaseError):
    """A case or spec the design cannot use; the message says where and why."""


class _SpecIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    stream: str
    component: str
    purity_min: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    recovery_min: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one(self):
        if (self.purity_min is None) == (self.recovery_min is None):
            raise ValueError("give exactly one of purity_min or recovery_min")
        return self


@dataclass(frozen=True)
class DesignSpec:
    """One product specification of a design.

    Attributes
    ----------
    stream : str
        Outlet: ``strip_liquor``, ``raffinate`` or a side draw's name.
    component : str
        Component the spec is about; a design's default spec on a product group
        writes the group as ``"Pr+Nd"``.
    kind : {"purity", "recovery"}
        Purity: mole fraction of ``component`` in the outlet's metals [-];
        recovery: fraction of the fed ``component`` leaving in the outlet [-].
    target : float
        Smallest acceptable value. [-]
    source : str
        Where the spec came from: "argument", "[optimize] specs" or "default".
    """

    stream: str
    component: str
    kind: str
    target: float
    source: str = "argument"

    @property
    def label(self) -> str:
        return spec_label(self)

    @property
    def rises_with_scrub(self) -> bool:
        """True if more scrub acid (less organic product) improves this spec."""
        return not improves_to_organic(self)


@dataclass
class DesignResult:
    """A cascade design: closed-form theory, kernel-corrected case, spec checks.

    Attributes
    ----------
    layout : str
        "two-outlet", "three-outlet, draw in the scrub section" or "three-outlet,
        draw in the extraction section".
    theory : XuDesign or ThreeOutletDesign
        Xu's closed-form design (amounts per mol feed RE, ideal stage numbers).
    specs : list of DesignSpec
        The specs designed for.
    theory_case : dict
        The case at the closed-form flows and stages (ready to simulate).
    case : dict
        The designed case: flows (and stages) corrected on the kernel.
    checks : list of dict
        Per spec: ``spec``, ``target``, ``theory`` (Xu, or None where the theory
        gives no figure), ``kernel_closed_form`` (kernel at ``theory_case``),
        ``kernel`` (kernel at ``case``), ``met`` and ``shortfall`` (target - kernel
        when not met, else 0; None when the kernel did not solve the case).
    figures : list of dict
        Purity and recovery of each product group: ``quantity``, ``theory`` (Xu),
        ``kernel_closed_form``, ``kernel`` (whether or not a spec names them).
    changes : list of dict
        Per operating quantity (flows, stages, draw): ``quantity``, ``unit``,
        ``closed_form``, ``designed``.
    notes : list of str
        Everything the design assumed, approximated or could not honour, in words.
    met : bool
        Every spec met by the kernel at ``case``.
    simulations : int
        Kernel simulations used.
    result, result_closed_form : CascadeResult or None
        Kernel results at ``case`` and at ``theory_case`` (None if the kernel
        failed there; the reason is in ``notes``).
    source : str
        The case's name in messages (its path).
    groups : dict
        Outlet -> the components the design sends there (its product group).
    """

    layout: str
    theory: XuDesign | ThreeOutletDesign
    specs: list[DesignSpec]
    theory_case: dict
    case: dict
    checks: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    met: bool = False
    simulations: int = 0
    result: object | None = None
    result_closed_form: object | None = None
    source: str = "<case dict>"
    groups: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (no kernel profiles); a figure the kernel could not
        give (it failed) is None."""
        from rexopt.output import finite_or_none

        return finite_or_none(
            {
                "layout": self.layout,
                "theory": dict(self.theory.table(units=False)),
                "specs": [
                    {
                        "stream": s.stream,
                        "component": s.component,
                        "kind": s.kind,
                        "target": s.target,
                        "source": s.source,
                    }
                    for s in self.specs
                ],
                "checks": self.checks,
                "figures": self.figures,
                "changes": self.changes,
                "notes": self.notes,
                "met": self.met,
                "simulations": self.simulations,
                "theory_case": self.theory_case,
                "case": self.case,
            }
        )

    def to_toml(self) -> str:
        """The designed case as TOML, with a comment header saying how it was made."""
        import tomli_w

        head = [f"# Cascade designed by `rexopt design` from {self.source}."]
        t = self.theory
        head.append(
            f"# Xu closed form ({self.layout}): extraction amount S = {t.S:.4g}, "
            f"scrub amount W = {t.W:.4g} mol per mol feed RE;"
        )
        head.append(
            "# then the flows (and stages) corrected on the kernel; kernel figures:"
        )
        for c in self.checks:
            if c["met"]:
                ok = "met"
            elif c["shortfall"] is None:
                ok = "NOT MET (the kernel did not solve the case)"
            else:
                ok = f"NOT MET (short by {c['shortfall']:.3g})"
            head.append(f"#   {c['spec']}: {c['kernel']:.6f} -- {ok}")
        head.append("# products, Xu theory -> kernel at the designed flows:")
        for f in self.figures:
            th = "-" if f["theory"] is None else f"{f['theory']:.6f}"
            head.append(f"#   {f['quantity']}: {th} -> {f['kernel']:.6f}")
        for n in self.notes:
            head.append("# note: " + n)
        return "\n".join(head) + "\n\n" + tomli_w.dumps(self.case)


# ------------------------------------------------------------------ reading
def read_design_case(
    source: str | Path | Mapping | CascadeCase, *, where: str | None = None
) -> tuple[CascadeCase, list[DesignSpec], str]:
    """Validated case, the ``[optimize]`` specs it carries, and its name for errors.

    The case goes through :func:`rexopt.case.load_case`, the loader of ``rexopt
    validate`` and ``rexopt simulate`` (which also validates an ``[optimize]``
    table); the design then uses that table's ``specs`` only.

    Raises
    ------
    DesignError
        Naming the file, the field, the value and what is allowed (TOML syntax
        errors included).
    """
    if isinstance(source, CascadeCase):
        return source, [], where or source.name
    try:
        raw, name = read_case_source(
            dict(source) if isinstance(source, Mapping) else source,
            name=where,
            error=DesignError,
        )
    except OSError as e:
        raise DesignError(
            f"{where or source}: cannot read the case file: {e}"
        ) from None
    opt = raw.get("optimize")
    try:
        case = load_case(raw, name=name)
    except CaseError as e:
        raise DesignError(str(e)) from None
    specs: list[DesignSpec] = []
    if opt is not None:
        if not isinstance(opt, Mapping):
            raise DesignError(f"{name}: optimize: {opt!r} -- expected a table")
        raw_specs = opt.get("specs", [])
        if not isinstance(raw_specs, list):
            raise DesignError(
                f"{name}: optimize.specs: {raw_specs!r} -- expected a list of tables"
            )
        for i, s in enumerate(raw_specs):
            specs.append(
                _parse_spec(s, f"{name}: optimize.specs.{i}", "[optimize] specs")
            )
    return case, specs, name


def _parse_spec(s, where: str, source: str) -> DesignSpec:
    if isinstance(s, DesignSpec):
        return s
    try:
        v = _SpecIn.model_validate(dict(s) if isinstance(s, Mapping) else s)
    except ValidationError as e:
        msgs = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'spec'}: "
            f"{err.get('input')!r} -- {err['msg']}"
            for err in e.errors()
        )
        raise DesignError(f"{where}: {msgs}") from None
    kind = "purity" if v.purity_min is not None else "recovery"
    target = v.purity_min if v.purity_min is not None else v.recovery_min
    return DesignSpec(v.stream, v.component, kind, float(target), source)


def _relative_K(case: CascadeCase, where: str) -> tuple[dict[str, float], str]:
    """Relative affinities as the kernel uses them (case table, else data set)."""
    from rexopt.chemistry import p507_relative_affinities

    comps = list(case.chemistry.components)
    sat = case.chemistry.saturated
    if sat is not None and sat.separation_factors:
        rel = {str(k): float(v) for k, v in sat.separation_factors.items()}
        extra = [k for k in rel if k not in comps]
        if extra:
            raise DesignError(
                f"{where}: chemistry.saturated.separation_factors.{extra[0]}: "
                f"{rel[extra[0]]!r} -- expected keys among the components "
                f"({', '.join(comps)})"
            )
        missing = [c for c in comps if c not in rel]
        if missing:
            raise DesignError(
                f"{where}: chemistry.saturated.separation_factors: missing "
                f"{', '.join(missing)} -- give a relative affinity for every "
                "component (or none, to use the data set's)"
            )
        return rel, "the case's separation_factors"
    base = p507_relative_affinities()
    missing = [c for c in comps if c not in base]
    if missing:
        raise DesignError(
            f"{where}: chemistry.saturated.separation_factors: no default for "
            f"{', '.join(missing)} in data set p507_hcl -- give them in the case"
        )
    return {c: float(base[c]) for c in comps}, "data set p507_hcl (case gives none)"


def _K_ref(case: CascadeCase) -> float:
    from rexopt.chemistry import read_data

    sat = case.chemistry.saturated
    if sat is not None and sat.K_ref_L_mol:
        return float(sat.K_ref_L_mol)
    return float(read_data("p507_hcl")["saturated"]["K_ref_L_mol"]["value"])


def _feed_mol_L(case: CascadeCase, where: str) -> dict[str, float]:
    """Feed metal concentrations [mol/L] exactly as the kernel reads the feed."""
    from rexopt.cascade import Cascade

    bare = case.model_copy(deep=True)
    bare.organic.conc_mol_L = {}
    for name in ("scrub", "strip"):
        stream = getattr(bare, name)
        if stream is not None:
            stream.conc_mol_L = {}
    bare.side_draws = []
    cas = Cascade(bare)
    try:
        net = cas.network()
    except CaseError as e:
        raise DesignError(f"{where}: {e}") from None
    j = cas._feed_stage
    vec = net.ext_aq[j] if case.feed.phase == "aqueous" else net.ext_org[j]
    return {
        s: float(vec[i]) / case.feed.flow_L_h
        for i, s in enumerate(cas.species)
        if s in case.chemistry.components
    }


# ------------------------------------------------------- what design can take
def design_requirements(case: CascadeCase) -> list[tuple[str, str, str]]:
    """What keeps ``rexopt design`` from designing a valid cascade case.

    ``rexopt validate`` accepts every case the kernel can simulate; the Xu design
    needs more (a saturated model, a scrub section with acid, an acid strip, at most
    one aqueous middle draw, ...).  This lists what a case lacks, without running
    anything, so a caller can say it before the design is asked for.

    Parameters
    ----------
    case : CascadeCase
        A case already validated by :func:`rexopt.case.load_case`.

    Returns
    -------
    list of (field, value, allowed)
        Dotted field, its value as text, and what the design needs there; empty
        when the design can take the case (its specs are checked when it runs).
    """
    out: list[tuple[str, str, str]] = []
    ch = case.chemistry
    if ch.model != "saturated":
        out.append(
            (
                "chemistry.model",
                repr(ch.model),
                "'saturated': the Xu design needs constant separation factors on a "
                "saturated organic; give [chemistry.saturated] (separation_factors "
                "optional: default data set p507_hcl)",
            )
        )
        return out
    if case.sections.scrub is None or case.scrub is None:
        missing = "sections.scrub" if case.sections.scrub is None else "scrub"
        out.append(
            (
                missing,
                "missing",
                "a scrub section and a [scrub] stream: the design is a fractional "
                "extraction",
            )
        )
    elif not case.scrub.acidity_mol_L > 0:
        out.append(
            (
                "scrub.acidity_mol_L",
                repr(case.scrub.acidity_mol_L),
                "> 0: the design scrubs with acid (3 mol H+ per mol RE it "
                "returns to the aqueous), so a scrub without acid cannot be sized",
            )
        )
    if case.strip is not None and not case.strip.acidity_mol_L > 0:
        out.append(
            (
                "strip.acidity_mol_L",
                repr(case.strip.acidity_mol_L),
                "> 0: the design strips with acid (3 mol H+ per mol RE on the "
                "loaded organic); a water strip cannot be sized",
            )
        )
    if case.organic.saponification <= 0:
        out.append(
            (
                "organic.saponification",
                repr(case.organic.saponification),
                "> 0: the saturated model needs a saponified organic",
            )
        )
    if case.organic.recycle:
        out.append(
            (
                "organic.recycle",
                "true",
                "false: the design sizes a once-through organic",
            )
        )
    comps = list(ch.components)
    if len(comps) < 2:
        out.append(
            (
                "chemistry.components",
                repr(comps),
                "at least 2 components: a separation needs two",
            )
        )
    try:
        rel, _ = _relative_K(case, "")
    except DesignError:
        rel = None  # the loader refuses these; the design says it when run
    if rel is not None and len(comps) >= 2:
        order = sorted(comps, key=lambda c: rel[c])
        for lo, hi in zip(order, order[1:], strict=False):
            if rel[lo] == rel[hi]:
                out.append(
                    (
                        "chemistry.saturated.separation_factors",
                        f"{lo} and {hi} both {rel[lo]!r}",
                        "distinct factors: components with equal affinity cannot "
                        "be separated",
                    )
                )
                break
    draws = list(case.side_draws)
    if len(draws) > 1 or any(d.phase != "aqueous" for d in draws):
        out.append(
            (
                "side_draws",
                f"{len(draws)} draw(s)",
                "at most one aqueous middle draw (three-outlet); remove the others "
                "or design without them",
            )
        )
    elif draws and len(comps) < 3:
        out.append(
            (
                "side_draws",
                "1 draw",
                f"at least 3 components for a middle draw (the case has "
                f"{', '.join(comps)})",
            )
        )
    return out


def design_note(source: str | Path | Mapping | CascadeCase) -> str | None:
    """One line for ``rexopt validate``: can ``rexopt design`` take this case?

    Returns None when the source is not a cascade case the loader accepts (the
    validate error says why); otherwise ``"design: ..."`` saying that the design can
    take it, or which fields keep it from doing so.  Nothing is simulated.
    """
    try:
        cc, _, name = read_design_case(source)
    except (DesignError, CaseError):
        return None
    problems = design_requirements(cc)
    if not problems:
        return (
            "design: `rexopt design` can take this case (its specs are checked "
            "when it runs)"
        )
    why = "; ".join(f"{f}: {v} -- expected {a}" for f, v, a in problems)
    return f"design: `rexopt design` would refuse this case: {why}"


# --------------------------------------------------------------- evaluation
class _Kernel:
    """Counts simulations; failures are returned as the error text, never hidden."""

    def __init__(self):
        self.calls = 0

    def run(self, case: dict):
        from rexopt.cascade import Cascade, CascadeError

        self.calls += 1
        try:
            return Cascade(case).simulate(), None
        except (CascadeError, CaseError, ValueError, ArithmeticError) as e:
            return None, f"{type(e).__name__}: {e}"


def _margins(specs: Sequence[DesignSpec], res) -> list[float]:
    return [spec_value(s, res) - s.target for s in specs]


def _strip_for_capacity(case: dict, excess: float = STRIP_EXCESS) -> bool:
    """Size the strip acid for the organic product the kernel will carry.

    The organic leaving the scrub carries at most its capacity after the scrub
    acid, ``O s C_HA/3 - H_scrub/3`` mol/h; the strip gets 3 mol H+ per mol of
    that times ``excess``.  Returns True if that capacity was below 5 % of the
    organic's and the strip was sized for 5 % instead (a scrub that takes nearly
    every site).
    """
    o, sc, st = case["organic"], case["scrub"], case["strip"]
    cap = o["flow_L_h"] * o["saponification"] * o["extractant_mol_L"] / 3.0
    product = cap - sc["flow_L_h"] * sc["acidity_mol_L"] / 3.0
    floor = product < 0.05 * cap
    st["flow_L_h"] = 3.0 * excess * max(product, 0.05 * cap) / st["acidity_mol_L"]
    return floor


# ----------------------------------------------------------------- the design
def _pick_specs(
    case: CascadeCase,
    given: Sequence | None,
    file_specs: list[DesignSpec],
    where: str,
) -> list[DesignSpec]:
    comps = list(case.chemistry.components)
    draws = [d.name or f"side_draw_{i + 1}" for i, d in enumerate(case.side_draws)]
    streams = ("strip_liquor", "raffinate", "stripped_organic", *draws)
    if given is not None:
        specs = [
            _parse_spec(s, f"{where}: specs.{i}", "argument")
            for i, s in enumerate(given)
        ]
    else:
        specs = list(file_specs)
    field_ = "specs" if given is not None else "optimize.specs"
    for i, s in enumerate(specs):
        if s.stream not in streams:
            raise DesignError(
                f"{where}: {field_}.{i}.stream: {s.stream!r} -- expected one of "
                f"{', '.join(streams)}"
            )
        if s.component not in comps:
            raise DesignError(
                f"{where}: {field_}.{i}.component: {s.component!r} -- expected one "
                f"of {', '.join(comps)}"
            )
    return specs


def design_case(
    case: str | Path | Mapping | CascadeCase,
    specs: Sequence[Mapping | DesignSpec] | None = None,
    *,
    purity_A: float | None = None,
    purity_B: float | None = None,
    purity_middle: float | None = None,
    draw_section: str | None = None,
    optimum: str = "simple",
    calibrate: bool = True,
    max_stage_rounds: int = 4,
    where: str | None = None,
) -> DesignResult:
    """Design a cascade for a case: Xu closed form, then flows corrected on the kernel.

    Parameters
    ----------
    case : path, mapping or CascadeCase
        A cascade case (``model = "saturated"``), read by the loader of ``rexopt
        simulate``.  Its components, chemistry, organic (extractant,
        saponification, agent), feed, acid strengths and strip stages are kept;
        stages and flows are designed.  A case with one aqueous side draw gets a
        three-outlet design.
    specs : sequence of mappings or DesignSpec, optional
        ``{stream, component, purity_min | recovery_min}`` as in an ``[optimize]``
        table.  Default: the case's ``[optimize]`` specs.
    purity_A, purity_B : float, optional
        Override (or add) the purity of the organic product (strip liquor, the
        most extractable key) and of the raffinate product; default 0.995 when no
        spec names that outlet. [-]
    purity_middle : float, optional
        Purity of the middle component in the side draw (three-outlet). [-]
    draw_section : {"scrub", "extraction"}, optional
        Where the middle draw goes: above the feed (scrub section, the classical
        Gd/Eu/Sm design) or below it.  Default: the section of the case's draw.
    optimum : {"simple", "precise"}
        Xu's optimum for S (see :func:`rexopt.design.xu.xu_design`).
    calibrate : bool
        Correct the flows (and stages) on the kernel; False keeps the closed form.
    max_stage_rounds : int
        How many times stages may be added when no flows meet the specs.
    where : str, optional
        Name of the case in messages (default: its path).

    Returns
    -------
    DesignResult
        Theory, closed-form case, designed case, spec checks (theory and kernel
        side by side) and notes in words.

    Raises
    ------
    DesignError
        For a case or spec the design cannot use; the message names the file, the
        field, the value and what is allowed.

    Examples
    --------
    >>> from rexopt.design import design_case
    >>> r = design_case("cases/prnd_p507_optimize.toml")  # doctest: +SKIP
    >>> r.met, r.case["scrub"]["flow_L_h"]  # doctest: +SKIP
    """
    if not (
        isinstance(max_stage_rounds, int)
        and not isinstance(max_stage_rounds, bool)
        and 0 <= max_stage_rounds <= 20
    ):
        raise DesignError(
            f"max_stage_rounds: {max_stage_rounds!r} -- expected an integer 0..20"
        )
    res = closed_form_design(
        case,
        specs,
        purity_A=purity_A,
        purity_B=purity_B,
        purity_middle=purity_middle,
        draw_section=draw_section,
        optimum=optimum,
        where=where,
    )
    if calibrate:
        _correct_on_kernel(res, max_stage_rounds)
    else:
        res.case = copy.deepcopy(res.theory_case)
        res.notes.append(
            "flows not corrected on the kernel (calibrate=False): the case is the "
            "closed form's"
        )
    _final_check(res)
    return res


def closed_form_design(
    case: str | Path | Mapping | CascadeCase,
    specs: Sequence[Mapping | DesignSpec] | None = None,
    *,
    purity_A: float | None = None,
    purity_B: float | None = None,
    purity_middle: float | None = None,
    draw_section: str | None = None,
    optimum: str = "simple",
    where: str | None = None,
) -> DesignResult:
    """Xu's closed-form part of :func:`design_case`, no kernel run.

    Same parameters as :func:`design_case`; the result's ``case`` is empty and its
    ``checks`` are not filled (``theory_case`` holds the closed form's case).
    """
    cc, file_specs, name = read_design_case(case, where=where)
    if optimum not in ("simple", "precise"):
        raise DesignError(
            f"{name}: optimum: {optimum!r} -- expected 'simple' or 'precise'"
        )
    if draw_section not in (None, "scrub", "extraction"):
        raise DesignError(
            f"{name}: draw_section: {draw_section!r} -- expected 'scrub' or "
            "'extraction'"
        )
    for arg, v in (
        ("purity_A", purity_A),
        ("purity_B", purity_B),
        ("purity_middle", purity_middle),
    ):
        if v is not None and not (isinstance(v, int | float) and 0 < v < 1):
            raise DesignError(f"{name}: {arg}: {v!r} -- expected a number in (0, 1)")
    problems = design_requirements(cc)
    if problems:
        raise DesignError(
            "\n".join(f"{name}: {f}: {v} -- expected {a}" for f, v, a in problems)
        )
    ch = cc.chemistry
    rel, rel_source = _relative_K(cc, name)
    comps = list(ch.components)
    order = sorted(comps, key=lambda c: rel[c])
    ties = [(a, b) for a, b in zip(order, order[1:], strict=False) if rel[a] == rel[b]]
    if ties:
        a, b = ties[0]
        raise DesignError(
            f"{name}: chemistry.saturated.separation_factors: {a} and {b} both "
            f"{rel[a]!r} -- components with equal affinity cannot be separated"
        )
    conc = _feed_mol_L(cc, name)
    specs = _pick_specs(cc, specs, file_specs, name)
    notes: list[str] = _carried_over(cc)
    notes.append(f"separation factors from {rel_source}")
    # a data file the case names (chemistry.<model>.dataset): which values it gave
    notes += [n for n in cc.notes if n.startswith("chemistry.")]
    notes += _source_warnings(cc)
    if cc.feed.conc_mol_L is None:
        notes.append(
            "the feed was given in another form than conc_mol_L; the designed case "
            "gives it as conc_mol_L, converted the way the kernel converts it"
        )
    draws = list(cc.side_draws)
    kw = dict(
        cc=cc,
        name=name,
        order=order,
        rel=rel,
        conc=conc,
        specs=specs,
        notes=notes,
        optimum=optimum,
        purity_A=purity_A,
        purity_B=purity_B,
    )
    if draws:
        res = _design_three(
            **kw,
            draw=draws[0],
            purity_middle=purity_middle,
            draw_section=draw_section,
        )
    else:
        if purity_middle is not None:
            raise DesignError(
                f"{name}: purity_middle: {purity_middle!r} -- only for a case with a "
                "side draw (three-outlet)"
            )
        res = _design_two(**kw)
    res.source = name
    _check_closed_form_case(res.theory_case, cc, name)
    return res


def _check_closed_form_case(theory_case: dict, cc: CascadeCase, name: str) -> None:
    """Refuse, naming the source's field, a closed form outside the case limits.

    The closed form fixes acid amounts (mol/h); a weak acid turns them into flows
    above the limit of a case (:data:`rexopt.case.MAX_FLOW_L_H`).
    """
    from rexopt.case import MAX_FLOW_L_H

    for sec in ("scrub", "strip"):
        stream = theory_case.get(sec)
        src = getattr(cc, sec)
        if stream is None or src is None:
            continue
        q = stream["flow_L_h"]
        if q > MAX_FLOW_L_H:
            least = q * stream["acidity_mol_L"] / MAX_FLOW_L_H
            raise DesignError(
                f"{name}: {sec}.acidity_mol_L: {src.acidity_mol_L!r} -- expected at "
                f"least {least:.3g} mol/L: the design's {sec} needs "
                f"{q * stream['acidity_mol_L']:.4g} mol/h of acid, which at this "
                f"strength is {q:.4g} L/h, above the {MAX_FLOW_L_H:.0e} L/h limit "
                "of a case"
            )
    try:
        load_case(copy.deepcopy(theory_case), name="the closed-form case")
    except CaseError as e:
        raise DesignError(
            f"{name}: the closed-form design of this case is not a valid case "
            f"(its flows follow from the case's feed, organic and acid strengths): "
            f"{e}"
        ) from None


def _targets_text(specs) -> str:
    return "; ".join(s.label for s in specs if s.kind == "purity")


def _key_of(specs, streams, comps_side, default):
    for s in specs:
        if s.stream in streams and s.component in comps_side:
            return s.component
    return default


def _purity_target(specs, streams, group, override, default=DEFAULT_PURITY):
    """Group purity the theory designs for: the override, else the purity spec of
    a component of ``group`` in ``streams``, else the default."""
    if override is not None:
        return float(override), "argument"
    for s in specs:
        members = s.component.split("+")
        if s.kind == "purity" and s.stream in streams and set(members) <= set(group):
            return s.target, "argument" if s.source == "argument" else "spec"
    return default, "default"


def _add_override_specs(specs, stream, group, override, arg, notes):
    """Replace the purity specs on ``stream`` for members of ``group`` by the
    argument ``override``, a purity of the whole group."""
    if override is None:
        return specs
    comp = "+".join(group)
    kept, dropped = [], []
    for s in specs:
        same = s.kind == "purity" and s.stream == stream and s.component in group
        (dropped if same else kept).append(s)
    for s in dropped:
        notes.append(
            f"{arg} = {override:g} (argument) replaces the case's spec {s.label}"
        )
    return [*kept, DesignSpec(stream, comp, "purity", float(override), "argument")]


def _design_two(
    *, cc, name, order, rel, conc, specs, notes, optimum, purity_A, purity_B
) -> DesignResult:
    # key pair: the strip-liquor spec names the first A-group component, else the
    # raffinate spec the last B-group one, else the largest separation factor
    keyA = _key_of(specs, ORGANIC_SIDE, order[1:], None)
    keyB = _key_of(specs, ("raffinate",), order[:-1], None)
    if keyA is not None:
        cut = order.index(keyA)
    elif keyB is not None:
        cut = order.index(keyB) + 1
    else:
        # no spec places the cut: take the easiest one (largest adjacent beta)
        betas = [rel[b] / rel[a] for a, b in zip(order, order[1:], strict=False)]
        cut = 1 + max(range(len(betas)), key=betas.__getitem__)
        if len(order) > 2:
            notes.append(
                f"no spec names a component of either product: cut between "
                f"{order[cut - 1]} and {order[cut]}, the largest adjacent separation "
                f"factor ({betas[cut - 1]:.3g})"
            )
    if keyB is not None and order.index(keyB) >= cut:
        raise DesignError(
            f"{name}: specs: {keyB} is asked in the raffinate and {order[cut]} in the "
            f"strip liquor, but {keyB} is not less extractable than {order[cut]} "
            f"(extraction order {', '.join(order)})"
        )
    gA, gB = order[cut:], order[:cut]
    kA, kB = order[cut], order[cut - 1]
    specs = _add_override_specs(specs, "strip_liquor", gA, purity_A, "purity_A", notes)
    specs = _add_override_specs(specs, "raffinate", gB, purity_B, "purity_B", notes)
    pA, srcA = _purity_target(specs, ORGANIC_SIDE, gA, None)
    pB, srcB = _purity_target(specs, ("raffinate",), gB, None)
    if srcA == "default":
        specs.append(DesignSpec("strip_liquor", "+".join(gA), "purity", pA, "default"))
        notes.append(
            f"no purity asked for the strip liquor: designed for {'+'.join(gA)} "
            f"{pA:g} (default)"
        )
    if srcB == "default":
        specs.append(DesignSpec("raffinate", "+".join(gB), "purity", pB, "default"))
        notes.append(
            f"no purity asked for the raffinate: designed for {'+'.join(gB)} "
            f"{pB:g} (default)"
        )
    for s in specs:
        grp = gA if s.stream in ORGANIC_SIDE else gB if s.stream == "raffinate" else ()
        if s.kind == "purity" and len(grp) > 1 and s.component in grp:
            share = conc.get(s.component, 0.0) / sum(conc.get(c, 0.0) for c in grp)
            notes.append(
                f"{s.label}: {'+'.join(c for c in grp if c != s.component)} also "
                f"leave(s) in the {s.stream} (two outlets), so {s.component} alone "
                f"can reach about its share of that group's feed, {share:.3g}"
            )
    if len(gA) > 1 or len(gB) > 1:
        notes.append(
            f"multicomponent feed lumped into {'+'.join(gB)} | {'+'.join(gA)} "
            f"(key pair {kB}/{kA}); the theory's purities are group purities, the "
            "kernel's are checked per spec as written"
        )
    amounts = [conc.get(c, 0.0) for c in order]
    phase = cc.feed.phase
    try:
        if len(order) == 2:
            tot = sum(amounts)
            d = xu_design(
                amounts[1] / tot,
                pA,
                pB,
                rel[order[1]] / rel[order[0]],
                feed_phase=phase,
                optimum=optimum,
                key_A=order[1],
                key_B=order[0],
            )
        else:
            d = xu_design_multicomponent(
                order, amounts, rel, cut, pA, pB, feed_phase=phase, optimum=optimum
            )
    except ValueError as e:
        raise DesignError(
            f"{name}: specs: the closed-form design cannot be made for these "
            f"purities ({_targets_text(specs)}): {e}"
        ) from None
    theory_case = _to_case(d, cc, order, rel, conc, name)
    groups = {"strip_liquor": tuple(gA), "raffinate": tuple(gB)}
    return DesignResult(
        "two-outlet", d, specs, theory_case, {}, notes=notes, groups=groups
    )


def _to_case(d, cc, order, rel, conc, name, **extra) -> dict:
    sat = cc.chemistry.saturated
    case = design_to_case(
        d,
        components=order,
        feed_flow_L_h=cc.feed.flow_L_h,
        feed_conc_mol_L=conc,
        extractant_mol_L=cc.organic.extractant_mol_L,
        saponification=cc.organic.saponification,
        K_ref_L_mol=_K_ref(cc),
        strip_stages=cc.sections.strip.stages if cc.sections.strip else 6,
        agent=cc.organic.agent,
        feed_acidity_mol_L=cc.feed.acidity_mol_L,
        separation_factors=rel,
        scrub_acidity_mol_L=cc.scrub.acidity_mol_L,
        strip_acidity_mol_L=cc.strip.acidity_mol_L if cc.strip else 6.0,
        medium=cc.chemistry.medium,
        name=f"{cc.name} -- designed",
        **extra,
    )
    block = sat.model_dump(mode="json", exclude_none=True) if sat else {}
    block["separation_factors"] = dict(rel)
    block.setdefault("K_ref_L_mol", _K_ref(cc))
    case["chemistry"]["saturated"] = block
    if cc.chemistry.dataset is not None:
        case["chemistry"]["dataset"] = cc.chemistry.dataset
    for sec in ("extraction", "scrub", "strip"):
        spec = getattr(cc.sections, sec)
        if spec is not None:
            case["sections"][sec]["efficiency"] = spec.efficiency
    return case


def _source_warnings(cc: CascadeCase) -> list[str]:
    """Unverified defaults the source case reads.  The designed case writes the
    separation factors and K_ref_L_mol out, so its own simulation no longer flags
    those: they are said here."""
    from rexopt.provenance import case_warnings

    out = list(case_warnings(cc))
    if out:
        out.append(
            "the designed case writes the separation factors and K_ref_L_mol out "
            "explicitly; values taken from the data set stay unverified defaults"
        )
    return out


def _carried_over(cc: CascadeCase) -> list[str]:
    """What the designed case keeps, changes or leaves out of the source, in words."""
    notes = []
    eff = {
        sec: getattr(cc.sections, sec).efficiency
        for sec in ("extraction", "scrub")
        if getattr(cc.sections, sec) is not None
    }
    if any(e < 1.0 for e in eff.values()):
        notes.append(
            "stage efficiencies kept ("
            + ", ".join(f"{k} {v:g}" for k, v in eff.items())
            + "): Xu's stage numbers are ideal stages; the kernel correction adds "
            "stages if they fall short"
        )
    if cc.organic.conc_mol_L:
        notes.append(
            "the source's metals on the inlet organic (organic.conc_mol_L) are left "
            "out: the design runs a metal-free fresh organic"
        )
    if cc.scrub is not None and cc.scrub.conc_mol_L:
        notes.append(
            "the source's metals in the scrub (scrub.conc_mol_L) are left out: the "
            "design scrubs with acid only"
        )
    if cc.sections.strip is None or cc.strip is None:
        notes.append(
            "the source has no strip section: the design adds 6 strip stages with "
            "6 mol/L acid"
        )
    return notes


def _design_three(
    *,
    cc,
    name,
    order,
    rel,
    conc,
    specs,
    notes,
    optimum,
    purity_A,
    purity_B,
    draw,
    purity_middle,
    draw_section,
) -> DesignResult:
    dname = draw.name or "side_draw_1"
    # groups: C (raffinate) | B (draw) | A (strip liquor)
    mid = [s.component for s in specs if s.stream == dname and s.kind == "purity"]
    keyA = _key_of(specs, ORGANIC_SIDE, order[2:], None)
    keyC = _key_of(specs, ("raffinate",), order[:-2], None)
    if mid:
        lo = min(order.index(c) for c in mid)
        hi = max(order.index(c) for c in mid)
    else:
        lo = (order.index(keyC) + 1) if keyC else 1
        hi = (order.index(keyA) - 1) if keyA else len(order) - 2
    ia = order.index(keyA) if keyA else hi + 1
    ic = order.index(keyC) if keyC else lo - 1
    if not (0 <= ic < lo <= hi < ia <= len(order) - 1) or ia != hi + 1 or ic != lo - 1:
        raise DesignError(
            f"{name}: specs: the raffinate, side-draw and strip-liquor specs must name "
            "components in extraction order with the draw's in the middle "
            f"(order {', '.join(order)}); got raffinate {keyC}, draw "
            f"{', '.join(mid) or '-'}, strip liquor {keyA}"
        )
    gC, gB, gA = order[:lo], order[lo : hi + 1], order[hi + 1 :]
    kA, kB, kC = gA[0], gB[0], gC[-1]
    specs = _add_override_specs(specs, "strip_liquor", gA, purity_A, "purity_A", notes)
    specs = _add_override_specs(specs, "raffinate", gC, purity_B, "purity_B", notes)
    specs = _add_override_specs(specs, dname, gB, purity_middle, "purity_middle", notes)
    pA, srcA = _purity_target(specs, ORGANIC_SIDE, gA, None)
    pC, srcC = _purity_target(specs, ("raffinate",), gC, None)
    tot = sum(conc.get(c, 0.0) for c in order)
    xA = sum(conc.get(c, 0.0) for c in gA) / tot
    xB = sum(conc.get(c, 0.0) for c in gB) / tot
    xC = 1.0 - xA - xB
    pM, srcM = _purity_target(specs, (dname,), gB, None, default=min(0.9, 3.0 * xB))
    for src, stream, p, grp in (
        (srcA, "strip_liquor", pA, gA),
        (srcC, "raffinate", pC, gC),
        (srcM, dname, pM, gB),
    ):
        if src == "default":
            specs.append(DesignSpec(stream, "+".join(grp), "purity", p, "default"))
            what = (
                f"{p:g} (default: 3 x its feed fraction, at most 0.9)"
                if stream == dname
                else f"{p:g} (default)"
            )
            notes.append(
                f"no purity asked for {stream}: designed for {'+'.join(grp)} {what}"
            )
    if len(gA) > 1 or len(gB) > 1 or len(gC) > 1:
        notes.append(
            f"multicomponent feed lumped into {'+'.join(gC)} | {'+'.join(gB)} | "
            f"{'+'.join(gA)}; the theory's purities are group purities"
        )
    section = draw_section
    if section is None:
        n_ext = cc.sections.extraction.stages
        feed_stage = cc.feed.stage or (
            n_ext if cc.feed.phase == "aqueous" else n_ext + 1
        )
        section = "scrub" if draw.stage > feed_stage else "extraction"
    # impurity of the middle product split equally between A and C
    imp = (1.0 - pM) / 2.0
    notes.append(
        f"middle product {'+'.join(gB)} purity {pM:g}: the theory allows "
        f"{imp:.3g} of {'+'.join(gA)} and {imp:.3g} of {'+'.join(gC)} in it "
        "(impurity split equally between the two cuts)"
    )
    try:
        t = xu_three_outlet(
            [xA, xB, xC],
            pA,
            pC,
            rel[kA] / rel[gB[-1]],
            rel[kB] / rel[kC],
            middle_max_A=imp,
            middle_max_C=imp,
            feed_phase=cc.feed.phase,
            optimum=optimum,
            names=(kA, kB, kC),
            draw_section=section,
            impurity_basis="draw",
        )
    except ValueError as e:
        raise DesignError(
            f"{name}: specs: the closed-form three-outlet design cannot be made for "
            f"these purities ({_targets_text(specs)}): {e}"
        ) from None
    if section == "scrub":
        notes.append(
            f"three-outlet theory, draw in the scrub section: the {'+'.join(gA)} "
            "content of the draw is set by the equilibrium at the draw stage, which "
            "no stage count of the closed form controls; the kernel correction "
            "checks it"
        )
    else:
        notes.append(
            f"three-outlet theory, draw in the extraction section: the "
            f"{'+'.join(gC)} content of the draw (fed above it) is controlled by no "
            "stage count of the closed form; the kernel correction checks it"
        )
    theory_case = _to_case(t, cc, order, rel, conc, name)
    theory_case["side_draws"][0]["name"] = dname
    layout = f"three-outlet, draw in the {section} section"
    groups = {"strip_liquor": tuple(gA), dname: tuple(gB), "raffinate": tuple(gC)}
    return DesignResult(layout, t, specs, theory_case, {}, notes=notes, groups=groups)


# ------------------------------------------------------- kernel correction
def _correct_on_kernel(res: DesignResult, max_stage_rounds: int) -> None:
    from rexopt.lines.calibrate import calibrate_case

    k = _Kernel()
    base = copy.deepcopy(res.theory_case)
    # while the flows move, strip every site the organic may carry (up to the
    # calibration's +50 % organic); the strip is sized to the product at the end
    o = base["organic"]
    full = 1.5 * o["flow_L_h"] * o["saponification"] * o["extractant_mol_L"] / 3.0
    base["strip"]["flow_L_h"] = (
        3.0 * STRIP_EXCESS * full / base["strip"]["acidity_mol_L"]
    )
    ends = [s for s in res.specs if is_end_outlet(s.stream)]
    others = [s for s in res.specs if s not in ends]
    up = [s for s in ends if s.rises_with_scrub]
    down = [s for s in ends if not s.rises_with_scrub]
    calls = [0]

    def fn(r):
        calls[0] += 1
        m_up = min(_margins(up, r), default=1.0)
        m_down = min(_margins(down, r), default=1.0)
        return m_up, m_down, {"others": min(_margins(others, r), default=1.0)}

    three = "side_draws" in base
    in_scrub = res.layout.endswith("scrub section")
    best = None  # (score, case): score >= 0 when every spec is met

    def attempt(fd: float):
        nonlocal best
        trial = copy.deepcopy(base)
        if three:
            trial["side_draws"][0]["flow_L_h"] *= fd
        try:
            cal = calibrate_case(trial, fn, 0.0, 0.0)
        except CaseError as e:
            raise DesignError(
                f"{res.source}: correcting the flows on the kernel took the case "
                f"outside the limits of a case ({e}); the acid strengths or the "
                "feed of the source case are too far from what the design can size"
            ) from None
        k.calls += cal.get("simulations", 0)
        ends_ok = cal.get("org_factor") is not None
        if ends_ok:
            o, q = cal["organic_flow_L_h"], cal["scrub_flow_L_h"]
            score = min(0.0, cal.get("others", 1.0))
        elif "best_organic_flow_L_h" in cal:
            o, q = cal["best_organic_flow_L_h"], cal["best_scrub_flow_L_h"]
            # the worst margin of all specs: the closest point is the one that
            # misses its worst spec by the least
            worst = min(cal["purity_organic"], cal["purity_raffinate"], 0.0)
            score = min(worst, cal.get("others", 1.0))
        else:
            return False
        trial["organic"]["flow_L_h"], trial["scrub"]["flow_L_h"] = o, q
        if best is None or score > best[0]:
            best = (score, trial)
        return ends_ok

    added = 0
    for rnd in range(max_stage_rounds + 1):
        # three outlets: when the end specs are met, every draw flow is tried for
        # the draw's specs; when they are not, only the two nearest (a draw that
        # takes too much or too little can cost an end its purity), then stages
        ends_ok = attempt(1.0)
        if three and best is not None and best[0] < 0.0:
            for fd in DRAW_FACTORS[1:] if ends_ok else DRAW_FACTORS[1:3]:
                attempt(fd)
                if best[0] >= 0.0:
                    break
        if (best is not None and best[0] >= 0.0) or rnd == max_stage_rounds:
            break
        # no flows meet the specs at these stages: add stages to the extraction
        # and scrub sections (the draw keeps its share of its section) and retry
        added += 1
        secs = base["sections"]
        n_ext0, n_scr0 = secs["extraction"]["stages"], secs["scrub"]["stages"]
        n_ext = n_ext0 + max(1, math.ceil(STAGE_GROWTH * n_ext0))
        n_scr = n_scr0 + max(1, math.ceil(STAGE_GROWTH * n_scr0))
        secs["extraction"]["stages"], secs["scrub"]["stages"] = n_ext, n_scr
        base["feed"]["stage"] += n_ext - n_ext0
        if three:
            d = base["side_draws"][0]
            if in_scrub:
                d["stage"] = n_ext + max(
                    1, round((d["stage"] - n_ext0) * n_scr / n_scr0)
                )
            else:
                d["stage"] = max(1, min(n_ext - 1, round(d["stage"] * n_ext / n_ext0)))
    res.simulations = k.calls
    if best is None:
        res.case = copy.deepcopy(res.theory_case)
        res.notes.append(
            "the kernel failed at every corrected operating point tried; the case "
            "written is the closed form's"
        )
        return
    res.case = copy.deepcopy(best[1])
    if _strip_for_capacity(res.case):
        res.notes.append(
            "the scrub acid leaves under 5 % of the organic's sites loaded; the strip "
            "acid is sized for 5 % of them"
        )
    if added:
        res.notes.append(
            f"stages added on the kernel: {added} round(s) of +{STAGE_GROWTH:.0%} "
            "to the extraction and scrub sections (the closed-form stage numbers "
            "were not enough for the kernel)"
        )
    if best[0] < 0.0:
        res.notes.append(
            "no flows found that meet every spec on the kernel; the case written is "
            "the closest point found (see the misses below)"
        )


def _final_check(res: DesignResult) -> None:
    k = _Kernel()
    res.result_closed_form, err0 = k.run(res.theory_case)
    if err0:
        res.notes.append(f"kernel at the closed-form flows failed: {err0}")
    res.result, err = k.run(res.case)
    res.simulations += k.calls
    if err:
        res.notes.append(f"kernel at the designed flows failed: {err}")
    else:
        res.notes += [
            f"kernel, designed case: {w}"
            for w in res.result.warnings
            if w not in res.notes
        ]
    theory = _theory_values(res)
    res.checks = []
    for s in res.specs:
        kv = spec_value(s, res.result) if res.result is not None else math.nan
        if res.result is None:
            res.checks.append(
                {
                    "spec": s.label,
                    "source": s.source,
                    "target": s.target,
                    "theory": theory.get((s.stream, s.component, s.kind)),
                    "kernel_closed_form": math.nan,
                    "kernel": math.nan,
                    "met": False,
                    "shortfall": None,
                }
            )
            res.notes.append(
                f"NOT MET: {s.label}: the kernel did not solve the designed case"
            )
            continue
        k0 = (
            spec_value(s, res.result_closed_form)
            if res.result_closed_form is not None
            else math.nan
        )
        met = bool(kv >= s.target)
        res.checks.append(
            {
                "spec": s.label,
                "source": s.source,
                "target": s.target,
                "theory": theory.get((s.stream, s.component, s.kind)),
                "kernel_closed_form": k0,
                "kernel": kv,
                "met": met,
                "shortfall": 0.0 if met else s.target - kv,
            }
        )
        if not met:
            res.notes.append(
                f"NOT MET: {s.label}: the kernel gives {kv:.6g}, short by "
                f"{s.target - kv:.3g}"
            )
    res.met = res.result is not None and all(c["met"] for c in res.checks)
    res.changes = _changes(res.theory_case, res.case)
    res.figures = _figures(res)


def _theory_values(res: DesignResult) -> dict:
    """Xu's figures for each product group: (stream, "A+B", kind) -> value."""
    t = res.theory
    g = {k: "+".join(v) for k, v in res.groups.items()}
    out: dict = {}
    if isinstance(t, XuDesign):
        out[("strip_liquor", g["strip_liquor"], "purity")] = t.purity_A
        out[("strip_liquor", g["strip_liquor"], "recovery")] = t.yield_A
        out[("raffinate", g["raffinate"], "purity")] = t.purity_B
        out[("raffinate", g["raffinate"], "recovery")] = t.yield_B
        return out
    out[("strip_liquor", g["strip_liquor"], "purity")] = t.upper.purity_A
    out[("strip_liquor", g["strip_liquor"], "recovery")] = t.upper.yield_A
    out[("raffinate", g["raffinate"], "purity")] = t.lower.purity_B
    out[("raffinate", g["raffinate"], "recovery")] = t.lower.yield_B
    dname = next(k for k in g if k not in ("strip_liquor", "raffinate"))
    D, P, R = t.draw_fraction, t.upper.fp_A, t.lower.fp_B
    if D > 0:
        a_in_draw = (1.0 - t.upper.purity_B) * (D + R) / D
        c_in_draw = (1.0 - t.lower.purity_A) * (P + D) / D
        mid = 1.0 - a_in_draw - c_in_draw
        x_mid = 1.0 - t.upper.f_A - t.lower.f_B
        out[(dname, g[dname], "purity")] = mid
        out[(dname, g[dname], "recovery")] = mid * D / x_mid
    return out


def _figures(res: DesignResult) -> list[dict]:
    """Purity and recovery of each product group: theory and kernel."""
    theory = _theory_values(res)
    out = []
    for kind in ("purity", "recovery"):
        for stream, grp in res.groups.items():
            spec = DesignSpec(stream, "+".join(grp), kind, 0.0)

            def val(r, spec=spec):
                return math.nan if r is None else spec_value(spec, r)

            out.append(
                {
                    "quantity": f"{spec.component} {kind} in {stream}",
                    "theory": theory.get((stream, spec.component, kind)),
                    "kernel_closed_form": val(res.result_closed_form),
                    "kernel": val(res.result),
                }
            )
    return out


def _changes(th: dict, de: dict) -> list[dict]:
    rows = []

    def add(q, unit, a, b):
        rows.append({"quantity": q, "unit": unit, "closed_form": a, "designed": b})

    for sec in ("extraction", "scrub", "strip"):
        if sec in th["sections"]:
            add(
                f"{sec} stages",
                "stages",
                th["sections"][sec]["stages"],
                de["sections"][sec]["stages"],
            )
    add("organic flow", "L/h", th["organic"]["flow_L_h"], de["organic"]["flow_L_h"])
    add("scrub acid flow", "L/h", th["scrub"]["flow_L_h"], de["scrub"]["flow_L_h"])
    add("strip acid flow", "L/h", th["strip"]["flow_L_h"], de["strip"]["flow_L_h"])
    add("feed stage", "stage", th["feed"]["stage"], de["feed"]["stage"])
    for i, (a, b) in enumerate(
        zip(th.get("side_draws", []), de.get("side_draws", []), strict=True)
    ):
        add(f"side draw {b.get('name', i + 1)} stage", "stage", a["stage"], b["stage"])
        add(
            f"side draw {b.get('name', i + 1)} flow",
            "L/h",
            a["flow_L_h"],
            b["flow_L_h"],
        )
    return rows
