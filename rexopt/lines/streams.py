"""Ions of a cascade's streams and the conditioning step between two cascades.

The saturated (Xu) kernel model solves the rare-earth flows; it does not carry
free acid or the saponification counter-ion (NH4+, Na+, Mg2+) as species.  Their
flows in every aqueous outlet follow from the kernel's own network and result by
the rules the saturated model itself applies (``rexopt.cascade``,
``Cascade.stage_parameters``):

* chloride [mol/h] is the kernel's anion profile ``Q`` (anions are not extracted;
  they mix down the aqueous chains) times the outlet flow, plus the spectator
  salt an aqueous feed carries in (below);
* acid entering a scrub stage converts loaded sites to H form where it enters
  (the kernel lowers the organic capacity by it): it leaves with the organic.
  Acid entering an extraction stage (the aqueous feed's acidity) is not taken up
  by the kernel's organic: it mixes down to the raffinate (and side draws) like
  the anions;
* the strip acid strips the rare earth the kernel moves into the strip liquor
  (3 H+ per RE3+) and the counter-ion of every free (salt-form) site of the
  loaded organic, ``3 x (capacity - RE loaded)`` with the kernel's capacity at
  the last scrub stage; what is left is the strip liquor's free acid;
* the counter-ion of an outlet closes its charge balance:
  ``Cl = sum z RE + H + counter-ion``.

The counter-ion balance of a cascade (saponification base + counter-ion carried
in = counter-ion in the outlets) then closes only if the kernel's rare-earth and
site balances do; :func:`outlet_ions` returns it with the chloride and proton
balances so that tests and reports can check them.

Between an upstream outlet and a downstream cascade's aqueous feed,
:func:`condition` brings the stream to the downstream's design feed
(``feed.conc_mol_L`` and ``feed.acidity_mol_L``): its free acid is neutralised with
the line's saponification agent (or acid added if it is short), water added to
dilute or evaporated to concentrate.  The counter-ion and its chloride pass into
the downstream feed as a spectator salt that leaves in its raffinate.
"""

from __future__ import annotations

import numpy as np

from rexopt.cascade import Cascade

SITE_EQ = 3.0  # counter-ion equivalents per site unit (capacity counts RE3+)


def loaded_organic(res) -> dict:
    """The organic leaving the scrub section of a kernel result (saturated model).

    Returns
    -------
    dict
        ``mol_h`` (metal flows [mol/h]), ``flow_L_h`` (physical volume flow
        [L/h]), ``capacity_mol_h`` (RE sites it carries: the kernel's capacity at
        that stage [mol/L] times its flow [L/h]), ``free_sites_mol_h``
        (capacity - RE loaded [mol/h]), ``stage`` (1-based).
    """
    st = res.streams.loc["loaded_organic"]
    j = int(st["stage"]) - 1
    flow = float(st["flow_L_h"])
    cas = Cascade(res.case)
    net = cas.network()
    par = cas.stage_parameters(net)
    mol = {c: float(st[f"{c}_mol_h"]) for c in res.components}
    cap = float(par["cap"][j]) * flow
    return {
        "mol_h": mol,
        "flow_L_h": flow,
        "capacity_mol_h": cap,
        "free_sites_mol_h": cap - sum(mol.values()),
        "stage": j + 1,
    }


def _mix_down(net, inp: np.ndarray) -> np.ndarray:
    """Concentration profile [mol/L] of a solute that is not extracted, entering
    the aqueous of stage j at ``inp[j]`` [mol/h] (the kernel's anion rule)."""
    conc = np.zeros(net.N)
    down = 0.0
    for j in range(net.N - 1, -1, -1):
        conc[j] = (down + inp[j]) / net.aq_out[j]
        down = conc[j] * net.aq_pass[j]
    return conc


