"""The compiled kernel and its pure-NumPy twin give the same answer."""

import os
import subprocess
import sys

import numpy as np
import pytest

import rexopt.kernels as K
from rexopt._pure import cascade as pure
from rexopt.cascade import Cascade, solve_arrays

from .conftest import CASES, prnd_case

try:
    from rexopt import _cascade as compiled
except ImportError:  # pragma: no cover
    compiled = None

needs_compiled = pytest.mark.skipif(
    compiled is None, reason="compiled kernels not built"
)


def _run(fn, cas):
    net = cas.network()
    par = cas.stage_parameters(net)
    st, x, y, _, _, info = solve_arrays(net, par, cas.efficiencies(), kernel=fn)
    return st, x, y, info


@needs_compiled
@pytest.mark.compiled
@pytest.mark.parametrize(
    "case",
    [
        prnd_case(),
        prnd_case(**{"sections.scrub.efficiency": 0.8}),
        str(CASES / "lace_p507.toml"),
        str(CASES / "prnd_dytb_group.toml"),
        str(CASES / "lree_d2ehpa_empirical.toml"),
    ],
    ids=["prnd", "prnd-murphree", "lace", "group", "empirical-pH"],
)
def test_compiled_equals_pure(case):
    cas = Cascade(case)
    st_c, xc, yc, ic = _run(compiled.solve_cascade, cas)
    st_p, xp, yp, ip = _run(pure.solve_cascade, cas)
    assert st_c == st_p == 0
    # relative agreement down to the level the stage balances are converged to:
    # 1e-12 of each component's throughput per unit flow (below that, both are zero)
    net = cas.network()
    tiny = 1e-12 * (net.ext_aq + net.ext_org).sum(0) / (net.aq_out + net.org_out).mean()
    assert np.max(np.abs(xc - xp) / np.maximum(np.abs(xp), tiny)) <= 1e-10
    assert np.max(np.abs(yc - yp) / np.maximum(np.abs(yp), tiny)) <= 1e-10
    # same algorithm: the work done agrees closely (round-off can shift a step)
    assert abs(ic[K.INFO_TOTAL] - ip[K.INFO_TOTAL]) <= 0.2 * ip[K.INFO_TOTAL] + 2


def test_env_var_forces_pure_twin():
    env = dict(os.environ, REXOPT_PUREPYTHON="1")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import rexopt.kernels as k; print(k.kernel_info()['cascade_kernel'])",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "pure NumPy"


@needs_compiled
@pytest.mark.compiled
def test_compiled_kernel_names_a_bad_array():
    # the compiled kernel reads raw pointers: a wrong dtype, size or a read-only
    # output must be refused by name, never read out of bounds
    cas = Cascade(prnd_case())
    net = cas.network()
    par = cas.stage_parameters(net)
    N, C = net.ext_aq.shape

    def call(**over):
        args = dict(
            aq_out=net.aq_out, aq_pass=net.aq_pass, org_out=net.org_out,
            org_pass=net.org_pass, org_in=net.org_in,
            ext_aq=np.ascontiguousarray(net.ext_aq),
            ext_org=np.ascontiguousarray(net.ext_org), a=par["a"], b=par["b"],
            c=par["c"], d=par["d"], nu=par["nu"], sigma=par["sigma"],
            cap=par["cap"], z=net.z, Q=par["Q"], ST=par["ST"], ka=par["ka"],
            eff=cas.efficiencies(), use_ph=par["use_ph"], use_F=par["use_F"],
            x=np.full((N, C), -1.0), y=np.zeros((N, C)), h=np.zeros(N),
            F=np.zeros(N), tol=1e-12, max_iter=200, info=np.zeros(K.INFO_SIZE),
        )  # fmt: skip
        args.update(over)
        return compiled.solve_cascade(*args.values())

    assert call() == 0
    with pytest.raises(
        ValueError, match=r"cap must be a C-contiguous float64 array of"
    ):
        call(cap=par["cap"].astype(np.float32))
    with pytest.raises(ValueError, match=rf"org_pass must be .* of {N} values"):
        call(org_pass=net.org_pass[:-1].copy())
    with pytest.raises(ValueError, match=r"ext_aq must be"):
        call(ext_aq=np.asfortranarray(np.ones((N, C + 1))))
    ro = np.zeros(N)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"F must be .*\(writeable\)"):
        call(F=ro)


@pytest.mark.unit
@pytest.mark.parametrize("kernel", ["compiled", "pure"])
def test_cold_start_does_not_depend_on_a_failed_warm_start(kernel):
    """A warm start that fails hands over to the cold start; what the failed attempt
    left in the organic profile must not reach the cold answer.  Constant D with
    Murphree stages: the linear path keeps y between iterations, and a leftover y
    shifted its answer in the last bits (3.5e-17 mol/L) before y was reset."""
    from .conftest import constant_case

    if kernel == "compiled" and compiled is None:
        pytest.skip("compiled kernels not built")
    fn = compiled.solve_cascade if kernel == "compiled" else pure.solve_cascade
    case = constant_case({"Pr": 1.5, "Nd": 0.7})
    case["sections"]["extraction"]["efficiency"] = 0.7
    cas = Cascade(case)
    net = cas.network()
    par = cas.stage_parameters(net)
    eff = cas.efficiencies()
    # two Newton iterations: the exact step of the cold linear start and the one
    # that confirms every relative correction is round-off; too few from x = 1e30
    # (31 decades above the answer: Newton's step there is below round-off)
    st0, x0, y0, *_ = solve_arrays(net, par, eff, kernel=fn, max_iter=2)
    assert st0 == K.OK
    bad = np.full_like(x0, 1e30)
    st1, x1, y1, _, _, info = solve_arrays(net, par, eff, bad, kernel=fn, max_iter=2)
    assert st1 == K.OK
    assert info[K.INFO_PATH] == 1  # the warm start failed; the linear start solved
    assert np.array_equal(x1, x0) and np.array_equal(y1, y0)


@needs_compiled
@pytest.mark.compiled
def test_exact_elimination_twins_agree():
    """Constant D: both twins solve by the same subtraction-free elimination (the
    held-up stress cascade 2043, components circulating up to 1e108 x their
    throughput); they agree to the error bound they report, far below 1e-10."""
    from .test_kernel_balance import STRESS_2043

    cas = Cascade(STRESS_2043)
    st_c, xc, yc, ic = _run(compiled.solve_cascade, cas)
    st_p, xp, yp, ip = _run(pure.solve_cascade, cas)
    assert st_c == st_p == K.OK
    assert ic[K.INFO_PATH] == ip[K.INFO_PATH] == K.PATH_EXACT
    assert ic[K.INFO_RELSTEP] == ip[K.INFO_RELSTEP] <= 1e-10
    net = cas.network()
    floor = K.ACC_FLOOR * (net.ext_aq + net.ext_org).sum(0) / (
        net.aq_out + net.org_out
    ).mean()
    act = xp >= floor
    assert np.max(np.abs(xc[act] / xp[act] - 1.0)) <= ip[K.INFO_RELSTEP]


@needs_compiled
@pytest.mark.compiled
def test_compiled_constants_are_the_twins():
    """Every tolerance, budget, status code and info slot of the compiled kernel
    is the pure twin's (by name, exactly): the twins cannot drift apart there."""
    got = compiled.constants()
    assert len(got) >= 45 and "KW" in got and "ACC_FLOOR" in got
    for name, value in got.items():
        assert getattr(pure, name) == value, name
