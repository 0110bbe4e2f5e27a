"""The rexopt command: simulate, validate, info; errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from .conftest import CASES

pytestmark = pytest.mark.integration


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rexopt.cli", *args], capture_output=True, text=True
    )


def test_simulate_writes_json_and_plot(tmp_path):
    js, png = tmp_path / "r.json", tmp_path / "p.png"
    out = run(
        "simulate", str(CASES / "prnd_p507.toml"), "--json", str(js), "--plot", str(png)
    )
    assert out.returncode == 0, out.stderr
    assert "strip_liquor" in out.stdout and "converged" in out.stdout
    data = json.loads(js.read_text())
    assert data["schema"] == "rexopt.cascade_result/1"
    cols = data["streams"]["columns"]
    assert "Nd_mol_h" in cols and "flow_L_h" in cols
    assert data["convergence"]["max_balance_error"] <= 1e-10
    prof = data["profiles"]
    assert len(prof["data"]) == 80 and "x_Nd_mol_L" in prof["columns"]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_bad_case_gives_clear_error_not_traceback(tmp_path):
    p = tmp_path / "bad.toml"
    text = (
        (CASES / "prnd_p507.toml")
        .read_text()
        .replace("flow_L_h = 100.0", "flow_L_h = -1.0")
    )
    p.write_text(text)
    out = run("simulate", str(p))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "feed.flow_L_h" in out.stderr and "-1.0" in out.stderr


def _cascade_run_raises(monkeypatch, exc: Exception) -> None:
    """Make the cascade study's run raise ``exc`` (an unexpected error)."""
    from rexopt import study

    def boom(path, opts):
        raise exc

    k = study.get_study("cascade")
    monkeypatch.setitem(
        study._KINDS, "cascade", study.StudyKind(**{**k.__dict__, "run": boom})
    )


def test_version_reports_kernel():
    out = run("--version")
    assert out.returncode == 0 and "kernels" in out.stdout


def test_validate_all_bundled_cascade_cases():
    for p in sorted(CASES.glob("*.toml")):
        if 'kind = "cascade"' not in p.read_text():
            continue
        out = run("validate", str(p))
        assert out.returncode == 0, (p, out.stderr)


def test_validate_every_bundled_case_and_sweep_file():
    """Every case and sweep file shipped is valid for its own kind's reader."""
    files = sorted(CASES.rglob("*.toml"))  # cases/, cases/sweeps/, cases/fit/
    assert len(files) >= 11
    out = run("validate", *map(str, files))
    assert out.returncode == 0, out.stderr
    for f in files:
        assert f"ok: {f}" in out.stdout, (f, out.stdout)
    # each kind is read by its own reader, not the cascade one
    for kind in ("cascade:", "cascade_optimize:", "separation_line:",
                 "ndfeb_flowsheet:", "sweep:"):  # fmt: skip
        assert kind in out.stdout


def test_validate_reports_every_bad_file_and_fails(tmp_path):
    bad = tmp_path / "bad_sweep.toml"
    bad.write_text(
        (CASES / "sweeps" / "prnd_feed_sweep.toml")
        .read_text()
        .replace('base = "../prnd_p507.toml"', f'base = "{CASES / "prnd_p507.toml"}"')
        .replace('path = "organic.flow_L_h"', 'path = "organic.flow_L_hr"')
    )
    out = run("validate", str(CASES / "prnd_p507.toml"), str(bad))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    # the first scenario is read by the cascade reader, which names the bad key
    assert "flow_L_hr" in out.stderr and str(bad) in out.stderr
    assert f"ok: {CASES / 'prnd_p507.toml'}" in out.stdout


def test_simulate_accepts_a_case_with_an_optimize_table():
    out = run("simulate", str(CASES / "prnd_p507_optimize.toml"))
    assert out.returncode == 0, out.stderr
    assert "[optimize] table" in out.stdout and "converged" in out.stdout


