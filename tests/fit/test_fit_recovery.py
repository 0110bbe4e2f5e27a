"""The fit recovers the parameters that generated synthetic batch tests.

Data: the kernel's one-stage answer for known parameters (rexopt.fit.synthetic),
every concentration multiplied by exp(N(0, 2 %)).  Each test checks what the
fit claims: the reported 95 % intervals contain the truth in >= 90 % of seeded
repeats, noise-free data give the truth back, closed forms hold.
"""

import math

import numpy as np
import pytest

from rexopt.fit import fit
from rexopt.fit.synthetic import design, generate

EMP_TRUE = {
    "La.a": 0.54, "La.c": -1.93, "Nd.a": 0.8, "Nd.c": -1.6, "Sm.a": 1.2, "Sm.c": -1.9,
}  # fmt: skip
EMP_PLAN = design(
    {"La": 0.02, "Nd": 0.02, "Sm": 0.01},
    [0.002, 0.01, 0.03, 0.1, 0.3],
    O_A=(0.5, 1.0, 2.0),
)
SAT_TRUE = {"Pr.log10_K": 1.7, "Nd.log10_K": 1.876}
SAT_PLAN = design(
    {"Pr": 0.05, "Nd": 0.1},
    [0.01],
    O_A=(0.3, 0.5, 1.0, 2.0, 3.0),
    extractant_mol_L=(1.0, 1.5),
    saponification=0.36,
)
MA_TRUE = {"La.log10_K": -2.0, "Nd.log10_K": -1.0, "La.m": 3.0, "Nd.m": 3.0}
MA_PLAN = design(
    {"La": 0.02, "Nd": 0.02},
    [0.01, 0.03, 0.1, 0.3],
    O_A=(0.5, 1.0, 2.0),
    extractant_mol_L=(0.5, 1.0),
)


def coverage(plan, model, true, repeats, **kw):
    hits = total = 0
    for seed in range(repeats):
        data = generate(plan, model, true, noise_rel=0.02, seed=seed)
        r = fit(data, model, **kw)
        for name, v in true.items():
            p = r.param(*name.split("."))
            assert p.free
            total += 1
            hits += p.ci_low <= v <= p.ci_high
    return hits / total


@pytest.mark.slow
def test_empirical_ph_intervals_cover_truth():
    cov = coverage(EMP_PLAN, "empirical_ph", EMP_TRUE, 40)
    assert cov >= 0.90, cov


@pytest.mark.slow
def test_saturated_intervals_cover_truth():
    assert coverage(SAT_PLAN, "saturated", SAT_TRUE, 40) >= 0.90


@pytest.mark.slow
def test_mass_action_intervals_cover_truth_with_free_slope():
    assert coverage(MA_PLAN, "mass_action", MA_TRUE, 30, free="m") >= 0.90


@pytest.mark.slow
def test_concentration_space_intervals_cover_truth():
    assert coverage(EMP_PLAN, "empirical_ph", EMP_TRUE, 30, space="conc") >= 0.90


@pytest.mark.parametrize(
    "plan,model,true,kw",
    [
        (EMP_PLAN, "empirical_ph", EMP_TRUE, {}),
        (SAT_PLAN, "saturated", SAT_TRUE, {}),
        (
            MA_PLAN,
            "mass_action",
            {**MA_TRUE, "La.n": 2.6, "Nd.n": 3.0},
            {"free": "m,n"},
        ),
    ],
)
def test_noise_free_data_give_the_generating_parameters(plan, model, true, kw):
    data = generate(plan, model, true, noise_rel=0.0)
    r = fit(data, model, **kw)
    for name, v in true.items():
        assert r.value(*name.split(".")) == pytest.approx(v, abs=1e-6)
    assert max(r.rmse.values()) < 1e-7


def test_batch_solutions_conserve_every_element():
    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.02, seed=3)
    r = fit(data, "empirical_ph")
    for t, s in zip(data.tests, r.predict()):
        for el in data.elements:
            assert s.x[el] + t.O_A * s.y[el] == pytest.approx(t.total(el), rel=1e-10)
        # acid: every RE(III) extracted from unsaponified extractant releases 3 H+
        h = 10.0**-s.pH
        released = 3.0 * t.O_A * sum(s.y.values())
        assert h == pytest.approx(t.acid_mol_L + released, rel=1e-8)


