/* Block-tridiagonal solve of the cascade Newton step, specialised by block size.
 *
 * Included by ext/_cascade.pyx.  The mathematics is that of the kernel's
 * block_thomas (see the docstring there and docs/kernel.md): forward block
 * elimination keeping the inverse P_j of every reduced diagonal block (in place
 * of Bd), then a back sweep.  Upper blocks are diagonal (ud, nonzero on the first
 * C columns); with `structured` the lower block is G_{j-1} diag(ox_j) with
 * G = diag(D) + u z^T + v w^T kept as factors fac = [D, u, v, w] (4C per stage),
 * and the diagonal block -(1 + mu)(A I + O G_j) diag(x_j) is assembled here from
 * the same factors, in the pass that subtracts the lower block's contribution
 * (Bd is then only the output: the block inverses).
 *
 * Blocks are small (C or 2C, C = components).  With the block size a compile-time
 * constant the compiler unrolls every inner loop, which is ~2-3x faster for C <= 8
 * than the same loops over a run-time size; one copy per size 1..16 is generated
 * by BT_DEFINE, larger blocks use the run-time-size copy.
 */
#ifndef REXOPT_BLOCKS_H
#define REXOPT_BLOCKS_H

#include <math.h>
#include <string.h>

/* Each fixed-size solve is compiled twice on x86-64 Linux with GCC: for the
 * x86-64-v3 level (AVX2 + FMA: 4 doubles per instruction instead of 2) and for the
 * baseline; the loader picks the copy the CPU runs (an ifunc, glibc), so the
 * built module still runs on any x86-64.  Elsewhere: one portable copy. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define BT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#define BT_BLOCKED 1
#else
#define BT_CLONES
#endif

#define BT_OK 0
#define BT_SINGULAR 3

/* ri -= f rk for two distinct rows of a block: rows never overlap, and saying so
 * (restrict on the parameters) lets the compiler vectorise the update.  Used for
 * blocks of BT_VEC_MIN or more columns: measured interleaved on 100-stage
 * saturated cascades, the vector update is 10-18 % faster for 10-15 components
 * and no faster (or slower) for 4-6, where the scalar unrolled loop wins.
 * The diagonal entries are written after the row operations, not before, so
 * a scalar store is never read back by the wider loads of the row update. */
#ifndef BT_VEC_MIN
#define BT_VEC_MIN 8
#endif
static inline void bt_row_sub(int n, double *__restrict ri,
                              const double *__restrict rk, double f)
{
    for (int l = 0; l < n; l++) ri[l] -= f * rk[l];
}

#ifdef BT_BLOCKED
/* Blocked Gauss-Jordan without pivoting, used where a block is column diagonally
 * dominant (2 |a_kk| >= sum_i |a_ik| for every column k): elimination keeps that
 * property, so partial pivoting would take every pivot on the diagonal and the
 * pivot search and row interchanges can go.  The saturated model's blocks mostly
 * are (raising x_k raises y_k by more than it lowers the other loadings; ~90 %
 * of the 15 x 15 blocks along benchmark (c)'s path, counted).
 *
 * The block is copied to rows padded to whole 4-double vectors (W) and eliminated
 * four pivots at a time: the four pivot rows among themselves first (plain
 * Gauss-Jordan, keeping each pivot row as it was when it was used: S_p), then every
 * other row once, by a rank-4 update.  Step p of the sequential algorithm sets a
 * row's column k_p to 0 and subtracts f_p S_p, where f_p is the row's column k_p
 * after steps 0..p-1; so f_p follows from the row's four pivot-column entries and
 * the S_q (q < p) by a small recurrence, and the row becomes
 *     r - sum_p f_p S_p  (columns k_0..k_3 of r taken as 0),
 * with S_p's columns k_q, q > p, taken as 0 (step q zeroes what step p wrote
 * there).  Every row is then loaded and stored once per four pivots, not four
 * times, and the operations on each entry are those of the sequential algorithm in
 * the same order: the inverse is bit for bit the one the pivoting loop below
 * gives when it swaps no rows (tests/test_block_inverse.py).  Measured on 15 x 15
 * blocks: 1.4x faster than that loop. */
