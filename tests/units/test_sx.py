import math

import pytest

from rexopt.units import data, sx

D = data.load_all()["sx"]


@pytest.mark.unit
def test_xu_design_matches_domain_worked_example():
    """DOMAIN 2.6: Pr/Nd 25:75, beta 1.5, 99.5/99.5 %.

    Published design: S 4.10, W 3.35, n 18.4, m 20.7.
    """
    k = math.log(1 + 1 / 3.35) / math.log(1.5)  # the k that gives W = 3.35
    des = sx.xu_design(1.5, 0.75, 0.995, k, margin=1.0)
    assert des["W"] == pytest.approx(3.35, rel=1e-6)
    assert des["S"] == pytest.approx(4.10, abs=0.01)
    assert des["n_extraction"] == 19  # ceil(18.4)
    assert des["n_scrub"] == 21  # ceil(20.7)


@pytest.mark.unit
def test_case_dict_follows_the_cases_schema():
    des = sx.xu_design(89.6, 0.05, 0.995, 0.7, 1.1)
    case = sx.case_dict(
        D, "group", {"Pr": 0.2, "Nd": 0.75, "Dy": 0.04, "Tb": 0.01}, des
    )
    assert case["chemistry"]["model"] == "saturated"
    assert set(case) >= {"chemistry", "sections", "organic", "feed", "scrub", "strip"}
    # the organic is sized to carry S mol RE per mol fed at saturation s*C_HA/3
    ymax = 0.36 * 1.5 / 3
    f_re = case["feed"]["flow_L_h"] * 0.8
    assert case["organic"]["flow_L_h"] * ymax == pytest.approx(des["S"] * f_re)


@pytest.mark.component
def test_group_cut_candidates_with_the_kernel():
    try:
        sx.kernel()
    except sx.KernelUnavailable as exc:
        pytest.skip(str(exc))
    rejected = []
    df = sx.candidate_table(
        D, "group", {"Pr": 0.2, "Nd": 0.75, "Dy": 0.043, "Tb": 0.007}, rejected=rejected
    )
    assert len(df) + len(rejected) == len(
        sx.designs(D, "group", {"Pr": 0.2, "Nd": 0.75, "Dy": 0.043, "Tb": 0.007})
    )
    assert not df.empty
    assert (df["verified_by"] == "rexopt.simulate").all()
    # light group to the raffinate, heavy group to the strip liquor
    assert (df["raff_Nd"] > 0.99).all() and (df["raff_Dy"] < 0.05).all()
    assert (df["base_eq_per_mol"] > 0).all()


@pytest.mark.component
def test_case_dict_keeps_traces_and_runs_absent_elements_as_tracers():
    """The kernel case has the feed's fractions as given, traces included; an
    element the bank is not fed is a tracer at TRACER_FRACTION.  A trace's split
    does not depend on its amount (the kernel keeps traces to relative accuracy),
    so the tracer's split is the one the element would have at any trace level."""
    try:
        run = sx.kernel()
    except sx.KernelUnavailable as exc:
        pytest.skip(str(exc))
    des = sx.designs(D, "dytb", {"Dy": 0.83, "Tb": 0.17, "Pr": 1e-5, "Nd": 1e-5})[0][1]
    a = {"Dy": 0.8314, "Tb": 0.1686, "Pr": 6e-10}  # Nd absent
    b = {"Dy": 0.8314, "Tb": 0.1686, "Nd": 1.8e-8}  # Pr absent
    case_a, case_b = sx.case_dict(D, "dytb", a, des), sx.case_dict(D, "dytb", b, des)
    c_re = D.table("chemistry")["feed_RE_mol_L"]
    conc = case_a["feed"]["conc_mol_L"]
    assert conc["Pr"] == 6e-10 * c_re and conc["Dy"] == 0.8314 * c_re
    assert conc["Nd"] == sx.TRACER_FRACTION * c_re
    assert sx.tracers(a) == ["Nd"] and sx.tracers(b) == ["Pr"]
    res_a, res_b = run(case_a), run(case_b)
    ra = sx.recoveries_from_result(res_a, case_a)
    rb = sx.recoveries_from_result(res_b, case_b)
    for c in ("Dy", "Tb"):
        assert ra[c] == pytest.approx(rb[c], rel=1e-8)

    def to_strip(res, case, c):  # the minority fraction, from the strip outlet
        fed = case["feed"]["conc_mol_L"][c] * case["feed"]["flow_L_h"]
        return float(res.outlets.loc["strip_liquor", f"{c}_mol_h"]) / fed

    for c in ("Pr", "Nd"):  # light traces: to the raffinate but ~1e-28 of them
        assert ra[c] == pytest.approx(1.0, abs=1e-12)
        sa, sb = to_strip(res_a, case_a, c), to_strip(res_b, case_b, c)
        assert 0.0 < sa < 1e-20
        assert sa == pytest.approx(sb, rel=1e-8)