def test_constant_model_is_the_mean_of_log_D():
    """log10 D = c for every test: the least-squares c is the mean measured log10 D,
    its standard error s/sqrt(n)."""
    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.05, seed=7)
    r = fit(data, "constant")
    for el in data.elements:
        lD = np.array([math.log10(t.measured_D(el)) for t in data.tests])
        p = r.param(el, "log10_D")
        assert p.value == pytest.approx(lD.mean(), abs=1e-8)
    # pooled s over all elements (one residual variance of the fit)
    n = sum(1 for _ in r.residuals.itertuples())
    assert r.dof == n - len(data.elements)
    k = len(data.tests)
    assert r.param("La", "log10_D").se == pytest.approx(math.sqrt(r.s2 / k), rel=1e-5)


def test_separation_factors_follow_the_fitted_law():
    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.02, seed=1)
    r = fit(data, "empirical_ph")
    sf = r.separation_factors(pH=1.5).set_index("element")
    ref = sf.reference.iloc[0]
    for el in data.elements:
        lb = (
            (r.value(el, "a") - r.value(ref, "a")) * 1.5
            + r.value(el, "c")
            - r.value(ref, "c")
        )
        assert sf.loc[el, "beta"] == pytest.approx(10**lb, rel=1e-12)
        # delta method by hand: gradient (+pH, +1, -pH, -1) on (a_el, c_el, a_ref, c_ref)
        if el != ref:
            idx = [r.free_names.index(f"{e}.{k}") for e in (el, ref) for k in "ac"]
            g = np.array([1.5, 1.0, -1.5, -1.0])
            se = math.sqrt(g @ r.cov[np.ix_(idx, idx)] @ g)
            assert sf.loc[el, "log10_beta_se"] == pytest.approx(se, rel=1e-10)
            assert sf.loc[el, "ci95_low"] < sf.loc[el, "beta"] < sf.loc[el, "ci95_high"]
    # the generating beta at pH 1.5 lies inside every interval
    for el in data.elements:
        true_lb = (EMP_TRUE[f"{el}.a"] - EMP_TRUE[f"{ref}.a"]) * 1.5 + (
            EMP_TRUE[f"{el}.c"] - EMP_TRUE[f"{ref}.c"]
        )
        if el != ref:
            assert sf.loc[el, "ci95_low"] <= 10**true_lb <= sf.loc[el, "ci95_high"]


def test_saturated_separation_factor_is_the_ratio_of_constants():
    data = generate(SAT_PLAN, "saturated", SAT_TRUE, noise_rel=0.02, seed=2)
    r = fit(data, "saturated")
    sf = r.separation_factors().set_index("element")
    assert sf.loc["Nd", "beta"] == pytest.approx(
        10 ** (r.value("Nd", "log10_K") - r.value("Pr", "log10_K")), rel=1e-12
    )
    assert sf.loc["Nd", "ci95_low"] <= 10**0.176 <= sf.loc["Nd", "ci95_high"]


@pytest.mark.slow
def test_bootstrap_intervals_agree_with_the_jacobian_ones():
    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.02, seed=4)
    r = fit(data, "empirical_ph", bootstrap=40, seed=1)
    assert r.bootstrap["failed"] == 0
    for name in r.free_names:
        p = r.param(*name.split("."))
        lo, hi = r.bootstrap["ci95"][name]
        assert lo < p.value < hi
        ratio = (hi - lo) / (p.ci_high - p.ci_low)
        assert 0.4 < ratio < 2.5, (name, ratio)


def test_units_of_the_data_file_do_not_change_the_fit(tmp_path):
    import csv

    from rexopt.fit.synthetic import to_rows

    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.02, seed=5)
    vals = []
    for unit in ("mol_L", "g_L", "mg_L"):
        rows = to_rows(data, unit=unit)
        p = tmp_path / f"d_{unit}.csv"
        with p.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        r = fit(p, "empirical_ph")
        vals.append([r.value(*n.split(".")) for n in r.free_names])
    assert np.allclose(vals[0], vals[1], atol=1e-9)
    assert np.allclose(vals[0], vals[2], atol=1e-9)


