"""Pseudo-arclength continuation of a cascade's steady state: the kernel's last resort.

Where neither the kernel's own starts nor the natural-parameter walks of
:class:`rexopt.cascade.Cascade` reach a steady state, the steady state is followed
from a cascade the kernel does solve (arrays ``A0``, profile ``x0``) to the case's
(arrays ``A1``) along the homotopy

    H(u, p) = R(u; A(p)) = 0,    A(p) = (1 - p) A0 + p A1,    p: 0 -> 1

over every array of the kernel call (flows, external inflows, distribution-law
parameters); R are the stage balances, each divided by its own gross flow, and
u = ln x.  A natural-parameter walk (fix p, solve for u) stops where the branch is
steep or turns back (dp/ds -> 0: a fold, or tens of decades of a front moving for a
change of p of 1e-4); the arclength s, with

    mean((du/ds)^2) + (dp/ds)^2 = 1,

passes both.  Each step predicts along the tangent and corrects by Newton on the
bordered system

    [ H_u        H_p ] [du]     [ H                         ]
    [ t_u^T / n  t_p ] [dp] = - [ t . (w - w_pred) (weighted) ]

(bordering: two solves with one banded LU of H_u, LAPACK gbtrf; H_p by central
differences in p).  Only components above
``TRACE_FRACTION`` of their throughput at a stage are unknowns: the others change
nothing in any balance of the majors, and their (log) columns would be null
directions of the tangent; at every accepted point the exact elimination at frozen
D = y / x (the kernel's own trace solve) gives them, and the whole stage profile of
any component below the floor somewhere, so that the unknowns next to a trace agree
with it.  When p passes 1
the point is interpolated and corrected at p = 1; the caller then solves the case
with the kernel warm from that profile, so the answer is the kernel's, with all its
acceptance tests, and the path changes nothing in it.

Written once, in Python, on the pure twin's stage equilibrium: the compiled and
the pure kernel take the same path here.  Not for Murphree stages (the organic
is then an unknown of its own): :func:`follow` says so.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from rexopt import watch
from rexopt._pure import cascade as _pc

NET_ARRAYS = ("aq_out", "aq_pass", "org_out", "org_pass", "org_in", "ext_aq", "ext_org")
PAR_ARRAYS = ("a", "b", "c", "d", "nu", "sigma", "cap", "Q", "ST")
# unknowns: concentrations above this x (throughput / mean stage flow) [mol/L]
TRACE_FRACTION = 1e-40
ROW_FLOOR = 1e-60  # gross-flow scale floor of a balance, x the throughput
MAX_STEPS = 5000  # accepted and rejected arclength steps of one path
DS_MAX = 4.0  # largest step (rms change of ln x, or of p)
DS_MIN = 1e-7
CORRECTOR_ITER = 8
CORRECTOR_TOL = 1e-9  # scaled residual accepted on the path
LANDING_TOL = 1e-11  # ... and at p = 1
MAX_LOG_STEP = 2.0  # largest Newton change of one ln x in a corrector iteration
DP_EPS = 1e-6  # forward-difference step of H_p
# a path that ends (MAX_STEPS) with p moved less than RUNOFF_DP over its last
# RUNOFF_STEPS accepted steps is vertical there: the profile moves at a fixed
# parameter (a front crossing the stages, or a concentration running to 0 or
# without bound); the report says what moved most.  Not a reason to stop: such
# stretches last over 1,000 steps on paths that then reach the case.
RUNOFF_STEPS = 300
RUNOFF_DP = 1e-9
_LN10 = math.log(10.0)


class _Homotopy:
    """H(u, p) on the unknowns ``m`` (a mask over the N x C profile)."""

    def __init__(self, net0, par0, net1, par1, x0, F0):
        self.a0 = {k: np.asarray(getattr(net0, k), float) for k in NET_ARRAYS}
        self.a1 = {k: np.asarray(getattr(net1, k), float) for k in NET_ARRAYS}
        for k in PAR_ARRAYS:
            self.a0[k] = np.asarray(par0[k], float)
            self.a1[k] = np.asarray(par1[k], float)
        self._da = {k: self.a1[k] - self.a0[k] for k in self.a0}
        self._arrays = {}  # p -> arrays(p), the last few
        self.z = np.asarray(net1.z, float)
        self.ka = float(par1["ka"])
        self.use_ph = int(par1["use_ph"])
        self.use_F = int(par1["use_F"])
        self.N, self.C = net1.ext_aq.shape
        ext = self.a1["ext_aq"] + self.a1["ext_org"]
        self.scale = np.maximum(ext.sum(axis=0), 1e-300)  # throughput [mol/h]
        flows = self.a1["aq_out"] + self.a1["org_out"]
        self.flow = max(float(flows.mean()), 1e-300)  # mean stage flow [L/h]
        self.F = np.array(F0, float)
        self.lnx = np.log(np.maximum(x0, 1e-300)).ravel()
        self.S = None
        self.failure = None  # why the last stage equilibrium failed
        self.m = None  # the unknowns (remask)
        self._pattern = None  # their band placement (_band_pattern), once per mask
        self.remask()
        N, C = self.N, self.C
        # block tridiagonal pattern of the full Jacobian (diagonal, upper, lower)
        ii, kk = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
        j = np.arange(N)[:, None, None]
        self._rows = np.concatenate(
            [(j * C + ii).ravel(), (j[:-1] * C + ii).ravel(), (j[1:] * C + ii).ravel()]
        )
        self._cols = np.concatenate(
            [
                (j * C + kk).ravel(),
                ((j[:-1] + 1) * C + kk).ravel(),
                ((j[1:] - 1) * C + kk).ravel(),
            ]
        )

    def remask(self):
        floor = TRACE_FRACTION * np.tile(self.scale / self.flow, self.N)
        m = np.exp(self.lnx) > floor
        if self.m is None or not np.array_equal(m, self.m):
            self._pattern = None
        self.m = m

    def arrays(self, p):
        # a0 + p (a1 - a0): an array the two ends share stays exactly itself.
        # The last few p asked for are kept (a step asks for p and p + DP_EPS
        # again and again), read-only: no caller may change them
        got = self._arrays.get(p)
        if got is None:
            got = {}
            for k, a0 in self.a0.items():
                a = a0 + p * self._da[k]
                a.flags.writeable = False
                got[k] = a
            if len(self._arrays) >= 4:
                self._arrays.pop(next(iter(self._arrays)))
            self._arrays[p] = got
        return got

    def organic(self, x, A, jac):
        """Stage equilibrium at every stage: y (N, C) and, with jac, dy/dx blocks."""
        out = stage_equilibrium(
            x, A, self.z, self.ka, self.use_ph, self.use_F, self.F, jac
        )
        if isinstance(out, str):
            self.failure = out
            return None, None
        y, self.F, G = out
        return y, G

    def full(self, um):
        u = self.lnx.copy()
        u[self.m] = um
        return np.exp(u.reshape(self.N, self.C))

    def residual(self, um, p, jac=False):
        """Scaled stage balances on the unknowns (and their Jacobian in ln x)."""
        A = self.arrays(p)
        x = self.full(um)
        y, G = self.organic(x, A, jac)
        if y is None:
            return (None, None) if jac else None
        r = A["ext_aq"] + A["ext_org"] - A["aq_out"][:, None] * x
        r -= A["org_out"][:, None] * y
        r[:-1] += A["aq_pass"][1:, None] * x[1:]
        r[1:] += A["org_pass"][:-1, None] * y[:-1]
        if self.S is None:  # gross flow of every balance, frozen over one step
            g = A["ext_aq"] + A["ext_org"] + A["aq_out"][:, None] * x
            g += A["org_out"][:, None] * y
            g[:-1] += A["aq_pass"][1:, None] * x[1:]
            g[1:] += A["org_pass"][:-1, None] * y[:-1]
            self.S = np.maximum(g, ROW_FLOOR * self.scale[None, :])
        r = (r / self.S).ravel()[self.m]
        if not jac:
            return r
        C = self.C
        eye = np.eye(C)
        diag = -A["aq_out"][:, None, None] * eye - A["org_out"][:, None, None] * G
        up = A["aq_pass"][1:, None, None] * np.broadcast_to(eye, (self.N - 1, C, C))
        lo = A["org_pass"][:-1, None, None] * G[:-1]
        # d/d ln x_k = x_k d/dx_k; rows divided by their gross flows
        xs = x[:, None, :]
        Sr = self.S[:, :, None]
        vals = np.concatenate(
            [
                (diag * xs / Sr).ravel(),
                (up * xs[1:] / Sr[:-1]).ravel(),
                (lo * xs[:-1] / Sr[1:]).ravel(),
            ]
        )
        if self._pattern is None:
            self._pattern = _band_pattern(self._rows, self._cols, self.m)
        return r, _Band(vals, self._pattern)

    def dp(self, um, p, mid):
        """H_p by a forward difference from ``mid`` = H(um, p) (the residual the
        caller has just evaluated with the same row scales); backward where
        p + eps has no stage equilibrium (a stage loaded to its capacity).  Its
        O(DP_EPS) error only slows the corrector's last digits (the corrector
        accepts on the residual itself) and tilts the predictor's tangent."""
        a = self.residual(um, p + DP_EPS)
        if a is not None:
            return (a - mid) / DP_EPS
        b = self.residual(um, p - DP_EPS)
        return None if b is None else (mid - b) / DP_EPS

    def fill(self, um, p):
        """Traces from the exact elimination at frozen D = y / x; new unknowns."""
        A = self.arrays(p)
        x = self.full(um)
        y, _ = self.organic(x, A, False)
        if y is None:
            return False
        xs = np.empty_like(x)
        ys = np.empty_like(x)
        info = np.zeros(_pc.INFO_SIZE)
        net = tuple(A[k] for k in NET_ARRAYS[:5])
        with np.errstate(all="ignore"):
            D = y / x
        st = _pc._linear_exact_D(
            net, A["ext_aq"], A["ext_org"], D, self.scale, xs, ys, info
        )
        u = self.lnx.copy()
        u[self.m] = um
        if st == _pc.OK:
            # a component below the floor at some stage takes the elimination's
            # whole column: its unknowns next to a trace must agree with that trace
            # (the elimination at D frozen at this point reproduces the unknowns to
            # their corrector residual), else the balance at the edge of the mask
            # starts the next step off by the trace's move over this one
            lx = np.log(xs)
            part = (~self.m).reshape(self.N, self.C).any(axis=0)
            u = u.reshape(self.N, self.C)
            u[:, part] = lx[:, part]
            u = u.ravel()
        self.lnx = u
        self.remask()
        return True


