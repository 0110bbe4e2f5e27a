"""What a fit writes: a data file like ``rexopt/data/*.toml``, a case's chemistry,
a calibrated copy of a case, parity and residual plots.

A case uses fitted parameters by naming the written file in its model block
(``dataset = "params.toml"``, read by :mod:`rexopt.case_data` from its
``[chemistry]`` table), through inline chemistry tables (that table pasted, or
``calibrate_case``).
"""

from __future__ import annotations

import datetime as _dt
import math
import tomllib
from pathlib import Path

import numpy as np
import tomli_w

import rexopt
from rexopt.fit.batch import KINDS, MEANING, FitError
from rexopt.fit.core import FitResult


def _f(v: float) -> float:
    return float(f"{v:.8g}")


def case_chemistry(result: FitResult, components: list[str] | None = None) -> dict:
    """The ``[chemistry]`` tables that make a case use the fitted parameters
    (inline parameters, read by the simulator as given).  For the saturated model
    ``saturated.separation_factors`` (least extractable = 1) is where the Xu design
    and the optimizer read them."""
    comps = list(components or result.elements)
    missing = [c for c in comps if c not in result.elements]
    if missing:
        raise FitError(
            f"components {', '.join(missing)} were not in the fitted data "
            f"({', '.join(result.elements)}): no fitted parameters for them"
        )
    m = result.model
    v = {(p.element, p.kind): p.value for p in result.params}
    chem: dict = {"model": m, "medium": result.medium}
    if m == "constant":
        chem["constant"] = {
            "distribution": {
                "extraction": {c: _f(10.0 ** v[(c, "log10_D")]) for c in comps}
            }
        }
    elif m == "empirical_ph":
        chem["empirical_ph"] = {
            "params": {c: {k: _f(v[(c, k)]) for k in KINDS[m]} for c in comps}
        }
    elif m == "mass_action":
        chem["mass_action"] = {
            "params": {
                c: {
                    "log10_K": _f(v[(c, "log10_K")]),
                    "n": _f(v[(c, "n")]),
                    "m": _f(v[(c, "m")]),
                    "nu": _f(v[(c, "nu")]),
                }
                for c in comps
            }
        }
    if m == "saturated":
        ref = min(comps, key=lambda c: v[(c, "log10_K")])
        chem["saturated"] = {
            "separation_factors": {
                c: _f(10.0 ** (v[(c, "log10_K")] - v[(ref, "log10_K")])) for c in comps
            },
            "K_ref_L_mol": _f(10.0 ** v[(ref, "log10_K")]),
        }
    return chem


def _sep_table(result, comps, pH, F_mol_L) -> dict[str, float]:
    if result.model in ("empirical_ph", "mass_action") and pH is None:
        return {}
    t = result.separation_factors(pH=pH, F_mol_L=F_mol_L)
    t = t[t.element.isin(comps)]
    base = t.beta.min()
    return {r.element: float(r.beta / base) for r in t.itertuples()}


