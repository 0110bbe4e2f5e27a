"""The ``rexopt`` command.

Every case-reading command goes through :mod:`rexopt.study`: ``rexopt validate``
checks a case or sweep file of any kind exactly as its run would; ``rexopt
simulate`` solves a cascade; ``rexopt optimize`` runs the study of the case's kind
(cascade with ``[optimize]``, separation line, NdFeB plant), and refuses an option
the kind does not use, saying why.

No traceback reaches the user: bad input ends with a message naming the file, the
field, the value and what is allowed (exit status 2); a failed run says what
failed (1: infeasible or unverified, 3: the computation failed); an unexpected
error names the file and the step it happened in (exit status 4), and with
``--log FILE`` (or ``REXOPT_TRACEBACK=1``) its traceback is written to a file.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup

import rexopt
from rexopt.output import fail, print_error, table
from rexopt.study import (
    StudyInputError,
    StudyRunError,
    check_file,
    get_study,
    is_sweep_file,
    read_raw,
    study_name_for,
)


class _PlainArgument(TyperArgument):
    """An argument whose help line is its name (or metavar) and help text, without
    the Python type typer adds (``FILE.toml <list[Path]>``), and whose usage is
    written as click writes it."""

    def display_type_rich(self, ctx) -> None:
        return None

    def _usage_display_name(self) -> str:
        # the usage line as click writes it: CASE.toml, [OPTIONAL], FILE.toml...
        # (typer's own wraps a required argument in braces: {CASE.toml})
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")


def _plain_help(cmd):
    """Help of ``cmd`` without Python types: an argument shows its metavar only;
    an option shows the metavar it declares (``--json FILE.json``)."""
    for p in getattr(cmd, "params", ()):
        if type(p) is TyperArgument:
            p.__class__ = _PlainArgument
    return cmd


# Plain help: the text is shown as written (no rich markup, so "[optimize]" and
# "[default: ...]" stay), arguments without a type (_plain_help).
class _LazyGroup(TyperGroup):
    """The command group, whose commands from other packages are imported only
    when one of them runs (or help lists them): ``rexopt simulate`` does not pay
    for importing the fit and sweep modules and their dependencies."""

    def list_commands(self, ctx) -> list[str]:
        return [
            *super().list_commands(ctx),
            *(n for n in _LAZY if n not in self.commands),
        ]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in _LAZY and cmd_name not in self.commands:
            self._load(_LAZY[cmd_name])
        elif cmd_name not in self.commands:  # unknown: suggest among all commands
            for module in dict.fromkeys(_LAZY.values()):
                self._load(module)
        return _plain_help(super().get_command(ctx, cmd_name))

    def _load(self, module: str) -> None:
        import importlib

        loaded = self.__dict__.setdefault("_loaded_modules", set())
        if module in loaded:
            return

        sub = typer.Typer(
            add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False
        )
        sub.callback()(lambda: None)  # a group even for a module with one command
        importlib.import_module(module).register(sub)
        for name, cmd in typer.main.get_command(sub).commands.items():
            self.commands.setdefault(name, cmd)
        loaded.add(module)


# Commands that live with their packages (each module has ``register(app)``), by
# name, in the order help lists them.
_LAZY = {
    "design": "rexopt.design.cli",
    "optimize-cascade": "rexopt.design.cli",
    "sweep": "rexopt.sweep.cli",
    "results": "rexopt.sweep.cli",
    "fit": "rexopt.fit.cli",
}

app = typer.Typer(
    cls=_LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="rexopt: rare-earth SX cascade simulation and process optimization.",
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INPUT, EXIT_INFEASIBLE, EXIT_FAILED, EXIT_INTERNAL = 2, 1, 3, 4
# the largest --loop-passes taken (a bound on a typing slip, not on the solver)
MAX_LOOP_PASSES = 1_000_000
TRACEBACK_ENV = "REXOPT_TRACEBACK"
DEFAULT_LOG = "rexopt-traceback.log"

# What the command is doing, for the top-level handler's message.
_STATE: dict = {"file": None, "step": "starting", "log": None}


@contextmanager
def step(what: str, file: str | Path | None = None):
    """Name the current step (and file) for a message about an unexpected error.

    On an exception the step stays set, so the top-level handler can name it.
    """
    old = dict(_STATE)
    _STATE["step"] = what
    if file is not None:
        _STATE["file"] = str(file)
    yield
    _STATE["step"], _STATE["file"] = old["step"], old["file"]


def _fail(msg: str, code: int = EXIT_INPUT):
    fail(msg, code, err_console)


class _ProgressHandler(logging.Handler):
    """The progress messages of long cascade solves (:mod:`rexopt.watch`: a
    solve past a few seconds says its phase, then every half minute) on
    standard error, so standard output keeps the result alone."""

    def emit(self, record: logging.LogRecord) -> None:
        err_console.print(
            f"... {record.getMessage()}", style="dim", markup=False, highlight=False
        )


def _show_progress() -> None:
    log = logging.getLogger("rexopt.cascade")
    if not any(isinstance(h, _ProgressHandler) for h in log.handlers):
        log.addHandler(_ProgressHandler())
        log.setLevel(logging.INFO)
        log.propagate = False  # printed once, whatever the root logger does


def _version_cb(value: bool):
    if value:
        from rexopt.kernels import kernel_info

        console.print(
            f"rexopt {rexopt.__version__} ({kernel_info()['cascade_kernel']} kernels)",
            markup=False,
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_cb,
        is_eager=True,
        help="Show version and kernels.",
    ),
    log: Path | None = typer.Option(
        None,
        "--log",
        metavar="FILE",
        help="If an unexpected error happens, write its traceback to this file "
        f"(also with {TRACEBACK_ENV}=1, to ./{DEFAULT_LOG}).",
    ),
):
    _STATE["log"] = log
    _show_progress()


@app.command(short_help="Version, kernels, bundled data sets and study kinds.")
def info():
    """Version, active kernels, bundled data sets and study kinds."""
    from rexopt.chemistry import available_datasets
    from rexopt.kernels import kernel_info
    from rexopt.study import study_kinds

    ki = kernel_info()
    console.print(f"rexopt {rexopt.__version__}", markup=False)
    console.print(
        f"cascade kernel: {ki['cascade_kernel']}"
        + ("  (forced by REXOPT_PUREPYTHON)" if ki["forced_pure"] else ""),
        markup=False,
    )
    console.print(f"data sets: {', '.join(available_datasets())}", markup=False)
    console.print(f"study kinds: {', '.join(study_kinds())}", markup=False)


@app.command(short_help="Check case and sweep files as their runs would.")
def validate(
    files: list[Path] = typer.Argument(
        ...,
        metavar="FILE.toml",
        help="Case or sweep TOML files (any kind); every problem is reported.",
        show_default=False,
    ),
):
    """Check case and sweep files exactly as their runs would, every problem at once.

    Exit status 0 if every file is valid, 2 if any is not.
    """
    bad = 0
    for f in files:
        with step("validating", f):
            try:
                kind, line, notes = check_file(f)
            except StudyInputError as e:
                bad += 1
                print_error(str(e), err_console)
                continue
        console.print("ok", style="green", end="")
        console.print(f": {f} ({line})", markup=False, highlight=False)
        if kind in ("cascade", "cascade_optimize"):
            with step("checking the case for rexopt design", f):
                from rexopt.design.casedesign import design_note

                notes = [*notes, design_note(f)]
        _print_notes(notes, indent="  ")
    if bad:
        raise typer.Exit(EXIT_INPUT)


def _print_notes(notes, indent: str = "") -> None:
    """Each note on its own line, ``note: ...``, as plain text (None is skipped)."""
    for n in notes:
        if n:
            console.print(f"{indent}note: {n}", markup=False, highlight=False)


def _print_result(res):
    """Streams, purities, recoveries, reagents, convergence, warnings."""
    width = max((len(str(n)) for n in res.streams.index), default=0)
    t = table(
        f"{res.name}  ({res.model} model, {res.convergence['kernel']})",
        ("stream", "left"),
        ("phase", "left"),
        ("stage", "right"),
        ("flow [L/h]", "right"),
        ("metals [mol/h]", "right"),
        first_width=width,
    )
    for name, row in res.streams.iterrows():
        tag = "" if row["outlet"] else " (internal)"
        t.add_row(
            escape(name + tag),
            row["phase"],
            str(row["stage"]),
            f"{row['flow_L_h']:.6g}",
            f"{row['metals_mol_h']:.6g}",
        )
    console.print(t)
    # purities in their own table, a few components at a time, so that no column
    # is cut on a narrow terminal (the JSON output holds every number)
    comps = list(res.components)
    per = max(1, (console.width - 30) // 12)
    for k in range(0, len(comps), per):
        part = comps[k : k + per]
        p = table(
            "purity (mole fraction of the case's components)"
            + (f", part {k // per + 1}" if len(comps) > per else ""),
            ("stream", "left"),
            *[(s, "right") for s in part],
        )
        for name in res.streams.index:
            p.add_row(escape(name), *[f"{res.purity.loc[name, s]:.6f}" for s in part])
        console.print(p)
    r = table(
        "recovery (fraction of each component's input)",
        ("component", "left"),
        *[(o, "right") for o in res.recovery.columns],
    )
    for s, row in res.recovery.iterrows():
        r.add_row(escape(s), *[f"{v:.6f}" for v in row])
    console.print(r)
    g = table(
        "reagents and salt", ("item", "left"), ("mol/h", "right"), ("kg/h", "right")
    )
    for name, row in res.reagents.iterrows():
        g.add_row(escape(str(name)), f"{row['mol_h']:.6g}", f"{row['kg_h']:.6g}")
    console.print(g)
    cv = res.convergence
    console.print(
        f"converged ({cv['start']} start): {cv['newton_iterations']} Newton iterations, "
        f"{cv['continuation_steps']} continuation steps, scaled residual "
        f"{cv['scaled_residual']:.2e}, worst balance error {cv['max_balance_error']:.2e}, "
        f"{cv['solve_time_s'] * 1e3:.1f} ms",
        markup=False,
    )
    for w in res.warnings:
        console.print("warning: ", style="yellow", end="")
        console.print(w, markup=False, highlight=False)


def _load_kind(case: Path):
    with step("reading the case", case):
        try:
            raw = read_raw(case)
            if is_sweep_file(raw):
                _fail(
                    f"{case}: a sweep file (no kind; it has sweep fields); run "
                    f"rexopt sweep {case}"
                )
            return get_study(study_name_for(raw, where=str(case))), raw
        except StudyInputError as e:
            _fail(str(e))


def _run(kind, case: Path, opts: dict):
    with step(f"running the {kind.title}", case):
        try:
            return kind.run(case, {k: v for k, v in opts.items() if v is not None})
        except StudyInputError as e:
            _fail(str(e))
        except StudyRunError as e:
            _fail(str(e), code=e.code)


@app.command(short_help="Solve a cascade: streams, purities, reagents.")
def simulate(
    case: Path = typer.Argument(
        ..., metavar="CASE.toml", help="Cascade case TOML file."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", metavar="FILE.json", help="Write every number as JSON."
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="Draw the stage profiles (concentrations per stage) as a PNG.",
    ),
    time_limit: float | None = typer.Option(
        None,
        "--time-limit",
        metavar="SECONDS",
        help="Stop a solve still running after this many seconds, saying where it "
        "was (exit status 3); default: no limit.",
    ),
    loop_passes: int | None = typer.Option(
        None,
        "--loop-passes",
        metavar="N",
        help="Passes of an organic loop (organic.recycle = true) before its "
        "fallbacks; default 1000.  Raise it where the error says more passes may "
        "close the loop.",
    ),
):
    """Solve a cascade's steady state and print streams, purities and reagents.

    A cascade case with an [optimize] table is simulated as written (the
    [optimize] table is checked, then left to rexopt optimize).  A solve that
    runs more than a few seconds prints its progress on standard error.
    """
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        _fail(f"--time-limit = {time_limit:g}: allowed a number of seconds above 0")
    if loop_passes is not None and not 1 <= loop_passes <= MAX_LOOP_PASSES:
        _fail(
            f"--loop-passes = {loop_passes}: allowed a whole number from 1 to "
            f"{MAX_LOOP_PASSES:,}"
        )
    kind, _ = _load_kind(case)
    if kind.case_kind != "cascade":
        _fail(
            f"{case}: kind = {kind.case_kind!r}: simulate solves cascades; "
            f"run rexopt {kind.command} {case}"
        )
    if kind.name == "cascade_optimize":
        with step("reading the case", case):
            try:
                kind.load_checked(case, where=str(case))  # the [optimize] table too
            except StudyInputError as e:
                _fail(str(e))
    oc = _run(
        get_study("cascade"),
        case,
        {
            "json": json_out,
            "plot": plot,
            "time_limit": time_limit,
            "loop_passes": loop_passes,
        },
    )
    # e.g. which data file gave which parameters, an [optimize] table set aside
    _print_notes(oc.notes)
    with step("printing the result", case):
        _print_result(oc.result)
    for k, p in oc.files.items():
        console.print(f"wrote {p} ({k})", markup=False, highlight=False)


@app.command(short_help="Optimize a cascade design, separation line or plant.")
def optimize(
    case: Path = typer.Argument(
        ...,
        metavar="CASE.toml",
        help="Case TOML: a cascade with an [optimize] table, a separation_line, "
        "or an ndfeb_flowsheet.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        metavar="DIR",
        help="Folder for tables, plots and the result (default for a line or a "
        "plant: ./out).",
    ),
    json_out: Path | None = typer.Option(
        None,
        "--json",
        metavar="FILE.json",
        help="Write the result as JSON (with its schema id).",
    ),
    pareto: Path | None = typer.Option(
        None,
        "--pareto",
        metavar="PREFIX",
        help="Cascade optimization only: write the Pareto tables (PREFIX_*.csv) "
        "and plot (PREFIX.png).",
    ),
):
    """Optimize a case: a cascade design, a separation line or a recycling plant.

    Exit status 0: an optimum that meets the specs; 1: infeasible or not verified
    (the binding spec is printed); 2: bad input; 3: the computation failed.
    """
    kind, _ = _load_kind(case)
    if kind.run is None or kind.name == "cascade":
        _fail(
            f"{case}: a plain cascade case has nothing to optimize -- add an "
            "[optimize] table (docs/optimize.md), or run rexopt simulate"
        )
    opts = {"out": out, "json": json_out, "pareto": pareto}
    refusal = kind.check_options(opts)
    if refusal:
        _fail(f"{case}: {refusal}")
    oc = _run(kind, case, opts)
    for w in oc.warnings:
        console.print("WARNING: ", style="bold yellow", end="")
        console.print(w, markup=False, highlight=False)
    if kind.name == "cascade_optimize":
        for k, p in oc.files.items():
            console.print(f"wrote {p} ({k})", markup=False, highlight=False)
    elif "json" in oc.files:
        console.print(f"wrote {oc.files['json']} (json)", markup=False)
    raise typer.Exit(oc.exit_code)


# ------------------------------------------------------------ top-level handler


def _file_from_argv(argv: list[str]) -> str | None:
    for a in argv:
        if not a.startswith("-") and a.endswith((".toml", ".h5", ".csv")):
            return a
    return None


def _write_traceback(exc: BaseException) -> str | None:
    """Write the traceback where --log or REXOPT_TRACEBACK asks; the path or None."""
    path = _STATE.get("log")
    if path is None and os.environ.get(TRACEBACK_ENV, "") not in ("", "0"):
        path = Path(DEFAULT_LOG)
    if path is None:
        return None
    text = "".join(traceback.format_exception(exc))
    try:
        Path(path).write_text(
            f"rexopt {rexopt.__version__}: {' '.join(sys.argv)}\n"
            f"step: {_STATE['step']}; file: {_STATE['file']}\n\n{text}",
            encoding="utf-8",
        )
    except OSError as e:
        err_console.print(
            f"(could not write the traceback to {path}: {e})", markup=False
        )
        return None
    return str(path)


def _known_input_errors() -> tuple:
    from rexopt.case import CaseError

    return (StudyInputError, CaseError)


def main(argv: list[str] | None = None):
    """Entry point: run the command; no traceback ever reaches the user."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # a fresh state per call: an earlier call in this process (tests, notebooks)
    # must not lend its file, step or --log to this one's messages
    _STATE.update(file=None, step="starting", log=None)
    try:
        app(args=argv, prog_name="rexopt", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
    except _known_input_errors() as e:
        print_error(str(e), err_console)
        sys.exit(EXIT_INPUT)
    except Exception as e:
        where = _STATE["file"] or _file_from_argv(argv) or "(no file)"
        log = _write_traceback(e)
        print_error(
            f"{where}: unexpected {type(e).__name__} while {_STATE['step']}: {e}",
            err_console,
        )
        if log:
            err_console.print(f"traceback written to {log}", markup=False)
        else:
            err_console.print(
                f"this is a bug in rexopt; rerun with --log FILE (or "
                f"{TRACEBACK_ENV}=1) to write the traceback to a file and report it",
                markup=False,
            )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
