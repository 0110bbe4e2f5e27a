"""The arclength fallback (rexopt/continuation.py): its pieces against the pure
twin and dense linear algebra, and a followed path against the kernel's answer.

The cascades only this fallback reaches are in test_kernel_regressions.py
(section 6); the fallback's place in Cascade.simulate is documented in
docs/kernel.md ("Starts and globalisation", start 8)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rexopt import continuation, kernels
from rexopt._pure import cascade as pure
from rexopt.cascade import Cascade, solve_arrays

from .conftest import constant_case

ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "tests" / "data" / "kernel"
CASES = [
    KERNEL / "smeugd_38_28_3.toml",  # saturated
    KERNEL / "prnd_mass_action_stall.toml",  # mass action, NH4-saponified
    KERNEL / "uky_sulfate_leach.toml",  # empirical pH, sulfate
    ROOT / "cases" / "lree_d2ehpa_empirical.toml",  # empirical pH, chloride
]


def _load(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def _arrays(case: dict, organic_factor: float = 1.0):
    c = copy.deepcopy(case)
    c["organic"]["flow_L_h"] *= organic_factor
    cas = Cascade(c)
    net = cas.network()
    return cas, net, cas.stage_parameters(net)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_stage_equilibrium_is_the_pure_twins_at_every_stage(path):
    """All stages at once = the pure twin's _stage_eq stage by stage: y, F and the
    Jacobian dy/dx, at a profile perturbed off the kernel's answer."""
    cas, net, par = _arrays(_load(path))
    st, x, *_ = solve_arrays(net, par, cas.efficiencies())
    assert st == kernels.OK
    rng = np.random.default_rng(3)
    x = x * np.exp(rng.uniform(-0.05, 0.0, x.shape))  # less metal: free acid stays
    A = {k: np.asarray(par[k], float) for k in continuation.PAR_ARRAYS}
    Fg = np.full(net.N, 0.3)
    y, F, G = continuation.stage_equilibrium(
        x, A, net.z, par["ka"], par["use_ph"], par["use_F"], Fg, True
    )
    for j in range(net.N):
        s, yj, Fj, _h, Gj = pure._stage_eq(
            x[j], A["a"][j], A["b"][j], A["c"][j], A["d"][j], A["nu"][j],
            A["sigma"][j], A["cap"][j], net.z, A["Q"][j], A["ST"][j], par["ka"],
            par["use_ph"], par["use_F"], Fg[j], True,
        )  # fmt: skip
        assert s == pure.OK
        np.testing.assert_allclose(y[j], yj, rtol=1e-13, atol=0.0)
        assert F[j] == pytest.approx(Fj, rel=1e-13)
        np.testing.assert_allclose(G[j], Gj, rtol=1e-12, atol=1e-14 * np.abs(Gj).max())


def test_stage_equilibrium_of_a_basic_stage_is_the_pure_twins():
    """A stage whose cations exceed its anions (H_T < 0) is basic, its excess
    carried as OH-: stated, not refused, and the same as the pure twin's."""
    cas, net, par = _arrays(_load(CASES[1]))
    st, x, *_ = solve_arrays(net, par, cas.efficiencies())
    A = {k: np.asarray(par[k], float) for k in continuation.PAR_ARRAYS}
    x = x.copy()
    # cations beyond the anions at stage 5: H_T = Q - z.x < 0
    x[4] += 2.0 * A["Q"][4] / net.z.max()
    Fg = np.full(net.N, 0.3)
    y, F, _ = continuation.stage_equilibrium(
        x, A, net.z, par["ka"], par["use_ph"], par["use_F"], Fg, False
    )
    s, yj, Fj, h, _ = pure._stage_eq(
        x[4], A["a"][4], A["b"][4], A["c"][4], A["d"][4], A["nu"][4],
        A["sigma"][4], A["cap"][4], net.z, A["Q"][4], A["ST"][4], par["ka"],
        par["use_ph"], par["use_F"], Fg[4], False,
    )  # fmt: skip
    assert s == pure.OK and h < 1e-7
    np.testing.assert_allclose(y[4], yj, rtol=1e-13, atol=0.0)
    assert F[4] == pytest.approx(Fj, rel=1e-13)


