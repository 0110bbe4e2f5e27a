"""Batch tests solved by the cascade kernel: one test = a one-stage cascade.

Each test becomes a case with one extraction stage (aqueous feed 1 L/h, organic at
the test's O/A, saponified as recorded), built and solved by the same public
functions the simulator uses (:class:`rexopt.cascade.Cascade`,
:func:`rexopt.cascade.solve_arrays`).  The fit only writes its parameters into the
kernel's stage-parameter arrays (a, b, c, d, nu); the distribution law, the site
balance for free extractant and the electroneutrality for acid are the kernel's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rexopt import kernels
from rexopt.cascade import Cascade, solve_arrays
from rexopt.chemistry import element, p507_relative_affinities, read_data
from rexopt.fit.data import BatchTest, FitData

MODELS = ("constant", "saturated", "empirical_ph", "mass_action")
# parameters per element of each model, the kernel array each one fills
KINDS = {
    "constant": ("log10_D",),
    "saturated": ("log10_K",),
    "empirical_ph": ("a", "b", "c", "d"),
    "mass_action": ("log10_K", "n", "m", "nu"),
}
KERNEL_ARRAY = {
    "log10_D": "c",
    "log10_K": "c",
    "a": "a",
    "b": "b",
    "c": "c",
    "d": "d",
    "n": "d",
    "m": "a",
    "nu": "nu",
}
# fitted by default; the rest are held at their default unless freed
DEFAULT_FREE = {
    "constant": ("log10_D",),
    "saturated": ("log10_K",),
    "empirical_ph": ("a", "c"),
    "mass_action": ("log10_K",),
}
DEFAULT_BOUNDS = {
    "log10_D": (-12.0, 12.0),
    "log10_K": (-30.0, 30.0),
    "a": (-10.0, 10.0),
    "b": (-50.0, 50.0),
    "c": (-20.0, 20.0),
    "d": (-10.0, 10.0),
    "n": (0.1, 6.0),
    "m": (0.0, 6.0),
    "nu": (0.5, 12.0),
}
MEANING = {
    "log10_D": "log10 of the constant distribution ratio",
    "log10_K": "log10 of the extraction constant",
    "a": "pH slope",
    "b": "pH slope per mol/L free extractant",
    "c": "intercept",
    "d": "free-extractant exponent",
    "n": "free-extractant exponent",
    "m": "pH slope (protons released)",
    "nu": "extractant per extracted ion",
}


class FitError(RuntimeError):
    """A fit that cannot be done or trusted; the message says what and why."""


class FitIdentifiabilityError(FitError):
    """The data cannot identify some parameters; the message names them."""


def default_value(model: str, el: str, kind: str) -> float:
    """Starting (or held) value of one parameter, from the bundled data sets."""
    z = element(el).charge
    if model == "constant":
        return 0.0
    if model == "saturated":
        rel = p507_relative_affinities()
        base = read_data("p507_hcl")["saturated"]["K_ref_L_mol"]["value"]
        return math.log10(base * rel.get(el, 1.0))
    if model == "empirical_ph":
        ds = read_data("d2ehpa_tbp_empirical")["params"]
        if el in ds:
            return float(ds[el][kind])
        return {"a": 1.0, "b": 0.0, "c": -1.0, "d": 0.0}[kind]
    ds = read_data("p507_hcl")["mass_action"]
    if kind == "log10_K":
        rel = p507_relative_affinities()
        return ds["log10_K_La"]["value"] + math.log10(rel.get(el, 1.0))
    if z != 3:
        return {"n": float(z), "m": float(z), "nu": 2.0 * z}[kind]
    return float(ds[kind]["value"])


@dataclass
class Solved:
    """Kernel answer for one test (per element of the test)."""

    x: dict[str, float]  # aqueous [mol/L]
    y: dict[str, float]  # organic [mol/L]
    pH: float | None  # None when the model has no pH
    F: float | None  # free extractant (sites) [mol/L]; None when not modelled


class BatchModel:
    """The batch tests of a data set as one-stage cascades, ready to re-solve for
    any parameter vector."""

    def __init__(
        self, data: FitData, model: str, medium: str = "chloride", kernel=None
    ):
        if model not in MODELS:
            raise FitError(f"model: {model!r} -- one of {', '.join(MODELS)}")
        self.data = data
        self.model = model
        self.medium = medium
        self.kernel = kernel  # None: the active one (rexopt.kernels)
        self.pH_model = model in ("empirical_ph", "mass_action")
        # solve the site balance even where the current values make F irrelevant
        # (an extractant term being fitted from zero)
        self.force_F = False
        self._tests = [self._build(t) for t in data.tests]

    def _case(self, t: BatchTest, comps: list[str]) -> dict:
        m = self.model
        blk: dict = {
            "constant": {"distribution": {"extraction": {e: 1.0 for e in comps}}},
            "saturated": {"separation_factors": {e: 1.0 for e in comps}},
            "empirical_ph": {"params": {e: {"a": 0.0} for e in comps}},
            "mass_action": {"params": {e: {"log10_K": 0.0} for e in comps}},
        }[m]
        feed = {e: t.feed.get(e, 0.0) for e in comps}
        if sum(feed.values()) <= 0:  # strip test: placeholder, zeroed below
            feed = {comps[0]: 1.0}
        return {
            "kind": "cascade",
            "name": f"batch test {t.label}",
            "chemistry": {
                "model": m,
                "medium": self.medium,
                "components": comps,
                m: blk,
            },
            "sections": {"extraction": {"stages": 1}},
            "organic": {
                "flow_L_h": t.O_A,
                "extractant_mol_L": t.extractant_mol_L,
                "saponification": t.saponification,
                "agent": t.agent,
                "conc_mol_L": {e: v for e, v in t.org_in.items() if e in comps},
            },
            "feed": {
                "phase": "aqueous",
                "flow_L_h": 1.0,
                "acidity_mol_L": t.acid_mol_L,
                "conc_mol_L": feed,
            },
        }

    def _build(self, t: BatchTest):
        comps = [e for e in self.data.elements if t.total(e) > 0]
        where = f"{self.data.source}: test {t.label} (row {t.row})"
        if self.model == "saturated" and t.saponification <= 0:
            raise FitError(
                f"{where}: saponification: 0 -- the saturated model needs a "
                f"saponified organic (capacity s*C_HA/3); fit another model"
            )
        try:
            cas = Cascade(self._case(t, comps))
            net = cas.network()
        except Exception as e:  # a case the simulator itself rejects
            raise FitError(f"{where}: {e}") from None
        if sum(t.feed.get(e, 0.0) for e in comps) <= 0:
            z = net.z
            net.ext_aq[0, :] = 0.0
            net.anion_eq[0] = t.acid_mol_L
            net.acid_in[0] = t.acid_mol_L
            del z
        par = cas.stage_parameters(net)
        return {
            "cascade": cas,
            "net": net,
            "par": par,
            "eff": cas.efficiencies(),
            "idx": {e: cas.species.index(e) for e in comps},
            "x0": None,
        }

    def solve(self, values: dict[tuple[str, str], float]) -> list[Solved | None]:
        """Solve every test for parameter values {(element, kind): value}.

        A test whose solve fails (no steady state found) gives None.
        """
        out: list[Solved | None] = []
        for tb in self._tests:
            par = {
                k: (v.copy() if isinstance(v, np.ndarray) else v)
                for k, v in tb["par"].items()
            }
            for el, i in tb["idx"].items():
                for kind in KINDS[self.model]:
                    par[KERNEL_ARRAY[kind]][:, i] = values[(el, kind)]
            if self.model == "empirical_ph":
                par["use_ph"] = int(np.any(par["a"] != 0) or np.any(par["b"] != 0))
                par["use_F"] = int(
                    self.force_F or np.any(par["d"] != 0) or np.any(par["b"] != 0)
                )
            st, x, y, h, F, _ = solve_arrays(
                tb["net"], par, tb["eff"], tb["x0"], kernel=self.kernel
            )
            if st != kernels.OK and tb["x0"] is not None:
                st, x, y, h, F, _ = solve_arrays(
                    tb["net"], par, tb["eff"], None, kernel=self.kernel
                )
            if st != kernels.OK:
                out.append(None)
                continue
            tb["x0"] = x
            out.append(
                Solved(
                    x={e: float(x[0, i]) for e, i in tb["idx"].items()},
                    y={e: float(y[0, i]) for e, i in tb["idx"].items()},
                    pH=-math.log10(h[0]) if self.pH_model else None,
                    F=float(F[0]) if par["use_F"] else None,
                )
            )
        return out
