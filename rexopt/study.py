"""One interface for every kind of study: load, validate, run, report, sweep.

A *study kind* is what a case file asks rexopt to do:

=====================  =================================  ==========================
study kind             case file                          command
=====================  =================================  ==========================
``cascade``            ``kind = "cascade"``               ``rexopt simulate``
``cascade_optimize``   ``kind = "cascade"`` + [optimize]  ``rexopt optimize``
``cascade_design``     ``kind = "cascade"`` (saturated)   ``rexopt design`` (sweeps)
``separation_line``    ``kind = "separation_line"``       ``rexopt optimize``
``ndfeb_flowsheet``    ``kind = "ndfeb_flowsheet"``       ``rexopt optimize``
=====================  =================================  ==========================

Each kind registers a :class:`StudyKind`: its loader (the very function its run
uses to read the case, so a case that validates never fails on input), a one-line
description of a valid case, its run, the options its run honours (``json``,
``out``, ``pareto``, ``plot``; any other option is refused with the reason), and
its sweep evaluator (``"module:function"``, see :mod:`rexopt.sweep.evaluators`).
A run returns an :class:`Outcome`: the kind's own result object, its flat
``summary()`` of scalars (the same numbers a sweep stores), ``to_dict()`` with a
schema id, and a text report.

>>> from rexopt.study import study_for, validate_file
>>> validate_file("cases/prnd_p507.toml")            # doctest: +SKIP
'cascade: 80 stages, 2 species, saturated model'
"""

from __future__ import annotations

import importlib
import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "StudyInputError",
    "StudyKind",
    "Outcome",
    "register_study",
    "study_kinds",
    "get_study",
    "study_for",
    "study_name_for",
    "read_raw",
    "validate_file",
    "validate_sweep",
    "is_sweep_file",
    "flatten_numbers",
    "opt_summary",
    "line_summary",
    "ndfeb_summary",
    "design_summary",
    "REAGENT_ALIASES",
    "reagent_name",
    "one_spelling",
]

OPTIONS = ("json", "out", "pareto", "plot")

# One spelling per reagent in what rexopt prints; the other spellings are
# accepted where cases are read (see :func:`reagent_name`).
REAGENT_ALIASES = {"MgHCO3": "Mg(HCO3)2", "Mg(HCO3)2": "Mg(HCO3)2"}


def reagent_name(name: str) -> str:
    """The printed spelling of a reagent (``MgHCO3`` -> ``Mg(HCO3)2``)."""
    return REAGENT_ALIASES.get(name, name)


_MG_RE = None


def one_spelling(text: str) -> str:
    """Printed text with one spelling per reagent: the NdFeB plant's data files
    name the magnesium agent ``MgHCO3`` (a data key); printed, it is ``Mg(HCO3)2``
    as in cascade cases."""
    global _MG_RE
    if _MG_RE is None:
        import re

        _MG_RE = re.compile(r"(?<![\w(])MgHCO3(?![\w)])")
    return _MG_RE.sub("Mg(HCO3)2", text)


class StudyInputError(ValueError):
    """A case or sweep file that cannot be used; the message names file and field."""


@dataclass
class Outcome:
    """What a study run produced, the same way for every kind.

    ``result`` is the kind's own result object (:class:`rexopt.results.CascadeResult`,
    :class:`rexopt.design.optimize.OptimizeResult`, the separation-line result dict,
    the NdFeB plant ``Result``).  ``exit_code`` is 0 for an answer that met its
    specs, 1 for an infeasible or unverified one.
    """

    kind: str
    source: str
    result: Any
    schema: str
    summary_fn: Callable[[Any], dict]
    dict_fn: Callable[[Any], dict]
    report_fn: Callable[[Any], str]
    exit_code: int = 0
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Flat scalars (the outputs a sweep of this kind can store)."""
        return self.summary_fn(self.result)

    def to_dict(self) -> dict:
        """Every number of the result, JSON-ready, with ``schema`` first."""
        d = self.dict_fn(self.result)
        return {"schema": self.schema, **{k: v for k, v in d.items() if k != "schema"}}

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict`; a number that is not finite is written as null."""
        text = json.dumps(_clean(self.to_dict()), indent=1, allow_nan=False)
        Path(path).write_text(text, encoding="utf-8")

    def report(self) -> str:
        return self.report_fn(self.result)


