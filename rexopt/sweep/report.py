"""Plots of a sweep's results (PNG, matplotlib Agg; no pyplot global state).

* distributions: a histogram of each output over the ``ok`` scenarios;
* tornado: for each numeric parameter, the mean output when the parameter is in its
  lowest third vs. its highest third (over the ``ok`` scenarios), sorted by swing,
  with the Spearman rank correlation in the label.  Unlike a one-at-a-time tornado
  it needs no extra runs and works for grids and random samples alike;
* scatter: one output against another, coloured by status.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = [
    "write_report",
    "plot_distribution",
    "plot_tornado",
    "plot_scatter",
    "sensitivity_table",
]


def _figure(w=6.4, h=4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _fname(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


def _numeric_params(df, params: list[str]) -> list[str]:
    return [
        p
        for p in params
        if p in df
        and np.issubdtype(np.asarray(df[p]).dtype, np.number)
        and df[p].nunique() > 1
    ]


def sensitivity_table(df, output: str, params: list[str]):
    """Per parameter: mean output in its lowest and highest third, swing, Spearman.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`rexopt.sweep.read_results`.
    output : str
        Output column.
    params : list of str
        Parameter columns (non-numeric and constant ones are skipped).
    """
    import pandas as pd

    ok = df[df["status"] == "ok"]
    rows = []
    y = ok[output].to_numpy(dtype=float)
    good = np.isfinite(y)
    for p in _numeric_params(ok, params):
        x = ok[p].to_numpy(dtype=float)[good]
        yy = y[good]
        if len(x) < 3:
            continue
        lo_q, hi_q = np.quantile(x, [1 / 3, 2 / 3])
        lo = yy[x <= lo_q]
        hi = yy[x >= hi_q]
        if len(lo) == 0 or len(hi) == 0 or lo_q == hi_q:
            # Two-level grids: split at the median instead.
            med = np.median(x)
            lo, hi = yy[x <= med], yy[x > med]
            if len(hi) == 0:
                lo, hi = yy[x < med], yy[x >= med]
        if len(lo) == 0 or len(hi) == 0:
            continue
        rho = pd.Series(x).rank().corr(pd.Series(yy).rank())
        rows.append(
            {
                "parameter": p,
                "low": float(np.mean(lo)),
                "high": float(np.mean(hi)),
                "swing": float(np.mean(hi) - np.mean(lo)),
                "spearman": float(rho),
            }
        )
    t = pd.DataFrame(rows, columns=["parameter", "low", "high", "swing", "spearman"])
    if len(t):
        t = t.reindex(t["swing"].abs().sort_values(ascending=False).index)
    return t.reset_index(drop=True)


def plot_distribution(df, output: str, path: Path, note: str = "") -> Path | None:
    ok = df[df["status"] == "ok"][output].to_numpy(dtype=float)
    ok = ok[np.isfinite(ok)]
    if len(ok) == 0:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.hist(
        ok,
        bins=min(50, max(5, int(np.sqrt(len(ok))))),
        color="#4878a8",
        edgecolor="white",
    )
    ax.set_xlabel(output)
    ax.set_ylabel("scenarios")
    ax.set_title(f"{output}: {len(ok)} ok scenarios, median {np.median(ok):.4g}" + note)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_tornado(
    df, output: str, params: list[str], path: Path, note: str = ""
) -> Path | None:
    t = sensitivity_table(df, output, params)
    if len(t) == 0:
        return None
    ok = df[df["status"] == "ok"][output].to_numpy(dtype=float)
    mid = float(np.nanmean(ok))
    t = t.iloc[::-1]  # largest swing on top
    fig = _figure(6.8, 1.2 + 0.45 * len(t))
    ax = fig.add_subplot()
    ypos = np.arange(len(t))
    for y, (_, r) in zip(ypos, t.iterrows(), strict=True):
        ax.barh(y, r["low"] - mid, left=mid, color="#c05050", height=0.6)
        ax.barh(y, r["high"] - mid, left=mid, color="#4878a8", height=0.6)
    ax.axvline(mid, color="k", lw=0.8)
    ax.set_yticks(
        ypos,
        [
            f"{p} (rho {s:+.2f})"
            for p, s in zip(t["parameter"], t["spearman"], strict=True)
        ],
    )
    ax.set_xlabel(f"mean {output}  (red: parameter in lowest third, blue: highest)")
    ax.set_title(f"Sensitivity of {output}" + note)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_scatter(df, x: str, y: str, path: Path, note: str = "") -> Path | None:
    fig = _figure()
    ax = fig.add_subplot()
    any_pts = False
    for st, color in (("ok", "#4878a8"), ("infeasible", "#e0a030")):
        sub = df[df["status"] == st]
        if len(sub):
            ax.scatter(
                sub[x], sub[y], s=8, alpha=0.7, color=color, label=f"{st} ({len(sub)})"
            )
            any_pts = True
    if not any_pts:
        return None
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend()
    ax.set_title(f"{y} vs {x}" + note)
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_report(
    path_or_df, outdir: str | Path, *, definition: dict | None = None
) -> list[Path]:
    """Write the report PNGs for a sweep file (or its DataFrame) into ``outdir``.

    What is drawn follows the sweep's ``[report]`` section: histograms of every
    output, tornados of the listed outputs (default: all), scatters of the listed
    pairs (default: the first two outputs).  A sweep run with ``[cascade]
    branch_search = false`` says so in every plot's title.
    """
    from rexopt.sweep.store import read_definition, read_results

    if isinstance(path_or_df, str | Path):
        df = read_results(path_or_df)
        definition = read_definition(path_or_df)
    else:
        df = path_or_df
        if definition is None:
            raise ValueError("pass definition= with a DataFrame")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    outputs = definition["outputs"]
    params = [p["name"] for p in definition["parameters"]]
    spec = definition.get("spec", {})
    rep = spec.get("report", {})
    # a study option that changes what the numbers mean is on every plot
    note = (
        "\n(branch search off: other steady states not looked for)"
        if (spec.get("cascade") or {}).get("branch_search") is False
        else ""
    )
    written: list[Path] = []
    if rep.get("histograms", True):
        for o in outputs:
            p = plot_distribution(df, o, outdir / f"dist_{_fname(o)}.png", note)
            if p:
                written.append(p)
    for o in rep.get("tornado") or outputs:
        p = plot_tornado(df, o, params, outdir / f"tornado_{_fname(o)}.png", note)
        if p:
            written.append(p)
    pairs = rep.get("scatter") or ([outputs[:2]] if len(outputs) >= 2 else [])
    for x, y in pairs:
        p = plot_scatter(
            df, x, y, outdir / f"scatter_{_fname(y)}_vs_{_fname(x)}.png", note
        )
        if p:
            written.append(p)
    return written