class _Band:
    """H_u on the unknowns as a banded matrix (stage-major order: bandwidth below
    2C), factored once by LAPACK (gbtrf) for any number of right-hand sides.
    ``pattern`` is :func:`_band_pattern`'s for the unknowns' mask (kept by the
    homotopy until the mask changes: the placement is the same at every step)."""

    def __init__(self, vals, pattern):
        keep, pos, shape, self.kl, self.ku = pattern
        self.n = shape[1]
        ab = np.zeros(shape)
        ab.ravel()[pos] = vals[keep]  # the pattern has no duplicates
        self.ab = ab
        self.lu = None

    def solve(self, b):
        """Solution of H_u z = b (b: (n,) or (n, k)); None if singular."""
        from scipy.linalg import lapack

        if self.lu is None:
            lu, piv, info = lapack.dgbtrf(self.ab, self.kl, self.ku)
            if info != 0:
                return None
            self.lu = (lu, piv)
        lu, piv = self.lu
        z, info = lapack.dgbtrs(lu, self.kl, self.ku, b, piv)
        if info != 0 or not np.all(np.isfinite(z)):
            return None
        return z


def _band_pattern(rows, cols, m):
    """Where the Jacobian's values ``vals`` (at ``rows``, ``cols`` of the full
    N C x N C pattern) go in LAPACK's band storage of the unknowns ``m``: (the
    entries kept, their flat positions, the storage's shape, kl, ku)."""
    idx = np.cumsum(m) - 1
    keep = m[rows] & m[cols]
    i, j = idx[rows[keep]], idx[cols[keep]]
    n = int(m.sum())
    kl = int(max(np.max(i - j, initial=0), 0))
    ku = int(max(np.max(j - i, initial=0), 0))
    shape = (2 * kl + ku + 1, n)
    return keep, (kl + ku + i - j) * n + j, shape, kl, ku