def to_data_dict(
    result: FitResult,
    *,
    name: str | None = None,
    pH: float | None = None,
    F_mol_L: float | None = None,
    date: str | None = None,
) -> dict:
    """The fit as a data file in the layout of ``rexopt/data/*.toml``."""
    date = date or _dt.date.today().isoformat()
    src = result.data.source
    stem = name or f"fit_{Path(src).stem}"
    meta = {
        "name": stem,
        "description": f"{result.model} parameters fitted to batch tests",
        "source": f"rexopt fit of {src} ({len(result.data.tests)} tests), {date}",
        "status": "fitted",
        "model": result.model,
        "medium": result.medium,
        "fitted_on": result.space,
        "date": date,
        "rexopt_version": rexopt.__version__,
        "uncertainty": (
            "std_error from the Jacobian at the optimum, cov = s^2 (J^T J)^-1 with "
            "s^2 the residual variance; ci95 = value +- t(0.975, dof) std_error"
        ),
    }
    params: dict = {}
    for el in result.elements:
        row: dict = {}
        for p in [q for q in result.params if q.element == el]:
            row[p.kind] = _f(p.value)
        for p in [q for q in result.params if q.element == el]:
            if p.free:
                row[f"se_{p.kind}"] = _f(p.se)
                row[f"ci95_{p.kind}"] = [_f(p.ci_low), _f(p.ci_high)]
                if result.bootstrap:
                    lo, hi = result.bootstrap["ci95"][p.name]
                    row[f"boot_ci95_{p.kind}"] = [_f(lo), _f(hi)]
        fixed = [p.kind for p in result.params if p.element == el and not p.free]
        row["fixed"] = fixed
        row["status"] = "fitted"
        row["source"] = meta["source"]
        params[el] = row
    fitinfo = {
        "n_tests": len(result.data.tests),
        "n_observations": result.n_obs,
        "degrees_of_freedom": result.dof,
        "residual_sd": _f(math.sqrt(result.s2)),
        "r2": {e: _f(v) for e, v in result.r2.items() if math.isfinite(v)},
        "rmse": {e: _f(v) for e, v in result.rmse.items()},
        "free_parameters": list(result.free_names),
        "correlation": [[_f(x) for x in row] for row in result.corr],
        "meaning": {k: MEANING[k] for k in KINDS[result.model]},
        "optimizer": result.optimizer["message"],
        "notes": list(result.notes),
        "excluded": list(result.excluded),
    }
    out = {"meta": meta, "params": params, "fit": fitinfo}
    if result.model not in ("empirical_ph", "mass_action") or pH is not None:
        sf = result.separation_factors(pH=pH, F_mol_L=F_mol_L)
        cond = {}
        if pH is not None:
            cond["pH"] = pH
        if F_mol_L is not None and result.model != "saturated":
            cond["free_extractant_mol_L"] = F_mol_L
        out["separation_factors"] = {
            "reference": str(sf.reference.iloc[0]),
            "condition": cond,
            "ci": "95 % interval (delta method on log10 beta, t quantile of the fit)",
            **{
                r.element: {
                    "value": _f(r.beta),
                    "ci95": [_f(r.ci95_low), _f(r.ci95_high)],
                }
                for r in sf.itertuples()
            },
        }
        out["separation_factors"]["case_table"] = {
            e: _f(b)
            for e, b in _sep_table(result, result.elements, pH, F_mol_L).items()
        }
    out["chemistry"] = case_chemistry(result)
    return out


def _use_line(model: str, file: str) -> str:
    if model == "constant":  # a constant case needs D of every section
        return (
            "# [chemistry]: paste into a case (or use `rexopt fit ... --case`) to "
            "simulate with these values.\n"
        )
    return (
        f'# [chemistry]: name this file in a case (dataset = "{file}" in '
        f"[chemistry.{model}]),\n# paste it into a case, or use "
        "`rexopt fit ... --case`, to simulate with these values.\n"
    )


def write_params(result: FitResult, path, **kw) -> Path:
    """Write the data file (TOML); returns its path."""
    d = to_data_dict(result, **kw)
    path = Path(path)
    head = (
        f"# {d['meta']['description']} -- written by `rexopt fit`.\n"
        f"# [params]: every parameter, with se_* (standard error) and ci95_* (95 % "
        f"interval) for the fitted ones.\n"
        + _use_line(d["meta"]["model"], path.name)
        + "# [separation_factors].case_table: relative affinities (least extractable "
        "= 1) at the stated condition,\n# to use as chemistry.saturated."
        "separation_factors of a saturated (Xu design) case.\n"
    )
    path.write_text(head + tomli_w.dumps(d), encoding="utf-8")
    return path