@dataclass(frozen=True)
class StudyKind:
    """How one kind of study is loaded, checked, run, reported and swept.

    Attributes
    ----------
    name : str
        The study kind (``"cascade"``, ``"ndfeb_flowsheet"`` ...).
    case_kind : str
        The ``kind`` written in its case files.
    title : str
        Plain words for messages.
    load : callable
        ``load(source) -> case object``; ``source`` is a path or a dict.  The same
        function its run uses; raises one of ``input_errors``.
    describe : callable
        ``describe(case object) -> str``: one line about a valid case.
    run : callable
        ``run(path, options: dict) -> Outcome``; options hold only the keys in
        ``options`` (``json``, ``out``, ``pareto``, ``plot``, ``time_limit`` [s],
        ``loop_passes``: the organic loop's passes, ``max_recycle``).
    options : frozenset of str
        Command options this kind honours.
    refused : dict
        Option -> why the kind does not take it (shown when it is given).
    sweep_factory : str
        ``"module:function"`` evaluator factory for sweeps of this kind.
    input_errors : callable
        ``() -> tuple of exception classes`` that mean bad input.
    """

    name: str
    case_kind: str
    title: str
    load: Callable[[Any], Any]
    describe: Callable[[Any], str]
    run: Callable[[Path, dict], Outcome] | None
    options: frozenset = frozenset()
    refused: Mapping[str, str] = field(default_factory=dict)
    sweep_factory: str = ""
    input_errors: Callable[[], tuple] = lambda: ()
    command: str = "optimize"

    def check_options(self, given: Mapping[str, Any]) -> str | None:
        """None if every given option applies; else the refusal in words."""
        bad = [k for k, v in given.items() if v is not None and k not in self.options]
        if not bad:
            return None
        parts = []
        for k in bad:
            why = self.refused.get(k, f"a {self.title} has no use for it")
            parts.append(f"--{k} does not apply to a {self.title}: {why}")
        return "; ".join(parts)

    def load_checked(self, source, *, where: str | None = None):
        """``load(source)`` with every input error as :class:`StudyInputError`."""
        try:
            return self.load(source)
        except StudyInputError:
            raise
        except self.input_errors() as exc:
            raise StudyInputError(_with_where(str(exc), where)) from None


_KINDS: dict[str, StudyKind] = {}


def register_study(kind: StudyKind) -> None:
    """Add (or replace) a study kind."""
    _KINDS[kind.name] = kind


def study_kinds() -> list[str]:
    return sorted(_KINDS)


def get_study(name: str) -> StudyKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise StudyInputError(
            f"study kind {name!r} is not known; known: {', '.join(study_kinds())}"
        ) from None


def _with_where(msg: str, where: str | None) -> str:
    if where and where not in msg:
        return f"{where}: {msg}"
    return msg


# ------------------------------------------------------------------ reading files


