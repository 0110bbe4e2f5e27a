"""Pure-NumPy twin of the compiled cascade kernel (``ext/_cascade.pyx``).

Same signature, same algorithm, same status codes; it is the reference the
compiled kernel is tested against and the fallback when no compiler was
available.  See docs/ARCHITECTURE.md and docs/kernel.md for the equations.

Unknowns per stage j: the aqueous concentrations x_j (C values, mol/L), plus
the organic concentrations y_j when a Murphree efficiency below 1 is used
(then y_j = E y*(x_j) + (1 - E) y_in,j is an equation, not a substitution).
The Jacobian is block tridiagonal; each Newton step is a block-Thomas solve.
"""

from __future__ import annotations

import math

import numpy as np

LN10 = math.log(10.0)
KW = 1.0e-14  # ion product of water at 25 C [mol^2/L^2] (docs/data-sources.md)
DEBUG = False
STEP_ITER = 12  # Newton iterations allowed per continuation step
MAX_STEPS = 60
STEP_TOL = 1e-2  # residual accepted on intermediate continuation steps
MAX_HALVINGS = 30
STEP_HALVINGS = 5  # a continuation step that needs more damping is cut shorter
MAX_GROWTH = 1e6  # relative increase dx/x always allowed in one step ...
CONC_FLOOR = 1e-100
CONC_CEIL = 1e4  # ... and up to CONC_CEIL x (throughput / mean flow) in any case
DROP_NEAR = 1e-2  # below this scaled residual (Newton accurate) ...
DROP_NEAR_FACTOR = 1e-4  # ... an overshoot below zero drops by this factor
DROP_CONVERGED = 1e-300  # ... and by this once the balances are closed (traces left)
DROP = 0.1  # factor where Newton overshoots below zero (times exp(r + 1))
LUMPED_DIRECT_ITER = 30
TRANSIENT_ITER = 1500  # pseudo-transient fallback budget
ROUNDOFF_TOL = 1e-10  # residual accepted when Newton can no longer descend
# relative accuracy: a final solve stops only when the Newton correction, which in
# the log variables is the relative change of every concentration, is at most
# max(tol, REL_TOL) for every concentration above the accuracy floor
REL_TOL = 1e-11
# concentrations below ACC_FLOOR x (throughput / mean flow) of their component carry
# no relative-accuracy guarantee (they are still solved for, down to CONC_FLOOR);
# the 40 decades between the two keep the clamp at CONC_FLOOR from reaching them
ACC_FLOOR = 1e-60
# stage residual relative to the gross flow through its balance that is round-off
ROW_ROUNDOFF = 1e-12
# a final solve whose balances are closed is accepted when its largest relative
# correction has not halved in this many iterations (reported in INFO_RELSTEP)
REL_STALL = 8
# a solve accepted at round-off level (balances closed to round-off of the gross
# flows through the stages, not to tol of the throughput) must also close every
# component's outlet balance (input - outlets) to this of its input; without it a
# component circulating 1e10-1e11 x its throughput was accepted with its outlets
# carrying 1e-61 of its input (stress cascade 2043, docs/kernel.md)
BALANCE_TOL = 1e-9
UNIT_ROUNDOFF = 2.0**-53
TRUST_RESID = 1e-2  # scaled residual below which ...
ROW_TRUST = 1e-10  # ... balances closed to this of their gross flow trust Newton
# (a full step, never an acceptance: see BALANCE_TOL)
# trace polish (_polish): rounds of (exact elimination at frozen D, Newton) and
# the Newton iterations allowed in each
POLISH_ROUNDS = 3
POLISH_ITER = 30
LAM_STALL = 1.0 / 32.0  # line-search step below which a transient step stalled
MU_MAX = 1e8  # strongest pseudo-transient regularisation tried before giving up
# a regularised (pseudo-transient) step is accepted while the merit rises by at most
# this factor: the cascade's own dynamics may pass through worse residuals on the way
# (a front moving through the scrub section); plain Newton steps (mu = 0) must descend
NONMONOTONE = 1.5

# status codes shared with the compiled kernel
OK = 0
NOT_CONVERGED = 1
NO_ACID = 2  # electroneutrality leaves no acid (H_T <= 0) at a stage
SINGULAR = 3
BAD_SITE_BALANCE = 4

# info[] layout shared with the compiled kernel
(
    INFO_ITER,
    INFO_RESID,
    INFO_STAGE,
    INFO_COMP,
    INFO_STEP,
    INFO_HOMOTOPY,
    INFO_TOTAL,
    INFO_PATH,
    INFO_RELSTEP,
) = range(9)
# INFO_PATH: how the solve started: 0 warm start, 1 linear (Newton), 2 continuation,
# 3 transient, 4 linear by exact (subtraction-free) elimination, no Newton
PATH_WARM, PATH_LINEAR, PATH_CONTINUATION, PATH_TRANSIENT, PATH_EXACT = range(5)
# INFO_RELSTEP: largest relative Newton correction over the concentrations above
# the accuracy floor at acceptance (the relative error estimate of the answer)
INFO_SIZE = 9
# solve_cascade(limits=...): bits restricting the starts tried
LIMIT_WARM_ONLY = 1
LIMIT_NO_TRANSIENT = 2
LIMIT_ACID_ONLY = 4
LIMIT_WHOLE_DOMAIN = 8
LIMIT_WARM_TRANSIENT = 16


def _acid(QT, ST, ka, zx):
    """Free [H+] and d[H+]/dH_T from total acidity H_T = Q - sum z x. [mol/L]

    H_T = [H+] + [HSO4-] - [OH-], with [HSO4-] = S_T [H+] / (ka + [H+]) and
    [OH-] = KW / [H+]: f(h) = h + S_T h / (ka + h) - KW / h - H_T rises and is
    concave in h > 0, so Newton's method from a point below the root (f <= 0)
    climbs to it without overshooting.
    """
    HT = QT - zx
    if ST <= 0.0:
        disc = math.sqrt(HT * HT + 4.0 * KW)
        h = 0.5 * (HT + disc) if HT > 0.0 else 2.0 * KW / (disc - HT)
        return HT, h, 1.0 / (1.0 + KW / (h * h))
    # start below the root: where H_T > 0, the root without water (f = -KW / x
    # there, stated exactly); always, the root with S_T h / (ka + h) <= S_T h / ka
    c = 1.0 + ST / ka
    disc = math.sqrt(HT * HT + 4.0 * c * KW)
    x = 0.5 * (HT + disc) / c if HT > 0.0 else 2.0 * KW / (disc - HT)
    r = x + ST * x / (ka + x) - KW / x - HT
    if HT > 0.0:
        B = ka + ST - HT
        disc = math.sqrt(B * B + 4.0 * ka * HT)
        h0 = 2.0 * ka * HT / (B + disc) if B > 0.0 else 0.5 * (disc - B)
        if h0 > x:
            x = h0
            r = -KW / x
    for _ in range(100):
        fp = 1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x)
        step = -r / fp
        if not step > 1e-15 * x:
            break
        x += step
        r = x + ST * x / (ka + x) - KW / x - HT
    dh = 1.0 / (1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x))
    return HT, x, dh


