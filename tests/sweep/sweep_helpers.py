"""Helpers shared by the sweep tests (sweep files for the analytic models)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE / "sweep_models.py"


def kremser_sweep(
    *,
    n: int = 16,
    sleep_s: float = 0.0,
    func: str = "kremser",
    extra: str = "",
    cluster: str = 'kind = "serial"',
) -> str:
    """A function-kind sweep: a D x stages grid crossed with sampled O/A flows."""
    return f"""
name = "kremser test"
outputs = ["recovery", "extraction_factor", "pid"]
{extra}
[base]
kind = "function"
callable = "{MODELS.as_posix()}:{func}"
params = {{ D = 2.0, O_L_h = 100.0, A_L_h = 100.0, stages = 5, sleep_s = {sleep_s} }}

[[parameters]]
path = "params.D"
name = "D"
grid = {{ start = 0.5, stop = 5.0, num = 4 }}

[[parameters]]
path = "params.stages"
name = "stages"
values = [3, 7]

[[parameters]]
path = "params.O_L_h"
name = "O_L_h"
range = [60.0, 140.0]

[sampling]
method = "lhs"
n = {n}
seed = 7

[cluster]
{cluster}
"""
