"""Convergence from any start (issue 17): cascades the kernel used to miss.

The points below were found by solving random (S, P) designs of the bundled
Sm/Eu/Gd chemistry (cases/three_outlet_smeugd.toml) with the optimizer's flow rule
(organic O = S F / Ymax, scrub Qw = 3 (S F - P) / c_scrub, strip Qs = 3.3 P /
c_strip): about 1.2 % of 6,000 such cold starts failed before the pseudo-transient
start was changed (docs/kernel.md, Globalisation).
"""

import tomllib

import numpy as np
import pytest

from rexopt import kernels
from rexopt.cascade import Cascade, CascadeError, _inlet_sites, solve_arrays

from .conftest import CASES

SEG = tomllib.loads((CASES / "three_outlet_smeugd.toml").read_text())


def seg_case(S, P, stages, draw):
    """The Sm/Eu/Gd case at extraction amount S (mol RE loaded per mol fed) and
    cut P (mol/h to the organic), with the given stages; feed at the last
    extraction stage, the middle draw (if any) at scrub stage 6."""
    ne, ns, nt = stages
    F, ymax = 100.0, 0.36 * 1.5 / 3.0  # feed RE mol/h, organic capacity mol/L
    c = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SEG.items()}
    c["sections"] = {
        "extraction": {"stages": ne},
        "scrub": {"stages": ns},
        "strip": {"stages": nt},
    }
    c["feed"] = dict(SEG["feed"], stage=ne)
    c["organic"] = dict(SEG["organic"], flow_L_h=S * F / ymax)
    c["scrub"] = dict(SEG["scrub"], flow_L_h=3.0 * (S * F - P) / 3.0)
    c["strip"] = dict(SEG["strip"], flow_L_h=3.0 * 1.1 * P / 6.0)
    if draw:
        c["side_draws"] = [dict(SEG["side_draws"][0], stage=ne + 6)]
    else:
        c.pop("side_draws", None)
    return c


def _kernel(case, x0=None):
    cas = Cascade(case)
    net = cas.network()
    par = cas.stage_parameters(net)
    st, x, y, h, F, info = solve_arrays(net, par, cas.efficiencies(), x0)
    return st, x, info


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-40)))


# cold starts that failed (status 1) before; converge now through the
# pseudo-transient start
KERNEL_POINTS = [
    ((38, 28, 3), True, 4.624918320956228, 93.74558508835891),
    ((40, 40, 5), False, 1.6994231755388345, 38.59689922112919),
    ((40, 40, 5), True, 4.319691460130672, 93.98258000310378),
    ((40, 40, 5), False, 1.0589769995066347, 49.0972359646756),
]


@pytest.mark.parametrize("stages, draw, S, P", KERNEL_POINTS)
def test_former_cold_start_failures_converge_to_one_answer(stages, draw, S, P):
    st, x, info = _kernel(seg_case(S, P, stages, draw))
    assert st == kernels.OK
    assert info[kernels.INFO_RELSTEP] <= 1e-11
    # warm starts from neighbouring designs (1 % either way in S) reach the same
    # steady state as the cold start, to 1e-10 relative
    for f in (0.99, 1.01):
        st_n, x_n, _ = _kernel(seg_case(S * f, P, stages, draw))
        assert st_n == kernels.OK
        st_w, x_w, info_w = _kernel(seg_case(S, P, stages, draw), x_n)
        assert st_w == kernels.OK
        assert _rel(x_w, x) <= 1e-10


# cold start still fails in the kernel (a slow front: residual ~1e-3 after 1,500
# pseudo-transient steps); Cascade.simulate reaches it by its organic-flow walk
WALK_POINT = ((38, 28, 3), True, 1.928268709555834, 91.4417041720585)


def test_slow_front_cascade_reached_by_the_walk_and_by_warm_starts():
    stages, draw, S, P = WALK_POINT
    r = Cascade(seg_case(S, P, stages, draw)).simulate()
    assert r.convergence["start"].startswith("organic-flow walk")
    assert r.balance["relative_error"].max() <= 1e-10
    # warm-started from the solution of a neighbour, the kernel agrees
    st_n, x_n, _ = _kernel(seg_case(S * 1.001, P, stages, draw))
    if st_n == kernels.OK:
        st_w, x_w, _ = _kernel(seg_case(S, P, stages, draw), x_n)
        assert st_w == kernels.OK
        assert _rel(x_w, r.x) <= 1e-10


