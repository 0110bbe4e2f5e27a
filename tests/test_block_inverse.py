"""The compiled kernel's block inverses: the blocked loop (no pivoting, for column
diagonally dominant blocks) against the pivoting loop and against NumPy."""

import numpy as np
import pytest

try:
    from rexopt import _cascade as compiled
except ImportError:  # pragma: no cover
    compiled = None

pytestmark = [
    pytest.mark.compiled,
    pytest.mark.skipif(compiled is None, reason="compiled kernels not built"),
]


def _dominant(rng, m):
    """A random column diagonally dominant block with mixed signs and scales."""
    a = rng.normal(size=(m, m)) * 10.0 ** rng.uniform(-3, 3, size=(1, m))
    col = np.abs(a).sum(axis=0) - np.abs(np.diag(a))
    np.fill_diagonal(a, -(col * rng.uniform(1.0, 3.0, size=m) + 1e-300))
    return a


@pytest.mark.parametrize("m", list(range(1, 17)))
def test_blocked_inverse_is_the_pivoting_one_bit_for_bit(m):
    rng = np.random.default_rng(m)
    for _ in range(20):
        a = _dominant(rng, m)
        st_p, inv_p = compiled._invert_block(a, 3)  # the bare pivoting loop
        st_b, inv_b = compiled._invert_block(a, 2)
        assert st_p == 0
        if m < 4:
            # blocks of 1-3 always take the pivoting loop (nothing to block), on
            # the row-equilibrated block
            assert st_b == -1
            assert np.array_equal(
                compiled._invert_block(a, 0)[1], compiled._invert_block(a, 1)[1]
            )
            continue
        if st_b == -1:
            pytest.skip("blocked loops not built or not supported by this CPU")
        assert st_b == 0
        # same operations in the same order: identical, not merely close
        assert np.array_equal(inv_b, inv_p)
        ref = np.linalg.inv(a)
        assert np.allclose(inv_b, ref, rtol=1e-11, atol=1e-13 * np.abs(ref).max())
        # the dispatch the solves use takes the blocked loop here
        st_d, inv_d = compiled._invert_block(a, 0)
        assert st_d == 0 and np.array_equal(inv_d, inv_b)


@pytest.mark.parametrize("m", [4, 6, 15, 16])
def test_blocks_that_need_row_interchanges_take_the_pivoting_loop(m):
    rng = np.random.default_rng(100 + m)
    a = rng.normal(size=(m, m))
    a[0, 0] = 1e-14  # a tiny first pivot: without interchanges the inverse is garbage
    st, inv = compiled._invert_block(a, 0)
    assert st == 0
    assert np.allclose(inv @ a, np.eye(m), atol=1e-10)
    st_p, inv_p = compiled._invert_block(a, 1)
    assert np.array_equal(inv, inv_p)


@pytest.mark.parametrize("m", [2, 3, 6, 15])
def test_row_equilibration_keeps_a_trace_rows_own_pivot(m):
    """A block whose first row is a trace's balance (entries 1e-60 of the others,
    as in the log-variable Newton system) and whose trace column is larger in the
    majors' rows (their site balance feels the trace more than its own balance
    does): the bare pivoting loop takes a major's row as that column's pivot and
    loses the trace row under the major's round-off; the row-equilibrated loop
    (what the solves use) keeps every entry of the inverse to relative accuracy."""
    rng = np.random.default_rng(200 + m)
    a = rng.normal(size=(m, m))
    np.fill_diagonal(a, np.abs(np.diag(a)) + 2.0 * m)
    a[0] *= 1e-63
    a[0, 0] = 1e-60
    a[1:, 0] = 10.0 ** rng.uniform(-59, -58, size=m - 1)
    s = np.abs(a).max(axis=1)
    ref = np.linalg.solve(a / s[:, None], np.eye(m)) / s[None, :]
    for way in (0, 1):
        st, inv = compiled._invert_block(a, way)
        assert st == 0
        assert np.max(np.abs(inv / ref - 1.0)) <= 1e-13, way
    st, bare = compiled._invert_block(a, 3)
    assert st == 0 and np.max(np.abs(bare / ref - 1.0)) > 1.0  # what it fixes


@pytest.mark.parametrize("way", [0, 1, 2, 3])
def test_singular_and_nonfinite_blocks_are_reported(way):
    a = np.ones((15, 15))
    st, _ = compiled._invert_block(a, way)
    assert st in (3, -1)  # SINGULAR (or the blocked loop not built here)
    b = _dominant(np.random.default_rng(7), 15)
    b[3, 5] = np.nan
    st, _ = compiled._invert_block(b, way)
    assert st in (3, -1)
    if way == 0:
        assert st == 3
