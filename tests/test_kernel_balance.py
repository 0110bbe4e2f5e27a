"""Outlet balances of a converged cascade: the kernel accepts a solve at round-off
level only with every component's outlets carrying its input (BALANCE_TOL), a
constant-D cascade is solved exactly whatever its circulation, and a solve whose
outlets do not close a species' balance is never reported as converged."""

import copy

import numpy as np
import pytest

from rexopt import kernels
from rexopt._pure import cascade as pure
from rexopt._pure.decimal_reference import linear_profiles
from rexopt.cascade import (
    BALANCE_MAX,
    EXACT_START,
    Cascade,
    CascadeError,
    circulation,
    solve_arrays,
)
from rexopt.results import BALANCE_WARN

try:
    from rexopt import _cascade as compiled
except ImportError:  # pragma: no cover
    compiled = None

KERNELS = {"pure": pure.solve_cascade}
if compiled is not None:
    KERNELS["compiled"] = compiled.solve_cascade

# benchmarks/bench_stress.py --seed 0, cascade 2043 (printed exactly by
# --report-balance-above): 349 constant-D stages.  Eu, Gd and La are held up
# between extraction and scrub: in the exact steady state of the constant-D model
# they circulate 1e69-1e108 times their throughput.  Newton's cold start failed
# on it and the organic-flow walk ended in a solve the kernel accepted at
# round-off level (residual 1e-10 of the gross flows, scaled residual 0.44) in
# which those three left at 1e-61 of their input.
STRESS_2043 = {
    "kind": "cascade",
    "name": "stress",
    "chemistry": {
        "model": "constant",
        "components": [
            "Tm",
            "Pr",
            "Eu",
            "Gd",
            "Nd",
            "La",
            "Tb",
            "Yb",
            "Lu",
            "Fe",
            "Y",
            "Sm",
            "Dy",
            "Ce",
            "Er",
            "Ho",
        ],
        "constant": {
            "distribution": {
                "extraction": {
                    "Tm": 0.5328221066122331,
                    "Pr": 0.3020100793808371,
                    "Eu": 13.931199173830253,
                    "Gd": 28.261072743770303,
                    "Nd": 0.06049958297429002,
                    "La": 19.634338159030793,
                    "Tb": 12.105121769986447,
                    "Yb": 0.05725455809919539,
                    "Lu": 0.05482499522845468,
                    "Fe": 1.0846940091100092,
                    "Y": 0.40012748668472864,
                    "Sm": 1.2023567044603285,
                    "Dy": 0.08609231607851626,
                    "Ce": 0.07518297052826152,
                    "Er": 0.1331408279875435,
                    "Ho": 0.03478138960698491,
                },
                "scrub": {
                    "Tm": 0.055047980338381486,
                    "Pr": 0.05936066696587661,
                    "Eu": 0.32711568928695756,
                    "Gd": 0.3900932754364568,
                    "Nd": 3.274580952738505,
                    "La": 0.15967553874352527,
                    "Tb": 3.7536778773252615,
                    "Yb": 0.25797432292339617,
                    "Lu": 0.43215996101213144,
                    "Fe": 0.1683985613199142,
                    "Y": 0.12172801938018712,
                    "Sm": 0.042904000003939756,
                    "Dy": 2.359256781054688,
                    "Ce": 0.6973932312819804,
                    "Er": 1.781457252047158,
                    "Ho": 0.8339303537196953,
                },
                "strip": {
                    "Tm": 0.02112004632843313,
                    "Pr": 0.016938194255560916,
                    "Eu": 0.008031172571324479,
                    "Gd": 0.09770669020616116,
                    "Nd": 0.04132915980194702,
                    "La": 0.0010903567175810935,
                    "Tb": 0.0012489254607806447,
                    "Yb": 0.005494538210494216,
                    "Lu": 0.005591103520142536,
                    "Fe": 0.09871162772427237,
                    "Y": 0.018148891959249836,
                    "Sm": 0.023722449007926045,
                    "Dy": 0.001754521756155423,
                    "Ce": 0.09381120592610706,
                    "Er": 0.08323615746369713,
                    "Ho": 0.007301271743259869,
                },
            }
        },
    },
    "sections": {
        "extraction": {"stages": 191},
        "scrub": {"stages": 110},
        "strip": {"stages": 48},
    },
    "feed": {
        "flow_L_h": 100.0,
        "acidity_mol_L": 0.021767918904914103,
        "conc_mol_L": {
            "Tm": 0.18215766563384256,
            "Pr": 0.16716563583665148,
            "Eu": 0.0002941182980326716,
            "Gd": 0.0003255676781702984,
            "Nd": 0.0005705761630751717,
            "La": 0.004866219264028131,
            "Tb": 0.00027693367980137317,
            "Yb": 0.09230691374209081,
            "Lu": 0.0006270562135863104,
            "Fe": 0.01714095679359081,
            "Y": 7.608653349245482e-05,
            "Sm": 0.016325463022993928,
            "Dy": 0.004087547273198848,
            "Ce": 0.00028963952281953865,
            "Er": 0.001322295339049701,
            "Ho": 0.0069909547674813464,
        },
    },
    "organic": {"flow_L_h": 43.25254808545387},
    "scrub": {"flow_L_h": 163.06119893264486, "acidity_mol_L": 0.0},
    "strip": {"flow_L_h": 58.392007922514026, "acidity_mol_L": 0.0},
}


