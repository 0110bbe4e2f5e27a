"""Cascade results: streams, recoveries, purities, profiles, reagents, balances.

Every reported number is computed once, from the solved profile arrays, when the
result is built (:meth:`CascadeResult.build`); :meth:`CascadeResult.summary` reads
those arrays directly, so a sweep or an optimizer that needs only the scalars never
builds a table.  The pandas tables (``streams``, ``recovery``, ``purity``,
``profiles``, ``reagents``, ``balance``) are built from the same arrays on first
access; their column names carry their units.  The JSON form (``to_dict``) is
documented in docs/results.md.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from rexopt.chemistry import HCL_G_MOL, element

SCHEMA = "rexopt.cascade_result/1"


#: a species or proton balance off by more than this (relative) is warned
BALANCE_WARN = 1e-9


class CascadeResult:
    """The solved steady state of one cascade.

    Attributes
    ----------
    name, model : str
        Case name and equilibrium model.
    components : list of str
        Metals of the case.
    species : list of str
        Kernel species (the components, plus the saponification counter-ion where
        it is modelled).
    convergence : dict
        Status, kernel, Newton iterations, continuation steps, start path, scaled
        residual, organic-loop passes, solve time [s], largest relative balance
        error.
    warnings : list of str
        Everything the solve approximated, clipped or took from an unverified
        default (see :attr:`defaults_used`).
    defaults_used : list of dict
        Every bundled default the case relied on, with value, unit, status and
        source (keys resolve in docs/data-sources.md).
    x, y : ndarray (N, C)
        Aqueous and organic stage concentrations [mol/L], kernel species order;
        ``x`` is reusable as a warm start.

    Tables (pandas, built on first access): :attr:`streams`, :attr:`outlets`,
    :attr:`recovery`, :attr:`purity`, :attr:`profiles`, :attr:`reagents`,
    :attr:`balance`.  Scalars without tables: :meth:`summary`.
    """

    def __init__(
        self,
        *,
        name: str,
        model: str,
        components: list[str],
        species: list[str],
        arrays: dict,
        convergence: dict,
        warnings: list[str],
        case,
        x: np.ndarray,
        y: np.ndarray,
        defaults_used: list | None = None,
    ):
        self.name = name
        self.model = model
        self.components = components
        self.species = species
        self._a = arrays
        self.convergence = convergence
        self.warnings = warnings
        self._case = case
        self.x = x
        self.y = y
        self._defaults = defaults_used or []

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, cascade, net, par, x, y, h, F, conv, warnings):
        """Every reported number of a solved cascade, from its arrays (no tables)."""
        from rexopt.provenance import cascade_defaults, unverified_warnings

        case = cascade.case
        sp = cascade.species
        comps = cascade.components
        N, C = x.shape
        all_streams = [(n, p, j, f, True) for n, p, j, f in net.outlets]
        all_streams += [(n, p, j, f, False) for n, p, j, f in net.internal]
        names = [n for n, *_ in all_streams]
        conc = np.array(
            [x[j] if p == "aqueous" else y[j] for _, p, j, _, _ in all_streams], float
        ).reshape(len(all_streams), C)
        flow = np.array([f for _, _, _, f, _ in all_streams], float)
        mol = conc * flow[:, None]  # [mol/h] (streams x species)
        ic = [sp.index(s) for s in comps]
        oxg = [element(s).oxide_g_per_mol_metal for s in comps]
        out_names = {o[0] for o in net.outlets}
        is_out = np.array([n in out_names for n in names], bool)
        metals = np.zeros(len(all_streams))
        oxide = np.zeros(len(all_streams))
        for k, i in enumerate(ic):  # summed in component order, as element by element
            metals = metals + conc[:, i]
            oxide = oxide + conc[:, i] * flow * oxg[k] / 1000.0
        metals_mol_h = metals * flow

        total_in = net.ext_aq.sum(0) + net.ext_org.sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = np.where(
                total_in[ic] > 0,
                mol[is_out][:, ic] / np.where(total_in[ic] > 0, total_in[ic], 1.0),
                np.nan,
            ).T  # (components x outlets)
            pur = np.where(
                metals_mol_h[:, None] > 0,
                mol[:, ic] / np.where(metals_mol_h > 0, metals_mol_h, 1.0)[:, None],
                np.nan,
            )  # (streams x components)

        # ---- balances: every species, and protons where acid is modelled
        out = mol[is_out].sum(axis=0) if is_out.any() else np.zeros(C)
        bal_in = [float(v) for v in total_in]
        bal_out = [float(v) for v in out]
        bal_err = [
            abs(o - i) / (i if i > 0 else 1.0)
            for i, o in zip(bal_in, bal_out, strict=True)
        ]
        bal_index = list(sp)
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
            for _name, phase, j, fl in net.outlets:
                if phase == "aqueous":
                    h_out += (par["Q"][j] - float(x[j] @ net.z)) * fl
                else:
                    h_out += (CHA - float(y[j] @ net.z)) * fl
            bal_index.append("H+ (protons)")
            bal_in.append(float(h_in))
            bal_out.append(float(h_out))
            bal_err.append(abs(h_out - h_in) / max(h_in, 1e-300))
        conv = dict(conv)
        finite = [e for e in bal_err if e == e]  # NaN-skipping, as pandas' max()
        conv["max_balance_error"] = float(max(finite)) if finite else float("nan")

        reag_names, reag_mol, reag_kg = _reagents(cascade, net)
        prof = {
            "section": net.section,
            "section_stage": net.local,
            "aq_flow_L_h": net.aq_out,
            "org_flow_L_h": net.org_out,
            "pH": -np.log10(h) if par["use_ph"] else None,
            "acidity_total_mol_L": par["Q"] - x @ net.z if par["use_ph"] else None,
            "free_extractant": F if par["use_F"] else None,
        }
        arrays = dict(
            names=names,
            phase=[p for _, p, _, _, _ in all_streams],
            stage=np.array([j + 1 for _, _, j, _, _ in all_streams], np.int64),
            section=[net.section[j] for _, _, j, _, _ in all_streams],
            flow=flow,
            is_out=is_out,
            conc=conc,
            mol=mol,
            metals_mol_h=metals_mol_h,
            oxide_kg_h=oxide,
            rec=rec,
            pur=pur,
            bal_index=bal_index,
            bal_in=bal_in,
            bal_out=bal_out,
            bal_err=bal_err,
            reag_names=reag_names,
            reag_mol=reag_mol,
            reag_kg=reag_kg,
            prof=prof,
        )

        used = cascade_defaults(case, sp)
        warnings = list(warnings)
        # balances close to round-off on a converged solve; one that does not is
        # said in words (the figures of that species are then not exact)
        for name, i_, e in zip(bal_index, bal_in, bal_err, strict=True):
            if e == e and e > BALANCE_WARN:
                warnings.append(
                    f"the {name} balance closes only to {e:.2g} (relative, in "
                    f"{i_:.3g} mol/h): the solve converged, but figures involving "
                    f"{name} are not exact to that level"
                )
        kernel_warned = any(
            "counter-ion uses the unverified default" in w for w in warnings
        )
        warnings += unverified_warnings(
            [
                d
                for d in used
                if not (
                    kernel_warned and d.parameter.startswith("log10 D of counter-ion")
                )
            ]
        )
        return cls(
            name=case.name,
            model=cascade.model,
            components=comps,
            species=sp,
            arrays=arrays,
            convergence=conv,
            warnings=warnings,
            case=case,
            x=x,
            y=y,
            defaults_used=used,
        )

    # ------------------------------------------------------------------ tables
    @cached_property
    def defaults_used(self) -> list[dict]:
        """Every bundled default the case relied on: parameter, value, unit, status,
        source, where (data file and table) and override (the case field)."""
        return [d if isinstance(d, dict) else d.to_dict() for d in self._defaults]

    @cached_property
    def case(self) -> dict:
        """The validated case as solved (JSON-ready dict)."""
        c = self._case
        return c if isinstance(c, dict) else c.model_dump(mode="json")

    @cached_property
    def streams(self) -> pd.DataFrame:
        """Every outlet and the internal loaded organic (``outlet`` = False): phase,
        stage (1-based), section, flow [L/h], concentrations [mol/L], molar flows
        [mol/h], metals [mol/h], oxide [kg/h]."""
        a = self._a
        cols = {
            "phase": a["phase"],
            "stage": a["stage"],
            "section": a["section"],
            "flow_L_h": a["flow"],
            "outlet": a["is_out"],
        }
        for i, s in enumerate(self.species):
            cols[f"{s}_mol_L"] = a["conc"][:, i]
            cols[f"{s}_mol_h"] = a["mol"][:, i]
        cols["metals_mol_h"] = a["metals_mol_h"]
        cols["oxide_kg_h"] = a["oxide_kg_h"]
        return pd.DataFrame(cols, index=pd.Index(a["names"], name="stream"))

    @property
    def outlets(self) -> pd.DataFrame:
        """Streams leaving the cascade (the internal loaded organic excluded)."""
        return self.streams[self.streams["outlet"]]

    @cached_property
    def recovery(self) -> pd.DataFrame:
        """Fraction of each component's total input leaving in each outlet [-]."""
        a = self._a
        outs = [n for n, o in zip(a["names"], a["is_out"], strict=True) if o]
        return pd.DataFrame(
            a["rec"], index=pd.Index(self.components, name="component"), columns=outs
        )

    @cached_property
    def purity(self) -> pd.DataFrame:
        """Mole fraction of each case component in each stream [-]."""
        a = self._a
        df = pd.DataFrame(
            a["pur"], index=pd.Index(a["names"], name="stream"), columns=self.components
        )
        df.columns.name = "component"
        return df

    @cached_property
    def profiles(self) -> pd.DataFrame:
        """Per stage: section, flows [L/h], aqueous ``x_<s>_mol_L`` and organic
        ``y_<s>_mol_L`` [mol/L], and pH / total acidity / free extractant where the
        model computes them."""
        p = self._a["prof"]
        N = self.x.shape[0]
        prof = {
            "section": p["section"],
            "section_stage": p["section_stage"],
            "aq_flow_L_h": p["aq_flow_L_h"],
            "org_flow_L_h": p["org_flow_L_h"],
        }
        for i, s in enumerate(self.species):
            prof[f"x_{s}_mol_L"] = self.x[:, i]
        for i, s in enumerate(self.species):
            prof[f"y_{s}_mol_L"] = self.y[:, i]
        if p["pH"] is not None:
            prof["pH"] = p["pH"]
            prof["acidity_total_mol_L"] = p["acidity_total_mol_L"]
        if p["free_extractant"] is not None:
            prof["free_extractant"] = p["free_extractant"]
        return pd.DataFrame(prof, index=pd.Index(np.arange(1, N + 1), name="stage"))

    @cached_property
    def reagents(self) -> pd.DataFrame:
        """Reagent use and salt to wastewater [mol/h] and [kg/h]."""
        a = self._a
        df = pd.DataFrame(
            {"mol_h": a["reag_mol"], "kg_h": a["reag_kg"]}, index=a["reag_names"]
        )
        df.index.name = "reagent"
        return df

    @cached_property
    def balance(self) -> pd.DataFrame:
        """Per species (and protons for pH models): ``in_mol_h``, ``out_mol_h``,
        ``relative_error``."""
        a = self._a
        # one 2-D float block: a third of the cost of a dict of columns (the
        # solve's balance check builds this table for every simulate)
        return pd.DataFrame(
            np.array([a["bal_in"], a["bal_out"], a["bal_err"]], dtype=float).T,
            index=pd.Index(a["bal_index"], name="species"),
            columns=["in_mol_h", "out_mol_h", "relative_error"],
        )

    def unbalanced(self, limit: float) -> list[tuple[str, float, float, float]]:
        """The balances that close worse than ``limit`` (relative), read from the
        arrays the :attr:`balance` table is built from (no table is built).

        Returns (species, in_mol_h, out_mol_h, relative_error) in the table's row
        order; a species with no input (NaN error) is never listed.
        """
        a = self._a
        return [
            (str(n), float(i), float(o), float(e))
            for n, i, o, e in zip(
                a["bal_index"], a["bal_in"], a["bal_out"], a["bal_err"], strict=True
            )
            if e > limit  # NaN compares False
        ]

    # ---------------------------------------------------------------- outputs
    def summary(self) -> dict[str, float]:
        """Flat dict of scalars, read from the result arrays (no table is built).

        Keys: ``flow_<outlet>_L_h``, ``recovery_<comp>_<outlet>``,
        ``purity_<stream>_<comp>``, ``reagent_<item>_kg_h``, ``max_balance_error``,
        ``newton_iterations``, ``solve_time_s``, ``steady_states_found`` (the
        steady states the branch search found: 1 normally, more when the
        reported one is one of several; NaN where it did not run),
        ``branch_search`` (1: other steady states were looked for, or proven
        not to exist; 0: not, the search switched off or an organic loop),
        ``organic_loop_passes`` (0 without an organic loop) and
        ``warnings_count`` (the length of :attr:`warnings`).
        """
        a = self._a
        out: dict[str, float] = {}
        names, is_out, flow = a["names"], a["is_out"], a["flow"]
        R, P = a["rec"], a["pur"]
        k = 0
        for n, o, f in zip(names, is_out, flow, strict=True):
            if not o:
                continue
            out[f"flow_{n}_L_h"] = float(f)
            for i, s in enumerate(self.components):
                out[f"recovery_{s}_{n}"] = float(R[i, k])
            k += 1
        for r, n in enumerate(names):
            for i, s in enumerate(self.components):
                out[f"purity_{n}_{s}"] = float(P[r, i])
        for item, v in zip(a["reag_names"], a["reag_kg"], strict=True):
            key = item.replace(" ", "_").replace("(", "").replace(")", "")
            out[f"reagent_{key}_kg_h"] = float(v)
        out["max_balance_error"] = float(self.convergence["max_balance_error"])
        out["newton_iterations"] = float(self.convergence["newton_iterations"])
        out["solve_time_s"] = float(self.convergence["solve_time_s"])
        br = self.convergence.get("branches")
        searched = isinstance(br, list)
        out["steady_states_found"] = float(len(br)) if searched else float("nan")
        out["branch_search"] = 1.0 if searched else 0.0
        out["organic_loop_passes"] = float(
            self.convergence.get("organic_loop_passes", 0)
        )
        out["warnings_count"] = float(len(self.warnings))
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
            "defaults_used": self.defaults_used,
            "case": self.case,
        }

    def to_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    def to_frame(self, table: str = "streams") -> pd.DataFrame:
        """One result table as a DataFrame (a copy, safe to modify).

        Parameters
        ----------
        table : {"streams", "outlets", "recovery", "purity", "profiles", "reagents",
                 "balance", "summary", "defaults_used"}
            ``summary`` gives the scalars of :meth:`summary` as one row;
            ``defaults_used`` the bundled defaults the case relied on.
        """
        if table == "summary":
            return pd.DataFrame([self.summary()], index=pd.Index([self.name]))
        if table == "defaults_used":
            return pd.DataFrame(self.defaults_used)
        allowed = ("streams", "outlets", "recovery", "purity", "profiles", "reagents",
                   "balance")  # fmt: skip
        if table not in allowed:
            raise ValueError(
                f"table {table!r}: expected one of {', '.join(allowed)}, summary, "
                f"defaults_used"
            )
        return getattr(self, table).copy()

    def plot(self, path: str | Path | None = None):
        """Stage profiles (log concentrations along the cascade, pH where modelled).

        Parameters
        ----------
        path : str or Path, optional
            Also save the figure there (format from the suffix, e.g. ``.png``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from rexopt.plot import profile_figure

        fig = profile_figure(self)
        if path is not None:
            fig.savefig(Path(path), dpi=130)
        return fig

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

    # ------------------------------------------------------------------ display
    def _headline(self) -> list[tuple[str, str]]:
        """(outlet, text) pairs: the main component of each outlet with its purity
        and recovery, read from the arrays."""
        a = self._a
        out = []
        k = 0
        for r, (n, o) in enumerate(zip(a["names"], a["is_out"], strict=True)):
            if not o:
                continue
            pur = a["pur"][r]
            if np.all(np.isnan(pur)) or a["metals_mol_h"][r] <= 0:
                out.append((n, f"{a['flow'][r]:.4g} L/h, no metals"))
            else:
                i = int(np.nanargmax(pur))
                s = self.components[i]
                out.append(
                    (
                        n,
                        f"{a['flow'][r]:.4g} L/h, {s} purity {pur[i]:.6f}, "
                        f"{s} recovery {a['rec'][i, k]:.6g}",
                    )
                )
            k += 1
        return out

    def __repr__(self) -> str:
        c = self.convergence
        n = self.x.shape[0]
        lines = [
            f"<CascadeResult {self.name!r}: {self.model} model, {n} stages, "
            f"{c.get('status', '?')} in {c.get('newton_iterations', '?')} Newton "
            f"iterations, max balance error {c.get('max_balance_error', float('nan')):.2g}"
        ]
        lines += [f"  {n}: {t}" for n, t in self._headline()]
        if self.warnings:
            lines.append(
                f"  {len(self.warnings)} warning(s): see .warnings "
                f"(first: {self.warnings[0][:100]})"
            )
        lines.append(
            "  tables: .streams .recovery .purity .profiles .reagents .balance; "
            ".summary() .plot() .to_dict()>"
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        c = self.convergence
        esc = html.escape
        rows = "".join(
            f"<tr><td>{esc(n)}</td><td>{esc(t)}</td></tr>" for n, t in self._headline()
        )
        warn = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        pur = self.purity.loc[self.outlets.index].to_html(
            float_format=lambda v: f"{v:.6f}"
        )
        rec = self.recovery.to_html(float_format=lambda v: f"{v:.6f}")
        return (
            f"<div><b>CascadeResult</b> {esc(self.name)} &mdash; {esc(self.model)} "
            f"model, {self.x.shape[0]} stages, {esc(str(c.get('status')))}, "
            f"{c.get('newton_iterations')} Newton iterations, max balance error "
            f"{c.get('max_balance_error', float('nan')):.2g}"
            f"<table><tr><th>outlet</th><th>flow, main component</th></tr>{rows}"
            f"</table><p>purity (mole fraction)</p>{pur}"
            f"<p>recovery (fraction of input)</p>{rec}"
            + (f"<p>warnings</p><ul>{warn}</ul>" if warn else "")
            + "</div>"
        )


def _reagents(cascade, net) -> tuple[list[str], list[float], list[float]]:
    """Reagent use and salt to wastewater: names, [mol/h], [kg/h].

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
    names = list(rows)
    return (
        names,
        [float(rows[n][0]) for n in names],
        [float(rows[n][1]) for n in names],
    )
