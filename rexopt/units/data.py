"""Default data of the NdFeB flowsheet units, with source and status.

Each default lives in ``rexopt/data/ndfeb/<name>.toml`` as a table::

    acid_ratio_mol_mol = { value = [3.0, 3.5], unit = "mol HCl/mol RE",
                           source = "[S34] ...", status = "verified" }

``status`` is ``verified`` (read in the cited source), ``derived`` (computed here
from cited inputs) or ``unverified`` (engineering placeholder; override it).
Tables may nest (``[extent.T80_C]``).  A case file overrides any entry by its
dotted path; an override gets ``status = "case"``.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "ndfeb"
STATUSES = ("verified", "derived", "unverified", "case")


class DataError(ValueError):
    """A data file or an override is malformed; the message names file and key."""


@dataclass(frozen=True)
class Entry:
    """One default value with its unit, source and status."""

    value: Any
    unit: str
    source: str
    status: str


def _is_entry(d: Any) -> bool:
    return isinstance(d, dict) and "value" in d


def _check(tree: dict, file: str, prefix: str = "") -> None:
    for k, v in tree.items():
        path = f"{prefix}{k}"
        if _is_entry(v):
            missing = {"unit", "source", "status"} - set(v)
            if missing:
                raise DataError(f"{file}: {path} lacks {sorted(missing)}")
            if v["status"] not in STATUSES:
                raise DataError(
                    f"{file}: {path}.status = {v['status']!r}; allowed {STATUSES}"
                )
        elif isinstance(v, dict):
            _check(v, file, path + ".")
        elif k not in ("title", "description"):
            raise DataError(
                f"{file}: {path} = {v!r} is a bare value; write "
                "{ value = ..., unit = ..., source = ..., status = ... }"
            )


class DataSet:
    """The entries of one data file (after case overrides)."""

    def __init__(self, name: str, tree: dict):
        self.name = name
        self.tree = tree

    def _node(self, path: str):
        node: Any = self.tree
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise DataError(f"{self.name}.toml has no entry {path!r}")
            node = node[part]
        return node

    def entry(self, path: str) -> Entry:
        n = self._node(path)
        if not _is_entry(n):
            raise DataError(f"{self.name}.toml: {path!r} is a table, not a value")
        return Entry(n["value"], n["unit"], n["source"], n["status"])

    def __call__(self, path: str) -> Any:
        """The value of an entry."""
        return self.entry(path).value

    def table(self, path: str) -> dict[str, Any]:
        """Values of all entries directly under a table."""
        n = self._node(path)
        return {k: v["value"] for k, v in n.items() if _is_entry(v)}

    def keys(self, path: str) -> list[str]:
        return list(self._node(path))

    def entries(self) -> list[tuple[str, Entry]]:
        out: list[tuple[str, Entry]] = []

        def walk(t: dict, prefix: str):
            for k, v in t.items():
                if _is_entry(v):
                    out.append(
                        (
                            prefix + k,
                            Entry(v["value"], v["unit"], v["source"], v["status"]),
                        )
                    )
                elif isinstance(v, dict):
                    walk(v, prefix + k + ".")

        walk(self.tree, "")
        return out


def _apply(tree: dict, overrides: dict, file: str, prefix: str = "") -> None:
    for k, v in overrides.items():
        path = f"{prefix}{k}"
        if k not in tree:
            raise DataError(
                f"case override data.{file}.{path}: no such entry in {file}.toml "
                f"(entries here: {sorted(tree)})"
            )
        node = tree[k]
        if _is_entry(node):
            if isinstance(v, dict) and "value" in v:
                node.update(v)
                node.setdefault("status", "case")
                if "source" not in v:
                    node["source"] = "case file"
                    node["status"] = "case"
            else:
                node["value"] = v
                node["source"] = "case file"
                node["status"] = "case"
        elif isinstance(node, dict) and isinstance(v, dict):
            _apply(node, v, file, path + ".")
        else:
            raise DataError(f"case override data.{file}.{path}: expected a table")


_CACHE: dict[str, dict] = {}


def load(name: str, overrides: dict | None = None) -> DataSet:
    """Load ``rexopt/data/ndfeb/<name>.toml`` and apply case overrides."""
    if name not in _CACHE:
        path = DATA_DIR / f"{name}.toml"
        if not path.exists():
            raise DataError(f"no data file {path}")
        with open(path, "rb") as fh:
            tree = tomllib.load(fh)
        _check(tree, path.name)
        _CACHE[name] = tree
    tree = copy.deepcopy(_CACHE[name])
    if overrides:
        _apply(tree, overrides, name)
    return DataSet(name, tree)


def available() -> list[str]:
    return sorted(p.stem for p in DATA_DIR.glob("*.toml"))


def load_all(overrides: dict | None = None) -> dict[str, DataSet]:
    """All data files, each with its part of ``overrides`` (``{file: {...}}``)."""
    overrides = overrides or {}
    unknown = set(overrides) - set(available())
    if unknown:
        raise DataError(
            f"case [data] names unknown data files {sorted(unknown)}; "
            f"allowed {available()}"
        )
    return {n: load(n, overrides.get(n)) for n in available()}


def unverified(datasets: dict[str, DataSet]) -> list[tuple[str, Entry]]:
    """Every entry whose status is ``unverified`` (for the report)."""
    out = []
    for n, ds in datasets.items():
        for path, e in ds.entries():
            if e.status == "unverified":
                out.append((f"{n}.{path}", e))
    return out
