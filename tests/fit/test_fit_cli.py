"""`rexopt fit` on the bundled example; outputs a case can use; pilot check."""

import csv
import json
import tomllib

import pytest
import typer
from typer.testing import CliRunner

from rexopt.cascade import simulate
from rexopt.chemistry import element, read_data
from rexopt.fit import fit
from rexopt.fit.check import check_pilot
from rexopt.fit.cli import register
from rexopt.fit.report import calibrate_case, to_data_dict, write_params
from rexopt.fit.synthetic import design, generate
from tests.conftest import CASES

EX = CASES / "fit"
ELS = ("La", "Nd", "Sm")


@pytest.fixture(scope="module")
def app():
    a = typer.Typer()

    @a.callback()
    def _main():
        pass

    register(a)
    return a


def test_cli_example_end_to_end(app, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "params.toml"
    cal = tmp_path / "calibrated.toml"
    res = CliRunner().invoke(
        app,
        [
            "fit", str(EX / "lree_batch_tests.csv"), "--model", "empirical_ph",
            "--out", str(out), "--plots", str(tmp_path / "fx"), "--ref-ph", "1.5",
            "--case", str(EX / "pilot_lree.toml"), "--case-out", str(cal),
            "--check", str(EX / "pilot_lree.toml"),
            "--pilot", str(EX / "pilot_samples.csv"),
            "--residuals", str(tmp_path / "res.csv"), "--json", str(tmp_path / "r.json"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "La.a" in res.output and "pilot check" in res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert len(doc["pilot_check"]) == 12 and doc["dof"] == 39
    assert (tmp_path / "fx_parity.png").stat().st_size > 1000
    assert (tmp_path / "fx_residuals.png").stat().st_size > 1000
    d = tomllib.loads(out.read_text())
    assert d["meta"]["status"] == "fitted"
    assert "lree_batch_tests.csv" in d["meta"]["source"]
    # the generating values (bundled data set) lie inside the reported intervals
    ds = read_data("d2ehpa_tbp_empirical")["params"]
    for el in ELS:
        for k in ("a", "c"):
            lo, hi = d["params"][el][f"ci95_{k}"]
            assert lo <= ds[el][k] <= hi, (el, k)
    # the calibrated case simulates and uses the fitted parameters
    r = simulate(cal)
    assert r.case["chemistry"]["empirical_ph"]["params"]["La"]["a"] == pytest.approx(
        d["params"]["La"]["a"]
    )


def test_cli_bad_data_is_a_message_not_a_traceback(app, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(
        "O_A_ratio,extractant_mol_L,saponification,feed_acid_mol_L,feed_La_g_L,"
        "aq_La_g_L\n1,1,0,0.01,3,x\n"
    )
    res = CliRunner().invoke(app, ["fit", str(p)])
    assert res.exit_code == 2
    assert "row 1, column aq_La_g_L: 'x'" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(app, ["fit", str(p), "--model", "quadratic"])
    assert res.exit_code == 2 and "one of constant, saturated" in res.output
    res = CliRunner().invoke(
        app, ["fit", str(EX / "lree_batch_tests.csv"), "--fix", "La.zz=1"]
    )
    assert res.exit_code == 2 and "a parameter of the empirical_ph model" in res.output


def test_data_file_has_the_bundled_layout():
    r = fit(EX / "lree_batch_tests.csv", "empirical_ph")
    d = to_data_dict(r, pH=1.5)
    ref = read_data("d2ehpa_tbp_empirical")
    assert set(d) >= {"meta", "params"}
    for row in d["params"].values():
        # the keys the simulator reads from a data set, plus status and source
        assert {"a", "b", "c", "d", "status"} <= set(row)
        assert set(ref["params"]["La"]) <= set(row)
    assert d["separation_factors"]["case_table"]["Nd"] == 1.0


def test_pilot_check_with_exact_parameters_predicts_the_pilot(tmp_path):
    """Noise-free batch tests from the pilot's own parameters: the fitted cascade
    reproduces the pilot outlets and stage samples to solver precision."""
    ds = read_data("d2ehpa_tbp_empirical")["params"]
    true = {f"{e}.{k}": ds[e][k] for e in ELS for k in ("a", "c")}
    plan = design({"La": 0.03, "Nd": 0.02, "Sm": 0.01}, [0.001, 0.01, 0.1], (0.5, 2.0))
    r = fit(generate(plan, "empirical_ph", true, noise_rel=0.0), "empirical_ph")
    pilot = simulate(EX / "pilot_lree.toml")
    p = tmp_path / "pilot.csv"
    with p.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample", "outlet", "stage", "phase", "La_mg_L", "Nd_mol_L"])
        for name in ("raffinate", "strip_liquor"):
            la = pilot.streams.loc[name, "La_mol_L"] * element("La").molar_mass_g_mol
            w.writerow(
                [name, name, "", "", la * 1000, pilot.streams.loc[name, "Nd_mol_L"]]
            )
        w.writerow(["s7", "", 7, "organic", pilot.profiles.loc[7, "y_La_mol_L"]
                    * element("La").molar_mass_g_mol * 1000, ""])  # fmt: skip
    chk = check_pilot(r, EX / "pilot_lree.toml", p)
    assert len(chk) == 5  # Nd of the stage sample not measured
    assert chk.relative_error.abs().max() < 1e-5


def test_pilot_samples_are_validated(tmp_path):
    r = fit(EX / "lree_batch_tests.csv", "empirical_ph")
    p = tmp_path / "pilot.csv"
    p.write_text(
        "sample,outlet,stage,phase,La_g_L,Gd_g_L\nA,rafinate,,,1,1\nB,,99,aqueous,1,\n"
    )
    from rexopt.fit import FitDataError

    with pytest.raises(FitDataError) as e:
        check_pilot(r, EX / "pilot_lree.toml", p)
    msg = str(e.value)
    assert "header, column Gd_g_L: 'Gd' -- a component of the case" in msg
    assert "row 1, column outlet: 'rafinate'" in msg
    assert "row 2, column stage: 99 -- 1..13" in msg


def test_saturated_fit_calibrates_a_xu_case(tmp_path):
    plan = design({"Pr": 0.05, "Nd": 0.1}, [0.01], O_A=(0.3, 0.5, 1, 2, 3),
                  extractant_mol_L=(1.5,), saponification=0.36)  # fmt: skip
    data = generate(plan, "saturated", {"Pr.log10_K": 1.7, "Nd.log10_K": 1.876})
    r = fit(data, "saturated")
    raw = calibrate_case(r, CASES / "prnd_p507.toml", tmp_path / "c.toml")
    sat = raw["chemistry"]["saturated"]
    assert sat["separation_factors"]["Pr"] == 1.0
    assert sat["separation_factors"]["Nd"] == pytest.approx(10**0.176, rel=0.03)
    assert sat["K_ref_L_mol"] == pytest.approx(10**1.7, rel=0.03)
    assert sat["K_ref_strip_L_mol"] == 0.05  # the case's own, not from batch tests
    assert simulate(tmp_path / "c.toml").convergence["status"] == "converged"
    write_params(r, tmp_path / "p.toml")
    assert tomllib.loads((tmp_path / "p.toml").read_text())["separation_factors"]


def test_empirical_fit_gives_a_xu_case_its_separation_factors(tmp_path):
    r = fit(EX / "lree_batch_tests.csv", "empirical_ph")
    case = tmp_path / "sat.toml"
    case.write_text(
        (CASES / "prnd_p507.toml").read_text().replace('["Pr", "Nd"]', '["La", "Nd"]')
        .replace("{ Pr = 1.0, Nd = 1.5 }", "{ La = 1.0, Nd = 1.5 }")
        .replace("{ Pr = 0.25, Nd = 0.75 }", "{ La = 0.25, Nd = 0.75 }")
    )  # fmt: skip
    from rexopt.fit import FitError

    with pytest.raises(FitError, match="give pH"):
        calibrate_case(r, case, None)
    raw = calibrate_case(r, case, None, pH=1.5)
    sf = r.separation_factors(pH=1.5).set_index("element")
    rel = raw["chemistry"]["saturated"]["separation_factors"]
    assert raw["chemistry"]["model"] == "saturated"
    assert rel["La"] / rel["Nd"] == pytest.approx(
        sf.loc["La", "beta"] / sf.loc["Nd", "beta"], rel=1e-6
    )