def test_strip_test_from_loaded_organic_conserves_metal_and_acid():
    """A strip test (metal only on the organic, acid in the aqueous): what leaves
    the organic arrives in the aqueous, and each RE(III) stripped takes 3 H+."""
    from rexopt.fit.batch import BatchModel
    from rexopt.fit.data import read_fit_data

    rows = [
        dict(O_A_ratio=oa, extractant_mol_L=1, saponification=0,
             feed_acid_mol_L=acid, feed_La_mol_L=0, feed_Nd_mol_L=0,
             org_in_La_mol_L=0.01, org_in_Nd_mol_L=0.02, aq_La_mol_L=0.005,
             aq_Nd_mol_L=0.01)
        for acid in (0.5, 2.0) for oa in (0.5, 2.0)
    ]  # fmt: skip
    data = read_fit_data(rows)
    vals = {(e, k): v for e in ("La", "Nd") for k, v in zip("abcd", (0.5, 0, -1, 0))}
    for t, s in zip(data.tests, BatchModel(data, "empirical_ph").solve(vals)):
        for el in ("La", "Nd"):
            assert s.x[el] + t.O_A * s.y[el] == pytest.approx(t.total(el), rel=1e-12)
        stripped = s.x["La"] + s.x["Nd"]  # per litre of aqueous
        assert 10.0**-s.pH == pytest.approx(t.acid_mol_L - 3.0 * stripped, rel=1e-10)


def test_compiled_and_pure_kernels_give_the_same_fit():
    from rexopt import kernels
    from rexopt._pure.cascade import solve_cascade as pure

    if not kernels.COMPILED:
        pytest.skip("compiled kernel not built")
    from rexopt._cascade import solve_cascade as compiled

    data = generate(MA_PLAN, "mass_action", MA_TRUE, noise_rel=0.02, seed=11)
    a = fit(data, "mass_action", free="m", kernel=compiled)
    b = fit(data, "mass_action", free="m", kernel=pure)
    for name in a.free_names:
        pa, pb = a.param(*name.split(".")), b.param(*name.split("."))
        # the kernels agree to their Newton stopping tolerance (a relative
        # correction), which the fit's finite-difference Jacobian carries into the
        # estimates at ~1e-8: the same fit to 1e-5 of its standard error
        assert abs(pa.value - pb.value) <= 1e-5 * pa.se
        assert pa.se == pytest.approx(pb.se, rel=1e-5)


def test_a_weight_of_two_is_the_row_given_twice():
    """Weighted least squares: weight w on a row = the row repeated w times (the
    estimates; the degrees of freedom differ, so the intervals do too)."""
    from rexopt.fit.data import FitData

    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.05, seed=12)
    t0 = data.tests[0]
    twice = FitData("<twice>", data.tests + [type(t0)(**{**t0.__dict__, "label": "dup"})],
                    data.elements, {}, [])  # fmt: skip
    weighted = FitData(
        "<weighted>",
        [type(t0)(**{**t0.__dict__, "weight": 2.0})] + data.tests[1:],
        data.elements, {}, [],
    )  # fmt: skip
    a, b = fit(twice, "empirical_ph"), fit(weighted, "empirical_ph")
    for name in a.free_names:
        assert a.value(*name.split(".")) == pytest.approx(
            b.value(*name.split(".")), abs=1e-6
        )  # optimizer tolerance: the two problems are the same sum of squares
    plain = fit(data, "empirical_ph")
    assert abs(plain.value("La", "a") - a.value("La", "a")) > 1e-4


def test_sulfate_medium_fit_recovers_parameters():
    data = generate(EMP_PLAN, "empirical_ph", EMP_TRUE, noise_rel=0.0, medium="sulfate")
    r = fit(data, "empirical_ph", medium="sulfate")
    for name, v in EMP_TRUE.items():
        assert r.value(*name.split(".")) == pytest.approx(v, abs=1e-6)
