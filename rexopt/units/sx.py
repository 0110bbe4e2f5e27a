"""Solvent-extraction cuts: candidate cascade designs and the SX unit model.

Each cut (``group``: PrNd | DyTb, ``prnd``: Pr | Nd, ``dytb``: Tb | Dy) splits
a light group (raffinate) from a heavy group (loaded organic -> strip liquor).
Candidates are designed with Xu's closed form (DOMAIN 2.1-2.4: purification
factors a, b; scrub amount W = 1/(beta^k - 1); S = W + f'_A; stage numbers
n = log b / log(beta E_M), m = log a / log(beta / E'_M)) and then *evaluated with
the project's cascade kernel* ``rexopt.simulate`` (model "saturated"): the
recoveries in the candidate table are the kernel's, not the closed form's.

There is no fallback: if the kernel cannot be imported, :func:`candidate_table`
raises.  A table can also be read from a CSV the user supplies
(:func:`read_table`), e.g. one written by an earlier run.

In the plant's re-simulation a bank's organic and strip per mol RE fed are re-set
for the heavy fraction of the feed it gets (:func:`feed_forward`), as operators
set them; the MILP uses the table's.

Reagents per mol RE fed follow from the design flows: base = saponified sites
s C_HA O / F_RE (= 3 S), HCl = scrub + strip acid; the salt made is one
equivalent per equivalent of base (DOMAIN 2.4, 5.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from rexopt.units import agents
from rexopt.units import species as sp
from rexopt.units.base import Unit, UnitResult, add
from rexopt.units.data import DataSet
from rexopt.units.leaching import WATER_KMOL_M3

REs = list(sp.RARE_EARTHS)
STRIP_STAGES = 6
FEED_FLOW_L_H = 100.0
# a rare earth absent from a bank's feed is run by the kernel as a tracer at this
# fraction of the feed's RE (every case carries all four, so each has a split);
# no plant flow depends on the split of an element the bank is not fed
TRACER_FRACTION = 1e-12


def tracers(feed_frac: dict[str, float]) -> list[str]:
    """The rare earths :func:`case_dict` runs as tracers: absent from the feed."""
    return [c for c in REs if not feed_frac.get(c, 0.0) > 0.0]


class KernelUnavailable(RuntimeError):
    """rexopt.simulate (the cascade kernel) cannot be imported or run."""


def kernel() -> Callable:
    """The project's cascade kernel, ``rexopt.simulate``; raises if absent."""
    try:
        from rexopt.cascade import simulate  # noqa: F401  (the real kernel module)
    except Exception as exc:  # pragma: no cover - depends on the tree state
        raise KernelUnavailable(
            "the cascade kernel rexopt.simulate is not importable "
            f"({type(exc).__name__}: {exc}); SX candidates cannot be evaluated. "
            "Give a candidate table with [sx] candidates_csv in the case instead."
        ) from exc
    import rexopt

    return rexopt.simulate


def cut_groups(d: DataSet, cut: str) -> tuple[list[str], list[str]]:
    return d(f"cuts.{cut}.light"), d(f"cuts.{cut}.heavy")


def key_beta(d: DataSet, cut: str) -> float:
    light, heavy = cut_groups(d, cut)
    K = d.table("separation_factors")
    return min(K[h] for h in heavy) / max(K[l_] for l_ in light)


def xu_design(beta: float, f_A: float, purity: float, k: float, margin: float) -> dict:
    """Xu constant-E_M design, aqueous feed (DOMAIN 2.1-2.4)."""
    f_B = 1.0 - f_A
    a = (purity / (1 - purity)) / (f_A / f_B)
    b = (purity / (1 - purity)) / (f_B / f_A)
    Y_A = a * (b - 1) / (a * b - 1)
    fA_out = f_A * Y_A / purity
    W = 1.0 / (beta**k - 1.0)
    S = W + fA_out
    E_M = S / (W + 1.0)
    E_Mp = S / W
    if beta * E_M <= 1.0 or E_Mp >= beta:
        return {}
    n = math.log(b) / math.log(beta * E_M)
    m = math.log(a) / math.log(beta / E_Mp)
    return {
        "S": S,
        "W": W,
        "fA_out": fA_out,
        "n_extraction": max(1, math.ceil(n * margin)),
        "n_scrub": max(1, math.ceil(m * margin)),
    }


