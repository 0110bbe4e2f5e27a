"""Sweep files: validation messages, scenario tables, sampling."""

from __future__ import annotations

import numpy as np
import pytest
from sweep_helpers import MODELS, kremser_sweep
from sweep_models import kremser

from rexopt.sweep import SweepFileError, load_sweep, sweep_from_dict
from rexopt.sweep.evaluators import resolve_callable
from rexopt.sweep.sampling import unit_samples
from rexopt.sweep.spec import check_path, parse_path

pytestmark = pytest.mark.unit


def _base(**params):
    return {
        "kind": "function",
        "callable": f"{MODELS.as_posix()}:kremser",
        "params": {"D": 2.0, "O_L_h": 100.0, "A_L_h": 100.0, "stages": 5, **params},
    }


def _spec(**kw):
    d = {
        "base": _base(),
        "outputs": ["recovery"],
        "parameters": [{"path": "params.D", "values": [1.0, 2.0]}],
        "cluster": {"kind": "serial"},
    }
    d.update(kw)
    return d


def test_grid_product_times_samples(write_sweep):
    sw = load_sweep(write_sweep(kremser_sweep(n=5)))
    t = sw.table
    assert t.n == 4 * 2 * 5
    assert t.names == ["D", "stages", "O_L_h"]
    assert t.types == ["float", "int", "float"]
    # fixed combinations are the outer loop, samples the inner one
    assert np.all(t.columns[0][:10] == 0.5)
    np.testing.assert_allclose(t.columns[0][::5], [0.5, 0.5, 2.0, 2.0, 3.5, 3.5, 5, 5])
    assert set(t.columns[1]) == {3.0, 7.0}
    o = t.columns[2]
    assert o.min() >= 60.0 and o.max() <= 140.0
    # the same 5 samples are crossed with every fixed combination
    np.testing.assert_array_equal(o[:5], o[5:10])


def test_scenario_case_applies_overrides_with_types(write_sweep):
    sw = load_sweep(write_sweep(kremser_sweep(n=3)))
    case = sw.scenario_case(4)
    assert case["params"]["stages"] == 7 and isinstance(case["params"]["stages"], int)
    assert case["params"]["D"] == 0.5
    assert case["params"]["A_L_h"] == 100.0  # untouched
    assert sw.base_case["params"]["stages"] == 5  # base not mutated


def test_seed_reproducible_and_changes_samples(write_sweep):
    a = load_sweep(write_sweep(kremser_sweep(n=8), "a.toml")).table.columns[2]
    b = load_sweep(write_sweep(kremser_sweep(n=8), "b.toml")).table.columns[2]
    np.testing.assert_array_equal(a, b)
    txt = kremser_sweep(n=8).replace("seed = 7", "seed = 8")
    c = load_sweep(write_sweep(txt, "c.toml")).table.columns[2]
    assert not np.allclose(a, c)


@pytest.mark.parametrize("method", ["lhs", "sobol", "random"])
def test_unit_samples_in_cube(method):
    u = unit_samples(method, 64, 3, seed=1)
    assert u.shape == (64, 3)
    assert np.all((u >= 0) & (u < 1))


def test_lhs_is_stratified():
    u = unit_samples("lhs", 50, 2, seed=3)
    for k in range(2):
        # one point in each of the 50 equal strata
        assert sorted(np.floor(u[:, k] * 50).astype(int)) == list(range(50))


def test_distributions_monte_carlo_moments():
    sw = sweep_from_dict(
        _spec(
            parameters=[
                {
                    "path": "params.D",
                    "distribution": {"kind": "normal", "mean": 2.0, "std": 0.1},
                },
                {
                    "path": "params.O_L_h",
                    "distribution": {
                        "kind": "triangular",
                        "lo": 50,
                        "mode": 100,
                        "hi": 150,
                    },
                },
                {
                    "path": "params.A_L_h",
                    "distribution": {
                        "kind": "lognormal",
                        "median": 100.0,
                        "sigma": 0.2,
                    },
                },
                {"path": "params.stages", "range": [2, 12], "integer": True},
            ],
            sampling={"method": "random", "n": 4000, "seed": 11},
        )
    )
    d, o, a, s = sw.table.columns
    assert abs(d.mean() - 2.0) < 0.01 and abs(d.std() - 0.1) < 0.01
    assert abs(o.mean() - 100.0) < 1.5 and o.min() >= 50 and o.max() <= 150
    assert abs(np.median(a) - 100.0) < 2.0
    assert np.all(s == np.rint(s)) and s.min() >= 2 and s.max() <= 12
    assert sw.scenario_case(0)["params"]["stages"] == int(s[0])