def read_raw(path: str | Path) -> dict:
    """The TOML mapping of a file; missing file / bad TOML as StudyInputError."""
    p = Path(path)
    if not p.is_file():
        raise StudyInputError(f"{p}: no such file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyInputError(f"{p}: not a text (UTF-8) file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyInputError(f"{p}: not valid TOML: {exc}") from None


def study_name_for(raw: Mapping, *, study: str | None = None, where: str = "") -> str:
    """The study kind of a case mapping.

    ``kind = "cascade"`` (the default) with an ``[optimize]`` table is a
    ``cascade_optimize`` study; ``study`` (from a sweep file) asks for another
    study of the same case, e.g. ``"cascade_design"``.
    """
    ck = raw.get("kind", "cascade")
    if study is not None:
        k = get_study(study)
        if k.case_kind != ck:
            raise StudyInputError(
                f"{where}: study = {study!r} needs a case of kind = "
                f"{k.case_kind!r}, the base case has kind = {ck!r}"
            )
        return study
    if ck == "cascade" and "optimize" in raw:
        return "cascade_optimize"
    for k in _KINDS.values():
        if k.case_kind == ck and k.name == ck:
            return k.name
    allowed = sorted({k.case_kind for k in _KINDS.values()})
    raise StudyInputError(
        f"{where}: kind: {ck!r} -- allowed: {', '.join(repr(a) for a in allowed)}"
    )


def study_for(path: str | Path) -> tuple[StudyKind, dict]:
    """The study kind of a case file, and its raw mapping."""
    raw = read_raw(path)
    return get_study(study_name_for(raw, where=str(path))), raw


# top-level fields only a sweep file has (no case kind has them)
_SWEEP_FIELDS = frozenset(
    {"base", "study", "parameters", "sampling", "outputs", "cluster", "execution"}
)


def is_sweep_file(raw: Mapping) -> bool:
    """A sweep file has no ``kind`` and at least one field only sweeps have
    (``base``, ``parameters``, ``outputs`` ...), so a sweep file missing its
    ``base`` is still read, and refused, as a sweep."""
    return "kind" not in raw and any(k in raw for k in _SWEEP_FIELDS)


def validate_file(path: str | Path) -> str:
    """Validate a case or sweep file exactly as its run would; one line if good.

    Raises
    ------
    StudyInputError
        Every problem found, naming the file, field, value and what is allowed.
    """
    return check_file(path)[1]


def check_file(path: str | Path) -> tuple[str, str, list[str]]:
    """:func:`validate_file` with more: ``(kind, line, notes)``.

    ``kind`` is the study kind (``"sweep"`` for a sweep file); ``notes`` are the
    loaded case's notes (:attr:`rexopt.case.CascadeCase.notes`: which data file gave
    which parameters, a table set aside), empty for kinds without them.
    """
    raw = read_raw(path)
    if is_sweep_file(raw):
        return "sweep", validate_sweep(path), []
    kind = get_study(study_name_for(raw, where=str(path)))
    obj = kind.load_checked(Path(path), where=str(path))
    return kind.name, f"{kind.name}: {kind.describe(obj)}", case_notes(obj)


def case_notes(obj) -> list[str]:
    """The notes of a loaded cascade case (a Cascade, an optimization problem or
    the case itself); empty for other objects."""
    case = getattr(obj, "case", obj)
    notes = getattr(case, "notes", None)
    return [str(n) for n in notes] if isinstance(notes, list | tuple) else []


def validate_sweep(path: str | Path) -> str:
    """Load a sweep file: its schema, its base case through the base kind's loader,
    and the first scenario's case (so a wrong path or value type shows now)."""
    from rexopt.sweep.spec import SweepFileError, load_sweep

    try:
        sw = load_sweep(path)
    except SweepFileError as exc:
        raise StudyInputError(str(exc)) from None
    return (
        f"sweep: {sw.n_scenarios:,} scenarios of a {sw.kind} study, "
        f"{len(sw.parameters)} parameters, {len(sw.outputs)} outputs"
    )


# -------------------------------------------------------------------- summaries


def flatten_numbers(d: Mapping, prefix: str = "", sep: str = ".") -> dict[str, float]:
    """Numeric leaves of a nested mapping as ``{"a.b.c": float}`` (bools as 0/1).

    Strings, lists and None are left out: a sweep stores numbers only.
    """
    out: dict[str, float] = {}
    for k, v in d.items():
        k = _key(str(k)) or "_"
        key = f"{prefix}{sep}{k}" if prefix else k
        if isinstance(v, Mapping):
            out.update(flatten_numbers(v, key, sep))
        elif isinstance(v, bool):
            out[key] = float(v)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = float(v)
    return out


def _clean(o):
    """A JSON-ready copy: tables as records, numpy as Python, NaN/inf as None."""
    if isinstance(o, Mapping):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, list | tuple | set):
        return [_clean(v) for v in o]
    if isinstance(o, bool) or o is None or isinstance(o, str | int):
        return o
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    conv = _jsonable(o)
    if conv is o or isinstance(conv, str):
        return conv
    return _clean(conv)


