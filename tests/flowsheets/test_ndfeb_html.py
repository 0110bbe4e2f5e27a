"""The HTML report: self-contained, and rendered by a real headless Chromium."""

import math
import re
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


@pytest.mark.integration
def test_tables_are_whole_numbers_with_units(written):
    """No NaN printed, breakdowns that add up, a temperature for every stream."""
    from rexopt.units import report as rep

    res, out = written
    t, s = res.tables, res.summary
    e = s["economics"]
    txt = (out / "report.txt").read_text()
    assert not re.search(r"\bnan\b", txt, re.IGNORECASE)
    assert "CAPEX breakdown" in txt and "OPEX breakdown" in txt
    # OPEX lines are positive amounts; costs minus credits is the net OPEX
    op = t["opex"]
    assert (op["amount_USD_yr"] >= 0).all()
    assert set(op["kind"]) <= {"cost", "credit"}
    net = (
        op.loc[op["kind"] == "cost", "amount_USD_yr"].sum()
        - op.loc[op["kind"] == "credit", "amount_USD_yr"].sum()
    )
    assert net == pytest.approx(e["opex_USD_yr"], rel=1e-9)
    # the economics table has no negative amounts either (credits by kind)
    assert (t["economics"]["value"].drop(t["economics"].index[-2:]) >= 0).all()
    # CAPEX breakdown sums to the CAPEX
    eq = t["equipment"]
    assert eq["installed_cost_USD"].sum() == pytest.approx(e["capex_USD"], rel=1e-12)
    assert eq["share_of_CAPEX_pct"].sum() == pytest.approx(100.0, rel=1e-9)
    # products: a number in every cell; element shares add up to the recovery
    prod = t["products"]
    assert not prod.isna().any().any()
    for r in ("Pr", "Nd", "Dy", "Tb"):
        col = prod[f"{r}_to_product_pct_of_feed"]
        assert col.sum() == pytest.approx(100 * s["re_recovery"][r], rel=1e-9)
    # energy in one unit system (MWh/yr) and its rows add up
    en = t["energy"]
    assert not [c for c in en.columns if c.endswith("_t_yr") and "CO2" not in c]
    parts = en[["electricity_MWh_yr", "fuel_MWh_yr", "steam_MWh_yr"]].sum(axis=1)
    assert (parts - en["total_MWh_yr"]).abs().max() < 1e-6
    # CO2 by unit adds up to CO2 by carrier (electricity, fuel, steam, process)
    tot = rep.energy_with_total(en).iloc[-1]
    assert tot["unit"] == "all units"
    assert tot["CO2_total_t_yr"] == pytest.approx(s["co2"]["total_t_yr"], rel=1e-9)
    assert tot["CO2_process_t_yr"] == pytest.approx(s["co2"]["process_t_yr"], rel=1e-9)
    assert tot["total_MWh_yr"] == pytest.approx(s["energy_MWh_yr"], rel=1e-12)
    # every stream with flow has a temperature, a stated basis and a volume
    for tab in (t["streams"], t["boundary_streams"]):
        flowing = tab[tab["phase"] != "no flow"]
        assert len(flowing)
        assert all(math.isfinite(x) for x in flowing["T_C"])
        assert set(tab["T_basis"]) <= set(rep.T_BASIS)
        assert set(tab["T_status"]) <= {
            "verified",
            "derived",
            "unverified",
            "case",
            "-",
        }
        assert (flowing["volume_m3_h"] > 0).all()
    st = t["streams"].set_index("stream")
    # a set point is what the data file says; the calciner its operating point
    sc = res.plant.data["stream_conditions"]
    assert st.loc["sx_prnd.raffinate", "T_C"] == sc("set_point_C.sx")
    assert st.loc["calc_nd.offgas", "T_basis"] == "operating point"
    # 850 C read in [S52]: the calciner's temperature is a verified default
    assert st.loc["calc_nd.offgas", "T_status"] == "verified"
    # the leach pulp is at the leach temperature and the filter passes it on
    assert st.loc["filter.filtrate", "T_C"] == st.loc["leach.pulp", "T_C"]
    assert st.loc["filter.filtrate", "T_basis"] == "inlet passed on"
    # the group bank's plant feed is the purified liquor of the stream table
    bank = t["sx_banks"].set_index("bank").loc["sx_group"]
    assert bank["feed_RE_plant_mol_L"] == pytest.approx(
        st.loc["purify.purified", "RE_in_liquid_mol_L"], rel=1e-9
    )
    assert bank["aqueous_feed_plant_L_h"] == pytest.approx(
        1000 * st.loc["purify.purified", "liquid_m3_h"], rel=1e-9
    )


@pytest.mark.integration
def test_capex_rounds_objective_in_usd(written):
    """The rounds table's objective column is the NPV in USD (not scaled)."""
    from rexopt.units.html_report import capex_rounds_table

    res, _ = written
    assert res.case.objective.kind == "npv"
    ec = res.summary["economics_check"]
    tab = capex_rounds_table(ec["capex_rounds"], "npv")
    assert tab["exact_objective_npv_USD"].iloc[-1] == pytest.approx(
        res.summary["economics"]["milp_npv_USD"], rel=1e-6
    )


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
        "Energy [MWh/yr] and CO2 [t/yr] by unit",
        "CAPEX breakdown",
        "OPEX breakdown",
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


@pytest.mark.integration
def test_sx_banks_sized_at_the_plant_feed(written):
    """Each bank's mixer-settlers in the MILP are the re-simulated plant's, sized
    for the aqueous flow the plant sends it (sizing rule of the unit model); a
    bank fed more dilute than its design whose split no kernel re-checked (the
    fixture table, no kernel re-run) keeps its WARNING."""
    import pyomo.environ as pyo

    from rexopt.units import sx

    res, out = written
    banks = res.tables["sx_banks"].set_index("bank")
    assert len(banks)
    sz = res.plant.data["sx"].table("sizing")
    per_m3_h = sz["mixer_residence_min"] / 60.0 * (1 + sz["settler_to_mixer"])
    for name, b in banks.iterrows():
        milp = pyo.value(res.model.units[name].size["mixer_settlers"])
        resim = res.resim.results[name].sizes["mixer_settlers"]
        assert milp == pytest.approx(resim, rel=1e-6)
        assert b["mixer_settlers_volume_total_m3"] == pytest.approx(resim, rel=1e-12)
        # the difference to the design-basis volume is the extraction stages'
        # share of the extra aqueous flow
        feed = res.resim.inlets[name]["feed"]
        dF = b["aqueous_feed_plant_L_h"] - b["aqueous_feed_design_L_h"]
        assert 1000 * sx.aqueous_flow_m3_h(feed) == pytest.approx(
            b["aqueous_feed_plant_L_h"], rel=1e-9
        )
        assert resim - b["mixer_settlers_volume_at_design_feed_m3"] == pytest.approx(
            dF / 1000 * b["stages_extraction"] * per_m3_h, rel=1e-9, abs=1e-9
        )
        assert b["OA_extraction"] == pytest.approx(
            b["organic_L_h"] / (b["aqueous_feed_plant_L_h"] + b["scrub_L_h"])
        )
        assert not b["kernel_rerun"]
        assert b["flag_separation_unchecked_at_plant_feed"] == b[
            "flag_feed_more_dilute_than_design"
        ]
    diluted = sorted(banks.index[banks["flag_feed_more_dilute_than_design"]])
    assert sorted(res.summary["sx_banks_feed_diluted"]) == diluted
    txt = (out / "report.txt").read_text()
    if diluted:
        assert "not re-checked with the kernel" in txt