def test_zip_and_string_values():
    sw = sweep_from_dict(
        _spec(
            parameters=[
                {"path": "params.D", "values": [1.0, 2.0, 3.0]},
                {"path": "name", "values": ["a", "b", "c"]},
            ],
            sampling={"combine": "zip"},
        )
    )
    assert sw.table.n == 3
    assert sw.scenario_case(2)["name"] == "c"
    assert sw.scenario_case(2)["params"]["D"] == 3.0


def test_definition_hash_ignores_cluster_but_not_parameters():
    a = sweep_from_dict(_spec())
    b = sweep_from_dict(_spec(cluster={"kind": "local", "workers": 3}))
    c = sweep_from_dict(_spec(parameters=[{"path": "params.D", "values": [1.0]}]))
    assert a.definition_hash() == b.definition_hash() != c.definition_hash()


# --------------------------------------------------------------- errors


def _err(text, write_sweep) -> str:
    with pytest.raises(SweepFileError) as ei:
        load_sweep(write_sweep(text))
    return str(ei.value)


def test_error_unknown_field_names_file_field_value_allowed(write_sweep):
    msg = _err(
        kremser_sweep().replace("seed = 7", "seed = 7\nsamples = 3"), write_sweep
    )
    assert "sweep.toml" in msg
    assert "sampling.samples" in msg
    assert "3" in msg
    assert "allowed here: combine, method, n, seed" in msg


def test_error_bad_literal_lists_allowed(write_sweep):
    msg = _err(
        kremser_sweep().replace('method = "lhs"', 'method = "halton"'), write_sweep
    )
    assert "sampling.method" in msg and "'halton'" in msg
    assert "'random', 'lhs' or 'sobol'" in msg


def test_error_bad_cluster_kind_and_walltime(write_sweep):
    msg = _err(kremser_sweep(cluster='kind = "sge"'), write_sweep)
    assert "cluster" in msg and "'sge'" in msg and "slurm" in msg
    msg = _err(
        kremser_sweep(
            cluster='kind = "slurm"\ncores = 4\nmemory = "8GB"\nwalltime = "2 hours"'
        ),
        write_sweep,
    )
    assert "cluster.slurm.walltime" in msg and "'2 hours'" in msg and "HH:MM" in msg
    msg = _err(
        kremser_sweep(cluster='kind = "pbs"\ncores = 4\nmemory = "lots"'), write_sweep
    )
    assert "cluster.pbs.memory" in msg and "'lots'" in msg and "GB" in msg


def test_error_bad_path_names_keys(write_sweep):
    msg = _err(
        kremser_sweep().replace('path = "params.D"', 'path = "parms.D"'), write_sweep
    )
    assert "parameters[0].path = 'parms.D'" in msg
    assert "no key 'parms'" in msg and "params" in msg


def test_error_two_value_sources_and_missing_n(write_sweep):
    with pytest.raises(SweepFileError, match=r"exactly one of values, grid, range"):
        sweep_from_dict(
            _spec(
                parameters=[{"path": "params.D", "values": [1.0], "range": [1.0, 2.0]}]
            )
        )
    with pytest.raises(SweepFileError, match=r"need \[sampling\] n"):
        sweep_from_dict(_spec(parameters=[{"path": "params.D", "range": [1.0, 2.0]}]))
    with pytest.raises(SweepFileError, match=r"power of 2; use 512 or 1024"):
        sweep_from_dict(
            _spec(
                parameters=[{"path": "params.D", "range": [1.0, 2.0]}],
                sampling={"method": "sobol", "n": 1000},
            )
        )


def test_error_unknown_kind_and_missing_base(write_sweep, tmp_path):
    with pytest.raises(
        SweepFileError,
        match=r"kind = 'design' has no sweep evaluator"
        r"; allowed: .*function",
    ):
        sweep_from_dict(_spec(base={"kind": "design"}))
    txt = kremser_sweep()
    i = txt.index("[base]")
    j = txt.index("[[parameters]]")
    msg = _err(txt[:i] + 'base = "nowhere.toml"\n' + txt[j:], write_sweep)
    assert "nowhere.toml" in msg and "not found" in msg


def test_error_toml_syntax(write_sweep):
    msg = _err("outputs = [", write_sweep)
    assert "sweep.toml" in msg and "not valid TOML" in msg