def _bordered(J, hp, c, d, f, g):
    """Solve [[J, hp], [c^T, d]] [du; dp] = [f; g] by bordering (Keller): two
    solves with J's one factorization.  None if singular."""
    Z = J.solve(np.column_stack([f, hp]))
    if Z is None:
        return None
    zf, zh = Z[:, 0], Z[:, 1]
    den = d - c @ zh
    if not (den != 0.0 and math.isfinite(den)):
        return None
    dp = (g - c @ zf) / den
    return np.concatenate([zf - dp * zh, [dp]])


def acid_arrays(HT, ST, ka):
    """The pure twin's ``_acid`` at every stage at once: free [H+] and
    d[H+]/dH_T from the total acidity H_T = [H+] + [HSO4-] - [OH-]. [mol/L]"""
    KW = _pc.KW
    with np.errstate(all="ignore"):
        sul = ST > 0.0
        c = np.where(sul, 1.0 + ST / ka, 1.0)
        disc = np.sqrt(HT * HT + 4.0 * c * KW)
        # the root (ST = 0) or a point below it (sulfate; see _acid)
        x = np.where(HT > 0.0, 0.5 * (HT + disc) / c, 2.0 * KW / (disc - HT))
        B = ka + ST - HT
        d2 = np.sqrt(B * B + 4.0 * ka * HT)
        h0 = np.where(B > 0.0, 2.0 * ka * HT / (B + d2), 0.5 * (d2 - B))
        up = sul & (HT > 0.0) & (h0 > x)
        x = np.where(up, h0, x)
        r = np.where(up, -KW / x, x + ST * x / (ka + x) - KW / x - HT)
        act = sul.copy()
        for _ in range(100):
            if not act.any():
                break
            fp = 1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x)
            step = -r / fp
            act &= step > 1e-15 * x
            x = np.where(act, x + step, x)
            r = x + ST * x / (ka + x) - KW / x - HT
        dh = 1.0 / (1.0 + ST * ka / ((ka + x) * (ka + x)) + KW / (x * x))
    return x, dh


