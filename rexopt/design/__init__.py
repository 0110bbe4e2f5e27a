"""Cascade design: Xu's countercurrent-extraction theory, Kremser, Fenske, and
:func:`design_case` (closed form, then flows corrected on the kernel).

See /work/shared/DOMAIN.md §2 for the equations and their sources.

The names below are imported on first use (PEP 562 module ``__getattr__``):
``import rexopt.design.optimize`` -- the ``rexopt optimize`` path -- then loads
neither the closed-form design nor SciPy.
"""

import importlib

_WHERE = {
    "DesignError": "rexopt.design.casedesign",
    "DesignResult": "rexopt.design.casedesign",
    "DesignSpec": "rexopt.design.casedesign",
    "closed_form_design": "rexopt.design.casedesign",
    "design_case": "rexopt.design.casedesign",
    "extraction_factor": "rexopt.design.closed_forms",
    "fenske_min_stages": "rexopt.design.closed_forms",
    "kremser_raffinate": "rexopt.design.closed_forms",
    "kremser_ratio": "rexopt.design.closed_forms",
    "kremser_recovery": "rexopt.design.closed_forms",
    "kremser_stages": "rexopt.design.closed_forms",
    "min_stages_from_purities": "rexopt.design.closed_forms",
    "FEED_PHASES": "rexopt.design.xu",
    "LumpedFeed": "rexopt.design.xu",
    "ThreeOutletDesign": "rexopt.design.xu",
    "XuDesign": "rexopt.design.xu",
    "amounts_from_S": "rexopt.design.xu",
    "controlling_section": "rexopt.design.xu",
    "design_to_case": "rexopt.design.xu",
    "design_to_toml": "rexopt.design.xu",
    "equivalent_k": "rexopt.design.xu",
    "lump_components": "rexopt.design.xu",
    "minimum_amounts": "rexopt.design.xu",
    "outlet_fractions": "rexopt.design.xu",
    "precise_optimum": "rexopt.design.xu",
    "purification_factors": "rexopt.design.xu",
    "raffinate_fractions": "rexopt.design.xu",
    "reagent_consumption": "rexopt.design.xu",
    "simple_optimum": "rexopt.design.xu",
    "stage_numbers": "rexopt.design.xu",
    "xu_design": "rexopt.design.xu",
    "xu_design_multicomponent": "rexopt.design.xu",
    "xu_three_outlet": "rexopt.design.xu",
    "yields": "rexopt.design.xu",
}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'rexopt.design' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "DesignError",
    "DesignResult",
    "DesignSpec",
    "closed_form_design",
    "design_case",
    "FEED_PHASES",
    "LumpedFeed",
    "ThreeOutletDesign",
    "XuDesign",
    "amounts_from_S",
    "controlling_section",
    "design_to_case",
    "design_to_toml",
    "equivalent_k",
    "extraction_factor",
    "fenske_min_stages",
    "kremser_raffinate",
    "kremser_ratio",
    "kremser_recovery",
    "kremser_stages",
    "lump_components",
    "min_stages_from_purities",
    "minimum_amounts",
    "outlet_fractions",
    "precise_optimum",
    "purification_factors",
    "raffinate_fractions",
    "reagent_consumption",
    "simple_optimum",
    "stage_numbers",
    "xu_design",
    "xu_design_multicomponent",
    "xu_three_outlet",
    "yields",
]
