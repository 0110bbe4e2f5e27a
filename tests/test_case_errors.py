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


# ------------------------------------------------------- strict types and limits
def _load_err(case, **kw):
    with pytest.raises(CaseError) as e:
        load_case(case, **kw)
    return str(e.value)


@pytest.mark.parametrize(
    "path, value, words",
    [
        ("sections.extraction.stages", True, "wrong type (bool)"),
        ("sections.extraction.stages", 20.0, "wrong type (float)"),
        ("organic.flow_L_h", "12", "wrong type (str)"),
        ("feed.acidity_mol_L", float("inf"), "not a finite number"),
        ("scrub.flow_L_h", float("nan"), "not a finite number"),
        ("chemistry.saturated.K_ref_L_mol", float("-inf"), "not a finite number"),
    ],
)
def test_wrong_types_and_nonfinite_numbers_are_refused(path, value, words):
    msg = _load_err(prnd_case(**{path: value}), name="mine.toml")
    assert f"mine.toml: {path}: {value!r}" in msg and words in msg


def test_integer_is_a_number_but_a_number_is_not_a_count():
    case = load_case(prnd_case(**{"organic.flow_L_h": 2300}))
    assert case.organic.flow_L_h == 2300.0 and isinstance(case.organic.flow_L_h, float)


@pytest.mark.parametrize(
    "path, value, words",
    [
        ("feed.conc_mol_L", {"Pr": 25.0, "Nd": 0.75}, "<= 4 mol/L"),
        ("strip.acidity_mol_L", 1e12, "<= 12 mol/L"),
        ("chemistry.saturated.K_ref_L_mol", 1e300, "<= 1e+06 L/mol"),
        ("scrub.flow_L_h", 1e300, "<= 1e+07 L/h"),
        ("organic.extractant_mol_L", 5.0, "<= 3.2 mol/L"),
        ("sections.scrub.stages", 10**6, "<= 1000 stages"),
    ],
)
def test_physically_impossible_values_are_refused_with_unit(path, value, words):
    msg = _load_err(prnd_case(**{path: value}))
    assert path.split(".")[0] in msg and words in msg


def test_totals_of_a_stream_are_bounded():
    # each concentration is allowed, their sum is not (solubility scale)
    msg = _load_err(prnd_case(**{"feed.conc_mol_L": {"Pr": 2.5, "Nd": 2.5}}))
    assert "feed.conc_mol_L: 5.0" in msg and "total dissolved metal <= 4" in msg
    # strong acid plus a concentrated feed: too many anions for one litre
    msg = _load_err(
        prnd_case(**{"feed.acidity_mol_L": 11.0, "feed.conc_mol_L": {"Pr": 1, "Nd": 1}})
    )
    assert "anion equivalents" in msg and "17.0" in msg


def test_keyed_tables_refuse_unknown_keys_naming_the_allowed_set():
    msg = _load_err(
        prnd_case(
            **{
                "chemistry.saturated.separation_factors": {
                    "Pr": 1.0,
                    "Nd": 1.5,
                    "foo": 3,
                }
            }
        )
    )
    assert "chemistry.saturated.separation_factors.foo" in msg and "Pr, Nd" in msg
    msg = _load_err(prnd_case(**{"feed.conc_mol_L": {"Pr": 0.25, "Nd": 0.7, "La": 1}}))
    assert "feed.conc_mol_L.La" in msg and "Pr, Nd" in msg
    msg = _load_err(prnd_case(**{"chemistry.saturated.separation_factors": {"Pr": 1}}))
    assert "missing Nd" in msg


def test_unknown_key_inside_a_nested_table_names_allowed_keys():
    msg = _load_err(prnd_case(**{"sections.scrub.stage": 3}))
    assert "sections.scrub.stage" in msg and "allowed here: efficiency, stages" in msg


def test_component_listed_but_not_fed_is_refused():
    case = prnd_case(**{"chemistry.components": ["La", "Pr", "Nd"]})
    case["chemistry"]["saturated"]["separation_factors"]["La"] = 0.2
    msg = _load_err(case)
    assert "chemistry.components.0: 'La'" in msg and "fed" in msg


def test_trace_below_the_floor_is_refused_and_zero_is_not():
    msg = _load_err(prnd_case(**{"feed.conc_mol_L": {"Pr": 1e-300, "Nd": 0.75}}))
    assert "feed.conc_mol_L.Pr" in msg and ">= 1e-15 mol/L" in msg
    msg = _load_err(prnd_case(**{"scrub.acidity_mol_L": 1e-300}))
    assert "scrub.acidity_mol_L" in msg and ">= 1e-07" in msg