def _stage_eq(
    xj, aj, bj, cj, dj, nuj, sig, cap, z, QT, ST, ka, use_ph, use_F, Fguess, want_jac
):
    """Equilibrium at one stage: y*(x), free sites F, [H+], and dy*/dx.
    Returns (status, y, F, h, G) with G the C x C Jacobian (or None).
    """
    C = xj.shape[0]
    pH = 0.0
    h = 1.0
    dh = 0.0
    if use_ph:
        zx = float(np.dot(z, xj))
        HT, h, dh = _acid(QT, ST, ka, zx)
        # use_ph 2: the solve's first round, held in the acid medium (H_T > 0)
        if not h > 0.0 or (use_ph == 2 and not HT > 0.0):
            return NO_ACID, None, Fguess, h, None
        pH = -math.log10(h)
    F = 1.0
    lnD0 = LN10 * (aj * pH + cj)
    if use_F and not np.any(bj) and np.all((dj == 0.0) | (dj == 1.0)):
        # site balance linear in F (Langmuir, constant-D impurities): closed form
        E = np.exp(lnD0)
        t = nuj * E * xj
        num = cap - float(t[dj == 0.0].sum())
        if num <= 0.0:
            return BAD_SITE_BALANCE, None, Fguess, h, None
        F = num / (sig + float(t[dj == 1.0].sum()))
        lnD = lnD0 + dj * math.log(F)
    elif use_F:
        # site balance g(F) = sig F + sum nu D(F) x - cap = 0, monotone in F
        hi = cap / sig
        lo = 0.0
        F = Fguess if 0.0 < Fguess <= hi else hi
        for _ in range(200):
            lnD = lnD0 + LN10 * bj * F * pH + dj * math.log(F)
            D = np.exp(lnD)
            t = nuj * D * xj
            g = sig * F + t.sum() - cap
            if abs(g) <= 1e-15 * cap:
                break
            if g > 0.0:
                hi = F
            else:
                lo = F
            dg = sig + float(np.dot(t, LN10 * bj * pH + dj / F))
            Fn = F - g / dg if dg > 0.0 else 0.5 * (lo + hi)
            if not (lo < Fn < hi):
                Fn = 0.5 * (lo + hi) if lo > 0.0 else 0.5 * (F if F < hi else hi)
            if abs(Fn - F) <= 1e-15 * F:
                F = Fn
                break
            F = Fn
            if hi - lo <= 1e-15 * hi:
                break
        else:
            return BAD_SITE_BALANCE, None, F, h, None
        lnD = lnD0 + LN10 * bj * F * pH + dj * math.log(F)
    else:
        lnD = lnD0
    D = np.exp(lnD)
    y = D * xj
    if not np.all(np.isfinite(y)):
        return BAD_SITE_BALANCE, None, F, h, None
    if not want_jac:
        return OK, y, F, h, None
    G = np.diag(D)
    if use_ph or use_F:
        p = (aj + bj * F) * dh / h if use_ph else np.zeros(C)
        if use_F:
            q = LN10 * bj * pH + dj / F
            Gd = sig + float(np.dot(nuj * y, q))
            P = float(np.dot(nuj * y, p))
            u = y * (p - q * P / Gd)
            v = -y * q / Gd
            w = nuj * D
            G += np.outer(u, z) + np.outer(v, w)
        else:
            G += np.outer(y * p, z)
    return OK, y, F, h, G