def case_dict(
    d: DataSet,
    cut: str,
    feed_frac: dict[str, float],
    design: dict,
    scale: float = 1.0,
    feed_RE_mol_L: float | None = None,
) -> dict:
    """A kernel case (docs/cases.md schema) for one candidate design.

    ``scale`` multiplies every flow (the kernel sees the same concentrations).
    ``feed_RE_mol_L`` is the RE concentration of the aqueous feed (default: the
    design basis ``chemistry.feed_RE_mol_L``); the organic, scrub and strip flows
    follow the metal fed (per mol RE), so a more dilute feed lowers the O/A of
    the extraction section.  Every feed fraction is used as given; a rare earth
    absent from it is run as a tracer (:func:`tracers`, TRACER_FRACTION).
    """
    ch = d.table("chemistry")
    F = FEED_FLOW_L_H * scale
    c_re = ch["feed_RE_mol_L"] if feed_RE_mol_L is None else feed_RE_mol_L
    if not c_re > 0:
        raise ValueError(f"SX feed RE concentration must be > 0 mol/L, got {c_re}")
    F_RE = F * c_re  # mol/h
    ymax = ch["saponification"] * ch["extractant_mol_L"] / 3.0
    O = design["S"] * F_RE / ymax
    scrub_acid = 3.0 * design["W"] * F_RE
    strip_acid = 3.0 * design["fA_out"] * F_RE * ch["strip_acid_excess"]
    # every fraction as given (the kernel keeps traces to relative accuracy);
    # an absent element as a tracer (:func:`tracers`, stated where reported)
    traced = tracers(feed_frac)
    conc = {
        c: (TRACER_FRACTION if c in traced else feed_frac[c]) * c_re for c in REs
    }
    return {
        "kind": "cascade",
        "name": f"ndfeb {cut} cut candidate",
        "chemistry": {
            "model": "saturated",
            "medium": "chloride",
            "components": REs,
            "saturated": {
                "separation_factors": d.table("separation_factors"),
                "K_ref_L_mol": ch["K_ref_L_mol"],
            },
        },
        "sections": {
            "extraction": {"stages": design["n_extraction"]},
            # stage efficiency is in the installed-stage margin (design.stage_margin)
            "scrub": {"stages": design["n_scrub"]},
            "strip": {"stages": STRIP_STAGES},
        },
        "organic": {
            "flow_L_h": O,
            "extractant_mol_L": ch["extractant_mol_L"],
            "saponification": ch["saponification"],
            "agent": "NaOH",
            "recycle": False,
        },
        "feed": {
            "phase": "aqueous",
            "flow_L_h": F,
            "acidity_mol_L": 0.05,
            "conc_mol_L": conc,
        },
        "scrub": {
            "flow_L_h": scrub_acid / ch["scrub_acid_mol_L"],
            "acidity_mol_L": ch["scrub_acid_mol_L"],
        },
        "strip": {
            "flow_L_h": strip_acid / ch["strip_acid_mol_L"],
            "acidity_mol_L": ch["strip_acid_mol_L"],
        },
    }


# a raffinate fraction may leave [0, 1] by the kernel's round-off only (its outlet
# balances close to ~1e-12 of the throughput); beyond this it is an error
RECOVERY_ROUNDOFF = 1e-9


def recoveries_from_result(result, case: dict) -> dict[str, float]:
    """Fraction of each RE fed that leaves in the raffinate (kernel result),
    round-off outside [0, 1] (at most RECOVERY_ROUNDOFF) set to the bound."""
    out = result.outlets
    F = case["feed"]["flow_L_h"]
    rec = {}
    for c in REs:
        fed = case["feed"]["conc_mol_L"][c] * F
        raff = float(out.loc["raffinate", f"{c}_mol_h"])
        r = raff / fed
        if not -RECOVERY_ROUNDOFF <= r <= 1.0 + RECOVERY_ROUNDOFF:
            raise ValueError(
                f"{case.get('name', 'SX case')}: the kernel's raffinate carries "
                f"{r:.12g} of the {c} fed (a fraction must lie in [0, 1]; the "
                f"outlet balance is broken)"
            )
        rec[c] = min(1.0, max(0.0, r))
    return rec


