"""Costs of a countercurrent SX cascade: reagents, mixer-settlers, rare-earth inventory.

Defaults live in ``rexopt/data/costs.toml`` (each value with ``unit``, ``source`` and
``status``); a case overrides them in ``[optimize.costs]`` by key
(``HCl_USD_t = 300.0``).  Everything here is a plain function of flows, stage counts
and (optionally) the kernel's stage profiles, so the optimizer can cost a design it
has simulated exactly and bound the cost of one it has not.

Sizing (DOMAIN.md §6.3): mixer volume of a stage = (organic + aqueous flow) x
residence time; settler = ``settler_to_mixer_volume`` x mixer; capital of the whole
bank = ``cost_ref_USD * (V_total / volume_ref_gal)**scale_exponent`` (PrOMMiS
mixer-settler law, DOMAIN.md §6.4); rare-earth inventory = sum over stages of stage
volume x phase-weighted metal concentration, valued at oxide prices.

References
----------
.. [S53] PrOMMiS ``REE_costing_parameters.json`` (mixer-settler cost law, prices).
.. [S61] settler:mixer volume ratio > 2.5:1 in Chinese RE mixer-settlers.
.. [S63] mixing and settling times of a few minutes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from rexopt.chemistry import HCL_G_MOL, agents, element

GAL_PER_M3 = 264.172  # [US gal/m3]
_AGENT_PRICE_KEY = {
    "NH3": "NH3_USD_t",
    "NaOH": "NaOH_USD_t",
    "Mg(HCO3)2": "MgHCO3_USD_t",
}


@cache
def _cost_file() -> dict:
    path = resources.files("rexopt") / "data" / "costs.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def cost_table() -> dict[str, dict]:
    """Every default as ``{key: {value, unit, source, status, group}}``."""
    out = {}
    for group, block in _cost_file().items():
        if not isinstance(block, dict):
            continue
        for key, row in block.items():
            out[key] = dict(row, group=group)
    return out


def load_costs(overrides: Mapping[str, float] | None = None, *, where: str = "costs"):
    """Default cost values with ``overrides`` applied.

    Parameters
    ----------
    overrides : mapping of str to float, optional
        Keys of ``rexopt/data/costs.toml`` (e.g. ``"HCl_USD_t"``) and new values.
    where : str
        Prefix for error messages (file and table).

    Returns
    -------
    dict of str to float

    Raises
    ------
    ValueError
        An unknown key or a negative value, naming the key and what is allowed.
    """
    table = cost_table()
    vals = {k: float(v["value"]) for k, v in table.items()}
    for k, v in (overrides or {}).items():
        if k not in vals:
            raise ValueError(
                f"{where}.{k}: {v!r} -- unknown cost key; allowed: "
                f"{', '.join(sorted(vals))}"
            )
        v = float(v)
        if not (np.isfinite(v) and (v >= 0 or k.endswith(("Cl_USD_t", "Cl2_USD_t")))):
            raise ValueError(f"{where}.{k}: {v!r} -- must be a finite number >= 0")
        vals[k] = v
    return vals


def oxide_price_USD_kg(symbol: str, costs: Mapping[str, float]) -> float:
    """Value of the oxide of ``symbol`` per kg oxide. [USD/kg]"""
    ox = element(symbol).oxide
    return costs.get(f"{ox}_USD_kg", costs["default_oxide_USD_kg"])


@dataclass
class CascadeCost:
    """Cost breakdown of one cascade design (all rates per hour of operation unless
    the name says per year)."""

    stages: tuple[int, ...]  # (extraction, scrub, strip) [stages]
    base_kg_h: float  # saponification agent [kg/h]
    hcl_kg_h: float  # HCl (100 %) in all aqueous inputs [kg/h]
    water_kg_h: float  # water of the scrub and strip solutions [kg/h]
    salt_kg_h: float  # salt to wastewater [kg/h]
    product_oxide_kg_h: float  # oxide in the product outlets [kg/h]
    mixer_m3: float  # total mixer volume [m3]
    settler_m3: float  # total settler volume [m3]
    inventory_oxide_kg: float  # RE held in mixers and settlers, as oxide [kg]
    inventory_USD: float  # its value [USD]
    capital_USD: float  # mixer-settler bank [USD]
    reagent_USD_y: dict[str, float] = field(default_factory=dict)
    hours_h_y: float = 7920.0
    crf_1_y: float = 0.1175
    inventory_charge_1_y: float = 0.10

    @property
    def reagent_cost_USD_y(self) -> float:
        """Base + HCl + water + salt disposal. [USD/y]"""
        return float(sum(self.reagent_USD_y.values()))

    @property
    def capital_USD_y(self) -> float:
        """Annualized mixer-settler capital. [USD/y]"""
        return self.crf_1_y * self.capital_USD

    @property
    def inventory_USD_y(self) -> float:
        """Carrying charge on the RE inventory. [USD/y]"""
        return self.inventory_charge_1_y * self.inventory_USD

    @property
    def annualized_USD_y(self) -> float:
        """Reagents + annualized capital + inventory charge. [USD/y]"""
        return self.reagent_cost_USD_y + self.capital_USD_y + self.inventory_USD_y

    @property
    def total_stages(self) -> int:
        return int(sum(self.stages))

    @property
    def mixer_m3_per_t_d(self) -> float:
        """Mixer volume per daily oxide production (1/Xu's optimum). [m3/(t/d)]"""
        prod = self.product_oxide_kg_h * 24.0 / 1000.0
        return self.mixer_m3 / prod if prod > 0 else float("inf")

    def per_tonne(self) -> dict[str, float]:
        """Reagent use per tonne of oxide product. [t/t]"""
        p = max(self.product_oxide_kg_h, 1e-300)
        return {
            "base_t_t": self.base_kg_h / p,
            "HCl_t_t": self.hcl_kg_h / p,
            "water_t_t": self.water_kg_h / p,
            "salt_t_t": self.salt_kg_h / p,
        }

    def objective_terms(self) -> dict[str, float]:
        """The quantities an optimizer objective may weight (see docs/optimize.md)."""
        return {
            "reagent_cost": self.reagent_cost_USD_y,
            "stages": float(self.total_stages),
            "annualized_cost": self.annualized_USD_y,
            "mixer_volume": self.mixer_m3_per_t_d,
        }

    def as_dict(self) -> dict:
        d = {
            "stages": list(self.stages),
            "total_stages": self.total_stages,
            "base_kg_h": self.base_kg_h,
            "HCl_kg_h": self.hcl_kg_h,
            "water_kg_h": self.water_kg_h,
            "salt_to_wastewater_kg_h": self.salt_kg_h,
            "product_oxide_kg_h": self.product_oxide_kg_h,
            "mixer_m3": self.mixer_m3,
            "settler_m3": self.settler_m3,
            "inventory_oxide_kg": self.inventory_oxide_kg,
            "inventory_USD": self.inventory_USD,
            "capital_USD": self.capital_USD,
            "reagent_USD_y": dict(self.reagent_USD_y),
            "reagent_cost_USD_y": self.reagent_cost_USD_y,
            "capital_USD_y": self.capital_USD_y,
            "inventory_USD_y": self.inventory_USD_y,
            "annualized_USD_y": self.annualized_USD_y,
            "mixer_m3_per_t_d": self.mixer_m3_per_t_d,
        }
        d.update({f"per_t_product_{k}": v for k, v in self.per_tonne().items()})
        return d


def mixer_settler_capital_USD(
    total_volume_m3: float, costs: Mapping[str, float]
) -> float:
    """PrOMMiS scale law on the total mixer + settler volume of the bank. [USD]

    ``cost_ref_USD * (V / volume_ref_gal) ** scale_exponent`` [S53].
    """
    v_gal = max(float(total_volume_m3), 0.0) * GAL_PER_M3
    return (
        costs["cost_ref_USD"]
        * (v_gal / costs["volume_ref_gal"]) ** costs["scale_exponent"]
    )


def cascade_cost(
    *,
    stages: tuple[int, ...],
    org_flow_L_h: np.ndarray,
    aq_flow_L_h: np.ndarray,
    base_HA_mol_h: float,
    agent: str,
    acid_mol_h: float,
    water_L_h: float,
    product_oxide_kg_h: float,
    costs: Mapping[str, float],
    inventory_mol: Mapping[str, float] | None = None,
) -> CascadeCost:
    """Cost one cascade from its per-stage flows and reagent inputs.

    Parameters
    ----------
    stages : tuple of int
        Stages per section (extraction, scrub, strip). [stages]
    org_flow_L_h, aq_flow_L_h : array (N,)
        Organic and aqueous flow through each stage. [L/h]
    base_HA_mol_h : float
        Extractant neutralised by saponification. [mol HA/h]
    agent : {"NH3", "NaOH", "Mg(HCO3)2"}
    acid_mol_h : float
        Free HCl entering with all aqueous inputs. [mol/h]
    water_L_h : float
        Scrub and strip solution made up. [L/h]
    product_oxide_kg_h : float
        Oxide leaving in the product outlets. [kg/h]
    costs : mapping
        From :func:`load_costs`.
    inventory_mol : mapping, optional
        Metal held in the stages (mixers and settlers) per component; None counts no
        inventory (a lower bound). [mol]
    """
    ag = agents()[agent]
    t_h = costs["residence_time_min"] / 60.0
    mixer = (
        float(np.sum(np.asarray(org_flow_L_h) + np.asarray(aq_flow_L_h))) * t_h / 1e3
    )
    settler = costs["settler_to_mixer_volume"] * mixer
    base_kg_h = base_HA_mol_h * ag.agent_per_HA * ag.agent_molar_mass_g_mol / 1e3
    salt_kg_h = base_HA_mol_h * ag.salt_per_HA * ag.salt_molar_mass_g_mol / 1e3
    hcl_kg_h = acid_mol_h * HCL_G_MOL / 1e3
    water_kg_h = float(water_L_h)  # ~1 kg/L
    hours = costs["operating_hours_h_y"]
    reag = {
        f"base ({agent})": base_kg_h / 1e3 * costs[_AGENT_PRICE_KEY[agent]] * hours,
        "HCl": hcl_kg_h / 1e3 * costs["HCl_USD_t"] * hours,
        "water": water_kg_h / 1e3 * costs["water_USD_t"] * hours,
        f"salt to wastewater ({ag.salt})": salt_kg_h
        / 1e3
        * costs.get(f"{ag.salt}_USD_t", 0.0)
        * hours,
    }
    inv_kg = inv_usd = 0.0
    for s, mol in (inventory_mol or {}).items():
        kg = mol * element(s).oxide_g_per_mol_metal / 1e3
        inv_kg += kg
        inv_usd += kg * oxide_price_USD_kg(s, costs)
    return CascadeCost(
        stages=tuple(int(v) for v in stages),
        base_kg_h=base_kg_h,
        hcl_kg_h=hcl_kg_h,
        water_kg_h=water_kg_h,
        salt_kg_h=salt_kg_h,
        product_oxide_kg_h=float(product_oxide_kg_h),
        mixer_m3=mixer,
        settler_m3=settler,
        inventory_oxide_kg=inv_kg,
        inventory_USD=inv_usd,
        capital_USD=mixer_settler_capital_USD(mixer + settler, costs),
        reagent_USD_y=reag,
        hours_h_y=hours,
        crf_1_y=costs["capital_recovery_factor"],
        inventory_charge_1_y=costs["inventory_charge"],
    )


def stage_inventory_mol(
    org_flow_L_h: np.ndarray,
    aq_flow_L_h: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    components: list[str],
    species: list[str],
    costs: Mapping[str, float],
) -> dict[str, float]:
    """Metal held in every mixer and settler, phases in proportion to their flows. [mol]

    Each stage holds (1 + settler ratio) x mixer volume; the mixer volume is the
    total flow times the residence time.
    """
    t_h = costs["residence_time_min"] / 60.0
    vol_L = (
        (np.asarray(org_flow_L_h) + np.asarray(aq_flow_L_h))
        * t_h
        * (1.0 + costs["settler_to_mixer_volume"])
    )
    tot = np.asarray(org_flow_L_h) + np.asarray(aq_flow_L_h)
    fo = np.divide(org_flow_L_h, tot, out=np.zeros_like(tot), where=tot > 0)
    out = {}
    for s in components:
        i = species.index(s)
        out[s] = float(np.sum(vol_L * (fo * y[:, i] + (1.0 - fo) * x[:, i])))
    return out


def objective_terms_arrays(
    *,
    total_stages: np.ndarray,
    mixer_flow_L_h: np.ndarray,
    base_HA_mol_h: np.ndarray,
    agent: str,
    acid_mol_h: np.ndarray,
    water_L_h: np.ndarray,
    product_oxide_kg_h: float,
    inventory_USD: np.ndarray,
    costs: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """:meth:`CascadeCost.objective_terms` for many designs at once (same formulas
    as :func:`cascade_cost`; used to bound designs not yet simulated).

    ``mixer_flow_L_h`` is the sum over stages of (organic + aqueous) flow. [L/h]
    """
    ag = agents()[agent]
    hours = costs["operating_hours_h_y"]
    mixer = np.asarray(mixer_flow_L_h) * costs["residence_time_min"] / 60.0 / 1e3
    settler = costs["settler_to_mixer_volume"] * mixer
    base_kg_h = base_HA_mol_h * ag.agent_per_HA * ag.agent_molar_mass_g_mol / 1e3
    salt_kg_h = base_HA_mol_h * ag.salt_per_HA * ag.salt_molar_mass_g_mol / 1e3
    reagent = (
        hours
        / 1e3
        * (
            base_kg_h * costs[_AGENT_PRICE_KEY[agent]]
            + acid_mol_h * HCL_G_MOL / 1e3 * costs["HCl_USD_t"]
            + np.asarray(water_L_h) * costs["water_USD_t"]
            + salt_kg_h * costs.get(f"{ag.salt}_USD_t", 0.0)
        )
    )
    v_gal = (mixer + settler) * GAL_PER_M3
    capital = (
        costs["cost_ref_USD"]
        * (v_gal / costs["volume_ref_gal"]) ** costs["scale_exponent"]
    )
    annual = (
        reagent
        + costs["capital_recovery_factor"] * capital
        + costs["inventory_charge"] * np.asarray(inventory_USD)
    )
    prod_t_d = product_oxide_kg_h * 24.0 / 1000.0
    return {
        "reagent_cost": reagent,
        "stages": np.asarray(total_stages, float),
        "annualized_cost": annual,
        "mixer_volume": mixer / prod_t_d
        if prod_t_d > 0
        else np.full_like(mixer, np.inf),
    }
