"""Sweep files: the pydantic schema, loading, and the resolved :class:`Sweep`.

A sweep file names a base case, the parameters to vary (dotted paths into the case
dict), the outputs to keep, how scenarios are sampled and where they run.  The full
schema is documented in ``docs/sweeps.md``.  Every error raised while loading names
the file, the field, the bad value and what is allowed (:class:`SweepFileError`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from rexopt.case_data import absolute_data_paths
from rexopt.schema import StrictModel, finite

__all__ = [
    "SweepFileError",
    "SweepSpec",
    "Parameter",
    "Sampling",
    "Execution",
    "Report",
    "LocalClusterConfig",
    "ProcessesConfig",
    "SerialConfig",
    "JobqueueConfig",
    "Sweep",
    "load_sweep",
    "sweep_from_dict",
    "parse_path",
    "get_path",
    "set_path",
    "case_hash",
]


class SweepFileError(ValueError):
    """A sweep file (or dict) is invalid; the message names file, field, value."""


class _Strict(StrictModel):
    """Strict base (rexopt.schema): no bool/str as numbers, finite, no unknown keys."""


# --------------------------------------------------------------------------- values


class Grid(_Strict):
    """Evenly spaced values ``start .. stop`` (both included)."""

    start: float
    stop: float
    num: int = Field(ge=1, le=100_000, description="number of points, 1..100,000")
    log: bool = Field(False, description="geometric spacing (start, stop > 0)")

    @model_validator(mode="after")
    def _check_log(self):
        if self.log and (self.start <= 0 or self.stop <= 0):
            raise ValueError("log = true needs start > 0 and stop > 0")
        return self


class _Bounded(_Strict):
    """A distribution with bounds ``lo < hi`` (declared by each subclass)."""

    @model_validator(mode="after")
    def _order(self):
        if not self.hi > self.lo:
            raise ValueError(f"needs hi > lo (got lo = {self.lo}, hi = {self.hi})")
        return self


class Uniform(_Bounded):
    kind: Literal["uniform"]
    lo: float
    hi: float


class LogUniform(_Bounded):
    kind: Literal["loguniform"]
    lo: float = Field(gt=0)
    hi: float = Field(gt=0)


class Normal(_Strict):
    kind: Literal["normal"]
    mean: float
    std: float = Field(gt=0)


class TruncNormal(_Bounded):
    kind: Literal["truncnormal"]
    mean: float
    std: float = Field(gt=0)
    lo: float
    hi: float


class LogNormal(_Strict):
    kind: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0, le=10, description="std of ln(x), <= 10")


class Triangular(_Strict):
    kind: Literal["triangular"]
    lo: float
    mode: float
    hi: float

    @model_validator(mode="after")
    def _order(self):
        if not (self.lo <= self.mode <= self.hi and self.hi > self.lo):
            raise ValueError(
                f"needs lo <= mode <= hi and hi > lo (got {self.lo}, {self.mode}, "
                f"{self.hi})"
            )
        return self


Distribution = Annotated[
    Uniform | LogUniform | Normal | TruncNormal | LogNormal | Triangular,
    Field(discriminator="kind"),
]

_NAME_RE = re.compile(r"^[^/]+$")

# Most scenarios one sweep file may define: the table holds 8 bytes per scenario
# and parameter in memory and in the HDF5 file (10 million: 80 MB per column).
MAX_SCENARIOS = 10_000_000


class Parameter(_Strict):
    """One varied quantity: a dotted path into the case and how its values come.

    The value carries the unit of the case field it replaces (``flow_L_h`` -> L/h).
    Exactly one of ``values``, ``grid``, ``range`` or ``distribution`` is given.
    """

    path: str = Field(description="dotted path into the case, e.g. feed.flow_L_h")
    name: str | None = Field(None, description="column name; default: the path")
    values: list[int | float | bool | str] | None = Field(None, max_length=100_000)
    grid: Grid | None = None
    range: tuple[float, float] | None = Field(
        None, description="[lo, hi] sampled uniformly by [sampling].method"
    )
    log: bool = Field(False, description="with range: sample log-uniformly")
    distribution: Distribution | None = None
    integer: bool = Field(False, description="round to whole numbers (stages)")

    @field_validator("path")
    @classmethod
    def _path_ok(cls, v: str) -> str:
        parse_path(v)
        return v

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str | None) -> str | None:
        if v is not None and (not v or not _NAME_RE.match(v)):
            raise ValueError("a name must be non-empty and contain no '/'")
        return v

    @field_validator("values")
    @classmethod
    def _values_ok(cls, v):
        if v is None:
            return v
        if not v:
            raise ValueError("values must not be empty")
        kinds = {_value_type(x) for x in v}
        if "str" in kinds and len(kinds) > 1:
            raise ValueError("values must be all numbers or all strings, not mixed")
        if "bool" in kinds and len(kinds) > 1:
            raise ValueError("values must be all booleans or all numbers, not mixed")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        given = [
            k
            for k in ("values", "grid", "range", "distribution")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of values, grid, range, distribution "
                f"(got {', '.join(given) if given else 'none'})"
            )
        if self.range is not None:
            lo, hi = self.range
            if not hi > lo:
                raise ValueError(f"range needs hi > lo (got [{lo}, {hi}])")
            if self.log and lo <= 0:
                raise ValueError("range with log = true needs lo > 0")
        if self.log and self.range is None:
            raise ValueError("log = true applies to range only (grid has its own log)")
        return self

    @property
    def column(self) -> str:
        return self.name or self.path

    @property
    def sampled(self) -> bool:
        return self.range is not None or self.distribution is not None

    @property
    def value_type(self) -> str:
        """float | int | bool | str: how the value is written into the case."""
        if self.values is not None:
            kinds = {_value_type(x) for x in self.values}
            if kinds == {"str"}:
                return "str"
            if kinds == {"bool"}:
                return "bool"
            if kinds == {"int"} or self.integer:
                return "int"
            return "float"
        return "int" if self.integer else "float"


def _value_type(x) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int):
        return "int"
    if isinstance(x, float):
        return "float"
    return "str"


class Sampling(_Strict):
    """How parameters become scenarios.

    ``values``/``grid`` parameters are crossed (``combine = "product"``) or zipped;
    ``range``/``distribution`` parameters are sampled jointly, ``n`` points by
    ``method``, with ``seed``.  With both kinds present every fixed combination is
    crossed with every sample.
    """

    method: Literal["random", "lhs", "sobol"] = "lhs"
    n: int | None = Field(
        None, ge=1, le=10_000_000, description="number of samples, 1..1e7"
    )
    seed: int = Field(0, ge=0, description="random seed, >= 0")
    combine: Literal["product", "zip"] = "product"

    @field_validator("n")
    @classmethod
    def _sobol_n(cls, n, info):
        if info.data.get("method") == "sobol" and n is not None and n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"method = 'sobol' needs n a power of 2; use {lo} or {lo * 2}"
            )
        return n


class Execution(_Strict):
    """Batching and retries."""

    batch_size: int | Literal["auto"] = Field(
        "auto", description="scenarios per task; 'auto' sizes by batch_seconds"
    )
    batch_seconds: float = Field(
        0.5, gt=0, description="target compute time per task with 'auto' [s]"
    )
    flush_interval_s: float = Field(
        0.2,
        ge=0,
        description="finished tasks are written and flushed at least this often; "
        "0: after every task [s]",
    )
    max_retries: int = Field(
        2, ge=0, description="retries of a scenario lost with its worker"
    )
    scenario_time_limit_s: float | None = Field(
        None,
        gt=0,
        allow_inf_nan=False,
        description="wall-clock limit of one scenario; a scenario past it is "
        "stopped and recorded as failed.  Scenarios then run in a child process "
        "of the worker, killed at the limit, or for an evaluator that stops its "
        "own solve (a cascade's simulate) a grace period later [s]",
    )

    @field_validator("batch_size")
    @classmethod
    def _bs(cls, v):
        if isinstance(v, int) and v < 1:
            raise ValueError("batch_size must be >= 1 or 'auto'")
        return v


# the organic loop's default pass budget (rexopt.cascade.LOOP_PASSES; not imported
# here: reading a sweep file must not load the kernel)
LOOP_PASSES = 1000


class CascadeOptions(_Strict):
    """How each scenario of a ``cascade`` sweep is simulated (``[cascade]``)."""

    branch_search: bool = Field(
        True,
        description="look for other steady states in every scenario (four more "
        "kernel solves, Cascade.simulate(branch_search=True)); false: not looked "
        "for, which every scenario's message and the sweep summary say",
    )
    loop_passes: int = Field(
        LOOP_PASSES,
        ge=1,
        le=1_000_000,
        strict=True,
        description="passes of an organic loop (organic.recycle = true) before "
        "its fallbacks, Cascade.simulate(max_recycle=...); raise it where a "
        "scenario's error says more passes may close the loop",
    )


class Report(_Strict):
    """Plots written by ``--report DIR`` / ``rexopt results --plot-dir``."""

    histograms: bool = True
    tornado: list[str] = Field(
        default_factory=list, description="outputs; default: every output"
    )
    scatter: list[tuple[str, str]] = Field(
        default_factory=list, description="[x, y] output pairs"
    )


# --------------------------------------------------------------------------- cluster

_WALLTIME_RE = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")


def _check_bytes(v: str | None) -> str | None:
    if v is None or v == "auto":
        return v
    from dask.utils import parse_bytes

    try:
        parse_bytes(v)
    except Exception as exc:
        raise ValueError(
            f"cannot read {v!r} as an amount of memory; write e.g. '4GB' or '16GiB'"
        ) from exc
    return v


class LocalClusterConfig(_Strict):
    """Dask LocalCluster on this machine (the default)."""

    kind: Literal["local"] = "local"
    workers: int | None = Field(None, ge=1, description="default: number of CPUs")
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = Field("auto", description="per worker, e.g. '4GB'")
    dashboard_address: str | None = None

    @field_validator("memory_limit")
    @classmethod
    def _mem(cls, v: str) -> str:
        return _check_bytes(v)


class ProcessesConfig(_Strict):
    """A plain concurrent.futures.ProcessPoolExecutor (no Dask)."""

    kind: Literal["processes"]
    workers: int | None = Field(None, ge=1, description="default: number of CPUs")


class SerialConfig(_Strict):
    """Everything in the calling process (debugging, tiny sweeps)."""

    kind: Literal["serial"]


class Adapt(_Strict):
    minimum_jobs: int = Field(0, ge=0)
    maximum_jobs: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self):
        if self.maximum_jobs < self.minimum_jobs:
            raise ValueError("maximum_jobs must be >= minimum_jobs")
        return self


class JobqueueConfig(_Strict):
    """SLURM or PBS through dask-jobqueue: one batch job runs ``processes`` workers."""

    kind: Literal["slurm", "pbs"]
    queue: str | None = None
    account: str | None = None
    cores: int = Field(ge=1, description="cores per job")
    processes: int | None = Field(
        None, ge=1, description="worker processes per job; default: cores"
    )
    memory: str = Field(description="memory per job, e.g. '16GB'")
    walltime: str = Field("01:00:00", description="[D-]HH:MM[:SS]")
    jobs: int = Field(1, ge=1, description="jobs to start (without adapt)")
    adapt: Adapt | None = None
    job_extra_directives: list[str] = Field(default_factory=list)
    job_script_prologue: list[str] = Field(default_factory=list)
    interface: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    python: str | None = None
    job_name: str = "rexopt-sweep"

    @field_validator("memory")
    @classmethod
    def _mem(cls, v: str) -> str:
        return _check_bytes(v)

    @field_validator("walltime")
    @classmethod
    def _wt(cls, v: str) -> str:
        if not _WALLTIME_RE.match(v):
            raise ValueError(f"walltime {v!r} is not [D-]HH:MM[:SS], e.g. '02:30:00'")
        return v

    @model_validator(mode="after")
    def _procs(self):
        if self.processes is not None and self.processes > self.cores:
            raise ValueError(
                f"processes ({self.processes}) cannot exceed cores ({self.cores})"
            )
        return self


Cluster = Annotated[
    LocalClusterConfig | ProcessesConfig | SerialConfig | JobqueueConfig,
    Field(discriminator="kind"),
]


def _default_cluster(v):
    # A [cluster] table without kind means the local default.
    if isinstance(v, dict) and "kind" not in v:
        return {**v, "kind": "local"}
    return v


class SweepSpec(_Strict):
    """The top level of a sweep file."""

    name: str | None = None
    description: str = ""
    base: finite(str | dict[str, Any]) = Field(
        description="path to a case file (relative to the sweep file) or inline table"
    )
    study: str | None = Field(
        None,
        description="which study of the base case each scenario runs; default: "
        "the case's own (cascade -> simulation, cascade with [optimize] -> "
        "cascade_optimize, ...); 'cascade_design' runs Xu's design",
    )
    parameters: list[Parameter] = Field(min_length=1)
    sampling: Sampling = Field(default_factory=Sampling)
    outputs: list[str] = Field(min_length=1)
    cluster: Cluster = Field(default_factory=LocalClusterConfig)
    execution: Execution = Field(default_factory=Execution)
    cascade: CascadeOptions | None = Field(
        None, description="options of the cascade study (only with that study)"
    )
    report: Report = Field(default_factory=Report)
    out: str | None = Field(None, description="HDF5 file; default: <sweep>.h5")

    @field_validator("cluster", mode="before")
    @classmethod
    def _cluster_default(cls, v):
        return _default_cluster(v)

    @field_validator("base")
    @classmethod
    def _base_ok(cls, v):
        if isinstance(v, dict) and "kind" not in v:
            raise ValueError("an inline base case needs a 'kind' (e.g. 'function')")
        return v

    @field_validator("outputs")
    @classmethod
    def _outputs_ok(cls, v: list[str]) -> list[str]:
        seen = set()
        for o in v:
            if not o or "/" in o:
                raise ValueError(f"output name {o!r} must be non-empty without '/'")
            if o in seen:
                raise ValueError(f"output {o!r} is listed twice")
            seen.add(o)
        return v

    @model_validator(mode="after")
    def _cross_checks(self):
        cols = [p.column for p in self.parameters]
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise ValueError(
                f"parameter names must be unique; repeated: {', '.join(dup)} "
                "(set 'name' to tell them apart)"
            )
        clash = sorted(set(cols) & set(self.outputs))
        if clash:
            raise ValueError(f"names used both as parameter and output: {clash}")
        if any(p.sampled for p in self.parameters) and self.sampling.n is None:
            raise ValueError(
                "parameters with range/distribution need [sampling] n = <samples>"
            )
        fixed = [p for p in self.parameters if not p.sampled]
        if self.sampling.combine == "zip" and fixed:
            lengths = {p.column: _n_fixed(p) for p in fixed}
            if len(set(lengths.values())) > 1:
                raise ValueError(
                    "combine = 'zip' needs equally long values/grid; got "
                    + ", ".join(f"{k}: {n}" for k, n in lengths.items())
                )
        for o in self.report.tornado + [
            x for pair in self.report.scatter for x in pair
        ]:
            if o not in self.outputs:
                raise ValueError(
                    f"report names output {o!r}, which is not in outputs "
                    f"({', '.join(self.outputs)})"
                )
        n, how = self.scenario_count()
        if n > MAX_SCENARIOS:
            raise ValueError(
                f"the sweep has {n:,} scenarios ({how}); at most {MAX_SCENARIOS:,} "
                "are allowed in one sweep file -- split it, or sample fewer"
            )
        return self

    def scenario_count(self) -> tuple[int, str]:
        """The number of scenarios, computed without building them, and how."""
        fixed = [p for p in self.parameters if not p.sampled]
        sizes = [_n_fixed(p) for p in fixed]
        parts = []
        n = 1
        if fixed and self.sampling.combine == "zip":
            n = sizes[0]
            parts.append(f"{n} zipped values")
        else:
            for p, k in zip(fixed, sizes, strict=True):
                n *= k
                parts.append(f"{k} {p.column}")
        if any(p.sampled for p in self.parameters):
            n *= self.sampling.n
            parts.append(f"{self.sampling.n} samples")
        return n, " x ".join(parts)


def _n_fixed(p: Parameter) -> int:
    return len(p.values) if p.values is not None else p.grid.num


# --------------------------------------------------------------------------- errors


def _fmt_loc(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _get_input(data, loc):
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _allowed_fields(loc) -> list[str] | None:
    """Field names allowed at the table that holds ``loc[-1]`` (best effort)."""
    model: Any = SweepSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        if part in (
            "local",
            "processes",
            "serial",
            "slurm",
            "pbs",
            "uniform",
            "loguniform",
            "normal",
            "truncnormal",
            "lognormal",
            "triangular",
        ):
            # discriminator tag in the loc: pick that member
            for m in (
                LocalClusterConfig,
                ProcessesConfig,
                SerialConfig,
                JobqueueConfig,
                Uniform,
                LogUniform,
                Normal,
                TruncNormal,
                LogNormal,
                Triangular,
            ):
                kind = m.model_fields["kind"].annotation
                if part in getattr(kind, "__args__", ()):
                    model = m
                    break
            continue
        f = model.model_fields.get(part)
        if f is None:
            return None
        model = _model_in(f.annotation)
    if model is None:
        return None
    return sorted(model.model_fields)


def _model_in(ann):
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in getattr(ann, "__args__", ()) or ():
        m = _model_in(a)
        if m is not None:
            return m
    meta = getattr(ann, "__origin__", None)
    if meta is not None and isinstance(meta, type) and issubclass(meta, BaseModel):
        return meta
    return None


def format_validation_error(exc: ValidationError, data: dict, source: str) -> str:
    """One line per problem: file, field, value, what is allowed."""
    lines = [f"{source}: invalid sweep file ({exc.error_count()} problem(s))"]
    seen = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        field_s = _fmt_loc(loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(loc)
            value = _get_input(data, loc)
            msg = f"unknown field (value {value!r})"
            if allowed:
                msg += f"; allowed here: {', '.join(allowed)}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            value = err.get("input")
            if not isinstance(value, dict):
                msg = f"value {value!r}: {msg}"
        key = (field_s, msg)
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"  {field_s}: {msg}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- paths


def parse_path(path: str) -> tuple[str | int, ...]:
    """``"sections.scrub.stages"`` -> ``("sections", "scrub", "stages")``.

    Whole-number segments index lists: ``"side_draws.0.flow_L_h"``.
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError("a path must be a non-empty dotted string")
    parts: list[str | int] = []
    for seg in path.split("."):
        if not seg:
            raise ValueError(f"path {path!r} has an empty segment")
        parts.append(int(seg) if seg.isdigit() else seg)
    return tuple(parts)


