"""Stage balances with a fixed distribution-ratio profile, solved in decimal
arithmetic: the reference the kernel's accuracy is checked against (tests and
benchmarks/bench_stress.py).

With D fixed per stage and component (constant D, or the D a pH model gives at a
solution) the stage balances are linear and tridiagonal per component:

    aq_pass[j+1] x[j+1] + org_pass[j-1] D[j-1] x[j-1]
        - (aq_out[j] + org_out[j] D[j]) x[j] = -f[j]

They are solved by Thomas' algorithm in ``digits``-digit decimal arithmetic.  A
component circulating 10^k times its throughput costs about k digits to
cancellation, so ``digits`` must exceed the accuracy wanted by that many.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np


def linear_profiles(net, D: np.ndarray, digits: int) -> np.ndarray:
    """Aqueous concentrations (N, C) of every stage for the profile D (N, C),
    each rounded once from the ``digits``-digit solution. [mol/L]"""
    N, C = D.shape
    x = np.empty((N, C))
    zero = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = digits
        ao = [Decimal(float(v)) for v in net.aq_out]
        ap = [Decimal(float(v)) for v in net.aq_pass]
        oo = [Decimal(float(v)) for v in net.org_out]
        op = [Decimal(float(v)) for v in net.org_pass]
        for i in range(C):
            Di = [Decimal(float(v)) for v in D[:, i]]
            cp, dp = [zero] * N, [zero] * N
            for j in range(N):
                f = Decimal(float(net.ext_aq[j, i])) + Decimal(float(net.ext_org[j, i]))
                a = op[j - 1] * Di[j - 1] if j else zero
                den = -(ao[j] + oo[j] * Di[j]) - (a * cp[j - 1] if j else zero)
                cp[j] = (ap[j + 1] if j + 1 < N else zero) / den
                dp[j] = (-f - (a * dp[j - 1] if j else zero)) / den
            xi = dp[N - 1]
            x[N - 1, i] = float(xi)
            for j in range(N - 2, -1, -1):
                xi = dp[j] - cp[j] * xi
                x[j, i] = float(xi)
    return x


def worst_relative_error(x: np.ndarray, ref: np.ndarray, floor: np.ndarray) -> float:
    """Largest |x / ref - 1| over the entries whose reference is at or above the
    component's floor (floor: one value per column); 0 when there are none."""
    above = ref >= np.asarray(floor)[None, :]
    if not above.any():
        return 0.0
    return float(np.max(np.abs(x[above] / ref[above] - 1.0)))
