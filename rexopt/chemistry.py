"""Elements, ions, saponification agents and bundled parameter sets.

All defaults live in ``rexopt/data/*.toml`` with their ``source`` and ``status``;
this module only reads them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

HCL_G_MOL = 36.461  # [g/mol]
H2O_G_MOL = 18.015  # [g/mol]
CO2_G_MOL = 44.009  # [g/mol]


@dataclass(frozen=True)
class Element:
    """An extractable or co-present cation."""

    symbol: str
    charge: int  # [-]
    molar_mass_g_mol: float  # [g/mol]
    oxide: str
    oxide_metal_atoms: int
    oxide_molar_mass_g_mol: float  # [g/mol]
    group: str  # REE | impurity | counter-ion

    @property
    def oxide_g_per_mol_metal(self) -> float:
        """Grams of oxide per mole of the element. [g/mol]"""
        if not self.oxide_molar_mass_g_mol:
            return 0.0
        return self.oxide_molar_mass_g_mol / self.oxide_metal_atoms


@dataclass(frozen=True)
class Agent:
    """A saponification agent and the salt it ends up as."""

    name: str
    ion: str
    agent_per_HA: float  # [mol agent / mol HA neutralised]
    agent_molar_mass_g_mol: float
    salt: str
    salt_per_HA: float  # [mol salt / mol HA]
    salt_molar_mass_g_mol: float
    co2_per_HA: float  # [mol CO2 / mol HA]


@cache
def read_data(name: str) -> dict:
    """Parse a bundled data file ``rexopt/data/<name>.toml`` (parsed once; treat the
    returned dict as read-only)."""
    path = resources.files("rexopt") / "data" / f"{name}.toml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no bundled data set '{name}' (looked for rexopt/data/{name}.toml); "
            f"available: {', '.join(available_datasets())}"
        )
    return tomllib.loads(path.read_text(encoding="utf-8"))


def available_datasets() -> list[str]:
    root = resources.files("rexopt") / "data"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


@cache
def elements() -> dict[str, Element]:
    data = read_data("elements")["elements"]
    return {k: Element(symbol=k, **v) for k, v in data.items()}


@cache
def agents() -> dict[str, Agent]:
    data = read_data("elements")["agents"]
    return {k: Agent(name=k, **v) for k, v in data.items()}


def element(symbol: str) -> Element:
    try:
        return elements()[symbol]
    except KeyError:
        raise KeyError(
            f"unknown component '{symbol}'; known: {', '.join(elements())}"
        ) from None


@cache
def p507_relative_affinities() -> dict[str, float]:
    """K_i / K_La for saponified P507-HCl: products of adjacent betas along the
    extraction order, impurities from their factors. [-]"""
    data = read_data("p507_hcl")
    order = data["meta"]["order"]
    rel = {order[0]: 1.0}
    for lighter, heavier in zip(order, order[1:]):
        rel[heavier] = rel[lighter] * data["beta"][f"{heavier}/{lighter}"]["value"]
    for sym, row in data["impurity_factor"].items():
        rel[sym] = row["value"]
    return rel
