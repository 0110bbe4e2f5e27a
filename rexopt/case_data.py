"""Data files a case names in its chemistry: ``dataset = "params.toml"``.

A model block of a case (``[chemistry.empirical_ph]``, ``[chemistry.saturated]``,
``[chemistry.mass_action]``) may name a data file, for example the one ``rexopt fit
... --out params.toml`` writes.  :func:`resolve_data_files` reads it when the case
is loaded and writes its parameters into the block, as if they had been given
inline; parameters the case gives inline win over the file's.  Every component of
the case must then have parameters (inline or in the file): a component missing
from a named file is an error, never a silent fall-back to a bundled data set.

What a file must hold, per block:

- ``empirical_ph``: ``[chemistry.empirical_ph.params]`` (a fit's output), or
  ``[params]`` rows with ``a, b, c, d`` (or ``D``, ``nu``) as in
  ``rexopt/data/d2ehpa_tbp_empirical.toml``;
- ``mass_action``: ``[chemistry.mass_action.params]``;
- ``saturated``: ``[chemistry.saturated]`` (a saturated fit: separation factors and
  ``K_ref_L_mol``), else ``[separation_factors.case_table]`` (a fit of another
  model at its stated condition: separation factors only).

A relative path is read from the case file's folder (for a case given as a dict,
from the current directory).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from pydantic import ValidationError

BUNDLED = {
    "empirical_ph": ("d2ehpa_tbp_empirical",),
    "saturated": (),
    "mass_action": (),
}
MODELS = ("empirical_ph", "saturated", "mass_action")


def allowed_text(model: str) -> str:
    names = BUNDLED[model]
    named = " or ".join(repr(n) for n in names)
    return (named + " (bundled) or " if named else "") + "a path to a .toml data file"


def _read(path: Path) -> tuple[dict | None, str | None]:
    if not path.is_file():
        return None, f"no such file ({path})"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read {path}: {e}"
    except tomllib.TOMLDecodeError as e:
        return None, f"{path} is not valid TOML: {e}"


def _medium_of(raw: dict) -> str | None:
    chem = raw.get("chemistry")
    if isinstance(chem, dict) and isinstance(chem.get("medium"), str):
        return chem["medium"]
    meta = raw.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("medium"), str):
        return meta["medium"]
    return None


def _param_rows(raw: dict, model: str, keys: tuple[str, ...]) -> dict | None:
    chem = raw.get("chemistry")
    if isinstance(chem, dict) and isinstance(chem.get(model), dict):
        params = chem[model].get("params")
        return params if isinstance(params, dict) else None
    if model == "empirical_ph":
        meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
        if meta.get("model", "empirical_ph") != "empirical_ph":
            return None
        rows = raw.get("params")
        if isinstance(rows, dict) and all(isinstance(r, dict) for r in rows.values()):
            return {
                el: {k: v for k, v in r.items() if k in keys} for el, r in rows.items()
            }
    return None


def resolve_data_files(
    case, base: Path
) -> tuple[list[tuple[str, object, str]], list[str]]:
    """Read the data files the case's model block names; write them into the block.

    Parameters
    ----------
    case : rexopt.case.CascadeCase
        Schema-validated case; its chosen model block is changed in place (its
        ``dataset`` set to None once the file's parameters are in it).
    base : Path
        Folder a relative path is read from.

    Returns
    -------
    (errors, notes)
        ``(field, value, allowed)`` per problem, and one note per file read.
    """
    from rexopt.case import EmpiricalParams, MassActionParams, SaturatedModel

    chem = case.chemistry
    m = chem.model
    if m not in MODELS:
        return [], []
    block = getattr(chem, m)
    if block is None or block.dataset is None:
        return [], []
    field = f"chemistry.{m}.dataset"
    value = block.dataset
    if value in BUNDLED[m]:
        return [], []
    if not value.endswith(".toml"):
        return [(field, value, allowed_text(m))], []
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    raw, why = _read(path)
    if raw is None:
        return [(field, value, f"{allowed_text(m)}: {why}")], []
    errs: list[tuple[str, object, str]] = []
    medium = _medium_of(raw)
    if medium is not None and medium != chem.medium:
        errs.append(
            (
                field,
                value,
                f"a data file for the case's medium ({chem.medium}); {path} holds "
                f"{medium} parameters",
            )
        )
        return errs, []
    comps = list(chem.components)
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    status = meta.get("status", "not stated")
    note_src = f"{path} (status {status!r}"
    if meta.get("source"):
        note_src += f", source {meta['source']!r}"
    note_src += ")"

    if m in ("empirical_ph", "mass_action"):
        pmodel = EmpiricalParams if m == "empirical_ph" else MassActionParams
        rows = _param_rows(raw, m, tuple(pmodel.model_fields))
        if rows is None:
            return [
                (
                    field,
                    value,
                    f"a data file with [chemistry.{m}.params] (as `rexopt fit --model "
                    f"{m} --out` writes); {path} has none",
                )
            ], []
        taken = []
        params = dict(block.params)
        for c in comps:
            if c in params:
                continue
            if c not in rows:
                errs.append(
                    (
                        field,
                        value,
                        f"parameters for every component not given inline: {path} "
                        f"has none for {c} (it has {', '.join(rows) or 'none'})",
                    )
                )
                continue
            try:
                params[c] = pmodel.model_validate(rows[c])
            except ValidationError as e:
                for err in e.errors(include_url=False):
                    loc = ".".join(str(p) for p in err["loc"])
                    errs.append(
                        (
                            field,
                            value,
                            f"valid parameters in the file: {path}: "
                            f"chemistry.{m}.params.{c}.{loc}: {err.get('input')!r} "
                            f"-- {err['msg']}",
                        )
                    )
                continue
            taken.append(c)
        if errs:
            return errs, []
        block.params = params
        block.dataset = None
        note = f"chemistry.{m}.dataset: parameters of {', '.join(taken)} read from "
        note += note_src
        if len(taken) < len(comps):
            inline = [c for c in comps if c not in taken]
            note += f"; {', '.join(inline)} as given inline"
        return [], [note]

    # saturated
    ch = raw.get("chemistry") if isinstance(raw.get("chemistry"), dict) else {}
    sat = ch.get("saturated") if ch.get("model", "saturated") == "saturated" else None
    K_file = None
    cond = None
    if isinstance(sat, dict) and isinstance(sat.get("separation_factors"), dict):
        sf_file = sat["separation_factors"]
        K_file = sat.get("K_ref_L_mol")
        what = "separation factors and K_ref_L_mol"
    else:
        sft = raw.get("separation_factors")
        table = sft.get("case_table") if isinstance(sft, dict) else None
        if not isinstance(table, dict):
            return [
                (
                    field,
                    value,
                    "a data file with [chemistry.saturated] or "
                    f"[separation_factors.case_table] (as `rexopt fit --out` writes); "
                    f"{path} has neither",
                )
            ], []
        sf_file = table
        cond = sft.get("condition") or {}
        what = "separation factors"
    try:
        checked = SaturatedModel.model_validate(
            {"separation_factors": sf_file}
            | ({"K_ref_L_mol": K_file} if K_file is not None else {})
        )
    except ValidationError as e:
        return [
            (
                field,
                value,
                f"valid values in the file: {path}: "
                + "; ".join(
                    ".".join(str(p) for p in err["loc"])
                    + f": {err.get('input')!r} -- {err['msg']}"
                    for err in e.errors(include_url=False)
                ),
            )
        ], []
    sf_file = dict(checked.separation_factors)
    K_file = checked.K_ref_L_mol
    own = dict(block.separation_factors) if block.separation_factors else None
    need = comps if own is None else []
    if own is not None and block.K_ref_L_mol is None and K_file is not None:
        # the file's K for the case's least extractable component
        need = [min(comps, key=lambda c: own.get(c, math.inf))]
    missing = [c for c in need if c not in sf_file]
    if missing:
        return [
            (
                field,
                value,
                f"separation factors for {', '.join(missing)}: {path} has them for "
                f"{', '.join(sf_file)} only",
            )
        ], []
    taken = []
    low = min(sf_file.values())
    if own is None:
        ref = min(comps, key=lambda c: sf_file[c])
        block.separation_factors = {c: sf_file[c] / sf_file[ref] for c in comps}
        taken.append("separation factors")
    else:
        ref = min(comps, key=lambda c: own[c])
    if block.K_ref_L_mol is None and K_file is not None:
        # the file's K_ref is the K of its least extractable element; the kernel
        # takes K_ref as that of the case's least extractable component
        block.K_ref_L_mol = K_file * sf_file[ref] / low
        taken.append(f"K_ref_L_mol (of {ref})")
    block.dataset = None
    if not taken:
        note = (
            f"chemistry.saturated.dataset: {path} not used: the case gives its "
            "separation factors and K_ref_L_mol inline"
        )
    else:
        note = (
            f"chemistry.saturated.dataset: {' and '.join(taken)} read from {note_src}"
        )
        if cond is not None:
            c_txt = ", ".join(f"{k} = {v}" for k, v in cond.items()) or "not stated"
            note += (
                f"; the file's {what} hold at its stated condition ({c_txt}), "
                "not elsewhere"
            )
    return [], [note]


def absolute_data_paths(case: dict, base_dir) -> dict:
    """A copy of a raw case dict whose relative data-file paths are absolute.

    For callers that hold a case as a dict away from its file (a sweep's scenario,
    a written copy in another folder): ``dataset = "params.toml"`` of a model block
    becomes ``base_dir / "params.toml"``, so the dict reads the same file from any
    current directory.  Bundled names, absolute paths and other keys are kept.
    """
    out = dict(case)
    chem = out.get("chemistry")
    if not isinstance(chem, dict):
        return out
    chem = dict(chem)
    for m in MODELS:
        blk = chem.get(m)
        if isinstance(blk, dict) and isinstance(blk.get("dataset"), str):
            v = blk["dataset"]
            if v.endswith(".toml") and not Path(v).expanduser().is_absolute():
                chem[m] = {**blk, "dataset": str(Path(base_dir).resolve() / v)}
    out["chemistry"] = chem
    return out