def test_bordered_banded_solve_is_the_dense_solve():
    """Bordering with one banded LU of a block-tridiagonal H_u (some unknowns
    masked out) gives the dense solution of the bordered system."""
    rng = np.random.default_rng(11)
    N, C = 7, 3
    n = N * C
    rows, cols, vals = [], [], []
    for j in range(N):
        for k in (j - 1, j, j + 1):
            if 0 <= k < N:
                B = rng.normal(size=(C, C)) + (4.0 * np.eye(C) if k == j else 0.0)
                ii, kk = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
                rows.append((j * C + ii).ravel())
                cols.append((k * C + kk).ravel())
                vals.append(B.ravel())
    rows, cols, vals = map(np.concatenate, (rows, cols, vals))
    m = np.ones(n, bool)
    m[[2, 10, 11]] = False
    dense = np.zeros((n, n))
    dense[rows, cols] = vals
    dense = dense[m][:, m]
    J = continuation._Band(vals, continuation._band_pattern(rows, cols, m))
    nm = int(m.sum())
    hp, c, f = rng.normal(size=nm), rng.normal(size=nm), rng.normal(size=nm)
    d, g = 0.7, -0.3
    got = continuation._bordered(J, hp, c, d, f, g)
    full = np.block([[dense, hp[:, None]], [c[None, :], np.array([[d]])]])
    want = np.linalg.solve(full, np.concatenate([f, [g]]))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_followed_path_ends_at_the_kernels_steady_state():
    """From the kernel's answer at 0.9 x the organic flow of the Sm/Eu/Gd cascade
    to the case's own: the profile reached is the kernel's cold answer there (the
    majors to 1e-8 relative: the path's landing tolerance), and the kernel's warm
    solve from it is that answer to 1e-10."""
    case = _load(CASES[0])
    cas0, net0, par0 = _arrays(case, 0.9)
    cas1, net1, par1 = _arrays(case)
    eff = cas1.efficiencies()
    r0 = solve_arrays(net0, par0, eff)
    r1 = solve_arrays(net1, par1, eff)
    assert r0[0] == kernels.OK and r1[0] == kernels.OK
    x, rep = continuation.follow(net0, par0, r0[1], r0[4], net1, par1, eff)
    assert x is not None, rep
    assert rep["p"] == 1.0 and rep["steps"] > 0 and rep["reason"] is None
    major = r1[1] > 1e-6 * r1[1].max()
    assert np.max(np.abs(x[major] / r1[1][major] - 1.0)) <= 1e-8
    warm = solve_arrays(net1, par1, eff, x, limits=kernels.LIMIT_WARM_ONLY)
    assert warm[0] == kernels.OK
    keep = r1[1] > kernels.ACC_FLOOR
    assert np.max(np.abs(warm[1][keep] / r1[1][keep] - 1.0)) <= 1e-10