def get_path(case: dict, parts: tuple[str | int, ...]):
    cur = case
    for p in parts:
        cur = cur[p]
    return cur


def set_path(case: dict, parts: tuple[str | int, ...], value) -> None:
    """Set ``value`` at ``parts``; tables the case omits are created on the way
    (``data.costs.products_USD_kg.Nd2O3`` in a case without a ``[data]`` table).
    The case's own reader then checks every key (see :func:`check_path`)."""
    cur = case
    for p in parts[:-1]:
        if isinstance(cur, dict) and p not in cur:
            cur[p] = {}
        cur = cur[p]
    cur[parts[-1]] = value


def check_path(
    case: dict, parts: tuple[str | int, ...], *, create_tables: bool = False
) -> str | None:
    """None if ``parts`` can be set in ``case``; else why not (in words)."""
    cur: Any = case
    where = "the base case"
    for i, p in enumerate(parts):
        if isinstance(cur, dict):
            if isinstance(p, int):
                return f"{where} is a table; {p} is not a key of it"
            if p not in cur:
                if i == len(parts) - 1:
                    return None  # a new leaf
                rest = parts[i + 1 :]
                if create_tables and not any(isinstance(q, int) for q in rest):
                    # a table the case omits (e.g. [data]): created in each
                    # scenario and checked by the case's reader, which reads the
                    # first scenario when the sweep loads
                    return None
                keys = ", ".join(sorted(map(str, cur))) or "(none)"
                return f"{where} has no key {p!r}; keys there: {keys}"
        elif isinstance(cur, list):
            if not isinstance(p, int) or not 0 <= p < len(cur):
                return (
                    f"{where} is a list of {len(cur)}; use an index 0..{len(cur) - 1}"
                )
        else:
            return f"{where} is a value ({cur!r}), not a table"
        cur = cur[p]
        where = "'" + ".".join(map(str, parts[: i + 1])) + "'"
    if isinstance(cur, dict | list):
        return f"{where} is a table/list, not a value"
    return None


