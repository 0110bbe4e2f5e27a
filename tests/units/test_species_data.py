import pytest

from rexopt.units import data
from rexopt.units import species as sp

pytestmark = pytest.mark.unit


def test_formula_parser_hydrate_and_groups():
    assert sp.elements("Nd2(C2O4)3(H2O)10(s)") == {"Nd": 2, "C": 6, "O": 22, "H": 20}
    assert sp.elements("(NH4)2SO4(aq)") == {"N": 2, "H": 8, "S": 1, "O": 4}
    assert sp.molar_mass_kg_kmol("H2O(l)") == pytest.approx(18.015, abs=1e-3)
    # Nd2O3: 336.48 g/mol
    assert sp.molar_mass_kg_kmol("Nd2O3(s)") == pytest.approx(336.48, abs=0.01)


def test_species_need_a_phase():
    with pytest.raises(ValueError, match="phase"):
        sp.elements("NaCl")


def test_every_data_file_has_unit_source_status():
    ds = data.load_all()
    assert {"feed", "leaching", "sx", "costs", "agents"} <= set(ds)
    for d in ds.values():
        for _, e in d.entries():
            assert e.unit and e.source and e.status in data.STATUSES


def test_override_marks_status_case_and_rejects_unknown():
    d = data.load("feed", {"composition_wt_pct": {"Dy": 2.5}})
    e = d.entry("composition_wt_pct.Dy")
    assert e.value == 2.5 and e.status == "case"
    with pytest.raises(data.DataError, match="no such entry"):
        data.load("feed", {"composition_wt_pct": {"Xx": 1.0}})


def test_unverified_listing_names_file_and_key():
    uv = data.unverified(data.load_all())
    assert any(k.startswith("leaching.selective.extent_RE") for k, _ in uv)
