# cython: language_level=3
"""Compiled cascade kernel: steady state of a countercurrent SX cascade.

The algorithm is the one of its pure-NumPy twin ``rexopt/_pure/cascade.py``
(read that file for the mathematics; this one mirrors it step for step):
damped Newton in log-concentration variables on the block-tridiagonal stage
balances, block-Thomas elimination with an in-place Gauss-Jordan inverse of each
C x C (or 2C x 2C with Murphree efficiencies) block, and a two-stage continuation
for cold starts.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport exp, fabs, fmax, isfinite, log, log10, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset


cnp.import_array()

DEF LN10 = 2.302585092994046
# ion product of water at 25 C [mol^2/L^2] (docs/data-sources.md)
DEF KW = 1.0e-14

# status codes and info layout: identical to rexopt._pure.cascade
cdef int OK = 0
cdef int NOT_CONVERGED = 1
cdef int NO_ACID = 2
cdef int SINGULAR = 3
cdef int BAD_SITE_BALANCE = 4
cdef int INFO_ITER = 0, INFO_RESID = 1, INFO_STAGE = 2, INFO_COMP = 3
cdef int INFO_STEP = 4, INFO_HOMOTOPY = 5, INFO_TOTAL = 6

cdef int INFO_PATH = 7
cdef int STEP_ITER = 12
cdef int TRANSIENT_ITER = 1500
cdef int MAX_STEPS = 60
cdef double STEP_TOL = 1e-2
cdef int MAX_HALVINGS = 30
cdef int STEP_HALVINGS = 5
cdef double MAX_GROWTH = 1e6
cdef double CONC_CEIL = 1e4
cdef double DROP = 0.1
cdef double DROP_NEAR = 1e-2
cdef double DROP_NEAR_FACTOR = 1e-4
cdef double DROP_CONVERGED = 1e-300
cdef double CONC_FLOOR = 1e-100
cdef double MU_MAX = 1e8
cdef double NONMONOTONE = 1.5
cdef int LUMPED_DIRECT_ITER = 30
cdef double ROUNDOFF_TOL = 1e-10
cdef double REL_TOL = 1e-11
cdef double LAM_STALL = 1.0 / 32.0
cdef int POLISH_ROUNDS = 3
cdef int POLISH_ITER = 30
cdef double ROW_ROUNDOFF = 1e-12
cdef int REL_STALL = 8
cdef double TRUST_RESID = 1e-2
cdef double ROW_TRUST = 1e-10
cdef double ACC_FLOOR = 1e-60
cdef int INFO_RELSTEP = 8
cdef double BALANCE_TOL = 1e-9
cdef double UNIT_ROUNDOFF = 1.1102230246251565e-16
cdef int PATH_EXACT = 4


def constants():
    """The constants above, by the pure twin's names: the two kernels keep them
    equal (tests/test_kernel_parity.py compares every one)."""
    return {
        "LN10": LN10, "KW": KW, "OK": OK, "NOT_CONVERGED": NOT_CONVERGED,
        "NO_ACID": NO_ACID, "SINGULAR": SINGULAR,
        "BAD_SITE_BALANCE": BAD_SITE_BALANCE, "INFO_ITER": INFO_ITER,
        "INFO_RESID": INFO_RESID, "INFO_STAGE": INFO_STAGE, "INFO_COMP": INFO_COMP,
        "INFO_STEP": INFO_STEP, "INFO_HOMOTOPY": INFO_HOMOTOPY,
        "INFO_TOTAL": INFO_TOTAL, "INFO_PATH": INFO_PATH, "STEP_ITER": STEP_ITER,
        "TRANSIENT_ITER": TRANSIENT_ITER, "MAX_STEPS": MAX_STEPS,
        "STEP_TOL": STEP_TOL, "MAX_HALVINGS": MAX_HALVINGS,
        "STEP_HALVINGS": STEP_HALVINGS, "MAX_GROWTH": MAX_GROWTH,
        "CONC_CEIL": CONC_CEIL, "DROP": DROP, "DROP_NEAR": DROP_NEAR,
        "DROP_NEAR_FACTOR": DROP_NEAR_FACTOR, "DROP_CONVERGED": DROP_CONVERGED,
        "CONC_FLOOR": CONC_FLOOR, "MU_MAX": MU_MAX, "NONMONOTONE": NONMONOTONE,
        "LUMPED_DIRECT_ITER": LUMPED_DIRECT_ITER, "ROUNDOFF_TOL": ROUNDOFF_TOL,
        "REL_TOL": REL_TOL, "LAM_STALL": LAM_STALL, "POLISH_ROUNDS": POLISH_ROUNDS,
        "POLISH_ITER": POLISH_ITER, "ROW_ROUNDOFF": ROW_ROUNDOFF,
        "REL_STALL": REL_STALL, "TRUST_RESID": TRUST_RESID, "ROW_TRUST": ROW_TRUST,
        "ACC_FLOOR": ACC_FLOOR, "INFO_RELSTEP": INFO_RELSTEP,
        "BALANCE_TOL": BALANCE_TOL, "UNIT_ROUNDOFF": UNIT_ROUNDOFF,
        "PATH_EXACT": PATH_EXACT,
    }


cdef struct Net:
    int N
    double *aq_out
    double *aq_pass
    double *org_out
    double *org_pass
    double *org_in


cdef struct Chem:
    int C
    double *a
    double *b
    double *c
    double *d
    double *nu
    double *z
    double *sigma
    double *cap
    double *Q
    double *ST
    double ka
    double *eff
    int use_ph
    int use_F


cdef struct Work:
    int N
    int C
    int M
    int murphree
    int info_size    # 8 (older callers) or 9 (with INFO_RELSTEP)
    double *ext_aq
    double *ext_org
    double *scale
    double *iscale   # M: 1 / scale per residual row (no division in the norms)
    double *ystar    # N*C
    double *R        # N*M
    double *Rn       # N*M
    double *Bd       # N*M*M  (inverse of the reduced block after the forward sweep)
    double *Lo       # N*M*M  (lower blocks; Murphree only, else kept factored)
    double *ud       # N*M    (upper blocks are diagonal: aq_pass x, 0 on y rows)
    double *gv       # N*M
    double *du       # N*M
    int *piv         # N*M
    int *lin         # N: site balance linear in F at this stage
    double *xn       # N*C
    double *yn       # N*C
    double *Fs       # N
    double *p        # C  (scratch for the stage Jacobian)
    double *q        # C
    double *Dv       # C
    double *Ev       # C
    double *E0       # N*C: 10^c when pH is not modelled
    double *floor    # C: smallest concentration kept (CONC_FLOOR x typical)
    double *ceil     # C: largest reached in one step from far below (CONC_CEIL x)
    double *fac      # N*4C: factors of dy*/dx = diag(D) + u z^T + v w^T
    double *zx       # M scratch
    double *ox       # N*C: organic pass x column scale of the lower block


cdef inline void acid(double QT, double ST, double ka, double zx,
                      double *h, double *dh) noexcept nogil:
    """Free [H+] and d[H+]/dH_T from total acidity H_T = Q - sum z x.

    H_T = [H+] + [HSO4-] - [OH-], with [HSO4-] = S_T [H+] / (ka + [H+]) and
    [OH-] = KW / [H+]: f(h) = h + S_T h / (ka + h) - KW / h - H_T rises and is
    concave in h > 0, so Newton's method from a point below the root (f <= 0)
    climbs to it without overshooting.
    """
    cdef double HT = QT - zx, B, disc, x, r, fp, step, c
    cdef int it
    if ST <= 0.0:
        disc = sqrt(HT * HT + 4.0 * KW)
        h[0] = 0.5 * (HT + disc) if HT > 0.0 else 2.0 * KW / (disc - HT)
        dh[0] = 1.0 / (1.0 + KW / (h[0] * h[0]))
        return
    # start below the root: where H_T > 0, the root without water (f = -KW / x
    # there, stated exactly); always, the root with S_T h / (ka + h) <= S_T h / ka
    c = 1.0 + ST / ka
    disc = sqrt(HT * HT + 4.0 * c * KW)
    x = 0.5 * (HT + disc) / c if HT > 0.0 else 2.0 * KW / (disc - HT)
    r = x + ST * x / (ka + x) - KW / x - HT
    if HT > 0.0:
        B = ka + ST - HT
        disc = sqrt(B * B + 4.0 * ka * HT)
        h[0] = 2.0 * ka * HT / (B + disc) if B > 0.0 else 0.5 * (disc - B)
        if h[0] > x:
            x = h[0]
            r = -KW / x
    for it in range(100):
        fp = 1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x)
        step = -r / fp
        if not (step > 1e-15 * x):
            break
        x += step
        r = x + ST * x / (ka + x) - KW / x - HT
    h[0] = x
    dh[0] = 1.0 / (1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x))


cdef inline void dist(int C, double *E, double *bj, double *dj, double F,
                      double pH, double *D) noexcept nogil:
    """D_i = E_i F^d_i 10^(b_i F pH), with the common cases free of exp/log."""
    cdef int i
    cdef double lnF = 0.0
    cdef int have_ln = 0
    for i in range(C):
        if bj[i] == 0.0:
            if dj[i] == 1.0:
                D[i] = E[i] * F
                continue
            if dj[i] == 0.0:
                D[i] = E[i]
                continue
        if not have_ln:
            lnF = log(F)
            have_ln = 1
        D[i] = E[i] * exp(LN10 * bj[i] * F * pH + dj[i] * lnF)


cdef inline int linear_sites(int C, double *E, double *dj, double *nuj, double *xj,
                             double cap, double sig, double *F) noexcept nogil:
    """Free sites where the site balance is linear in F (Langmuir, constant-D
    impurities): F = (cap - sum_{d=0} nu E x) / (sigma + sum_{d=1} nu E x)."""
    cdef int i
    cdef double g = cap, dg = sig, t
    for i in range(C):
        t = nuj[i] * E[i] * xj[i]
        if dj[i] == 0.0:
            g -= t
        else:
            dg += t
    if g <= 0.0:
        return BAD_SITE_BALANCE
    F[0] = g / dg
    return OK


cdef inline int langmuir_eq(Chem *ch, int j, double *xj, double *y, double *Fout,
                            double *hout, int want_jac, double *fac,
                            Work *w) noexcept nogil:
    """stage_eq for the commonest case, without pH and with a site balance linear in F
    (saturated model, constant-D impurities): the same arithmetic, straight-line.

    D_i = E_i F^d_i (d_i in {0, 1}), F = (cap - sum_{d=0} nu E x) / (sigma +
    sum_{d=1} nu E x); dy*/dx = diag(D) + v w^T with u = 0, v_i = -y_i q_i / Gd,
    q_i = d_i / F, Gd = sigma + sum nu y q, w_i = nu_i D_i.
    """
    cdef int C = ch.C, i
    cdef double *E = w.E0 + j * C
    cdef double *dj = ch.d + j * C
    cdef double *nuj = ch.nu + j * C
    cdef double F = 0.0, Gd, iF, Di
    hout[0] = 1.0
    if linear_sites(C, E, dj, nuj, xj, ch.cap[j], ch.sigma[j], &F) != OK:
        return BAD_SITE_BALANCE
    Fout[0] = F
    iF = 1.0 / F
    Gd = ch.sigma[j]
    for i in range(C):
        Di = E[i] * F if dj[i] != 0.0 else E[i]
        y[i] = Di * xj[i]
        if not isfinite(y[i]):
            return BAD_SITE_BALANCE
        if want_jac:
            fac[i] = Di
            fac[C + i] = 0.0
            fac[3 * C + i] = nuj[i] * Di
            if dj[i] != 0.0:
                Gd += nuj[i] * y[i] * iF
    if want_jac:
        Gd = 1.0 / Gd
        for i in range(C):
            fac[2 * C + i] = -y[i] * dj[i] * iF * Gd
    return OK


cdef int stage_eq(Chem *ch, int j, double *xj, double Fguess, double *y,
                  double *Fout, double *hout, int want_jac, double *fac,
                  Work *w) noexcept nogil:
    """Equilibrium at stage j: y*(x), free sites F, [H+] and (if G) dy*/dx."""
    cdef int C = ch.C, i, it, linear
    cdef double *aj = ch.a + j * C
    cdef double *bj = ch.b + j * C
    cdef double *cj = ch.c + j * C
    cdef double *dj = ch.d + j * C
    cdef double *nuj = ch.nu + j * C
    cdef double pH = 0.0, h = 1.0, dh = 0.0, zx, F = 1.0, hi, lo, g, dg, Fn, t
    cdef double sig = ch.sigma[j], cap = ch.cap[j], Gd, P
    cdef double *D = w.Dv
    cdef double *E = w.Ev
    cdef double *p = w.p
    cdef double *q = w.q
    if w.lin[j] and not ch.use_ph:
        return langmuir_eq(ch, j, xj, y, Fout, hout, want_jac, fac, w)
    if ch.use_ph:
        zx = 0.0
        for i in range(C):
            zx += ch.z[i] * xj[i]
        acid(ch.Q[j], ch.ST[j], ch.ka, zx, &h, &dh)
        hout[0] = h
        # use_ph 2: the solve's first round, held in the acid medium (H_T > 0)
        if not h > 0.0 or (ch.use_ph == 2 and not ch.Q[j] - zx > 0.0):
            return NO_ACID
        pH = -log10(h)
    else:
        hout[0] = 1.0
    # E_i = 10^(a_i pH + c_i): from the per-call cache when pH is not modelled
    if ch.use_ph:
        for i in range(C):
            E[i] = exp(LN10 * (aj[i] * pH + cj[i]))
    else:
        memcpy(E, w.E0 + j * C, C * sizeof(double))
    linear = w.lin[j]   # set per stage by newton() from the parameters
    if linear:
        # site balance linear in F (Langmuir, constant-D impurities): closed form
        if linear_sites(C, E, dj, nuj, xj, cap, sig, &F) != OK:
            return BAD_SITE_BALANCE
        dist(C, E, bj, dj, F, pH, D)
    elif ch.use_F:
        hi = cap / sig
        lo = 0.0
        F = Fguess if (Fguess > 0.0 and Fguess <= hi) else hi
        for it in range(200):
            g = sig * F - cap
            dg = sig
            dist(C, E, bj, dj, F, pH, D)
            for i in range(C):
                t = nuj[i] * D[i] * xj[i]
                g += t
                dg += t * (LN10 * bj[i] * pH + dj[i] / F)
            if fabs(g) <= 1e-15 * cap:
                break
            if g > 0.0:
                hi = F
            else:
                lo = F
            if dg > 0.0:
                Fn = F - g / dg
            else:
                Fn = 0.5 * (lo + hi)
            if not (lo < Fn < hi):
                if lo > 0.0:
                    Fn = 0.5 * (lo + hi)
                else:
                    Fn = 0.5 * (F if F < hi else hi)
            if fabs(Fn - F) <= 1e-15 * F:
                F = Fn
                break
            F = Fn
            if hi - lo <= 1e-15 * hi:
                break
        else:
            return BAD_SITE_BALANCE
        dist(C, E, bj, dj, F, pH, D)
    else:
        memcpy(D, E, C * sizeof(double))
    Fout[0] = F
    for i in range(C):
        y[i] = D[i] * xj[i]
        if not isfinite(y[i]):
            return BAD_SITE_BALANCE
    if not want_jac:
        return OK
    # dy*/dx = diag(D) + u z^T + v w^T (rank-2 update of a diagonal); the factors
    # are kept (fac = [D, u, v, w]) so the block solve can use the structure
    for i in range(C):
        fac[i] = D[i]
        fac[C + i] = 0.0
        fac[2 * C + i] = 0.0
        fac[3 * C + i] = nuj[i] * D[i]
    if ch.use_ph or ch.use_F:
        for i in range(C):
            p[i] = (aj[i] + bj[i] * F) * dh / h if ch.use_ph else 0.0
        if ch.use_F:
            Gd = sig
            P = 0.0
            for i in range(C):
                q[i] = LN10 * bj[i] * pH + dj[i] / F
                Gd += nuj[i] * y[i] * q[i]
                P += nuj[i] * y[i] * p[i]
            P = P / Gd
            Gd = 1.0 / Gd
            for i in range(C):
                fac[C + i] = y[i] * (p[i] - q[i] * P)
                fac[2 * C + i] = -y[i] * q[i] * Gd
        else:
            for i in range(C):
                fac[C + i] = y[i] * p[i]
    return OK


cdef int saturated_eq4(Chem *ch, int j, double *x, double *y, double *F, double *h,
                       int want_jac, double *fac, Work *w) noexcept nogil:
    """langmuir_eq for the four stages j..j+3 at once where every d = 1 (the
    saturated model; x, y, F, h, fac point at stage j): each stage's operations
    are langmuir_eq's in the same order, without its per-component branches, and
    the four stages' two sums (free sites, Jacobian denominator) advance side by
    side, so their chains of dependent additions overlap instead of following one
    another.  On any failure it returns BAD_SITE_BALANCE and the caller redoes
    these stages one by one (which names the stage)."""
    cdef int C = ch.C, i, s
    cdef double *E = w.E0 + j * C
    cdef double *nu = ch.nu + j * C
    cdef double g0 = ch.sigma[j], g1 = ch.sigma[j + 1]
    cdef double g2 = ch.sigma[j + 2], g3 = ch.sigma[j + 3]
    cdef double G[4]
    cdef double iF[4]
    cdef double Fs, Gd
    cdef double *Es
    cdef double *ns
    cdef double *xs
    cdef double *ys
    cdef double *fs
    for i in range(C):
        g0 += nu[i] * E[i] * x[i]
        g1 += nu[C + i] * E[C + i] * x[C + i]
        g2 += nu[2 * C + i] * E[2 * C + i] * x[2 * C + i]
        g3 += nu[3 * C + i] * E[3 * C + i] * x[3 * C + i]
    G[0] = g0
    G[1] = g1
    G[2] = g2
    G[3] = g3
    for s in range(4):
        if ch.cap[j + s] <= 0.0:
            return BAD_SITE_BALANCE
        Fs = ch.cap[j + s] / G[s]
        F[s] = Fs
        h[s] = 1.0
        Es = E + s * C
        xs = x + s * C
        ys = y + s * C
        for i in range(C):
            ys[i] = Es[i] * Fs * xs[i]
        for i in range(C):
            if not isfinite(ys[i]):
                return BAD_SITE_BALANCE
        iF[s] = 1.0 / Fs
    if not want_jac:
        return OK
    g0 = ch.sigma[j]
    g1 = ch.sigma[j + 1]
    g2 = ch.sigma[j + 2]
    g3 = ch.sigma[j + 3]
    for i in range(C):
        g0 += nu[i] * y[i] * iF[0]
        g1 += nu[C + i] * y[C + i] * iF[1]
        g2 += nu[2 * C + i] * y[2 * C + i] * iF[2]
        g3 += nu[3 * C + i] * y[3 * C + i] * iF[3]
    G[0] = g0
    G[1] = g1
    G[2] = g2
    G[3] = g3
    for s in range(4):
        Gd = 1.0 / G[s]
        Es = E + s * C
        ns = nu + s * C
        ys = y + s * C
        fs = fac + 4 * s * C
        for i in range(C):
            fs[i] = Es[i] * F[s]
            fs[C + i] = 0.0
            fs[2 * C + i] = -ys[i] * iF[s] * Gd
            fs[3 * C + i] = ns[i] * fs[i]
    return OK


cdef int evaluate(Net *nt, Chem *ch, Work *w, double *x, double *y, double *F,
                  double *h, int want_jac, double *info) noexcept nogil:
    cdef int N = nt.N, C = ch.C, j, st, quad = 0
    cdef double Fj = 0.0
    for j in range(N):
        if quad > 0:
            quad -= 1      # done by saturated_eq4
            continue
        if (not ch.use_ph and j + 4 <= N and w.lin[j] == 2 and w.lin[j + 1] == 2
                and w.lin[j + 2] == 2 and w.lin[j + 3] == 2):
            if saturated_eq4(ch, j, x + j * C, w.ystar + j * C, F + j, h + j,
                             want_jac, w.fac + 4 * j * C, w) == OK:
                quad = 3
                continue
        st = stage_eq(ch, j, x + j * C, F[j], w.ystar + j * C, &Fj, h + j,
                      want_jac, w.fac + 4 * j * C, w)
        if st != OK:
            info[INFO_STAGE] = j
            return st
        F[j] = Fj
    if not w.murphree:
        memcpy(y, w.ystar, N * C * sizeof(double))
    return OK


cdef inline double inlet_scale(Chem *ch, int j) noexcept nogil:
    """Organic entering a stage of lower capacity (acid consumed there) is first
    brought down to that capacity; Murphree then acts on the approach to equilibrium."""
    if j == 0 or ch.cap[j] >= ch.cap[j - 1]:
        return 1.0
    return ch.cap[j] / ch.cap[j - 1]


cdef void residual(Net *nt, Chem *ch, Work *w, double *x, double *y,
                   double *R) noexcept nogil:
    cdef int N = nt.N, C = ch.C, M = w.M, j, i
    cdef double up, yin, ao, oo, ap, op
    cdef double *ea
    cdef double *eo
    cdef double *xj
    cdef double *yj
    cdef double *Rj
    cdef double *xn
    cdef double *yp
    for j in range(N):
        # one pass per term (each a simple loop over the components, which the
        # compiler vectorises); the sum is formed in the same order as the twin's
        ea = w.ext_aq + j * C
        eo = w.ext_org + j * C
        xj = x + j * C
        yj = y + j * C
        Rj = R + j * M
        ao = nt.aq_out[j]
        oo = nt.org_out[j]
        for i in range(C):
            Rj[i] = ea[i] + eo[i] - ao * xj[i] - oo * yj[i]
        if j + 1 < N:
            ap = nt.aq_pass[j + 1]
            xn = x + (j + 1) * C
            for i in range(C):
                Rj[i] += ap * xn[i]
        if j > 0:
            op = nt.org_pass[j - 1]
            yp = y + (j - 1) * C
            for i in range(C):
                Rj[i] += op * yp[i]
        if w.murphree:
            for i in range(C):
                up = nt.org_pass[j - 1] * y[(j - 1) * C + i] if j > 0 else 0.0
                yin = ((up + w.ext_org[j * C + i]) / nt.org_in[j] * inlet_scale(ch, j)
                       if nt.org_in[j] > 0 else 0.0)
                R[j * M + C + i] = (y[j * C + i] - ch.eff[j] * w.ystar[j * C + i]
                                    - (1.0 - ch.eff[j]) * yin) * nt.org_out[j]


cdef inline double ph_base(Chem *ch, int j, double *x) noexcept nogil:
    """(Q + sum |z| x) / H_T at stage j (at a basic stage (Q + sum |z| x) times
    d[H+]/dH_T / [H+]), 0 without pH: times |a + b F| it is what [H+] adds to the
    round-off factor of an organic flow (see the twin's row_residual)."""
    cdef int C = ch.C, k
    cdef double zx = 0.0, zax = 0.0, HT, h, dh
    if not ch.use_ph:
        return 0.0
    for k in range(C):
        zx += ch.z[k] * x[j * C + k]
        zax += fabs(ch.z[k]) * x[j * C + k]
    HT = ch.Q[j] - zx
    if HT > 0.0:
        return (ch.Q[j] + zax) / HT
    # basic stage: the relative change of [H+] per relative change of H_T
    acid(ch.Q[j], ch.ST[j], ch.ka, zx, &h, &dh)
    return (ch.Q[j] + zax) * dh / h


cdef double row_residual(Net *nt, Chem *ch, Work *w, double *x, double *y,
                         double *R, double *F, int mixed=0) noexcept nogil:
    """Largest residual relative to the gross flow through its own balance (see
    the twin): round-off level where a component circulates far above its
    throughput (high reflux); with pH modelled, organic flows count with the
    factor by which [H+] amplifies round-off into them."""
    cdef int N = nt.N, C = ch.C, M = w.M, j, i
    cdef double g, up, yin, best = 0.0, v, am, bj, bp = 0.0
    for j in range(N):
        bj = ph_base(ch, j, x)
        for i in range(C):
            am = 1.0 + fabs(ch.a[j * C + i] + ch.b[j * C + i] * F[j]) * bj
            g = (w.ext_aq[j * C + i] + w.ext_org[j * C + i] + nt.aq_out[j] * x[j * C + i]
                 + nt.org_out[j] * y[j * C + i] * (1.0 if w.murphree else am))
            if j + 1 < N:
                g += nt.aq_pass[j + 1] * x[(j + 1) * C + i]
            if j > 0:
                g += nt.org_pass[j - 1] * y[(j - 1) * C + i] * (
                    1.0 if w.murphree else
                    1.0 + fabs(ch.a[(j - 1) * C + i] + ch.b[(j - 1) * C + i] * F[j - 1]) * bp)
            if mixed and g < w.scale[i]:
                g = w.scale[i]
            v = fabs(R[j * M + i]) / (g if g > 1e-300 else 1e-300)
            if not (v <= best):
                best = v
            if w.murphree:
                up = nt.org_pass[j - 1] * y[(j - 1) * C + i] if j > 0 else 0.0
                yin = ((up + w.ext_org[j * C + i]) / nt.org_in[j] * inlet_scale(ch, j)
                       if nt.org_in[j] > 0 else 0.0)
                g = (y[j * C + i] + ch.eff[j] * w.ystar[j * C + i] * am
                     + (1.0 - ch.eff[j]) * yin) * nt.org_out[j]
                if mixed and g < w.scale[i]:
                    g = w.scale[i]
                v = fabs(R[j * M + C + i]) / (g if g > 1e-300 else 1e-300)
                if not (v <= best):
                    best = v
        bp = bj
    return best


cdef double outlet_error(Net *nt, Work *w, double *x, double *y) noexcept nogil:
    """Largest outlet balance error over the components, |input - outlets| relative
    to the input (components with no input left out; see the twin)."""
    cdef int N = nt.N, C = w.C, j, i
    cdef double best = 0.0, inp, out, exa, exo, v
    for i in range(C):
        inp = 0.0
        out = 0.0
        for j in range(N):
            inp += w.ext_aq[j * C + i] + w.ext_org[j * C + i]
        if not (inp > 0.0):
            continue
        for j in range(N):
            exa = nt.aq_out[j] - (nt.aq_pass[j] if j > 0 else 0.0)
            exo = nt.org_out[j] - (nt.org_pass[j] if j + 1 < N else 0.0)
            out += exa * x[j * C + i] + exo * y[j * C + i]
        v = fabs(inp - out) / inp
        if not (v <= best):
            best = v
    return best


cdef int linear_exact(Net *nt, Chem *ch, Work *w, double *x, double *y,
                      double *info) noexcept nogil:
    """Constant D, no Murphree efficiency: every component's stage balances by
    subtraction-free (Grassmann-Taksar-Heyman) elimination, in place (see the
    twin's _linear_exact).  NOT_CONVERGED, nothing written, when the data are not
    of M-matrix form (negative inflow or exit flow, zero pivot)."""
    cdef int N = nt.N, C = ch.C, j, i
    cdef double *D = w.E0
    for j in range(N):
        for i in range(C):
            D[j * C + i] = exp(LN10 * ch.c[j * C + i])
    return linear_exact_D(nt, ch, w, x, y, info)


cdef int linear_exact_D(Net *nt, Chem *ch, Work *w, double *x, double *y,
                        double *info) noexcept nogil:
    """linear_exact for the D profile in w.E0 (N x C): also the trace polish's
    solve at frozen [H+] and free extractant (see the twin's _polish)."""
    cdef int N = nt.N, C = ch.C, j, i, k, js = 0, ic = 0
    cdef double exa, exo, sp, b, fj, t, rn
    cdef double *dp = w.Bd          # N*C scratch (Bd holds N*C*C >= N*C doubles)
    cdef double *fp = w.gv          # N*C scratch (gv holds N*M = N*C)
    cdef double *xs = w.xn
    cdef double *ys = w.yn
    cdef double *D = w.E0
    for j in range(N):
        exa = nt.aq_out[j] - (nt.aq_pass[j] if j > 0 else 0.0)
        exo = nt.org_out[j] - (nt.org_pass[j] if j + 1 < N else 0.0)
        if not (exa >= 0.0 and exo >= 0.0):
            return NOT_CONVERGED
        for i in range(C):
            fj = w.ext_aq[j * C + i] + w.ext_org[j * C + i]
            if not (fj >= 0.0) or not isfinite(D[j * C + i]):
                return NOT_CONVERGED
    for i in range(C):
        sp = 0.0
        for j in range(N):
            exa = nt.aq_out[j] - (nt.aq_pass[j] if j > 0 else 0.0)
            exo = nt.org_out[j] - (nt.org_pass[j] if j + 1 < N else 0.0)
            b = nt.org_pass[j] * D[j * C + i] if j + 1 < N else 0.0
            fj = w.ext_aq[j * C + i] + w.ext_org[j * C + i]
            if j == 0:
                sp = exa + exo * D[i]
                fp[i] = fj
            else:
                t = nt.aq_pass[j] / dp[(j - 1) * C + i]
                sp = (exa + exo * D[j * C + i]) + sp * t
                fp[j * C + i] = fj + ((nt.org_pass[j - 1] * D[(j - 1) * C + i])
                                      * fp[(j - 1) * C + i] / dp[(j - 1) * C + i])
            dp[j * C + i] = b + sp
            if not (dp[j * C + i] > 0.0 and isfinite(dp[j * C + i])
                    and isfinite(fp[j * C + i])):
                return NOT_CONVERGED
        xs[(N - 1) * C + i] = fp[(N - 1) * C + i] / dp[(N - 1) * C + i]
        for j in range(N - 2, -1, -1):
            xs[j * C + i] = ((fp[j * C + i] + nt.aq_pass[j + 1] * xs[(j + 1) * C + i])
                             / dp[j * C + i])
    for k in range(N * C):
        xs[k] = fmax(xs[k], w.floor[k % C])
        ys[k] = D[k] * xs[k]
    if outlet_error(nt, w, xs, ys) > BALANCE_TOL:
        return NOT_CONVERGED
    memcpy(x, xs, N * C * sizeof(double))
    memcpy(y, ys, N * C * sizeof(double))
    residual(nt, ch, w, x, y, w.R)
    rn = norm(w, w.R, &js, &ic)
    info[INFO_ITER] = 0
    info[INFO_RESID] = rn
    info[INFO_STAGE] = js
    info[INFO_COMP] = ic
    info[INFO_STEP] = 1.0
    if w.info_size > INFO_RELSTEP:
        info[INFO_RELSTEP] = (4.0 * (N + 1) * (N + 1) + 16.0 * (N + 1)) * UNIT_ROUNDOFF
    return OK


cdef double merit(Work *w, double *R) noexcept nogil:
    """Sum of squared scaled residuals, in four partial sums (one long chain of
    dependent additions is latency-bound)."""
    cdef int j, k, M = w.M
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, v
    cdef double *Rj
    cdef double *sc = w.iscale
    for j in range(w.N):
        Rj = R + j * M
        k = 0
        while k + 4 <= M:
            v = Rj[k] * sc[k]
            s0 += v * v
            v = Rj[k + 1] * sc[k + 1]
            s1 += v * v
            v = Rj[k + 2] * sc[k + 2]
            s2 += v * v
            v = Rj[k + 3] * sc[k + 3]
            s3 += v * v
            k += 4
        while k < M:
            v = Rj[k] * sc[k]
            s0 += v * v
            k += 1
    return (s0 + s1) + (s2 + s3)


cdef double norm(Work *w, double *R, int *js, int *ic) noexcept nogil:
    cdef int j, k, M = w.M, C = w.C
    cdef double best = -1.0, v
    for j in range(w.N):
        for k in range(M):
            v = fabs(R[j * M + k]) * w.iscale[k]
            if not (v <= best):   # also catches NaN
                best = v
                js[0] = j
                ic[0] = k if k < C else k - C
                if not isfinite(v):
                    best = 1e300
    return best


cdef inline double update(double v, double r, double lo, double hi, double drop) noexcept nogil:
    """Concentration after a relative Newton change r = dv/v (see the twin's
    _update): v (1 + r) where positive, else drop exp(r + 1) v; kept within
    [lo, max(hi, MAX_GROWTH v)]."""
    cdef double f
    if r > -1.0:
        f = 1.0 + r
    else:
        r = r + 1.0
        if r < -60.0:
            r = -60.0
        f = drop * exp(r)
    f = v * f
    if not (f <= hi or f <= MAX_GROWTH * v):
        f = hi if hi > MAX_GROWTH * v else MAX_GROWTH * v
    return f if f > lo else lo


cdef extern from "_blocks.h" nogil:
    int bt_solve(int M, int N, int C, int structured, double *Bd, const double *Lo,
                 const double *ud, const double *R, double *gv, double *du,
                 const double *fac, const double *ox, const double *z, int *piv,
                 const double *xs, const double *aq_out, const double *org_out,
                 double mu1)
    int bt_invert_test(int M, double *A, int *piv, int way)


cdef inline int block_thomas(Work *w, Net *nt, double *z, double *x, int structured,
                             double mu) noexcept nogil:
    """Solve (Lo, Bd, diag(ud)) du = -R in place: forward block elimination that
    keeps the inverse P_j of every reduced diagonal block (in Bd), back sweep.

    The upper blocks are diagonal (aqueous from the stage above), nonzero on the
    first C columns only, so W_j = P_j diag(ud_j) is never formed.  structured: the
    lower block is Lo_j = G_{j-1} diag(ox_j) with G = diag(D) + u z^T + v w^T
    (factors in w.fac), so Lo_j W_{j-1} costs O(M^2) instead of O(M^3), and the
    diagonal block -(1 + mu)(A I + O G_j) diag(x_j) is assembled in the block solve
    from the same factors (newton only fills Bd with Murphree efficiencies).  The
    loops live in ext/_blocks.h, one copy per block size up to 16 (unrolled by the
    compiler), the inverse by in-place Gauss-Jordan with partial pivoting.
    """
    return bt_solve(w.M, w.N, w.C, structured, w.Bd, w.Lo, w.ud, w.R, w.gv, w.du,
                    w.fac, w.ox, z, w.piv, x, nt.aq_out, nt.org_out, 1.0 + mu)


cdef int newton(Net *nt, Chem *ch, Work *w, double *x, double *y, double *h,
                double *F, double tol, int max_it, double tol_accept,
                double *info, int halvings, double mu0) noexcept nogil:
    cdef int N = nt.N, C = ch.C, M = w.M, j, i, k, it = 0, st, ls, js = 0, ic = 0
    cdef double rn, phi, phin, lam, mu = mu0, drop, dmax, v, acc, yv, dy, s1, s2
    cdef double rel_tol = tol if tol > REL_TOL else REL_TOL
    cdef double best_d = 1e308
    cdef int best_it = 0
    cdef int ok
    # a final solve (not an intermediate continuation step) also demands relative
    # accuracy of every concentration above the accuracy floor (see the twin)
    cdef int strict = tol_accept <= tol
    cdef int trust = 0
    cdef double *Bj
    cdef double *fc
    cdef double *Lj
    cdef double *xr
    cdef double *xo
    cdef double *dr
    cdef double zk
    if not ch.use_ph:
        # E0 = 10^c; a section's stages share their parameters, so a row equal
        # to the one before is copied instead of taking C more exponentials
        for j in range(N):
            if j > 0 and memcmp(ch.c + j * C, ch.c + (j - 1) * C, C * sizeof(double)) == 0:
                memcpy(w.E0 + j * C, w.E0 + (j - 1) * C, C * sizeof(double))
            else:
                for i in range(C):
                    w.E0[j * C + i] = exp(LN10 * ch.c[j * C + i])
    # per stage: is the site balance linear in F (Langmuir, constant-D impurities)?
    # (2: every d = 1, the saturated model: F = cap / (sigma + sum nu E x))
    for j in range(N):
        w.lin[j] = 2 * ch.use_F
        for i in range(C):
            if ch.b[j * C + i] != 0.0 or (ch.d[j * C + i] != 0.0 and ch.d[j * C + i] != 1.0):
                w.lin[j] = 0
                break
            if ch.d[j * C + i] == 0.0 and w.lin[j]:
                w.lin[j] = 1
    st = evaluate(nt, ch, w, x, y, F, h, 1, info)
    if st != OK:
        return st
    if w.murphree:
        for k in range(N * C):
            if not (y[k] > 0.0):
                y[k] = fmax(w.ystar[k], w.floor[k % C])
    residual(nt, ch, w, x, y, w.R)
    rn = norm(w, w.R, &js, &ic)
    while True:
        info[INFO_ITER] = it
        info[INFO_RESID] = rn
        info[INFO_STAGE] = js
        info[INFO_COMP] = ic
        if rn <= tol_accept and not strict:
            return OK
        if it >= max_it:
            if (strict and best_d < 1e308
                    and rn <= (tol if tol > ROUNDOFF_TOL else ROUNDOFF_TOL)
                    and outlet_error(nt, w, x, y) <= BALANCE_TOL):
                # balances closed, relative correction never settled (see the twin)
                return OK
            return NOT_CONVERGED
        it += 1
        info[INFO_TOTAL] += 1
        for j in range(N):
            Bj = w.Bd + j * M * M
            fc = w.fac + 4 * j * C
            if w.murphree:
                Lj = w.Lo + j * M * M
                memset(Bj, 0, M * M * sizeof(double))
                memset(Lj, 0, M * M * sizeof(double))
                for i in range(C):
                    Bj[i * M + i] = -nt.aq_out[j]
                    Bj[i * M + C + i] = -nt.org_out[j]
                    for k in range(C):
                        # dy*/dx = diag(D) + u z^T + v w^T from the stage factors
                        Bj[(C + i) * M + k] = -ch.eff[j] * nt.org_out[j] * (
                            fc[C + i] * ch.z[k] + fc[2 * C + i] * fc[3 * C + k]
                            + (fc[i] if k == i else 0.0))
                    Bj[(C + i) * M + C + i] = nt.org_out[j]
                    if j > 0:
                        Lj[i * M + C + i] = nt.org_pass[j - 1]
                        if nt.org_in[j] > 0:
                            Lj[(C + i) * M + C + i] = (-(1.0 - ch.eff[j]) * nt.org_pass[j - 1]
                                                       / nt.org_in[j] * inlet_scale(ch, j)
                                                       * nt.org_out[j])
                if j > 0:
                    # log variables: scale the lower block's columns by stage j-1
                    for k in range(M):
                        zk = x[(j - 1) * C + k] if k < C else y[(j - 1) * C + k - C]
                        for i in range(M):
                            Lj[i * M + k] *= zk
            else:
                # the diagonal block -(A I + O dy*/dx) diag(x) is assembled by the
                # block solve from the factors of dy*/dx = diag(D) + u z^T + v w^T
                if j > 0:
                    # lower block kept in factored form: O x_{j-1} scales its columns
                    for k in range(C):
                        w.ox[j * C + k] = nt.org_pass[j - 1] * x[(j - 1) * C + k]
            # upper block: diagonal, aqueous of stage j+1 (log variable: x scale)
            for k in range(M):
                w.ud[j * M + k] = (nt.aq_pass[j + 1] * x[(j + 1) * C + k]
                                   if (k < C and j + 1 < N) else 0.0)
            if w.murphree:
                # log variables: scale the diagonal block's columns by the concentrations
                for k in range(M):
                    w.zx[k] = x[j * C + k] if k < C else y[j * C + k - C]
                for i in range(M):
                    for k in range(M):
                        Bj[i * M + k] *= w.zx[k]
            if mu > 0.0 and w.murphree:
                # pseudo-transient regularisation J - mu*M (M = stage holdup): small
                # steps along the cascade's own dynamics where Newton's model fails
                # (without Murphree efficiencies the block solve applies it)
                for i in range(C):
                    for k in range(M):
                        Bj[i * M + k] *= 1.0 + mu
        ok = block_thomas(w, nt, ch.z, x, 0 if w.murphree else 1, mu) == OK
        if ok and strict and mu == 0.0:
            # (a regularised step, mu > 0, is no Newton correction: not judged)
            # the correction in the log variables is the relative change of every
            # concentration: the largest over those above the accuracy floor
            dmax = 0.0
            for j in range(N):
                if not w.murphree:
                    # y = D x: its correction dy = diag(D) dx + u (z.dx) + v (w.dx)
                    # from the stage factors of dy*/dx (see the twin)
                    fc = w.fac + 4 * j * C
                    s1 = 0.0
                    s2 = 0.0
                    for k in range(C):
                        zk = x[j * C + k] * w.du[j * M + k]
                        s1 += ch.z[k] * zk
                        s2 += fc[3 * C + k] * zk
                for k in range(M):
                    if k < C:
                        v = x[j * C + k]
                        acc = w.floor[k]
                    else:
                        v = y[j * C + k - C]
                        acc = w.floor[k - C]
                    acc *= ACC_FLOOR / CONC_FLOOR
                    # above the floor now or where Newton would take it (see the twin)
                    if w.du[j * M + k] > 0.0:
                        v = v * (1.0 + w.du[j * M + k])
                    if v >= acc and fabs(w.du[j * M + k]) > dmax:
                        dmax = fabs(w.du[j * M + k])
                    if not w.murphree:
                        # y = D x above the floor counts too, with its own relative
                        # correction (see the twin)
                        yv = y[j * C + k]
                        dy = w.du[j * M + k]
                        if yv > 0.0:
                            dy += (fc[C + k] * s1 + fc[2 * C + k] * s2) / yv
                        if dy > 0.0:
                            yv = yv * (1.0 + dy)
                        if yv >= acc and fabs(dy) > dmax:
                            dmax = fabs(dy)
            if w.info_size > INFO_RELSTEP:
                info[INFO_RELSTEP] = dmax
            if dmax < 0.5 * best_d or dmax > 0.5:
                best_d = dmax
                best_it = it
            if (it - best_it >= REL_STALL
                    and (rn <= (tol if tol > ROUNDOFF_TOL else ROUNDOFF_TOL)
                         or row_residual(nt, ch, w, x, y, w.R, F, 1) <= ROW_ROUNDOFF)
                    and outlet_error(nt, w, x, y) <= BALANCE_TOL):
                # balances closed (to round-off of the gross flows at worst), every
                # outlet balance closed, relative correction stalled (see the twin)
                return OK
            if dmax <= rel_tol and (
                    rn <= tol
                    or (row_residual(nt, ch, w, x, y, w.R, F, 1) <= ROW_TRUST
                        and outlet_error(nt, w, x, y) <= BALANCE_TOL)):
                # relative criterion met, balances closed (see the twin)
                return OK
        phi = merit(w, w.R)
        # balances closed to round-off of their gross flows: trust Newton's full
        # step while it keeps that closure (see the twin)
        trust = (strict and rn <= TRUST_RESID
                 and row_residual(nt, ch, w, x, y, w.R, F, 1) <= ROW_TRUST)
        lam = 1.0
        drop = DROP if rn > DROP_NEAR else DROP_NEAR_FACTOR
        if rn <= ROUNDOFF_TOL or not (ch.use_ph or ch.use_F):
            drop = DROP_CONVERGED
        memcpy(w.Fs, F, N * sizeof(double))
        st = OK
        for ls in range(halvings if ok else 0):
            for j in range(N):
                xr = x + j * C
                xo = w.xn + j * C
                dr = w.du + j * M
                for i in range(C):
                    xo[i] = update(xr[i], lam * dr[i], w.floor[i], w.ceil[i], drop)
                if w.murphree:
                    for i in range(C):
                        w.yn[j * C + i] = update(y[j * C + i], lam * dr[C + i],
                                                 w.floor[i], w.ceil[i], drop)
            # (without Murphree efficiencies evaluate() sets yn = y*(xn))
            # the trial point is evaluated with its Jacobian: G of the old point
            # is no longer needed (it is factored into Bd), and an accepted
            # trial then needs no second evaluation
            st = evaluate(nt, ch, w, w.xn, w.yn, F, h, 1, info)
            if st == OK:
                residual(nt, ch, w, w.xn, w.yn, w.Rn)
                phin = merit(w, w.Rn)
                if phin <= phi * (1.0 - 1e-4 * lam):
                    break
                if mu > 0.0 and phin <= NONMONOTONE * phi:
                    # regularised step: may pass through a worse residual (see the twin)
                    break
                if norm(w, w.Rn, &js, &ic) <= tol:
                    break
                if (trust and lam == 1.0
                        and row_residual(nt, ch, w, w.xn, w.yn, w.Rn, F, 1) <= ROW_TRUST):
                    break
            memcpy(F, w.Fs, N * sizeof(double))
            lam *= 0.5
        else:
            ok = 0
        if (not ok and rn <= ROUNDOFF_TOL and tol_accept <= ROUNDOFF_TOL
                and outlet_error(nt, w, x, y) <= BALANCE_TOL):
            # no descent left and the residual is at round-off level for the
            # internal flows (high reflux): converged as far as arithmetic allows
            memcpy(F, w.Fs, N * sizeof(double))
            evaluate(nt, ch, w, x, y, F, h, 1, info)
            return OK
        if not ok:
            memcpy(F, w.Fs, N * sizeof(double))
            mu = 8.0 * mu if 8.0 * mu > 1.0 else 1.0
            # continuation steps fail fast instead: the step size is their remedy
            if mu > MU_MAX or halvings != MAX_HALVINGS:
                return NOT_CONVERGED if st == OK else st
            st = evaluate(nt, ch, w, x, y, F, h, 1, info)
            if st != OK:
                return st
            continue
        if mu0 > 0.0 and lam < LAM_STALL:
            # pseudo-transient start: a step Newton had to cut this short is no
            # progress along the cascade's dynamics; return to smaller time steps
            mu = 8.0 * mu if 8.0 * mu > 1.0 else 1.0
        else:
            mu = mu * 0.25 if mu > 1e-6 else 0.0
        info[INFO_STEP] = lam
        memcpy(x, w.xn, N * C * sizeof(double))
        memcpy(y, w.yn, N * C * sizeof(double))
        memcpy(w.R, w.Rn, N * M * sizeof(double))
        rn = norm(w, w.R, &js, &ic)


cdef void interp(Chem *out, Chem *base, Chem *target, double t, int N) noexcept nogil:
    """Parameters at continuation parameter t: base + t (target - base)."""
    cdef int k, C = out.C
    for k in range(N * C):
        out.a[k] = base.a[k] + t * (target.a[k] - base.a[k])
        out.b[k] = base.b[k] + t * (target.b[k] - base.b[k])
        out.c[k] = base.c[k] + t * (target.c[k] - base.c[k])
        out.d[k] = base.d[k] + t * (target.d[k] - base.d[k])
        out.nu[k] = base.nu[k] + t * (target.nu[k] - base.nu[k])
    for k in range(C):
        out.z[k] = base.z[k] + t * (target.z[k] - base.z[k])


cdef int track(Net *nt, Chem *cur, Chem *base, Chem *target, Work *w, double *x,
               double *y, double *h, double *F, double tol, int max_iter,
               double *info) noexcept nogil:
    """Follow the solution from base (t = 0) to target (t = 1), adaptive steps."""
    cdef int N = nt.N, C = cur.C, st, steps = 0, final
    cdef double t = 0.0, dt = 0.5, t_try
    cdef double *xs = <double *> malloc(N * C * sizeof(double))
    cdef double *ys = <double *> malloc(N * C * sizeof(double))
    cdef double *Fs = <double *> malloc(N * sizeof(double))
    interp(cur, base, target, 0.0, N)
    st = newton(nt, cur, w, x, y, h, F, tol, max_iter, STEP_TOL if STEP_TOL > tol else tol, info, MAX_HALVINGS, 0.0)
    while st == OK and t < 1.0:
        memcpy(xs, x, N * C * sizeof(double))
        memcpy(ys, y, N * C * sizeof(double))
        memcpy(Fs, F, N * sizeof(double))
        t_try = t + dt if t + dt < 1.0 else 1.0
        final = t_try >= 1.0
        interp(cur, base, target, t_try, N)
        st = newton(nt, cur, w, x, y, h, F, tol, max_iter if final else STEP_ITER,
                    tol if final else (STEP_TOL if STEP_TOL > tol else tol), info,
                    STEP_HALVINGS, 0.0)
        steps += 1
        info[INFO_HOMOTOPY] += 1
        if st == OK:
            t = t_try
            dt *= 2.0
        else:
            memcpy(x, xs, N * C * sizeof(double))
            memcpy(y, ys, N * C * sizeof(double))
            memcpy(F, Fs, N * sizeof(double))
            dt *= 0.25
            if dt < 1e-4 or steps > MAX_STEPS:
                break
            st = OK
    free(xs)
    free(ys)
    free(Fs)
    return st


cdef int alloc_work(Work *w, int N, int C, int murphree) noexcept nogil:
    cdef int M = 2 * C if murphree else C
    w.N = N
    w.C = C
    w.M = M
    w.murphree = murphree
    w.scale = <double *> malloc(C * sizeof(double))
    w.iscale = <double *> malloc(M * sizeof(double))
    w.ystar = <double *> malloc(N * C * sizeof(double))
    w.R = <double *> malloc(N * M * sizeof(double))
    w.Rn = <double *> malloc(N * M * sizeof(double))
    w.Bd = <double *> malloc(N * M * M * sizeof(double))
    w.Lo = <double *> malloc((N * M * M if murphree else 1) * sizeof(double))
    w.ud = <double *> malloc(N * M * sizeof(double))
    w.gv = <double *> malloc(N * M * sizeof(double))
    w.du = <double *> malloc(N * M * sizeof(double))
    w.piv = <int *> malloc(N * M * sizeof(int))
    w.lin = <int *> malloc(N * sizeof(int))
    w.xn = <double *> malloc(N * C * sizeof(double))
    w.yn = <double *> malloc(N * C * sizeof(double))
    w.Fs = <double *> malloc(N * sizeof(double))
    w.p = <double *> malloc(C * sizeof(double))
    w.q = <double *> malloc(C * sizeof(double))
    w.Dv = <double *> malloc(C * sizeof(double))
    w.Ev = <double *> malloc(C * sizeof(double))
    w.E0 = <double *> malloc(N * C * sizeof(double))
    w.floor = <double *> malloc(C * sizeof(double))
    w.ceil = <double *> malloc(C * sizeof(double))
    w.fac = <double *> malloc(4 * N * C * sizeof(double))
    w.zx = <double *> malloc(M * sizeof(double))
    w.ox = <double *> malloc(N * C * sizeof(double))
    return 0


cdef void free_work(Work *w) noexcept nogil:
    free(w.scale); free(w.iscale); free(w.ystar); free(w.R); free(w.Rn); free(w.Bd)
    free(w.Lo); free(w.ud); free(w.gv); free(w.du); free(w.piv); free(w.lin)
    free(w.xn); free(w.yn); free(w.Fs); free(w.p); free(w.q)
    free(w.Dv); free(w.Ev); free(w.E0); free(w.floor); free(w.ceil)
    free(w.fac); free(w.zx); free(w.ox)


cdef void set_floor(Net *nt, Work *w) noexcept nogil:
    """Concentrations below CONC_FLOOR x (throughput / mean flow) are zero for all
    purposes; the floor keeps the arithmetic out of subnormal numbers."""
    cdef int j, i
    cdef double tot = 0.0
    for j in range(nt.N):
        tot += nt.aq_out[j] + nt.org_out[j]
    tot = tot / nt.N
    if tot < 1e-300:
        tot = 1e-300
    for i in range(w.C):
        w.floor[i] = CONC_FLOOR * w.scale[i] / tot
        w.ceil[i] = CONC_CEIL * w.scale[i] / tot
    for i in range(w.M):
        w.iscale[i] = 1.0 / w.scale[i if i < w.C else i - w.C]


cdef void cold_start(Net *nt, Chem *ch, double *scale, int C, double *x) noexcept nogil:
    """A flat profile: every stage holds the cascade's feed spread over both phases;
    where acid is modelled, capped so that half the anions stay balanced by H+."""
    cdef int N = nt.N, j, i
    cdef double tot = 0.0, zx, f
    for j in range(N):
        tot += nt.aq_out[j] + nt.org_out[j]
    tot = tot / N
    if tot < 1e-300:
        tot = 1e-300
    for j in range(N):
        zx = 0.0
        for i in range(C):
            x[j * C + i] = scale[i] / tot / 2.0
            zx += ch.z[i] * x[j * C + i]
        if ch.use_ph and zx > 0.0:
            f = 0.5 * ch.Q[j] / zx
            if f < 1.0:
                for i in range(C):
                    x[j * C + i] *= f


cdef void flat_start(Net *nt, Chem *ch, Work *w, double *x, double *y,
                     double *F) noexcept nogil:
    """x, y, F set to the flat cold-start profile (organic empty, every site free);
    the start of every cold path, whatever they held before (see the twin)."""
    cdef int j, k
    cold_start(nt, ch, w.scale, ch.C, x)
    for k in range(nt.N * ch.C):
        y[k] = 0.0
    for j in range(nt.N):
        F[j] = ch.cap[j] / (ch.sigma[j] if ch.sigma[j] > 0 else 1.0)


cdef double initial_shift(Net *nt, Chem *ch) noexcept nogil:
    """Shift of log10 D that makes every stage's extraction factor O D / A <= 0.1."""
    cdef int N = nt.N, C = ch.C, j, i
    cdef double worst = -1e300, pH, lf, lD, v, h = 1.0, dh = 0.0, ef, oo, aa
    for j in range(N):
        pH = 0.0
        if ch.use_ph:
            acid(ch.Q[j], ch.ST[j], ch.ka, 0.0, &h, &dh)
            pH = -log10(h) if h > 0 else 0.0
        lf = log10(ch.cap[j] / ch.sigma[j]) if (ch.use_F and ch.sigma[j] > 0) else 0.0
        lD = -1e300
        for i in range(C):
            v = ch.a[j * C + i] * pH + ch.c[j * C + i] + ch.d[j * C + i] * lf
            if v > lD:
                lD = v
        oo = nt.org_out[j] if nt.org_out[j] > 1e-300 else 1e-300
        aa = nt.aq_out[j] if nt.aq_out[j] > 1e-300 else 1e-300
        ef = lD + log10(oo / aa)
        if ef > worst:
            worst = ef
    v = -1.0 - worst
    return v if v < 0.0 else 0.0


cdef void linear_profiles(Net *nt, double *ext_aq, double *ext_org, double *D,
                          int C, double *x, double *cp, double *floor) noexcept nogil:
    """Aqueous profile of every component for a D profile (N x C, one per
    component): Thomas per component."""
    cdef int N = nt.N, j, i
    cdef double bj, den
    for i in range(C):
        # row j: aq_pass[j+1] x_{j+1} + org_pass[j-1] D_{j-1} x_{j-1}
        #        - (aq_out[j] + org_out[j] D_j) x_j = -ext_j
        for j in range(N):
            bj = -(nt.aq_out[j] + nt.org_out[j] * D[j * C + i])
            den = bj
            if j > 0:
                den -= nt.org_pass[j - 1] * D[(j - 1) * C + i] * cp[j - 1]
            cp[j] = (nt.aq_pass[j + 1] / den) if j + 1 < N else 0.0
            x[j * C + i] = -(ext_aq[j * C + i] + ext_org[j * C + i])
            if j > 0:
                x[j * C + i] -= nt.org_pass[j - 1] * D[(j - 1) * C + i] * x[(j - 1) * C + i]
            x[j * C + i] /= den
        for j in range(N - 2, -1, -1):
            x[j * C + i] -= cp[j] * x[(j + 1) * C + i]
        for j in range(N):
            x[j * C + i] = fmax(x[j * C + i], floor[i])


cdef void chem_like(Chem *out, Chem *src, int C, double *buf, int N) noexcept nogil:
    """out shares src's site/acid data; a, b, c, d, nu (N*C) and z (C) live in buf."""
    out[0] = src[0]
    out.C = C
    out.a = buf
    out.b = buf + N * C
    out.c = buf + 2 * N * C
    out.d = buf + 3 * N * C
    out.nu = buf + 4 * N * C
    out.z = buf + 5 * N * C


cdef int cold_solve(Net *nt, Chem *full, Work *w, double *x, double *y, double *h,
                    double *F, double tol, int max_iter, double *info) noexcept nogil:
    """Cold start: lumped-component continuation, then pull the components apart."""
    cdef int N = nt.N, C = full.C, j, i, k, st, shortcut = 0
    cdef double stot = 0.0, wi, s0
    cdef Chem lbase, ltarget, lcur, base, cur
    cdef Work wl
    cdef double *lb = <double *> malloc((5 * N + 1) * sizeof(double))
    cdef double *lt = <double *> malloc((5 * N + 1) * sizeof(double))
    cdef double *lc = <double *> malloc((5 * N + 1) * sizeof(double))
    cdef double *bb = <double *> malloc((5 * N * C + C) * sizeof(double))
    cdef double *cb = <double *> malloc((5 * N * C + C) * sizeof(double))
    cdef double *extl = <double *> malloc(2 * N * sizeof(double))
    cdef double *xl = <double *> malloc(N * sizeof(double))
    cdef double *yl = <double *> malloc(N * sizeof(double))
    cdef double *Dl = <double *> malloc(N * sizeof(double))
    cdef double *cp = <double *> malloc(N * sizeof(double))
    cdef double *DC = <double *> malloc(N * C * sizeof(double))
    cdef double *Fl = <double *> malloc(N * sizeof(double))
    cdef double *hl = <double *> malloc(N * sizeof(double))
    cdef double pH
    for i in range(C):
        stot += w.scale[i]
    chem_like(&ltarget, full, 1, lt, N)
    for j in range(N):
        ltarget.a[j] = 0.0; ltarget.b[j] = 0.0; ltarget.c[j] = 0.0
        ltarget.d[j] = 0.0; ltarget.nu[j] = 0.0
        extl[j] = 0.0
        extl[N + j] = 0.0
        for i in range(C):
            # feed-weighted means, taken about the first component so that a
            # parameter all components share is kept exactly (d = 1 stays 1 and the
            # closed-form site balance applies)
            wi = w.scale[i] / stot
            ltarget.a[j] += wi * (full.a[j * C + i] - full.a[j * C])
            ltarget.b[j] += wi * (full.b[j * C + i] - full.b[j * C])
            ltarget.c[j] += wi * (full.c[j * C + i] - full.c[j * C])
            ltarget.d[j] += wi * (full.d[j * C + i] - full.d[j * C])
            ltarget.nu[j] += wi * (full.nu[j * C + i] - full.nu[j * C])
            extl[j] += w.ext_aq[j * C + i]
            extl[N + j] += w.ext_org[j * C + i]
        ltarget.a[j] += full.a[j * C]
        ltarget.b[j] += full.b[j * C]
        ltarget.c[j] += full.c[j * C]
        ltarget.d[j] += full.d[j * C]
        ltarget.nu[j] += full.nu[j * C]
    ltarget.z[0] = full.z[0]
    for i in range(C):
        ltarget.z[0] += w.scale[i] / stot * (full.z[i] - full.z[0])
    s0 = initial_shift(nt, &ltarget)
    chem_like(&lbase, &ltarget, 1, lb, N)
    memcpy(lb, lt, (5 * N + 1) * sizeof(double))
    for j in range(N):
        lbase.c[j] += s0
    chem_like(&lcur, &ltarget, 1, lc, N)
    alloc_work(&wl, N, 1, w.murphree)
    wl.info_size = w.info_size
    wl.scale[0] = stot
    set_floor(nt, &wl)
    wl.ext_aq = extl
    wl.ext_org = extl + N
    cold_start(nt, &ltarget, wl.scale, 1, xl)
    for j in range(N):
        yl[j] = 0.0
    # the lumped cascade is cheap (1x1 blocks): try it directly first (this suits
    # acid-limited pH models), then by the affinity continuation
    memcpy(Dl, F, N * sizeof(double))
    st = NOT_CONVERGED
    if full.use_ph:
        st = newton(nt, &ltarget, &wl, xl, yl, h, F, tol, LUMPED_DIRECT_ITER, tol, info,
                    MAX_HALVINGS, 0.0)
    if st != OK:
        cold_start(nt, &ltarget, wl.scale, 1, xl)
        for j in range(N):
            yl[j] = 0.0
        memcpy(F, Dl, N * sizeof(double))
        st = track(nt, &lcur, &lbase, &ltarget, &wl, xl, yl, h, F, tol, max_iter, info)
    free_work(&wl)
    if st == OK and not w.murphree:
        # shortcut (see the twin): at the lumped cascade's free sites and [H+] each
        # component's own D gives its profile exactly; Newton on the real problem
        # from there is kept only while it takes full steps (halvings = 1)
        memcpy(Fl, F, N * sizeof(double))
        memcpy(hl, h, N * sizeof(double))
        for j in range(N):
            pH = -log10(h[j]) if full.use_ph else 0.0
            for i in range(C):
                w.Ev[i] = exp(LN10 * (full.a[j * C + i] * pH + full.c[j * C + i]))
            if full.use_F:
                dist(C, w.Ev, full.b + j * C, full.d + j * C, F[j], pH, DC + j * C)
            else:
                memcpy(DC + j * C, w.Ev, C * sizeof(double))
        linear_profiles(nt, w.ext_aq, w.ext_org, DC, C, x, cp, w.floor)
        for k in range(N * C):
            y[k] = DC[k] * x[k]
        shortcut = newton(nt, full, w, x, y, h, F, tol, STEP_ITER, tol, info, 1,
                          0.0) == OK
        if not shortcut:
            memcpy(F, Fl, N * sizeof(double))
            memcpy(h, hl, N * sizeof(double))
    if st == OK and not shortcut:
        # t = 0 of the full problem: every component sees the lumped D profile
        for j in range(N):
            Dl[j] = yl[j] / xl[j]
            for i in range(C):
                DC[j * C + i] = Dl[j]
        linear_profiles(nt, w.ext_aq, w.ext_org, DC, C, x, cp, w.floor)
        for j in range(N):
            for i in range(C):
                y[j * C + i] = x[j * C + i] * Dl[j]
        chem_like(&base, full, C, bb, N)
        for j in range(N):
            for i in range(C):
                base.a[j * C + i] = ltarget.a[j]
                base.b[j * C + i] = ltarget.b[j]
                base.c[j * C + i] = ltarget.c[j]
                base.d[j * C + i] = ltarget.d[j]
                base.nu[j * C + i] = ltarget.nu[j]
        for i in range(C):
            base.z[i] = ltarget.z[0]
        chem_like(&cur, full, C, cb, N)
        st = track(nt, &cur, &base, full, w, x, y, h, F, tol, max_iter, info)
    free(lb); free(lt); free(lc); free(bb); free(cb); free(extl); free(xl)
    free(yl); free(Dl); free(cp); free(DC); free(Fl); free(hl)
    return st


cdef void state_copy(double *keep, double *x, double *y, double *h, double *F,
                     double *info, int NC, int N, int ni, int save) noexcept nogil:
    """A solve's state (x, y, h, F, info) saved to keep (save = 1) or back."""
    cdef double *parts[5]
    cdef int sizes[5]
    cdef int p, off = 0
    parts[0] = x; parts[1] = y; parts[2] = h; parts[3] = F; parts[4] = info
    sizes[0] = NC; sizes[1] = NC; sizes[2] = N; sizes[3] = N; sizes[4] = ni
    for p in range(5):
        if save:
            memcpy(keep + off, parts[p], sizes[p] * sizeof(double))
        else:
            memcpy(parts[p], keep + off, sizes[p] * sizeof(double))
        off += sizes[p]


cdef int polish(Net *nt, Chem *full, Work *w, double *x, double *y, double *h,
                double *F, double tol, double *info, int st) noexcept nogil:
    """Trace polish of a converged nonlinear solve whose relative correction has
    not reached max(tol, REL_TOL): rounds of (every component's balances solved
    exactly at the solution's own D, Newton from there), the best kept (see the
    twin's _polish).  Returns the status."""
    cdef int N = nt.N, C = full.C, k, r, s, NC = nt.N * full.C
    cdef double rel_tol = tol if tol > REL_TOL else REL_TOL
    cdef double best, total
    cdef double *keep
    if (st != OK or w.murphree or w.info_size <= INFO_RELSTEP
            or info[INFO_RELSTEP] <= rel_tol):
        return st
    keep = <double *> malloc((2 * NC + 2 * N + w.info_size) * sizeof(double))
    if keep == NULL:
        return st
    best = info[INFO_RELSTEP]
    state_copy(keep, x, y, h, F, info, NC, N, w.info_size, 1)
    for r in range(POLISH_ROUNDS):
        for k in range(NC):
            w.E0[k] = y[k] / x[k]
        if linear_exact_D(nt, full, w, x, y, info) != OK:
            break
        s = newton(nt, full, w, x, y, h, F, tol, POLISH_ITER, tol, info,
                   MAX_HALVINGS, 0.0)
        if s != OK:
            break
        if info[INFO_RELSTEP] < best:
            best = info[INFO_RELSTEP]
            state_copy(keep, x, y, h, F, info, NC, N, w.info_size, 1)
        if best <= rel_tol:
            break
    total = info[INFO_TOTAL]
    state_copy(keep, x, y, h, F, info, NC, N, w.info_size, 0)
    info[INFO_TOTAL] = total
    free(keep)
    return OK


cdef double *_data(object a, Py_ssize_t n, str name, bint out) except NULL:
    """Data pointer of a C-contiguous float64 array of n values (outputs writeable).

    Checked by hand instead of through typed memoryviews: acquiring 27 memoryviews
    cost ~14 us per call (a warm-started call on the 80-stage case went from 47 to
    33 us)."""
    cdef cnp.ndarray arr
    if (not cnp.PyArray_Check(a) or cnp.PyArray_TYPE(<cnp.ndarray> a) != cnp.NPY_DOUBLE
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray> a)
            or cnp.PyArray_SIZE(<cnp.ndarray> a) != n
            or (out and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray> a))):
        raise ValueError(
            f"solve_cascade: {name} must be a C-contiguous float64 array of {n} values"
            + (" (writeable)" if out else "") + f", got {type(a).__name__} "
            + (f"{a.dtype} shape {a.shape}" if isinstance(a, np.ndarray) else ""))
    arr = <cnp.ndarray> a
    return <double *> cnp.PyArray_DATA(arr)


