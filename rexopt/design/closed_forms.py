"""Closed-form stage equations: Kremser (recovery duty) and Fenske-type minimum stages.

All functions are pure and work on Python floats.  Concentrations only enter as
ratios, so any consistent unit works; the docstrings use [mol/L].

References
----------
.. [S12] Public MyST book on REE separation ("SX fundamentals", "Process Modeling and
   Optimization"), summarising Zhang, Zhao & Schreiner (2016), *Separation
   Hydrometallurgy of Rare Earth Elements*, Springer, doi:10.1007/978-3-319-28235-0.
   See /work/shared/DOMAIN.md sections 2.2 and 2.5.
"""

from __future__ import annotations

import math

__all__ = [
    "extraction_factor",
    "kremser_ratio",
    "kremser_recovery",
    "kremser_raffinate",
    "kremser_stages",
    "fenske_min_stages",
    "min_stages_from_purities",
]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(
            f"{name}={value!r} is not allowed: must be a finite number > 0"
        )
    return value


def _open_unit(name: str, value: float) -> float:
    value = float(value)
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name}={value!r} is not allowed: must be in (0, 1)")
    return value


def extraction_factor(distribution_ratio: float, phase_ratio: float) -> float:
    """Extraction factor E = D * (O/A).

    Parameters
    ----------
    distribution_ratio : float
        Distribution ratio D = y/x of the solute (organic over aqueous). [-]
    phase_ratio : float
        Organic-to-aqueous volumetric flow ratio O/A. [-]

    Returns
    -------
    float
        Extraction factor E. [-]

    References
    ----------
    .. [S12] DOMAIN.md section 2.5.
    """
    return _positive("distribution_ratio", distribution_ratio) * _positive(
        "phase_ratio", phase_ratio
    )


def kremser_ratio(extraction_factor: float, n_stages: float) -> float:
    """Kremser reduction ratio (E^(N+1) - 1)/(E - 1).

    This equals ``(x_in - y_in/D) / (x_out - y_in/D)`` for a countercurrent cascade
    of ``n_stages`` ideal stages with a constant extraction factor.

    Parameters
    ----------
    extraction_factor : float
        Extraction factor E = D*O/A. [-]
    n_stages : float
        Number of ideal stages N (real values allowed). [stages]

    Returns
    -------
    float
        Reduction ratio. [-]  For E = 1 the limit N + 1 is returned.

    References
    ----------
    .. [S12] DOMAIN.md section 2.5.
    """
    E = _positive("extraction_factor", extraction_factor)
    N = float(n_stages)
    if not math.isfinite(N) or N < 0:
        raise ValueError(f"n_stages={n_stages!r} is not allowed: must be >= 0")
    if abs(E - 1.0) < 1e-12:
        return N + 1.0
    return math.expm1((N + 1.0) * math.log(E)) / (E - 1.0)


def kremser_recovery(
    distribution_ratio: float, phase_ratio: float, n_stages: float
) -> float:
    """Fraction of the solute extracted by a countercurrent cascade (clean organic in).

    Parameters
    ----------
    distribution_ratio : float
        Distribution ratio D. [-]
    phase_ratio : float
        Organic-to-aqueous flow ratio O/A. [-]
    n_stages : float
        Number of ideal stages N. [stages]

    Returns
    -------
    float
        Recovery 1 - x_out/x_in = (E^(N+1) - E)/(E^(N+1) - 1). [-]

    References
    ----------
    .. [S12] DOMAIN.md section 2.5.
    """
    E = extraction_factor(distribution_ratio, phase_ratio)
    return 1.0 - 1.0 / kremser_ratio(E, n_stages)


def kremser_raffinate(
    x_in: float,
    distribution_ratio: float,
    phase_ratio: float,
    n_stages: float,
    y_in: float = 0.0,
) -> float:
    """Raffinate concentration leaving a countercurrent cascade.

    Solves ``(x_in - y_in/D)/(x_out - y_in/D) = (E^(N+1) - 1)/(E - 1)`` for x_out.

    Parameters
    ----------
    x_in : float
        Solute concentration in the aqueous feed. [mol/L]
    distribution_ratio : float
        Distribution ratio D (equilibrium slope, y = D x). [-]
    phase_ratio : float
        Organic-to-aqueous flow ratio O/A. [-]
    n_stages : float
        Number of ideal stages N. [stages]
    y_in : float, optional
        Solute concentration in the entering organic. [mol/L]

    Returns
    -------
    float
        Raffinate concentration x_out. [mol/L]

    References
    ----------
    .. [S12] DOMAIN.md section 2.5.
    """
    D = _positive("distribution_ratio", distribution_ratio)
    E = extraction_factor(D, phase_ratio)
    x_eq = float(y_in) / D
    if float(y_in) < 0:
        raise ValueError(f"y_in={y_in!r} is not allowed: must be >= 0")
    return x_eq + (float(x_in) - x_eq) / kremser_ratio(E, n_stages)


