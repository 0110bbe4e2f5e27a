"""Small analytic models for sweep tests (``kind = "function"`` callables).

Kremser recovery of countercurrent extraction: with extraction factor
E = D O / A and N ideal stages, the fraction of the feed carried into the organic
is (E^(N+1) - E) / (E^(N+1) - 1), and N / (N + 1) at E = 1.

References
----------
Kremser (1930), "Theoretical analysis of absorption process", Natl. Petrol. News
22(21), 43-49.
"""

from __future__ import annotations

import os
import time


class KremserInfeasible(RuntimeError):
    """Raised for operating points the tests declare infeasible."""


def kremser_recovery(D, O_L_h, A_L_h, stages):
    """Fraction of the feed extracted. [-]"""
    E = D * O_L_h / A_L_h
    N = int(stages)
    if abs(E - 1.0) < 1e-12:
        return N / (N + 1.0)
    return (E ** (N + 1) - E) / (E ** (N + 1) - 1.0)


def kremser(D=2.0, O_L_h=100.0, A_L_h=100.0, stages=5, sleep_s=0.0):
    """Recovery and extraction factor; ``sleep_s`` stands in for a slower model."""
    if sleep_s:
        time.sleep(sleep_s)
    r = kremser_recovery(D, O_L_h, A_L_h, stages)
    return {
        "recovery": r,
        "raffinate_fraction": 1.0 - r,
        "extraction_factor": D * O_L_h / A_L_h,
        "pid": float(os.getpid()),
    }


def kremser_picky(D=2.0, O_L_h=100.0, A_L_h=100.0, stages=5, sleep_s=0.0):
    """Like :func:`kremser`, but fails on odd stage counts of 7, is infeasible
    (returned status) for E < 0.8 and raises KremserInfeasible for E > 4."""
    E = D * O_L_h / A_L_h
    if int(stages) == 7:
        raise ValueError(f"seven stages are not allowed (stages={stages})")
    if E < 0.8:
        return {"status": "infeasible", "message": f"E = {E:.3g} < 0.8"}
    if E > 4.0:
        raise KremserInfeasible(f"E = {E:.3g} > 4")
    return kremser(D, O_L_h, A_L_h, stages, sleep_s)


def noop(x=0.0):
    """Nothing: measures the sweep machinery alone."""
    return {"y": x}


_BUILDS = 0


def counted_factory(base_case, *, base_dir=None):
    """An evaluator factory that counts how often it runs in this process."""
    global _BUILDS
    _BUILDS += 1
    builds = _BUILDS

    def evaluate(case):
        return {"builds": float(builds), "pid": float(os.getpid()), "x": case["x"]}

    return evaluate


def poison(x=0.0, bad=5.0):
    """Kills its own process (as a segfaulting kernel would) when x == bad."""
    if x == bad:
        os.kill(os.getpid(), 9)
    return {"y": 2.0 * x}


def sticky(x=0.0, hang_at=-1.0, crash_at=-2.0):
    """Hangs (a solve that never ends) at ``hang_at``, kills its process at
    ``crash_at``, raises KremserInfeasible for x < 0; else y = 3 x."""
    if x == hang_at:
        while True:
            time.sleep(0.05)
    if x == crash_at:
        os.kill(os.getpid(), 9)
    if x < 0:
        raise KremserInfeasible(f"x = {x} < 0")
    return {"y": 3.0 * x, "pid": float(os.getpid())}


def hanging_factory(base_case, *, base_dir=None, time_limit_s=None):
    """An evaluator factory that takes the scenario's time limit (so the sweep
    lets it stop itself) and then ignores it: its scenarios never end."""

    def evaluate(case):
        while True:
            time.sleep(0.05)

    return evaluate
