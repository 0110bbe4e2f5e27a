"""Shared fixtures: small cases built as dicts (the same shape as the TOML files)."""

import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


def prnd_case(**over):
    """A short Pr/Nd saturated-model cascade (fast to solve)."""
    c = {
        "kind": "cascade",
        "name": "test Pr/Nd",
        "chemistry": {
            "model": "saturated",
            "components": ["Pr", "Nd"],
            "saturated": {
                "separation_factors": {"Pr": 1.0, "Nd": 1.5},
                "K_ref_L_mol": 50.0,
            },
        },
        "sections": {
            "extraction": {"stages": 20},
            "scrub": {"stages": 20},
            "strip": {"stages": 6},
        },
        "organic": {
            "flow_L_h": 2300.0,
            "extractant_mol_L": 1.5,
            "saponification": 0.36,
        },
        "feed": {
            "flow_L_h": 100.0,
            "acidity_mol_L": 0.01,
            "conc_mol_L": {"Pr": 0.25, "Nd": 0.75},
        },
        "scrub": {"flow_L_h": 338.0, "acidity_mol_L": 3.0},
        "strip": {"flow_L_h": 80.0, "acidity_mol_L": 6.0},
    }
    out = copy.deepcopy(c)
    for path, val in over.items():
        d = out
        keys = path.split(".")
        for k in keys[:-1]:
            d = d.setdefault(k, {})
        d[keys[-1]] = val
    return out


def constant_case(D, n=8, O=100.0, A=100.0, conc=None):
    """Extraction-only cascade with constant distribution ratios."""
    comps = list(D)
    return {
        "kind": "cascade",
        "chemistry": {
            "model": "constant",
            "components": comps,
            "constant": {"distribution": {"extraction": dict(D)}},
        },
        "sections": {"extraction": {"stages": n}},
        "organic": {"flow_L_h": O},
        "feed": {"flow_L_h": A, "conc_mol_L": conc or {c: 0.1 for c in comps}},
    }


@pytest.fixture
def prnd():
    return prnd_case
