"""Cascade results: streams, recoveries, purities, profiles, reagents, balances.

Every table is a pandas DataFrame whose column names carry their units; the JSON
form (``to_dict``) is documented in docs/results.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rexopt.chemistry import HCL_G_MOL, element

SCHEMA = "rexopt.cascade_result/1"


@dataclass
class CascadeResult:
    """The solved steady state of one cascade."""

    name: str
    model: str
    components: list[str]  # metals of the case
    species: list[str]  # kernel species (components + counter-ion if modelled)
    streams: pd.DataFrame
    recovery: pd.DataFrame
    purity: pd.DataFrame
    profiles: pd.DataFrame
    reagents: pd.DataFrame
    balance: pd.DataFrame
    convergence: dict
    warnings: list[str]
    case: dict
    x: np.ndarray  # aqueous profile (N, C) [mol/L], reusable as a warm start
    y: np.ndarray  # organic profile (N, C) [mol/L]

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, cascade, net, par, x, y, h, F, conv, warnings):
        case = cascade.case
        sp = cascade.species
        comps = cascade.components
        N, C = x.shape
        all_streams = [(n, p, j, f, True) for n, p, j, f in net.outlets]
        all_streams += [(n, p, j, f, False) for n, p, j, f in net.internal]
        # one row per stream, built column by column (a DataFrame from row dicts
        # costs several ms per result)
        conc = np.array(
            [x[j] if p == "aqueous" else y[j] for _, p, j, _, _ in all_streams], float
        ).reshape(len(all_streams), C)
        flow = np.array([f for _, _, _, f, _ in all_streams], float)
        mol = conc * flow[:, None]  # [mol/h] (streams x species)
        ic = [sp.index(s) for s in comps]
        oxg = [element(s).oxide_g_per_mol_metal for s in comps]
        out_names = {o[0] for o in net.outlets}
        is_out = np.array([n in out_names for n, *_ in all_streams], bool)
        cols = {
            "phase": [p for _, p, _, _, _ in all_streams],
            "stage": np.array([j + 1 for _, _, j, _, _ in all_streams], np.int64),
            "section": [net.section[j] for _, _, j, _, _ in all_streams],
            "flow_L_h": flow,
            "outlet": is_out,
        }
        for i, s in enumerate(sp):
            cols[f"{s}_mol_L"] = conc[:, i]
            cols[f"{s}_mol_h"] = mol[:, i]
        metals = np.zeros(len(all_streams))
        oxide = np.zeros(len(all_streams))
        for k, i in enumerate(ic):  # summed in component order, as element by element
            metals = metals + conc[:, i]
            oxide = oxide + conc[:, i] * flow * oxg[k] / 1000.0
        cols["metals_mol_h"] = metals * flow
        cols["oxide_kg_h"] = oxide
        streams = pd.DataFrame(
            cols, index=pd.Index([n for n, *_ in all_streams], name="stream")
        )
        outlets = streams[is_out]

        total_in = net.ext_aq.sum(0) + net.ext_org.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = np.where(
                total_in[ic] > 0,
                mol[is_out][:, ic] / np.where(total_in[ic] > 0, total_in[ic], 1.0),
                np.nan,
            )
        recovery = pd.DataFrame(
            rec.T, index=pd.Index(comps, name="component"), columns=list(outlets.index)
        )
        tot = cols["metals_mol_h"]
        with np.errstate(divide="ignore", invalid="ignore"):
            pur = np.where(
                tot[:, None] > 0,
                mol[:, ic] / np.where(tot > 0, tot, 1.0)[:, None],
                np.nan,
            )
        purity = pd.DataFrame(
            pur, index=pd.Index(list(streams.index), name="stream"), columns=comps
        )
        purity.columns.name = "component"

        prof = {
            "stage": np.arange(1, N + 1),
            "section": net.section,
            "section_stage": net.local,
            "aq_flow_L_h": net.aq_out,
            "org_flow_L_h": net.org_out,
        }
        for i, s in enumerate(sp):
            prof[f"x_{s}_mol_L"] = x[:, i]
        for i, s in enumerate(sp):
            prof[f"y_{s}_mol_L"] = y[:, i]
        if par["use_ph"]:
            prof["pH"] = -np.log10(h)
            prof["acidity_total_mol_L"] = par["Q"] - x @ net.z
        if par["use_F"]:
            prof["free_extractant"] = F
        stage = pd.Index(prof.pop("stage"), name="stage")
        profiles = pd.DataFrame(prof, index=stage)

        # ---- balances: every species, and protons where acid is modelled
        out = mol[is_out].sum(axis=0) if is_out.any() else np.zeros(C)
        bal = pd.DataFrame(
            {
                "in_mol_h": total_in,
                "out_mol_h": out,
            },
            index=pd.Index(sp, name="species"),
        )
        bal["relative_error"] = (bal["out_mol_h"] - bal["in_mol_h"]).abs() / bal[
            "in_mol_h"
        ].where(bal["in_mol_h"] > 0, 1.0)
        if par["use_ph"]:
            CHA = case.organic.extractant_mol_L
            # H+ in: free acid of aqueous inputs + acidic sites of entering organic
            org_sites_in = 0.0
            for j in range(N):
                vol_in = net.org_in[j] - (net.org_pass[j - 1] if j > 0 else 0.0)
                if vol_in > 0:
                    org_sites_in += CHA * vol_in - float(net.ext_org[j] @ net.z)
            h_in = net.acid_in.sum() + org_sites_in
            h_out = 0.0
            for _name, phase, j, flow in net.outlets:
                if phase == "aqueous":
                    h_out += (par["Q"][j] - float(x[j] @ net.z)) * flow
                else:
                    h_out += (CHA - float(y[j] @ net.z)) * flow
            bal.loc["H+ (protons)"] = [
                h_in,
                h_out,
                abs(h_out - h_in) / max(h_in, 1e-300),
            ]
        conv = dict(conv)
        conv["max_balance_error"] = float(bal["relative_error"].max())

        reagents = _reagents(cascade, net, streams)
        return cls(
            name=case.name,
            model=cascade.model,
            components=comps,
            species=sp,
            streams=streams,
            recovery=recovery,
            purity=purity,
            profiles=profiles,
            reagents=reagents,
            balance=bal,
            convergence=conv,
            warnings=warnings,
            case=case.model_dump(mode="json"),
            x=x,
            y=y,
        )

    # ---------------------------------------------------------------- outputs
    @property
    def outlets(self) -> pd.DataFrame:
        """Streams leaving the cascade (the internal loaded organic excluded)."""
        return self.streams[self.streams["outlet"]]

    def summary(self) -> dict[str, float]:
        """Flat dict of scalars (for sweeps and optimizers)."""
        out: dict[str, float] = {}
        # read the tables once as arrays: per-element .loc lookups cost most of
        # the time of a sweep scenario
        outlets = self.outlets
        rec = self.recovery
        R = rec.to_numpy(dtype=float)
        ri = {s: i for i, s in enumerate(rec.index)}
        rk = {n: k for k, n in enumerate(rec.columns)}
        for name, flow in zip(
            outlets.index, outlets["flow_L_h"].to_numpy(), strict=True
        ):
            out[f"flow_{name}_L_h"] = float(flow)
            for s in self.components:
                out[f"recovery_{s}_{name}"] = float(R[ri[s], rk[name]])
        pur = self.purity
        P = pur.to_numpy(dtype=float)
        pi = {n: i for i, n in enumerate(pur.index)}
        pk = {s: k for k, s in enumerate(pur.columns)}
        for name in self.streams.index:
            for s in self.components:
                out[f"purity_{name}_{s}"] = float(P[pi[name], pk[s]])
        kg = self.reagents["kg_h"].to_numpy(dtype=float)
        for item, v in zip(self.reagents.index, kg, strict=True):
            key = item.replace(" ", "_").replace("(", "").replace(")", "")
            out[f"reagent_{key}_kg_h"] = float(v)
        out["max_balance_error"] = float(self.convergence["max_balance_error"])
        out["newton_iterations"] = float(self.convergence["newton_iterations"])
        out["solve_time_s"] = float(self.convergence["solve_time_s"])
        return out

    def to_dict(self) -> dict:
        """Every number of the result, JSON-ready (see docs/results.md)."""

        def table(df):
            d = df.reset_index()
            return {
                "columns": list(d.columns),
                "data": json.loads(d.to_json(orient="values", double_precision=15)),
            }

        return {
            "schema": SCHEMA,
            "name": self.name,
            "model": self.model,
            "components": self.components,
            "species": self.species,
            "units": {
                "flow": "L/h",
                "concentration": "mol/L",
                "molar_flow": "mol/h",
                "mass_flow": "kg/h",
                "recovery": "fraction of input",
                "purity": "mole fraction of the case's components",
            },
            "streams": table(self.streams),
            "recovery": table(self.recovery),
            "purity": table(self.purity),
            "profiles": table(self.profiles),
            "reagents": table(self.reagents),
            "balance": table(self.balance),
            "convergence": self.convergence,
            "warnings": self.warnings,
            "case": self.case,
        }

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    def plot(self, path: str | Path) -> None:
        from rexopt.plot import plot_profiles

        plot_profiles(self, path)

    def report(self) -> str:
        """A plain-text summary (the CLI prints a rich version of the same)."""
        lines = [f"{self.name}  [{self.model} model, {self.convergence['kernel']}]"]
        cols = ["phase", "stage", "flow_L_h", "metals_mol_h"]
        lines.append(self.streams[cols].to_string(float_format=lambda v: f"{v:.6g}"))
        lines.append("purity (mole fraction)")
        lines.append(self.purity.to_string(float_format=lambda v: f"{v:.6f}"))
        lines.append("recovery to each outlet")
        lines.append(self.recovery.to_string(float_format=lambda v: f"{v:.6f}"))
        lines.append(self.reagents.to_string(float_format=lambda v: f"{v:.6g}"))
        return "\n".join(lines)


def _reagents(cascade, net, streams) -> pd.DataFrame:
    """Reagent use and salt to wastewater, mol/h and kg/h.

    Saponification neutralises s*C_HA mol HA per litre of organic entering the
    cascade; every mole of counter-ion ends in the aqueous outlets as chloride
    (NH4Cl/NaCl/MgCl2); HCl is the free acid of all aqueous inputs.
    """
    case = cascade.case
    ag = cascade.agent
    org = case.organic
    ha = org.saponification * org.extractant_mol_L * org.flow_L_h  # mol HA/h
    rows = {}
    rows[f"saponification agent ({ag.name})"] = (
        ha * ag.agent_per_HA,
        ha * ag.agent_per_HA * ag.agent_molar_mass_g_mol / 1e3,
    )
    hcl = float(net.acid_in.sum())
    rows["HCl (free acid of aqueous inputs)"] = (hcl, hcl * HCL_G_MOL / 1e3)
    if ag.co2_per_HA:
        rows["CO2 released"] = (ha * ag.co2_per_HA, ha * ag.co2_per_HA * 44.009 / 1e3)
    rows[f"salt to wastewater ({ag.salt})"] = (
        ha * ag.salt_per_HA,
        ha * ag.salt_per_HA * ag.salt_molar_mass_g_mol / 1e3,
    )
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["mol_h", "kg_h"])
    df.index.name = "reagent"
    return df
