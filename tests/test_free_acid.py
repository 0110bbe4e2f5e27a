"""Free acid of a stage from its total acidity (docs/kernel.md, "Equations").

H_T = [H+] + [HSO4-] - [OH-], [HSO4-] = S_T [H+] / (Ka + [H+]), [OH-] = Kw / [H+]:
one positive root for every H_T, acid or basic.  The pure twin's scalar ``_acid``
and the arclength continuation's ``acid_arrays`` must give it, its derivative, and
the acid-medium limit (water negligible) of the closed form without Kw.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rexopt import continuation
from rexopt._pure import cascade as pure

KA = 0.0102
KW = pure.KW
HT_GRID = [
    s * 10.0**e for e in (1, 0, -1, -2, -4, -5, -6, -7, -8, -10, -13) for s in (1, -1)
] + [0.0]
ST_GRID = [0.0, 0.05, 0.5, 2.0]


def _f(h, HT, ST):
    return h + ST * h / (KA + h) - KW / h - HT


@pytest.mark.parametrize("ST", ST_GRID)
def test_free_acid_is_the_root_for_acid_and_basic_stages(ST):
    for HT in HT_GRID:
        _, h, dh = pure._acid(HT, ST, KA, 0.0)
        assert h > 0.0
        # the residual is round-off of the largest term
        terms = max(h, ST * h / (KA + h), KW / h, abs(HT))
        assert abs(_f(h, HT, ST)) <= 4e-16 * terms, (HT, ST)
        # d[H+]/dH_T against a central difference of the root
        e = 1e-6 * max(abs(HT), math.sqrt(KW))
        hp = pure._acid(HT + e, ST, KA, 0.0)[1]
        hm = pure._acid(HT - e, ST, KA, 0.0)[1]
        assert dh == pytest.approx((hp - hm) / (2.0 * e), rel=1e-6), (HT, ST)
        # basic stage: [OH-] carries the excess cations
        if HT < -1e-5:
            assert KW / h == pytest.approx(-HT, rel=1e-3 + ST / KA * 1e-7)


@pytest.mark.parametrize("ST", ST_GRID)
def test_in_the_acid_medium_water_changes_h_by_kw_over_ht_squared(ST):
    """Where the free acid is well above 1e-7 mol/L, [H+] is the root without
    water to Kw / H_T^2 relative (the answers of the acid medium stay put)."""
    for HT in (1.0, 1e-1, 1e-2, 1e-3):
        _, h, _ = pure._acid(HT, ST, KA, 0.0)
        if ST > 0.0:
            B = KA + ST - HT
            disc = math.sqrt(B * B + 4.0 * KA * HT)
            h0 = 2.0 * KA * HT / (B + disc) if B > 0.0 else 0.5 * (disc - B)
        else:
            h0 = HT
        assert h >= h0
        assert (h - h0) / h0 <= 2.0 * KW / (h0 * h0) + 4e-16


def test_the_continuations_arrays_are_the_scalar_root_bit_for_bit():
    rng = np.random.default_rng(7)
    HT = rng.normal(size=400) * 10.0 ** rng.uniform(-13, 1, 400)
    ST = np.where(rng.random(400) < 0.4, 0.0, rng.uniform(0.0, 3.0, 400))
    h, dh = continuation.acid_arrays(HT, ST, KA)
    ref = np.array([pure._acid(a, s, KA, 0.0)[1:] for a, s in zip(HT, ST)])
    assert np.array_equal(h, ref[:, 0]) and np.array_equal(dh, ref[:, 1])
