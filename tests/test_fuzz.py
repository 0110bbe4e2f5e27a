"""Seeded fuzz of every bundled case kind through the commands a user runs.

Each mutation of a bundled file (cases/*.toml, cases/*/*.toml) is one of:
a deleted field, a wrong type, a negative / zero / tiny / NaN / +-inf / huge
number, an unknown key, a misspelled or foreign element, truncated TOML or
invalid TOML.  It is written to a copy of cases/ and run through
``rexopt validate`` and, for cascades, ``rexopt simulate --json`` (and, in the
larger run of benchmarks/bench_fuzz.py, ``rexopt design``), exactly as the
console script runs them (``rexopt.cli.main``).  Each run must:

- end with exit status 0, 1 (infeasible), 2 (bad input) or 3 (a solve that
  failed, said in words): never 4 (an error the command did not expect) and never
  a traceback;
- finish (an alarm stops a run after HANG_S seconds);
- print no NaN or inf in a success, and write none into the JSON;
- when it refuses the input, name the file and the field (for a mutated
  field: its key);
- agree with validate: a file that validates is not refused as input by
  simulate, and a file validate refuses is refused by simulate too.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import random
import re
import shutil
import signal
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
HANG_S = 120
MEMORY_GUARD_BYTES = 3 * 2**30
EXIT_OK, EXIT_INFEASIBLE, EXIT_INPUT, EXIT_FAILED = 0, 1, 2, 3
CLASSES = (
    "delete",
    "wrong_type",
    "negative",
    "zero",
    "tiny",
    "nan",
    "inf",
    "huge",
    "unknown_key",
    "element",
    "truncated",
    "invalid_toml",
)
ELEMENT_TYPOS = ("Xx", "Nb", "nd", "ND", "Ndd", "Pr ", "", "La2", "Dy3+")


# ------------------------------------------------------------------ mutations
@dataclass
class Mutation:
    source: Path  # the bundled file
    klass: str
    path: tuple = ()  # the mutated field (empty for text mutations)
    detail: str = ""
    text: str = ""  # the mutated file

    @property
    def field(self) -> str:
        return ".".join(str(p) for p in self.path)

    def label(self) -> str:
        return f"{self.source.name} {self.klass} {self.field} {self.detail}".strip()


def _walk(d, prefix=()):
    """Every (path, value) below ``d``: tables, lists and leaves."""
    if isinstance(d, dict):
        for k, v in d.items():
            yield prefix + (k,), v
            yield from _walk(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield prefix + (i,), v
            yield from _walk(v, prefix + (i,))


def _set(d, path, value):
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = value


def _delete(d, path):
    cur = d
    for p in path[:-1]:
        cur = cur[p]
    del cur[path[-1]]


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _elements() -> set[str]:
    from rexopt.chemistry import elements

    return set(elements())


def mutate(rng: random.Random, source: Path, text: str, raw: dict, klass: str):
    """One mutation of class ``klass`` of a file (None if the class has no target)."""
    d = copy.deepcopy(raw)
    nodes = list(_walk(d))
    nums = [(p, v) for p, v in nodes if _is_num(v)]
    leaves = [(p, v) for p, v in nodes if not isinstance(v, dict | list)]
    m = Mutation(source, klass)
    if klass == "truncated":
        cut = rng.randrange(1, max(2, len(text) - 1))
        m.detail, m.text = f"at char {cut}", text[:cut]
        return m
    if klass == "invalid_toml":
        lines = text.splitlines()
        i = rng.randrange(len(lines) + 1)
        junk = rng.choice(
            ["= =", "[[feed", '"unclosed', "key = ", "]]", "x = 1\nx = 2"]
        )
        lines.insert(i, junk)
        m.detail, m.text = f"{junk!r} at line {i + 1}", "\n".join(lines) + "\n"
        return m
    if klass == "delete":
        targets = [p for p, _ in nodes if not isinstance(p[-1], int)]
        if not targets:
            return None
        m.path = rng.choice(targets)
        _delete(d, m.path)
    elif klass == "wrong_type":
        if not leaves:
            return None
        m.path, v = rng.choice(leaves)
        if _is_num(v):
            new = rng.choice([True, False, str(v), [v], {"value": v}])
        elif isinstance(v, bool):
            new = rng.choice([1, "true", 0.0])
        elif isinstance(v, str):
            new = rng.choice([1, True, 2.5, [v]])
        else:
            new = "text"
        m.detail = f"{new!r}"
        _set(d, m.path, new)
    elif klass in ("negative", "zero", "tiny", "nan", "inf", "huge"):
        if not nums:
            return None
        m.path, v = rng.choice(nums)
        new = {
            "negative": -abs(v) if v else -1.0,
            "zero": 0 if isinstance(v, int) else 0.0,
            "tiny": 1e-300,
            "nan": math.nan,
            "inf": rng.choice([math.inf, -math.inf]),
            "huge": rng.choice(
                [1e300, 1e12, 10**12]
                if isinstance(v, float)
                else [10**12, 10**9, 1e300]
            ),
        }[klass]
        m.detail = f"{v!r} -> {new!r}"
        _set(d, m.path, new)
    elif klass == "unknown_key":
        tables = [(p, v) for p, v in nodes if isinstance(v, dict)] + [((), d)]
        p, t = rng.choice(tables)
        keys = [k for k in t if isinstance(k, str) and len(k) > 2]
        cand = ["foo", "flow_L_hr", "Stages"]
        if keys:
            k = rng.choice(keys)
            cand += [k[:-1], k + "s", k.replace("_", "", 1)]
        new = rng.choice([c for c in cand if c not in t] or ["zzz"])
        m.path = p + (new,)
        t[new] = rng.choice([1.0, 3, "x"])
    elif klass == "element":
        els = _elements()
        spots = [(p, v) for p, v in nodes if isinstance(v, str) and v in els]
        keyed = [p for p, _ in nodes if isinstance(p[-1], str) and p[-1] in els]
        if not spots and not keyed:
            return None
        typo = rng.choice(ELEMENT_TYPOS + tuple(sorted(els)))
        if any(v == typo for _, v in spots) or any(p[-1] == typo for p in keyed):
            typo = typo + "x"  # never a no-op: not an element of this file
        if keyed and (not spots or rng.random() < 0.5):
            p = rng.choice(keyed)
            parent = d
            for q in p[:-1]:
                parent = parent[q]
            if typo in parent:
                return None
            parent[typo] = parent.pop(p[-1])
            m.path = p[:-1] + (typo,)
            m.detail = f"key {p[-1]!r} -> {typo!r}"
        else:
            p, v = rng.choice(spots)
            _set(d, p, typo)
            m.path = p
            m.detail = f"{v!r} -> {typo!r}"
    else:  # pragma: no cover - a class name typo in this file
        raise ValueError(klass)
    m.text = tomli_w.dumps(d)
    return m


def bundled_files() -> list[Path]:
    """Every bundled case and sweep file (cases/, cases/sweeps/, cases/fit/)."""
    return sorted(CASES.glob("*.toml")) + sorted(CASES.glob("*/*.toml"))


def file_kind(raw: dict) -> str:
    if "parameters" in raw and "base" in raw and "kind" not in raw:
        return "sweep"
    return raw.get("kind", "cascade")


def mutations(seed: int, n: int) -> list[Mutation]:
    """``n`` mutations, the classes and files taken in turn (reproducible)."""
    rng = random.Random(seed)
    files = bundled_files()
    texts = {f: f.read_text(encoding="utf-8") for f in files}
    raws = {f: tomllib.loads(texts[f]) for f in files}
    out: list[Mutation] = []
    i = 0
    while len(out) < n:
        f = files[i % len(files)]
        klass = CLASSES[(i // len(files)) % len(CLASSES)]
        i += 1
        m = mutate(rng, f, texts[f], raws[f], klass)
        if m is not None:
            out.append(m)
    return out


# ------------------------------------------------------------------ running
class Hang(BaseException):
    """The alarm of run_cli: a BaseException, so that cli.main's handler for
    unexpected errors (``except Exception`` -> exit 4) does not turn a hang into
    an ordinary failure."""


def _alarm(signum, frame):
    raise Hang()


@dataclass
class Run:
    command: str
    code: int | str
    out: str
    err: str
    json_file: Path | None = None
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.out + self.err


@contextlib.contextmanager
def memory_guard(extra_bytes: int = MEMORY_GUARD_BYTES):
    """Cap this process's address space at its current size + ``extra_bytes``
    while a command runs: a mutation that makes a command allocate without
    bound (a sweep of 1e9 grid points) becomes a MemoryError the command must
    report, instead of the kernel's OOM killer taking the machine."""
    try:
        import resource

        with open("/proc/self/statm") as fh:
            vm = int(fh.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_cli(args: list[str], *, timeout_s: int = HANG_S) -> Run:
    """``rexopt ARGS`` in this process, as the console script runs it."""
    import time

    from rexopt import cli

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    t0 = time.perf_counter()
    code: int | str = 0
    try:
        with (
            memory_guard(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            cli.main(list(args))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Hang:
        code = "hang"
    except BaseException as e:  # main() must not let anything through
        code = f"escaped {type(e).__name__}: {e}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return Run(
        args[0], code, out.getvalue(), err.getvalue(), None, time.perf_counter() - t0
    )


_NONFINITE = re.compile(r"(?<![\w.])[-+]?(nan|inf|infinity)(?![\w])", re.IGNORECASE)


def _json_nonfinite(path: Path) -> list[str]:
    bad: list[str] = []

    def const(name):
        bad.append(name)
        return None

    with open(path, encoding="utf-8") as fh:
        json.load(fh, parse_constant=const)
    return bad


@dataclass
class Verdict:
    mutation: Mutation
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def outcome(self) -> str:
        """ok / refused / infeasible / solve_failed of the last run."""
        codes = [r.code for r in self.runs]
        if any(not isinstance(c, int) or c not in (0, 1, 2, 3) for c in codes):
            return "broken"
        return {0: "accepted", 1: "infeasible", 2: "refused", 3: "solve_failed"}[
            max(codes)
        ]


def _keys(raw) -> set[str]:
    return {str(p[-1]) for p, _ in _walk(raw) if isinstance(p[-1], str)}


def check_mutation(m: Mutation, work: Path, *, design: bool = False) -> Verdict:
    """Write the mutated file next to its original (in ``work``) and run it."""
    rel = m.source.relative_to(CASES)
    target = work / rel.parent / f"fuzz_{rel.stem}.toml"
    target.write_text(m.text, encoding="utf-8")
    v = Verdict(m)
    try:
        raw = tomllib.loads(m.text)
    except tomllib.TOMLDecodeError:
        raw = None
    kind = file_kind(raw) if isinstance(raw, dict) else "unparsable"
    orig_kind = file_kind(tomllib.loads(m.source.read_text(encoding="utf-8")))
    v.runs.append(run_cli(["validate", str(target)]))
    if orig_kind == "cascade" and kind in ("cascade", "unparsable"):
        js = work / "fuzz_out.json"
        js.unlink(missing_ok=True)
        r = run_cli(["simulate", str(target), "--json", str(js)])
        r.json_file = js if js.exists() else None
        v.runs.append(r)
        if design:
            v.runs.append(run_cli(["design", str(target)]))
    keys = _keys(raw) if isinstance(raw, dict) else set()
    keys |= _keys(tomllib.loads(m.source.read_text(encoding="utf-8")))
    for r in v.runs:
        where = f"{r.command}: "
        if not isinstance(r.code, int) or r.code not in (0, 1, 2, 3):
            v.problems.append(where + f"exit {r.code!r}: {r.text.strip()[-400:]}")
        if "Traceback (most recent call last)" in r.text:
            v.problems.append(where + "traceback printed")
        if "RuntimeWarning" in r.text:
            v.problems.append(where + "a raw RuntimeWarning reached the user")
        if r.code == EXIT_OK:
            if _NONFINITE.search(r.out):
                v.problems.append(where + "non-finite number in the output")
            if r.json_file is not None and _json_nonfinite(r.json_file):
                v.problems.append(where + "non-finite number in the JSON")
        if r.code == EXIT_INPUT:
            msg = r.text
            if target.name not in msg:
                v.problems.append(where + f"refusal does not name the file: {msg!r}")
            named = any(
                re.search(rf"(?<![\w]){re.escape(k)}(?=[\s.:=\]\[,']|$)", msg)
                for k in keys
            )
            # a dotted path (a field of the file or of a sweep's base case)
            if re.search(r"(?<![\w/])[A-Za-z_]\w*(\.[\w-]+)+\s*(:|=|\s--)", msg):
                named = True
            # a field the file lacks is named as "<file>: <field>: ..."
            if re.search(
                rf"{re.escape(target.name)}\S*:\s+\[?[A-Za-z_][\w.\]\[-]*\]?:", msg
            ):
                named = True
            if m.klass in ("truncated", "invalid_toml") and "TOML" in msg:
                named = True
            if not named:
                v.problems.append(where + f"refusal names no field: {msg!r}")
            # and the field it names is the one mutated (its last key)
            last = [str(p) for p in m.path if isinstance(p, str)][-1:]
            if last and last[0] not in msg:
                v.problems.append(
                    where + f"refusal does not name {m.field!r}: {msg[-300:]!r}"
                )
    codes = {r.command: r.code for r in v.runs}
    if "simulate" in codes:
        if codes["validate"] == EXIT_OK and codes["simulate"] == EXIT_INPUT:
            v.problems.append("validate accepted what simulate refused as input")
        if codes["validate"] == EXIT_INPUT and codes["simulate"] != EXIT_INPUT:
            v.problems.append("validate refused what simulate accepted")
    return v


def work_copy(tmp: Path) -> Path:
    """A copy of cases/ (sweep files name their base case relative to theirs)."""
    dst = tmp / "cases"
    shutil.copytree(CASES, dst, ignore=shutil.ignore_patterns("*.h5", "__pycache__"))
    return dst


def fuzz(seed: int, n: int, tmp: Path, *, design_every: int = 0):
    """Run ``n`` mutations; returns the verdicts."""
    work = work_copy(tmp)
    out = []
    for i, m in enumerate(mutations(seed, n)):
        out.append(
            check_mutation(m, work, design=bool(design_every) and i % design_every == 0)
        )
    return out


def tally(verdicts) -> Counter:
    return Counter((v.mutation.klass, v.outcome()) for v in verdicts)


# --------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    return fuzz(seed=23, n=240, tmp=tmp_path_factory.mktemp("fuzz"))


def test_every_class_and_kind_is_exercised(verdicts):
    classes = {v.mutation.klass for v in verdicts}
    assert classes == set(CLASSES)
    files = {v.mutation.source.name for v in verdicts}
    assert files == {f.name for f in bundled_files()}


def test_no_traceback_hang_nonfinite_or_unnamed_refusal(verdicts):
    bad = [f"{v.mutation.label()}: {p}" for v in verdicts for p in v.problems]
    assert not bad, "\n".join(bad[:20])


def test_bad_values_are_refused_not_computed(verdicts):
    """NaN, +-inf, wrong types and unknown keys never pass as input.

    The ``params`` of a ``kind = "function"`` sweep's inline ``[base]`` are the
    user's keyword arguments, without a schema (its other fields are checked, see
    test_function_sweep_base_is_checked_by_validate below).
    """
    passed = [
        v.mutation.label()
        for v in verdicts
        if v.mutation.klass in ("nan", "inf", "wrong_type", "unknown_key")
        and v.runs[0].code == EXIT_OK
        and not _function_base(v.mutation)
    ]
    assert not passed, "\n".join(passed)


def test_unmodified_bundled_files_pass_their_commands(tmp_path):
    work = work_copy(tmp_path)
    for f in bundled_files():
        target = work / f.relative_to(CASES)
        r = run_cli(["validate", str(target)])
        assert r.code == 0, r.text
        raw = tomllib.loads(f.read_text(encoding="utf-8"))
        if file_kind(raw) == "cascade":
            r = run_cli(["simulate", str(target)])
            assert r.code == 0, r.text
            assert not _NONFINITE.search(r.out)


def _function_base(m: Mutation) -> bool:
    """A wrong type or unknown key inside a function sweep's ``[base] params``: the
    keyword arguments of the user's function, which have no schema."""
    return (
        m.klass in ("wrong_type", "unknown_key")
        and m.path[:2] == ("base", "params")
        and len(m.path) > 2
    )


def test_function_sweep_base_is_checked_by_validate(tmp_path):
    work = work_copy(tmp_path)
    src = work / "sweeps" / "kremser_function_sweep.toml"
    raw = tomllib.loads(src.read_text(encoding="utf-8"))
    bad = []
    for key, value in (("paramss", {"D": 1.5}), ("callable", ["kremser_model.py:x"])):
        d = copy.deepcopy(raw)
        d["base"][key] = value
        f = src.with_name("fuzz_function_base.toml")
        f.write_text(tomli_w.dumps(d), encoding="utf-8")
        r = run_cli(["validate", str(f)])
        if r.code != EXIT_INPUT:
            bad.append(f"base.{key} = {value!r}: exit {r.code}")
    assert not bad, bad


def test_design_refuses_a_water_strip_naming_the_field(tmp_path):
    work = work_copy(tmp_path)
    raw = tomllib.loads((CASES / "prnd_p507.toml").read_text(encoding="utf-8"))
    raw["strip"]["acidity_mol_L"] = 0.0
    f = work / "fuzz_water_strip.toml"
    f.write_text(tomli_w.dumps(raw), encoding="utf-8")
    assert run_cli(["validate", str(f)]).code == EXIT_OK
    r = run_cli(["design", str(f)])
    assert r.code == EXIT_INPUT, r.text
    assert f.name in r.text and "strip.acidity_mol_L" in r.text


def test_run_cli_reports_a_hang_as_hang(monkeypatch):
    """The harness's alarm passes through cli.main's handler for unexpected errors
    (which would report exit status 4), so a hang is counted as a hang."""
    import time

    import rexopt.kernels

    monkeypatch.setattr(rexopt.kernels, "kernel_info", lambda: time.sleep(30))
    r = run_cli(["info"], timeout_s=1)
    assert r.code == "hang", (r.code, r.err)