def test_simulate_refuses_other_kinds_by_name():
    out = run("simulate", str(CASES / "ndfeb_4000tpa.toml"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "ndfeb_flowsheet" in out.stderr and "rexopt optimize" in out.stderr


def test_optimize_refuses_options_a_kind_does_not_use(tmp_path):
    out = run("optimize", str(CASES / "ndfeb_4000tpa.toml"), "--pareto", "p")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--pareto does not apply to a NdFeB recycling plant" in out.stderr
    assert "[pareto] enabled = true" in out.stderr
    out = run("optimize", str(CASES / "prnd_p507.toml"))
    assert out.returncode == 2 and "nothing to optimize" in out.stderr


def test_optimize_cascade_error_shows_the_table_name():
    """The error names the [optimize] table (rich markup used to eat it)."""
    out = run("optimize-cascade", str(CASES / "prnd_p507.toml"))
    assert out.returncode == 2 and "Traceback" not in out.stdout + out.stderr
    assert "error: " in out.stdout
    assert "add an [optimize] table" in " ".join(out.stdout.split())


def test_help_shows_text_as_written():
    out = run("optimize", "--help")
    assert out.returncode == 0
    assert "[optimize]" in out.stdout  # rich markup used to eat it
    assert "<bool>" not in out.stdout
    out = run("sweep", "--help")
    assert "[default: <sweep>.h5]" in out.stdout


@pytest.mark.parametrize(
    "command", ["validate", "simulate", "optimize", "design", "optimize-cascade", "fit"]
)
def test_help_names_values_not_python_types(command):
    """Each argument and option shows what to write (CASE.toml, --json
    FILE.json), not typer's type label (<path>, <list[Path]>, <float>)."""
    import re

    out = run(command, "--help")
    assert out.returncode == 0, out.stderr
    assert re.findall(r"<[a-zA-Z][^>]*>", out.stdout) == []
    usage = out.stdout.splitlines()[0]
    assert "{" not in usage and re.search(r" [A-Z]+\.(toml|csv)", usage), usage


def test_command_list_shows_each_summary_whole():
    out = run("--help")
    for name in ("info", "validate", "simulate", "optimize", "design", "fit",
                 "optimize-cascade"):  # fmt: skip
        line = next(ln for ln in out.stdout.splitlines() if ln.startswith(f"  {name} "))
        assert not line.endswith("..."), line


def test_unexpected_error_names_file_and_step_and_logs_traceback(
    tmp_path, monkeypatch, capsys
):
    import rexopt.cli as cli

    _cascade_run_raises(monkeypatch, ZeroDivisionError("float division by zero"))
    case = str(CASES / "prnd_p507.toml")
    log = tmp_path / "tb.log"
    for extra in ([], ["--log", str(log)]):
        with pytest.raises(SystemExit) as e:
            cli.main([*extra, "simulate", case])
        assert e.value.code == cli.EXIT_INTERNAL
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert case in err and "running the cascade simulation" in err
        assert "ZeroDivisionError" in err
    assert "written to" in err
    text = log.read_text()
    assert "Traceback" in text and "boom" in text and "simulate" in text


def test_traceback_env_writes_the_default_log(tmp_path, monkeypatch, capsys):
    import rexopt.cli as cli

    _cascade_run_raises(monkeypatch, KeyError("nowhere"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")
    monkeypatch.setitem(cli._STATE, "log", None)
    with pytest.raises(SystemExit) as e:
        cli.main(["simulate", str(CASES / "prnd_p507.toml")])
    assert e.value.code == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" not in err and cli.DEFAULT_LOG in err
    assert "Traceback" in (tmp_path / cli.DEFAULT_LOG).read_text()


@pytest.mark.slow
def test_optimize_out_writes_an_optimum_case_that_meets_its_specs(tmp_path):
    import rexopt

    out = run(
        "optimize",
        str(CASES / "prnd_p507_optimize.toml"),
        "--out",
        str(tmp_path),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == "rexopt.cascade_optimum/1"
    case = tmp_path / "prnd_p507_optimize_optimum_case.toml"
    assert (
        json.loads((tmp_path / "prnd_p507_optimize_optimum.json").read_text())["status"]
        == data["status"]
    )
    # the written design, simulated on its own, meets every spec of the case
    res = rexopt.simulate(case)
    assert {s["kind"] for s in data["specs"]} == {"purity"}
    for s in data["specs"]:
        got = res.purity.loc[s["stream"], s["component"]]
        assert got >= s["target"] - s["tolerance"], s
        assert got == pytest.approx(s["value"], rel=1e-9)


def _case_with_data_file(tmp_path):
    """prnd_p507 with its saturated parameters in a data file next to it."""
    folder = tmp_path / "case"
    folder.mkdir()
    text = (CASES / "prnd_p507.toml").read_text()
    inline = "separation_factors = { Pr = 1.0, Nd = 1.5 }\nK_ref_L_mol = 50.0\n"
    assert inline in text
    (folder / "case.toml").write_text(text.replace(inline, 'dataset = "params.toml"\n'))
    (folder / "params.toml").write_text("[chemistry.saturated]\n" + inline)
    return folder / "case.toml"


def test_validate_and_simulate_print_the_case_notes(tmp_path):
    case = _case_with_data_file(tmp_path)
    out = run("validate", str(case))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # the data file that gave the parameters, then whether design can take it
    assert any(
        ln.startswith("  note: chemistry.saturated.dataset")
        and str(case.parent / "params.toml") in ln
        for ln in lines
    ), out.stdout
    assert "  note: design: `rexopt design` can take this case" in out.stdout
    sim = run("simulate", str(case))
    assert sim.returncode == 0, sim.stderr
    assert "note: chemistry.saturated.dataset" in sim.stdout
    assert str(case.parent / "params.toml") in sim.stdout


def test_validate_says_when_design_would_refuse_a_case():
    out = run("validate", str(CASES / "fit" / "pilot_lree.toml"))
    assert out.returncode == 0, out.stderr
    assert "  note: design: `rexopt design` would refuse this case" in out.stdout
    assert "chemistry.model: 'empirical_ph'" in out.stdout
    # markup off: the bracketed table name is printed as written
    assert "[chemistry.saturated]" in out.stdout
    # other kinds get no design line
    nd = run("validate", str(CASES / "ndfeb_4000tpa.toml"))
    assert nd.returncode == 0 and "design:" not in nd.stdout


def test_a_sweep_file_without_base_is_refused_as_a_sweep(tmp_path):
    src = CASES / "sweeps" / "ndfeb_capacity_price_sweep.toml"
    lines = src.read_text().splitlines()
    assert sum(ln.startswith("base = ") for ln in lines) == 1
    bad = tmp_path / "nobase.toml"
    bad.write_text("\n".join(ln for ln in lines if not ln.startswith("base = ")))
    out = run("validate", str(bad))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "base: required field is missing" in out.stderr
    # not read as a cascade case
    assert "chemistry" not in out.stderr and "unknown field" not in out.stderr
    # and the case commands send a sweep file to rexopt sweep
    sim = run("simulate", str(CASES / "sweeps" / "prnd_feed_sweep.toml"))
    assert sim.returncode == 2 and "a sweep file" in sim.stderr
    assert "rexopt sweep" in sim.stderr


def test_each_main_call_starts_from_a_fresh_state(tmp_path, monkeypatch, capsys):
    """A second call in the same process names its own file and step, and does
    not write to the first call's --log file."""
    import rexopt.cli as cli
    import rexopt.kernels

    _cascade_run_raises(monkeypatch, ZeroDivisionError("first"))
    case = str(CASES / "prnd_p507.toml")
    log = tmp_path / "first.log"
    with pytest.raises(SystemExit):
        cli.main(["--log", str(log), "simulate", case])
    assert case in capsys.readouterr().err
    log.unlink()

    def broken():
        raise RuntimeError("second")

    monkeypatch.setattr(rexopt.kernels, "kernel_info", broken)
    with pytest.raises(SystemExit) as e:
        cli.main(["info"])
    assert e.value.code == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "second" in err
    assert case not in err and "running the cascade" not in err
    assert "(no file)" in err and not log.exists()


def test_package_commands_are_imported_only_when_they_run():
    """`import rexopt.cli` leaves the design, fit and sweep packages (and scipy's
    optimize and stats) unimported; help still lists their commands, and each runs.
    """
    code = (
        "import sys, rexopt.cli\n"
        "heavy = ('rexopt.design', 'rexopt.fit', 'rexopt.sweep', 'scipy.optimize',"
        " 'scipy.stats')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    top = run("--help")
    for name in ("design", "optimize-cascade", "sweep", "results", "fit"):
        assert f"  {name} " in top.stdout, name
        sub = run(name, "--help")
        assert sub.returncode == 0 and f"Usage: rexopt {name}" in sub.stdout, name
    # an unknown command is still matched against every command
    typo = run("desgn")
    assert typo.returncode == 2 and "Did you mean 'design'" in typo.stderr


def test_json_written_by_the_commands_is_strict(tmp_path):
    """design, optimize-cascade and fit write through output.write_json: NaN and
    inf become null, never the non-JSON tokens NaN / Infinity."""
    from rexopt.output import write_json

    p = tmp_path / "r.json"
    write_json(p, {"gap": float("nan"), "bound": [1.5, float("inf")], "n": (2,)})

    def refuse(token):
        raise ValueError(f"non-JSON token {token}")

    assert json.loads(p.read_text("utf-8"), parse_constant=refuse) == {
        "gap": None,
        "bound": [1.5, None],
        "n": [2],
    }


def test_tables_fold_long_names_instead_of_cutting_them():
    """On a narrow terminal a name is folded onto more lines, never cut short."""
    from rich.console import Console

    from rexopt.output import table

    t = table("specs", ("spec", "left"), ("value", "right"))
    t.add_row("Nd purity in strip_liquor >= 0.995", "0.995617")
    con = Console(width=24, record=True)
    con.print(t)
    text = con.export_text()
    assert "…" not in text and "0.995617" in text
    cells = [ln.split("│")[1].strip() for ln in text.splitlines() if "│" in ln]
    assert "".join(cells).replace(" ", "") == "Ndpurityinstrip_liquor>=0.995"


def test_simulate_time_limit_stops_in_words_and_bad_limits_are_refused():
    """--time-limit: a limit already past at the first kernel solve (1 ns) ends
    the run with exit status 3 and the time-limit error (the phase, what was
    run), no traceback; a limit that is not a positive number is bad input."""
    case = str(CASES / "prnd_p507.toml")
    out = run("simulate", case, "--time-limit", "1e-9")
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert (
        "simulation: no steady state found within the time limit of 1e-09 s: "
        "stopped in the cold start, "
    ) in out.stderr
    assert "phases run: cold start at 0.0 s." in out.stderr
    for bad in ("0", "-5", "nan"):
        out = run("simulate", case, "--time-limit", bad)
        assert out.returncode == 2, (bad, out.stderr)
        assert (
            f"--time-limit = {float(bad):g}: allowed a number of seconds above 0"
            in (out.stderr)
        )


def test_simulate_loop_passes_reaches_the_loop_and_bad_values_are_refused(tmp_path):
    """--loop-passes N: the organic loop's passes before its fallbacks.  Seed-0
    stress loop 3316 cut to 3 passes is closed by Newton's method on the
    returning organic, and its start says after how many passes; a pass count
    that is not a whole number from 1 up is bad input (exit 2)."""
    from .conftest import ROOT

    case = str(ROOT / "tests/data/kernel/loops/stress0_3316_mass_action_loop.toml")
    out = run(
        "simulate", case, "--loop-passes", "3", "--json", str(tmp_path / "r.json")
    )
    assert out.returncode == 0, out.stderr
    conv = json.loads((tmp_path / "r.json").read_text())["convergence"]
    assert conv["start"].endswith(
        "after 3 Anderson-accelerated passes had not closed it"
    ), conv["start"]
    for bad in ("0", "-2", "1000001"):
        out = run("simulate", case, "--loop-passes", bad)
        assert out.returncode == 2, (bad, out.stderr)
        assert f"--loop-passes = {bad}: allowed a whole number from 1 to 1,000,000" in (
            out.stderr
        )
    out = run("simulate", case, "--loop-passes", "2.5")
    assert out.returncode == 2 and "--loop-passes" in out.stderr