def calibrate_case(
    result: FitResult,
    case_path,
    out_path=None,
    *,
    pH: float | None = None,
    F_mol_L: float | None = None,
) -> dict:
    """A copy of a case whose chemistry uses the fitted parameters (written to
    ``out_path`` when given).  Sections other than extraction keep, for the
    constant model, their D from the case (batch tests say nothing about them)."""
    case_path = Path(case_path)
    try:
        raw = tomllib.loads(case_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise FitError(f"{case_path}: cannot read the case: {e}") from None
    from rexopt.case_data import absolute_data_paths

    # a data file the case names keeps working from wherever the copy is written
    raw = absolute_data_paths(raw, case_path.resolve().parent)
    chem = dict(raw.get("chemistry", {}))
    comps = chem.get("components")
    if not comps:
        raise FitError(f"{case_path}: chemistry.components: missing")
    if chem.get("medium", "chloride") != result.medium:
        raise FitError(
            f"{case_path}: chemistry.medium: {chem.get('medium', 'chloride')!r} -- "
            f"{result.medium!r} (the medium of the fitted tests)"
        )
    m = result.model
    old_model = chem.get("model")
    if old_model == "saturated" and m != "saturated":
        # a Xu design case: only its separation factors change (at the stated
        # condition), the model stays saturated
        rel = _sep_table(result, comps, pH, F_mol_L)
        if not rel:
            raise FitError(
                f"{case_path}: a saturated (Xu) case takes separation factors; the "
                f"{m} fit gives them at a stated condition: give pH (--ref-ph)"
            )
        sat = dict(chem.get("saturated") or {})
        sat["separation_factors"] = {c: _f(b) for c, b in rel.items()}
        chem["saturated"] = sat
    else:
        new = case_chemistry(result, comps)
        if old_model != m:
            chem.pop(old_model, None)
        if m == "constant":
            old = (chem.get("constant") or {}).get("distribution", {})
            extraction = new["constant"]["distribution"]["extraction"]
            new["constant"] = {"distribution": {**old, "extraction": extraction}}
        elif m == "saturated":
            old_sat = chem.get("saturated") or {}
            # batch tests at extraction acidity say nothing about the strip section
            for k in ("K_ref_strip_L_mol",):
                if k in old_sat:
                    new["saturated"][k] = old_sat[k]
        else:
            keep = {
                k: v
                for k, v in (chem.get(m) or {}).items()
                if k not in ("params", "dataset")
            }
            new[m] = {**keep, **new[m]}
        chem.update(new)
    raw["chemistry"] = chem
    src = f"{result.data.source}"
    raw["description"] = (
        raw.get("description", "")
        + f" [chemistry: {m} parameters fitted by rexopt fit to {src}]"
    ).strip()
    if out_path is not None:
        Path(out_path).write_text(
            "# calibrated by `rexopt fit`: chemistry from the fitted parameters\n"
            + tomli_w.dumps(raw),
            encoding="utf-8",
        )
    return raw


def plot(result: FitResult, prefix) -> list[Path]:
    """Parity and residual plots (PNG); returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prefix = str(prefix)
    r = result.residuals
    label = {"log_D": "log10 D", "conc": "concentration [mol/L]"}[result.space]
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for el in result.elements:
        s = r[r.element == el]
        ax.scatter(s.measured, s.predicted, s=18, label=el)
    lo = float(np.nanmin([r.measured.min(), r.predicted.min()]))
    hi = float(np.nanmax([r.measured.max(), r.predicted.max()]))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlabel(f"measured {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_title(f"{result.model}: parity")
    ax.legend(fontsize=8)
    paths.append(_save(fig, prefix + "_parity.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    xcol = "pH_predicted" if r.pH_predicted.notna().any() else "row"
    for el in result.elements:
        s = r[r.element == el]
        ax.scatter(s[xcol], s.residual, s=18, label=el)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("predicted equilibrium pH" if xcol != "row" else "data row")
    ax.set_ylabel(f"residual, predicted - measured {label}")
    ax.set_title(f"{result.model}: residuals")
    ax.legend(fontsize=8)
    paths.append(_save(fig, prefix + "_residuals.png"))
    return paths


def _save(fig, path: str) -> Path:
    """Lay out, write (120 dpi) and close a figure; its path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=120)
    plt.close(fig)
    return p