def solve_cascade(
    aq_out,
    aq_pass,
    org_out,
    org_pass,
    org_in,
    ext_aq,
    ext_org,
    a,
    b,
    c,
    d,
    nu,
    sigma,
    cap,
    z,
    Q,
    ST,
    ka,
    eff,
    use_ph,
    use_F,
    x,
    y,
    h,
    F,
    tol,
    max_iter,
    info,
    limits=0,
):
    """Solve the steady state of one cascade in place.

    Parameters (all float64, C-contiguous; N stages, C components)
    ----------
    aq_out, org_out : (N,)  total aqueous / organic flow leaving stage j. [L/h]
    aq_pass : (N,)  aqueous flow from stage j to stage j-1 (0 at breaks). [L/h]
    org_pass : (N,) organic flow from stage j to stage j+1. [L/h]
    org_in : (N,)   total organic flow entering stage j. [L/h]
    ext_aq, ext_org : (N, C) external molar inflow to stage j by phase. [mol/h]
    a, b, c, d, nu : (N, C) distribution-law parameters (see ARCHITECTURE.md).
    sigma, cap : (N,) site-balance coefficient and capacity. [-], [mol/L]
    z : (C,) charges. Q, ST : (N,) anion equivalents, total sulfate. [mol/L]
    ka : float  Ka of HSO4-. [mol/L]
    eff : (N,)  Murphree efficiency (organic basis). [-]
    use_ph, use_F : int  whether pH / free-site coupling is active.
    x : (N, C) in: initial guess (any negative entry = cold start); out: aqueous. [mol/L]
    y : (N, C) out: organic. h, F : (N,) out: free H+ [mol/L] and free sites.
    info : (INFO_SIZE,) out: iterations, scaled residual, worst stage, component...
    limits : int  bits restricting the starts (the branch search uses them; a
        solve with limits may fail where a full one converges):
        LIMIT_WARM_ONLY: a warm start (x >= 0) that fails returns its status
        instead of falling back to the cold start (which would only repeat the
        cold answer); LIMIT_NO_TRANSIENT: no pseudo-transient fallback after the
        continuation start; LIMIT_ACID_ONLY (pH models): every start held in the
        acid medium, no second round over the whole domain; LIMIT_WHOLE_DOMAIN
        (pH models): no first round held in the acid medium, the starts over the
        whole domain at once (the branch search's start that may reach a basic
        steady state where an acid one exists); LIMIT_WARM_TRANSIENT: a warm
        start runs the pseudo-transient (the cascade's own dynamics, implicit
        Euler) from the caller's profile instead of plain Newton (the fallback
        from where an arclength path stopped).  Linear cascades are solved
        exactly whatever the start.

    Returns
    -------
    int : status code (0 = converged).
    """
    N, C = x.shape
    ext = ext_aq + ext_org
    scale = np.maximum(ext.sum(axis=0), 1e-300)
    murphree = bool(np.any(eff < 1.0))
    net = (aq_out, aq_pass, org_out, org_pass, org_in)
    chem = (sigma, cap, Q, ST, ka, eff, use_ph, use_F)
    info[INFO_HOMOTOPY] = 0
    info[INFO_TOTAL] = 0
    full = (a, b, c, d, nu, z)
    # the real problem, as every direct Newton call on it sees it
    real = (
        net,
        ext_aq,
        ext_org,
        full,
        chem,
        x,
        y,
        h,
        F,
        tol,
        max_iter,
        info,
        scale,
        murphree,
    )
    if not (use_ph or use_F or murphree):
        # linear (constant D, y = D x): every component's stage balances are an
        # M-matrix system, solved exactly by subtraction-free elimination (any
        # start, any circulation); Newton below only if the data are not of that
        # form (a negative inflow or exit flow)
        info[INFO_PATH] = PATH_EXACT
        if _linear_exact(net, ext_aq, ext_org, c, scale, x, y, info) == OK:
            h[:] = 1.0  # as a stage evaluation without pH and site coupling sets them
            F[:] = 1.0
            return OK
    warm = not np.any(x < 0.0)  # warm start from the caller's profile
    if not use_ph or limits & LIMIT_WHOLE_DOMAIN:
        return _run_starts(real, warm, limits)
    # pH models: a first round of the starts held in the acid medium (a stage
    # with H_T <= 0 is out of bounds, so Newton's line search backs off from
    # basic profiles), then, where it fails, a second over the whole domain
    # (basic stages carry their excess cations as OH-).  Where the cascade has
    # a steady state in the acid medium the model is stated for, the starts
    # reach it as they did without water's OH-, not a basic one on the way.
    acid_only = limits & LIMIT_ACID_ONLY
    # a warm start's x, y, F kept for the second round (a cold round sets its
    # own flat start)
    keep = (x.copy(), y.copy(), F.copy()) if warm else None
    held = (net, ext_aq, ext_org, full, chem[:6] + (2, use_F)) + real[5:]
    if warm and np.any(Q - x @ z <= 0.0):
        # a basic warm start: Newton from it over the whole domain first, then
        # the rounds from cold
        if not acid_only:
            st = _run_starts(real, True, limits | LIMIT_WARM_ONLY)
            if st == OK or limits & LIMIT_WARM_ONLY:
                return st
            x[:], y[:], F[:] = keep
        elif limits & LIMIT_WARM_ONLY:
            return _run_starts(held, True, limits)
        warm = False
    st = _run_starts(held, warm, limits)
    if st != OK and not acid_only:
        if warm:
            x[:], y[:], F[:] = keep
        st = _run_starts(real, warm, limits)
    return st


def _run_starts(real, warm, limits):
    """The starts of a nonlinear solve in turn: warm Newton (if warm), then the
    cold continuation start and the pseudo-transient fallback.  Returns the
    status (after the trace polish)."""
    net, ext_aq, ext_org, full, chem, x, y, h, F, tol, _, info, scale, murphree = real
    use_ph, use_F = chem[6], chem[7]
    if warm:
        if limits & LIMIT_WARM_TRANSIENT:
            info[INFO_PATH] = PATH_TRANSIENT
            st = _transient_start(
                net, ext_aq, ext_org, full, chem, x, y, h, F, tol, info, scale,
                murphree, flat=False,
            )  # fmt: skip
        else:
            info[INFO_PATH] = PATH_WARM
            st = _newton(*real)
        if st == OK or limits & LIMIT_WARM_ONLY:
            return _polish(real, st)
    # nothing a failed warm start left (x, y or F) carries into the cold start
    ext = ext_aq + ext_org
    _flat_start(net, ext, full, chem, scale, x, y, F)
    if not (use_ph or use_F):
        # linear (constant D): Newton from any start is exact in one step
        info[INFO_PATH] = PATH_LINEAR
        return _newton(*real)
    info[INFO_PATH] = PATH_CONTINUATION
    st = _continuation_start(*real)
    if st != OK and not limits & LIMIT_NO_TRANSIENT:
        info[INFO_PATH] = PATH_TRANSIENT
        st = _transient_start(
            net, ext_aq, ext_org, full, chem, x, y, h, F, tol, info, scale, murphree
        )
    return _polish(real, st)


def _polish(real, st):
    """Trace polish of a converged nonlinear solve whose relative correction has
    not reached max(tol, REL_TOL) (accepted at the iteration budget or as a
    stall): traces do not move [H+] or the free extractant, so at the solution's
    own D (y = D x, frozen) every component's stage balances are linear, and the
    subtraction-free elimination gives every concentration to relative accuracy
    whatever the profile's steepness or the values Newton left on the arithmetic
    floor; Newton from there (POLISH_ITER iterations) closes the nonlinear
    balances.  POLISH_ROUNDS rounds at most; the solve with the smallest relative
    correction is kept (the original one if no round improves on it).  Not for
    Murphree stages (y is then no multiple of x).  Returns the status."""
    net, ext_aq, ext_org, full, chem, x, y, h, F, tol, _, info, scale, murphree = real
    rel_tol = max(tol, REL_TOL)
    if st != OK or murphree or info[INFO_RELSTEP] <= rel_tol:
        return st
    best = (float(info[INFO_RELSTEP]), x.copy(), y.copy(), h.copy(), F.copy(),
            info.copy())  # fmt: skip
    for _ in range(POLISH_ROUNDS):
        D = y / x
        if _linear_exact_D(net, ext_aq, ext_org, D, scale, x, y, info) != OK:
            break
        s = _newton(net, ext_aq, ext_org, full, chem, x, y, h, F, tol, POLISH_ITER,
                    info, scale, murphree)  # fmt: skip
        if s != OK:
            break
        if info[INFO_RELSTEP] < best[0]:
            best = (float(info[INFO_RELSTEP]), x.copy(), y.copy(), h.copy(),
                    F.copy(), info.copy())  # fmt: skip
        if best[0] <= rel_tol:
            break
    total = info[INFO_TOTAL]
    _, x[:], y[:], h[:], F[:], info[:] = best
    info[INFO_TOTAL] = total  # every Newton iteration spent, polish included
    return OK


