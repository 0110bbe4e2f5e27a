"""Data that cannot identify a parameter get a message naming it, not a number."""

import pytest

from rexopt.fit import FitDataError, FitIdentifiabilityError, fit
from rexopt.fit.synthetic import design, generate

TRUE = {"La.a": 0.54, "La.c": -1.93, "Nd.a": 0.8, "Nd.c": -1.6}
FEED = {"La": 0.02, "Nd": 0.02}


def test_one_pH_only_names_the_pH_slopes():
    # replicate tests at one acidity and O/A: every test at the same pH
    plan = design(FEED, [0.01] * 6)
    data = generate(plan, "empirical_ph", TRUE, seed=0)
    with pytest.raises(FitIdentifiabilityError) as e:
        fit(data, "empirical_ph")
    msg = str(e.value)
    assert "La.a" in msg and "Nd.a" in msg
    assert "pH" in msg and "cannot be identified" in msg


def test_one_pH_fits_once_the_slope_is_fixed():
    plan = design(FEED, [0.01] * 6)
    data = generate(plan, "empirical_ph", TRUE, seed=0)
    r = fit(data, "empirical_ph", fix="La.a=0.54, Nd.a=0.8")
    assert r.param("La", "c").ci_low < -1.93 < r.param("La", "c").ci_high


def test_extractant_exponent_without_extractant_variation_is_named():
    plan = design(FEED, [0.003, 0.01, 0.03, 0.1])
    data = generate(plan, "empirical_ph", TRUE, seed=0)
    with pytest.raises(FitIdentifiabilityError, match=r"La\.d.*free-extractant"):
        fit(data, "empirical_ph", free="d")


def test_all_D_equal_names_what_cannot_be_identified():
    data = generate(design(FEED, [0.003, 0.01, 0.03, 0.1]), "empirical_ph", TRUE)
    for t in data.tests:  # organic column computed as 2 x aqueous
        for el in data.elements:
            t.org[el] = 2.0 * t.aq[el]
    with pytest.raises(FitIdentifiabilityError) as e:
        fit(data, "empirical_ph")
    msg = str(e.value)
    assert "every measured D is 2" in msg
    assert "separation factors" in msg and "La.a" in msg and "Nd.a" in msg
    assert "cannot be identified" in msg


def test_all_D_equal_is_a_valid_constant_model():
    data = generate(design(FEED, [0.003, 0.01, 0.03, 0.1]), "empirical_ph", TRUE)
    for t in data.tests:
        for el in data.elements:
            t.org[el] = 2.0 * t.aq[el]
    r = fit(data, "constant")
    assert 10 ** r.value("La", "log10_D") == pytest.approx(2.0, rel=1e-9)


def test_element_without_any_measured_phase_is_named():
    data = generate(design(FEED, [0.003, 0.01, 0.03, 0.1]), "empirical_ph", TRUE)
    for t in data.tests:
        t.aq.pop("Nd")
        t.org.pop("Nd")
    with pytest.raises(FitIdentifiabilityError) as e:
        fit(data, "empirical_ph")
    assert "Nd: no usable measured phase" in str(e.value)
    assert "Nd.a, Nd.c cannot be identified" in str(e.value)


def test_one_phase_missing_is_closed_by_the_balance():
    """Only the aqueous phase analysed: the organic comes from the test's element
    balance, and the fit still recovers the parameters."""
    plan = design(FEED, [0.002, 0.01, 0.03, 0.1, 0.3], O_A=(0.5, 1.0, 2.0))
    data = generate(plan, "empirical_ph", TRUE, noise_rel=0.0, phases=("aq",))
    r = fit(data, "empirical_ph")
    for name, v in TRUE.items():
        assert r.value(*name.split(".")) == pytest.approx(v, abs=1e-6)


def test_missing_phase_columns_in_the_file_are_named(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text(
        "O_A_ratio,extractant_mol_L,saponification,feed_acid_mol_L,feed_La_g_L,"
        "feed_Nd_g_L,aq_La_g_L\n1,1,0,0.01,3,3,2\n"
    )
    with pytest.raises(FitDataError) as e:
        fit(p, "empirical_ph")
    assert "aq_Nd_* / org_Nd_*" in str(e.value)
    assert "no parameter of Nd can be identified" in str(e.value)


def test_too_few_tests_for_the_free_parameters():
    data = generate(design(FEED, [0.01]), "empirical_ph", TRUE)
    with pytest.raises(FitIdentifiabilityError, match="1 usable measurement"):
        fit(data, "empirical_ph")


def test_parameter_at_its_bound_is_flagged():
    plan = design(FEED, [0.002, 0.01, 0.03, 0.1, 0.3], O_A=(0.5, 2.0))
    data = generate(plan, "empirical_ph", TRUE, seed=0)
    r = fit(data, "empirical_ph", bounds={"La.a": (0.0, 0.3)})
    p = r.param("La", "a")
    assert p.at_bound and p.value == pytest.approx(0.3)
    assert any("La.a = 0.3 is at its bound" in n and "not valid" in n for n in r.notes)
    assert not r.param("Nd", "a").at_bound
