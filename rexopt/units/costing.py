"""Capital and operating cost, NPV and CO2 of the NdFeB plant.

Purchased cost of one train's item: ``BEC (X / X_ref)^exp`` (PrOMMiS/UKy
correlations [S53], $2016, updated with the cost index) times a Lang factor for
installed cost.  OPEX: reagents, utilities, labour per train, maintenance;
by-products and residues priced per tonne (negative = disposal cost).
:class:`Finance` is the after-tax cash-flow model (tax, straight-line
depreciation, working capital) behind the NPV, IRR and payback.
"""

from __future__ import annotations

from dataclasses import dataclass

from rexopt.units.data import DataError, DataSet


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


@dataclass(frozen=True)
class Finance:
    """Cash-flow model of the plant (one definition for the MILP and the report).

    Year 0: CAPEX and working capital are paid.  Years 1..life: after-tax cash
    ``(revenue - operating cost)(1 - tax) + tax * depreciation``, straight-line
    depreciation ``CAPEX / depreciation_yr`` in years 1..depreciation_yr (no
    salvage).  The working capital ``working_capital_frac * operating cost`` comes
    back in the last year.  Operating cost = OPEX (reagents, utilities, labour,
    maintenance, wastes, net of by-product sales) + scrap.  A year with a
    negative taxable profit gets a tax credit (the owner is assumed to have other
    taxable income); this keeps the NPV linear in the plant's flows.
    """

    discount_rate: float  # [1/yr]
    life_yr: int  # [yr]
    tax_rate: float  # [-]
    depreciation_yr: int  # [yr]
    working_capital_frac: float  # [-] of annual operating cost

    @classmethod
    def from_data(cls, c: DataSet) -> Finance:
        f = c.table("finance")
        fin = cls(
            float(f["discount_rate"]),
            int(f["life_yr"]),
            float(f["tax_rate"]),
            int(f["depreciation_yr"]),
            float(f["working_capital_frac"]),
        )
        fin.check()
        return fin

    def check(self) -> None:
        bad = []
        if not self.discount_rate > 0:
            bad.append(f"discount_rate = {self.discount_rate} (allowed > 0)")
        if self.life_yr < 1:
            bad.append(f"life_yr = {self.life_yr} (allowed >= 1)")
        if not 0 <= self.tax_rate < 1:
            bad.append(f"tax_rate = {self.tax_rate} (allowed 0 <= x < 1)")
        if not 1 <= self.depreciation_yr <= self.life_yr:
            bad.append(
                f"depreciation_yr = {self.depreciation_yr} (allowed 1..life_yr = "
                f"{self.life_yr})"
            )
        if self.working_capital_frac < 0:
            bad.append(f"working_capital_frac = {self.working_capital_frac} (>= 0)")
        if bad:
            raise DataError("costs.toml [finance]: " + "; ".join(bad))

    @property
    def annuity(self) -> float:
        """Present value of 1 USD/yr over the life. [yr]"""
        return annuity_factor(self.discount_rate, self.life_yr)

    def coefficients(self) -> dict[str, float]:
        """NPV = -k_capex CAPEX - k_wc OPC + k_cash (revenue - OPC), OPC = op. cost."""
        r, t = self.discount_rate, self.tax_rate
        dep = annuity_factor(r, self.depreciation_yr) / self.depreciation_yr
        return {
            "k_capex": 1.0 - t * dep,
            "k_wc": self.working_capital_frac * (1 - (1 + r) ** -self.life_yr),
            "k_cash": (1 - t) * self.annuity,
        }

    def npv(self, capex, revenue, operating_cost):
        """Net present value [USD]; works on floats and on Pyomo expressions."""
        k = self.coefficients()
        return (
            -k["k_capex"] * capex
            - k["k_wc"] * operating_cost
            + k["k_cash"] * (revenue - operating_cost)
        )

    def cash_flows(
        self, capex: float, revenue: float, operating_cost: float
    ) -> list[float]:
        """Undiscounted after-tax cash flow of years 0..life [USD]."""
        wc = self.working_capital_frac * operating_cost
        out = [-capex - wc]
        for y in range(1, self.life_yr + 1):
            dep = capex / self.depreciation_yr if y <= self.depreciation_yr else 0.0
            cf = (revenue - operating_cost) * (1 - self.tax_rate) + self.tax_rate * dep
            if y == self.life_yr:
                cf += wc
            out.append(cf)
        return out


def npv_of(cash: list[float], rate: float) -> float:
    """Present value of yearly cash flows (year 0 undiscounted). [USD]"""
    return sum(cf / (1 + rate) ** y for y, cf in enumerate(cash))


def irr(cash: list[float]) -> float | None:
    """Internal rate of return [1/yr] by bisection; None when it does not exist.

    Defined here only for a conventional profile (negative first, NPV falling
    with the rate, one sign change of NPV in -99 % .. 1000 %).
    """
    lo, hi = -0.99, 10.0
    f_lo, f_hi = npv_of(cash, lo), npv_of(cash, hi)
    if f_lo * f_hi > 0:
        return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f = npv_of(cash, mid)
        if (f > 0) == (f_lo > 0):
            lo, f_lo = mid, f
        else:
            hi = mid
        if hi - lo < 1e-10:
            break
    return 0.5 * (lo + hi)


def payback_yr(cash: list[float]) -> float | None:
    """Simple (undiscounted) payback time [yr], interpolated within the year.

    None when the cumulative cash never turns positive within the life.
    """
    cum = cash[0]
    if cum >= 0:
        return 0.0
    for y, cf in enumerate(cash[1:], start=1):
        if cum + cf >= 0:
            return y - 1 + (-cum) / cf
        cum += cf
    return None


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