def test_a_component_below_the_floor_somewhere_is_refilled_whole():
    """A component below TRACE_FRACTION of its throughput at some stages is no
    unknown there; at each accepted point of a path it takes the exact
    elimination's whole column, so the balances at the edge of its unknowns
    agree with the traces beyond the edge.  Constant D (Nd: 3 -> 3.3, 120
    stages: its raffinate end falls below the floor): the unknowns solved with
    the traces of the start frozen, then refilled, are the kernel's answer at the
    end of the path, every balance closed.  (Refilling only the traces left the
    edge rows off by the traces' move over the step: stress cascade 1385's path
    stalled there, on Al at 1e-43 mol/L, rejecting every step.)"""
    cas0 = Cascade(constant_case({"Nd": 3.0, "Pr": 0.5}, n=120))
    cas1 = Cascade(constant_case({"Nd": 3.3, "Pr": 0.5}, n=120))
    net0, net1 = cas0.network(), cas1.network()
    par0, par1 = cas0.stage_parameters(net0), cas1.stage_parameters(net1)
    eff = cas1.efficiencies()
    r0, r1 = solve_arrays(net0, par0, eff), solve_arrays(net1, par1, eff)
    assert r0[0] == kernels.OK and r1[0] == kernels.OK
    hom = continuation._Homotopy(net0, par0, net1, par1, r0[1], r0[4])
    m = hom.m.reshape(hom.N, hom.C)
    assert m[:, 0].any() and not m[:, 0].all()  # Nd: partly below the floor
    um = hom.lnx[hom.m].copy()
    for _ in range(30):  # Newton on the unknowns at p = 1, traces frozen
        hom.S = None
        r, J = hom.residual(um, 1.0, True)
        if np.max(np.abs(r)) <= 1e-14:
            break
        du = J.solve(-r)
        um += du * min(1.0, 2.0 / np.max(np.abs(du)))
    assert np.max(np.abs(r)) <= 1e-13
    assert hom.fill(um, 1.0)
    hom.m[:] = True  # every balance, the traces' too (each scaled by its flows)
    hom.S = None
    assert np.max(np.abs(hom.residual(hom.lnx, 1.0))) <= 1e-12
    x = hom.full(hom.lnx[hom.m])
    np.testing.assert_allclose(x, r1[1], rtol=1e-10, atol=0.0)


def test_follow_says_what_it_does_not_follow():
    case = _load(CASES[0])
    cas, net, par = _arrays(case)
    st, x, _y, _h, F, _info = solve_arrays(net, par, cas.efficiencies())
    x1, rep = continuation.follow(net, par, x, F, net, par, np.full(net.N, 0.9))
    assert x1 is None and "Murphree" in rep["reason"]
    c2 = copy.deepcopy(case)
    c2["sections"]["extraction"]["stages"] += 1
    cas2 = Cascade(c2)
    net2 = cas2.network()
    x1, rep = continuation.follow(
        net, par, x, F, net2, cas2.stage_parameters(net2), cas.efficiencies()
    )
    assert x1 is None and "shape" in rep["reason"]


@pytest.mark.slow
def test_a_vertical_stretch_is_named_in_the_case_terms():
    """Stress cascade 1444 (mass action, 419 stages), followed from 0.75 x its
    organic flow: after about 100 steps the organic flow stands still (to 1e-9)
    while a front crosses the stages, for about 3,100 steps, and the path then
    reaches the case.  Cut at 500 steps, the report says the path was
    vertical there, and the error text gives the organic flow, the concentration
    that moved most and by how many decades, and that this is no proof."""
    case = _load(KERNEL / "arclength" / "stress_1444_mass_action.toml")
    cas0, net0, par0 = _arrays(case, 0.75)
    cas1, net1, par1 = _arrays(case)
    eff = cas1.efficiencies()
    r0 = solve_arrays(net0, par0, eff)
    assert r0[0] == kernels.OK
    x, rep = continuation.follow(
        net0, par0, r0[1], r0[4], net1, par1, eff, max_steps=500
    )
    assert x is None
    assert rep["steps"] + rep["rejected"] == 500
    run = rep["runoff"]
    assert abs(run["decades"]) >= 10.0  # moved far over the steps p stood still
    assert 0.3 < rep["p"] < 0.5  # about 0.845 x the organic flow
    text = cas1._arc_stop(rep, net1, "organic flow", -0.25)
    flow = case["organic"]["flow_L_h"] * (0.75 + 0.25 * rep["p"])
    assert f"vertical at organic flow {flow:.6g} L/h" in text
    assert f"{abs(run['decades']):.3g} decades" in text
    assert "not a proof" in text