def _exits(net):
    """Aqueous and organic flow leaving each stage out of the cascade (outlets and
    side draws) [L/h]: what leaves minus what passes on to the next stage (the
    kernel reads no aqueous pass from stage 1 and no organic pass from stage N)."""
    aq_out, aq_pass, org_out, org_pass, _ = net
    exa = aq_out - np.concatenate([[0.0], aq_pass[1:]])
    exo = org_out - np.concatenate([org_pass[:-1], [0.0]])
    return exa, exo


def _outlet_error(net, ext_aq, ext_org, x, y):
    """Largest outlet balance error over the components, |input - outlets| relative
    to the input (components with no input are left out). [-]"""
    exa, exo = _exits(net)
    inp = (ext_aq + ext_org).sum(axis=0)
    out = exa @ x + exo @ y
    has = inp > 0.0
    if not np.any(has):
        return 0.0
    return float(np.max(np.abs(inp[has] - out[has]) / inp[has]))


def _linear_exact(net, ext_aq, ext_org, c, scale, x, y, info):
    """Constant D (y = D x, no Murphree efficiency): solve each component's stage
    balances by subtraction-free elimination, in place.

    Column j of the balance matrix (unknown x_j) holds its diagonal d_j = A_out_j
    + O_out_j D_j and the off-diagonals a_j = A_pass_j (to stage j-1) and b_j =
    O_pass_j D_j (to stage j+1); its excess d_j - a_j - b_j = s_j is the flow
    leaving the cascade from stage j (outlets, side draws), >= 0: an M-matrix.
    Thomas elimination from stage 1 keeps that excess as a positive quantity
    (Grassmann-Taksar-Heyman): s'_j = s_j + s'_{j-1} a_j / d'_{j-1}, d'_j = b_j +
    s'_j, and the right-hand side and back substitution only add positive terms.
    No subtraction, so every concentration comes out to relative accuracy
    whatever the circulation (condition number) of the cascade: first-order bound
    (4 (N + 1)^2 + 16 (N + 1)) u, u = 2^-53, reported in INFO_RELSTEP.
    Returns NOT_CONVERGED (nothing written) when the data are not of that form
    (a negative inflow or exit flow, a zero pivot: a component with no way out).
    """
    return _linear_exact_D(net, ext_aq, ext_org, np.exp(LN10 * c), scale, x, y, info)


def _linear_exact_D(net, ext_aq, ext_org, D, scale, x, y, info):
    """_linear_exact for a given D profile (N, C): also the trace polish's solve of
    every component's balances at frozen [H+] and free extractant (_polish)."""
    aq_out, aq_pass, org_out, org_pass, _ = net
    N, C = x.shape
    exa, exo = _exits(net)
    f = ext_aq + ext_org
    if np.any(exa < 0.0) or np.any(exo < 0.0) or np.any(f < 0.0):
        return NOT_CONVERGED
    if not np.all(np.isfinite(D)):
        return NOT_CONVERGED
    dp = np.empty((N, C))
    fp = np.empty((N, C))
    with np.errstate(all="ignore"):
        for j in range(N):
            s = exa[j] + exo[j] * D[j]
            b = org_pass[j] * D[j] if j + 1 < N else np.zeros(C)
            if j == 0:
                sp = s
                fp[j] = f[j]
            else:
                t = aq_pass[j] / dp[j - 1]
                sp = s + sp * t
                fp[j] = f[j] + (org_pass[j - 1] * D[j - 1]) * fp[j - 1] / dp[j - 1]
            dp[j] = b + sp
        if not np.all((dp > 0.0) & np.isfinite(dp)) or not np.all(np.isfinite(fp)):
            return NOT_CONVERGED
        xs = np.empty((N, C))
        xs[N - 1] = fp[N - 1] / dp[N - 1]
        for j in range(N - 2, -1, -1):
            xs[j] = (fp[j] + aq_pass[j + 1] * xs[j + 1]) / dp[j]
    floor = _floor(aq_out, org_out, scale)
    xs = np.maximum(xs, floor)
    ys = D * xs
    if _outlet_error(net, ext_aq, ext_org, xs, ys) > BALANCE_TOL:
        return NOT_CONVERGED  # not expected (the elimination is exact): Newton
    x[:] = xs
    y[:] = ys
    R = ext_aq + ext_org - aq_out[:, None] * xs - org_out[:, None] * ys
    R[:-1] += aq_pass[1:, None] * xs[1:]
    R[1:] += org_pass[:-1, None] * ys[:-1]
    Rs = np.abs(R) / scale
    k = int(np.argmax(Rs))
    info[INFO_ITER] = 0
    info[INFO_RESID] = float(Rs.flat[k])
    info[INFO_STAGE] = k // C
    info[INFO_COMP] = k % C
    info[INFO_STEP] = 1.0
    info[INFO_RELSTEP] = (4.0 * (N + 1) ** 2 + 16.0 * (N + 1)) * UNIT_ROUNDOFF
    return OK