def case_hash(obj) -> str:
    """Stable hash of a JSON-able structure (base cases, definitions)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- sweep


@dataclass
class Sweep:
    """A validated sweep: spec, resolved base case and the scenario table."""

    spec: SweepSpec
    base_case: dict
    kind: str
    source: Path | None = None
    base_path: Path | None = None
    base_dir: Path | None = None
    text: str = ""
    _table: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        if self.spec.name:
            return self.spec.name
        return self.source.stem if self.source else "sweep"

    @property
    def parameters(self) -> list[Parameter]:
        return self.spec.parameters

    @property
    def outputs(self) -> list[str]:
        return self.spec.outputs

    @property
    def table(self):
        """The scenario inputs, a :class:`rexopt.sweep.sampling.ScenarioTable`."""
        if self._table is None:
            from rexopt.sweep.sampling import build_table

            self._table = build_table(self.spec, self._base_types())
        return self._table

    def _base_types(self) -> list[str | None]:
        """The type of the base case's value at each parameter's path (None where
        the base has none), so an integer field keeps integer values."""
        out = []
        for p in self.parameters:
            try:
                v = get_path(self.base_case, parse_path(p.path))
            except (KeyError, IndexError, TypeError, ValueError):
                out.append(None)
                continue
            out.append(
                _value_type(v) if isinstance(v, bool | int | float | str) else None
            )
        return out

    @property
    def n_scenarios(self) -> int:
        return self.table.n

    @property
    def default_out(self) -> Path:
        if self.spec.out:
            p = Path(self.spec.out)
            if not p.is_absolute() and self.source is not None:
                p = self.source.parent / p
            return p
        if self.source is not None:
            return self.source.with_suffix(".h5")
        return Path(f"{self.name}.h5")

    def scenario_case(self, i: int) -> dict:
        """The case dict of scenario ``i`` (base case with its overrides)."""
        t = self.table
        return apply_overrides(
            self.base_case,
            [parse_path(p.path) for p in self.parameters],
            t.types,
            t.row(i),
        )

    def evaluator_options(self) -> dict:
        """Keywords the evaluator factory gets besides the base case: the study
        options that differ from their defaults (``{"branch_search": False}``,
        ``{"loop_passes": 1000}``)."""
        c = self.spec.cascade
        out: dict = {}
        if c is not None and not c.branch_search:
            out["branch_search"] = False
        if c is not None and c.loop_passes != LOOP_PASSES:
            out["loop_passes"] = c.loop_passes
        return out

    def definition(self) -> dict:
        """What identifies the scenarios: a rerun resumes only if this matches."""
        d = {
            "parameters": [p.model_dump(mode="json") for p in self.parameters],
            "sampling": self.spec.sampling.model_dump(mode="json"),
            "outputs": list(self.outputs),
            "base_case": self.base_case,
        }
        # options that change the numbers (defaults left out: files written
        # before an option existed keep their identity)
        opts = self.evaluator_options()
        if opts:
            d["evaluator_options"] = opts
        return d

    def definition_hash(self) -> str:
        return case_hash(self.definition())


def convert_value(value, vtype: str):
    if vtype == "int":
        return int(round(float(value)))
    if vtype == "bool":
        return bool(value)
    if vtype == "str":
        return value.decode() if isinstance(value, bytes) else str(value)
    return float(value)


def copy_tree(obj):
    """A deep copy of a case tree (dicts, lists, scalars), several times faster
    than ``copy.deepcopy``; any other object is copied with ``copy.deepcopy``."""
    if isinstance(obj, dict):
        return {k: copy_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tree(v) for v in obj]
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    return copy.deepcopy(obj)


def apply_overrides(base: dict, paths, types, values) -> dict:
    """The base case with each path set to its value (the base is not changed)."""
    case = copy_tree(base)
    for parts, vtype, v in zip(paths, types, values, strict=True):
        set_path(case, parts, convert_value(v, vtype))
    return case


def _read_toml(path: Path, what: str) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepFileError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise SweepFileError(f"{path}: cannot read {what}: {exc}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise SweepFileError(f"{path}: not valid TOML: {exc}") from None


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file.

    Parameters
    ----------
    path : str or Path
        The sweep TOML file.

    Raises
    ------
    SweepFileError
        With the file, field, bad value and what is allowed.
    """
    path = Path(path)
    data, text = _read_toml(path, "sweep file")
    return sweep_from_dict(data, source=path, text=text)


