"""Species: formulas, phases, molar masses and element counts.

A species key is a formula with a phase suffix, e.g. ``"NdCl3(aq)"``,
``"Nd2(C2O4)3(H2O)10(s)"``, ``"H2O(l)"``, ``"CO2(g)"``.  Hydrate water is
written as a group ``(H2O)n``.  Every stream in :mod:`rexopt.units` is a dict
``{species key: molar flow [kmol/h]}``; element balances are checked by
expanding species into elements with :func:`elements`.
"""

from __future__ import annotations

import re
from functools import cache

#: Standard atomic weights [g/mol] (IUPAC 2021, abridged).
ATOMIC_MASS_g_mol = {
    "H": 1.008, "B": 10.81, "C": 12.011, "N": 14.007, "O": 15.999,
    "Na": 22.990, "Mg": 24.305, "Al": 26.982, "S": 32.06, "Cl": 35.45,
    "Ca": 40.078, "Fe": 55.845, "Co": 58.933, "Ni": 58.693, "Cu": 63.546,
    "Ga": 69.723, "Pr": 140.908, "Nd": 144.242, "Tb": 158.925, "Dy": 162.500,
}  # fmt: skip

RARE_EARTHS = ("Pr", "Nd", "Dy", "Tb")

#: Commercial oxide of each rare earth: (formula, RE atoms, O atoms).
RE_OXIDE = {
    "Pr": ("Pr6O11", 6, 11),
    "Nd": ("Nd2O3", 2, 3),
    "Dy": ("Dy2O3", 2, 3),
    "Tb": ("Tb4O7", 4, 7),
}

#: Impurity metals: charge in chloride solution and oxide formed on roasting.
IMPURITY = {
    "Fe": {"z": 3, "oxide": ("Fe2O3", 2, 3)},
    "Co": {"z": 2, "oxide": ("CoO", 1, 1)},
    "Ni": {"z": 2, "oxide": ("NiO", 1, 1)},
    "Cu": {"z": 2, "oxide": ("CuO", 1, 1)},
    "Al": {"z": 3, "oxide": ("Al2O3", 2, 3)},
    "Ga": {"z": 3, "oxide": ("Ga2O3", 2, 3)},
}

_PHASE = re.compile(r"^(.*)\((s|l|g|aq)\)$")
_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\)|\d+)")


def split(key: str) -> tuple[str, str]:
    """Return (formula, phase) of a species key."""
    m = _PHASE.match(key)
    if not m:
        raise ValueError(f"species {key!r} has no phase suffix (s|l|g|aq)")
    return m.group(1), m.group(2)


def phase(key: str) -> str:
    return split(key)[1]


def with_phase(key: str, new_phase: str) -> str:
    return f"{split(key)[0]}({new_phase})"


@cache
def _parse(formula: str) -> tuple[tuple[str, float], ...]:
    tokens = _TOKEN.findall(formula)
    if "".join(tokens) != formula:
        raise ValueError(f"cannot parse formula {formula!r}")
    stack: list[dict[str, float]] = [{}]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "(":
            stack.append({})
            i += 1
            continue
        if t == ")":
            grp = stack.pop()
            n = 1
            if i + 1 < len(tokens) and tokens[i + 1].isdigit():
                n = int(tokens[i + 1])
                i += 1
            for el, c in grp.items():
                stack[-1][el] = stack[-1].get(el, 0) + c * n
            i += 1
            continue
        if t.isdigit():
            raise ValueError(f"misplaced count in {formula!r}")
        if t not in ATOMIC_MASS_g_mol:
            raise ValueError(f"unknown element {t!r} in {formula!r}")
        n = 1
        if i + 1 < len(tokens) and tokens[i + 1].isdigit():
            n = int(tokens[i + 1])
            i += 1
        stack[-1][t] = stack[-1].get(t, 0) + n
        i += 1
    if len(stack) != 1:
        raise ValueError(f"unbalanced parentheses in {formula!r}")
    return tuple(sorted(stack[0].items()))


def elements(key: str) -> dict[str, float]:
    """Atoms of each element in one molecule of ``key``."""
    return dict(_parse(split(key)[0]))


def molar_mass_kg_kmol(key: str) -> float:
    """Molar mass of a species. [kg/kmol] (= g/mol)"""
    return sum(ATOMIC_MASS_g_mol[e] * n for e, n in _parse(split(key)[0]))


def element_flows(stream: dict[str, float]) -> dict[str, float]:
    """Element flows of a stream. [kmol/h]"""
    out: dict[str, float] = {}
    for k, f in stream.items():
        for e, n in elements(k).items():
            out[e] = out.get(e, 0.0) + n * f
    return out


def mass_flow_kg_h(stream: dict[str, float]) -> float:
    """Total mass flow of a stream. [kg/h]"""
    return sum(f * molar_mass_kg_kmol(k) for k, f in stream.items())


def re_of(key: str) -> str | None:
    """The rare earth a species carries, if any (each species carries at most one)."""
    els = elements(key)
    found = [r for r in RARE_EARTHS if r in els]
    return found[0] if found else None


def metal_of(key: str) -> str | None:
    """The impurity metal a species carries, if any."""
    els = elements(key)
    found = [m for m in IMPURITY if m in els]
    return found[0] if found else None


# Formula builders for the salts a metal of charge z forms.
def chloride(m: str, z: int) -> str:
    return f"{m}Cl{z}(aq)"


def hydroxide(m: str, z: int) -> str:
    return f"{m}(OH){z}(s)" if z > 1 else f"{m}OH(s)"


def oxalate(m: str, z: int) -> tuple[str, float]:
    """Oxalate solid of metal m and metal atoms per formula unit."""
    if z == 3:
        return f"{m}2(C2O4)3(H2O)10(s)", 2.0
    return f"{m}C2O4(H2O)2(s)", 1.0


def sulfate(m: str, z: int) -> tuple[str, float]:
    if z == 3:
        return f"{m}2(SO4)3(aq)", 2.0
    return f"{m}SO4(aq)", 1.0