def _jsonable(o):
    import numpy as np
    import pandas as pd

    if isinstance(o, pd.DataFrame):
        return o.to_dict(orient="records")
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if hasattr(o, "as_dict"):
        return o.as_dict()
    return str(o)


# ------------------------------------------------------------------------ kinds
# Loaders are the functions each run reads its case with; they are imported when
# called so that `rexopt --help` stays fast.


def _cascade_errors():
    from rexopt.case import CaseError
    from rexopt.design.optimize import OptimizeError

    return (CaseError, OptimizeError)


def _cascade_load(source):
    """A Cascade ready to simulate (:func:`rexopt.case.load_cascade`, what simulate
    builds before the kernel); a case with an [optimize] table is read by the
    optimizer's reader (which checks that table) and simulated as written."""
    from rexopt.case import load_cascade

    where = None if isinstance(source, dict) else str(source)
    # load_case checks an [optimize] table and sets it aside, with a note saying so
    return load_cascade(source, name=where)


def _cascade_describe(c) -> str:
    return f"{c.case.n_stages} stages, {len(c.species)} species, {c.model} model"


def _cascade_summary(res) -> dict:
    return res.summary()


def _cascade_report(res) -> str:
    return res.report()


def _cascade_run(path: Path, opts: dict) -> Outcome:
    from rexopt.cascade import LOOP_PASSES, CascadeError

    c = _CASCADE_KIND.load_checked(path, where=str(path))
    try:
        res = c.simulate(
            time_limit_s=opts.get("time_limit"),
            max_recycle=opts.get("loop_passes", LOOP_PASSES),
        )
    except CascadeError as exc:
        raise StudyRunError(f"{path}: simulation: {exc}", code=3) from None
    oc = Outcome(
        "cascade",
        str(path),
        res,
        _results_schema(),
        _cascade_summary,
        lambda r: r.to_dict(),
        _cascade_report,
        warnings=list(res.warnings),
        notes=case_notes(c),
    )
    if opts.get("json"):
        res.to_json(opts["json"])
        oc.files["json"] = str(opts["json"])
    if opts.get("plot"):
        res.plot(opts["plot"])
        oc.files["plot"] = str(opts["plot"])
    return oc


def _results_schema() -> str:
    from rexopt.results import SCHEMA

    return SCHEMA


class StudyRunError(RuntimeError):
    """A run that could not finish (not bad input); ``code`` is the exit status."""

    def __init__(self, msg: str, code: int = 3):
        super().__init__(msg)
        self.code = code


def _opt_errors():
    from rexopt.case import CaseError
    from rexopt.design.optimize import OptimizeError

    return (OptimizeError, CaseError)


def _opt_load(source):
    from rexopt.design.optimize import problem_from

    where = str(source) if not isinstance(source, dict) else None
    return problem_from(source, where=where)


def _opt_describe(pb) -> str:
    o = pb.opt
    return (
        f"{pb.case.n_stages} stages in the base case, {len(o.specs)} specs, "
        f"objective {o.objective}"
    )


def opt_summary(res) -> dict:
    """Scalars of an OptimizeResult: status, design, cost, verified purities."""
    out: dict[str, float] = {
        "feasible": float(res.best is not None),
        "verified": float(bool(res.verified)),
        "optimal": float(res.status == "optimal"),
        "seconds": float(res.seconds),
        "kernel_calls": float(res.kernel_calls),
    }
    for k, v in res.design_table().items():
        if isinstance(v, int | float):
            out["design." + _key(k)] = float(v)
    b = res.best
    if b is not None and getattr(b, "cost", None) is not None:
        out.update(flatten_numbers(b.cost.as_dict(), "cost"))
    for i, s in enumerate(res.spec_check or []):
        for k, v in s.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"spec{i}.{k}"] = float(v)
            elif isinstance(v, bool):
                out[f"spec{i}.{k}"] = float(v)
    if res.verification is not None:
        out.update({f"sim.{k}": v for k, v in res.verification.summary().items()})
    return out