def sweep_from_dict(
    data: dict,
    *,
    source: str | Path | None = None,
    text: str = "",
    base_dir: str | Path | None = None,
) -> Sweep:
    """Validate a sweep given as a dict (the structure of a sweep file).

    ``base_dir`` resolves a relative ``base`` path and relative ``callable`` files;
    it defaults to the directory of ``source``, else the working directory.
    """
    label = str(source) if source is not None else "<sweep dict>"
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepFileError(format_validation_error(exc, data, label)) from None
    src = Path(source) if source is not None else None
    bdir = Path(base_dir) if base_dir else (src.parent if src else Path.cwd())
    base_path = None
    if isinstance(spec.base, str):
        base_path = Path(spec.base)
        if not base_path.is_absolute():
            base_path = bdir / base_path
        if not base_path.exists():
            raise SweepFileError(
                f"{label}: base = {spec.base!r}: case file {base_path} not found "
                "(a path relative to the sweep file, or an inline [base] table)"
            )
        base_case, _ = _read_toml(base_path, "base case")
        case_dir = base_path.parent
    else:
        base_case = copy.deepcopy(spec.base)
        case_dir = bdir
    # a model block's relative `dataset = "params.toml"` is the case folder's file
    # (the sweep file's for an inline [base]), whatever the working directory
    base_case = absolute_data_paths(base_case, case_dir)
    where = str(base_path) if base_path else f"{label} [base]"
    kind = _study_kind(base_case, spec.study, label, where)
    if spec.cascade is not None and kind != "cascade":
        raise SweepFileError(
            f"{label}: [cascade]: options of the cascade simulation study; this "
            f"sweep runs the {kind!r} study -- remove the [cascade] table"
        )
    for i, p in enumerate(spec.parameters):
        why = check_path(base_case, parse_path(p.path), create_tables=_is_study(kind))
        if why:
            raise SweepFileError(f"{label}: parameters[{i}].path = {p.path!r}: {why}")
    sw = Sweep(
        spec=spec,
        base_case=base_case,
        kind=kind,
        source=src.resolve() if src else None,
        base_path=base_path.resolve() if base_path else None,
        base_dir=case_dir.resolve(),
        text=text,
    )
    try:
        sw.table  # noqa: B018 - build now so sampling errors surface at load
    except ValueError as exc:
        raise SweepFileError(f"{label}: {exc}") from None
    _check_cases(sw, label, where)
    return sw


