"""`rexopt sweep` and `rexopt results`: :func:`register` adds them to an app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["register", "print_summary", "print_plan"]


def print_summary(summary, console: Console) -> None:
    """The end-of-run table: done, failed, infeasible, wall time, scenarios/s."""
    t = Table(title="Sweep summary", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    tot = summary.totals or {}
    done_total = tot.get("ok", 0) + tot.get("infeasible", 0) + tot.get("failed", 0)
    t.add_row("file", summary.out)
    t.add_row("scenarios", f"{summary.n_scenarios:,}")
    t.add_row("done before this run", f"{summary.done_before:,}")
    t.add_row("computed now", f"{summary.computed:,}")
    t.add_row(
        "  ok / infeasible / failed",
        f"{summary.ok:,} / {summary.infeasible:,} / {summary.failed:,}",
    )
    t.add_row(
        "done in file (ok / infeasible / failed)",
        f"{done_total:,} ({tot.get('ok', 0):,} / {tot.get('infeasible', 0):,}"
        f" / {tot.get('failed', 0):,})",
    )
    t.add_row("still pending", f"{tot.get('pending', summary.remaining):,}")
    t.add_row("wall time", f"{summary.wall_s:.2f} s")
    t.add_row("rate", f"{summary.rate:,.1f} scenarios/s")
    if summary.computed and summary.cpu_s > 0:
        t.add_row(
            "worker CPU per scenario", f"{summary.cpu_per_scenario_s * 1e3:.3g} ms"
        )
    t.add_row("tasks (lost and retried)", f"{summary.n_tasks:,} ({summary.lost_tasks})")
    t.add_row("executor", f"{summary.executor} ({summary.slots} slots)")
    if summary.evaluator_options.get("branch_search") is False:
        t.add_row(
            "branch search",
            escape(
                "OFF ([cascade] branch_search = false): other steady states not "
                "looked for (said in every scenario's message)"
            ),
        )
    if "loop_passes" in summary.evaluator_options:
        t.add_row(
            "organic-loop passes",
            escape(
                f"{summary.evaluator_options['loop_passes']:,} ([cascade] loop_passes)"
            ),
        )
    console.print(t)


def print_plan(sweep, out: Path, console: Console) -> None:
    """What the sweep would do (``--dry-run``)."""
    from rexopt.sweep.store import open_for_reading

    t = sweep.table
    console.print(
        f"[bold]sweep[/bold] {escape(sweep.name)}  ({escape(str(sweep.source or 'dict'))})"
    )
    base = sweep.base_path or "inline [base]"
    console.print(f"base case: {sweep.kind} study, {base}", markup=False)
    options = sweep.evaluator_options()
    if options.get("branch_search") is False:
        console.print(
            "branch search: OFF ([cascade] branch_search = false): other steady "
            "states are not looked for (said in every scenario's message)",
            markup=False,
        )
    if "loop_passes" in options:
        from rexopt.sweep.spec import LOOP_PASSES

        console.print(
            f"organic-loop passes: {options['loop_passes']:,} "
            f"([cascade] loop_passes; default {LOOP_PASSES:,})",
            markup=False,
        )
    console.print(
        f"scenarios: {t.n:,}   outputs: {', '.join(sweep.outputs)}", markup=False
    )
    tab = Table(title_justify="left")
    for col in ("parameter", "path", "type", "values"):
        tab.add_column(col, overflow="fold")
    for k, p in enumerate(sweep.parameters):
        col = t.columns[k]
        if t.types[k] == "str":
            desc = ", ".join(sorted(set(map(str, col))))
        else:
            uniq = len(set(col.tolist()))
            desc = f"{col.min():.6g} .. {col.max():.6g} ({uniq} distinct)"
        how = "sampled" if p.sampled else "fixed"
        tab.add_row(
            escape(p.column), escape(p.path), f"{t.types[k]}, {how}", escape(desc)
        )
    console.print(tab)
    if out.exists():
        try:
            with open_for_reading(out) as f:
                done = int(f["done"][...].sum())
            console.print(
                f"output: {out} exists, {done:,} done -> a run resumes", markup=False
            )
        except Exception as exc:
            console.print(
                f"output: {out} exists but is unreadable ({exc})", markup=False
            )
    else:
        console.print(f"output: {out} (new)", markup=False)
    c = sweep.spec.cluster
    extra = {
        k: v
        for k, v in c.model_dump(exclude_defaults=True).items()
        if k != "kind" and v not in (None, [], "")
    }
    console.print(
        f"cluster: {c.kind}"
        + ("".join(f", {k} = {v}" for k, v in extra.items()) if extra else "")
    )


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` and ``results`` commands to ``app``."""

    @app.command("sweep")
    def sweep_cmd(
        sweep_file: Annotated[
            Path, typer.Argument(metavar="SWEEP.toml", help="Sweep TOML file.")
        ],
        dry_run: Annotated[
            bool,
            typer.Option(
                "--dry-run",
                help="Validate and print the plan (and the SLURM/PBS job "
                "script); compute nothing.",
            ),
        ] = False,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers",
                "-w",
                min=1,
                metavar="N",
                help="Local workers (or jobs for SLURM/PBS).",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                metavar="FILE.h5",
                help="HDF5 results file [default: <sweep>.h5].",
            ),
        ] = None,
        report: Annotated[
            Path | None,
            typer.Option(
                "--report",
                metavar="DIR",
                help="Write PNG plots into this folder at the end.",
            ),
        ] = None,
        retry_failed: Annotated[
            bool,
            typer.Option(
                "--retry-failed", help="Recompute scenarios recorded as failed."
            ),
        ] = False,
        overwrite: Annotated[
            bool,
            typer.Option("--overwrite", help="Start a new file even if --out exists."),
        ] = False,
        batch_size: Annotated[
            int | None,
            typer.Option(
                "--batch-size",
                min=1,
                metavar="N",
                help="Scenarios per task [default: auto].",
            ),
        ] = None,
        quiet: Annotated[
            bool, typer.Option("--quiet", "-q", help="No progress bar.")
        ] = False,
    ) -> None:
        """Run (or resume) a batch sweep; results go to one HDF5 file."""
        from rexopt.sweep.cluster import job_script
        from rexopt.sweep.engine import run_sweep
        from rexopt.sweep.spec import JobqueueConfig, SweepFileError, load_sweep
        from rexopt.sweep.store import StoreMismatchError

        console = Console(soft_wrap=True)
        err = Console(stderr=True, soft_wrap=True)
        try:
            sweep = load_sweep(sweep_file)
        except SweepFileError as exc:
            err.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        target = out or sweep.default_out
        if dry_run:
            print_plan(sweep, target, console)
            cfg = sweep.spec.cluster
            if isinstance(cfg, JobqueueConfig):
                console.print(
                    f"\n[bold]{cfg.kind.upper()} job script[/bold] "
                    f"(jobs: {workers or cfg.jobs}"
                    + (
                        f", adapt {cfg.adapt.minimum_jobs}..{cfg.adapt.maximum_jobs}"
                        if cfg.adapt
                        else ""
                    )
                    + "):"
                )
                # Plain print: rich would wrap the long worker command line.
                typer.echo(job_script(cfg))
                console.print(
                    "(the scheduler address above is a placeholder: the real one is "
                    "filled in when the sweep runs)"
                )
            else:
                console.print("(no job script: the cluster is not slurm/pbs)")
            return
        try:
            summary = run_sweep(
                sweep,
                target,
                workers=workers,
                retry_failed=retry_failed,
                overwrite=overwrite,
                progress=not quiet,
                console=console,
                batch_size=batch_size,
            )
        except StoreMismatchError as exc:
            err.print(f"error: {exc}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print(
                f"interrupted: {target} holds every finished scenario; run the same "
                "command again to resume",
                highlight=False,
                markup=False,
            )
            raise typer.Exit(130) from None
        print_summary(summary, console)
        if report is not None:
            from rexopt.sweep.report import write_report

            files = write_report(target, report)
            console.print(f"report: {len(files)} plot(s) in {report}", markup=False)

    @app.command("results")
    def results_cmd(
        file: Annotated[
            Path, typer.Argument(metavar="RESULTS.h5", help="Sweep HDF5 file.")
        ],
        csv: Annotated[
            Path | None,
            typer.Option(
                "--csv", metavar="FILE.csv", help="Write all scenarios as CSV."
            ),
        ] = None,
        parquet: Annotated[
            Path | None,
            typer.Option(
                "--parquet",
                metavar="FILE.parquet",
                help="Write all scenarios as Parquet.",
            ),
        ] = None,
        plot_dir: Annotated[
            Path | None,
            typer.Option(
                "--plot-dir", metavar="DIR", help="Write PNG plots into this folder."
            ),
        ] = None,
        done_only: Annotated[
            bool, typer.Option("--done-only", help="Leave out pending scenarios.")
        ] = False,
    ) -> None:
        """Summarise a sweep file; export it to CSV/Parquet; plot it."""
        from rexopt.sweep.store import read_definition, read_results

        console = Console(soft_wrap=True)
        if not file.exists():
            Console(stderr=True, soft_wrap=True).print(
                f"error: {file}: no such file", markup=False
            )
            raise typer.Exit(2)
        try:
            df = read_results(file, done_only=done_only)
            d = read_definition(file)
        except (OSError, ValueError, KeyError) as exc:
            Console(stderr=True, soft_wrap=True).print(
                f"error: {file}: {exc}", markup=False
            )
            raise typer.Exit(2) from None
        counts = df["status"].value_counts()
        console.print(
            f"[bold]{escape(str(d['name']))}[/bold] ({d['kind']}): {d['n']:,} scenarios; "
            + ", ".join(
                f"{k} {int(counts.get(k, 0)):,}"
                for k in ("ok", "infeasible", "failed", "pending")
            )
        )
        ok = df[df["status"] == "ok"]
        if len(ok):
            t = Table(title_justify="left", title="ok scenarios")
            for col in ("output", "mean", "min", "median", "max"):
                t.add_column(
                    col, overflow="fold", justify="left" if col == "output" else "right"
                )
            for o in d["outputs"]:
                s = ok[o]
                t.add_row(
                    escape(o),
                    f"{s.mean():.6g}",
                    f"{s.min():.6g}",
                    f"{s.median():.6g}",
                    f"{s.max():.6g}",
                )
            console.print(t)
        said = df[(df["status"] == "ok") & (df["message"] != "")]
        if len(said):
            # warnings of ok scenarios (and a study option said in each row)
            top = said["message"].value_counts().head(3)
            console.print(
                f"[bold]{len(said):,} ok scenario(s) with a message[/bold] "
                "(warnings; most frequent)"
            )
            for msg, k in top.items():
                console.print(f"  {k:>6} x {msg}", markup=False, highlight=False)
        bad = df[df["status"] == "failed"]
        if len(bad):
            top = bad["message"].value_counts().head(5)
            console.print("[bold]most frequent failures[/bold]")
            for msg, k in top.items():
                console.print(f"  {k:>6} x {msg}", markup=False, highlight=False)
        if csv is not None:
            df.to_csv(csv)
            console.print(f"wrote {csv}", markup=False)
        if parquet is not None:
            df.to_parquet(parquet)
            console.print(f"wrote {parquet}", markup=False)
        if plot_dir is not None:
            from rexopt.sweep.report import write_report

            files = write_report(df, plot_dir, definition=d)
            console.print(f"{len(files)} plot(s) in {plot_dir}", markup=False)