def test_error_report_names_unknown_output(write_sweep):
    msg = _err(
        kremser_sweep(extra="") + '\n[report]\ntornado = ["purity"]\n', write_sweep
    )
    assert "'purity'" in msg and "recovery" in msg


def test_paths():
    assert parse_path("side_draws.0.flow_L_h") == ("side_draws", 0, "flow_L_h")
    case = {"a": {"b": 1}, "l": [{"x": 1}]}
    assert check_path(case, ("a", "b")) is None
    assert check_path(case, ("a", "new")) is None  # a new leaf is allowed
    assert "no key 'z'" in check_path(case, ("z", "b"))
    assert "list of 1" in check_path(case, ("l", 3, "x"))
    assert "not a value" in check_path(case, ("a",))


def test_resolve_callable_forms():
    f = resolve_callable("sweep_models:kremser")
    assert f is kremser
    g = resolve_callable(f"{MODELS.as_posix()}:kremser")
    assert g(D=1.0)["recovery"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="module:function"):
        resolve_callable("no_colon")


def test_function_base_is_checked_at_load(tmp_path):
    """The function evaluator's checks run when the sweep is read (so `rexopt
    validate` refuses what `rexopt sweep` would), naming each field."""
    for key, value, words in (
        ("paramss", {"D": 1.0}, "paramss: unknown field"),
        ("callable", ["m.py:f"], "callable: ['m.py:f'] -- expected a string"),
        ("callable", "missing.py:f", f"{tmp_path / 'missing.py'} not found"),
        ("callable", "no_colon", "callable: 'no_colon' -- expected"),
    ):
        base = {**_base(), key: value}
        with pytest.raises(SweepFileError) as e:
            sweep_from_dict(_spec(base=base), base_dir=tmp_path)
        assert words in str(e.value)
        assert "base case" in str(e.value)
    # params itself must be a table (its keys are the function's arguments)
    with pytest.raises(SweepFileError, match="params"):
        sweep_from_dict(_spec(base={**_base(), "params": 3}), base_dir=tmp_path)


def test_values_take_the_number_type_of_the_base_case():
    """Mixed [3, 5.0] or a whole-number grid for an int field stay ints; ints
    for a float field become floats; non-whole values for an int field stay
    floats (and the case reader refuses them, naming the field)."""
    base = _base()
    assert isinstance(base["params"]["stages"], int)
    cases = (
        ({"values": [3, 5.0, 7]}, "params.stages", "int", [3, 5, 7]),
        ({"grid": {"start": 2, "stop": 8, "num": 4}}, "params.stages", "int",
         [2, 4, 6, 8]),
        ({"values": [1, 3]}, "params.D", "float", [1.0, 3.0]),
        ({"values": [3, 4.5]}, "params.stages", "float", [3.0, 4.5]),
    )  # fmt: skip
    for src, path, vtype, want in cases:
        sw = sweep_from_dict(_spec(parameters=[{"path": path, **src}]))
        assert sw.table.types == [vtype], src
        key = path.split(".")[1]
        got = [sw.scenario_case(i)["params"][key] for i in range(sw.n_scenarios)]
        assert got == want and all(type(g) is type(want[0]) for g in got), src


def test_scenario_count_is_capped_before_the_table_is_built():
    from rexopt.sweep.spec import MAX_SCENARIOS

    big = {"start": 1.0, "stop": 2.0, "num": 100_000}
    params = [{"path": "params.D", "grid": big}, {"path": "params.O_L_h", "grid": big}]
    with pytest.raises(SweepFileError) as e:
        sweep_from_dict(_spec(parameters=params))
    msg = str(e.value)
    assert "10,000,000,000 scenarios" in msg and f"{MAX_SCENARIOS:,}" in msg
    assert "100000 params.D x 100000 params.O_L_h" in msg
    # with samples: grid points x samples
    params = [
        {"path": "params.D", "grid": {**big, "num": 1000}},
        {"path": "params.O_L_h", "range": [50.0, 150.0]},
    ]
    with pytest.raises(SweepFileError, match=r"20,000,000 scenarios.*20000 samples"):
        sweep_from_dict(_spec(parameters=params, sampling={"n": 20_000}))
    # at the cap's edge the count is exact
    ok = sweep_from_dict(_spec(parameters=params, sampling={"n": 3}))
    assert ok.n_scenarios == ok.spec.scenario_count()[0] == 3000
