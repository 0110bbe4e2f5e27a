"""Bad case files give clear errors naming file, field, value and what is allowed."""

import pytest

import rexopt
from rexopt.case import CaseError, load_case

from .conftest import prnd_case

pytestmark = pytest.mark.unit


def _err(case):
    with pytest.raises(CaseError) as e:
        rexopt.simulate(case)
    return str(e.value)


def test_unknown_component():
    msg = _err(
        prnd_case(
            **{"chemistry.components": ["Pr", "Xx"], "feed.conc_mol_L": {"Pr": 0.2}}
        )
    )
    assert "chemistry.components.1" in msg and "'Xx'" in msg and "one of" in msg


def test_negative_flow_names_field_and_rule():
    msg = _err(prnd_case(**{"feed.flow_L_h": -5.0}))
    assert (
        "feed.flow_L_h" in msg
        and "-5.0" in msg
        and "L/h" in msg
        and "0.001 <= value" in msg
    )


def test_unknown_field_is_rejected():
    msg = _err(prnd_case(**{"organic.flow_m3_h": 2.3}))
    assert "organic.flow_m3_h" in msg and "unknown field" in msg and "flow_L_h" in msg


def test_saponification_range():
    msg = _err(prnd_case(**{"organic.saponification": 1.2}))
    assert "organic.saponification" in msg and "1.2" in msg


def test_scrub_section_needs_scrub_stream():
    case = prnd_case()
    del case["scrub"]
    msg = _err(case)
    assert "scrub" in msg and "flow_L_h > 0" in msg


def test_feed_stage_beyond_cascade():
    msg = _err(prnd_case(**{"feed.stage": 500}))
    assert "feed.stage" in msg and "500" in msg and "1..46" in msg


def test_side_draw_larger_than_flow():
    msg = _err(
        prnd_case(side_draws=[{"phase": "aqueous", "stage": 2, "flow_L_h": 1e6}])
    )
    assert "side draw" in msg and "extraction stage 2" in msg


def test_toml_file_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('kind = "cascade"\n[chemistry]\nmodel = "magic"\ncomponents=["Nd"]\n')
    with pytest.raises(CaseError) as e:
        load_case(p)
    msg = str(e.value)
    assert str(p) in msg and "chemistry.model" in msg and "'magic'" in msg
    p.write_text("kind = [unclosed")
    with pytest.raises(CaseError, match="not valid TOML"):
        load_case(p)
    with pytest.raises(CaseError, match="no such case file"):
        load_case(tmp_path / "missing.toml")


def test_saturated_model_needs_saponification():
    msg = _err(prnd_case(**{"organic.saponification": 0.0}))
    assert "organic.saponification" in msg and "capacity" in msg