@pytest.mark.component
def test_bank_flows_are_reset_for_the_heavy_fraction_of_the_plant_feed():
    """Xu's design fixes the heavy product per mol fed: a Dy/Tb bank designed at
    Dy 0.8302 of its feed and fed Dy 0.8314 (the README plant's group cut sends
    some Tb to the Pr/Nd side) sends 13x its design's Dy to the Tb raffinate at
    the designed flows.  feed_forward re-sets the organic and strip per mol fed
    (Xu's S and f'_A at the feed's heavy fraction, same purity target and k, W
    and stages kept); at those flows the kernel's split is the table's again."""
    try:
        run = sx.kernel()
    except sx.KernelUnavailable as exc:
        pytest.skip(str(exc))
    design_feed = {"Dy": 0.8302, "Tb": 0.1698, "Pr": 1e-5, "Nd": 1e-5}
    table = sx.candidate_table(D, "dytb", design_feed)
    row = table[table["name"] == "dytb_p0.999_k0.8"].iloc[0].to_dict()
    assert row["design_purity"] == 0.999 and row["design_k"] == 0.8
    assert row["design_f_heavy"] == pytest.approx(0.8302 / 1.00002, rel=1e-12)
    plant = {"Dy": 0.8314, "Tb": 0.1686, "Pr": 6e-10, "Nd": 1.8e-8}
    f = 0.8314 / sum(plant.values())
    des, basis = sx.feed_forward(D, "dytb", row, plant)
    want = sx.xu_design(sx.key_beta(D, "dytb"), f, 0.999, 0.8, D("design.stage_margin"))
    old = sx.row_design(D, row)
    assert des["S"] == pytest.approx(want["S"], rel=1e-12)
    assert des["fA_out"] == pytest.approx(want["fA_out"], rel=1e-12)
    assert des["W"] == pytest.approx(old["W"], rel=1e-12)
    assert (des["n_extraction"], des["n_scrub"]) == (old["n_extraction"], old["n_scrub"])
    assert basis["f_heavy_feed"] == f and basis["heavy"] == ["Dy"]
    assert basis["organic_ratio"] == pytest.approx(des["S"] / old["S"], rel=1e-12)
    assert 1.0 < basis["organic_ratio"] < 1.002  # 0.06 % more organic per mol fed

    def dy_to_raffinate(design):
        case = sx.case_dict(D, "dytb", plant, design)
        return sx.recoveries_from_result(run(case), case)["Dy"]

    table_dy = row["raff_Dy"]
    assert dy_to_raffinate(old) > 5.0 * table_dy  # the designed flows miss
    assert dy_to_raffinate(des) == pytest.approx(table_dy, rel=0.1)
    # at the design's own heavy fraction nothing is re-set; a row without the
    # design basis (a user's CSV) keeps its flows and says why
    assert sx.feed_forward(D, "dytb", row, design_feed)[1] is None
    bare = {k: v for k, v in row.items() if k not in sx.DESIGN_BASIS}
    des2, why = sx.feed_forward(D, "dytb", bare, plant)
    assert des2 == old and "no design basis" in why["why"]


@pytest.mark.unit
def test_a_raffinate_fraction_outside_0_1_beyond_roundoff_is_an_error():
    """Round-off past 1 is set to 1; a fraction of 1.01 is a broken balance,
    named, not clipped."""
    import pandas as pd

    class Res:
        def __init__(self, pr):
            cols = [f"{c}_mol_h" for c in sx.REs]
            self.outlets = pd.DataFrame([[pr, 0.0, 0.0, 0.0]], ["raffinate"], cols)

    case = {"name": "t", "feed": {"flow_L_h": 100.0, "conc_mol_L": dict.fromkeys(sx.REs, 0.01)}}
    assert sx.recoveries_from_result(Res(1.0 + 1e-13), case)["Pr"] == 1.0
    with pytest.raises(ValueError, match=r"1\.01 of the Pr fed"):
        sx.recoveries_from_result(Res(1.01), case)