def _study_kind(base_case: dict, study: str | None, label: str, where: str) -> str:
    """The evaluator kind of a sweep: 'function', or the base case's study kind."""
    from rexopt.sweep.evaluators import registered_kinds

    ck = base_case.get("kind")
    if ck in registered_kinds() and study is None and not _is_case_kind(ck):
        return ck  # a kind registered only as an evaluator ("function", plug-ins)
    from rexopt.study import StudyInputError, study_name_for

    if not _is_case_kind(ck if ck is not None else "cascade"):
        raise SweepFileError(
            f"{where}: kind = {ck!r} has no sweep evaluator; allowed: "
            f"{', '.join(_allowed_kinds())} (add one with "
            "rexopt.sweep.register_evaluator)"
        )
    try:
        kind = study_name_for(base_case, study=study, where=where)
    except StudyInputError as exc:
        raise SweepFileError(
            f"{exc} (sweeps run: {', '.join(registered_kinds())}; add one with "
            "rexopt.sweep.register_evaluator)"
        ) from None
    if kind not in registered_kinds():
        raise SweepFileError(
            f"{where}: a {kind} study has no sweep evaluator; allowed: "
            f"{', '.join(registered_kinds())}"
        )
    return kind


def _allowed_kinds() -> list[str]:
    """Case kinds a sweep can run: plug-in evaluators and the study case kinds."""
    from rexopt.study import _KINDS
    from rexopt.sweep.evaluators import registered_kinds

    ks = {k for k in registered_kinds() if k not in _KINDS}
    ks |= {k.case_kind for k in _KINDS.values()}
    return sorted(ks)


