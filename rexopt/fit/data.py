"""Laboratory equilibrium data for ``rexopt fit``: CSV reading and validation.

One row per batch (shake-out) test.  Column names carry their unit; see docs/fit.md
for the full list.  Every problem found is reported at once, one line each, naming
the file, the row (1-based data row, header = row 0), the column, the value and
what is allowed.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rexopt.chemistry import agents, element, elements

# concentration units a column may state, and the factor to mol/L given the element
CONC_UNITS = ("mol_L", "g_L", "mg_L", "oxide_g_L")
ROLES = ("feed", "org_in", "aq", "org")
_CONC_RE = re.compile(
    r"^(feed|org_in|aq|org)_([A-Z][a-z]?|NH4)_(mol_L|g_L|mg_L|oxide_g_L)$"
)
SCALARS = {
    "test_id": "a label for the test (optional)",
    "feed_acid_mol_L": "free acid (H+) of the aqueous feed [mol/L], >= 0",
    "feed_pH": "pH of the aqueous feed, -1.5 to 14 (chloride media only)",
    "extractant_mol_L": "extractant in the organic [mol/L], > 0",
    "saponification": "saponified fraction of the extractant [-], 0 <= s < 1",
    "O_A_ratio": "organic/aqueous volume ratio of the test [-], > 0",
    "temperature_C": "temperature of the test [degC], -50 to 200 (recorded, not "
    "modelled)",
    "eq_pH": "measured equilibrium pH, -1.5 to 14 (optional)",
    "eq_acid_mol_L": "measured equilibrium free acid [mol/L], > 0 (optional)",
    "agent": "saponification agent (NH3, NaOH or Mg(HCO3)2; default NH3)",
    "weight": "weight of the test's residuals [-], > 0 (default 1)",
}


class FitDataError(ValueError):
    """A data file that cannot be used; one line per problem (file, row, column)."""


@dataclass
class BatchTest:
    """One batch test, all concentrations in mol/L."""

    label: str
    row: int  # 1-based data row in the file
    feed: dict[str, float]  # aqueous feed [mol/L]
    org_in: dict[str, float]  # organic before contact [mol/L]
    acid_mol_L: float  # free acid of the feed [mol/L]
    extractant_mol_L: float
    saponification: float
    O_A: float
    agent: str = "NH3"
    temperature_C: float | None = None
    aq: dict[str, float] = field(default_factory=dict)  # measured eq. aqueous
    org: dict[str, float] = field(default_factory=dict)  # measured eq. organic
    eq_pH: float | None = None
    weight: float = 1.0

    def total(self, el: str) -> float:
        """Moles of ``el`` in the test per litre of aqueous. [mol/L]"""
        return self.feed.get(el, 0.0) + self.O_A * self.org_in.get(el, 0.0)

    def measured_D(self, el: str) -> float | None:
        """Measured distribution ratio; a phase not analysed is closed by the
        element balance of the test.  None when nothing was measured or the balance
        leaves no positive amount in one phase."""
        x, y = self.aq.get(el), self.org.get(el)
        if x is None and y is None:
            return None
        if y is None:
            y = (self.total(el) - x) / self.O_A
        elif x is None:
            x = self.total(el) - self.O_A * y
        if x <= 0 or y <= 0:
            return None
        return y / x


@dataclass
class FitData:
    """Validated batch tests of one file."""

    source: str
    tests: list[BatchTest]
    elements: list[str]  # metals in the order first met in the header
    units: dict[str, str]  # column -> unit as read
    notes: list[str] = field(default_factory=list)
    acid_from_pH: bool = False  # feed acid computed as 10^-pH (chloride only)

    def measured(self, el: str) -> list[int]:
        """Indices of the tests with a measured phase of ``el``."""
        return [k for k, t in enumerate(self.tests) if el in t.aq or el in t.org]


def to_mol_L(el: str, value: float, unit: str) -> float:
    """Concentration of element ``el`` in ``unit`` -> mol/L."""
    e = element(el)
    if unit == "mol_L":
        return value
    if unit == "g_L":
        return value / e.molar_mass_g_mol
    if unit == "mg_L":
        return value / 1000.0 / e.molar_mass_g_mol
    if unit == "oxide_g_L":
        if not e.oxide_g_per_mol_metal:
            raise ValueError(f"{el} has no oxide")
        return value / e.oxide_g_per_mol_metal
    raise ValueError(unit)


def _num(txt: str) -> float | None:
    txt = txt.strip()
    if txt == "":
        return None
    try:
        v = float(txt)
    except ValueError:
        return math.nan
    return v


def read_fit_data(source, *, agent: str | None = None, name: str | None = None):
    """Read and validate a batch-test CSV -> :class:`FitData`.

    Parameters
    ----------
    source : path, or list of dict rows (column -> text or number)
    agent : str, optional
        Saponification agent for rows without an ``agent`` column (default NH3).

    Raises
    ------
    FitDataError
        One line per problem: ``<file>: row R, column C: <value> -- <allowed>``.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        where = name or str(path)
        if not path.is_file():
            raise FitDataError(f"{where}: no such data file")
        with path.open(newline="", encoding="utf-8-sig") as fh:
            lines = [ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
        reader = csv.DictReader(lines)
        header = [h.strip() for h in (reader.fieldnames or [])]
        raw_rows = [
            {(k or "").strip(): (v if isinstance(v, str) else "") for k, v in r.items()}
            for r in reader
        ]
    else:
        where = name or "<data rows>"
        raw_rows = [
            {k: "" if v is None else str(v) for k, v in r.items()} for r in source
        ]
        header = list(raw_rows[0]) if raw_rows else []
    errs: list[str] = []

    def err(row, col, val, allowed):
        at = "header" if row == 0 else f"row {row}"
        errs.append(f"{where}: {at}, column {col}: {val!r} -- {allowed}")

    if not raw_rows:
        raise FitDataError(f"{where}: no data rows (a header and one row per test)")
    known = elements()
    conc_cols: dict[str, tuple[str, str, str]] = {}
    seen: dict[tuple[str, str], str] = {}
    els: list[str] = []
    for col in header:
        if col in SCALARS:
            continue
        m = _CONC_RE.match(col)
        if not m:
            err(
                0,
                col,
                col,
                "a column named ROLE_ELEMENT_UNIT (ROLE one of feed, org_in, aq, "
                f"org; UNIT one of {', '.join(CONC_UNITS)}) or one of "
                f"{', '.join(SCALARS)}",
            )
            continue
        role, el, unit = m.groups()
        if el not in known:
            err(0, col, el, f"a known element ({', '.join(known)})")
            continue
        if unit == "oxide_g_L" and not element(el).oxide_g_per_mol_metal:
            err(0, col, unit, f"mol_L, g_L or mg_L ({el} has no oxide)")
            continue
        if (role, el) in seen:
            err(0, col, col, f"one column for {role} {el} (also {seen[(role, el)]})")
            continue
        seen[(role, el)] = col
        conc_cols[col] = (role, el, unit)
        if el not in els:
            els.append(el)
    for col in ("extractant_mol_L", "saponification", "O_A_ratio"):
        if col not in header:
            err(0, col, None, f"a column {col}: {SCALARS[col]}")
    if ("feed_acid_mol_L" in header) == ("feed_pH" in header):
        err(
            0,
            "feed_acid_mol_L / feed_pH",
            None,
            "exactly one of feed_acid_mol_L or feed_pH",
        )
    if "eq_pH" in header and "eq_acid_mol_L" in header:
        err(0, "eq_pH / eq_acid_mol_L", None, "at most one of eq_pH or eq_acid_mol_L")
    for el in els:
        if ("feed", el) not in seen and ("org_in", el) not in seen:
            err(0, f"feed_{el}_*", None, f"a feed (or org_in) column for {el}")
        if ("aq", el) not in seen and ("org", el) not in seen:
            err(
                0,
                f"aq_{el}_* / org_{el}_*",
                None,
                f"a measured equilibrium phase for {el}: without one no parameter "
                f"of {el} can be identified",
            )
    if errs:
        raise FitDataError("\n".join(errs))

    agent_default = agent or "NH3"
    if agent_default not in agents():
        raise FitDataError(
            f"{where}: agent: {agent_default!r} -- one of {', '.join(agents())}"
        )
    tests: list[BatchTest] = []
    labels: set[str] = set()
    for r, raw in enumerate(raw_rows, start=1):
        n_err = len(errs)
        bad_cols: set[str] = set()
        vals: dict[str, float | None] = {}
        for col in header:
            if col in ("test_id", "agent"):
                continue
            txt = raw.get(col, "")
            v = _num(txt)
            if v is not None and not math.isfinite(v):
                err(r, col, txt, "a finite number (empty = not measured)")
                bad_cols.add(col)
                v = None
            vals[col] = v

        def need(
            col, lo=None, lo_open=False, hi=None, hi_open=False, default=None,
            vals=vals, raw=raw, r=r, bad_cols=bad_cols,
        ):  # fmt: skip
            v = vals.get(col)
            if col in bad_cols:
                return None
            if v is None:
                if default is not None:
                    return default
                if col in raw or col in header:
                    err(r, col, raw.get(col, ""), f"a value: {SCALARS.get(col, col)}")
                return None
            bad = (lo is not None and (v <= lo if lo_open else v < lo)) or (
                hi is not None and (v >= hi if hi_open else v > hi)
            )
            if bad:
                err(r, col, raw.get(col), SCALARS.get(col, col))
                return None
            return v

        ext = need("extractant_mol_L", lo=0, lo_open=True)
        sap = need("saponification", lo=0, hi=1, hi_open=True)
        oa = need("O_A_ratio", lo=0, lo_open=True)
        if "feed_acid_mol_L" in header:
            acid = need("feed_acid_mol_L", lo=0)
        else:
            ph = need("feed_pH", lo=-1.5, hi=14)
            acid = None if ph is None else 10.0 ** (-ph)
        temp = (
            need("temperature_C", lo=-50, hi=200) if "temperature_C" in header else None
        )
        weight = (
            need("weight", lo=0, lo_open=True, default=1.0)
            if "weight" in header
            else 1.0
        )
        eq_ph = None
        if "eq_pH" in header and vals.get("eq_pH") is not None:
            eq_ph = need("eq_pH", lo=-1.5, hi=14)
        if "eq_acid_mol_L" in header and vals.get("eq_acid_mol_L") is not None:
            h = need("eq_acid_mol_L", lo=0, lo_open=True)
            eq_ph = None if h is None else -math.log10(h)
        ag = raw.get("agent", "").strip() or agent_default
        if ag not in agents():
            err(r, "agent", ag, f"one of {', '.join(agents())}")
        feed: dict[str, float] = {}
        org_in: dict[str, float] = {}
        aq: dict[str, float] = {}
        org: dict[str, float] = {}
        for col, (role, el, unit) in conc_cols.items():
            v = vals.get(col)
            if col in bad_cols:
                continue
            if v is None:
                if role in ("feed", "org_in"):
                    err(
                        r,
                        col,
                        raw.get(col, ""),
                        "a number >= 0 (write 0 when the element is absent)",
                    )
                continue
            if v < 0:
                err(r, col, raw.get(col), "a concentration >= 0")
                continue
            target = {"feed": feed, "org_in": org_in, "aq": aq, "org": org}[role]
            target[el] = to_mol_L(el, v, unit)
        label = (raw.get("test_id") or "").strip() or f"row {r}"
        if label in labels:
            err(r, "test_id", label, "a label used once")
        labels.add(label)
        if feed and sum(feed.values()) + sum(org_in.values()) <= 0:
            err(r, "feed_*", 0, "at least one element > 0 in the feed or org_in")
        if len(errs) > n_err or any(v is None for v in (ext, sap, oa, acid)):
            continue  # cross-checks only on rows whose values are all readable
        t = BatchTest(
            label=label,
            row=r,
            feed=feed,
            org_in=org_in,
            acid_mol_L=acid,
            extractant_mol_L=ext,
            saponification=sap,
            O_A=oa,
            agent=ag,
            temperature_C=temp,
            aq=aq,
            org=org,
            eq_pH=eq_ph,
            weight=weight,
        )
        for el in els:
            tot = t.total(el)
            for role, d, scale in (("aq", aq, 1.0), ("org", org, oa)):
                v = d.get(el)
                if v is not None and tot > 0 and v * scale > 1.05 * tot:
                    col = seen[(role, el)]
                    err(
                        r,
                        col,
                        raw.get(col),
                        f"at most the {el} put into the test "
                        f"({tot / scale:.4g} mol/L in this phase; 5 % analytical "
                        f"margin allowed)",
                    )
            if tot == 0 and (aq.get(el) or org.get(el)):
                err(r, seen.get(("aq", el)) or seen.get(("org", el)), "> 0",
                    f"0 ({el} is not in the feed of this test)")  # fmt: skip
        tests.append(t)
    if errs:
        raise FitDataError("\n".join(errs))
    units = {col: u for col, (_, _, u) in conc_cols.items()}
    notes = []
    temps = [t.temperature_C for t in tests if t.temperature_C is not None]
    if temps:
        notes.append(
            f"temperature recorded {min(temps):g}-{max(temps):g} degC; the model has "
            f"no temperature term (parameters hold for that range)"
        )
    else:
        notes.append("no temperature recorded; the model has no temperature term")
    return FitData(where, tests, els, units, notes, "feed_pH" in header)


def measured_table(data: FitData) -> np.ndarray:
    """Measured log10 D (tests x elements), NaN where not available."""
    out = np.full((len(data.tests), len(data.elements)), np.nan)
    for k, t in enumerate(data.tests):
        for i, el in enumerate(data.elements):
            D = t.measured_D(el)
            if D is not None:
                out[k, i] = math.log10(D)
    return out