typedef double bt_v4 __attribute__((vector_size(32)));
typedef long long bt_v4i __attribute__((vector_size(32)));
/* one copy per block size, compiled for x86-64-v3 (AVX2 + FMA) whichever copy of
 * a solve calls it (only on CPUs that have them: BT_USE_BLOCKED), and not inlined
 * there: inlined into both copies of every solve it made the build 10x slower */
#define BT_V3 __attribute__((target("arch=x86-64-v3"), noinline))
/* the pivoting loop is inlined into each copy of a solve (compiled for that
 * copy's target, so the v3 copy's pivoting loop rounds like the blocked one) */
#define BT_INLINE static inline __attribute__((always_inline))
/* a vector of four f (f a plain variable or constant: it is evaluated 4 times) */
#define bt_bcast(f) ((bt_v4){(f), (f), (f), (f)})
#define BT_NV(MM) (((MM) + 3) / 4)

/* one block pivot: columns k0 = 4 b .. k0 + P - 1 (P a constant) */
#define BT_BLOCK_STEP(MM, NV, LDP, b, P)                                          \
    do {                                                                          \
        const int k0 = 4 * (b);                                                   \
        bt_v4 S[P][NV];                                                           \
        double sk[P][4];                                                          \
        _Pragma("GCC unroll 4")                                                   \
        for (int p = 0; p < (P); p++) {                                           \
            const int k = k0 + p;                                                 \
            bt_v4 *rk = W + k * (NV);                                             \
            double pv = Wd[k * (LDP) + k];                                        \
            if (pv == 0.0 || !isfinite(pv)) return BT_SINGULAR;                   \
            double d = 1.0 / pv;                                                  \
            bt_v4 dv = bt_bcast(d);                                               \
            _Pragma("GCC unroll 4")                                               \
            for (int u = 0; u < (NV); u++) rk[u] *= dv;                           \
            Wd[k * (LDP) + k] = d;                                                \
            _Pragma("GCC unroll 4")                                               \
            for (int q = 0; q < (P); q++) {                                       \
                if (q == p) continue;                                             \
                bt_v4 *rq = W + (k0 + q) * (NV);                                  \
                double f = Wd[(k0 + q) * (LDP) + k];                              \
                Wd[(k0 + q) * (LDP) + k] = 0.0;                                   \
                bt_v4 fv = bt_bcast(f);                                           \
                _Pragma("GCC unroll 4")                                           \
                for (int u = 0; u < (NV); u++) rq[u] -= fv * rk[u];               \
            }                                                                     \
            _Pragma("GCC unroll 4")                                               \
            for (int u = 0; u < (NV); u++) S[p][u] = rk[u];                       \
            _Pragma("GCC unroll 4")                                               \
            for (int q = 0; q < 4; q++) sk[p][q] = S[p][b][q];                    \
            bt_v4i m = {0, 0, 0, 0};                                              \
            _Pragma("GCC unroll 4")                                               \
            for (int q = p + 1; q < 4; q++) m[q] = -1;                            \
            S[p][b] = (bt_v4)((bt_v4i)S[p][b] & ~m);                              \
        }                                                                         \
        /* the next block's pivot rows first: its serial part can then start     \
         * while the other rows are updated */                                   \
        for (int t = 0; t < (MM) - (P); t++) {                                    \
            int i = k0 + (P) + t;                                                 \
            if (i >= (MM)) i -= (MM);                                             \
            bt_v4 *ri = W + i * (NV);                                             \
            bt_v4 cb = ri[b];                                                     \
            double f[P];                                                          \
            _Pragma("GCC unroll 4")                                               \
            for (int p = 0; p < (P); p++) {                                       \
                double v = cb[p];                                                 \
                _Pragma("GCC unroll 4")                                           \
                for (int q = 0; q < p; q++) v -= f[q] * sk[q][p];                 \
                f[p] = v;                                                         \
            }                                                                     \
            _Pragma("GCC unroll 4")                                               \
            for (int u = 0; u < (NV); u++) {                                      \
                bt_v4 acc = u == (b) ? bt_bcast(0.0) : ri[u];                     \
                _Pragma("GCC unroll 4")                                           \
                for (int p = 0; p < (P); p++) acc -= bt_bcast(f[p]) * S[p][u];    \
                ri[u] = acc;                                                      \
            }                                                                     \
        }                                                                         \
    } while (0)

