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

#define BT_DEFINE(MM)                                                             \
    static inline int bt_invert_##MM(double *A, int *piv) { BT_INVERT_BODY(MM) }  \
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
static int bt_invert_rt(double *A, int *piv, int M) { BT_INVERT_BODY(M) }
#define BT_INVERT_RT(A, p) bt_invert_rt((A), (p), M)
BT_CLONES static int bt_solve_rt(int M, BT_ARGS) { BT_SOLVE_BODY(M, BT_INVERT_RT) }

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
