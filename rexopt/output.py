"""What the commands print and write, written once for every command.

* :func:`print_error` / :func:`fail`: the one-line ``error: MESSAGE`` every command
  prints for bad input or a failed run (the message as plain text: rich markup in
  it, e.g. a ``[optimize]`` table name, is shown, not interpreted).
* :func:`table`: a rich table whose cells fold instead of being cut on a narrow
  terminal (no name or number ends in "..."), title and headers shown as written.
* :func:`finite_or_none`: a copy of a result for strict JSON (NaN and inf -> null);
  :func:`write_json` writes such a copy.
* :data:`JsonOption`: the ``--json FILE.json`` option of ``design``,
  ``optimize-cascade`` and ``fit``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_err_console = Console(stderr=True, soft_wrap=True)

JsonOption = Annotated[
    Path | None,
    typer.Option("--json", metavar="FILE.json", help="Write the result as JSON."),
]


def print_error(msg: str, console: Console | None = None) -> None:
    """Print ``error: MSG`` ("error:" in bold red, MSG as plain text).

    ``console``: where to print (default: standard error).
    """
    c = _err_console if console is None else console
    c.print("error: ", style="bold red", end="", highlight=False)
    c.print(msg, markup=False, highlight=False)


def fail(msg: str, code: int = 2, console: Console | None = None) -> NoReturn:
    """:func:`print_error`, then end the command with exit status ``code`` (2: bad
    input; the exit statuses are listed in :mod:`rexopt.cli`)."""
    print_error(msg, console)
    raise typer.Exit(code)


def table(title: str, *cols: tuple[str, str], first_width: int = 0) -> Table:
    """A table with columns ``(name, justify)`` ("left" or "right") whose cells
    fold instead of being cut when the terminal is narrow (the first column, the
    names, is kept at least ``first_width`` wide, at most 28)."""
    t = Table(title=escape(title), title_justify="left")
    for k, (name, justify) in enumerate(cols):
        t.add_column(
            escape(name),
            justify=justify,
            overflow="fold",
            min_width=min(first_width, 28) if k == 0 and first_width else None,
        )
    return t


def finite_or_none(obj):
    """A copy of nested dicts, lists and tuples with every non-finite float as
    None, so that ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    return obj


def write_json(path, doc, indent: int = 1) -> None:
    """Write ``doc`` as strict JSON (UTF-8): a non-finite number as null, an
    object JSON has no type for as its text."""
    Path(path).write_text(
        json.dumps(finite_or_none(doc), indent=indent, default=str, allow_nan=False),
        encoding="utf-8",
    )