def row_from_case(
    d: DataSet,
    case: dict,
    name: str,
    raff: dict[str, float],
    verified_by: str,
    design: dict | None = None,
) -> dict:
    """Candidate-table row: recoveries, reagents and volume per kmol/h RE fed
    (and, from ``design``, its basis: purity target, k, heavy fraction)."""
    ch = d.table("chemistry")
    sz = d.table("sizing")
    F = case["feed"]["flow_L_h"]
    F_RE = F * ch["feed_RE_mol_L"]
    O = case["organic"]["flow_L_h"]
    sc = case["scrub"]["flow_L_h"]
    st = case["strip"]["flow_L_h"]
    ne = case["sections"]["extraction"]["stages"]
    ns = case["sections"]["scrub"]["stages"]
    nt = case["sections"]["strip"]["stages"]
    vol_L = (
        ((O + F + sc) * ne + (O + sc) * ns + (O + st) * nt)
        * (sz["mixer_residence_min"] / 60.0)
        * (1 + sz["settler_to_mixer"])
    )
    row = {
        "name": name,
        "n_extraction": ne,
        "n_scrub": ns,
        "n_strip": nt,
        "base_eq_per_mol": ch["saponification"] * ch["extractant_mol_L"] * O / F_RE,
        "hcl_mol_per_mol": (
            sc * case["scrub"]["acidity_mol_L"] + st * case["strip"]["acidity_mol_L"]
        )
        / F_RE,
        "scrub_L_per_mol": sc / F_RE,
        "strip_L_per_mol": st / F_RE,
        "volume_m3_per_kmol_h": vol_L / 1000.0 / (F_RE / 1000.0),
        "verified_by": verified_by,
    }
    for c in REs:
        row[f"raff_{c}"] = raff[c]
    if design is not None:
        row["design_purity"] = design["purity"]
        row["design_k"] = design["k"]
        row["design_f_heavy"] = design["f_heavy"]
    return row


def extract_side(d: DataSet, cut: str) -> list[str]:
    """The rare earths a cut sends to its strip liquor: the heavy group and
    everything more extractable than it (Dy and Tb in the Pr/Nd cut); the rest
    leaves with the raffinate.  Xu's f_A is their fraction of the feed."""
    _, heavy = cut_groups(d, cut)
    K = d.table("separation_factors")
    k_min = min(K[h] for h in heavy)
    return [c for c in REs if K[c] >= k_min]


def extract_fraction(d: DataSet, cut: str, feed_frac: dict[str, float]) -> float:
    """Xu's f_A: the fraction of the feed's RE that the cut sends to its strip."""
    tot = sum(feed_frac.values())
    return sum(feed_frac.get(c, 0.0) for c in extract_side(d, cut)) / tot


def designs(
    d: DataSet, cut: str, feed_frac: dict[str, float]
) -> list[tuple[str, dict]]:
    f_A = extract_fraction(d, cut, feed_frac)
    beta = key_beta(d, cut)
    out = []
    for p in d(f"cuts.{cut}.purity_targets"):
        for k in d("design.reflux_k"):
            des = xu_design(beta, f_A, p, k, d("design.stage_margin"))
            if des:
                # the design's basis: what re-derives its flows for another feed
                des.update(purity=p, k=k, f_heavy=f_A)
                out.append((f"{cut}_p{p}_k{k}", des))
    return out


# columns of a candidate row that state its Xu design basis (optional in a table
# read from CSV: without them the flows stay as the row gives them)
DESIGN_BASIS = ("design_purity", "design_k", "design_f_heavy")


def row_design(d: DataSet, row: dict) -> dict:
    """The design flows per mol RE fed of a candidate row (S, W, f'_A; the
    inverse of :func:`case_dict`'s flows) and its stage numbers."""
    ch = d.table("chemistry")
    return {
        "S": row["base_eq_per_mol"] / 3.0,
        "W": row["scrub_L_per_mol"] * ch["scrub_acid_mol_L"] / 3.0,
        "fA_out": row["strip_L_per_mol"]
        * ch["strip_acid_mol_L"]
        / (3.0 * ch["strip_acid_excess"]),
        "n_extraction": int(row["n_extraction"]),
        "n_scrub": int(row["n_scrub"]),
    }


