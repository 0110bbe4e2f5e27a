"""Plots people would rather look at than read: stage concentration profiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

_SECTION_SHADE = {"extraction": "#f2f2f2", "scrub": "#e3eefa", "strip": "#fbe9e7"}


def _shade_sections(ax, prof):
    start = 1
    for sec, grp in prof.groupby("section", sort=False):
        lo, hi = grp.index.min(), grp.index.max()
        ax.axvspan(lo - 0.5, hi + 0.5, color=_SECTION_SHADE.get(sec, "#eee"), zorder=0)
        ax.text(
            (lo + hi) / 2,
            1.0,
            sec,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=8,
            color="#555",
        )
        start = hi + 1
    return start


def profile_figure(result) -> Figure:
    """Aqueous and organic concentration of every component along the cascade.

    Log scale, so trace impurities and the main components show together; the
    sections are shaded; pH is drawn when the model computes it.  The figure is not
    registered with pyplot (no global state, works with any backend; a notebook
    shows it when it is the value of a cell).

    Parameters
    ----------
    result : rexopt.results.CascadeResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    prof = result.profiles
    has_ph = "pH" in prof.columns
    nrows = 3 if has_ph else 2
    fig = Figure(figsize=(9, 2.6 * nrows + 0.6))
    axes = fig.subplots(nrows, 1, sharex=True)
    cmap = colormaps["tab10" if len(result.species) <= 10 else "tab20"]
    for ax, phase, label in ((axes[0], "x", "aqueous"), (axes[1], "y", "organic")):
        _shade_sections(ax, prof)
        for k, s in enumerate(result.species):
            v = prof[f"{phase}_{s}_mol_L"].to_numpy()
            ax.semilogy(
                prof.index,
                np.maximum(v, 1e-30),
                "-",
                lw=1.4,
                color=cmap(k % cmap.N),
                label=s,
            )
        ax.set_ylabel(f"{label} [mol/L]")
        ax.grid(True, which="major", alpha=0.3)
        lo = max(
            1e-12,
            np.nanmin(
                prof[[f"{phase}_{s}_mol_L" for s in result.species]]
                .to_numpy()
                .clip(1e-30)
            ),
        )
        ax.set_ylim(bottom=lo)
    axes[0].legend(
        ncol=min(len(result.species), 8),
        fontsize=8,
        loc="lower left",
        bbox_to_anchor=(0, 1.08),
    )
    if has_ph:
        _shade_sections(axes[2], prof)
        axes[2].plot(prof.index, prof["pH"], "k-", lw=1.4)
        axes[2].set_ylabel("pH [-]")
        axes[2].grid(True, alpha=0.3)
    axes[-1].set_xlabel("stage (organic flows left to right, aqueous right to left)")
    fig.suptitle(f"{result.name}: stage profiles ({result.model} model)", y=0.995)
    fig.tight_layout()
    return fig


def plot_profiles(result, path: str | Path) -> Path:
    """Save :func:`profile_figure` of ``result`` to ``path`` (PNG, SVG, PDF by
    suffix) and return the path."""
    path = Path(path)
    profile_figure(result).savefig(path, dpi=130)
    return path