def test_only_the_chosen_model_block_and_its_dataset():
    msg = _load_err(
        prnd_case(**{"chemistry.mass_action": {"params": {}}, "chemistry.dataset": "x"})
    )
    assert "chemistry.dataset" in msg
    msg = _load_err(prnd_case(**{"chemistry.mass_action": {"params": {}}}))
    assert (
        "chemistry.mass_action" in msg and "only the block of the chosen model" in msg
    )


def test_optimize_table_is_validated_then_set_aside_with_a_note():
    from .conftest import CASES

    case = load_case(CASES / "prnd_p507_optimize.toml")
    assert case.notes and "[optimize] table was validated and not used" in case.notes[0]
    res = rexopt.simulate(CASES / "prnd_p507_optimize.toml")
    ref = rexopt.simulate(CASES / "prnd_p507.toml")
    got, want = res.summary(), ref.summary()
    for k in ("solve_time_s",):
        got.pop(k, None), want.pop(k, None)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    import tomllib

    raw = tomllib.loads((CASES / "prnd_p507_optimize.toml").read_text())
    raw["optimize"]["spec_tolerance"] = float("nan")
    with pytest.raises(CaseError, match="optimize.spec_tolerance"):
        load_case(raw, name="opt.toml")


def test_load_cascade_refuses_network_errors_naming_the_file():
    from rexopt.case import load_cascade

    with pytest.raises(CaseError) as e:
        load_cascade(
            prnd_case(side_draws=[{"phase": "aqueous", "stage": 2, "flow_L_h": 1e6}]),
            name="draws.toml",
        )
    assert str(e.value).startswith("draws.toml: side draw at extraction stage 2")
    cas = load_cascade(prnd_case())
    assert cas.case.n_stages == 46


def test_line_case_is_strict_too():
    import tomllib

    from rexopt.lines.case import LineCaseError, load_line_case

    from .conftest import CASES

    raw = tomllib.loads((CASES / "separation_line_bayanobo.toml").read_text())
    for path, value, words in [
        (("feed", "capacity_t_REO_y"), True, "wrong type (bool)"),
        (("feed", "conc_mol_L"), 9.0, "<= 4 mol/L"),
        (("chemistry", "separation_factors"), {"Xx": 2.0}, "a feed component"),
        (("feed", "components"), ["La", "Ce", "Lu"], "listed but not fed"),
        (("objective", "time_limit_s"), float("inf"), "not a finite number"),
    ]:
        d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
        d[path[0]] = dict(d[path[0]], **{path[1]: value})
        with pytest.raises(LineCaseError) as e:
            load_line_case(d, name="line.toml")
        assert "line.toml" in str(e.value) and words in str(e.value), str(e.value)


def test_strict_schema_reads_toml_arrays_as_tuples_and_nothing_else():
    from pydantic import ValidationError

    from rexopt.schema import StrictModel

    class M(StrictModel):
        r: tuple[float, float] | None = None
        s: dict[str, tuple[int, int]] = {}

    m = M.model_validate({"r": [1, 2.5], "s": {"a": [1, 3]}})
    assert m.r == (1.0, 2.5) and m.s == {"a": (1, 3)}
    with pytest.raises(ValidationError):
        M.model_validate({"r": [1, "2"]})
    with pytest.raises(ValidationError):
        M.model_validate({"s": {"a": [1.0, 3]}})


def test_a_validated_case_dumps_to_toml_and_reads_back_the_same():
    """model_dump(mode="json", exclude_none=True) is a valid case file (what the
    optimizer and design write as their designed case)."""
    import tomllib

    import tomli_w

    from .conftest import CASES

    for f in sorted(CASES.glob("*.toml")):
        if tomllib.loads(f.read_text()).get("kind", "cascade") != "cascade":
            continue
        case = load_case(f)
        text = tomli_w.dumps(case.model_dump(mode="json", exclude_none=True))
        again = load_case(tomllib.loads(text))
        assert again.model_dump() == case.model_dump(), f.name


def test_magnesium_agent_has_one_spelling_and_an_alias():
    """``MgHCO3`` (the NdFeB data key) is read as ``Mg(HCO3)2`` in cascade and line
    cases, gives the same numbers, and an unknown agent is refused by name."""
    from rexopt.lines.case import ChemistrySpec

    a, b = prnd_case(), prnd_case()
    a["organic"].update(agent="Mg(HCO3)2", saponification=0.3)
    b["organic"].update(agent="MgHCO3", saponification=0.3)
    assert load_case(b).organic.agent == "Mg(HCO3)2"
    ra, rb = rexopt.simulate(a), rexopt.simulate(b)
    assert (ra.purity.values == rb.purity.values).all()
    assert ChemistrySpec(agent="MgHCO3").agent == "Mg(HCO3)2"
    c = prnd_case()
    c["organic"]["agent"] = "MgCO3"
    msg = _err(c)
    assert "organic.agent" in msg and "MgCO3" in msg and "Mg(HCO3)2" in msg