def _continuation_start(
    net, ext_aq, ext_org, full, chem, x, y, h, F, tol, max_iter, info, scale, murphree
):
    aq_out, _, org_out, _, _ = net
    a, b, c, d, nu, z = full
    sigma, cap, Q, ST, ka, _, use_ph, use_F = chem
    N, C = x.shape
    # Cold start, in two continuations:
    # 1. all components lumped into one with feed-weighted parameters; its cascade
    #    is solved by raising a common affinity shift s from a nearly linear start
    #    (every extraction factor < 0.1) to 0: 1x1 blocks, so this is cheap;
    # 2. the lumped solution gives every component's profile exactly for the real
    #    cascade with all components made alike (t = 0); the parameters are then
    #    pulled apart to their real values (t = 1) in adaptive steps.
    w = scale / scale.sum()
    # feed-weighted means, taken about the first component so that a parameter all
    # components share is kept exactly (d = 1 stays 1: closed-form site balance)
    lump = tuple(
        np.ascontiguousarray(
            p[:, :1] + ((p - p[:, :1]) * w).sum(axis=-1, keepdims=True)
        )
        for p in (a, b, c, d, nu)
    )
    zl = np.array([float(z[0] + (z - z[0]) @ w)])
    sa, sb, sc, sd, snu = lump
    xl = np.empty((N, 1))
    yl = np.zeros((N, 1))
    extl_aq = ext_aq.sum(axis=1, keepdims=True)
    extl_org = ext_org.sum(axis=1, keepdims=True)
    s0 = _initial_shift(
        aq_out, org_out, sa, sc, sd, sigma, cap, Q, ST, ka, use_ph, use_F
    )
    xl[:] = _cold_start(
        aq_out, org_out, extl_aq + extl_org, np.array([scale.sum()]), Q, zl, use_ph
    )

    def lumped(t):
        return (sa, sb, sc + (1.0 - t) * s0, sd, snu, zl)

    # the lumped cascade is cheap (1x1 blocks): try it directly first (this suits
    # acid-limited pH models, where weak affinities leave no acid released), then
    # by the affinity continuation
    sl = np.array([scale.sum()])
    Fl = F.copy()
    st = (
        _newton(
            net,
            extl_aq,
            extl_org,
            lumped(1.0),
            chem,
            xl,
            yl,
            h,
            F,
            tol,
            LUMPED_DIRECT_ITER,
            info,
            sl,
            murphree,
        )
        if use_ph
        else NOT_CONVERGED
    )
    if st != OK:
        xl[:] = _cold_start(aq_out, org_out, extl_aq + extl_org, sl, Q, zl, use_ph)
        yl[:] = 0.0
        F[:] = Fl
        st = _track(
            lumped,
            net,
            extl_aq,
            extl_org,
            chem,
            xl,
            yl,
            h,
            F,
            tol,
            max_iter,
            info,
            sl,
            murphree,
        )
    if st != OK:
        return st
    # 2a. shortcut: at the lumped cascade's free sites and [H+], each component's
    #     own distribution ratios give its profile exactly (one linear solve per
    #     component); Newton on the real problem from there is kept only while it
    #     takes full steps (the start lies in its region of quadratic convergence),
    #     else the pull-apart below starts from the lumped solution
    if not murphree:
        Fl, hl = F.copy(), h.copy()
        pH = -np.log10(h)[:, None] if use_ph else 0.0
        D = 10.0 ** (a * pH + c)
        if use_F:
            D = D * F[:, None] ** d * 10.0 ** (b * F[:, None] * pH)
        x[:] = _linear_profiles(net, ext_aq, ext_org, D)
        y[:] = D * x
        st = _newton(
            net, ext_aq, ext_org, full, chem, x, y, h, F, tol, STEP_ITER, info,
            scale, murphree, tol, 1,
        )  # fmt: skip
        if st == OK:
            return OK
        F[:], h[:] = Fl, hl
    # t = 0 of the full problem: every component sees the lumped D profile
    x[:] = _linear_profiles(net, ext_aq, ext_org, yl[:, 0] / xl[:, 0])
    y[:] = x * (yl / xl)
    means = [np.repeat(p, C, axis=1) for p in lump] + [np.repeat(zl, C)]

    def pulled(t):
        return tuple(m + t * (p - m) for m, p in zip(means, full))

    return _track(
        pulled,
        net,
        ext_aq,
        ext_org,
        chem,
        x,
        y,
        h,
        F,
        tol,
        max_iter,
        info,
        scale,
        murphree,
    )


def _flat_start(net, ext, full, chem, scale, x, y, F):
    """Set x, y and F in place to the flat cold-start profile (organic empty, every
    site free); the start of every cold path, whatever x, y, F held before."""
    aq_out, _, org_out, _, _ = net
    sigma, cap, Q, _, _, _, use_ph, _ = chem
    x[:] = _cold_start(aq_out, org_out, ext, scale, Q, full[5], use_ph)
    y[:] = 0.0
    F[:] = cap / np.where(sigma > 0, sigma, 1.0)


def _transient_start(
    net, ext_aq, ext_org, full, chem, x, y, h, F, tol, info, scale, murphree,
    flat=True,
):  # fmt: skip
    """Fallback cold start: pseudo-transient steps from a flat profile (the cascade
    filled evenly), pseudo-time growing as the residual falls.  Slower on designed
    cascades than the continuation, but it passes the sharp saturation fronts and
    strongly saponified mass-action cases where the continuation folds.  With
    ``flat`` False the steps start from the caller's profile in x, y, F
    (LIMIT_WARM_TRANSIENT)."""
    if flat:
        _flat_start(net, ext_aq + ext_org, full, chem, scale, x, y, F)
    return _newton(
        net,
        ext_aq,
        ext_org,
        full,
        chem,
        x,
        y,
        h,
        F,
        tol,
        TRANSIENT_ITER,
        info,
        scale,
        murphree,
        None,
        None,
        1.0,
    )


def _track(
    params, net, ext_aq, ext_org, chem, x, y, h, F, tol, max_iter, info, scale, murphree
):
    """Follow the solution of params(t) from t = 0 to t = 1 with adaptive steps."""
    step_tol = max(STEP_TOL, tol)
    st = _newton(
        net,
        ext_aq,
        ext_org,
        params(0.0),
        chem,
        x,
        y,
        h,
        F,
        tol,
        max_iter,
        info,
        scale,
        murphree,
        step_tol,
    )
    if st != OK:
        return st
    t, dt = 0.0, 0.5
    xs, ys, Fs = x.copy(), y.copy(), F.copy()
    steps = 0
    while t < 1.0:
        xs[:], ys[:], Fs[:] = x, y, F
        t_try = min(1.0, t + dt)
        final = t_try >= 1.0
        st = _newton(
            net,
            ext_aq,
            ext_org,
            params(t_try),
            chem,
            x,
            y,
            h,
            F,
            tol,
            max_iter if final else STEP_ITER,
            info,
            scale,
            murphree,
            tol if final else step_tol,
            STEP_HALVINGS,
        )
        steps += 1
        info[INFO_HOMOTOPY] += 1
        if DEBUG:
            print("track", t_try, st, info[INFO_ITER], info[INFO_RESID])
        if st == OK:
            t = t_try
            dt *= 2.0
        else:
            x[:], y[:], F[:] = xs, ys, Fs
            dt *= 0.25
            if dt < 1e-4 or steps > MAX_STEPS:
                return st
    return st


