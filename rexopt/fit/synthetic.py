"""Synthetic batch tests: known parameters, the kernel's answer, measurement noise.

Used by the tests (does the fit recover what generated the data?) and by
``cases/fit/make_example.py`` (the bundled example data set).  Nothing here is a
measurement.
"""

from __future__ import annotations

import numpy as np

from rexopt.chemistry import element
from rexopt.fit.batch import KINDS, BatchModel, default_value
from rexopt.fit.data import BatchTest, FitData


def design(
    feed_mol_L: dict[str, float],
    acids_mol_L,
    O_A=(1.0,),
    extractant_mol_L=(1.0,),
    saponification=0.0,
) -> list[dict]:
    """Full-factorial test plan: every acidity x O/A x extractant level."""
    plan = []
    for acid in acids_mol_L:
        for oa in O_A:
            for ext in extractant_mol_L:
                plan.append(
                    dict(
                        feed=dict(feed_mol_L),
                        acid_mol_L=float(acid),
                        O_A=float(oa),
                        extractant_mol_L=float(ext),
                        saponification=float(saponification),
                    )
                )
    return plan


def generate(
    plan: list[dict],
    model: str,
    true: dict[str, float],
    *,
    noise_rel: float = 0.02,
    pH_noise: float = 0.0,
    phases=("aq", "org"),
    seed: int = 0,
    medium: str = "chloride",
    temperature_C: float = 25.0,
) -> FitData:
    """Batch tests whose equilibrium phases are the kernel's answer for the
    parameters ``true`` ({"La.a": 0.5, ...}; others at the model defaults), each
    measured concentration multiplied by exp(N(0, noise_rel))."""
    rng = np.random.default_rng(seed)
    els: list[str] = []
    for p in plan:
        for e in p["feed"]:
            if e not in els:
                els.append(e)
    tests = [
        BatchTest(
            label=f"T{k + 1:02d}",
            row=k + 1,
            feed=p["feed"],
            org_in={},
            acid_mol_L=p["acid_mol_L"],
            extractant_mol_L=p["extractant_mol_L"],
            saponification=p["saponification"],
            O_A=p["O_A"],
            temperature_C=temperature_C,
        )
        for k, p in enumerate(plan)
    ]
    data = FitData("<synthetic>", tests, els, {}, [])
    bm = BatchModel(data, model, medium)
    vals = {
        (e, k): true.get(f"{e}.{k}", default_value(model, e, k))
        for e in els
        for k in KINDS[model]
    }
    sol = bm.solve(vals)
    for t, s in zip(tests, sol):
        if s is None:
            raise RuntimeError(f"synthetic test {t.label}: no steady state")
        for e in els:
            if "aq" in phases:
                t.aq[e] = s.x[e] * float(np.exp(rng.normal(0.0, noise_rel)))
            if "org" in phases:
                t.org[e] = s.y[e] * float(np.exp(rng.normal(0.0, noise_rel)))
        if s.pH is not None:
            t.eq_pH = s.pH + float(rng.normal(0.0, pH_noise)) if pH_noise else s.pH
    return data


def to_rows(data: FitData, unit: str = "g_L") -> list[dict]:
    """CSV rows (column -> value) of a data set, concentrations in ``unit``."""
    rows = []
    for t in data.tests:
        row = {
            "test_id": t.label,
            "temperature_C": t.temperature_C,
            "O_A_ratio": t.O_A,
            "extractant_mol_L": t.extractant_mol_L,
            "saponification": t.saponification,
            "feed_acid_mol_L": t.acid_mol_L,
        }
        for role, d in (("feed", t.feed), ("aq", t.aq), ("org", t.org)):
            for e in data.elements:
                f = 1.0 if unit == "mol_L" else element(e).molar_mass_g_mol
                f *= 1000.0 if unit == "mg_L" else 1.0
                v = d.get(e)
                row[f"{role}_{e}_{unit}"] = "" if v is None else v * f
        row["eq_pH"] = "" if t.eq_pH is None else t.eq_pH
        rows.append(row)
    return rows
