"""Capital and operating cost, NPV and CO2 of the NdFeB plant.

Purchased cost of one train's item: ``BEC (X / X_ref)^exp`` (PrOMMiS/UKy
correlations [S53], $2016, updated with the cost index) times a Lang factor for
installed cost.  OPEX: reagents, utilities, labour per train, maintenance;
by-products and residues priced per tonne (negative = disposal cost).
"""

from __future__ import annotations

from rexopt.units.data import DataSet


def installed_cost_fn(c: DataSet, equipment: str):
    """Installed cost of one train's item as a function of its size. [USD]"""
    e = c.table(f"equipment.{equipment}")
    f = c("finance.lang_factor") * (
        c("finance.cost_index")
        if "USD2016" in c.entry(f"equipment.{equipment}.bec").unit
        else 1.0
    )

    def cost(x: float) -> float:
        if x <= 0:
            return 0.0
        return f * e["bec"] * (x / e["ref"]) ** e["exp"]

    return cost


def annuity_factor(rate: float, years: int) -> float:
    """Present value of 1 USD/yr for ``years`` years. [yr]"""
    return (1 - (1 + rate) ** -years) / rate


def reagent_price_USD_t(c: DataSet) -> dict[str, float]:
    """Price per tonne of each purchased species (species key -> USD/t of species)."""
    r = c.table("reagents_USD_t")
    return {
        "HCl(aq)": r["HCl"],
        "NaOH(aq)": r["NaOH"],
        "NH3(aq)": r["NH3"],
        "MgO(s)": r["MgO"],
        "CO2(g)": r["CO2"],
        "H2SO4(aq)": r["H2SO4"],
        "Na2SO4(aq)": r["Na2SO4"],
        "H2C2O4(H2O)2(s)": r["H2C2O4_2H2O"],
        "H2O2(aq)": r["H2O2"],
        "H2(g)": r["H2"],
    }


#: water carried by purchased reagent solutions [mol H2O per mol species]
REAGENT_WATER_MOL_MOL = {
    "HCl(aq)": 4.505,  # 31 wt %
    "NaOH(aq)": 4.72,  # 32 wt %
    "NH3(aq)": 3.78,  # 20 wt %
    "H2O2(aq)": 1.887,  # 50 wt %
    "H2SO4(aq)": 0.111,  # 98 wt %
}
