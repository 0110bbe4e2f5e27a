"""Separation-line synthesis: which cuts, in which order, linked how.

A mixed rare-earth feed is split into products by a sequence of SX cascades.
:mod:`rexopt.lines.superstructure` builds every candidate cut (sized by Xu's
theory, checked by the kernel), :mod:`rexopt.lines.model` selects the line with a
MILP solved by HiGHS, :mod:`rexopt.lines.verify` re-simulates the chosen line with
the kernel, :mod:`rexopt.lines.streams` derives the ions of every outlet and the
conditioning step between two cascades (one accounting for the MILP and the
kernel-run line), and :mod:`rexopt.lines.report` writes the diagram and tables.
See docs/lines.md.
"""

from rexopt.lines.case import LineCaseError, load_line_case
from rexopt.lines.model import LineModel, LineSolution, evaluate
from rexopt.lines.report import optimize_line, write_outputs
from rexopt.lines.superstructure import (
    LineSpecError,
    Superstructure,
    build_superstructure,
)

__all__ = [
    "LineCaseError",
    "LineModel",
    "LineSolution",
    "LineSpecError",
    "Superstructure",
    "build_superstructure",
    "evaluate",
    "load_line_case",
    "optimize_line",
    "write_outputs",
]