def outlet_ions(
    case: dict,
    outlet_mol_h: dict[str, dict[str, float]],
    loaded_mol_h: dict[str, float],
    *,
    spectator_eq_h: float = 0.0,
    stripped_mol_h: dict[str, float] | None = None,
) -> dict:
    """Rare earth, chloride, free acid and counter-ion of every aqueous outlet.

    Parameters
    ----------
    case : dict
        The kernel case as simulated (saturated model, chloride medium).
    outlet_mol_h : dict
        Outlet name -> component -> molar flow [mol/h] (the kernel result's, or a
        sharp split when the candidate was not simulated).
    loaded_mol_h : dict
        Rare earth on the organic leaving the scrub section [mol/h].
    spectator_eq_h : float
        Counter-ion salt (e.g. NH4Cl) an aqueous feed carries beside its rare
        earth and acid [eq/h]; it is not extracted and leaves with the aqueous
        below the feed stage.
    stripped_mol_h : dict, optional
        Rare earth the kernel leaves on the stripped organic [mol/h].  The line
        passes it on with the strip liquor (as if the stripped organic were
        returned and stripped again), so it is added to the strip liquor here
        and stripped by its free acid (3 H+ per RE3+).

    Returns
    -------
    dict
        ``outlets`` (name -> ``flow_L_h``, ``mol_h``, ``RE_eq_h``, ``Cl_mol_h``,
        ``H_mol_h``, ``counter_ion_eq_h``), ``loaded_organic_counter_ion_eq_h``
        (free sites of the organic passed on without strip, else 0),
        ``H_to_organic_mol_h`` (scrub acid taken up plus strip acid spent), and
        ``balances``: chloride, protons and counter-ion, each ``in``, ``out``,
        ``relative_error``.
    """
    cas = Cascade(case)
    if cas.case.chemistry.medium != "chloride" or cas.model != "saturated":
        raise ValueError(
            "outlet_ions: the line accounting needs the saturated model in "
            f"chloride medium, got {cas.model!r} in {cas.case.chemistry.medium!r}"
        )
    net = cas.network()
    par = cas.stage_parameters(net)
    z = dict(zip(net.species, net.z, strict=True))
    sec = net.section
    h_in = np.where(np.array(sec) == "extraction", net.acid_in, 0.0)
    h_conc = _mix_down(net, h_in)
    s_in = np.zeros(net.N)
    feed_aq = case["feed"]["phase"] == "aqueous"
    if spectator_eq_h:
        if not feed_aq:
            raise ValueError("a spectator salt needs an aqueous feed")
        s_in[cas._feed_stage] = spectator_eq_h
    s_conc = _mix_down(net, s_in)
    # the loaded organic: kernel capacity at the last scrub stage x its flow
    jl = next(
        (j for n, _p, j, _f in net.internal if n == "loaded_organic"),
        net.N - 1,
    )
    cap_lo = float(par["cap"][jl]) * float(net.org_pass[jl] or net.org_out[jl])
    free_eq = SITE_EQ * (cap_lo - sum(loaded_mol_h.values()))
    has_strip = "strip" in case["sections"]
    outs = {}
    for name, phase, j, flow in net.outlets:
        if phase != "aqueous":
            continue
        mol = {c: float(v) for c, v in outlet_mol_h[name].items()}
        re_eq = sum(z[c] * v for c, v in mol.items())
        cl = (float(par["Q"][j]) + s_conc[j]) * flow
        if name == "strip_liquor":
            for c, v in (stripped_mol_h or {}).items():
                mol[c] = mol.get(c, 0.0) + float(v)
            re_eq = sum(z[c] * v for c, v in mol.items())
            counter = free_eq
            h = cl - re_eq - counter
        else:
            h = h_conc[j] * flow
            counter = cl - re_eq - h
        outs[name] = {
            "flow_L_h": float(flow),
            "mol_h": mol,
            "RE_eq_h": re_eq,
            "Cl_mol_h": cl,
            "H_mol_h": h,
            "counter_ion_eq_h": counter,
        }
    o = case["organic"]
    base_eq = o["saponification"] * o["extractant_mol_L"] * o["flow_L_h"]
    org_feed_eq = 0.0
    if not feed_aq:  # loaded organic fed: its free sites carry the counter-ion
        q = case["feed"]["flow_L_h"]
        ymax = o["saponification"] * o["extractant_mol_L"] / SITE_EQ
        org_feed_eq = SITE_EQ * (
            ymax * q - q * sum(case["feed"]["conc_mol_L"].values())
        )
    lo_counter = 0.0 if has_strip else free_eq
    scrub_h = float(np.sum(net.acid_in[np.array(sec) == "scrub"]))
    strip_acid = float(np.sum(net.acid_in[np.array(sec) == "strip"]))
    sl = outs.get("strip_liquor")
    strip_spent = strip_acid - (sl["H_mol_h"] if sl else 0.0)
    cl_in = float(net.anion_eq.sum()) + spectator_eq_h
    h_tot_in = float(net.acid_in.sum())
    cnt_in = base_eq + spectator_eq_h + org_feed_eq
    cl_out = sum(v["Cl_mol_h"] for v in outs.values())
    h_out = sum(v["H_mol_h"] for v in outs.values()) + scrub_h + strip_spent
    cnt_out = sum(v["counter_ion_eq_h"] for v in outs.values()) + lo_counter

    def bal(a, b):
        return {"in": a, "out": b, "relative_error": abs(a - b) / max(abs(a), 1e-300)}

    return {
        "outlets": outs,
        "loaded_organic_counter_ion_eq_h": lo_counter,
        "H_to_organic_mol_h": scrub_h + strip_spent,
        "base_eq_mol_h": base_eq,
        "organic_feed_counter_ion_eq_h": org_feed_eq,
        "balances": {
            "chloride": bal(cl_in, cl_out),
            "protons": bal(h_tot_in, h_out),
            "counter_ion": bal(cnt_in, cnt_out),
        },
    }