def feed_forward(
    d: DataSet, cut: str, row: dict, feed_frac: dict[str, float]
) -> tuple[dict, dict | None]:
    """The candidate's flows per mol RE fed, set for the feed it is given.

    Xu's design fixes the heavy product per mol fed (S - W = f'_A, sized for the
    purity target at the design feed's fraction f_A of what goes to the strip,
    :func:`extract_fraction`); a feed richer or poorer in it shifts the cut, by
    a factor 13 in the minority fraction of the Dy/Tb cut for 0.15 % more Dy in
    the feed (0.8314 against 0.8302 of its RE).  A bank is run
    as operators run it: with the organic and strip per mol fed re-set for the
    feed's own heavy fraction (Xu's S and f'_A at the row's purity target and
    k; W = 1 / (beta^k - 1) does not depend on the feed) and the stages as
    built.  Returns (design, basis): basis None where the feed's heavy fraction
    is the design's (the row's flows), else a dict with the two heavy fractions
    and the flow ratios (new / row), or with ``why`` where the flows stay the
    row's: the row has no design basis (a table from CSV without the
    DESIGN_BASIS columns) or Xu's design has no solution at the feed."""
    des = row_design(d, row)
    basis = [row.get(c) for c in DESIGN_BASIS]
    if any(b is None or not math.isfinite(float(b)) for b in basis):
        return des, {
            "why": "the candidate table gives no design basis ("
            + ", ".join(DESIGN_BASIS)
            + "): flows per mol fed as the table gives them"
        }
    p, k, f_design = (float(b) for b in basis)
    f = extract_fraction(d, cut, feed_frac)
    if f == f_design:
        return des, None
    new = xu_design(key_beta(d, cut), f, p, k, d("design.stage_margin"))
    out = {
        "heavy": extract_side(d, cut),
        "f_heavy_feed": f,
        "f_heavy_design": f_design,
    }
    if not new:
        out["why"] = (
            f"Xu's design has no solution at the feed's heavy fraction {f:.6g} "
            f"(purity {p:g}, k {k:g}): flows as designed at {f_design:.6g}"
        )
        return des, out
    new["n_extraction"], new["n_scrub"] = des["n_extraction"], des["n_scrub"]
    out["organic_ratio"] = new["S"] / des["S"]
    out["strip_ratio"] = new["fA_out"] / des["fA_out"]
    out["scrub_ratio"] = new["W"] / des["W"]
    return new, out


def candidate_table(
    d: DataSet,
    cut: str,
    feed_frac: dict[str, float],
    runner: Callable | None = None,
    rejected: list | None = None,
) -> pd.DataFrame:
    """Design candidates for a cut and evaluate each with the cascade kernel.

    A candidate is kept only if the kernel solves it and it separates in the
    intended direction (light key mostly to the raffinate, heavy key mostly to
    the strip liquor); the others are appended to ``rejected`` with the reason.
    The table may come back empty.
    """
    run = runner or kernel()
    light, heavy = cut_groups(d, cut)
    lk = max(light, key=lambda c: d.table("separation_factors")[c])
    hk = min(heavy, key=lambda c: d.table("separation_factors")[c])
    rows = []
    for name, des in designs(d, cut, feed_frac):
        case = case_dict(d, cut, feed_frac, des)
        try:
            res = run(case)
        except Exception as exc:  # the kernel's own error says why
            if rejected is not None:
                rejected.append(
                    {"cut": cut, "name": name, "reason": f"{type(exc).__name__}: {exc}"}
                )
            continue
        raff = recoveries_from_result(res, case)
        if raff[lk] < 0.5 or raff[hk] > 0.5:
            if rejected is not None:
                rejected.append(
                    {
                        "cut": cut,
                        "name": name,
                        "reason": (
                            "kernel result does not separate: raffinate gets "
                            f"{raff[lk]:.3g} "
                            f"of {lk} and {raff[hk]:.3g} of {hk}"
                        ),
                    }
                )
            continue
        rows.append(row_from_case(d, case, name, raff, "rexopt.simulate", des))
    cols = [
        "name",
        "n_extraction",
        "n_scrub",
        "n_strip",
        "base_eq_per_mol",
        "hcl_mol_per_mol",
        "scrub_L_per_mol",
        "strip_L_per_mol",
        "volume_m3_per_kmol_h",
        "verified_by",
    ] + [f"raff_{c}" for c in REs] + list(DESIGN_BASIS)
    return pd.DataFrame(rows, columns=cols)