def solve_cascade(aq_out, aq_pass, org_out, org_pass, org_in, ext_aq, ext_org, a, b,
                  c, d, nu, sigma, cap, z, Q, ST, double ka, eff, int use_ph,
                  int use_F, x, y, h, F, double tol, int max_iter, info,
                  int limits=0):
    """Solve the steady state of one cascade in place (see the pure twin).

    Arrays: float64, C-contiguous; x (N, C) sets N and C, the others must match
    (stage vectors N, stage x component arrays N x C, z C); x, y, h, F, info are
    written.  limits: bits restricting the starts (see the twin): 1 a failed warm
    start returns its status (no cold start), 2 no pseudo-transient fallback, 4
    pH models held in the acid medium (no second round), 8 pH models over the
    whole domain at once (no first round held in the acid medium), 16 a warm
    start runs the pseudo-transient from x instead of plain Newton."""
    if not isinstance(x, np.ndarray) or (<cnp.ndarray> x).ndim != 2:
        raise ValueError("solve_cascade: x must be a 2-D float64 array (stages x components)")
    cdef int N = x.shape[0], C = x.shape[1], j, i, st = OK, murphree = 0, warm = 1
    cdef double *keep = NULL
    cdef Net nt
    cdef Chem full
    cdef Work w
    cdef double *px = _data(x, N * C, "x", True)
    cdef double *py = _data(y, N * C, "y", True)
    cdef double *ph = _data(h, N, "h", True)
    cdef double *pF = _data(F, N, "F", True)
    cdef int info_size = INFO_RELSTEP + 1
    if isinstance(info, np.ndarray) and info.size == INFO_PATH + 1:
        info_size = INFO_PATH + 1   # a caller built before INFO_RELSTEP existed
    cdef double *pinfo = _data(info, info_size, "info", True)
    cdef double *peff = _data(eff, N, "eff", False)
    cdef double *pea = _data(ext_aq, N * C, "ext_aq", False)
    cdef double *peo = _data(ext_org, N * C, "ext_org", False)
    for j in range(N):
        if peff[j] < 1.0:
            murphree = 1
    for j in range(N * C):
        if px[j] < 0.0:
            warm = 0
    nt.N = N
    nt.aq_out = _data(aq_out, N, "aq_out", False)
    nt.aq_pass = _data(aq_pass, N, "aq_pass", False)
    nt.org_out = _data(org_out, N, "org_out", False)
    nt.org_pass = _data(org_pass, N, "org_pass", False)
    nt.org_in = _data(org_in, N, "org_in", False)
    full.C = C
    full.a = _data(a, N * C, "a", False)
    full.b = _data(b, N * C, "b", False)
    full.c = _data(c, N * C, "c", False)
    full.d = _data(d, N * C, "d", False)
    full.nu = _data(nu, N * C, "nu", False)
    full.z = _data(z, C, "z", False)
    full.sigma = _data(sigma, N, "sigma", False)
    full.cap = _data(cap, N, "cap", False)
    full.Q = _data(Q, N, "Q", False)
    full.ST = _data(ST, N, "ST", False)
    full.ka = ka
    full.eff = peff
    full.use_ph = use_ph; full.use_F = use_F
    alloc_work(&w, N, C, murphree)
    w.info_size = info_size
    w.ext_aq = pea
    w.ext_org = peo
    for i in range(C):
        w.scale[i] = 0.0
        for j in range(N):
            w.scale[i] += pea[j * C + i] + peo[j * C + i]
        if w.scale[i] < 1e-300:
            w.scale[i] = 1e-300
    set_floor(&nt, &w)
    pinfo[INFO_HOMOTOPY] = 0
    pinfo[INFO_TOTAL] = 0
    try:
        if not (use_ph or use_F or murphree):
            # linear: exact subtraction-free elimination (see the twin)
            pinfo[INFO_PATH] = PATH_EXACT
            if linear_exact(&nt, &full, &w, px, py, pinfo) == OK:
                for j in range(N):
                    ph[j] = 1.0
                    pF[j] = 1.0
                return OK
        if not use_ph or limits & 8:
            return run_starts(&nt, &full, &w, px, py, ph, pF, tol, max_iter, pinfo,
                              warm, limits)
        # pH models: a first round held in the acid medium, a second over the
        # whole domain where it fails (see the twin); a warm start's x, y, F
        # kept for it (a cold round sets its own flat start)
        if warm:
            keep = <double *> malloc((2 * N * C + N) * sizeof(double))
            if keep == NULL:
                raise MemoryError()
            memcpy(keep, px, N * C * sizeof(double))
            memcpy(keep + N * C, py, N * C * sizeof(double))
            memcpy(keep + 2 * N * C, pF, N * sizeof(double))
        if warm and basic_profile(&full, N, px):
            # a basic warm start: Newton from it over the whole domain first
            if not limits & 4:
                st = run_starts(&nt, &full, &w, px, py, ph, pF, tol, max_iter, pinfo,
                                1, limits | 1)
                if st == OK or limits & 1:
                    return st
                restore(keep, px, py, pF, N, C)
            elif limits & 1:
                full.use_ph = 2
                return run_starts(&nt, &full, &w, px, py, ph, pF, tol, max_iter,
                                  pinfo, 1, limits)
            warm = 0
        full.use_ph = 2
        st = run_starts(&nt, &full, &w, px, py, ph, pF, tol, max_iter, pinfo, warm,
                        limits)
        if st != OK and not limits & 4:
            full.use_ph = 1
            if warm:
                restore(keep, px, py, pF, N, C)
            st = run_starts(&nt, &full, &w, px, py, ph, pF, tol, max_iter, pinfo,
                            warm, limits)
        return st
    finally:
        free(keep)
        free_work(&w)


