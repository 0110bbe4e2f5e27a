"""Which bundled defaults a study used, and how far each can be trusted.

Every default rexopt ships lives in a data file with a ``source`` and a ``status``
(docs/data-sources.md says what each key and status means).  A case that leaves a
parameter out falls back to such a default; this module finds which ones, so a result
can list them (``CascadeResult.defaults_used``) and warn about the unverified ones
(``CascadeResult.warnings``).

The rules here mirror the fallbacks of :meth:`rexopt.cascade.Cascade.stage_parameters`
and :func:`rexopt.chemistry.p507_relative_affinities`: a default is reported only
when the cascade actually reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from rexopt._pure.cascade import KW
from rexopt.chemistry import agents, element, read_data

#: statuses a data file may give (docs/data-sources.md)
STATUSES = ("verified", "derived", "unverified", "fitted", "case")

_BRACKET = re.compile(r"\[([^\]]*)\]")
_TOKEN = re.compile(r"\b[A-Z][A-Za-z0-9]*\b")
_SECTION = re.compile(r"\bDOMAIN (\d+(?:\.\d+)?)")


def source_keys(text: str) -> list[str]:
    """The reference keys a ``source`` text cites, in order of appearance.

    Keys are the capitalised tokens inside square brackets (``[S53]``, ``[S5, S74]``,
    ``[D from S29]`` -> ``S5``, ``S74``, ``D``, ``S29``; lower-case words inside a
    bracket are commentary) and data-sheet sections (``DOMAIN 1.6``).  Every key must
    be listed in docs/data-sources.md.

    Examples
    --------
    >>> source_keys("DOMAIN 1.6 default [U]; inside 1.29-2.5 [S65]")
    ['U', 'S65', 'DOMAIN 1.6']
    """
    keys = [t for g in _BRACKET.findall(text) for t in _TOKEN.findall(g)]
    keys += [f"DOMAIN {s}" for s in _SECTION.findall(text)]
    return keys


@dataclass(frozen=True)
class DefaultUsed:
    """One bundled default a study read because its case did not set it."""

    parameter: str  # e.g. "beta Dy/Tb"
    value: float | str
    unit: str
    status: str  # verified | derived | unverified
    source: str  # the data file's source text (keys resolve in docs/data-sources.md)
    where: str  # data file and table it came from
    override: str  # the case field that replaces it

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in _FIELDS}


_FIELDS = tuple(f.name for f in fields(DefaultUsed))


def _row(dataset: str, table: str, key: str, row: dict, parameter: str, unit: str,
         override: str) -> DefaultUsed:  # fmt: skip
    return DefaultUsed(
        parameter=parameter,
        value=row.get("value", ""),
        unit=unit,
        status=row.get("status", "unverified"),
        source=row.get("source", ""),
        where=f"rexopt/data/{dataset}.toml [{table}] {key}",
        override=override,
    )


def _rule(parameter: str, value: str, source: str, override: str) -> DefaultUsed:
    """A default that is a rule of the cascade code (Cascade.stage_parameters),
    not a data-file value: dimensionless and unverified."""
    return DefaultUsed(
        parameter=parameter,
        value=value,
        unit="-",
        status="unverified",
        source=source,
        where="rexopt/cascade.py (Cascade.stage_parameters)",
        override=override,
    )


def _p507_affinity_rows(species: list[str], override: str) -> list[DefaultUsed]:
    """The adjacent betas and impurity factors behind the relative affinities of
    ``species`` in the p507_hcl data set (absolute, i.e. relative to La)."""
    data = read_data("p507_hcl")
    order = data["meta"]["order"]
    pos = [order.index(s) for s in species if s in order]
    imps = [s for s in species if s not in order and s in data["impurity_factor"]]
    out = []
    hi = max(pos, default=0)
    for k in range(1, hi + 1):
        pair = f"{order[k]}/{order[k - 1]}"
        out.append(
            _row("p507_hcl", "beta", f'"{pair}"', data["beta"][pair], f"beta {pair}",
                 "-", override)
        )  # fmt: skip
    for s in imps:
        out.append(
            _row("p507_hcl", "impurity_factor", s, data["impurity_factor"][s],
                 f"affinity {s}/La", "-", override)
        )  # fmt: skip
    return out


def _relative_rows(components: list[str], override: str) -> list[DefaultUsed]:
    """Rows that set the affinities of ``components`` relative to each other (the
    saturated model uses only ratios, so betas below the least extractable
    component do not enter unless an impurity is referred to La)."""
    data = read_data("p507_hcl")
    order = data["meta"]["order"]
    pos = [order.index(s) for s in components if s in order]
    imps = [s for s in components if s not in order]
    rows = _p507_affinity_rows(components, override)
    if imps or not pos:
        return rows
    lo = min(pos)
    drop = {f"beta {order[k]}/{order[k - 1]}" for k in range(1, lo + 1)}
    return [r for r in rows if r.parameter not in drop]


def cascade_defaults(case, species: list[str] | None = None) -> list[DefaultUsed]:
    """Every bundled default a cascade case reads.

    Parameters
    ----------
    case : rexopt.case.CascadeCase
        A validated case.
    species : list of str, optional
        The kernel species (the components plus the saponification counter-ion where
        it is modelled); default: the components.

    Returns
    -------
    list of DefaultUsed
        Equilibrium parameters, element data and reagent stoichiometry, each with
        its status and source; only those the case leaves to the data files.
    """
    chem = case.chemistry
    comps = list(chem.components)
    species = list(species) if species is not None else comps
    agent = agents()[case.organic.agent]
    out: list[DefaultUsed] = []
    m = chem.model
    if m == "saturated":
        blk = chem.saturated
        ds = read_data("p507_hcl")["saturated"]
        if not (blk and blk.separation_factors):
            out += _relative_rows(comps, "chemistry.saturated.separation_factors")
        if not (blk and blk.K_ref_L_mol):
            out.append(
                _row("p507_hcl", "saturated", "K_ref_L_mol", ds["K_ref_L_mol"],
                     "K_ref (extraction and scrub)", "L/mol",
                     "chemistry.saturated.K_ref_L_mol")
            )  # fmt: skip
        if case.sections.strip is not None and not (blk and blk.K_ref_strip_L_mol):
            out.append(
                _row("p507_hcl", "saturated", "K_ref_strip_L_mol",
                     ds["K_ref_strip_L_mol"], "K_ref (strip)", "L/mol",
                     "chemistry.saturated.K_ref_strip_L_mol")
            )  # fmt: skip
    elif m == "mass_action":
        blk = chem.mass_action
        params = dict(blk.params) if blk else {}
        ds = read_data("p507_hcl")["mass_action"]
        ov = "chemistry.mass_action.params"
        from_beta = [
            s
            for s in species
            if s not in params and not (s == agent.ion and s not in comps)
        ]
        if from_beta:
            out.append(
                _row("p507_hcl", "mass_action", "log10_K_La", ds["log10_K_La"],
                     "log10 K_ex of La", "-", ov)
            )  # fmt: skip
            out += _p507_affinity_rows(from_beta, ov)
            tri = [s for s in from_beta if element(s).charge == 3]
            if tri:
                for k, unit in (("n", "-"), ("m", "-"), ("nu", "mol HA/mol")):
                    out.append(
                        _row("p507_hcl", "mass_action", k, ds[k], f"{k} (RE(III))",
                             unit, ov)
                    )  # fmt: skip
            other = [s for s in from_beta if element(s).charge != 3]
            if other:
                out.append(
                    _rule(
                        f"n = m = charge, nu = 2 x charge ({', '.join(other)})",
                        "charge rule",
                        "rexopt rule for ions other than RE(III) [U]",
                        ov,
                    )
                )
        if agent.ion in species and agent.ion not in comps and agent.ion not in params:
            ci = ds["counter_ion"]
            out.append(
                DefaultUsed(
                    parameter=f"counter-ion {agent.ion} (log10_K, n, m, nu)",
                    value=f"{ci['log10_K']}, {ci['n']}, {ci['m']}, {ci['nu']}",
                    unit="-",
                    status=ci["status"],
                    source=ci["source"],
                    where="rexopt/data/p507_hcl.toml [mass_action] counter_ion",
                    override=f"{ov}.{agent.ion}",
                )
            )
    elif m == "empirical_ph":
        blk = chem.empirical_ph
        params = dict(blk.params) if blk else {}
        dsname = blk.dataset if blk and blk.dataset else "d2ehpa_tbp_empirical"
        data = read_data(dsname)
        src = data.get("meta", {}).get("source", "")
        for s in species:
            if s in params:
                continue
            if s in data["params"]:
                p = data["params"][s]
                out.append(
                    DefaultUsed(
                        parameter=f"log10 D of {s} (a, c)",
                        value=f"{p['a']}, {p['c']}",
                        unit="-",
                        status=p.get("status", "unverified"),
                        source=p.get("source", src),
                        where=f"rexopt/data/{dsname}.toml [params] {s}",
                        override=f"chemistry.empirical_ph.params.{s}",
                    )
                )
            elif s == agent.ion:
                out.append(
                    _rule(
                        f"log10 D of counter-ion {s}",
                        "pH - 3",
                        "rexopt default for a released counter-ion [U]",
                        f"chemistry.empirical_ph.params.{s}",
                    )
                )
    # the HSO4- dissociation constant of sulfate media (schema default)
    if chem.medium == "sulfate" and m in ("empirical_ph", "mass_action"):
        blk = getattr(chem, m)
        given = blk is not None and "ka_HSO4_mol_L" in blk.model_fields_set
        if not given:
            out.append(
                DefaultUsed(
                    parameter="Ka of HSO4-",
                    value=0.0102,
                    unit="mol/L",
                    status="unverified",
                    source="schema default, the second dissociation constant of "
                    "H2SO4 at 25 C; not tied to a reference in the data files [U]",
                    where="rexopt/case.py (ka_HSO4_mol_L default)",
                    override=f"chemistry.{m}.ka_HSO4_mol_L",
                )
            )
    # the ion product of water in the pH models' charge balance (a kernel constant)
    if m in ("empirical_ph", "mass_action"):
        out.append(
            DefaultUsed(
                parameter="ion product of water Kw",
                value=KW,
                unit="mol^2/L^2",
                status="derived",
                source="[BL2006] pKw 13.995 at 25 C, 0.1 MPa, rounded to 14.00; "
                "used on the concentration scale (activity coefficients not "
                "modelled)",
                where="rexopt/_pure/cascade.py KW (kernel constant)",
                override="none (a kernel constant)",
            )
        )
    # element and agent data behind g/L feeds, oxide masses and the reagent table
    el = read_data("elements")["meta"]
    out.append(
        DefaultUsed(
            parameter="molar masses of " + ", ".join(species),
            value="table",
            unit="g/mol",
            status=el.get("status", "verified"),
            source=el.get("source", ""),
            where="rexopt/data/elements.toml [elements]",
            override="-",
        )
    )
    out.append(
        DefaultUsed(
            parameter=f"saponification stoichiometry of {agent.name}",
            value=f"{agent.agent_per_HA} agent, {agent.salt_per_HA} {agent.salt} "
            "per mol HA",
            unit="mol/mol",
            status="derived",
            source="[D] stoichiometry, DOMAIN 1.4",
            where=f'rexopt/data/elements.toml [agents] "{agent.name}"',
            override="-",
        )
    )
    return out


def unverified_warnings(used: list[DefaultUsed]) -> list[str]:
    """One warning per case field whose unverified defaults a study used."""
    groups: dict[str, list[DefaultUsed]] = {}
    for d in used:
        if d.status == "unverified":
            # cost keys are one table: one line for all of them
            key = (
                "optimize.costs"
                if d.override.startswith("optimize.costs.")
                else d.override
            )
            groups.setdefault(key, []).append(d)
    out = []
    for override, rows in groups.items():
        items = ", ".join(
            f"{d.parameter} = {_fmt(d.value)}" + (f" {d.unit}" if d.unit != "-" else "")
            for d in rows
        )
        files = sorted({d.where.split(" ")[0] for d in rows})
        out.append(
            f"unverified default{'s' if len(rows) > 1 else ''} used: {items} "
            f"(from {', '.join(files)}; sources in docs/data-sources.md) -- "
            f"set {override} in the case to use your own values"
        )
    return out


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# the cost keys a cascade's cost reads besides its agent, salt and oxides
# (rexopt.design.costing.cascade_cost)
_COST_KEYS_ALWAYS = (
    "HCl_USD_t",
    "water_USD_t",
    "residence_time_min",
    "settler_to_mixer_volume",
    "cost_ref_USD",
    "volume_ref_gal",
    "scale_exponent",
    "operating_hours_h_y",
    "capital_recovery_factor",
    "inventory_charge",
)
_AGENT_PRICE_KEY = {
    "NH3": "NH3_USD_t",
    "NaOH": "NaOH_USD_t",
    "Mg(HCO3)2": "MgHCO3_USD_t",
}


def cost_defaults(
    components: list[str], agent: str = "NH3", overrides=None
) -> list[DefaultUsed]:
    """The rows of rexopt/data/costs.toml a cascade cost reads and the case does
    not override (``[optimize.costs]``).

    Parameters
    ----------
    components : list of str
        Metals held in the stages (their oxide prices value the inventory).
    agent : str
        Saponification agent (its price and its salt's disposal cost).
    overrides : mapping, optional
        The case's ``[optimize.costs]`` keys.
    """
    data = read_data("costs")
    table = {
        k: (group, row)
        for group, block in data.items()
        if isinstance(block, dict)
        for k, row in block.items()
        if isinstance(row, dict)
    }
    keys = [_AGENT_PRICE_KEY.get(agent, "NH3_USD_t"), *_COST_KEYS_ALWAYS]
    keys.append(f"{agents()[agent].salt}_USD_t")
    for s in components:
        ox = element(s).oxide
        keys.append(
            f"{ox}_USD_kg" if f"{ox}_USD_kg" in table else "default_oxide_USD_kg"
        )
    given = set(overrides or {})
    out, seen = [], set()
    for k in keys:
        if k in given or k in seen or k not in table:
            continue
        seen.add(k)
        group, row = table[k]
        out.append(
            _row("costs", group, k, row, k, row.get("unit", "-"), f"optimize.costs.{k}")
        )
    return out


def case_warnings(case, costs: bool = False) -> list[str]:
    """The unverified-default warnings of a cascade case, without solving it.

    For reports that show a case (a design, an optimized cascade) beside or
    instead of its simulation.

    Parameters
    ----------
    case : path, dict or rexopt.case.CascadeCase
        A cascade case (an ``[optimize]`` table is ignored).
    costs : bool
        Also the unverified cost defaults (costs.toml rows the case's
        ``[optimize.costs]`` does not override).
    """
    from rexopt.cascade import Cascade
    from rexopt.case import CascadeCase, read_case_source

    overrides: dict = {}
    if not isinstance(case, CascadeCase):
        raw, _ = read_case_source(case)
        raw = dict(raw)
        opt = raw.pop("optimize", None) or {}
        overrides = dict(opt.get("costs", {}) or {})
        case = raw
    cas = Cascade(case)
    used = cascade_defaults(cas.case, cas.species)
    if costs:
        used += cost_defaults(list(cas.components), cas.case.organic.agent, overrides)
    return unverified_warnings(used)