def kremser_stages(
    distribution_ratio: float,
    phase_ratio: float,
    *,
    recovery: float | None = None,
    x_in: float | None = None,
    x_out: float | None = None,
    y_in: float = 0.0,
) -> float:
    """Number of ideal stages for a recovery duty (Kremser, constant D).

    ``N = ln{[(x_in - y_in/D)/(x_out - y_in/D)](1 - 1/E) + 1/E} / ln E``.
    Give either ``recovery`` (clean organic, y_in = 0) or ``x_in`` and ``x_out``
    (optionally with ``y_in``).

    Parameters
    ----------
    distribution_ratio : float
        Distribution ratio D (equilibrium slope, y = D x). [-]
    phase_ratio : float
        Organic-to-aqueous flow ratio O/A. [-]
    recovery : float, optional
        Fraction of the solute to extract, in (0, 1). [-]
    x_in, x_out : float, optional
        Aqueous feed and raffinate concentrations. [mol/L]
    y_in : float, optional
        Solute concentration in the entering organic. [mol/L]

    Returns
    -------
    float
        Ideal stages N (not rounded; round up for a design). [stages]
        ``math.inf`` if the duty cannot be reached with E <= 1.

    References
    ----------
    .. [S12] DOMAIN.md section 2.5 (example: D = 10, O/A = 1/3, 99.9 % -> N = 5.4).
    """
    D = _positive("distribution_ratio", distribution_ratio)
    E = extraction_factor(D, phase_ratio)
    if recovery is not None:
        if x_in is not None or x_out is not None or y_in != 0.0:
            raise ValueError(
                "recovery is not allowed together with x_in/x_out/y_in: give one form"
            )
        ratio = 1.0 / (1.0 - _open_unit("recovery", recovery))
    else:
        if x_in is None or x_out is None:
            raise ValueError("x_in and x_out are required when recovery is not given")
        x_eq = float(y_in) / D
        num, den = float(x_in) - x_eq, float(x_out) - x_eq
        if den <= 0 or num <= den:
            raise ValueError(
                f"x_out={x_out!r} is not allowed: must satisfy "
                f"y_in/D={x_eq:g} < x_out < x_in={x_in!r}"
            )
        ratio = num / den
    if abs(E - 1.0) < 1e-12:
        return ratio - 1.0
    arg = ratio * (1.0 - 1.0 / E) + 1.0 / E
    if arg <= 0.0:
        # E < 1: the reduction ratio is bounded by 1/(1-E) for infinite stages.
        return math.inf
    return math.log(arg) / math.log(E)


def fenske_min_stages(a: float, b: float, beta: float) -> float:
    """Minimum stages at total reflux, N_min = ln(a*b)/ln(beta).

    Parameters
    ----------
    a : float
        Purification factor of the organic (A) outlet, >= 1. [-]
    b : float
        Purification factor of the aqueous (B) outlet, >= 1. [-]
    beta : float
        Separation factor beta_A/B > 1. [-]

    Returns
    -------
    float
        Minimum number of ideal stages (extraction + scrub). [stages]

    References
    ----------
    .. [S12] DOMAIN.md section 2.2 (Fenske analogue of Xu's stage equations).
    """
    a = _positive("a", a)
    b = _positive("b", b)
    beta = float(beta)
    if not beta > 1.0:
        raise ValueError(f"beta={beta!r} is not allowed: must be > 1")
    if a * b < 1.0:
        raise ValueError(f"a*b={a * b!r} is not allowed: must be >= 1")
    return math.log(a * b) / math.log(beta)


def min_stages_from_purities(
    purity_top: float, purity_bottom: float, beta: float
) -> float:
    """Fenske minimum stages from the two product purities.

    ``N_min = ln{[x_P/(1 - x_P)] * [(1 - x_R)/x_R]} / ln(beta)`` with x_P =
    ``purity_top`` (fraction of A in the organic product) and x_R = 1 -
    ``purity_bottom`` (fraction of A in the raffinate).

    Parameters
    ----------
    purity_top : float
        Purity of the more-extractable component A in the organic product. [-]
    purity_bottom : float
        Purity of the less-extractable component B in the raffinate. [-]
    beta : float
        Separation factor beta_A/B > 1. [-]

    Returns
    -------
    float
        Minimum number of ideal stages. [stages]

    References
    ----------
    .. [S12] DOMAIN.md section 2.2 (beta 1.5 at 99.99 % both ends -> 45; 99.9 % -> 34;
       beta 3.0 -> 17).
    """
    xp = _open_unit("purity_top", purity_top)
    xr = 1.0 - _open_unit("purity_bottom", purity_bottom)
    beta = float(beta)
    if not beta > 1.0:
        raise ValueError(f"beta={beta!r} is not allowed: must be > 1")
    value = math.log(xp / (1.0 - xp) * (1.0 - xr) / xr) / math.log(beta)
    if value < 0:
        raise ValueError(
            f"purity_top={purity_top!r}, purity_bottom={purity_bottom!r}: "
            "no separation (purity_top + purity_bottom must be >= 1)"
        )
    return value