def _key(label: str) -> str:
    """'organic flow [L/h]' -> 'organic_flow_L_h' (units kept in the name)."""
    s = label.replace("[", "").replace("]", "").replace("/", "_").replace("-", "")
    s = s.replace("(", "").replace(")", "").strip()
    return "_".join(s.split())


def _opt_report(res) -> str:
    lines = [f"{res.status}: {res.claim}"]
    if res.message:
        lines.append(res.message)
    for k, v in res.design_table().items():
        lines.append(f"  {k}: {v:.6g}" if isinstance(v, float) else f"  {k}: {v}")
    return "\n".join(lines)


def _opt_run(path: Path, opts: dict) -> Outcome:
    from rexopt.design.cli import print_result, write_pareto
    from rexopt.design.optimize import optimize, pareto_recovery, pareto_stages

    pb = _OPT_KIND.load_checked(path, where=str(path))
    res = optimize(path, where=str(path))
    print_result(res)
    extra: dict = {}
    oc = Outcome(
        "cascade_optimize",
        str(path),
        res,
        "rexopt.cascade_optimum/1",
        opt_summary,
        lambda r: {**r.to_dict(), **extra},
        _opt_report,
    )
    if opts.get("pareto"):
        stage_rows, rec_rows = pareto_stages(pb), pareto_recovery(pb)
        for p in write_pareto(str(opts["pareto"]), stage_rows, rec_rows):
            oc.files[f"pareto {Path(p).suffix[1:]} {Path(p).stem}"] = p
        extra["pareto"] = {
            "stages_vs_reagent": stage_rows,
            "recovery_vs_cost": rec_rows,
        }
    if opts.get("out"):
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
        p = out / f"{path.stem}_optimum.json"
        oc.to_json(p)
        oc.files["result json"] = str(p)
        if res.case is not None:
            import tomli_w

            c = out / f"{path.stem}_optimum_case.toml"
            c.write_text(
                f"# optimum design of {path.name} found by rexopt optimize\n"
                + tomli_w.dumps(_drop_none(res.case)),
                encoding="utf-8",
            )
            oc.files["case"] = str(c)
    if opts.get("json"):
        oc.to_json(opts["json"])
        oc.files["json"] = str(opts["json"])
    oc.exit_code = 0 if (res.best is not None and res.verified) else 1
    return oc