def _is_study(kind: str) -> bool:
    from rexopt.study import _KINDS

    return kind in _KINDS


def _is_case_kind(ck) -> bool:
    from rexopt.study import _KINDS

    return any(k.case_kind == ck for k in _KINDS.values())


def _check_cases(sw: Sweep, label: str, where: str) -> None:
    """Read the base case and the first scenario's case with the study's own
    reader: a bad base case or a parameter path the case does not have fails now,
    not in every scenario."""
    from rexopt.study import _KINDS, StudyInputError

    k = _KINDS.get(sw.kind)
    if sw.kind == "function":
        from rexopt.sweep.evaluators import function_case_problems

        problems = function_case_problems(sw.base_case, sw.base_dir)
        if problems:
            raise SweepFileError(
                "\n".join(f"{label}: base case: {where}: {p}" for p in problems)
            )
        return
    if k is None:  # plug-in kinds check their cases themselves, when they run
        return
    base = sw.base_path if sw.base_path is not None else copy.deepcopy(sw.base_case)
    try:
        k.load_checked(base, where=where)
    except StudyInputError as exc:
        raise SweepFileError(f"{label}: base case: {exc}") from None
    if sw.n_scenarios:
        try:
            k.load_checked(sw.scenario_case(0), where=f"{label} scenario 0")
        except StudyInputError as exc:
            raise SweepFileError(
                f"{label}: the first scenario's case is not valid (check the "
                f"parameter paths and values): {_name_parameters(sw, str(exc))}"
            ) from None


