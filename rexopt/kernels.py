"""The compiled/pure kernel switch (the msgpack pattern).

``REXOPT_PUREPYTHON=1`` forces the pure-NumPy twins; otherwise the compiled
Cython modules are used, and if they are missing (no compiler at install time)
the twins are used with a warning.  ``kernel_info()`` says which is active.
"""

from __future__ import annotations

import os
import warnings

from rexopt._pure import cascade as _pure_cascade

FORCED_PURE = os.environ.get("REXOPT_PUREPYTHON", "").strip() not in ("", "0")

if FORCED_PURE:
    solve_cascade = _pure_cascade.solve_cascade
    COMPILED = False
else:
    try:
        from rexopt._cascade import solve_cascade  # type: ignore[no-redef]

        COMPILED = True
    except ImportError:  # pragma: no cover - depends on the build
        warnings.warn(
            "rexopt: compiled kernels not found, using the pure-NumPy twins "
            "(much slower); reinstall with a C compiler to build them",
            RuntimeWarning,
            stacklevel=2,
        )
        solve_cascade = _pure_cascade.solve_cascade
        COMPILED = False

# shared constants of both twins
OK = _pure_cascade.OK
NOT_CONVERGED = _pure_cascade.NOT_CONVERGED
NO_ACID = _pure_cascade.NO_ACID
SINGULAR = _pure_cascade.SINGULAR
BAD_SITE_BALANCE = _pure_cascade.BAD_SITE_BALANCE
KW = _pure_cascade.KW  # ion product of water [mol^2/L^2]
INFO_SIZE = _pure_cascade.INFO_SIZE
INFO_ITER = _pure_cascade.INFO_ITER
INFO_RESID = _pure_cascade.INFO_RESID
INFO_STAGE = _pure_cascade.INFO_STAGE
INFO_COMP = _pure_cascade.INFO_COMP
INFO_HOMOTOPY = _pure_cascade.INFO_HOMOTOPY
INFO_TOTAL = _pure_cascade.INFO_TOTAL
INFO_PATH = _pure_cascade.INFO_PATH
INFO_RELSTEP = _pure_cascade.INFO_RELSTEP
PATH_EXACT = _pure_cascade.PATH_EXACT
PATH_TRANSIENT = _pure_cascade.PATH_TRANSIENT
LIMIT_WARM_ONLY = _pure_cascade.LIMIT_WARM_ONLY
LIMIT_NO_TRANSIENT = _pure_cascade.LIMIT_NO_TRANSIENT
LIMIT_ACID_ONLY = _pure_cascade.LIMIT_ACID_ONLY
LIMIT_WHOLE_DOMAIN = _pure_cascade.LIMIT_WHOLE_DOMAIN
LIMIT_WARM_TRANSIENT = _pure_cascade.LIMIT_WARM_TRANSIENT
BALANCE_TOL = _pure_cascade.BALANCE_TOL
LN10 = _pure_cascade.LN10
ACC_FLOOR = _pure_cascade.ACC_FLOOR
CONC_FLOOR = _pure_cascade.CONC_FLOOR
REL_TOL = _pure_cascade.REL_TOL


def kernel_info() -> dict:
    """Which cascade kernel is in use and why."""
    return {
        "cascade_kernel": "compiled (Cython)" if COMPILED else "pure NumPy",
        "forced_pure": FORCED_PURE,
    }