cdef inline void restore(double *keep, double *x, double *y, double *F, int N,
                         int C) noexcept nogil:
    memcpy(x, keep, N * C * sizeof(double))
    memcpy(y, keep + N * C, N * C * sizeof(double))
    memcpy(F, keep + 2 * N * C, N * sizeof(double))


cdef int basic_profile(Chem *ch, int N, double *x) noexcept nogil:
    """1 where a stage of the profile x has H_T = Q - sum z x <= 0 (basic)."""
    cdef int C = ch.C, j, i
    cdef double zx
    for j in range(N):
        zx = 0.0
        for i in range(C):
            zx += ch.z[i] * x[j * C + i]
        if not ch.Q[j] - zx > 0.0:
            return 1
    return 0


cdef int transient_start(Net *nt, Chem *full, Work *w, double *px, double *py,
                         double *ph, double *pF, double tol, double *pinfo,
                         int flat) noexcept nogil:
    """Pseudo-transient steps from the caller's profile, or (flat) from a flat
    one: the twin's _transient_start."""
    pinfo[INFO_PATH] = 3
    if flat:
        flat_start(nt, full, w, px, py, pF)
    return newton(nt, full, w, px, py, ph, pF, tol,
                  TRANSIENT_ITER, tol, pinfo, MAX_HALVINGS, 1.0)