def read_table(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    need = {
        "name",
        "cut",
        # the extraction stages size the bank for the plant's aqueous feed
        "n_extraction",
        "base_eq_per_mol",
        "hcl_mol_per_mol",
        "scrub_L_per_mol",
        "strip_L_per_mol",
        "volume_m3_per_kmol_h",
    } | {f"raff_{c}" for c in REs}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"{path}: candidate table lacks columns {sorted(missing)}")
    return df


def points(table: pd.DataFrame, ag: DataSet, d: DataSet, optional: bool) -> list[dict]:
    """Operating points: agent x candidate design (+ 'off' for an optional cut)."""
    sz = d.table("sizing")
    pts = []
    for a in agents.AGENTS:
        for row in table.to_dict("records"):
            pts.append(
                {
                    "agent": a,
                    "cut_on": True,
                    "design": row["name"],
                    "_row": row,
                    "_ag": ag.table(a),
                    "_kw_m3": sz["mixing_kW_m3"],
                }
            )
        if optional or table.empty:
            pts.append(
                {"agent": a, "cut_on": False, "design": "off", "_ag": ag.table(a)}
            )
    return pts


def aqueous_flow_m3_h(stream: dict[str, float]) -> float:
    """Volumetric flow of a stream's liquid [m3/h]: its liquid and dissolved
    mass at 1000 kg/m3 (the stream table's rule, rexopt.units.report.volumes_m3_h);
    linear in the species flows, so the MILP carries it exactly."""
    liq = {k: v for k, v in stream.items() if sp.phase(k) in ("l", "aq")}
    return sp.mass_flow_kg_h(liq) / 1000.0


def feed_RE_mol_L(stream: dict[str, float]) -> float:
    """RE concentration of an aqueous SX feed [mol/L] (RE(III) chlorides per
    liquid volume of :func:`aqueous_flow_m3_h`)."""
    re = sum(stream.get(sp.chloride(c, 3), 0.0) for c in REs)  # kmol/h
    q = aqueous_flow_m3_h(stream)
    if q <= 0:
        raise ValueError("SX feed carries RE but no liquid: no concentration")
    return re / q


def extraction_volume_m3(dF_m3_h: float, n_extraction: int, sizing) -> float:
    """Mixer-settler volume [m3] that dF_m3_h more aqueous feed adds to the
    extraction section (the rule of :func:`row_from_case`: each stage holds its
    flow for the mixer residence, its settler settler_to_mixer times that)."""
    return (
        dF_m3_h
        * n_extraction
        * (sizing["mixer_residence_min"] / 60.0)
        * (1 + sizing["settler_to_mixer"])
    )


