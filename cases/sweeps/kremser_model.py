"""Analytic Kremser model used by ``kremser_function_sweep.toml``.

Countercurrent extraction with a constant distribution ratio D: with the
extraction factor E = D O / A and N ideal stages the fraction of the feed carried
into the organic is

    R = (E^(N+1) - E) / (E^(N+1) - 1),      R = N / (N + 1) at E = 1.

References
----------
Kremser (1930), "Theoretical analysis of absorption process", Natl. Petrol. News
22(21), 43-49.
"""


def recovery(D, organic_flow_L_h, aqueous_flow_L_h, stages):
    """Extracted fraction and extraction factor.

    Parameters
    ----------
    D : float
        Distribution ratio y/x. [-]
    organic_flow_L_h, aqueous_flow_L_h : float
        Phase flows. [L/h]
    stages : int
        Ideal stages. [-]
    """
    E = D * organic_flow_L_h / aqueous_flow_L_h
    N = int(stages)
    if abs(E - 1.0) < 1e-12:
        R = N / (N + 1.0)
    else:
        R = (E ** (N + 1) - E) / (E ** (N + 1) - 1.0)
    return {"recovery": R, "raffinate_fraction": 1.0 - R, "extraction_factor": E}
