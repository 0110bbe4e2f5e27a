"""Unit-model skeleton shared by the NdFeB flowsheet units.

A unit has named inlet and outlet ports and a list of discrete operating
points (data points of its operating variables, plus route tags such as
``agent = "NaOH"``).  Its :meth:`Unit.simulate` is the rigorous balance for
one operating point: given inlet streams ``{species: kmol/h}`` it returns the
outlet streams, the reagents it draws, its utilities and its equipment sizes.
Every unit is written so that, at a fixed operating point, all of these are
linear and homogeneous in the inlet flows; :mod:`rexopt.units.linear` relies on
this to build the Pyomo block exactly from the simulation (one balance, written
once), and :func:`check_balance` verifies elements closing around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rexopt.chemistry import H2O_G_MOL
from rexopt.units import species as sp

Stream = dict[str, float]

#: Utilities a unit may report (all per hour).
UTILITIES = (
    "electricity_kW",  # electric power drawn
    "fuel_kW",  # natural gas fired (LHV)
    "heat_kW",  # kiln heat duty, supplied by fuel or electricity (plant choice)
    "steam_t_h",  # low-pressure steam
)


@dataclass
class UnitResult:
    """Outcome of one unit simulation (all flows per hour)."""

    outlets: dict[str, Stream]
    reagents: Stream = field(default_factory=dict)  # species drawn [kmol/h]
    utilities: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)  # equipment -> size


def add(stream: Stream, key: str, kmol_h: float) -> None:
    """Add a flow to a stream in place (negative subtracts)."""
    if kmol_h != 0.0:
        stream[key] = stream.get(key, 0.0) + kmol_h


def merge(*streams: Stream) -> Stream:
    out: Stream = {}
    for s in streams:
        for k, v in s.items():
            add(out, k, v)
    return out


def scale(stream: Stream, f: float) -> Stream:
    return {k: v * f for k, v in stream.items()}


def aqueous(stream: Stream) -> Stream:
    return {k: v for k, v in stream.items() if sp.phase(k) in ("aq", "l")}


def solids(stream: Stream) -> Stream:
    return {k: v for k, v in stream.items() if sp.phase(k) == "s"}


def gases(stream: Stream) -> Stream:
    return {k: v for k, v in stream.items() if sp.phase(k) == "g"}


def solid_mass_kg_h(stream: Stream) -> float:
    return sp.mass_flow_kg_h(solids(stream))


#: molar mass of water [kg/kmol] (rexopt.chemistry's figure in g/mol); liquor
#: density for tank volumes [kg/m3]
WATER_KG_KMOL = H2O_G_MOL
LIQUOR_KG_M3 = 1100.0


def cake_and_filtrate(
    liquor: Stream, cake: Stream, loss: float, moisture_t_t: float, wash_t_t=0.0
) -> tuple[Stream, float]:
    """Filter a liquor off a cake whose solids are already in ``cake`` (in place).

    Every solute goes ``loss`` to the cake and the rest to the filtrate; the cake
    keeps ``moisture_t_t`` t water per t dry solids; wash water (``wash_t_t`` t per
    t dry solids) joins the filtrate.  Returns (filtrate, wash water [kmol/h]).
    """
    fil: Stream = {}
    for k, v in liquor.items():
        if k == "H2O(l)":
            continue
        add(cake, k, loss * v)
        add(fil, k, (1 - loss) * v)
    m_s = solid_mass_kg_h(cake)
    cake_w = moisture_t_t * m_s / WATER_KG_KMOL
    wash = wash_t_t * m_s / WATER_KG_KMOL
    add(cake, "H2O(l)", cake_w)
    add(fil, "H2O(l)", liquor.get("H2O(l)", 0.0) - cake_w + wash)
    return fil, wash


class Unit:
    """Base class: subclasses set ports and points and write ``simulate``."""

    inlets: tuple[str, ...] = ("inlet",)
    outlets: tuple[str, ...] = ("outlet",)
    #: equipment keys (rexopt/data/ndfeb/costs.toml [equipment]) sized here
    equipment: tuple[str, ...] = ()

    def __init__(self, name: str, points: list[dict[str, Any]]):
        if not points:
            raise ValueError(f"unit {name}: no operating point")
        self.name = name
        self.points = points

    def simulate(self, inlets: dict[str, Stream], point: dict[str, Any]) -> UnitResult:
        raise NotImplementedError

    def label(self, point: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in point.items() if not k.startswith("_"))


def check_balance(
    inlets: dict[str, Stream], res: UnitResult, tol: float = 1e-9
) -> dict[str, float]:
    """Element imbalance (in - out) of one unit; reagents count as inputs."""
    tot_in = sp.element_flows(merge(*inlets.values(), res.reagents))
    tot_out = sp.element_flows(merge(*res.outlets.values()))
    els = set(tot_in) | set(tot_out)
    return {
        e: tot_in.get(e, 0.0) - tot_out.get(e, 0.0)
        for e in els
        if abs(tot_in.get(e, 0.0) - tot_out.get(e, 0.0))
        > tol * max(1.0, abs(tot_in.get(e, 0.0)))
    }