def _value_source(i: int, p: Parameter, value) -> str:
    """Which field of the sweep file gave a parameter's value, e.g.
    ``parameters.0.grid.start``."""
    at = f"parameters.{i}"
    if p.values is not None:
        ks = [k for k, x in enumerate(p.values) if x == value]
        return f"{at}.values.{ks[0]}" if ks else f"{at}.values"
    if p.grid is not None:
        for end in ("start", "stop"):
            if value == getattr(p.grid, end):
                return f"{at}.grid.{end}"
        return f"{at}.grid"
    return (
        f"{at}.range (sampled)"
        if p.range is not None
        else (f"{at}.distribution (sampled)")
    )


def _name_parameters(sw: Sweep, msg: str) -> str:
    """The message about scenario 0's case, each line about a field a sweep
    parameter sets followed by that parameter (its field in the sweep file, its
    name, its value); if no line names such a field, every parameter's value."""
    t = sw.table
    row = t.row(0)
    setters = []
    for i, p in enumerate(sw.parameters):
        v = convert_value(row[i], t.types[i])
        src = _value_source(i, p, v)
        setters.append((p.path, f"{src} = {v!r} (parameter {p.column!r})"))
    lines, named = [], False
    for line in msg.replace("<case dict>: ", "").splitlines():
        by = [
            txt for path, txt in setters if re.search(rf"\b{re.escape(path)}\b", line)
        ]
        if by:
            named = True
            line += " [set by " + "; ".join(by) + "]"
        lines.append(line)
    if not named:
        lines.append("scenario 0 sets " + "; ".join(txt for _, txt in setters))
    return "\n".join(lines)