def stage_equilibrium(x, A, z, ka, use_ph, use_F, Fguess, jac):
    """The pure twin's stage equilibrium (``_stage_eq``) at every stage at once.

    x (N, C) aqueous [mol/L]; A the stage parameters (a, b, c, d, nu, sigma, cap,
    Q, ST as (N, ...) arrays); Fguess (N,) free sites to start from.  Returns
    (y, F, G) with G[j] = dy_j/dx_j (or None without jac), or, where no free-site
    value closes a stage's site balance, a string saying where (the stage counted
    from 1).
    """
    N, C = x.shape
    a, b, c, d, nu = A["a"], A["b"], A["c"], A["d"], A["nu"]
    sig, cap = A["sigma"], A["cap"]
    pH = np.zeros(N)
    h = np.ones(N)
    dh = np.zeros(N)
    if use_ph:
        h, dh = acid_arrays(A["Q"] - x @ z, A["ST"], ka)
        pH = -np.log10(h)
    lnD0 = _LN10 * (a * pH[:, None] + c)
    F = np.ones(N)
    if use_F and not np.any(b) and np.all((d == 0.0) | (d == 1.0)):
        t = nu * np.exp(lnD0) * x
        num = cap - np.where(d == 0.0, t, 0.0).sum(axis=1)
        if np.any(num <= 0.0):
            return f"loading beyond capacity at stage {int(np.argmin(num)) + 1}"
        F = num / (sig + np.where(d == 1.0, t, 0.0).sum(axis=1))
        lnD = lnD0 + d * np.log(F)[:, None]
    elif use_F:
        # site balance g(F) = sig F + sum nu D(F) x - cap = 0, monotone in F:
        # safeguarded Newton on every stage at once
        hi = cap / sig
        lo = np.zeros(N)
        F = np.where((Fguess > 0.0) & (Fguess <= hi), Fguess, hi)
        act = np.ones(N, bool)  # stages still iterating
        for _ in range(200):
            lnD = lnD0 + _LN10 * b * (F * pH)[:, None] + d * np.log(F)[:, None]
            t = nu * np.exp(lnD) * x
            g = sig * F + t.sum(axis=1) - cap
            act &= ~(np.abs(g) <= 1e-15 * cap)
            if not act.any():
                break
            hi = np.where(act & (g > 0.0), F, hi)
            lo = np.where(act & ~(g > 0.0), F, lo)
            dg = sig + (t * (_LN10 * b * pH[:, None] + d / F[:, None])).sum(axis=1)
            with np.errstate(all="ignore"):
                Fn = np.where(dg > 0.0, F - g / dg, 0.5 * (lo + hi))
            out = ~((lo < Fn) & (Fn < hi))
            Fn = np.where(
                out, np.where(lo > 0.0, 0.5 * (lo + hi), 0.5 * np.minimum(F, hi)), Fn
            )
            small = np.abs(Fn - F) <= 1e-15 * F
            F = np.where(act, Fn, F)
            act &= ~small
            act &= ~(hi - lo <= 1e-15 * hi)
            if not act.any():
                break
        else:
            return f"site balance not closed at stage {int(np.argmax(act)) + 1}"
        lnD = lnD0 + _LN10 * b * (F * pH)[:, None] + d * np.log(F)[:, None]
    else:
        lnD = lnD0
    D = np.exp(lnD)
    y = D * x
    if not np.all(np.isfinite(y)):
        return "organic concentration not finite"
    if not jac:
        return y, F, None
    G = D[:, :, None] * np.eye(C)[None, :, :]
    if use_ph or use_F:
        p = (a + b * F[:, None]) * (dh / h)[:, None] if use_ph else np.zeros((N, C))
        if use_F:
            q = _LN10 * b * pH[:, None] + d / F[:, None]
            ny = nu * y
            Gd = sig + (ny * q).sum(axis=1)
            P = (ny * p).sum(axis=1)
            u = y * (p - q * (P / Gd)[:, None])
            v = -y * q / Gd[:, None]
            w = nu * D
            G += u[:, :, None] * z[None, None, :] + v[:, :, None] * w[:, None, :]
        else:
            G += (y * p)[:, :, None] * z[None, None, :]
    return y, F, G