cdef int run_starts(Net *nt, Chem *full, Work *w, double *px, double *py, double *ph,
                    double *pF, double tol, int max_iter, double *pinfo, int warm,
                    int limits) noexcept nogil:
    """The starts of a nonlinear solve in turn (see the twin's _run_starts)."""
    cdef int st
    if warm and limits & 16:
        # the pseudo-transient from the caller's profile (see the twin)
        st = transient_start(nt, full, w, px, py, ph, pF, tol, pinfo, 0)
        if st == OK or limits & 1:
            return polish(nt, full, w, px, py, ph, pF, tol, pinfo, st)
    elif warm:
        pinfo[INFO_PATH] = 0
        st = newton(nt, full, w, px, py, ph, pF, tol,
                    max_iter, tol, pinfo, MAX_HALVINGS, 0.0)
        if st == OK or limits & 1:
            return polish(nt, full, w, px, py, ph, pF, tol, pinfo, st)
    # nothing a failed warm start left (x, y or F) carries into the cold start
    flat_start(nt, full, w, px, py, pF)
    if not (full.use_ph or full.use_F):
        pinfo[INFO_PATH] = 1
        return newton(nt, full, w, px, py, ph, pF, tol,
                      max_iter, tol, pinfo, MAX_HALVINGS, 0.0)
    pinfo[INFO_PATH] = 2
    st = cold_solve(nt, full, w, px, py, ph, pF, tol, max_iter, pinfo)
    if st != OK and not limits & 2:
        # fallback: pseudo-transient steps from a flat profile (see the twin)
        st = transient_start(nt, full, w, px, py, ph, pF, tol, pinfo, 1)
    return polish(nt, full, w, px, py, ph, pF, tol, pinfo, st)


def _invert_block(a, int way=0):
    """Inverse of a square float64 block (size 1..16) by the kernel's own loops
    (tests only): way 0 as the solves choose, 1 the pivoting loop, 2 the blocked
    loop.  Returns (status, inverse); status -1: that way is not built here."""
    cdef double[:, ::1] A = np.array(a, dtype=np.float64, order="C", copy=True)
    cdef int M = A.shape[0], st
    cdef int piv[16]
    if A.shape[1] != M or not 1 <= M <= 16:
        raise ValueError("a must be square, of size 1..16, got shape %r" % (a.shape,))
    st = bt_invert_test(M, &A[0, 0], piv, way)
    return st, np.asarray(A)
