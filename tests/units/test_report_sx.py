"""The report's SX bank figures against the unit model's sizing rule."""

import pytest

from rexopt.units import data, sx
from rexopt.units import report as rep

D = data.load_all()["sx"]


@pytest.mark.unit
def test_feed_dilution_volume_follows_the_sizing_rule():
    """More aqueous feed at the same organic, scrub and strip flows: the sizing
    of sx.row_from_case grows by exactly the report's extraction increment."""
    des = sx.xu_design(89.6, 0.05, 0.995, 0.7, 1.1)
    frac = {"Pr": 0.2, "Nd": 0.75, "Dy": 0.04, "Tb": 0.01}
    case = sx.case_dict(D, "group", frac, des)
    raff = {c: 0.5 for c in sx.REs}
    row = sx.row_from_case(D, case, "a", raff, "test")
    F = case["feed"]["flow_L_h"]
    F_RE_kmol_h = F * D("chemistry.feed_RE_mol_L") / 1000.0
    vol = row["volume_m3_per_kmol_h"] * F_RE_kmol_h
    case["feed"]["flow_L_h"] = 2.5 * F
    row2 = sx.row_from_case(D, case, "b", raff, "test")
    vol2 = row2["volume_m3_per_kmol_h"] * 2.5 * F_RE_kmol_h
    ne = case["sections"]["extraction"]["stages"]
    inc = rep.extraction_volume_change_m3(1.5 * F, ne, D.table("sizing"))
    assert inc > 0
    assert vol2 == pytest.approx(vol + inc, rel=1e-12)
