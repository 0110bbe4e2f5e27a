"""A case names a fitted data file (`dataset = "params.toml"`) instead of pasting it.

The case that references the file must simulate exactly as the case with the same
parameters written inline (issue 21); a missing, malformed or incomplete file is
refused naming the field.
"""

import copy
import tomllib

import pandas as pd
import pytest
import tomli_w

from rexopt.cascade import simulate
from rexopt.case import CaseError, load_case
from rexopt.design import closed_form_design
from rexopt.fit import fit
from rexopt.fit.report import write_params
from rexopt.fit.synthetic import design, generate
from tests.conftest import CASES

EX = CASES / "fit"


def _case(path, d):
    path.write_text(tomli_w.dumps(d), encoding="utf-8")
    return path


def _lree(model: str, block: dict) -> dict:
    d = tomllib.loads((CASES / "lree_d2ehpa_empirical.toml").read_text())
    d["chemistry"]["model"] = model
    d["chemistry"]["components"] = ["La", "Nd", "Sm"]
    d["chemistry"].pop("empirical_ph")
    d["chemistry"][model] = block
    d["feed"]["conc_mol_L"] = {"La": 0.02, "Nd": 0.016, "Sm": 0.004}
    return d


def _same(a, b):
    """Identical results (same parameters, same kernel, same start)."""
    pd.testing.assert_frame_equal(a.purity, b.purity, check_exact=True)
    pd.testing.assert_frame_equal(a.recovery, b.recovery, check_exact=True)
    assert a.convergence["max_balance_error"] < 1e-9


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The bundled example fitted with two models, each written with --out."""
    out = {}
    for model in ("empirical_ph", "mass_action"):
        r = fit(EX / "lree_batch_tests.csv", model)
        p = tmp_path_factory.mktemp(model) / "params.toml"
        write_params(r, p)
        out[model] = p
    return out


@pytest.mark.parametrize("model", ["empirical_ph", "mass_action"])
def test_case_referencing_a_fit_by_relative_path_equals_inline(
    tmp_path, monkeypatch, fitted, model
):
    data = fitted[model]
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "params.toml").write_bytes(data.read_bytes())
    ref = _case(folder / "ref.toml", _lree(model, {"dataset": "params.toml"}))
    inline_block = tomllib.loads(data.read_text())["chemistry"][model]
    inline = _case(tmp_path / "inline.toml", _lree(model, inline_block))
    monkeypatch.chdir(tmp_path)  # not the case's folder: the path is the case's
    case = load_case(ref)
    blk = getattr(case.chemistry, model)
    assert blk.dataset is None and sorted(blk.params) == ["La", "Nd", "Sm"]
    assert any("params.toml" in n and "'fitted'" in n for n in case.notes)
    _same(simulate(ref), simulate(inline))


def test_inline_parameters_win_over_the_file(tmp_path, fitted):
    (tmp_path / "params.toml").write_bytes(fitted["empirical_ph"].read_bytes())
    own = {"a": 1.5, "b": 0.0, "c": -1.0, "d": 0.0}
    ref = _case(
        tmp_path / "ref.toml",
        _lree("empirical_ph", {"dataset": "params.toml", "params": {"Sm": own}}),
    )
    block = copy.deepcopy(
        tomllib.loads(fitted["empirical_ph"].read_text())["chemistry"]["empirical_ph"]
    )
    block["params"]["Sm"] = own
    inline = _case(tmp_path / "inline.toml", _lree("empirical_ph", block))
    case = load_case(ref)
    assert case.chemistry.empirical_ph.params["Sm"].a == 1.5
    assert any("Sm as given inline" in n for n in case.notes)
    _same(simulate(ref), simulate(inline))


def _sat_case(components, conc, block) -> dict:
    d = tomllib.loads((CASES / "prnd_p507.toml").read_text())
    d["chemistry"]["components"] = components
    d["chemistry"]["saturated"] = block
    d["feed"]["conc_mol_L"] = conc
    return d


def test_saturated_fit_file_gives_separation_factors_and_K(tmp_path):
    plan = design({"Pr": 0.05, "Nd": 0.1}, [0.01], O_A=(0.3, 0.5, 1, 2, 3),
                  extractant_mol_L=(1.5,), saponification=0.36)  # fmt: skip
    data = generate(plan, "saturated", {"Pr.log10_K": 1.7, "Nd.log10_K": 1.876})
    write_params(fit(data, "saturated"), tmp_path / "sat.toml")
    conc = {"Pr": 0.25, "Nd": 0.75}
    ref = _case(
        tmp_path / "ref.toml",
        _sat_case(
            ["Pr", "Nd"], conc, {"dataset": "sat.toml", "K_ref_strip_L_mol": 0.05}
        ),
    )
    sat = tomllib.loads((tmp_path / "sat.toml").read_text())["chemistry"]["saturated"]
    inline = _case(
        tmp_path / "inline.toml",
        _sat_case(["Pr", "Nd"], conc, {**sat, "K_ref_strip_L_mol": 0.05}),
    )
    _same(simulate(ref), simulate(inline))
    # the Xu design reads the file's separation factors through the same loader
    r = closed_form_design(ref)
    designed = r.theory_case["chemistry"]["saturated"]
    assert designed["separation_factors"] == sat["separation_factors"]
    assert "dataset" not in designed  # the designed case carries the values
    assert any("sat.toml" in n and "'fitted'" in n for n in r.notes)


def test_saturated_subset_takes_K_of_its_own_least_extractable(tmp_path):
    """File: La 1, Nd 2, Sm 4 with K_ref 10 L/mol (K of La).  A Nd/Sm case must get
    K_Nd = 20 and K_Sm = 40, the same cascade as factors {Nd 1, Sm 2}, K_ref 20."""
    (tmp_path / "f.toml").write_text(
        tomli_w.dumps(
            {
                "meta": {"status": "fitted", "medium": "chloride"},
                "chemistry": {
                    "model": "saturated",
                    "medium": "chloride",
                    "saturated": {
                        "separation_factors": {"La": 1.0, "Nd": 2.0, "Sm": 4.0},
                        "K_ref_L_mol": 10.0,
                    },
                },
            }
        )
    )
    conc = {"Nd": 0.5, "Sm": 0.5}
    ref = _case(
        tmp_path / "ref.toml", _sat_case(["Nd", "Sm"], conc, {"dataset": "f.toml"})
    )
    inline = _case(
        tmp_path / "inline.toml",
        _sat_case(
            ["Nd", "Sm"],
            conc,
            {"separation_factors": {"Nd": 1.0, "Sm": 2.0}, "K_ref_L_mol": 20.0},
        ),
    )
    blk = load_case(ref).chemistry.saturated
    assert blk.K_ref_L_mol == 20.0 and dict(blk.separation_factors) == {
        "Nd": 1.0,
        "Sm": 2.0,
    }
    _same(simulate(ref), simulate(inline))


@pytest.mark.parametrize(
    "text, dataset, expect",
    [
        (None, "nope.toml", "no such file"),
        (None, "params", "a path to a .toml data file"),
        ("x = [\n", "bad.toml", "not valid TOML"),
        ("[meta]\nname = 'x'\n", "bad.toml", "[chemistry.empirical_ph.params]"),
        (
            "[chemistry.empirical_ph.params.La]\na = 0.5\n",
            "bad.toml",
            "has none for Nd",
        ),
        (
            "[chemistry.empirical_ph.params]\nLa = {a = 0.5}\nNd = {a = 0.5}\n"
            "Sm = {a = 'x'}\n",
            "bad.toml",
            "params.Sm.a",
        ),
        (
            "[meta]\nmedium = 'sulfate'\n[chemistry.empirical_ph.params]\n",
            "bad.toml",
            "medium",
        ),
    ],
)
def test_bad_data_file_is_refused_naming_the_field(tmp_path, text, dataset, expect):
    if text is not None:
        (tmp_path / dataset).write_text(text)
    p = _case(tmp_path / "c.toml", _lree("empirical_ph", {"dataset": dataset}))
    with pytest.raises(CaseError) as e:
        load_case(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: chemistry.empirical_ph.dataset: {dataset!r}"), msg
    assert expect in msg


def test_absolute_data_paths_lets_a_dict_leave_its_folder(
    tmp_path, monkeypatch, fitted
):
    from rexopt.case_data import absolute_data_paths

    (tmp_path / "params.toml").write_bytes(fitted["empirical_ph"].read_bytes())
    d = _lree("empirical_ph", {"dataset": "params.toml"})
    fixed = absolute_data_paths(d, tmp_path)
    assert d["chemistry"]["empirical_ph"]["dataset"] == "params.toml"  # not changed
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    with pytest.raises(CaseError, match="no such file"):
        load_case(d)  # a dict reads relative paths from the current directory
    _same(simulate(fixed), simulate(_case(tmp_path / "c.toml", d)))


def test_calibrated_copy_written_elsewhere_still_reads_the_case_data_file(tmp_path):
    """A pH-model fit gives a saturated case its separation factors; the case's
    K_ref_L_mol comes from its data file, which the copy must still find."""
    from rexopt.fit.report import calibrate_case

    src = tmp_path / "plant"
    src.mkdir()
    (src / "k.toml").write_text(
        tomli_w.dumps(
            {
                "chemistry": {
                    "model": "saturated",
                    "saturated": {
                        "separation_factors": {"La": 1.0, "Nd": 1.5},
                        "K_ref_L_mol": 30.0,
                    },
                }
            }
        )
    )
    d = _sat_case(["La", "Nd"], {"La": 0.25, "Nd": 0.75}, {"dataset": "k.toml"})
    case = _case(src / "case.toml", d)
    out = tmp_path / "elsewhere" / "cal.toml"
    out.parent.mkdir()
    r = fit(EX / "lree_batch_tests.csv", "empirical_ph")
    raw = calibrate_case(r, case, out, pH=1.5)
    sat = load_case(out).chemistry.saturated
    assert dict(sat.separation_factors) == raw["chemistry"]["saturated"][
        "separation_factors"
    ]
    # K_ref is the K of the least extractable component of the case's (fitted)
    # factors, taken from the file: the fit at pH 1.5 puts Nd lowest, and the file
    # gives K_Nd = 30 * 1.5
    low = min(sat.separation_factors, key=sat.separation_factors.get)
    assert low == "Nd" and sat.K_ref_L_mol == pytest.approx(45.0, rel=1e-12)