def kernel_flows(res) -> tuple[dict, dict, dict | None]:
    """Rare-earth flows of a kernel result, per component [mol/h]: its aqueous
    outlets (``{outlet: {component: flow}}``), the loaded organic, and the
    stripped organic (None for a cascade without a strip section)."""
    o = res.outlets
    outlet = {
        n: {c: float(o.loc[n, f"{c}_mol_h"]) for c in res.components}
        for n in o.index
        if o.loc[n, "phase"] == "aqueous"
    }
    st = res.streams.loc["loaded_organic"]
    loaded = {c: float(st[f"{c}_mol_h"]) for c in res.components}
    stripped = None
    if "stripped_organic" in o.index:
        stripped = {
            c: float(o.loc["stripped_organic", f"{c}_mol_h"]) for c in res.components
        }
    return outlet, loaded, stripped


def kernel_outlet_ions(res, case: dict | None = None, spectator_eq_h=0.0) -> dict:
    """:func:`outlet_ions` of a kernel result (its own outlet and loaded-organic
    rare-earth flows, :func:`kernel_flows`)."""
    case = res.case if case is None else case
    outlet, loaded, stripped = kernel_flows(res)
    out = outlet_ions(
        case, outlet, loaded, spectator_eq_h=spectator_eq_h, stripped_mol_h=stripped
    )
    out["source"] = "kernel"
    return out


def condition(
    stream: dict,
    target_flow_L_h: float,
    target_acidity_mol_L: float,
) -> dict:
    """The step that turns an upstream aqueous outlet into a downstream feed.

    Parameters
    ----------
    stream : dict
        One outlet of :func:`outlet_ions` (``flow_L_h``, ``mol_h``, ``RE_eq_h``,
        ``Cl_mol_h``, ``H_mol_h``, ``counter_ion_eq_h``).
    target_flow_L_h : float
        The downstream feed's volume (its rare earth at ``feed.conc_mol_L``).
    target_acidity_mol_L : float
        The downstream feed's free acid (``feed.acidity_mol_L``).

    Returns
    -------
    dict
        ``dilution_L_h`` (water added), ``evaporated_L_h`` (water evaporated to
        concentrate), ``base_eq_mol_h`` (agent equivalents neutralising free acid
        above the target), ``acid_mol_h`` (HCl added when the stream has less),
        ``feed``: the conditioned stream (``flow_L_h``, ``H_mol_h``, ``Cl_mol_h``,
        ``spectator_eq_h``: counter-ion salt carried beside the rare earth).
    """
    v_u, h_u = float(stream["flow_L_h"]), float(stream["H_mol_h"])
    h_t = float(target_acidity_mol_L) * float(target_flow_L_h)
    base = max(h_u - h_t, 0.0)
    acid = max(h_t - h_u, 0.0)
    cl = float(stream["Cl_mol_h"]) + acid
    return {
        "upstream_flow_L_h": v_u,
        "upstream_H_mol_h": h_u,
        "upstream_acidity_mol_L": h_u / v_u if v_u > 0 else 0.0,
        "dilution_L_h": max(target_flow_L_h - v_u, 0.0),
        "evaporated_L_h": max(v_u - target_flow_L_h, 0.0),
        "base_eq_mol_h": base,
        "acid_mol_h": acid,
        "feed": {
            "flow_L_h": float(target_flow_L_h),
            "H_mol_h": h_t,
            "acidity_mol_L": float(target_acidity_mol_L),
            "Cl_mol_h": cl,
            "spectator_eq_h": cl - float(stream["RE_eq_h"]) - h_t,
        },
    }