/* The block is read into W with whole-vector loads (the last one shifted into
 * place), which also sum the columns' magnitudes: with CHECK a block that is not
 * column diagonally dominant (or holds a NaN) is left untouched and -1 returned,
 * for the pivoting loop to take it.  Only for MM >= 4 (BT_USE_BLOCKED, and the
 * test hook returns -1 below that): the last row load reads A + MM - 4. */
#define BT_BLOCKED_BODY(MM, CHECK)                                                \
    enum { NV = BT_NV(MM), LDP = 4 * BT_NV(MM), PL = (MM) - 4 * (BT_NV(MM) - 1), \
           RM = (MM) % 4 };                                                       \
    bt_v4 W[(MM) * NV];                                                           \
    double *Wd = (double *)W;                                                     \
    bt_v4 cs[NV];                                                                 \
    const long long am = 0x7fffffffffffffffLL; /* all bits but the sign */         \
    const bt_v4i absm = {am, am, am, am};                                         \
    for (int u = 0; u < NV; u++) cs[u] = bt_bcast(0.0);                           \
    for (int i = 0; i < (MM); i++) {                                              \
        const double *ai = A + i * (MM);                                          \
        bt_v4 v;                                                                  \
        _Pragma("GCC unroll 4")                                                   \
        for (int u = 0; u < NV - 1; u++) {                                        \
            memcpy(&v, ai + 4 * u, sizeof v);                                     \
            W[i * NV + u] = v;                                                    \
            cs[u] += (bt_v4)((bt_v4i)v & absm);                                   \
        }                                                                         \
        memcpy(&v, ai + (MM) - 4, sizeof v);                                      \
        if (RM != 0) {                                                            \
            /* columns MM - RM .. MM - 1 sit in lanes 4 - RM .. 3 */              \
            const bt_v4i sh = {(4 - RM) % 4, (5 - RM) % 4, (6 - RM) % 4, (7 - RM) % 4}; \
            const bt_v4i keep = {-1, RM > 1 ? -1 : 0, RM > 2 ? -1 : 0, 0};        \
            v = (bt_v4)((bt_v4i)__builtin_shuffle(v, sh) & keep);                 \
        }                                                                         \
        W[i * NV + NV - 1] = v;                                                   \
        cs[NV - 1] += (bt_v4)((bt_v4i)v & absm);                                  \
    }                                                                             \
    if (CHECK) {                                                                  \
        const double *csd = (const double *)cs;                                   \
        for (int k = 0; k < (MM); k++)                                            \
            if (!(2.0 * fabs(Wd[k * LDP + k]) >= csd[k])) return -1;              \
    }                                                                             \
    _Pragma("GCC unroll 4")                                                       \
    for (int b = 0; b < NV - 1; b++) BT_BLOCK_STEP(MM, NV, LDP, b, 4);            \
    BT_BLOCK_STEP(MM, NV, LDP, NV - 1, PL);                                       \
    for (int i = 0; i < (MM); i++)                                                \
        memcpy(A + i * (MM), Wd + i * LDP, (MM) * sizeof(double));                \
    return BT_OK;

/* the blocked loops pay only with AVX2 and FMA (the x86-64-v3 copy); the
 * baseline copy of a solve keeps the pivoting loop on older CPUs */