def _linear_profiles(net, ext_aq, ext_org, D):
    """Aqueous profiles of every component for a given D profile, (N,) common to
    all components or (N, C) one per component: one tridiagonal solve per
    component. [mol/L]"""
    from scipy.linalg import solve_banded

    aq_out, aq_pass, org_out, org_pass, org_in = net
    N, C = ext_aq.shape
    scale = np.maximum((ext_aq + ext_org).sum(axis=0), 1e-300)
    D = np.broadcast_to(D.reshape(N, -1), (N, C))
    x = np.empty((N, C))
    ab = np.zeros((3, N))
    for i in range(C):
        ab[1] = -aq_out - org_out * D[:, i]
        ab[0, 1:] = aq_pass[1:]
        ab[2, :-1] = org_pass[:-1] * D[:-1, i]
        x[:, i] = solve_banded((1, 1), ab, -(ext_aq[:, i] + ext_org[:, i]))
    return np.maximum(x, _floor(aq_out, org_out, scale))


def _initial_shift(aq_out, org_out, a, c, d, sigma, cap, Q, ST, ka, use_ph, use_F):
    """Shift of log10 D that makes every stage's extraction factor O D / A <= 0.1."""
    N = aq_out.shape[0]
    worst = -np.inf
    for j in range(N):
        pH = 0.0
        if use_ph:
            _, hj, _ = _acid(Q[j], ST[j], ka, 0.0)
            pH = -math.log10(hj) if hj > 0 else 0.0
        lf = math.log10(cap[j] / sigma[j]) if use_F and sigma[j] > 0 else 0.0
        lD = float(np.max(a[j] * pH + c[j] + d[j] * lf))
        ef = lD + math.log10(max(org_out[j], 1e-300) / max(aq_out[j], 1e-300))
        worst = max(worst, ef)
    return min(0.0, -1.0 - worst)


def _floor(aq_out, org_out, scale):
    """Concentrations below CONC_FLOOR x (throughput / mean flow) are zero for all
    purposes; the floor keeps the arithmetic out of subnormal numbers. [mol/L]"""
    tot = max(float(np.mean(aq_out + org_out)), 1e-300)
    return CONC_FLOOR * scale / tot


def _cold_start(aq_out, org_out, ext, scale, Q, z, use_ph):
    """A flat profile: every stage holds the cascade's feed spread over both phases;
    where acid is modelled, capped so that half the anions stay balanced by H+."""
    N, C = ext.shape
    tot = aq_out + org_out
    x0 = np.empty((N, C))
    x0[:] = scale / max(tot.sum() / N, 1e-300) / 2.0
    if use_ph:
        zx = x0 @ z
        f = np.minimum(1.0, 0.5 * Q / np.maximum(zx, 1e-300))
        x0 *= f[:, None]
    return x0


