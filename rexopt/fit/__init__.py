"""Calibration of the equilibrium models to laboratory batch tests (``rexopt fit``).

:func:`fit` solves every batch test as a one-stage cascade through the kernel and
fits the chosen model's parameters by weighted least squares; see docs/fit.md.
"""

from rexopt.fit.batch import MODELS, FitError, FitIdentifiabilityError
from rexopt.fit.core import FitResult, build_params, fit
from rexopt.fit.data import FitData, FitDataError, read_fit_data

__all__ = [
    "MODELS",
    "FitData",
    "FitDataError",
    "FitError",
    "FitIdentifiabilityError",
    "FitResult",
    "build_params",
    "fit",
    "read_fit_data",
]
