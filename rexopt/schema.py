"""The strict base of every case schema, and how its errors are reported.

Every case kind (cascade, [optimize] table, separation line, NdFeB plant, sweep
file) validates through a model derived from :class:`StrictModel`:

- strict types: a boolean is not a number, a string is not a number, a float is
  not a stage count (``stages = 40.0`` is refused); an integer is accepted where a
  real number is expected (TOML writes ``100`` for 100.0);
- no NaN, no +-inf anywhere (``allow_inf_nan=False``);
- unknown keys are refused in every table, naming the keys allowed there;
- TOML arrays are accepted where the schema holds a tuple (``[lo, hi]``).

Physical limits are written with :func:`quantity` / :func:`count`, whose
messages give the allowed interval with its unit and the reason for the limit.
docs/cases.md lists every limit with its reason.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    model_validator,
)

__all__ = [
    "Agent",
    "StrictModel",
    "quantity",
    "count",
    "format_validation_error",
    "allowed_fields",
    "finite",
]


def _tuples_where_declared(value, ann):
    """Turn lists into tuples wherever ``ann`` declares a tuple (recursively).

    Strict pydantic refuses a list for a tuple field, but TOML has only arrays.
    Nothing else is converted: a wrong type still fails validation.
    """
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is Annotated:
        return _tuples_where_declared(value, args[0])
    if origin in (typing.Union, types.UnionType):
        for a in args:
            if a is type(None):
                continue
            new = _tuples_where_declared(value, a)
            if new is not value:
                return new
        return value
    if origin is tuple and isinstance(value, list):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_tuples_where_declared(v, args[0]) for v in value)
        if len(args) == len(value):
            return tuple(
                _tuples_where_declared(v, a) for v, a in zip(value, args, strict=True)
            )
        return tuple(value)
    if origin is list and isinstance(value, list) and args:
        out = [_tuples_where_declared(v, args[0]) for v in value]
        return (
            out if any(o is not v for o, v in zip(out, value, strict=True)) else value
        )
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        out = {k: _tuples_where_declared(v, args[1]) for k, v in value.items()}
        return out if any(out[k] is not value[k] for k in value) else value
    return value


def _has_tuple(ann) -> bool:
    if typing.get_origin(ann) is tuple or ann is tuple:
        return True
    return any(_has_tuple(a) for a in typing.get_args(ann) if a is not Ellipsis)


class StrictModel(BaseModel):
    """Base of every case table: strict types, finite numbers, no unknown keys."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        frozen=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _toml_arrays_as_tuples(cls, data):
        if not isinstance(data, dict):
            return data
        fields = _TUPLE_FIELDS.get(cls)
        if fields is None:
            fields = [
                (name, f.annotation)
                for name, f in cls.model_fields.items()
                if _has_tuple(f.annotation)
            ]
            _TUPLE_FIELDS[cls] = fields
        if not fields or not any(name in data for name, _ in fields):
            return data
        data = dict(data)
        for name, ann in fields:
            if name in data:
                data[name] = _tuples_where_declared(data[name], ann)
        return data


_TUPLE_FIELDS: dict[type, list] = {}


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _interval(lo, hi, lo_open, hi_open, unit) -> str:
    u = f" {unit}" if unit else ""
    if lo is None:
        return f"value {'<' if hi_open else '<='} {_fmt_num(hi)}{u}"
    if hi is None:
        return f"value {'>' if lo_open else '>='} {_fmt_num(lo)}{u}"
    return (
        f"{_fmt_num(lo)} {'<' if lo_open else '<='} value "
        f"{'<' if hi_open else '<='} {_fmt_num(hi)}{u}"
    )


def _checker(lo, hi, lo_open, hi_open, unit, why):
    allowed = _interval(lo, hi, lo_open, hi_open, unit)
    if why:
        allowed += f" ({why})"

    def check(v):
        bad = (
            (lo is not None and (v <= lo if lo_open else v < lo))
            or (hi is not None and (v >= hi if hi_open else v > hi))
            or (isinstance(v, float) and not math.isfinite(v))
        )
        if bad:
            raise ValueError(f"allowed: {allowed}")
        return v

    check.allowed = allowed  # type: ignore[attr-defined]
    return check