def _drop_none(o):
    """A case dict without None values (TOML has no null: an unset field)."""
    if isinstance(o, Mapping):
        return {k: _drop_none(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [_drop_none(v) for v in o if v is not None]
    return o


def _design_load(source):
    """The design's own reader (:func:`rexopt.design.casedesign.read_design_case`):
    the cascade case and the specs of its [optimize] table."""
    from rexopt.design.casedesign import read_design_case

    where = None if isinstance(source, dict) else str(source)
    return read_design_case(source, where=where)


def _design_errors():
    from rexopt.case import CaseError
    from rexopt.design.casedesign import DesignError

    return (DesignError, CaseError)


def _design_describe(t) -> str:
    case, specs, _ = t
    return (
        f"{case.n_stages} stages, {len(specs)} spec(s) from [optimize] "
        "(default purities otherwise)"
    )


def design_summary(r) -> dict:
    """Scalars of a DesignResult: Xu's theory, designed flows, spec checks, and
    the kernel's summary of the designed case (``kernel.<key>``)."""
    out: dict[str, float] = {
        "met": float(bool(r.met)),
        "simulations": float(r.simulations),
    }
    for k, v in r.theory.table(units=False).items():
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[f"theory.{k}"] = float(v)
    for c in r.changes:
        name, unit = str(c["quantity"]), str(c.get("unit") or "")
        q = _key(f"{name} {unit}" if unit and unit not in name else name)
        for k in ("closed_form", "designed"):
            v = c.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"{k}.{q}"] = float(v)
    for i, c in enumerate(r.checks):
        for k in ("target", "theory", "kernel_closed_form", "kernel", "shortfall"):
            v = c.get(k)
            out[f"check{i}.{k}"] = (
                float(v)
                if isinstance(v, int | float) and not isinstance(v, bool)
                else math.nan
            )
        out[f"check{i}.met"] = float(bool(c.get("met")))
    if r.result is not None:
        out.update({f"kernel.{k}": v for k, v in r.result.summary().items()})
    return out


def _line_errors():
    from rexopt.lines.case import LineCaseError

    return (LineCaseError,)


def _line_load(source):
    from rexopt.lines.case import load_line_case

    return load_line_case(source)


def _line_describe(lc) -> str:
    return (
        f"{len(lc.products)} products ({', '.join(p.name for p in lc.products)}), "
        f"objective {lc.objective.kind}"
    )


def line_summary(res: dict) -> dict:
    """Scalars of a separation-line result: metrics of the chosen line, checks."""
    ch = res["chosen"]
    out = {f"metric.{k}": float(v) for k, v in ch.get("metrics", {}).items()}
    out["cascades"] = float(len(ch.get("cascades", [])))
    out["links"] = float(len(ch.get("links", []) or []))
    for name, comp in res.get("savings_of_chosen_vs", {}).items():
        for m, v in comp.items():
            if isinstance(v, Mapping) and "saving_pct" in v:
                out[f"saving_vs_{name}.{m}_pct"] = float(v["saving_pct"])
    kc = res.get("kernel_check") or {}
    for p, v in (kc.get("products") or {}).items():
        for k in ("purity", "recovery", "purity_margin", "recovery_margin"):
            if k in v:
                out[f"kernel.{p}.{k}"] = float(v[k])
        if "met" in v:
            out[f"kernel.{p}.met"] = float(bool(v["met"]))
    out["seconds"] = float(res.get("seconds", {}).get("total", math.nan))
    return out


def _line_dict(res: dict) -> dict:
    return {k: v for k, v in res.items() if not k.startswith("_")}


def _line_report(res: dict) -> str:
    from rexopt.lines.report import report_text

    return report_text(res)


def _line_run(path: Path, opts: dict) -> Outcome:
    from rexopt.lines.cli import print_line_result
    from rexopt.lines.report import optimize_line, write_outputs

    lc = _LINE_KIND.load_checked(path, where=str(path))
    try:
        res = optimize_line(lc)
    except _line_spec_error() as exc:
        raise StudyRunError(f"{path}: {exc}", code=1) from None
    res["case"] = res.get("case") or str(path)
    out = Path(opts.get("out") or "out")
    paths = write_outputs(res, out)
    print_line_result(res, paths)
    oc = Outcome(
        "separation_line",
        str(path),
        res,
        "rexopt.separation_line/1",
        line_summary,
        _line_dict,
        _line_report,
        files={k: str(v) for k, v in paths.items()},
    )
    kc = res.get("kernel_check") or {}
    if any(not v.get("met", True) for v in (kc.get("products") or {}).values()):
        oc.exit_code = 1
    if opts.get("json"):
        oc.to_json(opts["json"])
        oc.files["json"] = str(opts["json"])
    return oc


def _line_spec_error():
    from rexopt.lines.superstructure import LineSpecError

    return LineSpecError


def _ndfeb_module():
    return importlib.import_module("rexopt.flowsheets.ndfeb_recycling")


def _ndfeb_errors():
    nd = _ndfeb_module()
    from rexopt.units import data as unitdata

    return (nd.CaseError, unitdata.DataError)


def _ndfeb_load(source):
    case, _ = _ndfeb_module().load_case(source)
    return case


def _ndfeb_describe(case) -> str:
    cap = case.plant.scrap_t_yr
    cap_s = "free capacity" if cap is None else f"{cap:,.0f} t/yr scrap"
    return f"{case.name}: {cap_s}, objective {case.objective.kind}"


def ndfeb_summary(res) -> dict:
    """Scalars of an NdFeB plant result (nested summary flattened with dots)."""
    out = flatten_numbers(res.summary)
    rep = res.solve
    out["solve.proven_optimal"] = float(rep.status == "optimal")
    out["solve.seconds"] = float(rep.seconds)
    if rep.gap is not None:
        out["solve.gap"] = float(rep.gap)
    return out


def _ndfeb_dict(res) -> dict:
    return {
        "summary": res.summary,
        "solve": res.solve.as_dict(),
        "timings_s": res.timings_s,
        "tables": {k: v for k, v in res.tables.items()},
        "pareto": res.pareto,
        "files": res.files,
    }


def _ndfeb_run(path: Path, opts: dict) -> Outcome:
    nd = _ndfeb_module()
    from rexopt.units import sx

    _NDFEB_KIND.load_checked(path, where=str(path))
    out = Path(opts.get("out") or "out")
    try:
        res = nd.main(path, out)
    except nd.InfeasibleCase as exc:
        raise StudyRunError(f"{path}: {exc}", code=1) from None
    except sx.KernelUnavailable as exc:
        raise StudyRunError(f"{path}: {exc}", code=3) from None
    print(one_spelling(nd.report(res)))
    oc = Outcome(
        "ndfeb_flowsheet",
        str(path),
        res,
        "rexopt.ndfeb_plant/1",
        ndfeb_summary,
        _ndfeb_dict,
        nd.report,
        files=dict(res.files),
    )
    if res.solve.warning:
        oc.warnings.append(res.solve.warning)
    if opts.get("json"):
        oc.to_json(opts["json"])
        oc.files["json"] = str(opts["json"])
    return oc


_CASCADE_KIND = StudyKind(
    name="cascade",
    case_kind="cascade",
    title="cascade simulation",
    load=_cascade_load,
    describe=_cascade_describe,
    run=_cascade_run,
    options=frozenset({"json", "plot", "time_limit", "loop_passes"}),
    refused={
        "out": "a simulation writes only --json and --plot files",
        "pareto": "a simulation has one answer; add an [optimize] table for fronts",
    },
    sweep_factory="rexopt.sweep.evaluators:cascade_factory",
    input_errors=_cascade_errors,
    command="simulate",
)
_OPT_KIND = StudyKind(
    name="cascade_optimize",
    case_kind="cascade",
    title="cascade optimization",
    load=_opt_load,
    describe=_opt_describe,
    run=_opt_run,
    options=frozenset({"json", "out", "pareto"}),
    refused={"plot": "the optimum's profile: simulate the case written to --out"},
    sweep_factory="rexopt.sweep.evaluators:optimize_factory",
    input_errors=_opt_errors,
)
_DESIGN_KIND = StudyKind(
    name="cascade_design",
    case_kind="cascade",
    title="cascade design (Xu closed form)",
    load=_design_load,
    describe=_design_describe,
    run=None,  # `rexopt design` (rexopt/design/cli.py) runs it
    sweep_factory="rexopt.sweep.evaluators:design_factory",
    input_errors=_design_errors,
    command="design",
)
_LINE_KIND = StudyKind(
    name="separation_line",
    case_kind="separation_line",
    title="separation line",
    load=_line_load,
    describe=_line_describe,
    run=_line_run,
    options=frozenset({"json", "out"}),
    refused={
        "pareto": "set objective.pareto = [a, b] in the case; the front goes to --out",
        "plot": "the line's plots are written to --out",
    },
    sweep_factory="rexopt.sweep.evaluators:line_factory",
    input_errors=_line_errors,
)
_NDFEB_KIND = StudyKind(
    name="ndfeb_flowsheet",
    case_kind="ndfeb_flowsheet",
    title="NdFeB recycling plant",
    load=_ndfeb_load,
    describe=_ndfeb_describe,
    run=_ndfeb_run,
    options=frozenset({"json", "out"}),
    refused={
        "pareto": "set [pareto] enabled = true in the case; the front goes to "
        "OUT/pareto.csv",
        "plot": "the plant's Sankey diagram is written to --out",
    },
    sweep_factory="rexopt.sweep.evaluators:ndfeb_factory",
    input_errors=_ndfeb_errors,
)

for _k in (_CASCADE_KIND, _OPT_KIND, _DESIGN_KIND, _LINE_KIND, _NDFEB_KIND):
    register_study(_k)