#define BT_USE_BLOCKED(MM) \
    ((MM) >= 4 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#endif

/* In-place inverse of the row-major MM x MM block A: Gauss-Jordan with partial
 * (row) pivoting; the row interchanges are undone as column interchanges. */
#define BT_INVERT_BODY(MM)                                                        \
    for (int k = 0; k < (MM); k++) {                                              \
        int p = k;                                                                \
        double amax = fabs(A[k * (MM) + k]);                                      \
        for (int i = k + 1; i < (MM); i++) {                                      \
            double v = fabs(A[i * (MM) + k]);                                     \
            if (v > amax) { amax = v; p = i; }                                    \
        }                                                                         \
        piv[k] = p;                                                               \
        if (amax == 0.0 || !isfinite(amax)) return BT_SINGULAR;                   \
        double *rk = A + k * (MM);                                                \
        if (p != k) {                                                             \
            double *rp = A + p * (MM);                                            \
            for (int l = 0; l < (MM); l++) {                                      \
                double v = rk[l]; rk[l] = rp[l]; rp[l] = v;                       \
            }                                                                     \
        }                                                                         \
        double d = 1.0 / rk[k];                                                   \
        for (int l = 0; l < (MM); l++) rk[l] *= d;                                \
        rk[k] = d;                                                                \
        for (int i = 0; i < (MM); i++) {                                          \
            if (i == k) continue;                                                 \
            double *ri = A + i * (MM);                                            \
            double f = ri[k];                                                     \
            if (f != 0.0) {                                                       \
                if ((MM) >= BT_VEC_MIN)                                           \
                    bt_row_sub((MM), ri, rk, f);                                  \
                else                                                              \
                    for (int l = 0; l < (MM); l++) ri[l] -= f * rk[l];            \
                ri[k] = -f * d;                                                   \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    for (int k = (MM) - 1; k >= 0; k--) {                                         \
        int p = piv[k];                                                           \
        if (p != k) {                                                             \
            for (int i = 0; i < (MM); i++) {                                      \
                double v = A[i * (MM) + k];                                       \
                A[i * (MM) + k] = A[i * (MM) + p];                                \
                A[i * (MM) + p] = v;                                              \
            }                                                                     \
        }                                                                         \
    }                                                                             \
    return BT_OK;

/* Partial pivoting on a row-equilibrated block: every row is first divided by a
 * power of two (exact) near its largest entry, inv(B) = inv(S B) S.  Without it
 * a trace's balance (entries 1e-60 of a major's) lost its own pivot to a
 * major's row, and the major's round-off entered the trace's correction (a flat
 * 1e-35 profile where the true one falls seven decades a stage: issue 17).
 * Blocks taken without pivoting (column diagonally dominant) need no scaling:
 * every pivot is then a row's own diagonal. */
#define BT_SCALED_BODY(MM, PIVOTING)                                              \
    double rs[MM];                                                                \
    for (int k = 0; k < (MM); k++) {                                              \
        double m = 0.0;                                                           \
        double *rb = A + k * (MM);                                                \
        for (int l = 0; l < (MM); l++) m = fmax(m, fabs(rb[l]));                  \
        int e = 0;                                                                \
        if (m > 0.0 && isfinite(m)) frexp(m, &e);                                 \
        if (e < -1000) e = -1000; /* a subnormal row: no scale to infinity */      \
        rs[k] = ldexp(1.0, -e);                                                   \
        for (int l = 0; l < (MM); l++) rb[l] *= rs[k];                            \
    }                                                                             \
    int st = PIVOTING;                                                            \
    if (st != BT_OK) return st;                                                   \
    for (int i = 0; i < (MM); i++) {                                              \
        double *rb = A + i * (MM);                                                \
        for (int k = 0; k < (MM); k++) rb[k] *= rs[k];                            \
    }                                                                             \
    return BT_OK;

/* Forward elimination and back sweep; MM the block size, C the number of
 * components (MM = C, or 2C with Murphree efficiencies). */
#define BT_SOLVE_BODY(MM, INVERT)                                                 \
    double zx[MM], wx[MM], pz[MM], qz[MM];                                        \
    for (int j = 0; j < N; j++) {                                                 \
        double *Bj = Bd + (size_t)j * (MM) * (MM);                                \
        double *gj = gv + (size_t)j * (MM);                                       \
        for (int k = 0; k < (MM); k++) gj[k] = -R[(size_t)j * (MM) + k];          \
        if (structured) {                                                         \
            /* diagonal block -(1 + mu)(A I + O G_j) diag(x_j) with               \
             * G = diag(D) + u z^T + v w^T, assembled from the factors in the     \
             * pass that subtracts Lo_j P_{j-1} diag(ud_{j-1}), where             \
             * Lo_j = G_{j-1} diag(ox_j) */                                       \
            const double *fj = fac + (size_t)4 * j * (MM);                        \
            const double *xj = xs + (size_t)j * (MM);                             \
            double oo = org_out[j] * mu1;                                         \
            for (int l = 0; l < (MM); l++) {                                      \
                pz[l] = -oo * z[l] * xj[l];                                       \
                qz[l] = -oo * fj[3 * (MM) + l] * xj[l];                           \
            }                                                                     \
            if (j > 0) {                                                          \
                const double *Pp = Bd + (size_t)(j - 1) * (MM) * (MM);            \
                const double *up = ud + (size_t)(j - 1) * (MM);                   \
                const double *gp = gv + (size_t)(j - 1) * (MM);                   \
                const double *fc = fac + (size_t)4 * (j - 1) * (MM);              \
                const double *oj = ox + (size_t)j * (MM);                         \
                double gz = 0.0, gw = 0.0;                                        \
                for (int l = 0; l < (MM); l++) { zx[l] = 0.0; wx[l] = 0.0; }      \
                for (int m = 0; m < (MM); m++) {                                  \
                    double a = z[m] * oj[m], b = fc[3 * (MM) + m] * oj[m];        \
                    const double *r = Pp + m * (MM);                              \
                    gz += a * gp[m];                                              \
                    gw += b * gp[m];                                              \
                    for (int l = 0; l < (MM); l++) {                              \
                        zx[l] += a * r[l];                                        \
                        wx[l] += b * r[l];                                        \
                    }                                                             \
                }                                                                 \
                for (int l = 0; l < (MM); l++) { zx[l] *= up[l]; wx[l] *= up[l]; }\
                for (int k = 0; k < (MM); k++) {                                  \
                    double a = fj[(MM) + k], b = fj[2 * (MM) + k];                \
                    double s = fc[k] * oj[k];                                     \
                    double a2 = fc[(MM) + k], b2 = fc[2 * (MM) + k];              \
                    const double *r = Pp + k * (MM);                              \
                    double *rb = Bj + k * (MM);                                   \
                    for (int l = 0; l < (MM); l++)                                \
                        rb[l] = a * pz[l] + b * qz[l] - s * r[l] * up[l]          \
                                - a2 * zx[l] - b2 * wx[l];                        \
                    gj[k] -= s * gp[k] + a2 * gz + b2 * gw;                       \
                }                                                                 \
            } else {                                                              \
                for (int k = 0; k < (MM); k++) {                                  \
                    double a = fj[(MM) + k], b = fj[2 * (MM) + k];                \
                    double *rb = Bj + k * (MM);                                   \
                    for (int l = 0; l < (MM); l++) rb[l] = a * pz[l] + b * qz[l]; \
                }                                                                 \
            }                                                                     \
            for (int k = 0; k < (MM); k++)                                        \
                Bj[k * (MM) + k] -= (aq_out[j] * mu1 + oo * fj[k]) * xj[k];       \
        } else if (j > 0) {                                                       \
            const double *Pp = Bd + (size_t)(j - 1) * (MM) * (MM);                \
            const double *up = ud + (size_t)(j - 1) * (MM);                       \
            const double *gp = gv + (size_t)(j - 1) * (MM);                       \
            const double *Lj = Lo + (size_t)j * (MM) * (MM);                      \
            for (int k = 0; k < (MM); k++) {                                      \
                for (int m = 0; m < (MM); m++) {                                  \
                    double s = Lj[k * (MM) + m];                                  \
                    if (s != 0.0) {                                               \
                        const double *r = Pp + m * (MM);                          \
                        for (int l = 0; l < C; l++)                               \
                            Bj[k * (MM) + l] -= s * r[l] * up[l];                 \
                        gj[k] -= s * gp[m];                                       \
                    }                                                             \
                }                                                                 \
            }                                                                     \
        }                                                                         \
        if (INVERT(Bj, piv + (size_t)j * (MM)) != BT_OK) return BT_SINGULAR;      \
        for (int k = 0; k < (MM); k++) {                                          \
            double s = 0.0;                                                       \
            const double *r = Bj + k * (MM);                                      \
            for (int l = 0; l < (MM); l++) s += r[l] * gj[l];                     \
            wx[k] = s;                                                            \
        }                                                                         \
        memcpy(gj, wx, (MM) * sizeof(double));                                    \
    }                                                                             \
    for (int k = 0; k < (MM); k++)                                                \
        du[(size_t)(N - 1) * (MM) + k] = gv[(size_t)(N - 1) * (MM) + k];          \
    for (int j = N - 2; j >= 0; j--) {                                            \
        const double *Pj = Bd + (size_t)j * (MM) * (MM);                          \
        const double *up = ud + (size_t)j * (MM);                                 \
        const double *dn = du + (size_t)(j + 1) * (MM);                           \
        for (int l = 0; l < (MM); l++) zx[l] = l < C ? up[l] * dn[l] : 0.0;       \
        for (int k = 0; k < (MM); k++) {                                          \
            double s = gv[(size_t)j * (MM) + k];                                  \
            const double *r = Pj + k * (MM);                                      \
            for (int l = 0; l < (MM); l++) s -= r[l] * zx[l];                     \
            du[(size_t)j * (MM) + k] = s;                                         \
        }                                                                         \
    }                                                                             \
    for (size_t k = 0; k < (size_t)N * (MM); k++)                                 \
        if (!isfinite(du[k])) return BT_SINGULAR;                                 \
    return BT_OK;

#define BT_ARGS                                                                   \
    int N, int C, int structured, double *Bd, const double *Lo, const double *ud, \
    const double *R, double *gv, double *du, const double *fac, const double *ox, \
    const double *z, int *piv, const double *xs, const double *aq_out,            \
    const double *org_out, double mu1

#ifdef BT_BLOCKED
#define BT_DEFINE_INVERT(MM)                                                      \
    BT_V3 static int bt_blocked_##MM(double *A, int check)                        \
    { BT_BLOCKED_BODY(MM, check) }                                                \
    BT_INLINE int bt_pivoting_##MM(double *A, int *piv) { BT_INVERT_BODY(MM) }     \
    BT_INLINE int bt_scaled_##MM(double *A, int *piv)                             \
    { BT_SCALED_BODY(MM, bt_pivoting_##MM(A, piv)) }                              \
    BT_INLINE int bt_invert_##MM(double *A, int *piv)                             \
    {                                                                             \
        if (BT_USE_BLOCKED(MM)) {                                                 \
            int st = bt_blocked_##MM(A, 1);                                       \
            if (st != -1) return st;                                              \
        }                                                                         \
        return bt_scaled_##MM(A, piv);                                            \
    }
#else
#define BT_DEFINE_INVERT(MM)                                                      \
    static inline int bt_pivoting_##MM(double *A, int *piv) { BT_INVERT_BODY(MM) }  \
    static inline int bt_invert_##MM(double *A, int *piv)                         \
    { BT_SCALED_BODY(MM, bt_pivoting_##MM(A, piv)) }
#endif

#define BT_DEFINE(MM)                                                             \
    BT_DEFINE_INVERT(MM)                                                          \
    BT_CLONES static int bt_solve_##MM(BT_ARGS) { BT_SOLVE_BODY(MM, bt_invert_##MM) }

BT_DEFINE(1)
BT_DEFINE(2)
BT_DEFINE(3)
BT_DEFINE(4)
BT_DEFINE(5)
BT_DEFINE(6)
BT_DEFINE(7)
BT_DEFINE(8)
BT_DEFINE(9)
BT_DEFINE(10)
BT_DEFINE(11)
BT_DEFINE(12)
BT_DEFINE(13)
BT_DEFINE(14)
BT_DEFINE(15)
BT_DEFINE(16)

/* run-time block size (C > 16, or 2C > 16 with Murphree efficiencies) */
static int bt_pivoting_rt(double *A, int *piv, int M) { BT_INVERT_BODY(M) }
static int bt_invert_rt(double *A, int *piv, int M)
{ BT_SCALED_BODY(M, bt_pivoting_rt(A, piv, M)) }
#define BT_INVERT_RT(A, p) bt_invert_rt((A), (p), M)
BT_CLONES static int bt_solve_rt(int M, BT_ARGS) { BT_SOLVE_BODY(M, BT_INVERT_RT) }

/* For tests: invert one M x M block (M <= 16) in place as the solves do (way 0:
 * blocked where the block is dominant and the CPU allows, else pivoting on the
 * row-equilibrated block), with the row-equilibrated pivoting loop only (1),
 * blocked only (2), or the bare pivoting loop (3: what the blocked loop equals bit
 * for bit where it swaps no rows).  Returns BT_OK, BT_SINGULAR, or -1
 * for a way not available here (blocked loops: x86-64 GCC builds, AVX2 CPUs). */
#ifdef BT_BLOCKED
#define BT_TEST_CASE(MM)                                                          \
    case MM:                                                                      \
        if (way == 1) return bt_scaled_##MM(A, piv);                              \
        if (way == 2) return BT_USE_BLOCKED(MM) ? bt_blocked_##MM(A, 0) : -1;     \
        if (way == 3) return bt_pivoting_##MM(A, piv);                            \
        return bt_invert_##MM(A, piv);
#else
#define BT_TEST_CASE(MM)                                                          \
    case MM:                                                                      \
        return way == 2 ? -1 : way == 3 ? bt_pivoting_##MM(A, piv)              \
                                        : bt_invert_##MM(A, piv);
#endif
BT_CLONES static int bt_invert_test(int M, double *A, int *piv, int way)
{
    switch (M) {
    BT_TEST_CASE(1) BT_TEST_CASE(2) BT_TEST_CASE(3) BT_TEST_CASE(4) BT_TEST_CASE(5)
    BT_TEST_CASE(6) BT_TEST_CASE(7) BT_TEST_CASE(8) BT_TEST_CASE(9) BT_TEST_CASE(10)
    BT_TEST_CASE(11) BT_TEST_CASE(12) BT_TEST_CASE(13) BT_TEST_CASE(14)
    BT_TEST_CASE(15) BT_TEST_CASE(16)
    default:
        return -1;
    }
}
#undef BT_TEST_CASE

/* Solve (Lo, Bd, diag(ud)) du = -R; Bd is overwritten by the block inverses. */
static int bt_solve(int M, BT_ARGS)
{
    switch (M) {
#define BT_CASE(MM) case MM: return bt_solve_##MM(N, C, structured, Bd, Lo, ud, R, gv, du, fac, ox, z, piv, xs, aq_out, org_out, mu1);
    BT_CASE(1) BT_CASE(2) BT_CASE(3) BT_CASE(4) BT_CASE(5) BT_CASE(6) BT_CASE(7)
    BT_CASE(8) BT_CASE(9) BT_CASE(10) BT_CASE(11) BT_CASE(12) BT_CASE(13)
    BT_CASE(14) BT_CASE(15) BT_CASE(16)
#undef BT_CASE
    default:
        return bt_solve_rt(M, N, C, structured, Bd, Lo, ud, R, gv, du, fac, ox, z, piv, xs, aq_out,
                           org_out, mu1);
    }
}

#endif