def _newton(
    net,
    ext_aq,
    ext_org,
    params,
    chem,
    x,
    y,
    h,
    F,
    tol,
    max_it,
    info,
    scale,
    murphree,
    tol_accept=None,
    halvings=None,
    mu0=0.0,
):
    """Damped Newton on the stage balances from the profile in x (and y)."""
    aq_out, aq_pass, org_out, org_pass, org_in = net
    a, b, c, d, nu, z = params
    sigma, cap, Q, ST, ka, eff, use_ph, use_F = chem
    tol_accept = tol if tol_accept is None else tol_accept
    N, C = x.shape
    M = 2 * C if murphree else C
    floor = _floor(aq_out, org_out, scale)
    ceil = floor * (CONC_CEIL / CONC_FLOOR)
    accfloor = floor * (ACC_FLOOR / CONC_FLOOR)
    # a final solve (not an intermediate continuation step) also demands relative
    # accuracy of every concentration above the accuracy floor
    strict = tol_accept <= tol
    rel_tol = max(tol, REL_TOL)
    # organic entering a stage whose capacity is lower (acid consumed there) is
    # first brought down to that capacity (fast exchange); the Murphree efficiency
    # then acts on the approach to the stage equilibrium
    rho = np.ones(N)
    rho[1:] = np.minimum(1.0, cap[1:] / cap[:-1])
    ystar = np.zeros((N, C))
    Gs = np.zeros((N, C, C))
    I = np.eye(C)

    def evaluate(xv, yv, want_jac):
        for j in range(N):
            st, yj, Fj, hj, G = _stage_eq(
                xv[j],
                a[j],
                b[j],
                c[j],
                d[j],
                nu[j],
                sigma[j],
                cap[j],
                z,
                Q[j],
                ST[j],
                ka,
                use_ph,
                use_F,
                F[j],
                want_jac,
            )
            if st != OK:
                info[INFO_STAGE] = j
                return st
            ystar[j] = yj
            F[j] = Fj
            h[j] = hj
            if want_jac:
                Gs[j] = G
        if not murphree:
            yv[:] = ystar
        return OK

    def residual(xv, yv):
        R = np.empty((N, M))
        for j in range(N):
            r = ext_aq[j] + ext_org[j] - aq_out[j] * xv[j] - org_out[j] * yv[j]
            if j + 1 < N:
                r = r + aq_pass[j + 1] * xv[j + 1]
            if j > 0:
                r = r + org_pass[j - 1] * yv[j - 1]
            R[j, :C] = r
            if murphree:
                # organic entering stage j, mixed with any external organic
                up = org_pass[j - 1] * yv[j - 1] if j > 0 else 0.0
                yin = (
                    (up + ext_org[j]) / org_in[j] * rho[j] if org_in[j] > 0 else 0.0 * r
                )
                R[j, C:] = (yv[j] - eff[j] * ystar[j] - (1.0 - eff[j]) * yin) * org_out[
                    j
                ]
        return R

    def row_residual(xv, yv, R, mixed=False):
        # largest residual relative to the gross flow of its own balance (mixed:
        # to that or to the component's throughput, whichever is larger): the
        # scale of its round-off.  With pH modelled an organic flow counts with
        # the factor by which [H+] amplifies round-off into it: [H+] comes from
        # H_T = Q - sum z x, whose round-off is 1e-16 (Q + sum |z| x); a relative
        # error e of H_T moves D = 10^((a + b F) pH) by |a + b F| e
        amp = np.ones((N, C))
        if use_ph:
            for j in range(N):
                HT = Q[j] - float(z @ xv[j])
                if HT > 0.0:
                    amp[j] += np.abs(a[j] + b[j] * F[j]) * (
                        (Q[j] + float(np.abs(z) @ xv[j])) / HT
                    )
                else:  # basic: the relative change of [H+] per change of H_T
                    _, hj, dhj = _acid(Q[j], ST[j], ka, float(z @ xv[j]))
                    amp[j] += np.abs(a[j] + b[j] * F[j]) * (
                        (Q[j] + float(np.abs(z) @ xv[j])) * dhj / hj
                    )
        G = np.empty((N, M))
        for j in range(N):
            oy = org_out[j] * yv[j] if murphree else org_out[j] * yv[j] * amp[j]
            g = ext_aq[j] + ext_org[j] + aq_out[j] * xv[j] + oy
            if j + 1 < N:
                g = g + aq_pass[j + 1] * xv[j + 1]
            if j > 0:
                g = g + org_pass[j - 1] * yv[j - 1] * (1.0 if murphree else amp[j - 1])
            G[j, :C] = g
            if murphree:
                up = org_pass[j - 1] * yv[j - 1] if j > 0 else 0.0
                yin = (up + ext_org[j]) / org_in[j] * rho[j] if org_in[j] > 0 else 0.0
                G[j, C:] = (
                    yv[j] + eff[j] * ystar[j] * amp[j] + (1.0 - eff[j]) * yin
                ) * org_out[j]
        if mixed:
            G = np.maximum(G, np.tile(scale, M // C))
        return float(np.max(np.abs(R) / np.maximum(G, 1e-300)))

    def outlets_closed(xv, yv):
        # every component's outlets carry its input (BALANCE_TOL): required of
        # every acceptance short of the balances closed to tol of the throughput
        return _outlet_error(net, ext_aq, ext_org, xv, yv) <= BALANCE_TOL

    def merit(R):
        Rs = R / np.tile(scale, M // C)
        return float(np.sum(Rs * Rs))

    def norm(R):
        # worst residual relative to each component's throughput
        Rs = np.abs(R) / np.tile(scale, M // C)
        k = int(np.argmax(Rs))
        return float(Rs.flat[k]), k // M, (k % M) % C

    st = evaluate(x, y, True)
    if st != OK:
        return st
    if murphree:
        bad = ~(y > 0.0)
        y[:] = np.where(bad, np.maximum(ystar, floor), y)
    R = residual(x, y)
    rn, js, ic = norm(R)
    it = 0
    mu = mu0
    best_d, best_it = math.inf, 0
    while True:
        info[INFO_ITER] = it
        info[INFO_RESID] = rn
        info[INFO_STAGE] = js
        info[INFO_COMP] = ic
        if rn <= tol_accept and not strict:
            return OK
        if it >= max_it:
            if (
                strict
                and best_d < math.inf
                and rn <= max(tol, ROUNDOFF_TOL)
                and outlets_closed(x, y)
            ):
                # balances closed; the relative correction never settled: accepted
                # with it reported (INFO_RELSTEP) as the relative error estimate
                return OK
            return NOT_CONVERGED
        it += 1
        info[INFO_TOTAL] += 1
        # --- block-tridiagonal Jacobian in log variables u = ln x (and ln y):
        # columns scaled by the concentrations, so trace components keep
        # their relative accuracy
        Bd = np.zeros((N, M, M))
        Lo = np.zeros((N, M, M))
        Up = np.zeros((N, M, M))
        for j in range(N):
            if murphree:
                Bd[j, :C, :C] = -aq_out[j] * I
                Bd[j, :C, C:] = -org_out[j] * I
                Bd[j, C:, :C] = -eff[j] * org_out[j] * Gs[j]
                Bd[j, C:, C:] = org_out[j] * I
                if j > 0:
                    Lo[j, :C, C:] = org_pass[j - 1] * I
                    if org_in[j] > 0:
                        Lo[j, C:, C:] = (
                            -(1.0 - eff[j])
                            * org_pass[j - 1]
                            / org_in[j]
                            * rho[j]
                            * org_out[j]
                            * I
                        )
            else:
                Bd[j] = -aq_out[j] * I - org_out[j] * Gs[j]
                if j > 0:
                    Lo[j] = org_pass[j - 1] * Gs[j - 1]
            if j + 1 < N:
                Up[j, :C, :C] = aq_pass[j + 1] * I
        zc = np.concatenate([x, y], axis=1) if murphree else x
        Bd *= zc[:, None, :]
        Lo[1:] *= zc[:-1, None, :]
        Up[:-1] *= zc[1:, None, :]
        if mu > 0.0:
            # pseudo-transient regularisation J - mu*M, with M the stage holdup
            # (flow x residence time): small steps that follow the cascade's own
            # dynamics where Newton's linear model fails
            Bd[:, :C, :] *= 1.0 + mu
        du = _block_thomas(Lo, Bd, Up, -R)
        ok = du is not None and bool(np.all(np.isfinite(du)))
        if ok and strict and mu == 0.0:
            # in the log variables the Newton correction is the relative change of
            # every concentration: near the solution it is the relative error
            # (a regularised step, mu > 0, is no Newton correction: not judged)
            zc_ = np.concatenate([x, y], axis=1) if murphree else x
            # above the accuracy floor now or where Newton would take it (a value
            # dropped to the arithmetic floor that must rise again counts)
            act = np.maximum(zc_, zc_ * (1.0 + du)) >= np.tile(accfloor, M // C)
            dmax = float(np.max(np.abs(du[act]), initial=0.0))
            if not murphree:
                # y = D x: an organic value above the floor counts too (its aqueous
                # partner may lie below it where D > 1), with its own relative
                # correction dy / y = (G x du) / y, G = dy*/dx: D moves with F and
                # [H+], and at a stage poor in free acid [H+] is the small
                # difference of the anions and cations (Q / H_T amplifies x's
                # correction into it: stress cascade 1083, whose x agreed to 8e-13
                # between two solves while y differed by 2e-10)
                pos = y > 0.0
                with np.errstate(all="ignore"):
                    dy = np.einsum("jik,jk->ji", Gs, x * du) / np.where(pos, y, 1.0)
                dy = np.where(pos, dy, du)
                act_y = np.maximum(y, y * (1.0 + dy)) >= accfloor
                dmax = max(dmax, float(np.max(np.abs(dy[act_y]), initial=0.0)))
            info[INFO_RELSTEP] = dmax
            if dmax < 0.5 * best_d or dmax > 0.5:
                # progress (a correction above 0.5 is a trace still falling by
                # orders of magnitude per step: never a stall)
                best_d, best_it = dmax, it
            if (
                it - best_it >= REL_STALL
                and (
                    rn <= max(tol, ROUNDOFF_TOL)
                    or row_residual(x, y, R, True) <= ROW_ROUNDOFF
                )
                and outlets_closed(x, y)
            ):
                # balances closed (to round-off of the gross flows at worst) and
                # every outlet balance closed, but the relative correction of some
                # trace has stopped shrinking (round-off of its balances):
                # accepted, with the correction reported as its relative error
                # estimate
                return OK
            if dmax <= rel_tol and (
                rn <= tol
                or (
                    row_residual(x, y, R, True) <= ROW_TRUST
                    and outlets_closed(x, y)
                )
            ):
                # every concentration above the accuracy floor right to rel_tol,
                # and the balances closed: to tol of the throughput, or close to
                # round-off of the flows through each stage (a component held up
                # in a high-reflux section flows there many times its throughput;
                # a steep pH dependence amplifies the evaluation's round-off) with
                # every component's outlets carrying its input
                return OK
        # --- line search on the merit with a positivity-keeping update
        phi = merit(R)
        # balances closed to round-off of the flows through each stage: the merit
        # is then noise, and what is left to converge is traces, whose balances are
        # linear; Newton's full step is trusted while it keeps that closure
        trust = (
            strict and rn <= TRUST_RESID and row_residual(x, y, R, True) <= ROW_TRUST
        )
        lam = 1.0
        Fsave = F.copy()
        st = OK
        drop = DROP if rn > DROP_NEAR else DROP_NEAR_FACTOR
        if rn <= ROUNDOFF_TOL or not (use_ph or use_F):
            # balances closed (or linear: Newton's model exact): what is left is trace components, whose balances
            # are linear; Newton overshooting below zero there means a value below
            # round-off of the current one (see _update)
            drop = DROP_CONVERGED
        for _ls in range(MAX_HALVINGS if halvings is None else halvings):
            if not ok:
                break
            xn = _update(x, lam * du[:, :C], floor, ceil, drop)
            yn = (
                _update(y, lam * du[:, C:], floor, ceil, drop) if murphree else y.copy()
            )
            st = evaluate(xn, yn, False)
            if st == OK:
                Rn = residual(xn, yn)
                phin = merit(Rn)
                if (
                    phin <= phi * (1.0 - 1e-4 * lam)
                    or (mu > 0.0 and phin <= NONMONOTONE * phi)
                    or norm(Rn)[0] <= tol
                    or (
                        trust
                        and lam == 1.0
                        and row_residual(xn, yn, Rn, True) <= ROW_TRUST
                    )
                ):
                    break
            F[:] = Fsave
            lam *= 0.5
        else:
            ok = False
        if (
            not ok
            and rn <= ROUNDOFF_TOL
            and tol_accept <= ROUNDOFF_TOL
            and outlets_closed(x, y)
        ):
            # no descent left and the residual is at round-off level for the
            # internal flows (high reflux): converged as far as arithmetic allows
            F[:] = Fsave
            evaluate(x, y, False)
            return OK
        if not ok:
            F[:] = Fsave
            mu = max(8.0 * mu, 1.0)
            # continuation steps fail fast instead: the step size is their remedy
            if mu > MU_MAX or (halvings is not None and halvings != MAX_HALVINGS):
                return NOT_CONVERGED if st == OK else st
            st = evaluate(x, y, True)
            if st != OK:
                return st
            continue
        if mu0 > 0.0 and lam < LAM_STALL:
            # pseudo-transient start: a step Newton had to cut this short is no
            # progress along the cascade's dynamics; return to smaller time steps
            # (without this the transient decays to plain Newton taking steps of
            # 1e-6 at a scaled residual ~1 on Sm/Eu/Gd cascades)
            mu = max(8.0 * mu, 1.0)
        else:
            mu = mu * 0.25 if mu > 1e-6 else 0.0
        info[INFO_STEP] = lam
        if DEBUG:
            print(it, rn, lam, js, ic, mu)
        x[:] = xn
        y[:] = yn
        st = evaluate(x, y, True)
        if st != OK:
            return st
        R = residual(x, y)
        rn, js, ic = norm(R)


def _update(v, r, floor, ceil, drop=0.1):
    """Concentrations after a relative Newton change r = dv/v. [mol/L]

    v (1 + r) wherever that stays positive: the plain Newton step, exact for a
    component whose balance is linear (trace components at fixed free extractant),
    so it may raise one by many orders at once -- up to MAX_GROWTH x its value, or
    to CONC_CEIL x (throughput / mean flow) of that component, whichever is
    larger (a trace component starting at 1e-60 of its scale reaches its level in
    one step instead of six orders per iteration).  Where Newton overshoots below
    zero (r <= -1) the true value is far below v: drop exp(r + 1) v, with drop =
    DROP far from the solution and DROP_NEAR_FACTOR once the scaled residual is
    below DROP_NEAR (there Newton's model is accurate and a mild factor only adds a
    tail of tenfold steps).  The result stays within [floor, ceiling].
    """
    f = np.where(
        r > -1.0,
        1.0 + np.maximum(r, -1.0),
        drop * np.exp(np.clip(r + 1.0, -60.0, 0.0)),
    )
    return np.clip(v * f, floor, np.maximum(ceil, v * MAX_GROWTH))


def _block_thomas(Lo, Bd, Up, rhs):
    """Solve the block-tridiagonal system (Lo, Bd, Up) z = rhs; None if singular."""
    N, M, _ = Bd.shape
    W = np.zeros((N, M, M))
    g = np.zeros((N, M))
    Mj = Bd[0].copy()
    rj = rhs[0].copy()
    for j in range(N):
        if j > 0:
            Mj = Bd[j] - Lo[j] @ W[j - 1]
            rj = rhs[j] - Lo[j] @ g[j - 1]
        # rows equilibrated by powers of two (exact) before the pivoted solve: a
        # trace's balance (entries 1e-60 of the bulk's) and a major's then have
        # entries of one size, so the pivoting never mixes a major's round-off
        # into a trace's correction (ext/_blocks.h does so for every block it
        # inverts with row interchanges; a block it inverts without them pivots on
        # its own diagonal and needs no scaling)
        m = np.max(np.abs(Mj), axis=1)
        e = np.where((m > 0.0) & np.isfinite(m), np.frexp(m)[1], 0)
        s = np.ldexp(1.0, -np.maximum(e, -1000))  # a subnormal row: no scale to inf
        try:
            W[j] = np.linalg.solve(s[:, None] * Mj, s[:, None] * Up[j])
            g[j] = np.linalg.solve(s[:, None] * Mj, s * rj)
        except np.linalg.LinAlgError:
            return None
    z = np.zeros((N, M))
    z[N - 1] = g[N - 1]
    for j in range(N - 2, -1, -1):
        z[j] = g[j] - W[j] @ z[j + 1]
    return z
