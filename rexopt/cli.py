"""The ``rexopt`` command.

``rexopt simulate CASE.toml`` solves a cascade; ``rexopt optimize CASE.toml``
dispatches on the case kind; ``rexopt validate`` checks a case file; ``rexopt
info`` says which kernels are active.  Bad input ends with a message naming the
file, the field, the value and what is allowed, and exit status 2, never a
traceback.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

import rexopt
from rexopt.case import CaseError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="rexopt: rare-earth SX cascade simulation and process optimization",
)
console = Console()
err_console = Console(stderr=True)


def _fail(msg: str, code: int = 2):
    err_console.print(f"[bold red]error:[/] {msg}", highlight=False)
    raise typer.Exit(code)


def _version_cb(value: bool):
    if value:
        from rexopt.kernels import kernel_info

        console.print(
            f"rexopt {rexopt.__version__} ({kernel_info()['cascade_kernel']} kernels)"
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_cb,
        is_eager=True,
        help="show version and kernels",
    ),
):
    pass


@app.command()
def info():
    """Version, active kernels and bundled data sets."""
    from rexopt.chemistry import available_datasets
    from rexopt.kernels import kernel_info

    ki = kernel_info()
    console.print(f"rexopt {rexopt.__version__}")
    console.print(
        f"cascade kernel: {ki['cascade_kernel']}"
        + ("  (forced by REXOPT_PUREPYTHON)" if ki["forced_pure"] else "")
    )
    console.print(f"data sets: {', '.join(available_datasets())}")


@app.command()
def validate(case: Path = typer.Argument(..., help="case TOML file")):
    """Check a case file and report every problem at once."""
    from rexopt.cascade import Cascade

    extra = ""
    try:
        raw = (
            tomllib.loads(case.read_text(encoding="utf-8")) if case.is_file() else None
        )
        if raw is not None and "optimize" in raw:
            # a cascade with an [optimize] table: both parts are checked
            from rexopt.design.optimize import OptimizeError, split_case

            try:
                base, spec = split_case(case)
            except OptimizeError as e:
                _fail(str(e))
            c = Cascade(base)
            extra = f", \\[optimize] with {len(spec.specs)} specs"
        else:
            c = Cascade(case)
        net = c.network()
        c.stage_parameters(net)
    except (CaseError, FileNotFoundError, KeyError) as e:
        _fail(str(e))
    except tomllib.TOMLDecodeError as e:
        _fail(f"{case}: not valid TOML: {e}")
    console.print(
        f"[green]ok[/]: {case} ({c.case.n_stages} stages, "
        f"{len(c.species)} species, {c.model} model{extra})"
    )


def _print_result(res):
    t = Table(title=f"{res.name}  [{res.model} model, {res.convergence['kernel']}]")
    t.add_column("stream")
    t.add_column("phase")
    t.add_column("stage", justify="right")
    t.add_column("flow [L/h]", justify="right")
    t.add_column("metals [mol/h]", justify="right")
    for s in res.components:
        t.add_column(f"{s} purity", justify="right")
    for name, row in res.streams.iterrows():
        tag = "" if row["outlet"] else " (internal)"
        t.add_row(
            name + tag,
            row["phase"],
            str(row["stage"]),
            f"{row['flow_L_h']:.6g}",
            f"{row['metals_mol_h']:.6g}",
            *[f"{res.purity.loc[name, s]:.6f}" for s in res.components],
        )
    console.print(t)
    r = Table(title="recovery (fraction of each component's input)")
    r.add_column("component")
    for o in res.recovery.columns:
        r.add_column(o, justify="right")
    for s, row in res.recovery.iterrows():
        r.add_row(s, *[f"{v:.6f}" for v in row])
    console.print(r)
    g = Table(title="reagents and salt")
    g.add_column("item")
    g.add_column("mol/h", justify="right")
    g.add_column("kg/h", justify="right")
    for name, row in res.reagents.iterrows():
        g.add_row(name, f"{row['mol_h']:.6g}", f"{row['kg_h']:.6g}")
    console.print(g)
    cv = res.convergence
    console.print(
        f"converged ({cv['start']} start): {cv['newton_iterations']} Newton iterations, "
        f"{cv['continuation_steps']} continuation steps, scaled residual "
        f"{cv['scaled_residual']:.2e}, worst balance error {cv['max_balance_error']:.2e}, "
        f"{cv['solve_time_s'] * 1e3:.1f} ms"
    )
    for w in res.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
def simulate(
    case: Path = typer.Argument(..., help="cascade case TOML file"),
    json_out: Path | None = typer.Option(
        None, "--json", help="write every number as JSON"
    ),
    plot: Path | None = typer.Option(None, "--plot", help="draw stage profiles (PNG)"),
):
    """Solve a cascade's steady state and print streams, purities and reagents."""
    from rexopt.cascade import CascadeError

    try:
        res = rexopt.simulate(case)
    except CaseError as e:
        _fail(str(e))
    except CascadeError as e:
        _fail(f"{case}: {e}", code=3)
    _print_result(res)
    if json_out:
        res.to_json(json_out)
        console.print(f"wrote {json_out}")
    if plot:
        res.plot(plot)
        console.print(f"wrote {plot}")


@app.command()
def optimize(
    case: Path = typer.Argument(
        ..., help="case TOML: a cascade with [optimize], or a flowsheet"
    ),
    out: Path = typer.Option(Path("out"), "--out", help="folder for tables and plots"),
    json_out: Path | None = typer.Option(
        None, "--json", help="write the result as JSON"
    ),
    pareto: Path | None = typer.Option(
        None, "--pareto", help="Pareto table/plot prefix"
    ),
):
    """Optimize a case: a cascade design, a separation line or a recycling plant."""
    if not case.is_file():
        _fail(f"{case}: no such case file")
    try:
        kind = tomllib.loads(case.read_text(encoding="utf-8")).get("kind", "cascade")
    except tomllib.TOMLDecodeError as e:
        _fail(f"{case}: not valid TOML: {e}")
    handlers = _optimize_handlers()
    if kind not in handlers:
        _fail(
            f"{case}: kind: {kind!r} -- optimize handles {', '.join(sorted(handlers))}"
        )
    code = handlers[kind](case, out=out, json_out=json_out, pareto=pareto)
    raise typer.Exit(code or 0)


def _optimize_handlers() -> dict:
    """Case kind -> optimizer entry point (each module owns its own CLI glue)."""
    handlers = {}
    try:
        from rexopt.design.cli import optimize_cli

        handlers["cascade"] = lambda case, out, json_out, pareto: optimize_cli(
            str(case), json_out=json_out, pareto=pareto
        )
    except ImportError:
        pass
    try:
        from rexopt.flowsheets.ndfeb_recycling import run_cli
    except ImportError:
        try:
            from flowsheets.ndfeb_recycling import run_cli  # source checkout
        except ImportError:
            run_cli = None
    if run_cli is not None:
        handlers["ndfeb_flowsheet"] = lambda case, out, json_out, pareto: run_cli(
            str(case), str(out)
        )
    try:
        from rexopt.lines.cli import optimize_line_cli

        handlers["separation_line"] = lambda case, out, json_out, pareto: (
            optimize_line_cli(str(case), str(out))
        )
    except ImportError:
        pass
    return handlers


def _register_subcommands():
    for modname in ("rexopt.design.cli", "rexopt.sweep.cli"):
        try:
            mod = __import__(modname, fromlist=["register"])
        except ImportError:
            continue
        mod.register(app)


_register_subcommands()


def main():
    try:
        app()
    except CaseError as e:  # pragma: no cover - safety net
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(2)


if __name__ == "__main__":
    main()