def _outlet_error(net, x, y):
    nt = (net.aq_out, net.aq_pass, net.org_out, net.org_pass, net.org_in)
    return pure._outlet_error(nt, net.ext_aq, net.ext_org, x, y)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_held_up_constant_D_cascade_is_solved_exactly(kernel):
    """Cascade 2043 by the subtraction-free elimination: every concentration above
    the accuracy floor equals the 250-digit solution of the stage balances to the
    error bound the kernel reports, whatever the circulation (1e108 here), and
    every outlet balance closes to round-off."""
    cas = Cascade(STRESS_2043)
    net = cas.network()
    par = cas.stage_parameters(net)
    st, x, y, _, _, info = solve_arrays(
        net, par, cas.efficiencies(), kernel=KERNELS[kernel]
    )
    assert st == kernels.OK
    assert info[kernels.INFO_PATH] == pure.PATH_EXACT
    D = np.exp(pure.LN10 * par["c"])
    circ = circulation(net, x, y)
    assert circ.max() > 1e100  # held up: the old round-off limit was 1e-16 x circ
    ref = linear_profiles(net, D, 250)
    scale = (net.ext_aq + net.ext_org).sum(0)
    floor = kernels.ACC_FLOOR * scale / (net.aq_out + net.org_out).mean()
    act = ref >= floor[None, :]
    err = np.max(np.abs(x[act] / ref[act] - 1.0))
    bound = info[kernels.INFO_RELSTEP]
    assert bound <= 1e-10
    assert err <= bound, (err, bound)
    assert _outlet_error(net, x, y) <= 1e-13


def test_held_up_constant_D_cascade_through_simulate():
    """simulate() reports it (no refusal for circulation: the elimination is exact)
    and says that the held-up concentrations are beyond any physical phase."""
    r = Cascade(STRESS_2043).simulate(branch_search=False)
    assert r.convergence["start"] == EXACT_START
    assert r.convergence["max_balance_error"] <= 1e-12
    assert any("no phase holds that much" in w for w in r.warnings)
    assert not any("round-off limits" in w for w in r.warnings)


def _murphree_2043(eff):
    case = copy.deepcopy(STRESS_2043)
    for name in ("extraction", "scrub", "strip"):
        case["sections"][name]["efficiency"] = eff
    return Cascade(case)


@pytest.mark.parametrize(
    "kernel",
    [
        pytest.param(
            "compiled",
            marks=pytest.mark.skipif(compiled is None, reason="not built"),
        ),
        pytest.param("pure", marks=pytest.mark.slow),  # ~16 s
    ],
)
def test_roundoff_acceptance_requires_closed_outlets(kernel):
    """With a Murphree efficiency of 0.999 the case goes through Newton (not the
    elimination).  The kernel before BALANCE_TOL accepted its cold start at
    round-off level (every stage residual below 1e-10 of its gross flow) with Eu,
    Gd and La leaving at 1e-15 of their input (outlet balance error 1.0): any
    solve the kernel now accepts closes every outlet balance."""
    cas = _murphree_2043(0.999)
    net = cas.network()
    st, x, y, _, _, info = solve_arrays(
        net, cas.stage_parameters(net), cas.efficiencies(), kernel=KERNELS[kernel]
    )
    assert st in (kernels.OK, kernels.NOT_CONVERGED)
    if st == kernels.OK:
        assert _outlet_error(net, x, y) <= pure.BALANCE_TOL
    else:  # a refusal that says where
        assert info[kernels.INFO_RESID] > pure.ROUNDOFF_TOL


@pytest.mark.slow
@pytest.mark.skipif(
    kernels.kernel_info()["cascade_kernel"] == "pure NumPy",
    reason="the pure twin's organic-flow walk on 349 stages x 32 unknowns is slow",
)
def test_unclosed_solve_is_never_reported():
    """Through simulate (cold start, then the organic-flow walk): a converged
    answer with every balance closed, or a CascadeError that says where."""
    try:
        r = _murphree_2043(0.999).simulate(branch_search=False)
    except CascadeError as e:
        assert "did not converge" in str(e) and "stage" in str(e)
    else:
        assert r.convergence["max_balance_error"] <= BALANCE_WARN


def test_balance_limits_are_ordered():
    # the kernel's acceptance (BALANCE_TOL) is at the result's warning level, and
    # far inside the refusal level of Cascade.simulate
    assert pure.BALANCE_TOL <= BALANCE_WARN < BALANCE_MAX
