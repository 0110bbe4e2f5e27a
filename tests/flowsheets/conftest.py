"""Fixtures for the NdFeB flowsheet tests.

``flowsheets`` is a top-level folder of the repository (installed as
rexopt.flowsheets), so the repository root must be on sys.path here.
"""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def sx_tables():
    """Hand-written SX candidate table (NOT produced by the kernel).

    Used so that the plant tests do not depend on the cascade kernel; the
    kernel path is tested separately (skipped if the kernel is absent).
    """
    from rexopt.units import sx

    df = sx.read_table(HERE / "sx_candidates_fixture.csv")
    return {
        c: df[df["cut"] == c].reset_index(drop=True) for c in ("group", "prnd", "dytb")
    }
