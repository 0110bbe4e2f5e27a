"""One self-contained HTML report of an optimised NdFeB plant.

Everything a designer needs is in one file (``report.html`` in the output folder):
warnings, decisions and binding limits, economics with the MILP check, products,
plant inlets and outlets, one section per SX bank with its stage profile, energy
and CO2 per unit, equipment, water and salt balances, the mass-flow diagram and
the assumptions (every default still unverified is flagged).  Pictures are
embedded as base64 PNG, styles inline: the file opens offline in any browser.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from rexopt.units.data import unverified
from rexopt.units.report import (
    BOUNDARY_NOTE,
    METRIC_SUFFIX,
    T_BASIS,
    T_STATUS_NOTE,
    STEAM_MWh_t,
    energy_with_total,
    feed_dilution_text,
    feed_forward_text,
    pareto_note,
    pareto_remark,
    pareto_table,
    product_tables,
    tracer_text,
)

CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #aaa; }
h3 { font-size: 15px; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0 14px 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #eef; } td:first-child, th:first-child { text-align: left; }
.warn { background: #fee; border: 1px solid #c00; padding: 6px; margin: 4px 0; }
.note { color: #555; font-size: 12px; }
.kpi td { font-size: 14px; }
img { max-width: 100%; border: 1px solid #ddd; }
.flag { color: #c00; font-weight: bold; }
table.notes td:last-child { text-align: left; }
tr.total td { font-weight: bold; }
"""


def _e(x) -> str:
    return html.escape(str(x))


def _table(df: pd.DataFrame | None, fmt: str = "{:,.4g}") -> str:
    if df is None or len(df) == 0:
        return "<p class='note'>(empty)</p>"

    def f(v):
        if isinstance(v, bool | np.bool_):
            return "yes" if v else "no"
        if isinstance(v, float):
            if v != v:
                return "-"
            # large figures (USD, t/yr) in full with thousands separators
            return f"{v:,.0f}" if abs(v) >= 1e4 else fmt.format(v)
        if v is None:
            return "-"
        return str(v)

    cls = "notes" if len(df.columns) and df.columns[-1] == "note" else ""
    return df.to_html(
        index=False, formatters={c: f for c in df.columns}, escape=True, classes=cls
    )


def capex_rounds_table(rounds: list[dict], kind: str) -> pd.DataFrame:
    """The MILP's CAPEX rounds with the objective columns in the metric's unit."""
    # the objective is metric / METRIC_SCALE[metric] (the plant MILP's scaling)
    from rexopt.flowsheets.ndfeb_recycling import METRIC_SCALE

    df = pd.DataFrame(rounds)
    if not len(df) or kind not in METRIC_SCALE:
        unit = "scaled objective"
        scale = 1.0
    else:
        unit = f"{kind}_{METRIC_SUFFIX[kind]}"
        scale = METRIC_SCALE[kind]
    ren = {}
    for c in ("bound", "exact_objective"):
        if c in df.columns:
            df[c] = df[c] * scale
            ren[c] = f"{c}_{unit}".replace(" ", "_")
    return df.rename(
        columns={**ren, "seconds": "seconds_s", "rel_diff": "rel_diff_frac"}
    )


def _img(path: str | Path | None, alt: str) -> str:
    if not path or not Path(path).exists():
        return f"<p class='note'>({_e(alt)}: no picture)</p>"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{data}'/>"


