"""Prediction check: a counter-current pilot test simulated with fitted parameters.

The pilot case (a cascade TOML) is simulated with its chemistry replaced by the
fitted one (:func:`rexopt.fit.report.calibrate_case`), and the predicted
concentrations are set against the pilot samples.  Sample file (CSV), one row
per sample::

    sample,outlet,stage,phase,La_g_L,Nd_g_L
    S1,raffinate,,,3.1,0.02
    S2,,12,organic,0.8,4.5

``outlet`` names a stream of the result (raffinate, strip_liquor,
loaded_organic, stripped_organic or a side draw); otherwise ``stage`` (1-based
global stage) and ``phase`` (aqueous / organic) name a stage sample.
Concentration columns are ELEMENT_UNIT with UNIT one of mol_L, g_L, mg_L,
oxide_g_L; an empty cell is not measured.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pandas as pd

from rexopt.cascade import CascadeError, simulate
from rexopt.case import CaseError, load_case
from rexopt.fit.batch import FitError
from rexopt.fit.core import FitResult
from rexopt.fit.data import CONC_UNITS, FitDataError, to_mol_L
from rexopt.fit.report import calibrate_case

_COL = re.compile(r"^([A-Z][a-z]?|NH4)_(mol_L|g_L|mg_L|oxide_g_L)$")


def read_pilot(path, components: list[str], n_stages: int, outlets: list[str]):
    """Validated pilot samples -> list of (label, where, phase, stage, {el: mol/L})."""
    path = Path(path)
    if not path.is_file():
        raise FitDataError(f"{path}: no such pilot sample file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    header = [h.strip() for h in reader.fieldnames or []]
    errs = []

    def err(row, col, val, allowed):
        at = "header" if row == 0 else f"row {row}"
        errs.append(f"{path}: {at}, column {col}: {val!r} -- {allowed}")

    conc = {}
    for col in header:
        if col in ("sample", "outlet", "stage", "phase"):
            continue
        m = _COL.match(col)
        if not m:
            err(
                0,
                col,
                col,
                "sample, outlet, stage, phase or ELEMENT_UNIT (UNIT one of "
                f"{', '.join(CONC_UNITS)})",
            )
        elif m.group(1) not in components:
            err(
                0, col, m.group(1), f"a component of the case ({', '.join(components)})"
            )
        else:
            conc[col] = m.groups()
    if not conc:
        err(0, "ELEMENT_UNIT", None, "at least one concentration column")
    samples = []
    for r, raw in enumerate(reader, start=1):
        raw = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        label = raw.get("sample") or f"row {r}"
        outlet = raw.get("outlet", "")
        stage_txt, phase = raw.get("stage", ""), raw.get("phase", "")
        if outlet:
            if outlet not in outlets:
                err(r, "outlet", outlet, f"one of {', '.join(outlets)}")
                continue
            where, stage = outlet, None
        else:
            try:
                stage = int(stage_txt)
            except ValueError:
                err(r, "stage", stage_txt, f"an outlet name or a stage 1..{n_stages}")
                continue
            if not 1 <= stage <= n_stages:
                err(r, "stage", stage, f"1..{n_stages}")
                continue
            if phase not in ("aqueous", "organic"):
                err(r, "phase", phase, "aqueous or organic")
                continue
            where = f"stage {stage} {phase}"
        vals = {}
        for col, (el, unit) in conc.items():
            txt = raw.get(col, "")
            if txt == "":
                continue
            try:
                v = float(txt)
            except ValueError:
                v = math.nan
            if not (math.isfinite(v) and v >= 0):
                err(r, col, txt, "a concentration >= 0 (empty = not measured)")
                continue
            vals[el] = to_mol_L(el, v, unit)
        samples.append((label, where, phase or None, stage, vals))
    if errs:
        raise FitDataError("\n".join(errs))
    return samples


def check_pilot(
    result: FitResult,
    case_path,
    pilot_path,
    *,
    pH: float | None = None,
    F_mol_L: float | None = None,
) -> pd.DataFrame:
    """Predicted vs measured for every pilot sample and element [mol/L]."""
    raw = calibrate_case(result, case_path, None, pH=pH, F_mol_L=F_mol_L)
    try:
        case = load_case(raw, name=str(case_path))
        res = simulate(case)
    except (CaseError, CascadeError) as e:
        raise FitError(
            f"{case_path}: pilot case with the fitted chemistry: {e}"
        ) from None
    comps = list(case.chemistry.components)
    samples = read_pilot(
        pilot_path, comps, case.n_stages, [s for s in res.streams.index]
    )
    rows = []
    for label, where, phase, stage, vals in samples:
        for el, meas in vals.items():
            if stage is None:
                pred = float(res.streams.loc[where, f"{el}_mol_L"])
            else:
                col = ("x_" if phase == "aqueous" else "y_") + f"{el}_mol_L"
                pred = float(res.profiles.loc[stage, col])
            rows.append(
                {
                    "sample": label,
                    "where": where,
                    "element": el,
                    "measured_mol_L": meas,
                    "predicted_mol_L": pred,
                    "relative_error": (pred - meas) / meas if meas > 0 else math.nan,
                    "log10_ratio": (
                        math.log10(pred / meas) if meas > 0 and pred > 0 else math.nan
                    ),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["warnings"] = list(res.warnings)
    out.attrs["convergence"] = dict(res.convergence)
    return out