class SXCut(Unit):
    """One SX cut at a candidate design (table recoveries, or kernel re-run)."""

    inlets = ("feed",)
    outlets = ("raffinate", "strip_liquor", "offgas")
    equipment = ("mixer_settlers",)
    #: the bank's volume (and mixing power) is linear in its aqueous feed flow
    #: with a coefficient set by the design's extraction stages: written with
    #: big-M rows in the MILP instead of disaggregating every aqueous species
    bigm_keys = (("size", "mixer_settlers"), ("util", "electricity_kW"))

    def __init__(
        self, name, points, cut: str, d: DataSet, runner: Callable | None = None
    ):
        super().__init__(name, points)
        self.cut = cut
        self.d = d
        self.runner = runner  # set for the final re-simulation
        self.verification: dict = {}

    def _raff(self, feed: dict, point: dict) -> tuple[dict[str, float], dict]:
        """Fraction of each RE fed that leaves in the raffinate, and the
        candidate row the bank runs at (flows, reagents, volume per mol fed).

        Without a runner: the table's row and split.  With one (the plant's
        re-simulation): the kernel's split of the bank at the plant's feed
        (composition and concentration), with the flows per mol fed re-set for
        the feed's heavy fraction (:func:`feed_forward`); the row is then the
        candidate's at those flows, with the kernel's split."""
        row = point["_row"]
        table = {c: row[f"raff_{c}"] for c in REs}
        if self.runner is None:
            return table, row
        re_in = {c: feed.get(sp.chloride(c, 3), 0.0) for c in REs}
        tot = sum(re_in.values())
        if tot <= 0:
            return table, row
        frac = {c: v / tot for c, v in re_in.items()}
        des, basis = feed_forward(self.d, self.cut, row, frac)
        c_plant = feed_RE_mol_L(feed)
        case = case_dict(self.d, self.cut, frac, des, feed_RE_mol_L=c_plant)
        res = self.runner(case)
        rec = recoveries_from_result(res, case)
        used = row
        if basis is not None and "why" not in basis:
            # per mol fed, as the table's rows are (at the design concentration)
            used = row_from_case(
                self.d,
                case_dict(self.d, self.cut, frac, des),
                row["name"],
                rec,
                "rexopt.simulate (flows re-set for the plant's feed)",
            )
            used.update({c: row[c] for c in DESIGN_BASIS})
        prof = getattr(res, "profiles", None)
        self.verification = {
            "case": case,
            # the kernel ran at the plant's feed concentration, not the design's
            "feed_RE_mol_L": c_plant,
            "tracers": tracers(frac),
            # the flows re-set for the plant's feed (None: the row's, unchanged)
            "feed_forward": basis,
            "row": used,
            "raff": rec,
            "table": table,
            "summary": getattr(res, "summary", dict)(),
            # stage profile of the kernel run (case scale: FEED_FLOW_L_H)
            "profiles": prof if isinstance(prof, pd.DataFrame) else None,
        }
        return rec, used

    def simulate(self, inlets, point):
        feed = inlets.get("feed", {})
        raff: dict = {}
        strip: dict = {}
        off: dict = {}
        reag: dict = {}
        if not point["cut_on"]:
            return UnitResult(
                outlets={"raffinate": dict(feed), "strip_liquor": {}, "offgas": {}}
            )
        r, row = self._raff(feed, point)
        re_fed = 0.0
        for k, v in feed.items():
            re = sp.re_of(k)
            if re and k == sp.chloride(re, 3):
                re_fed += v
                add(raff, k, r[re] * v)
                add(strip, k, (1 - r[re]) * v)
            else:
                add(raff, k, v)
        eq = row["base_eq_per_mol"] * re_fed
        hcl = row["hcl_mol_per_mol"] * re_fed
        add(reag, "HCl(aq)", hcl)
        agents.saponify(raff, off, eq, point["agent"], reag, point["_ag"])
        add(strip, "HCl(aq)", hcl - eq)
        w_scrub = row["scrub_L_per_mol"] * re_fed * WATER_KMOL_M3
        w_strip = row["strip_L_per_mol"] * re_fed * WATER_KMOL_M3
        add(reag, "H2O(l)", w_scrub + w_strip)
        add(raff, "H2O(l)", w_scrub)
        add(strip, "H2O(l)", w_strip)
        vol = row["volume_m3_per_kmol_h"] * re_fed + extraction_volume_m3(
            aqueous_flow_m3_h(feed) - re_fed / self.d("chemistry.feed_RE_mol_L"),
            int(row["n_extraction"]),
            self.d.table("sizing"),
        )
        return UnitResult(
            outlets={"raffinate": raff, "strip_liquor": strip, "offgas": off},
            reagents=reag,
            utilities={"electricity_kW": point["_kw_m3"] * vol},
            sizes={"mixer_settlers": vol},
        )


def build_sx(blk, unit, inlet_exprs, **kw):
    from rexopt.units.linear import build_unit

    return build_unit(blk, unit, inlet_exprs, **kw)