def render(res, files: dict[str, str]) -> str:
    """The report as one HTML string (pictures from ``files`` embedded)."""
    s = res.summary
    t = res.tables
    e = s["economics"]
    r = s["route"]
    P: list[str] = []
    P.append("<!DOCTYPE html><html><head><meta charset='utf-8'>")
    P.append(f"<title>NdFeB plant - {_e(s['case'])}</title>")
    P.append(f"<style>{CSS}</style></head><body>")
    P.append(f"<h1>NdFeB recycling plant - {_e(s['case'])}</h1>")
    warns = []
    if res.solve.warning:
        warns.append(res.solve.warning)
    warns += (s.get("decisions") or {}).get("warnings", [])
    if s.get("sx_banks_flagged"):
        warns.append(
            "SX banks whose kernel split differs from the MILP's table by more than "
            f"10 % (relative): {', '.join(s['sx_banks_flagged'])}"
        )
    if s.get("sx_banks_feed_diluted"):
        warns.append(
            "SX banks fed more than 10 % more dilute than their candidate's design "
            "basis whose split was not re-checked with the kernel at the plant's "
            "feed (see their sections): " + ", ".join(s["sx_banks_feed_diluted"])
        )
    for w in warns:
        P.append(f"<div class='warn'>WARNING: {_e(w)}</div>")
    irr = "none" if e["irr"] is None else f"{100 * e['irr']:.1f} %"
    pb = "never" if e["payback_yr"] is None else f"{e['payback_yr']:.2f} yr"
    kpi = [
        ("Scrap processed", f"{r['scrap_t_yr']:,.0f} t/yr in {r['trains']} train(s)"),
        ("Oxide products (REO)", f"{s['REO_t_yr']:,.1f} t/yr"),
        ("RE yield", f"{100 * s['re_yield']:.2f} %"),
        ("NPV after tax", f"{e['npv_USD'] / 1e6:,.1f} M USD"),
        ("IRR / simple payback", f"{irr} / {pb}"),
        ("CAPEX (installed)", f"{e['capex_USD'] / 1e6:,.2f} M USD"),
        (
            "Operating cost incl. scrap",
            f"{e['operating_cost_USD_yr'] / 1e6:,.2f} M USD/yr",
        ),
        ("CO2", f"{s['co2']['total_t_yr']:,.0f} t/yr"),
        ("Liquid discharge", f"{s['water']['liquid_discharge_t_yr']:,.3g} t/yr"),
    ]
    P.append("<table class='kpi'>")
    for k, v in kpi:
        P.append(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>")
    P.append("</table>")
    P.append(
        "<p>Route: "
        + ", ".join(
            f"{_e(k)} = {_e(v)}"
            for k, v in r.items()
            if k not in ("scrap_t_yr", "trains")
        )
        + "</p>"
    )
    dec = s.get("decisions")
    if dec:
        P.append("<h2>Product slate and capacity decisions</h2><ul>")
        for c in dec["cuts"]:
            P.append(
                f"<li>{_e(c['name'])}: <b>{_e(c['state'])}</b> - {_e(c['reason'])}</li>"
            )
        P.append("</ul>")
        if dec["binding_limits"]:
            P.append("<p>Binding capacity limits:</p><ul>")
            for b in dec["binding_limits"]:
                P.append(f"<li>{_e(b['text'])}</li>")
            P.append("</ul>")
        else:
            P.append(
                "<p>No equipment cap, train count or cooling-tower limit binds.</p>"
            )
    P.append("<h2>Economics (USD, USD/yr; after tax)</h2>")
    P.append(_table(t.get("economics"), "{:,.0f}"))
    ec = s.get("economics_check")
    if ec:
        P.append(
            f"<p>MILP vs re-simulated plant: NPV difference "
            f"{ec['npv_difference_USD']:+,.0f} USD "
            f"({100 * ec['npv_rel_difference']:+.4f} %); {_e(ec['explanation'])}.</p>"
        )
        rounds = capex_rounds_table(ec["capex_rounds"], res.case.objective.kind)
        if len(rounds):
            P.append(
                "<h3>CAPEX refinement rounds (USD; objective bound and value in "
                "the objective's unit, see the column names; gap a fraction)</h3>"
            )
            P.append(_table(rounds))
    P.append(
        f"<h3>CAPEX breakdown (installed cost at the chosen sizes, USD; total "
        f"{e['capex_USD']:,.0f} USD)</h3>"
    )
    P.append(_table(t.get("equipment")))
    P.append(
        f"<h3>OPEX breakdown (USD/yr, scrap not included; net OPEX "
        f"{e['opex_USD_yr']:,.0f} USD/yr = costs - credits)</h3>"
    )
    P.append(_table(t.get("opex")))
    P.append("<h3>Cash flow (USD)</h3>")
    P.append(_table(t.get("cash_flow"), "{:,.0f}"))

    P.append("<h2>Products (t/yr, %, USD/yr)</h2>")
    prod, where = product_tables(t.get("products"), s["re_recovery"])
    P.append(_table(prod))
    P.append(
        "<p>Where each rare earth of the feed goes [% of its feed]: "
        "named_recovery_pct above counts an element only in its own product; the "
        "last row also counts it where it is an impurity of another product.</p>"
    )
    P.append(_table(where, "{:,.4f}"))
    P.append("<h2>Plant inlets and outlets</h2>")
    P.append(f"<p class='note'>{_e(BOUNDARY_NOTE)}</p>")
    P.append(_table(t.get("boundary_streams")))
    P.append(
        "<p class='note'>T_basis: "
        + "; ".join(f"<b>{_e(k)}</b> = {_e(v)}" for k, v in T_BASIS.items())
        + ".  "
        + _e(T_STATUS_NOTE)
        + ".  Every stream of the plant, with the same columns, is in "
        "stream_table.csv.</p>"
    )
    P.append("<h2>Mass-flow diagram</h2>")
    P.append(_img(files.get("sankey_png"), "mass-flow diagram"))
    P.append("<h2>Solvent-extraction banks</h2>")
    banks = t.get("sx_banks")
    rec = t.get("sx_recoveries")
    if banks is None or not len(banks):
        P.append("<p>No SX bank in operation.</p>")
    else:
        for b in banks.to_dict("records"):
            flag = (
                " <span class='flag'>kernel vs table differ &gt; 10 %</span>"
                if b["flag_kernel_vs_table_over_10pct"]
                else ""
            )
            if b.get("flag_separation_unchecked_at_plant_feed"):
                flag += (
                    " <span class='flag'>split not checked at the plant's (more "
                    "dilute) feed</span>"
                )
            P.append(
                f"<h3>{_e(b['bank'])}: {_e(b['cut'])}, design {_e(b['design'])}{flag}</h3>"
            )
            if b.get("flag_separation_unchecked_at_plant_feed"):
                P.append(f"<div class='warn'>{_e(feed_dilution_text(b))}</div>")
            elif b.get("flag_feed_more_dilute_than_design"):
                P.append(f"<p>{_e(feed_dilution_text(b))}</p>")
            if b.get("kernel_tracers"):
                P.append(f"<p>{_e(tracer_text(b))}</p>")
            ff_text = feed_forward_text(b)
            if ff_text:
                P.append(f"<p>{_e(ff_text)}</p>")
            one = pd.DataFrame(
                [{"quantity": k, "value": v} for k, v in b.items() if k != "bank"]
            )
            P.append(_table(one))
            if rec is not None:
                P.append(
                    "<p class='note'>Kernel vs MILP table, per element: fractions "
                    "of the element fed to the bank (feed_mole_frac of the bank's RE "
                    "feed; to_raffinate the rest goes to the strip liquor; the "
                    "minority fraction is the smaller of the two, rel_difference "
                    "its relative difference, flagged above 10 %).</p>"
                )
                P.append(_table(rec[rec["bank"] == b["bank"]].drop(columns=["bank"])))
            P.append(
                _img(files.get(f"sx_profile_{b['bank']}_png"), f"{b['bank']} profile")
            )
    P.append("<h2>Energy [MWh/yr] and CO2 [t/yr] by unit</h2>")
    P.append(
        f"<p class='note'>Steam counted as its latent heat, {STEAM_MWh_t:.3f} "
        "MWh/t.</p>"
    )
    P.append(_table(energy_with_total(t.get("energy"))))
    P.append("<h2>Reagents (net of recovered MgO / HCl; t/yr, t/t REO, USD/yr)</h2>")
    P.append(_table(t.get("reagents")))
    P.append("<h2>Water balance [t/yr]</h2>")
    w = pd.DataFrame([{"item": k, "value": v} for k, v in s["water"].items()])
    P.append(_table(w))
    P.append("<h2>Salt balance [t/yr]</h2>")
    P.append(_table(t.get("salts")))
    if res.pareto is not None:
        P.append("<h2>Pareto front (epsilon-constraint)</h2>")
        P.append(f"<p class='note'>{_e(pareto_note(res.case))}</p>")
        rem = pareto_remark(res.pareto, res.case)
        if rem:
            P.append(f"<p>{_e(rem)}</p>")
        P.append(_img(files.get("pareto_png"), "Pareto front"))
        P.append(_table(pareto_table(res.pareto, res.case)))
    P.append("<h2>Assumptions: defaults still unverified</h2>")
    uv = unverified(res.plant.data)
    P.append(
        f"<p>{len(uv)} default values are unverified placeholders (override them in "
        "the case under [data.&lt;file&gt;]):</p>"
    )
    P.append(
        _table(
            pd.DataFrame(
                [
                    {
                        "entry": k,
                        "value": str(en.value),
                        "unit": en.unit,
                        "source": en.source,
                        "status": "UNVERIFIED",
                    }
                    for k, en in uv
                ]
            )
        )
    )
    rep = res.solve
    P.append(
        f"<p class='note'>HiGHS: {_e(rep.status)}, {rep.n_variables} variables "
        f"({rep.n_integer} integer), {rep.n_constraints} constraints, "
        f"{rep.seconds:.1f} s.  Times [s]: "
        + _e(", ".join(f"{k} {v:.2f}" for k, v in res.timings_s.items()))
        + "</p>"
    )
    P.append("</body></html>")
    return "\n".join(P)


def write_html(res, out: Path, files: dict[str, str]) -> str:
    path = Path(out) / "report.html"
    path.write_text(render(res, files), encoding="utf-8")
    return str(path)