def _ended(report, hom):
    """The report of a path that stopped short, with where it stopped: the
    aqueous profile of its last accepted point (``x_end``, mol/L), a start for
    the kernel's pseudo-transient."""
    report["x_end"] = np.exp(hom.lnx.reshape(hom.N, hom.C))
    return report


def follow(net0, par0, x0, F0, net1, par1, eff=None, *, max_steps=None):
    """Follow the steady state from the arrays of (net0, par0), solved by profile
    ``x0`` (and free sites ``F0``), to those of (net1, par1).

    Returns ``(x, report)``: the aqueous profile at the end of the path (None when
    the path does not reach it) and a dict: ``steps`` (accepted), ``rejected``,
    ``p`` (where the path ended), ``reason`` (why it stopped short, or None),
    ``newton`` (the Newton iterations of the path's correctors and of the landing
    at p = 1, rejected steps included) and, where the path used its steps with p
    fixed to RUNOFF_DP over the last RUNOFF_STEPS of them while the profile
    moved, ``runoff``: the stage and component (0-based) that moved most over
    those steps and by how many decades.  A path that stopped short after it
    began also reports ``x_end``: the aqueous profile of its last accepted point
    [mol/L].
    """
    max_steps = MAX_STEPS if max_steps is None else max_steps
    report = {"steps": 0, "rejected": 0, "p": 0.0, "reason": None, "newton": 0}
    if eff is not None and np.any(np.asarray(eff) < 1.0):
        report["reason"] = "Murphree stages (not followed by arclength)"
        return None, report
    if net0.ext_aq.shape != net1.ext_aq.shape:
        report["reason"] = "the two cascades differ in shape"
        return None, report
    hom = _Homotopy(net0, par0, net1, par1, x0, F0)

    def tangent(um, p, prev):
        n = um.size
        wu = 1.0 / max(n, 1)
        hom.S = None
        r, J = hom.residual(um, p, True)
        hp = hom.dp(um, p, r) if r is not None else None
        if r is None or hp is None:
            return None
        t = _bordered(J, hp, wu * prev[:n], prev[n], np.zeros(n), 1.0)
        if t is None:
            return None
        return t / math.sqrt(wu * (t[:n] @ t[:n]) + t[n] ** 2)

    def land(um):
        # Newton at p = 1 from the interpolated point
        hom.S = None
        for _ in range(3 * CORRECTOR_ITER):
            r, J = hom.residual(um, 1.0, True)
            if r is None:
                return None
            if np.max(np.abs(r), initial=0.0) <= LANDING_TOL:
                return um
            report["newton"] += 1
            du = J.solve(-r)
            if du is None:
                return None
            big = np.max(np.abs(du), initial=0.0)
            if big > MAX_LOG_STEP:
                du *= MAX_LOG_STEP / big
            um = um + du
        r = hom.residual(um, 1.0)
        ok = r is not None and np.max(np.abs(r), initial=0.0) <= CORRECTOR_TOL
        return um if ok else None

    um, p = hom.lnx[hom.m].copy(), 0.0
    n = um.size
    prev = np.zeros(n + 1)
    prev[n] = 1.0
    t = tangent(um, p, prev)
    if t is None:
        report["reason"] = "singular at the start"
        return None, _ended(report, hom)
    if t[n] < 0.0:
        t = -t
    ds = 0.05
    history = collections.deque(maxlen=RUNOFF_STEPS)  # (p, ln x) of the last steps
    while report["steps"] + report["rejected"] < max_steps:
        watch.tick("step")  # a watched simulate's time limit and progress
        n = um.size
        wu = 1.0 / max(n, 1)
        hom.S = None
        hom.residual(um, p)  # freeze the row scales at the step's start
        hom.failure = None
        w0 = np.concatenate([um, [p]])
        wp = w0 + ds * t
        w = wp.copy()
        it, ok = 0, False
        while it < CORRECTOR_ITER:
            r, J = hom.residual(w[:n], w[n], True)
            hp = hom.dp(w[:n], w[n], r) if r is not None else None
            if r is None or hp is None:
                break
            g = wu * (t[:n] @ (w[:n] - wp[:n])) + t[n] * (w[n] - wp[n])
            if np.max(np.abs(r), initial=0.0) <= CORRECTOR_TOL and abs(g) <= 1e-12:
                ok = True
                break
            dw = _bordered(J, hp, wu * t[:n], t[n], -r, -g)
            if dw is None:
                break
            big = np.max(np.abs(dw[:n]), initial=0.0)
            if big > MAX_LOG_STEP:
                dw *= MAX_LOG_STEP / big
            w = w + dw
            it += 1
            report["newton"] += 1
        if not ok:
            report["rejected"] += 1
            ds *= 0.5
            if ds < DS_MIN:
                report["reason"] = f"step below {DS_MIN:g} at p = {p:.6g}" + (
                    f", the last corrector failed: {hom.failure}"
                    if hom.failure
                    else ""
                )
                report["p"] = p
                return None, _ended(report, hom)
            continue
        report["steps"] += 1
        lnx_old, p_old, t_old = hom.lnx.copy(), p, t
        m_old = hom.m.copy()
        hom.lnx[hom.m] = w[:n]
        um, p = w[:n], float(w[n])
        if not hom.fill(um, p):
            report["reason"] = f"stage equilibrium failed at p = {p:.6g}"
            report["p"] = p
            return None, _ended(report, hom)
        if (p - 1.0) * (p_old - 1.0) <= 0.0:
            # passed p = 1: interpolate (whole profiles), correct at p = 1
            f = (1.0 - p_old) / (p - p_old)
            lnx_new = hom.lnx
            hom.lnx = lnx_old + f * (lnx_new - lnx_old)
            hom.remask()
            landed = land(hom.lnx[hom.m].copy())
            if landed is not None and hom.fill(landed, 1.0):
                report["p"] = 1.0
                return hom.full(hom.lnx[hom.m]), report
            # cross again from the last point with a shorter step
            hom.lnx = lnx_old
            hom.remask()
            um, p, t = hom.lnx[hom.m].copy(), p_old, t_old
            ds *= 0.25
            continue
        um = hom.lnx[hom.m].copy()
        # the new tangent, oriented along the old one (on the unknowns both have)
        tf = np.zeros(m_old.size)
        tf[m_old] = t[:-1]
        prev = np.concatenate([tf[hom.m], [t[-1]]])
        tn = tangent(um, p, prev)
        if tn is None:
            report["reason"] = f"singular bordered system at p = {p:.6g}"
            report["p"] = p
            return None, _ended(report, hom)
        nn = um.size
        if (tn[:nn] @ prev[:nn]) / max(nn, 1) + tn[nn] * prev[nn] < 0.0:
            tn = -tn
        t = tn
        if it <= 3:
            ds = min(ds * 1.5, DS_MAX)
        report["p"] = p
        history.append((p, hom.lnx.copy()))
    report["reason"] = f"{max_steps} steps used, p = {p:.6g}"
    if len(history) == RUNOFF_STEPS and abs(p - history[0][0]) < RUNOFF_DP:
        moved = hom.lnx - history[0][1]
        k = int(np.argmax(np.abs(moved)))
        j, i = divmod(k, hom.C)
        report["runoff"] = {
            "stage": j,
            "component": i,
            "decades": float(moved[k] / math.log(10.0)),
        }
        report["reason"] += (
            f" (vertical: stage {j + 1}, component {i}: "
            f"{moved[k] / math.log(10.0):+.3g} decades over the last "
            f"{RUNOFF_STEPS} steps with p fixed to {RUNOFF_DP:g})"
        )
    return None, _ended(report, hom)
