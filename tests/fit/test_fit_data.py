"""Batch-test CSV validation: every bad column, unit or value named."""

import pytest

from rexopt.fit import FitDataError, read_fit_data

HEAD = (
    "test_id,O_A_ratio,extractant_mol_L,saponification,feed_acid_mol_L,"
    "feed_La_g_L,aq_La_g_L,org_La_g_L,temperature_C\n"
)


def write(tmp_path, text):
    p = tmp_path / "lab.csv"
    p.write_text(text)
    return p


def errors(tmp_path, text):
    with pytest.raises(FitDataError) as e:
        read_fit_data(write(tmp_path, text))
    return str(e.value).splitlines()


def test_good_file_and_unit_conversion(tmp_path):
    d = read_fit_data(
        write(tmp_path, HEAD + "A,1,1,0,0.01,13.8905,6.94525,6.94525,25\n")
    )
    t = d.tests[0]
    assert t.feed["La"] == pytest.approx(0.1)  # 13.8905 g/L / 138.905 g/mol
    assert t.measured_D("La") == pytest.approx(1.0)
    assert "25-25 degC" in d.notes[0]


def test_oxide_and_mg_units(tmp_path):
    txt = (
        "O_A_ratio,extractant_mol_L,saponification,feed_pH,feed_La_oxide_g_L,"
        "aq_La_mg_L\n1,1,0,2,16.291,1000\n"
    )
    t = read_fit_data(write(tmp_path, txt)).tests[0]
    assert t.feed["La"] == pytest.approx(16.291 / (325.81 / 2), rel=1e-3)
    assert t.aq["La"] == pytest.approx(1.0 / 138.905, rel=1e-9)
    assert t.acid_mol_L == pytest.approx(0.01)


def test_every_bad_value_is_named_with_row_column_and_allowed(tmp_path):
    lines = errors(
        tmp_path,
        HEAD
        + "A,0,1,0,0.01,3,1,1,25\n"  # O/A 0
        + "B,1,1,1.2,0.01,3,1,1,25\n"  # saponification >= 1
        + "C,1,1,0,abc,3,1,1,25\n"  # not a number
        + "D,1,1,0,0.01,-3,1,1,25\n"  # negative feed
        + "E,1,1,0,0.01,,1,1,25\n",  # empty feed
    )
    text = "\n".join(lines)
    assert f"{tmp_path / 'lab.csv'}: row 1, column O_A_ratio: '0'" in text
    assert "row 2, column saponification: '1.2'" in text and "< 1" in text
    assert "row 3, column feed_acid_mol_L: 'abc' -- a finite number" in text
    assert "row 4, column feed_La_g_L: '-3' -- a concentration >= 0" in text
    assert "row 5, column feed_La_g_L: '' -- a number >= 0" in text
    assert len(lines) == 5


def test_bad_header_names(tmp_path):
    txt = (
        "O_A_ratio,extractant_mol_L,saponification,feed_acid_mol_L,feed_La_ppm,"
        "feed_Xx_g_L,feed_La_g_L,aq_La_g_L\n1,1,0,0.01,1,1,1,1\n"
    )
    text = "\n".join(errors(tmp_path, txt))
    assert "header, column feed_La_ppm" in text and "oxide_g_L" in text
    assert "header, column feed_Xx_g_L: 'Xx' -- a known element" in text


def test_required_columns(tmp_path):
    text = "\n".join(errors(tmp_path, "feed_La_g_L,aq_La_g_L\n1,1\n"))
    for col in ("extractant_mol_L", "saponification", "O_A_ratio"):
        assert f"column {col}: None -- a column {col}" in text
    assert "exactly one of feed_acid_mol_L or feed_pH" in text


def test_measured_more_than_put_in(tmp_path):
    text = "\n".join(errors(tmp_path, HEAD + "A,1,1,0,0.01,3,3.5,0.1,25\n"))
    assert "row 1, column aq_La_g_L: '3.5' -- at most the La put into the test" in text


def test_duplicate_labels_and_agent(tmp_path):
    txt = HEAD.replace("temperature_C", "agent") + "A,1,1,0.3,0.01,3,1,1,KOH\n"
    txt += "A,1,1,0.3,0.01,3,1,1,NaOH\n"
    text = "\n".join(errors(tmp_path, txt))
    assert "row 1, column agent: 'KOH' -- one of NH3, NaOH, Mg(HCO3)2" in text
    assert "row 2, column test_id: 'A' -- a label used once" in text


def test_no_file(tmp_path):
    with pytest.raises(FitDataError, match="no such data file"):
        read_fit_data(tmp_path / "nope.csv")