def _stress_case(seed, index):
    """Cascade `index` of benchmarks/bench_stress.py's draw with `seed`."""
    import importlib.util

    from rexopt.case import CaseError

    from .conftest import ROOT

    spec = importlib.util.spec_from_file_location(
        "bench_stress", ROOT / "benchmarks" / "bench_stress.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(seed)
    n = 0
    while n < index:
        case = bench.random_case(rng)
        try:
            cas = Cascade(case)
            cas.stage_parameters(cas.network())
        except (CaseError, ValueError):
            continue
        n += 1
    return case


@pytest.mark.parametrize(
    "index, passes_before",
    [(69, "0.95"), (154, "4e-3"), (93, "2e-7"), (473, "2e-6")],
)
def test_organic_loops_that_plain_passes_did_not_close(index, passes_before):
    """Stress cascades (seed 0) whose organic loop 200 plain fixed-point passes left
    open (loading change `passes_before` of throughput per pass at the end: the
    strip leaves most of some metal on the organic, so a pass contracts by 0.95-
    0.99).  Anderson acceleration closes them; the answer is a steady state of the
    loop: solving the cascade again with the organic returning exactly as it
    leaves the strip section reproduces every concentration."""
    case = _stress_case(0, index)
    assert case["organic"]["recycle"]
    cas = Cascade(case)
    r = cas.simulate(branch_search=False)
    assert 1 <= r.convergence["organic_loop_passes"] <= 100
    assert r.convergence["max_balance_error"] <= 1e-9
    # the loop is closed to 1e-12 of each throughput
    assert _returning_again(cas, r) <= 1e-8


# bench_stress seed 0 cascade 7819: 15 metals, 1+1+1 stages, organic loop whose
# Anderson-accelerated passes run into a pass the kernel does not solve
STRESS_7819 = {
    "kind": "cascade", "name": "stress",
    "chemistry": {"model": "mass_action",
                  "components": ["Fe", "Gd", "Y", "Lu", "Yb", "Ho", "Eu", "Tb", "Er",
                                 "Dy", "Ce", "Nd", "Sm", "Pr", "La"]},
    "sections": {"extraction": {"stages": 1}, "scrub": {"stages": 1},
                 "strip": {"stages": 1}},
    "feed": {"flow_L_h": 100.0, "acidity_mol_L": 0.07817407533063765,
             "conc_mol_L": {"Fe": 0.013848826482521136, "Gd": 0.07468503135207583,
                            "Y": 0.0001189522449672653, "Lu": 0.12220297383376978,
                            "Yb": 6.794003924531738e-05, "Ho": 0.0008178897587766421,
                            "Eu": 8.140131942870551e-05, "Tb": 5.274500144051773e-05,
                            "Er": 0.06730817066857953, "Dy": 0.04164592693339509,
                            "Ce": 0.4784252032698214, "Nd": 0.4761010828091885,
                            "Sm": 0.00011550848072196636, "Pr": 0.0007318531857375639,
                            "La": 0.008938576010709359}},
    "organic": {"flow_L_h": 357.2357896343509, "extractant_mol_L": 1.5,
                "saponification": 0.19243134473368328, "recycle": True},
    "scrub": {"flow_L_h": 68.2252696603118, "acidity_mol_L": 1.0},
    "strip": {"flow_L_h": 41.23730439602981, "acidity_mol_L": 4.0},
}  # fmt: skip


def _returning_again(cas, r):
    """The cascade solved again with the organic returning exactly as the answer's
    strip section leaves it: the largest relative change of a concentration above
    1e-12 of its throughput (zero at a steady state of the loop)."""
    back = np.zeros(len(cas.species))
    metals = [
        i
        for i, s in enumerate(cas.species)
        if not (cas.pH_model and s == cas.agent.ion and cas.case.organic.saponification)
    ]
    back[metals] = r.y[-1, metals]
    # re-saponified as the loop does: the base up to the returning organic's
    # free sites (Cascade.network's ``sites``)
    par = cas.stage_parameters(cas.network())
    net = cas.network(organic_in_mol_L=back, sites=_inlet_sites(par))
    st, x, y, *_ = solve_arrays(net, par, cas.efficiencies(), r.x)
    assert st == kernels.OK
    scale = (net.ext_aq + net.ext_org).sum(0) / (net.aq_out + net.org_out).mean()
    act = r.x >= 1e-12 * scale
    return float(np.max(np.abs(x[act] / r.x[act] - 1.0)))


def test_organic_loop_closed_by_newton_where_anderson_fails(monkeypatch):
    """Stress cascade 7819: before water's OH- was modelled its Anderson-
    accelerated passes met a pass the kernel did not solve, and Newton's method
    on the returning organic closed the loop (148 passes); now every pass solves
    and the passes close it (78), on the same steady state (1.5e-12).  With the
    passes cut to 20 (``max_recycle``) Newton's method, from the pass closest to
    closing, closes it: the start says so, and the answer is that steady state.
    Without it, the case so cut fails (the walk in the base, next in line, finds
    no origin whose loop closes in 20 passes; the walk itself is tested in
    test_kernel_regime.py)."""
    passes = Cascade(STRESS_7819).simulate(branch_search=False)
    assert "closed by" not in passes.convergence["start"]
    assert passes.convergence["max_balance_error"] <= 1e-9
    cas = Cascade(STRESS_7819)
    r = cas.simulate(branch_search=False, max_recycle=20)
    conv = r.convergence
    assert "organic loop closed by Newton's method" in conv["start"]
    assert "after 20 Anderson-accelerated passes had not closed it" in conv["start"]
    assert conv["max_balance_error"] <= 1e-9
    assert conv["relative_error_estimate"] <= 1e-10
    assert _returning_again(cas, r) <= 1e-8
    assert np.max(np.abs(passes.x - r.x) / np.abs(r.x)) < 1e-10

    def off(self, *a, **k):
        return {"result": None, "passes": 0, "newton_iterations": 0,
                "iterations": 0, "net": None, "why": "switched off"}  # fmt: skip

    monkeypatch.setattr(Cascade, "_loop_newton", off)
    with pytest.raises(CascadeError) as e:
        Cascade(STRESS_7819).simulate(branch_search=False, max_recycle=20)
    # the walk in the base, next in line, has 20 passes per step too: no origin
    assert "; switched off; continuation in the organic's base" in str(e.value)


# ------------------------------------------------------------ branch search cost
def _count_solves(monkeypatch):
    import rexopt.cascade as rc

    calls = []
    real = rc.solve_arrays

    def counted(net, par, eff, x0=None, **kw):
        res = real(net, par, eff, x0, **kw)
        calls.append((x0 is not None, kw.get("limits", 0), kw.get("max_iter"), res))
        return res

    monkeypatch.setattr(rc, "solve_arrays", counted)
    return calls


def test_linear_cascade_has_one_steady_state_and_is_not_searched(monkeypatch):
    """Constant D: the stage balances are a nonsingular M-matrix system per
    component, so the steady state is unique; simulate() says so instead of
    searching (one kernel call in all)."""
    from rexopt.cascade import UNIQUE_LINEAR

    from .conftest import constant_case

    calls = _count_solves(monkeypatch)
    r = Cascade(constant_case({"Pr": 1.5, "Nd": 0.7}, n=12)).simulate()
    assert len(calls) == 1
    assert r.convergence["branch_search"] == UNIQUE_LINEAR
    (b,) = r.convergence["branches"]
    assert b["unique"] == UNIQUE_LINEAR and b["max_relative_difference"] == 0.0


def test_branch_search_builds_no_case_and_never_repeats_the_cold_start(monkeypatch):
    """Saturated Pr/Nd: the search solves the two neighbouring organic flows by
    the continuation start (no pseudo-transient fallback) and continues them back
    by warm starts alone (a failed one is not followed by a cold start, which
    would only repeat the answer); it builds no new case, and the reported
    answer is the one without the search."""
    from rexopt.cascade import BRANCH_WARM_ITER

    from .conftest import prnd_case

    case = prnd_case()
    ref = Cascade(case).simulate(branch_search=False)
    cas = Cascade(case)
    built = []
    real_init = Cascade.__init__
    monkeypatch.setattr(
        Cascade, "__init__", lambda self, c: (built.append(c), real_init(self, c))[1]
    )
    calls = _count_solves(monkeypatch)
    r = cas.simulate()
    assert built == []
    assert len(calls) == 5  # the case's cold solve, 2 neighbours, 2 back
    side = [c for c in calls[1:] if not c[0]]
    back = [c for c in calls[1:] if c[0]]
    assert len(side) == 2 and all(c[1] == kernels.LIMIT_NO_TRANSIENT for c in side)
    assert len(back) == 2 and all(
        c[1] == kernels.LIMIT_WARM_ONLY and c[2] <= BRANCH_WARM_ITER for c in back
    )
    for *_, res in back:  # converged or not, a warm start is all that ran
        assert res[5][kernels.INFO_PATH] == 0
    assert r.convergence["branch_search"].startswith("searched")
    assert len(r.convergence["branches"]) == 1
    assert np.array_equal(r.x, ref.x)


def test_neighbouring_network_equals_the_case_with_that_organic_flow():
    """The branch search and the organic-flow walk replace the organic flow in
    the network instead of building a new case: the same arrays exactly."""
    from .conftest import prnd_case

    cas = Cascade(prnd_case())
    flow = cas.case.organic.flow_L_h * 1.001
    organic = cas.case.organic.model_copy(update={"flow_L_h": flow})
    other = Cascade(cas.case.model_copy(update={"organic": organic}))
    a, b = cas.network(organic_flow_L_h=flow), other.network()
    for name in ("aq_out", "aq_pass", "org_out", "org_pass", "org_in", "ext_aq",
                 "ext_org", "anion_eq", "acid_in"):  # fmt: skip
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    pa, pb = cas.stage_parameters(a), other.stage_parameters(b)
    for k in pa:
        assert np.array_equal(np.asarray(pa[k]), np.asarray(pb[k])), k


def test_branch_search_adds_no_warning_of_the_neighbouring_flows():
    """The neighbouring flows' stage parameters are built on this case; what they
    would warn about (here the counter-ion default) is not added to its result."""
    case = tomllib.loads((CASES / "lree_d2ehpa_empirical.toml").read_text())
    case["organic"]["saponification"] = 0.2
    case["organic"]["agent"] = "NaOH"
    with_search = Cascade(case).simulate()
    without = Cascade(case).simulate(branch_search=False)
    assert with_search.convergence["branch_search"].startswith("searched")
    assert with_search.warnings == without.warnings
    assert sum("counter-ion" in w for w in with_search.warnings) == 1


# ---------------------------------------------------------------- feed walk
def test_mass_action_cascade_reached_by_the_feed_walk_only(monkeypatch):
    """Stress cascade 94 (seed 0; mass action, 122 + 21 + 57 stages, 8 metals):
    no kernel start and no organic-flow walk converges, yet a steady state
    exists (each component circulates about 4x its throughput only).  With a
    tenth of the metal fed the cold start converges; raised back to the case's
    feed in warm-started steps it gives the case's own steady state: a warm start
    from it stays there, and the walk from a hundredth of the feed ends at the
    same answer to 1e-8 on every concentration above 1e-12 of its throughput.
    (The stage-count walk, which simulate() tries first on its 122-stage
    extraction, reaches the same answer; held back here so the feed walk is
    tested.)"""
    import rexopt.cascade as rc

    case = _stress_case(0, 94)
    cas = Cascade(case)
    net = cas.network()
    par = cas.stage_parameters(net)
    st, *_ = solve_arrays(net, par, cas.efficiencies())
    assert st == kernels.NOT_CONVERGED
    assert cas._organic_flow_walk(1e-12, 200)[0] is None
    walked = Cascade(case).simulate(branch_search=False)
    assert walked.convergence["start"].startswith(
        "stage-count walk: the extraction section solved at 12 of its 122 stages"
    ), walked.convergence["start"]
    monkeypatch.setattr(rc, "STAGE_WALK_FIRST", 10**6)
    r = cas.simulate(branch_search=False)
    assert r.convergence["start"] == "feed walk from 0.1 x the feed's metals"
    assert r.convergence["max_balance_error"] <= 1e-10
    st_w, x_w, *_ = solve_arrays(net, par, cas.efficiencies(), r.x)
    assert st_w == kernels.OK
    # compared where the balances hold the answer (1e-12 of each throughput); the
    # traces below carry the open relative-accuracy defect of mass-action solves
    # (a relative Newton correction far above 1e-3, said in the result's warnings)
    scale = (net.ext_aq + net.ext_org).sum(0) / (net.aq_out + net.org_out).mean()
    act = r.x >= 1e-12 * scale
    if r.convergence["relative_error_estimate"] > 1e-3:
        assert any("is not converged" in w for w in r.warnings)
    assert np.max(np.abs(x_w[act] / r.x[act] - 1.0)) <= 1e-8
    assert np.max(np.abs(walked.x[act] / r.x[act] - 1.0)) <= 1e-8
    monkeypatch.setattr(rc, "FEED_WALK_ORIGINS", (0.01,))
    other, _ = Cascade(case)._feed_walk(1e-12, 200)
    assert other is not None and other[0] == kernels.OK
    assert np.max(np.abs(other[1][act] / r.x[act] - 1.0)) <= 1e-8
