"""Kremser and Fenske closed forms vs DOMAIN.md §2.2/§2.5 and stage-wise balances."""

import math

import numpy as np
import pytest

from rexopt.design import (
    extraction_factor,
    fenske_min_stages,
    kremser_raffinate,
    kremser_ratio,
    kremser_recovery,
    kremser_stages,
    min_stages_from_purities,
    purification_factors,
)

pytestmark = pytest.mark.unit


def countercurrent_raffinate(x_in, y_in, D, OA, N):
    """Solve N ideal countercurrent stages (y = D x) as a linear system.

    Aqueous enters stage N and leaves stage 1; organic enters stage 1. Per stage j
    (aqueous flow 1, organic flow OA): x_{j+1} + OA*y_{j-1} = x_j + OA*y_j.
    """
    A = np.zeros((N, N))
    rhs = np.zeros(N)
    for j in range(N):
        A[j, j] = -(1.0 + OA * D)
        if j + 1 < N:
            A[j, j + 1] = 1.0
        else:
            rhs[j] -= x_in
        if j - 1 >= 0:
            A[j, j - 1] = OA * D
        else:
            rhs[j] -= OA * y_in
    return np.linalg.solve(A, rhs)[0]


@pytest.mark.parametrize(
    "purity, beta, published",
    [(0.9999, 1.5, 45), (0.999, 1.5, 34), (0.9999, 3.0, 17)],
)
def test_nmin_published_examples(purity, beta, published):
    # DOMAIN.md §2.2 [S12]: 45 / 34 / 17 stages (rounded figures)
    assert min_stages_from_purities(purity, purity, beta) == pytest.approx(
        published, abs=0.5
    )


def test_fenske_from_purification_factors_is_feed_independent():
    # a*b does not depend on the feed split, so N_min from (a, b) at any feed
    # equals the purity form.
    for f_A in (0.1, 0.5, 0.9):
        a, b = purification_factors(f_A, 0.9999, 0.9999)
        assert fenske_min_stages(a, b, 1.5) == pytest.approx(
            min_stages_from_purities(0.9999, 0.9999, 1.5), rel=1e-12
        )


def test_kremser_published_example():
    # D = 10, O/A = 1/3, 99.9 % recovery -> N = 5.4 -> 6 stages [S12]
    N = kremser_stages(10.0, 1.0 / 3.0, recovery=0.999)
    assert N == pytest.approx(5.4, abs=0.05)
    assert math.ceil(N) == 6
    assert extraction_factor(10.0, 1.0 / 3.0) == pytest.approx(3.333, abs=1e-3)


def test_kremser_recovery_inverts_stages():
    N = kremser_stages(10.0, 1.0 / 3.0, recovery=0.999)
    assert kremser_recovery(10.0, 1.0 / 3.0, N) == pytest.approx(0.999, rel=1e-12)


@pytest.mark.parametrize(
    "D, OA, N, y_in",
    [
        (2.0, 1.0, 3, 0.0),
        (0.7, 1.2, 5, 0.05),
        (1.0, 1.0, 4, 0.02),
        (10.0, 1 / 3, 6, 0.1),
    ],
)
def test_kremser_matches_stage_by_stage_balance(D, OA, N, y_in):
    x_in = 1.0
    expected = countercurrent_raffinate(x_in, y_in, D, OA, N)
    assert kremser_raffinate(x_in, D, OA, N, y_in=y_in) == pytest.approx(
        expected, rel=1e-10
    )
    # and the stage form with the y_in/m term gives N back
    N_back = kremser_stages(D, OA, x_in=x_in, x_out=expected, y_in=y_in)
    assert N_back == pytest.approx(N, rel=1e-8)


def test_single_stage_by_hand():
    # one stage: x1 = x_in/(1 + E)
    assert kremser_raffinate(1.0, 4.0, 0.5, 1) == pytest.approx(1.0 / 3.0)


def test_kremser_limits():
    # E = 1: ratio N + 1, and continuous through E = 1
    assert kremser_ratio(1.0, 7) == 8.0
    assert kremser_ratio(1.0 + 1e-7, 7) == pytest.approx(8.0, rel=1e-5)
    # infinite stages: raffinate tends to the organic-inlet equilibrium y_in/D
    assert kremser_raffinate(1.0, 5.0, 1.0, 200, y_in=0.5) == pytest.approx(0.1)
    # E < 1 cannot exceed a recovery of E: 90 % with E = 0.8 is unreachable
    assert kremser_stages(0.8, 1.0, recovery=0.9) == math.inf
    assert math.isfinite(kremser_stages(0.8, 1.0, recovery=0.7))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: kremser_stages(-1.0, 1.0, recovery=0.9), "distribution_ratio"),
        (lambda: kremser_stages(1.0, 0.0, recovery=0.9), "phase_ratio"),
        (lambda: kremser_stages(1.0, 1.0, recovery=1.0), "recovery"),
        (lambda: kremser_stages(1.0, 1.0, x_in=1.0, x_out=2.0), "x_out"),
        (lambda: kremser_ratio(2.0, -1), "n_stages"),
        (lambda: fenske_min_stages(10.0, 10.0, 1.0), "beta"),
        (lambda: min_stages_from_purities(1.2, 0.99, 1.5), "purity_top"),
        (lambda: min_stages_from_purities(0.99, 0.0, 1.5), "purity_bottom"),
    ],
)
def test_bad_inputs_name_the_field(call, field):
    with pytest.raises(ValueError, match=field):
        call()
