"""The HTML report: self-contained, and rendered by a real headless Chromium."""

import shutil
import subprocess

import numpy as np
import pytest

from flowsheets import ndfeb_recycling as nd

CASE = {
    "kind": "ndfeb_flowsheet",
    "name": "html report test",
    "plant": {"trains": [2]},
    "routes": {
        "pretreatment": "crushing",
        "leach_route": "selective",
        "agent": "MgHCO3",
        "evaporator": "mvr",
        "kiln_heating": "gas",
        "prnd_cut": "on",
        "dytb_cut": "on",
    },
    # the hand-written fixture table reaches about 0.95 single-oxide purity
    "targets": {"zld": True, "re_yield_min": 0.8, "purity_single_min": 0.9},
    "solver": {"time_limit_s": 300, "mip_gap": 0.01, "capex_rounds": 1},
}


@pytest.fixture(scope="module")
def written(sx_tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    c, _ = nd.load_case(CASE)
    res = nd.run(c, sx_tables=sx_tables)
    res.files = nd.write_outputs(res, out)
    return res, out


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.mark.integration
def test_html_report_is_self_contained_and_complete(written):
    res, out = written
    text = (out / "report.html").read_text()
    assert "src='http" not in text and 'src="http' not in text
    assert "<link" not in text and "<script" not in text
    assert text.count("data:image/png;base64,") >= 1  # the mass-flow diagram
    for head in (
        "Product slate and capacity decisions",
        "Economics (USD, USD/yr; after tax)",
        "Plant inlets and outlets",
        "Solvent-extraction banks",
        "Energy [MWh/yr, steam t/yr] and CO2 [t/yr] by unit",
        "Assumptions: defaults still unverified",
    ):
        assert head in text
    # every SX bank in operation has its section
    for b in res.tables["sx_banks"]["bank"]:
        assert f"<h3>{b}:" in text
    assert f"{res.summary['economics']['npv_USD'] / 1e6:,.1f} M USD" in text


@pytest.mark.integration
@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(written, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    _res, out = written
    url = (out / "report.html").resolve().as_uri()
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert "NdFeB recycling plant - html report test" in dom
    assert "Solvent-extraction banks" in dom and "NPV after tax" in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1280,1600", url],
        capture_output=True,
        timeout=120,
    )
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] == 1600 and img.shape[1] == 1280
    gray = img[..., :3].mean(axis=2)
    # not blank: text and table rules make dark pixels on the white page
    assert (gray < 0.5).mean() > 0.005
    assert np.std(gray) > 0.05
