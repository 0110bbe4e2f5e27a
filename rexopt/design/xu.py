"""Xu Guangxian's countercurrent-extraction theory: closed-form cascade design.

Two-component fractional extraction (A = more extractable, leaves in the loaded
organic; B = less extractable, leaves in the raffinate) with n extraction stages, m
scrub stages and a strip section, organic run at (near) saturation and a constant
mixed extraction ratio in each section.

Conventions
-----------
* Amounts S (extraction amount) and W (scrub amount) are in mol RE per mol feed RE:
  S is the RE carried by the loaded organic, W the RE carried by the scrub-section
  aqueous. ``E_M`` / ``E_prime_M`` are the mixed extraction ratios (organic RE flow
  over aqueous RE flow) of the extraction and scrub sections.
* Aqueous feed: ``E_M = S/(W+1)``, ``E'_M = S/W``, ``S - W = f'_A``.
  Organic (loaded) feed: ``E_M = S/W``, ``E'_M = (S+1)/W``, ``S + 1 - W = f'_A``.
* Stage numbers: ``n = log b / log(beta E_M)``, ``m = log a / log(beta'/E'_M)``.
* Multicomponent feeds are lumped into an A group and a B group around a key pair;
  components are always listed in extraction order, from the least to the most
  extractable (for P507/P204: increasing atomic number, La -> Lu).

References
----------
.. [S12] Public MyST book on REE separation summarising Zhang, Zhao & Schreiner (2016),
   *Separation Hydrometallurgy of Rare Earth Elements*, Springer,
   doi:10.1007/978-3-319-28235-0 (stage equations, optimum ratios, N_min, k rule).
.. [S13] Textbook 有色金属冶金基础理论 (purification factors a, b; raffinate fractions;
   yields).
.. [S14] Cheng et al., AMPC 4 (2014) 275 (S_min, W_min re-derivation).
.. [S15] Liao, Cheng, Wu, Yan, J. Chin. Soc. Rare Earths (2017) (TCE review;
   three-outlet and multi-outlet extensions).
.. [S16] 串级萃取最优萃取比精确方程, NCHU J. ("precise" optimum equation; the
   numerical optimum here is our own reading of its objective, not its formula).

All equations and the worked Pr/Nd example are collected in /work/shared/DOMAIN.md §2.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar

from rexopt.design.closed_forms import _open_unit, fenske_min_stages

__all__ = [
    "FEED_PHASES",
    "XuDesign",
    "LumpedFeed",
    "ThreeOutletDesign",
    "purification_factors",
    "raffinate_fractions",
    "yields",
    "outlet_fractions",
    "minimum_amounts",
    "controlling_section",
    "amounts_from_S",
    "simple_optimum",
    "precise_optimum",
    "stage_numbers",
    "reagent_consumption",
    "equivalent_k",
    "xu_design",
    "lump_components",
    "xu_design_multicomponent",
    "xu_three_outlet",
    "design_to_case",
    "design_to_toml",
]

FEED_PHASES = ("aqueous", "organic")
_OPTIMA = ("simple", "precise")


# --------------------------------------------------------------------------- checks
def _check_beta(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 1.0):
        raise ValueError(
            f"{name}={value!r} is not allowed: a separation factor must be > 1 "
            "(A is the more extractable component)"
        )
    return value


def _check_phase(feed_phase: str) -> str:
    if feed_phase not in FEED_PHASES:
        raise ValueError(
            f"feed_phase={feed_phase!r} is not allowed: must be one of {FEED_PHASES}"
        )
    return feed_phase


def _check_purity(name: str, purity: float, feed_name: str, feed: float) -> float:
    purity = float(purity)
    if not (feed <= purity < 1.0):
        raise ValueError(
            f"{name}={purity!r} is not allowed: must be in [{feed_name}={feed:g}, 1) "
            "(an outlet cannot be poorer than the feed, nor perfectly pure)"
        )
    return purity


# ------------------------------------------------------------------ balance relations
def purification_factors(
    f_A: float, purity_A: float, purity_B: float
) -> tuple[float, float]:
    """Purification factors a (organic outlet) and b (aqueous outlet).

    ``a = [P_A/(1-P_A)] / (f_A/f_B)``, ``b = [P_B/(1-P_B)] / (f_B/f_A)``.

    Parameters
    ----------
    f_A : float
        Mole fraction of A in the feed RE, in (0, 1); f_B = 1 - f_A. [-]
    purity_A : float
        Mole fraction of A in the organic-outlet RE, in [f_A, 1). [-]
    purity_B : float
        Mole fraction of B in the aqueous-outlet (raffinate) RE, in [f_B, 1). [-]

    Returns
    -------
    (a, b) : tuple of float
        Purification factors, both >= 1. [-]

    References
    ----------
    .. [S13], [S12]; DOMAIN.md §2.1.
    """
    f_A = _open_unit("f_A", f_A)
    f_B = 1.0 - f_A
    purity_A = _check_purity("purity_A", purity_A, "f_A", f_A)
    purity_B = _check_purity("purity_B", purity_B, "f_B", f_B)
    a = purity_A / (1.0 - purity_A) / (f_A / f_B)
    b = purity_B / (1.0 - purity_B) / (f_B / f_A)
    # purity == feed fraction must give exactly 1, not 1 - 1e-16
    return (1.0 if purity_A == f_A else a), (1.0 if purity_B == f_B else b)


def _check_ab(a: float, b: float) -> tuple[float, float]:
    a, b = float(a), float(b)
    if not (a >= 1.0 and b >= 1.0):
        raise ValueError(f"a={a!r}, b={b!r} are not allowed: both must be >= 1")
    if not a * b > 1.0:
        raise ValueError(
            f"a*b={a * b!r} is not allowed: must be > 1 (at least one outlet must be "
            "purer than the feed)"
        )
    return a, b


def raffinate_fractions(a: float, b: float) -> tuple[float, float]:
    """Fractions of feed A and feed B leaving in the raffinate.

    ``Phi_A = (a-1)/(ab-1)``, ``Phi_B = b(a-1)/(ab-1)`` (so ``b = Phi_B/Phi_A`` and
    ``a = (1-Phi_A)/(1-Phi_B)``).

    Parameters
    ----------
    a, b : float
        Purification factors (>= 1, a*b > 1). [-]

    Returns
    -------
    (Phi_A, Phi_B) : tuple of float
        Raffinate fractions A1/A_F and B1/B_F. [-]

    References
    ----------
    .. [S13]; DOMAIN.md §2.1.
    """
    a, b = _check_ab(a, b)
    return (a - 1.0) / (a * b - 1.0), b * (a - 1.0) / (a * b - 1.0)


def yields(a: float, b: float) -> tuple[float, float]:
    """Yields of A in the organic outlet and of B in the raffinate.

    ``Y_A = 1 - Phi_A = a(b-1)/(ab-1)``, ``Y_B = Phi_B = b(a-1)/(ab-1)``.

    Parameters
    ----------
    a, b : float
        Purification factors (>= 1, a*b > 1). [-]

    Returns
    -------
    (Y_A, Y_B) : tuple of float
        Yields. [-]

    References
    ----------
    .. [S13]; DOMAIN.md §2.1.
    """
    a, b = _check_ab(a, b)
    return a * (b - 1.0) / (a * b - 1.0), b * (a - 1.0) / (a * b - 1.0)


def outlet_fractions(f_A: float, purity_A: float, a: float, b: float):
    """Split of the feed RE between the organic and aqueous outlets.

    ``f'_A = f_A Y_A / P_A`` (organic outlet), ``f'_B = 1 - f'_A``.

    Parameters
    ----------
    f_A : float
        Mole fraction of A in the feed. [-]
    purity_A : float
        Mole fraction of A in the organic outlet. [-]
    a, b : float
        Purification factors. [-]

    Returns
    -------
    (fp_A, fp_B) : tuple of float
        Moles of RE in the organic / aqueous outlet per mole of feed RE. [mol/mol]

    References
    ----------
    .. [S13]; DOMAIN.md §2.1 (derived from the definitions).
    """
    f_A = _open_unit("f_A", f_A)
    Y_A, _ = yields(a, b)
    fp_A = min(1.0, f_A * Y_A / float(purity_A))
    return fp_A, 1.0 - fp_A


def minimum_amounts(
    f_A: float, beta: float, feed_phase: str = "aqueous"
) -> tuple[float, float]:
    """Minimum extraction and scrub amounts (infinite stages, complete separation).

    Aqueous feed: ``W_min = 1/(beta-1)``, ``S_min = f_A + 1/(beta-1)``.
    Organic feed: ``S_min = 1/(beta-1)``, ``W_min = (f_A + beta f_B)/(beta-1)``.

    Parameters
    ----------
    f_A : float
        Mole fraction of A in the feed. [-]
    beta : float
        Separation factor beta_A/B > 1. [-]
    feed_phase : {"aqueous", "organic"}
        Phase of the feed.

    Returns
    -------
    (S_min, W_min) : tuple of float
        [mol/mol feed RE]

    References
    ----------
    .. [S12], [S14]; DOMAIN.md §2.4.
    """
    f_A = _open_unit("f_A", f_A)
    beta = _check_beta("beta", beta)
    f_B = 1.0 - f_A
    if _check_phase(feed_phase) == "aqueous":
        return f_A + 1.0 / (beta - 1.0), 1.0 / (beta - 1.0)
    return 1.0 / (beta - 1.0), (f_A + beta * f_B) / (beta - 1.0)


def amounts_from_S(S: float, fp_A: float, feed_phase: str = "aqueous"):
    """Scrub amount and mixed extraction ratios that follow from S by the balances.

    Parameters
    ----------
    S : float
        Extraction amount. [mol/mol feed RE]
    fp_A : float
        RE leaving in the organic outlet per mol feed RE, f'_A. [mol/mol]
    feed_phase : {"aqueous", "organic"}

    Returns
    -------
    (W, E_M, E_prime_M) : tuple of float
        Scrub amount [mol/mol feed RE] and the extraction / scrub section mixed
        extraction ratios [-].

    References
    ----------
    .. [S12]; DOMAIN.md §2.1.
    """
    S, fp_A = float(S), float(fp_A)
    if _check_phase(feed_phase) == "aqueous":
        W = S - fp_A
        if W <= 0:
            raise ValueError(
                f"S={S!r} is not allowed: with an aqueous feed S must exceed "
                f"f'_A={fp_A:g} so that the scrub amount W = S - f'_A is positive"
            )
        return W, S / (W + 1.0), S / W
    W = S + 1.0 - fp_A
    if S <= 0:
        raise ValueError(f"S={S!r} is not allowed: must be > 0")
    return W, S / W, (S + 1.0) / W


def _S_from_E_M(E_M: float, fp_B: float) -> float:
    # Same expression for both feed phases: S = E_M f'_B / (1 - E_M).
    return E_M * fp_B / (1.0 - E_M)


def _S_from_E_prime_M(E_prime_M: float, fp_A: float, feed_phase: str) -> float:
    if feed_phase == "aqueous":
        return E_prime_M * fp_A / (E_prime_M - 1.0)
    return (1.0 - E_prime_M * (1.0 - fp_A)) / (E_prime_M - 1.0)


def _S_lower_bound(fp_A, beta, beta_scrub, feed_phase, a, b) -> float:
    """Smallest S with finite stage numbers (beta E_M > 1 and E'_M < beta')."""
    fp_B = 1.0 - fp_A
    bounds = [fp_A if feed_phase == "aqueous" else 0.0]
    if b > 1.0:
        bounds.append(_S_from_E_M(1.0 / beta, fp_B))
    if a > 1.0:
        bounds.append(_S_from_E_prime_M(beta_scrub, fp_A, feed_phase))
    return max(bounds)


def controlling_section(
    fp_B: float,
    beta: float,
    feed_phase: str = "aqueous",
    beta_scrub: float | None = None,
) -> str:
    """Which section governs the optimum (Xu): "extraction" or "scrub".

    The section whose optimum ratio (``E_M = 1/sqrt(beta)``, resp.
    ``E'_M = sqrt(beta')``) needs the larger extraction amount S governs; the other
    then runs beyond its own optimum.  With beta' = beta this is Xu's criterion:
    aqueous feed extraction-controlled iff ``f'_B > sqrt(beta)/(sqrt(beta)+1)``,
    organic feed iff ``f'_B > 1/(sqrt(beta)+1)``.

    Parameters
    ----------
    fp_B : float
        Aqueous-outlet RE per mol feed RE, f'_B. [mol/mol]
    beta : float
        Extraction-section separation factor. [-]
    feed_phase : {"aqueous", "organic"}
    beta_scrub : float, optional
        Scrub-section separation factor beta' (default beta). [-]

    Returns
    -------
    str
        "extraction" or "scrub".

    References
    ----------
    .. [S12]; DOMAIN.md §2.3.
    """
    beta = _check_beta("beta", beta)
    beta_scrub = beta if beta_scrub is None else _check_beta("beta_scrub", beta_scrub)
    feed_phase = _check_phase(feed_phase)
    fp_B = float(fp_B)
    if not (0.0 <= fp_B <= 1.0):
        raise ValueError(f"fp_B={fp_B!r} is not allowed: must be in [0, 1]")
    S_ext = _S_from_E_M(1.0 / math.sqrt(beta), fp_B)
    S_scr = _S_from_E_prime_M(math.sqrt(beta_scrub), 1.0 - fp_B, feed_phase)
    return "extraction" if S_ext > S_scr else "scrub"


def simple_optimum(
    fp_A: float,
    beta: float,
    feed_phase: str = "aqueous",
    beta_scrub: float | None = None,
):
    """Xu's simple optimum: the governing section runs at the geometric mean.

    Extraction-controlled: ``E_M = 1/sqrt(beta)``; scrub-controlled:
    ``E'_M = sqrt(beta')``.  The companion ratio, S and W follow from the balances.

    Parameters
    ----------
    fp_A : float
        Organic-outlet RE per mol feed RE, f'_A. [mol/mol]
    beta : float
        Extraction-section separation factor. [-]
    feed_phase : {"aqueous", "organic"}
    beta_scrub : float, optional
        Scrub-section separation factor (default beta). [-]

    Returns
    -------
    (control, S, W, E_M, E_prime_M)
        Governing section, amounts [mol/mol feed RE], ratios [-].

    Notes
    -----
    Adequate for beta < 3; above that [S16] recommends the precise optimum.

    References
    ----------
    .. [S12]; DOMAIN.md §2.3.
    """
    beta = _check_beta("beta", beta)
    beta_scrub = beta if beta_scrub is None else _check_beta("beta_scrub", beta_scrub)
    feed_phase = _check_phase(feed_phase)
    fp_A = float(fp_A)
    control = controlling_section(1.0 - fp_A, beta, feed_phase, beta_scrub)
    if control == "extraction":
        S = _S_from_E_M(1.0 / math.sqrt(beta), 1.0 - fp_A)
    else:
        S = _S_from_E_prime_M(math.sqrt(beta_scrub), fp_A, feed_phase)
    W, E_M, E_prime_M = amounts_from_S(S, fp_A, feed_phase)
    return control, S, W, E_M, E_prime_M


def stage_numbers(
    a: float,
    b: float,
    beta: float,
    E_M: float,
    E_prime_M: float,
    *,
    beta_scrub: float | None = None,
    m_plus_one: bool = False,
) -> tuple[float, float]:
    """Extraction and scrub stage numbers at constant mixed extraction ratios.

    ``n = log b / log(beta E_M)``, ``m = log a / log(beta'/E'_M)``; with
    ``m_plus_one=True`` the scrub equation is read as ``m + 1 = log a /
    log(beta'/E'_M)`` (feed-stage bookkeeping of some Chinese texts), i.e. one stage
    less is returned for m (never below 0).

    Parameters
    ----------
    a, b : float
        Purification factors. [-]
    beta : float
        Extraction-section separation factor. [-]
    E_M, E_prime_M : float
        Mixed extraction ratios of the extraction and scrub sections. [-]
    beta_scrub : float, optional
        Scrub-section separation factor beta' (default beta). [-]
    m_plus_one : bool
        Use the "m + 1" scrub bookkeeping.

    Returns
    -------
    (n, m) : tuple of float
        Ideal stages, not rounded. [stages]

    References
    ----------
    .. [S12]; DOMAIN.md §2.2.
    """
    a, b = _check_ab(a, b)
    beta = _check_beta("beta", beta)
    beta_scrub = beta if beta_scrub is None else _check_beta("beta_scrub", beta_scrub)
    E_M, E_prime_M = float(E_M), float(E_prime_M)
    n = 0.0
    if b > 1.0:
        if not beta * E_M > 1.0:
            raise ValueError(
                f"E_M={E_M!r} is not allowed: beta*E_M must exceed 1 "
                f"(beta={beta:g}, beta*E_M={beta * E_M:g}); increase S"
            )
        n = math.log(b) / math.log(beta * E_M)
    m = 0.0
    if a > 1.0:
        if not (0.0 < E_prime_M < beta_scrub):
            raise ValueError(
                f"E_prime_M={E_prime_M!r} is not allowed: must be in (0, beta'="
                f"{beta_scrub:g}) so that beta'/E'_M exceeds 1; increase S"
            )
        m = math.log(a) / math.log(beta_scrub / E_prime_M)
        if m_plus_one:
            m = max(0.0, m - 1.0)
    return n, m


def precise_optimum(
    a: float,
    b: float,
    fp_A: float,
    beta: float,
    feed_phase: str = "aqueous",
    beta_scrub: float | None = None,
    *,
    f_A: float | None = None,
    m_plus_one: bool = False,
):
    """Numerical optimum: minimise the mixer volume per unit production, S*(n+m).

    Xu's optimum maximises production per total mixer volume.  With the organic run
    at saturation the flow through every stage scales with S, so the mixer volume
    per mole of feed is proportional to ``S*(n+m)``.  Here S is the decision
    variable; W, E_M and E'_M follow from the balance relations
    (:func:`amounts_from_S`) and n, m from :func:`stage_numbers`, so the search is
    equivalent to one over E_M or E'_M.  ``scipy.optimize.minimize_scalar``
    (bounded) works on ``u = ln(S - S_lo)`` after a coarse grid scan, where
    ``S_lo`` is the largest of: the finite-stage bound (beta E_M > 1,
    E'_M < beta') and, if ``f_A`` is given, S_min.

    Parameters
    ----------
    a, b : float
        Purification factors. [-]
    fp_A : float
        Organic-outlet RE per mol feed RE. [mol/mol]
    beta : float
        Extraction-section separation factor. [-]
    feed_phase : {"aqueous", "organic"}
    beta_scrub : float, optional
        Scrub-section separation factor (default beta). [-]
    f_A : float, optional
        Feed fraction of A; when given S is kept above S_min. [-]
    m_plus_one : bool
        Scrub bookkeeping variant (see :func:`stage_numbers`).

    Returns
    -------
    (S, W, E_M, E_prime_M)
        Optimum amounts [mol/mol feed RE] and ratios [-].

    Notes
    -----
    This is our numerical reading of the "precise optimum equation" [S16]; the
    published closed form was not available.  It relies on the constant-ratio stage
    equations, which are approximate near S_min (they stay finite at S_min), hence
    the S_min floor.  Only stage count times flow is weighed, not reagent cost.

    References
    ----------
    .. [S12], [S16]; DOMAIN.md §2.3.
    """
    a, b = _check_ab(a, b)
    beta = _check_beta("beta", beta)
    beta_scrub = beta if beta_scrub is None else _check_beta("beta_scrub", beta_scrub)
    feed_phase = _check_phase(feed_phase)
    S_lo = _S_lower_bound(fp_A, beta, beta_scrub, feed_phase, a, b)
    if f_A is not None:
        S_lo = max(S_lo, minimum_amounts(f_A, min(beta, beta_scrub), feed_phase)[0])
    _, S_simple, *_ = simple_optimum(fp_A, beta, feed_phase, beta_scrub)
    span = max(S_simple - S_lo, 1.0) * 50.0

    def objective(u: float) -> float:
        S = S_lo + math.exp(u)
        try:
            _, E_M, E_prime_M = amounts_from_S(S, fp_A, feed_phase)
            n, m = stage_numbers(
                a, b, beta, E_M, E_prime_M, beta_scrub=beta_scrub, m_plus_one=m_plus_one
            )
        except ValueError:  # rounding right at the finite-stage bound
            return math.inf
        return S * (n + m)

    lo, hi = math.log(span) - 30.0, math.log(span)
    grid = np.linspace(lo, hi, 241)
    values = [objective(u) for u in grid]
    i = int(np.argmin(values))
    res = minimize_scalar(
        objective,
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-10},
    )
    S = S_lo + math.exp(res.x)
    W, E_M, E_prime_M = amounts_from_S(S, fp_A, feed_phase)
    return S, W, E_M, E_prime_M


def reagent_consumption(S: float) -> tuple[float, float]:
    """Theoretical base and acid consumption of one independent loading.

    Saponification loads S mol RE per mol feed at 3 mol base each; the scrub acid
    strips W and the strip acid S - W (3 mol H+ each), so acid = base = 3 S.

    Parameters
    ----------
    S : float
        Extraction amount. [mol/mol feed RE]

    Returns
    -------
    (base, acid) : tuple of float
        [mol/mol feed RE] (base as monovalent equivalents, e.g. NH3 or NaOH).

    References
    ----------
    .. [S12]; DOMAIN.md §1.4 and §2.4.
    """
    S = float(S)
    if not S >= 0:
        raise ValueError(f"S={S!r} is not allowed: must be >= 0")
    return 3.0 * S, 3.0 * S


def equivalent_k(amount: float, beta: float) -> float:
    """Back-off exponent k of the practitioner rule amount = 1/(beta^k - 1).

    Aqueous feed: apply to W (k = 1 gives W_min); organic feed: apply to S.

    Parameters
    ----------
    amount : float
        W (aqueous feed) or S (organic feed). [mol/mol feed RE]
    beta : float
        Separation factor. [-]

    Returns
    -------
    float
        k = ln(1 + 1/amount)/ln(beta). [-]  "Normally the optimum k is 0.70" [S12].

    References
    ----------
    .. [S12]; DOMAIN.md §2.4 and §2.6 (k = 0.64 for the 99.5/99.5 Pr/Nd design).
    """
    amount = float(amount)
    if not amount > 0:
        raise ValueError(f"amount={amount!r} is not allowed: must be > 0")
    return math.log1p(1.0 / amount) / math.log(_check_beta("beta", beta))


# ----------------------------------------------------------------------- results
def _f(unit: str, doc: str, **kw):
    return field(metadata={"unit": unit, "doc": doc}, **kw)


@dataclass(frozen=True)
class LumpedFeed:
    """A multicomponent feed lumped into an A group and a B group at a cut.

    Attributes
    ----------
    components : tuple of str
        All components, least to most extractable.
    fractions : tuple of float
        Normalised feed mole fractions, same order. [-]
    relative_K : tuple of float
        Relative affinities (separation factors against any reference). [-]
    cut : int
        Number of components in the B group (components[:cut]).
    key_B, key_A : str
        Key pair: last B-group and first A-group component.
    beta : float
        Key-pair separation factor K[key_A]/K[key_B]. [-]
    f_A, f_B : float
        Feed fractions of the A and B groups. [-]
    """

    components: tuple[str, ...]
    fractions: tuple[float, ...]
    relative_K: tuple[float, ...]
    cut: int
    key_B: str
    key_A: str
    beta: float
    f_A: float
    f_B: float

    @property
    def group_A(self) -> tuple[str, ...]:
        return self.components[self.cut :]

    @property
    def group_B(self) -> tuple[str, ...]:
        return self.components[: self.cut]


@dataclass(frozen=True)
class XuDesign:
    """A two-outlet fractional-extraction design (Xu theory).

    Every field carries its unit and meaning in ``dataclasses.fields(...).metadata``
    (``"unit"``, ``"doc"``); :meth:`table` prints them.  Amounts S, W are mol RE per
    mol feed RE.  Stage numbers are ideal and not rounded.
    """

    feed_phase: str = _f("-", "phase of the feed: aqueous | organic")
    beta: float = _f("-", "extraction-section separation factor beta_A/B")
    beta_scrub: float = _f("-", "scrub-section separation factor beta'")
    f_A: float = _f("-", "mole fraction of A in the feed RE")
    f_B: float = _f("-", "mole fraction of B in the feed RE")
    purity_A: float = _f("-", "mole fraction of A in the organic-outlet RE")
    purity_B: float = _f("-", "mole fraction of B in the raffinate RE")
    a: float = _f("-", "purification factor, organic outlet")
    b: float = _f("-", "purification factor, aqueous outlet")
    Phi_A: float = _f("-", "fraction of feed A leaving in the raffinate")
    Phi_B: float = _f("-", "fraction of feed B leaving in the raffinate")
    yield_A: float = _f("-", "yield of A in the organic outlet")
    yield_B: float = _f("-", "yield of B in the raffinate")
    fp_A: float = _f("mol/mol feed", "RE leaving in the organic outlet, f'_A")
    fp_B: float = _f("mol/mol feed", "RE leaving in the raffinate, f'_B")
    S_min: float = _f("mol/mol feed", "minimum extraction amount (infinite stages)")
    W_min: float = _f("mol/mol feed", "minimum scrub amount (infinite stages)")
    control: str = _f("-", "governing section by Xu's criterion: extraction | scrub")
    optimum: str = _f("-", "how S was chosen: simple | precise | given")
    E_M: float = _f("-", "mixed extraction ratio, extraction section")
    E_prime_M: float = _f("-", "mixed extraction ratio, scrub section")
    S: float = _f("mol/mol feed", "extraction amount (RE on loaded organic)")
    W: float = _f("mol/mol feed", "scrub amount (RE in scrub aqueous)")
    n: float = _f("stages", "ideal extraction stages")
    m: float = _f("stages", "ideal scrub stages")
    m_plus_one: bool = _f("-", "scrub stages by the 'm + 1' bookkeeping")
    N_min: float = _f("stages", "minimum stages at total reflux, min(beta, beta')")
    k_equivalent: float = _f("-", "k in W (or S, organic feed) = 1/(beta^k - 1)")
    base_mol_per_mol_feed: float = _f("mol/mol feed", "theoretical base, 3 S")
    acid_mol_per_mol_feed: float = _f("mol/mol feed", "theoretical acid, 3 S")
    key_A: str = _f("-", "name of A (or key of the A group)", default="A")
    key_B: str = _f("-", "name of B (or key of the B group)", default="B")
    lumping: LumpedFeed | None = _f("-", "multicomponent lumping", default=None)

    @property
    def n_plus_m(self) -> float:
        """Ideal extraction + scrub stages. [stages]"""
        return self.n + self.m

    @property
    def volume_index(self) -> float:
        """S*(n+m), proportional to mixer volume per unit production. [stages]"""
        return self.S * (self.n + self.m)

    @property
    def stages_extraction(self) -> int:
        """Extraction stages to install, ceil(n) (at least 1). [stages]"""
        return max(1, math.ceil(self.n - 1e-9))

    @property
    def stages_scrub(self) -> int:
        """Scrub stages to install, ceil(m) (at least 1). [stages]"""
        return max(1, math.ceil(self.m - 1e-9))

    def table(self, units: bool = True) -> dict[str, object]:
        """Flat dict of every scalar quantity for printing.

        Parameters
        ----------
        units : bool
            Append the unit in brackets to each key (e.g. ``"S [mol/mol feed]"``).
        """
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            if f.name == "lumping":
                continue
            unit = f.metadata.get("unit", "-")
            out[f"{f.name} [{unit}]" if units else f.name] = getattr(self, f.name)
        extra = {
            "n_plus_m": ("stages", self.n_plus_m),
            "volume_index": ("stages", self.volume_index),
        }
        for name, (unit, value) in extra.items():
            out[f"{name} [{unit}]" if units else name] = value
        if self.lumping is not None:
            out["group_A" if not units else "group_A [-]"] = ",".join(
                self.lumping.group_A
            )
            out["group_B" if not units else "group_B [-]"] = ",".join(
                self.lumping.group_B
            )
        return out


# ------------------------------------------------------------------------ design
def xu_design(
    f_A: float,
    purity_A: float,
    purity_B: float,
    beta: float,
    *,
    beta_scrub: float | None = None,
    feed_phase: str = "aqueous",
    optimum: str = "simple",
    S: float | None = None,
    m_plus_one: bool = False,
    key_A: str = "A",
    key_B: str = "B",
) -> XuDesign:
    """Design a two-outlet fractional-extraction cascade by Xu's theory.

    Parameters
    ----------
    f_A : float
        Mole fraction of A (more extractable) in the feed RE, in (0, 1). [-]
    purity_A : float
        Required A fraction in the organic-outlet RE, in [f_A, 1). [-]
    purity_B : float
        Required B fraction in the raffinate RE, in [1 - f_A, 1). [-]
    beta : float
        Separation factor beta_A/B > 1 (extraction section). [-]
    beta_scrub : float, optional
        Scrub-section separation factor beta' (default beta). [-]
    feed_phase : {"aqueous", "organic"}
        Aqueous feed enters the last extraction stage; a loaded-organic feed joins
        the organic between the extraction and scrub sections.
    optimum : {"simple", "precise"}
        "simple": Xu's optimum equations (governing section at E_M = 1/sqrt(beta)
        or E'_M = sqrt(beta')).  "precise": numerical minimum of S*(n+m), see
        :func:`precise_optimum`.
    S : float, optional
        Impose the extraction amount [mol/mol feed RE] instead of an optimum
        (``optimum`` is then reported as "given").
    m_plus_one : bool
        Scrub stages from ``m + 1 = log a / log(beta'/E'_M)``.
    key_A, key_B : str
        Names used in tables and by :func:`rexopt.design.design_to_case`.

    Returns
    -------
    XuDesign

    Raises
    ------
    ValueError
        Naming the argument, its value and what is allowed.

    References
    ----------
    .. [S12], [S13], [S14], [S16]; DOMAIN.md §2.1-2.4; the worked Pr/Nd table in
       §2.6 is reproduced by ``xu_design(0.75, 0.995, 0.995, 1.5)``.
    """
    f_A = _open_unit("f_A", f_A)
    beta = _check_beta("beta", beta)
    beta_scrub = beta if beta_scrub is None else _check_beta("beta_scrub", beta_scrub)
    feed_phase = _check_phase(feed_phase)
    if optimum not in _OPTIMA:
        raise ValueError(
            f"optimum={optimum!r} is not allowed: must be one of {_OPTIMA}"
        )
    a, b = purification_factors(f_A, purity_A, purity_B)
    if not a * b > 1.0:
        raise ValueError(
            f"purity_A={purity_A!r}, purity_B={purity_B!r} are not allowed: at "
            "least one must exceed its feed fraction"
        )
    Phi_A, Phi_B = raffinate_fractions(a, b)
    Y_A, Y_B = yields(a, b)
    fp_A, fp_B = outlet_fractions(f_A, purity_A, a, b)
    S_min, W_min = minimum_amounts(f_A, min(beta, beta_scrub), feed_phase)
    control = controlling_section(fp_B, beta, feed_phase, beta_scrub)

    if S is not None:
        S = float(S)
        S_lo = _S_lower_bound(fp_A, beta, beta_scrub, feed_phase, a, b)
        if not (math.isfinite(S) and S > S_lo):
            raise ValueError(
                f"S={S!r} is not allowed: must exceed {S_lo:.6g} mol/mol feed so that "
                "beta*E_M > 1 and E'_M < beta' (finite stage numbers)"
            )
        W, E_M, E_prime_M = amounts_from_S(S, fp_A, feed_phase)
        how = "given"
    elif optimum == "simple":
        _, S, W, E_M, E_prime_M = simple_optimum(fp_A, beta, feed_phase, beta_scrub)
        how = "simple"
    else:
        S, W, E_M, E_prime_M = precise_optimum(
            a, b, fp_A, beta, feed_phase, beta_scrub, f_A=f_A, m_plus_one=m_plus_one
        )
        how = "precise"
    n, m = stage_numbers(
        a, b, beta, E_M, E_prime_M, beta_scrub=beta_scrub, m_plus_one=m_plus_one
    )
    base, acid = reagent_consumption(S)
    k = equivalent_k(W if feed_phase == "aqueous" else S, min(beta, beta_scrub))
    return XuDesign(
        feed_phase=feed_phase,
        beta=beta,
        beta_scrub=beta_scrub,
        f_A=f_A,
        f_B=1.0 - f_A,
        purity_A=float(purity_A),
        purity_B=float(purity_B),
        a=a,
        b=b,
        Phi_A=Phi_A,
        Phi_B=Phi_B,
        yield_A=Y_A,
        yield_B=Y_B,
        fp_A=fp_A,
        fp_B=fp_B,
        S_min=S_min,
        W_min=W_min,
        control=control,
        optimum=how,
        E_M=E_M,
        E_prime_M=E_prime_M,
        S=S,
        W=W,
        n=n,
        m=m,
        m_plus_one=bool(m_plus_one),
        N_min=fenske_min_stages(a, b, min(beta, beta_scrub)),
        k_equivalent=k,
        base_mol_per_mol_feed=base,
        acid_mol_per_mol_feed=acid,
        key_A=str(key_A),
        key_B=str(key_B),
    )


# ------------------------------------------------------------------- lumping
def lump_components(
    components: Sequence[str],
    fractions: Mapping[str, float] | Sequence[float],
    separation_factors: Mapping[str, float],
    cut: int | str,
) -> LumpedFeed:
    """Lump a multicomponent feed into an A group and a B group at a cut.

    The design is then governed by the key pair (the two components adjacent to
    the cut) with its separation factor; every other component is assumed to go
    entirely with its group.  This is good when the non-key components are much
    easier to separate from the opposite key than the key pair itself (beta to the
    opposite key >> beta_key); otherwise the non-key components spread over both
    outlets and the group purities are optimistic - check by simulation.

    Parameters
    ----------
    components : sequence of str
        Component names in extraction order, least to most extractable.
    fractions : mapping or sequence of float
        Feed amounts (mole fractions or concentrations, normalised here), by name or
        in the order of ``components``. [-]
    separation_factors : mapping of str to float
        Relative affinity K_i against any reference (as in a case file's
        ``separation_factors``); must increase strictly along ``components``. [-]
    cut : int or str
        Number of components in the B group (1 .. len-1), or the name of the first
        (least extractable) A-group component.

    Returns
    -------
    LumpedFeed

    References
    ----------
    .. [S12], [S15]; DOMAIN.md §2.1 (two-component theory applied to a key pair).
    """
    comps = tuple(str(c) for c in components)
    if len(comps) < 2 or len(set(comps)) != len(comps):
        raise ValueError(
            f"components={list(comps)!r} is not allowed: need >= 2 distinct names"
        )
    if isinstance(fractions, Mapping):
        missing = [c for c in comps if c not in fractions]
        extra = [k for k in fractions if k not in comps]
        if missing or extra:
            raise ValueError(
                f"fractions={dict(fractions)!r} is not allowed: keys must be exactly "
                f"{list(comps)} (missing {missing}, unknown {extra})"
            )
        amounts = [float(fractions[c]) for c in comps]
    else:
        amounts = [float(x) for x in fractions]
        if len(amounts) != len(comps):
            raise ValueError(
                f"fractions={amounts!r} is not allowed: need {len(comps)} values, one "
                "per component"
            )
    if any(not (x >= 0 and math.isfinite(x)) for x in amounts) or sum(amounts) <= 0:
        raise ValueError(
            f"fractions={amounts!r} is not allowed: values must be >= 0 with a "
            "positive sum"
        )
    total = sum(amounts)
    x = tuple(v / total for v in amounts)
    missing = [c for c in comps if c not in separation_factors]
    if missing:
        raise ValueError(
            f"separation_factors={dict(separation_factors)!r} is not allowed: "
            f"missing {missing}"
        )
    K = tuple(float(separation_factors[c]) for c in comps)
    if any(not (k > 0) for k in K) or any(
        k2 <= k1 for k1, k2 in zip(K, K[1:], strict=False)
    ):
        raise ValueError(
            f"separation_factors={dict(separation_factors)!r} is not allowed: must be "
            f"> 0 and strictly increasing in the order {list(comps)} (least to most "
            "extractable)"
        )
    if isinstance(cut, str):
        if cut not in comps[1:]:
            raise ValueError(
                f"cut={cut!r} is not allowed: must name one of {list(comps[1:])} "
                "(first A-group component)"
            )
        k_cut = comps.index(cut)
    else:
        k_cut = int(cut)
        if not (1 <= k_cut <= len(comps) - 1):
            raise ValueError(
                f"cut={cut!r} is not allowed: must be in [1, {len(comps) - 1}] "
                "(number of B-group components)"
            )
    f_A = sum(x[k_cut:])
    if not (0.0 < f_A < 1.0):
        raise ValueError(
            f"cut={cut!r} is not allowed: both groups need a positive feed fraction "
            f"(f_A={f_A:g})"
        )
    return LumpedFeed(
        components=comps,
        fractions=x,
        relative_K=K,
        cut=k_cut,
        key_B=comps[k_cut - 1],
        key_A=comps[k_cut],
        beta=K[k_cut] / K[k_cut - 1],
        f_A=f_A,
        f_B=1.0 - f_A,
    )


def xu_design_multicomponent(
    components: Sequence[str],
    fractions: Mapping[str, float] | Sequence[float],
    separation_factors: Mapping[str, float],
    cut: int | str,
    purity_A: float,
    purity_B: float,
    **kwargs,
) -> XuDesign:
    """Xu design of a multicomponent split by lumping (see :func:`lump_components`).

    ``purity_A`` / ``purity_B`` are group purities (A-group fraction in the organic
    outlet, B-group fraction in the raffinate).  Keyword arguments go to
    :func:`xu_design`; the key-pair beta is used for both sections unless
    ``beta_scrub`` is given.

    Returns
    -------
    XuDesign
        With ``key_A``/``key_B`` set to the key pair and ``lumping`` attached.
    """
    lump = lump_components(components, fractions, separation_factors, cut)
    kwargs.setdefault("key_A", lump.key_A)
    kwargs.setdefault("key_B", lump.key_B)
    d = xu_design(lump.f_A, purity_A, purity_B, lump.beta, **kwargs)
    return dataclasses.replace(d, lumping=lump)


# ------------------------------------------------------------------ three outlet
@dataclass(frozen=True)
class ThreeOutletDesign:
    """Three-outlet cascade (A organic / B aqueous middle draw / C raffinate).

    Built as two superimposed two-outlet designs on one feed, at one common S (the
    larger of their own optima, since the same saturated organic runs through the
    whole cascade):

    * ``upper``: A | (B+C) cut, key pair A/B (beta_AB);
    * ``lower``: (A+B) | C cut, key pair B/C (beta_BC).

    The balances close exactly: the aqueous RE flow changes by the draw D at the
    draw stage, and ``upper.W - lower.W = D`` at the common S.

    ``draw_section = "extraction"`` (draw below the feed): ``lower.n`` stages from
    the raffinate end to the draw (clean C), ``upper.n`` from the draw to the feed
    (remove A from the draw), ``upper.m`` scrub stages; the bottom section runs at
    ``lower.E_M``, the middle one at ``upper.E_M``, the scrub at ``upper.E_prime_M``.
    The C content of the draw is controlled by no stage count (C enters with the
    feed and passes the draw in the aqueous).

    ``draw_section = "scrub"`` (draw above the feed, the classical Gd/Eu/Sm
    design): ``lower.n`` extraction stages (clean C), ``lower.m`` scrub stages from
    the feed to the draw (scrub C out of what rises to the draw; they run at
    ``lower.E_prime_M`` with ``lower.W = W - D``), ``upper.m`` scrub stages from the
    draw to the top (purify A; ``upper.E_prime_M``, W = ``upper.W``).  The A content
    of the draw is set by the equilibrium at the draw stage and controlled by no
    stage count.

    In both layouts the reflux of B between the two cuts is ignored: check every
    three-outlet design by simulation (``rexopt design`` does).

    Attributes
    ----------
    upper, lower : XuDesign
        The two cuts at the common S.
    S : float
        Common extraction amount. [mol/mol feed]
    W : float
        Scrub amount. [mol/mol feed]
    draw_fraction : float
        RE drawn in the middle outlet per mol feed RE. [mol/mol feed]
    n_bottom, n_middle, m : float
        Ideal stages.  Draw in the extraction section: raffinate end -> draw,
        draw -> feed, scrub.  Draw in the scrub section: extraction (n_bottom),
        0, scrub from the draw to the top (m). [stages]
    draw_section : {"extraction", "scrub"}
        Section of the middle draw.
    m_middle : float
        Draw in the scrub section: ideal scrub stages from the feed to the draw
        (0 otherwise). [stages]
    """

    upper: XuDesign
    lower: XuDesign
    S: float
    W: float
    draw_fraction: float
    n_bottom: float
    n_middle: float
    m: float
    names: tuple[str, str, str] = ("A", "B", "C")
    draw_section: str = "extraction"
    m_middle: float = 0.0

    @property
    def n(self) -> float:
        """Ideal extraction stages, raffinate end to feed. [stages]"""
        return self.n_bottom + self.n_middle

    @property
    def draw_stage(self) -> int:
        """1-based global stage (from the raffinate end) of the middle draw."""
        if self.draw_section == "scrub":
            return self.stages_extraction + max(1, math.ceil(self.m_middle - 1e-9))
        return max(1, math.ceil(self.n_bottom - 1e-9))

    @property
    def stages_extraction(self) -> int:
        """Extraction stages to install (each part rounded up)."""
        bottom = max(1, math.ceil(self.n_bottom - 1e-9))
        if self.draw_section == "scrub":
            return bottom
        return bottom + max(1, math.ceil(self.n_middle - 1e-9))

    @property
    def stages_scrub(self) -> int:
        """Scrub stages to install (each part rounded up). [stages]"""
        top = max(1, math.ceil(self.m - 1e-9))
        if self.draw_section == "scrub":
            return max(1, math.ceil(self.m_middle - 1e-9)) + top
        return top

    def table(self, units: bool = True) -> dict[str, object]:
        """Flat dict for printing (common quantities, then ``upper.*``/``lower.*``)."""
        u = (lambda name, unit: f"{name} [{unit}]") if units else (lambda n, _: n)
        out: dict[str, object] = {
            u("S", "mol/mol feed"): self.S,
            u("W", "mol/mol feed"): self.W,
            u("draw_fraction", "mol/mol feed"): self.draw_fraction,
            u("n_bottom", "stages"): self.n_bottom,
            u("n_middle", "stages"): self.n_middle,
            u("m", "stages"): self.m,
            u("m_middle", "stages"): self.m_middle,
            u("draw_section", "-"): self.draw_section,
            u("draw_stage", "-"): self.draw_stage,
        }
        for tag, d in (("upper", self.upper), ("lower", self.lower)):
            for key, value in d.table(units).items():
                out[f"{tag}.{key}"] = value
        return out


def xu_three_outlet(
    fractions: Sequence[float],
    purity_A: float,
    purity_C: float,
    beta_AB: float,
    beta_BC: float,
    *,
    middle_max_A: float,
    middle_max_C: float,
    feed_phase: str = "aqueous",
    optimum: str = "simple",
    m_plus_one: bool = False,
    names: Sequence[str] = ("A", "B", "C"),
    draw_section: str = "extraction",
    impurity_basis: str = "outlet",
) -> ThreeOutletDesign:
    """Three-outlet design with an aqueous middle draw below or above the feed.

    See :class:`ThreeOutletDesign` for the construction and its limits.

    Parameters
    ----------
    fractions : sequence of 3 float
        Feed amounts of A (most extractable), B (middle), C (least extractable);
        normalised here. [-]
    purity_A : float
        A fraction in the organic outlet. [-]
    purity_C : float
        C fraction in the raffinate. [-]
    beta_AB, beta_BC : float
        Separation factors K_A/K_B and K_B/K_C (> 1). [-]
    middle_max_A, middle_max_C : float
        Largest A and C mole fractions allowed in the middle draw. [-]
        ``impurity_basis = "outlet"``: used as the cuts' own impurities (upper
        cut's aqueous purity 1 - middle_max_A, lower cut's organic purity
        1 - middle_max_C), which is stricter than the draw alone needs.
        ``"draw"``: fractions of the draw itself; the cuts' purities follow from
        the outlet sizes (solved by fixed-point iteration).
    feed_phase : {"aqueous", "organic"}
    optimum : {"simple", "precise"}
        Used for each cut's own optimum before the common S is taken.
    m_plus_one : bool
        Scrub bookkeeping variant.
    names : sequence of 3 str
        Names of A, B, C.
    draw_section : {"extraction", "scrub"}
        Draw below the feed (extraction section) or above it (scrub section, the
        classical Gd/Eu/Sm design).
    impurity_basis : {"outlet", "draw"}
        How ``middle_max_A`` / ``middle_max_C`` are read (see above).

    Returns
    -------
    ThreeOutletDesign

    References
    ----------
    .. [S12] (three-outlet process of Yan et al.), [S15]; DOMAIN.md §2.8.
    """
    vals = [float(v) for v in fractions]
    if len(vals) != 3 or any(not (v > 0) for v in vals):
        raise ValueError(
            f"fractions={vals!r} is not allowed: need 3 positive amounts (A, B, C)"
        )
    tot = sum(vals)
    x_A, x_B, x_C = (v / tot for v in vals)
    mA = _open_unit("middle_max_A", middle_max_A)
    mC = _open_unit("middle_max_C", middle_max_C)
    if impurity_basis not in ("outlet", "draw"):
        raise ValueError(
            f"impurity_basis={impurity_basis!r} is not allowed: must be 'outlet' or "
            "'draw'"
        )
    if draw_section not in ("extraction", "scrub"):
        raise ValueError(
            f"draw_section={draw_section!r} is not allowed: must be 'extraction' or "
            "'scrub'"
        )
    nA, nB, nC = (str(s) for s in names)
    common = dict(feed_phase=feed_phase, m_plus_one=m_plus_one)

    def cut(label: str, args: tuple, **kw) -> XuDesign:
        try:
            return xu_design(*args, **kw, **common)
        except ValueError as err:
            raise ValueError(f"{label}: {err}") from err

    up_args = (x_A, purity_A, 1.0 - mA, beta_AB)
    low_args = (x_A + x_B, 1.0 - mC, purity_C, beta_BC)
    up_label = f"upper cut {nA}|{nB}+{nC} (purity_B = 1 - middle_max_A, beta = beta_AB)"
    low_label = (
        f"lower cut {nA}+{nB}|{nC} (purity_A = 1 - middle_max_C, purity_B = "
        "purity_C, beta = beta_BC)"
    )
    if impurity_basis == "draw":
        up_label = (
            f"upper cut {nA}|{nB}+{nC} (purity_B from middle_max_A of the draw, "
            "beta = beta_AB)"
        )
        low_label = (
            f"lower cut {nA}+{nB}|{nC} (purity_A from middle_max_C of the draw, "
            "purity_B = purity_C, beta = beta_BC)"
        )
        # middle_max_A/C are fractions of the draw: A in the draw is mA*D of the
        # upper cut's aqueous outlet D + R, C in the draw mC*D of the lower cut's
        # organic outlet P + D; D, P, R follow from the cuts (fixed point)
        P, D, R = x_A, x_B, x_C
        for _ in range(200):
            up_args = (x_A, purity_A, 1.0 - mA * D / (D + R), beta_AB)
            low_args = (x_A + x_B, 1.0 - mC * D / (P + D), purity_C, beta_BC)
            upper = cut(up_label, up_args, optimum=optimum, key_A=nA, key_B=nB)
            lower = cut(low_label, low_args, optimum=optimum, key_A=nB, key_B=nC)
            P, R = upper.fp_A, lower.fp_B
            D_new = 1.0 - P - R
            if not D_new > 0 or abs(D_new - D) <= 1e-13:
                D = D_new
                break
            D = D_new
    else:
        upper = cut(up_label, up_args, optimum=optimum, key_A=nA, key_B=nB)
        lower = cut(low_label, low_args, optimum=optimum, key_A=nB, key_B=nC)
    draw = 1.0 - upper.fp_A - lower.fp_B
    if not draw > 0:
        raise ValueError(
            f"purity_A={purity_A!r}, purity_C={purity_C!r}, middle_max_A={mA!r}, "
            f"middle_max_C={mC!r} leave no middle product (draw fraction {draw:g}); "
            "relax the middle specification"
        )
    S = max(upper.S, lower.S)
    upper = cut(up_label, up_args, S=S, key_A=nA, key_B=nB)
    lower = cut(low_label, low_args, S=S, key_A=nB, key_B=nC)
    # the draw in the scrub section: every extraction stage lies below it (n_middle
    # 0) and the lower cut's scrub stages lie between the feed and the draw
    scrub = draw_section == "scrub"
    return ThreeOutletDesign(
        upper=upper,
        lower=lower,
        S=S,
        W=upper.W,
        draw_fraction=draw,
        n_bottom=lower.n,
        n_middle=0.0 if scrub else upper.n,
        m=upper.m,
        names=(nA, nB, nC),
        draw_section=draw_section,
        m_middle=lower.m if scrub else 0.0,
    )


# ------------------------------------------------------------- case generation
_AGENTS = ("NaOH", "NH3", "Mg(HCO3)2")


def _relative_K(design, components: list[str], separation_factors) -> dict[str, float]:
    if separation_factors is not None:
        K = {str(k): float(v) for k, v in separation_factors.items()}
    elif isinstance(design, ThreeOutletDesign):
        nA, nB, nC = design.names
        bab, bbc = design.upper.beta, design.lower.beta
        K = {nC: 1.0, nB: bbc, nA: bab * bbc}
        if set(components) != set(K) and len(components) == 3:
            # names not given to the design: map by extraction order (C, B, A)
            K = dict(zip(components, (1.0, bbc, bab * bbc), strict=True))
    elif design.lumping is not None:
        K = dict(zip(design.lumping.components, design.lumping.relative_K, strict=True))
    elif set(components) == {design.key_A, design.key_B}:
        K = {design.key_B: 1.0, design.key_A: design.beta}
    elif len(components) == 2:
        # order least -> most extractable: components[0] is B, components[1] is A
        K = {components[0]: 1.0, components[1]: design.beta}
    else:
        raise ValueError(
            f"components={components!r} is not allowed without separation_factors: "
            "a two-component design needs exactly 2 names (least extractable first)"
        )
    missing = [c for c in components if c not in K]
    if missing:
        raise ValueError(
            f"components={components!r} is not allowed: no separation factor for "
            f"{missing}; pass separation_factors"
        )
    return {c: K[c] for c in components}


def design_to_case(
    design: XuDesign | ThreeOutletDesign,
    *,
    components: Sequence[str],
    feed_flow_L_h: float,
    feed_conc_mol_L: Mapping[str, float],
    extractant_mol_L: float = 1.5,
    saponification: float = 0.36,
    K_ref_L_mol: float = 50.0,
    strip_stages: int = 6,
    agent: str = "NH3",
    feed_acidity_mol_L: float = 0.01,
    stage_margin: int = 0,
    separation_factors: Mapping[str, float] | None = None,
    loading_fraction: float = 1.0,
    scrub_acidity_mol_L: float = 3.0,
    strip_acidity_mol_L: float = 6.0,
    strip_excess: float = 1.2,
    medium: str = "chloride",
    name: str | None = None,
) -> dict:
    """Turn a Xu design into a ready-to-simulate cascade case (docs/cases.md schema).

    Sizing rules (F_RE = feed RE flow [mol/h]):

    * model "saturated", separation factors = relative K (B = 1, A = beta for a
      two-component design; the lumped or given table otherwise).
    * sections: extraction = ceil(n) + stage_margin, scrub = ceil(m) + stage_margin
      (each at least 1), strip = ``strip_stages``.
    * organic: capacity Ymax = saponification * extractant / 3 [mol/L]; the organic
      must carry S*F_RE, so ``flow_L_h = S*F_RE / (Ymax * loading_fraction)``
      (``loading_fraction`` = 1: capacity exactly S, as Xu's theory assumes).
    * scrub acid: 3 mol H+ per mol RE at ``scrub_acidity_mol_L`` (default 3.0).
      The acid takes organic sites where it enters, so the organic product is the
      capacity left after it, ``O Ymax - H_scrub/3``; the acid is sized to keep
      that at f'_A F_RE: ``flow*acidity = 3 (W + S (1/loading_fraction - 1))
      F_RE`` (= 3 W F_RE at loading_fraction 1).  A loading_fraction < 1 thus adds
      organic and scrub acid without moving the product split.
    * the kernel's saturated (Langmuir) organic is not quite saturated, so these
      flows miss tight purities on the kernel; :func:`rexopt.design.design_case`
      corrects them on the kernel.
    * strip acid strips the organic product f'_A*F_RE (= (S - W) F_RE for an
      aqueous feed) with 3 mol H+ per RE times ``strip_excess`` (1.2) at
      ``strip_acidity_mol_L`` (6.0).
    * feed stage: aqueous feed on the last extraction stage; organic feed on the
      first scrub stage (so all n extraction stages see E_M = S/W).
    * three-outlet designs add an aqueous side draw at ``draw_stage`` (in the
      extraction or the scrub section); its volume flow is estimated as
      draw_fraction * (aqueous volume flow above the draw) / (aqueous RE flow above
      the draw: W, plus 1 for an aqueous feed above a draw in the extraction
      section), i.e. assuming additive volumes and no water transfer.

    Parameters
    ----------
    design : XuDesign or ThreeOutletDesign
        The design to convert.
    components : sequence of str
        Case components, least to most extractable.
    feed_flow_L_h : float
        Feed flow. [L/h]
    feed_conc_mol_L : mapping of str to float
        Feed RE concentrations (aqueous, or organic for an organic feed). [mol/L]
    extractant_mol_L : float
        HA monomer concentration of the organic. [mol/L]
    saponification : float
        Fraction of HA in salt form at the organic inlet, in (0, 1). [-]
    K_ref_L_mol : float
        Affinity of the reference component (relative K = 1). [L/mol]
    strip_stages : int
        Strip stages. [stages]
    agent : {"NaOH", "NH3", "Mg(HCO3)2"}
        Saponification agent.
    feed_acidity_mol_L : float
        Free H+ of an aqueous feed. [mol/L]
    stage_margin : int
        Extra stages added to each designed section. [stages]
    separation_factors : mapping, optional
        Relative K for every component (overrides the design's). [-]
    loading_fraction : float
        Design organic loading as a fraction of capacity, in (0, 1]. [-]
    scrub_acidity_mol_L, strip_acidity_mol_L : float
        Acid strengths of the scrub and strip streams. [mol/L]
    strip_excess : float
        Strip acid over the stoichiometric 3 mol H+ per mol RE, >= 1. [-]
    medium : {"chloride", "sulfate"}
    name : str, optional
        Case name.

    Returns
    -------
    dict
        Case dict accepted by ``rexopt.simulate``.

    References
    ----------
    .. [S12]; DOMAIN.md §1.4 (capacity s*C_HA/3, 3 mol base per RE), §2.4.
    """
    if not isinstance(design, XuDesign | ThreeOutletDesign):
        raise ValueError(
            f"design={type(design).__name__} is not allowed: must be an XuDesign or "
            "ThreeOutletDesign"
        )
    comps = [str(c) for c in components]
    if len(comps) < 2 or len(set(comps)) != len(comps):
        raise ValueError(f"components={comps!r} is not allowed: need >= 2 distinct")

    def positive(arg: str, value: float) -> float:
        value = float(value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{arg}={value!r} is not allowed: must be > 0")
        return value

    Q_f = positive("feed_flow_L_h", feed_flow_L_h)
    C_HA = positive("extractant_mol_L", extractant_mol_L)
    sap = _open_unit("saponification", saponification)
    K_ref = positive("K_ref_L_mol", K_ref_L_mol)
    c_scrub = positive("scrub_acidity_mol_L", scrub_acidity_mol_L)
    c_strip = positive("strip_acidity_mol_L", strip_acidity_mol_L)
    if not (0 < float(loading_fraction) <= 1):
        raise ValueError(
            f"loading_fraction={loading_fraction!r} is not allowed: must be in (0, 1]"
        )
    if not float(strip_excess) >= 1:
        raise ValueError(f"strip_excess={strip_excess!r} is not allowed: must be >= 1")
    if int(strip_stages) != strip_stages or int(strip_stages) < 1:
        raise ValueError(
            f"strip_stages={strip_stages!r} is not allowed: must be an integer >= 1"
        )
    if int(stage_margin) != stage_margin or int(stage_margin) < 0:
        raise ValueError(
            f"stage_margin={stage_margin!r} is not allowed: must be an integer >= 0"
        )
    if agent not in _AGENTS:
        raise ValueError(f"agent={agent!r} is not allowed: must be one of {_AGENTS}")
    if medium not in ("chloride", "sulfate"):
        raise ValueError(
            f"medium={medium!r} is not allowed: must be 'chloride' or 'sulfate'"
        )
    if float(feed_acidity_mol_L) < 0:
        raise ValueError(
            f"feed_acidity_mol_L={feed_acidity_mol_L!r} is not allowed: must be >= 0"
        )
    conc = {str(k): float(v) for k, v in feed_conc_mol_L.items()}
    unknown = [k for k in conc if k not in comps]
    if unknown or any(not (v >= 0) for v in conc.values()) or sum(conc.values()) <= 0:
        raise ValueError(
            f"feed_conc_mol_L={conc!r} is not allowed: keys must be among {comps}, "
            "values >= 0 with a positive sum"
        )
    K = _relative_K(design, comps, separation_factors)

    three = isinstance(design, ThreeOutletDesign)
    d = design.upper if three else design
    phase = d.feed_phase
    S, W, fp_A = design.S, design.W, d.fp_A
    F_RE = Q_f * sum(conc.values())  # [mol/h]
    Ymax = sap * C_HA / 3.0  # [mol/L]
    margin = int(stage_margin)
    in_scrub = three and design.draw_section == "scrub"
    if in_scrub:
        n_ext = design.stages_extraction + margin
        n_draw = n_ext + max(1, math.ceil(design.m_middle - 1e-9)) + margin
        n_scr = design.stages_scrub + 2 * margin
    elif three:
        n_draw = design.draw_stage + margin
        n_ext = n_draw + max(1, math.ceil(design.n_middle - 1e-9)) + margin
        n_scr = design.stages_scrub + margin
    else:
        n_ext = design.stages_extraction + margin
        n_scr = design.stages_scrub + margin

    lf = float(loading_fraction)
    Q_org = S * F_RE / (Ymax * lf)
    # the organic product is the capacity left after the scrub acid, O Ymax -
    # H_scrub/3 (mol/h); keep it at f'_A F_RE = (S - W) F_RE whatever lf is
    Q_scrub = 3.0 * (W + S * (1.0 / lf - 1.0)) * F_RE / c_scrub
    Q_strip = 3.0 * float(strip_excess) * fp_A * F_RE / c_strip

    feed: dict[str, object] = {
        "phase": phase,
        "stage": n_ext if phase == "aqueous" else n_ext + 1,
        "flow_L_h": Q_f,
    }
    if phase == "aqueous":
        feed["acidity_mol_L"] = float(feed_acidity_mol_L)
    feed["conc_mol_L"] = conc

    if name is None:
        if three:
            name = "{}/{}/{} three-outlet (Xu design)".format(*design.names)
        else:
            name = f"{d.key_B}/{d.key_A} split (Xu design)"
        name += f", S={S:.3g}, W={W:.3g}"
    case: dict[str, object] = {
        "kind": "cascade",
        "name": name,
        "chemistry": {
            "model": "saturated",
            "medium": medium,
            "components": comps,
            "saturated": {"separation_factors": K, "K_ref_L_mol": K_ref},
        },
        "sections": {
            "extraction": {"stages": n_ext},
            "scrub": {"stages": n_scr, "efficiency": 1.0},
            "strip": {"stages": int(strip_stages)},
        },
        "organic": {
            "flow_L_h": Q_org,
            "extractant_mol_L": C_HA,
            "saponification": sap,
            "agent": agent,
            "recycle": False,
            "conc_mol_L": {},
        },
        "feed": feed,
        "scrub": {"flow_L_h": Q_scrub, "acidity_mol_L": c_scrub},
        "strip": {"flow_L_h": Q_strip, "acidity_mol_L": c_strip},
    }
    if three:
        # aqueous RE flow and volume above the draw: the scrub aqueous (draw in the
        # scrub section), or the scrub aqueous plus an aqueous feed (draw below it)
        feed_aq = phase == "aqueous" and not in_scrub
        aq_RE = W + (1.0 if feed_aq else 0.0)  # [mol/mol feed]
        aq_Q = Q_scrub + (Q_f if feed_aq else 0.0)  # [L/h]
        case["side_draws"] = [
            {
                "phase": "aqueous",
                "stage": n_draw,
                "flow_L_h": design.draw_fraction * aq_Q / aq_RE,
            }
        ]
    return case


def design_to_toml(design: XuDesign | ThreeOutletDesign, **kwargs) -> str:
    """TOML text of :func:`design_to_case`, with the design summarised on top.

    Parameters
    ----------
    design : XuDesign or ThreeOutletDesign
    **kwargs
        As for :func:`design_to_case`.

    Returns
    -------
    str
        A case file a user can save, edit and simulate.
    """
    import tomli_w

    case = design_to_case(design, **kwargs)
    if isinstance(design, ThreeOutletDesign):
        lines = [
            "# Three-outlet cascade generated by rexopt.design (Xu theory, two",
            "# superimposed two-outlet cuts; check the middle draw by simulation).",
            f"# S = {design.S:.4g}, W = {design.W:.4g} mol/mol feed RE; draw in the "
            f"{design.draw_section} section at stage {design.draw_stage}",
            (
                f"# ideal stages: extraction {design.n_bottom:.1f}, scrub feed -> "
                f"draw {design.m_middle:.1f}, draw -> top {design.m:.1f}"
                if design.draw_section == "scrub"
                else f"# ideal stages: raffinate end -> draw {design.n_bottom:.1f}, "
                f"draw -> feed {design.n_middle:.1f}, scrub {design.m:.1f}"
            ),
        ]
    else:
        lines = [
            "# Cascade generated by rexopt.design from a Xu closed-form design.",
            f"# {design.key_B}/{design.key_A}: beta = {design.beta:.4g}, feed "
            f"{design.feed_phase}, f_A = {design.f_A:.4g}, "
            f"purity A = {design.purity_A:.6g}, purity B = {design.purity_B:.6g}",
            f"# {design.control}-controlled ({design.optimum} optimum): "
            f"E_M = {design.E_M:.4g}, E'_M = {design.E_prime_M:.4g}, "
            f"S = {design.S:.4g}, W = {design.W:.4g} mol/mol feed RE",
            f"# ideal stages n = {design.n:.2f}, m = {design.m:.2f}, "
            f"N_min = {design.N_min:.2f}",
        ]
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(case)
