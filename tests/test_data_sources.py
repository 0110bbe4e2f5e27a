"""Every source key in the bundled data and case files resolves in
docs/data-sources.md, and every status is one the page defines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from rexopt.provenance import STATUSES, source_keys

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "data-sources.md"
DATA_FILES = sorted((ROOT / "rexopt" / "data").rglob("*.toml"))
CASE_FILES = sorted((ROOT / "cases").rglob("*.toml"))


def documented_keys() -> set[str]:
    """Keys listed in the first cell of a table row of docs/data-sources.md."""
    keys = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*([^|]+?)\s*\|", line)
        if not m:
            continue
        cell = m.group(1)
        keys.update(re.findall(r"\[([A-Z][A-Za-z0-9]*)\]", cell))
        keys.update(re.findall(r"^(DOMAIN \d+(?:\.\d+)?)$", cell))
    # the forms explained in "How to read a source"
    keys.update({"D", "U"})
    return keys


def sources(node, path=""):
    """(path, source, status) of every entry with a source, recursively."""
    if isinstance(node, dict):
        if isinstance(node.get("source"), str):
            yield path, node["source"], node.get("status")
        for k, v in node.items():
            yield from sources(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from sources(v, f"{path}.{i}")


def test_document_lists_the_keys_it_explains():
    keys = documented_keys()
    # a sample of each kind, so a broken table cannot pass the tests below vacuously
    for k in ("S53", "S54b", "S12", "IUPAC2021", "DOMAIN 1.6", "DOMAIN 3.3"):
        assert k in keys, k
    assert len([k for k in keys if k.startswith("S")]) > 80


def test_source_keys_parser():
    assert source_keys("DOMAIN 1.6 default [U]; inside 1.29-2.5 [S65]") == [
        "U",
        "S65",
        "DOMAIN 1.6",
    ]
    assert source_keys("[D from S29] ~150 yuan/t") == ["D", "S29"]
    assert source_keys("[S40][S41][S42] blend") == ["S40", "S41", "S42"]
    assert source_keys("placeholder") == []


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: p.name)
def test_every_source_tag_resolves(path):
    keys = documented_keys()
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    bad = []
    for where, text, status in sources(data):
        missing = [k for k in source_keys(text) if k not in keys]
        if missing:
            bad.append(f"{where}: {text!r} cites {missing}")
        if status is not None and status not in STATUSES:
            bad.append(f"{where}: status {status!r} not one of {STATUSES}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_case_file_references_resolve(path):
    """Case files cite the same keys in comments and source fields."""
    keys = documented_keys()
    text = path.read_text(encoding="utf-8")
    cited = set(re.findall(r"\[(S\d+[a-f]?)\]", text))
    cited |= {f"DOMAIN {s}" for s in re.findall(r"\bDOMAIN (\d+(?:\.\d+)?)", text)}
    for group in re.findall(r"\[([^\]\n]*\bS\d+[a-f]?\b[^\]\n]*)\]", text):
        cited |= set(re.findall(r"\bS\d+[a-f]?\b", group))
    assert not cited - keys, sorted(cited - keys)


def test_verified_values_cite_a_reference():
    """A verified default must name where it was read (not only [D] or [U])."""
    keys = documented_keys() - {"D", "U"}
    bad = []
    for path in DATA_FILES:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        meta_src = data.get("meta", {}).get("source", "")
        for where, text, status in sources(data):
            if status == "verified" and not set(source_keys(text)) & keys:
                bad.append(f"{path.name}: {where}: {text!r}")
        # rows without a source of their own rest on the file's [meta] source
        for table in data.values():
            if not isinstance(table, dict):
                continue
            for k, row in table.items():
                if (
                    isinstance(row, dict)
                    and row.get("status") == "verified"
                    and "source" not in row
                    and not set(source_keys(meta_src)) & keys
                ):
                    bad.append(f"{path.name}: {k}: verified with no source")
    assert not bad, "\n".join(bad)
