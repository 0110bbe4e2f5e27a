"""Product specifications, read one way by the design and the optimizer.

A spec names an outlet (``stream``), a ``component`` (a group written
``"Pr+Nd"`` in a design's default specs), a ``kind`` ("purity" or "recovery")
and a ``target``: :class:`rexopt.design.DesignSpec` and the ``[optimize]``
table's :class:`rexopt.design.optimize.Spec` both have these attributes, and
the functions here take either.
"""

from __future__ import annotations

import math

#: outlets on the organic side of the feed (the extractable product)
ORGANIC_SIDE = ("strip_liquor", "stripped_organic", "loaded_organic")


def is_end_outlet(stream: str) -> bool:
    """True for the organic-side products and the raffinate (not a side draw):
    their specs are monotone in the cut between the two ends."""
    return stream in ORGANIC_SIDE or stream == "raffinate"


def improves_to_organic(spec) -> bool:
    """True if ``spec`` improves as more metal goes to the organic side (less
    scrub): a recovery on the organic side, a purity in the raffinate."""
    org = spec.stream in ORGANIC_SIDE
    return org if spec.kind == "recovery" else not org


def spec_label(spec) -> str:
    """``"Nd purity in strip_liquor >= 0.995"`` (target to 6 significant digits)."""
    return f"{spec.component} {spec.kind} in {spec.stream} >= {spec.target:.6g}"


def spec_value(spec, result) -> float:
    """Value of ``spec`` in a :class:`rexopt.results.CascadeResult`. [-]

    A ``component`` written ``"Pr+Nd"`` is a group: its purity is the sum of the
    members' purities, its recovery the fraction of the group's feed (NaN when
    none of it is fed).  A single component's value is read from the result's
    purity or recovery table as it stands.
    """
    group = spec.component.split("+")
    if len(group) == 1:
        if spec.kind == "purity":
            return float(result.purity.loc[spec.stream, spec.component])
        return float(result.recovery.loc[spec.component, spec.stream])
    if spec.kind == "purity":
        return float(sum(result.purity.loc[spec.stream, c] for c in group))
    fed = result.balance["in_mol_h"]
    total = sum(fed[c] for c in group)
    if not total > 0:
        return math.nan
    return float(
        sum(result.recovery.loc[c, spec.stream] * fed[c] for c in group) / total
    )