def quantity(
    lo: float | None = None,
    hi: float | None = None,
    unit: str = "",
    why: str = "",
    *,
    lo_open: bool = False,
    hi_open: bool = False,
):
    """A finite real number in [lo, hi] (open ends on request), unit in messages."""
    return Annotated[
        float, AfterValidator(_checker(lo, hi, lo_open, hi_open, unit, why))
    ]


def count(lo: int | None = None, hi: int | None = None, unit: str = "", why: str = ""):
    """A whole number (not a bool, not 40.0) in [lo, hi]."""
    return Annotated[int, AfterValidator(_checker(lo, hi, False, False, unit, why))]


def _no_nonfinite(tree, path=""):
    if isinstance(tree, float) and not math.isfinite(tree):
        raise ValueError(f"{path or 'value'}: {tree!r} -- not a finite number")
    if isinstance(tree, dict):
        for k, v in tree.items():
            _no_nonfinite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(tree, list | tuple):
        for i, v in enumerate(tree):
            _no_nonfinite(v, f"{path}.{i}" if path else str(i))
    return tree


def finite(tp):
    """``tp`` (e.g. a free-form table read by other code) with every number finite."""
    return Annotated[tp, AfterValidator(_no_nonfinite)]


# ----------------------------------------------------------------- error messages
def _model_in(ann):
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in typing.get_args(ann) or ():
        m = _model_in(a)
        if m is not None:
            return m
    return None


def allowed_fields(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The field names allowed in the table that holds ``loc`` (None: unknown)."""
    cur: type[BaseModel] | None = model
    for part in loc[:-1]:
        if cur is None:
            return None
        if isinstance(part, int) or part not in cur.model_fields:
            # list index, dict key or union tag: stay on the same model type
            continue
        cur = _model_in(cur.model_fields[part].annotation)
    if cur is None:
        return None
    return sorted(cur.model_fields)


def _get(data, loc):
    cur = data
    for p in loc:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _short(v) -> str:
    if isinstance(v, dict):
        return "{...}"
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def format_validation_error(
    exc: ValidationError,
    where: str,
    *,
    model: type[BaseModel] | None = None,
    data: Any = None,
    prefix: str = "",
) -> list[str]:
    """One line per problem: ``<file>: <dotted.field>: <value> -- <allowed>``."""
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        field = prefix + ".".join(str(p) for p in loc) if loc else prefix.rstrip(".")
        field = field or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        val = err.get("input")
        t = err["type"]
        if t == "extra_forbidden":
            allowed = allowed_fields(model, loc) if model is not None else None
            msg = "unknown field" + (
                f"; allowed here: {', '.join(allowed)}" if allowed else ""
            )
        elif t == "missing":
            msg = "required field is missing"
            val = None
        elif t in ("float_type", "int_type", "bool_type", "string_type"):
            want = {
                "float_type": "a number",
                "int_type": "a whole number",
                "bool_type": "true or false",
                "string_type": "a string",
            }[t]
            msg = f"wrong type ({type(val).__name__}); expected {want}"
        elif t == "finite_number":
            msg = "not a finite number; expected a finite value"
        text = f"{where}: {field}: " + (
            f"{msg}" if t == "missing" else f"{_short(val)} -- {msg}"
        )
        if text not in seen:
            seen.add(text)
            lines.append(text)
    return lines


#: spellings of a saponification agent read as the one the reports print
AGENT_ALIASES = {"MgHCO3": "Mg(HCO3)2"}


def _agent_alias(v):
    return AGENT_ALIASES.get(v, v) if isinstance(v, str) else v


#: a saponification agent: ``NH3``, ``NaOH`` or ``Mg(HCO3)2`` (``MgHCO3``, the
#: NdFeB data key, is accepted as an alias and read as ``Mg(HCO3)2``)
Agent = Annotated[
    typing.Literal["NH3", "NaOH", "Mg(HCO3)2"], BeforeValidator(_agent_alias)
]
