"""Command-line glue for ``rexopt fit``.

``register(app)`` adds the ``fit`` command to a typer app.  Bad input ends with a
message naming the file, row, column, value and what is allowed (exit status 2),
never a traceback.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rexopt.fit.batch import MODELS, FitError
from rexopt.fit.data import FitDataError
from rexopt.output import JsonOption, fail, write_json

console = Console(width=200)


def _bounds(items: list[str]) -> dict:
    out = {}
    for it in items:
        try:
            key, rng = it.split("=")
            lo, hi = (float(v) for v in rng.split(":"))
        except ValueError:
            raise FitError(
                f"--bound: {it!r} -- KIND=LO:HI or ELEMENT.KIND=LO:HI (e.g. a=0:5)"
            ) from None
        out[key.strip()] = (lo, hi)
    return out


def fit_cli(
    data: str,
    model: str,
    fix: list[str],
    free: list[str],
    bound: list[str],
    space: str,
    medium: str,
    agent: str | None,
    out: str | None,
    plots: str | None,
    residuals: str | None,
    json_out: str | None,
    bootstrap: int,
    seed: int,
    ref_ph: float | None,
    ref_free_extractant: float | None,
    case: str | None,
    case_out: str | None,
    check: str | None,
    pilot: str | None,
) -> int:
    """Run a fit from the command line; returns the exit status."""
    from rexopt.fit.core import fit
    from rexopt.fit.report import calibrate_case, plot, write_params

    if (check is None) != (pilot is None):
        fail("--check CASCADE.toml and --pilot SAMPLES.csv go together")
    if case_out is not None and case is None:
        fail("--case-out needs --case CASE.toml (the case to calibrate)")
    try:
        res = fit(
            data,
            model,
            fix=",".join(fix) or None,
            free=",".join(free) or None,
            bounds=_bounds(bound),
            space=space,
            medium=medium,
            agent=agent,
            bootstrap=bootstrap,
            seed=seed,
        )
    except (FitDataError, FitError) as e:
        fail(str(e))
    console.print(res.summary(), highlight=False, markup=False, soft_wrap=True)
    ref = {"pH": ref_ph, "F_mol_L": ref_free_extractant}
    try:
        if model not in ("empirical_ph", "mass_action") or ref_ph is not None:
            sf = res.separation_factors(**ref)
            cond = "" if ref_ph is None else f" at pH {ref_ph:g}"
            if ref_free_extractant is not None and model != "saturated":
                cond += f", free extractant {ref_free_extractant:g} mol/L"
            console.print(f"separation factors (vs {sf.reference.iloc[0]}){cond}:")
            for r in sf.itertuples():
                console.print(
                    f"  {r.element}: {r.beta:.4g} (95 % {r.ci95_low:.4g}-"
                    f"{r.ci95_high:.4g})",
                    highlight=False,
                )
        else:
            console.print(
                "separation factors: give --ref-ph (and --ref-free-extractant for "
                "laws with an extractant term) to report them"
            )
        if out:
            write_params(res, out, **ref)
            console.print(f"wrote {out}")
        if plots:
            for p in plot(res, plots):
                console.print(f"wrote {p}")
        if residuals:
            res.residuals.to_csv(residuals, index=False)
            console.print(f"wrote {residuals}")
        if case:
            calibrate_case(res, case, case_out, **ref)
            if case_out:
                console.print(f"wrote {case_out}")
        chk = None
        if check:
            from rexopt.fit.check import check_pilot

            chk = check_pilot(res, check, pilot, **ref)
            console.print(f"pilot check ({check}, samples {pilot}):")
            console.print(
                chk.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                highlight=False,
                markup=False,
            )
            for w in chk.attrs.get("warnings", []):
                console.print(f"note: {w}", highlight=False, markup=False)
        if json_out:
            doc = {
                "model": res.model,
                "space": res.space,
                "parameters": res.table().to_dict(orient="records"),
                "free_parameters": res.free_names,
                "correlation": res.corr.tolist(),
                "r2": res.r2,
                "rmse": res.rmse,
                "dof": res.dof,
                "residual_sd": math.sqrt(res.s2),
                "notes": res.notes,
                "excluded": res.excluded,
                "pilot_check": None if chk is None else chk.to_dict(orient="records"),
            }
            write_json(json_out, doc, indent=2)
            console.print(f"wrote {json_out}")
    except (FitDataError, FitError) as e:
        fail(str(e))
    return 0


def register(app: typer.Typer) -> None:
    """Add ``fit`` to ``app``."""

    @app.command("fit", short_help="Fit equilibrium parameters to batch-test data.")
    def fit_cmd(
        data: Annotated[
            Path,
            typer.Argument(
                metavar="DATA.csv",
                help="Batch-test CSV, a unit in every concentration column "
                "(docs/fit.md).",
            ),
        ],
        model: Annotated[
            str,
            typer.Option(
                "--model", metavar="MODEL", help=f"One of {', '.join(MODELS)}."
            ),
        ] = "empirical_ph",
        fix: Annotated[
            list[str],
            typer.Option(
                "--fix",
                metavar="NAME[=VALUE]",
                help="Hold a parameter, for all elements (d=0) or one (La.a=0.5); "
                "without a value, at its default (repeatable).",
            ),
        ] = [],  # noqa: B006 - typer reads the default, never mutates it
        free: Annotated[
            list[str],
            typer.Option(
                "--free",
                metavar="NAME[,NAME]",
                help="Fit parameters held by default: b, d of empirical_ph; n, m, "
                "nu of mass_action (repeatable).",
            ),
        ] = [],  # noqa: B006
        bound: Annotated[
            list[str],
            typer.Option(
                "--bound",
                metavar="[EL.]KIND=LO:HI",
                help="Bounds of a parameter, for all elements (a=0:5) or one "
                "(La.a=0:5), in the parameter's unit (repeatable).",
            ),
        ] = [],  # noqa: B006
        space: Annotated[
            str,
            typer.Option(
                "--space",
                metavar="SPACE",
                help="log_D: fit log10 D; conc: fit the measured concentrations "
                "(each residual a fraction of the element put into the test).",
            ),
        ] = "log_D",
        medium: Annotated[
            str,
            typer.Option(
                "--medium", metavar="MEDIUM", help="chloride or sulfate."
            ),
        ] = "chloride",
        agent: Annotated[
            str | None,
            typer.Option(
                "--agent",
                metavar="AGENT",
                help="Saponification agent of rows without an agent column: NH3, "
                "NaOH or Mg(HCO3)2 (default NH3).",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                metavar="FILE.toml",
                help="Write the fitted parameters as a data file a case can name.",
            ),
        ] = None,
        plots: Annotated[
            str | None,
            typer.Option(
                "--plots",
                metavar="PREFIX",
                help="Write PREFIX_parity.png and PREFIX_residuals.png.",
            ),
        ] = None,
        residuals: Annotated[
            Path | None,
            typer.Option(
                "--residuals",
                metavar="FILE.csv",
                help="Write the residual table: measured and predicted value of "
                "every observation.",
            ),
        ] = None,
        json_out: JsonOption = None,
        bootstrap: Annotated[
            int,
            typer.Option(
                "--bootstrap",
                min=0,
                metavar="N",
                help="Refits of resampled tests that add bootstrap 95 % "
                "intervals; 0: none.",
            ),
        ] = 0,
        seed: Annotated[
            int,
            typer.Option(
                "--seed", metavar="INT", help="Random seed of the bootstrap."
            ),
        ] = 0,
        ref_ph: Annotated[
            float | None,
            typer.Option(
                "--ref-ph",
                metavar="PH",
                help="Equilibrium pH at which separation factors are reported "
                "(needed for empirical_ph and mass_action) [-].",
            ),
        ] = None,
        ref_free_extractant: Annotated[
            float | None,
            typer.Option(
                "--ref-free-extractant",
                metavar="MOL_L",
                help="Free extractant at that condition, for laws with an "
                "extractant term [mol/L].",
            ),
        ] = None,
        case: Annotated[
            Path | None,
            typer.Option(
                "--case",
                metavar="CASE.toml",
                help="A cascade case whose chemistry the fit replaces (written "
                "with --case-out).",
            ),
        ] = None,
        case_out: Annotated[
            Path | None,
            typer.Option(
                "--case-out",
                metavar="FILE.toml",
                help="Where to write the calibrated case.",
            ),
        ] = None,
        check: Annotated[
            Path | None,
            typer.Option(
                "--check",
                metavar="CASE.toml",
                help="Pilot cascade case to simulate with the fitted parameters "
                "and compare with --pilot.",
            ),
        ] = None,
        pilot: Annotated[
            Path | None,
            typer.Option(
                "--pilot",
                metavar="SAMPLES.csv",
                help="Measured pilot outlet samples for --check.",
            ),
        ] = None,
    ):
        """Fit equilibrium parameters to batch tests (one-stage kernel solves)."""
        s = lambda p: None if p is None else str(p)  # noqa: E731
        raise typer.Exit(
            fit_cli(
                str(data),
                model,
                fix,
                free,
                bound,
                space,
                medium,
                agent,
                s(out),
                plots,
                s(residuals),
                s(json_out),
                bootstrap,
                seed,
                ref_ph,
                ref_free_extractant,
                s(case),
                s(case_out),
                s(check),
                s(pilot),
            )  # fmt: skip
        )
