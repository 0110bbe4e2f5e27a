"""The rexopt command: simulate, validate, info; errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from .conftest import CASES

pytestmark = pytest.mark.integration


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "rexopt.cli", *args], capture_output=True, text=True
    )


def test_simulate_writes_json_and_plot(tmp_path):
    js, png = tmp_path / "r.json", tmp_path / "p.png"
    out = run(
        "simulate", str(CASES / "prnd_p507.toml"), "--json", str(js), "--plot", str(png)
    )
    assert out.returncode == 0, out.stderr
    assert "strip_liquor" in out.stdout and "converged" in out.stdout
    data = json.loads(js.read_text())
    assert data["schema"] == "rexopt.cascade_result/1"
    cols = data["streams"]["columns"]
    assert "Nd_mol_h" in cols and "flow_L_h" in cols
    assert data["convergence"]["max_balance_error"] <= 1e-10
    prof = data["profiles"]
    assert len(prof["data"]) == 80 and "x_Nd_mol_L" in prof["columns"]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_bad_case_gives_clear_error_not_traceback(tmp_path):
    p = tmp_path / "bad.toml"
    text = (
        (CASES / "prnd_p507.toml")
        .read_text()
        .replace("flow_L_h = 100.0", "flow_L_h = -1.0")
    )
    p.write_text(text)
    out = run("simulate", str(p))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "feed.flow_L_h" in out.stderr and "-1.0" in out.stderr


def test_version_reports_kernel():
    out = run("--version")
    assert out.returncode == 0 and "kernels" in out.stdout


def test_validate_all_bundled_cascade_cases():
    for p in sorted(CASES.glob("*.toml")):
        if 'kind = "cascade"' not in p.read_text():
            continue
        out = run("validate", str(p))
        assert out.returncode == 0, (p, out.stderr)
