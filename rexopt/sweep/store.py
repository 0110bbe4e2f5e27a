"""The HDF5 file of a sweep: one file per sweep, one writer (the client).

Layout::

    /                 attrs: format, spec_hash, definition (TOML + JSON), base case
    /inputs/<name>    one dataset per parameter (float64, or fixed-length UTF-8)
    /outputs/<name>   float64, NaN where not computed
    /status           int8: 0 pending, 1 ok, 2 infeasible, 3 failed
    /message          fixed-length UTF-8 (error or infeasibility message; for an
                      ok scenario what its evaluator said, e.g. the warnings)
    /worker           fixed-length UTF-8 (who computed it)
    /attempts         int16: tasks submitted for the scenario
    /timing/started_unix, /timing/duration_s   float64 [s]
    /done             bool: the done-mask

Every dataset is fixed-size, contiguous and fully written when the file is created,
so later writes only overwrite data in place and never touch the file's structure.
A batch is written results first, flushed, then its done flags, flushed: a client
killed at any point leaves a readable file whose done-mask never claims a scenario
whose results are missing.  A rerun resumes from the done-mask.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import h5py
import numpy as np

from rexopt.sweep.spec import Sweep
from rexopt.sweep.worker import FAILED, PENDING, STATUS_NAMES, BatchResult

__all__ = ["SweepStore", "StoreMismatchError", "read_results", "read_definition"]

FORMAT = "rexopt-sweep"
FORMAT_VERSION = 1
MESSAGE_BYTES = 480
WORKER_BYTES = 64


class StoreMismatchError(RuntimeError):
    """The HDF5 file belongs to a different sweep definition."""


def _encode(s: str, width: int) -> bytes:
    b = s.encode("utf-8")
    if len(b) <= width:
        return b
    b = b[: width - 3]
    # Cut on a character boundary, then mark the cut.
    return b.decode("utf-8", errors="ignore").encode() + b"..."


def _decode(arr) -> list[str]:
    return [x.decode("utf-8", errors="replace") for x in arr]


class SweepStore:
    """Open sweep file; use :meth:`create_or_open` and close (or ``with``)."""

    def __init__(self, path: Path, f: h5py.File):
        self.path = path
        self.f = f
        self.n = int(f["done"].shape[0])
        self.outputs = json.loads(f.attrs["outputs"])
        self.done = f["done"][...].astype(bool)
        self.status = f["status"][...]

    # ------------------------------------------------------------ creation
    @classmethod
    def create_or_open(
        cls, path: str | Path, sweep: Sweep, *, overwrite: bool = False
    ) -> SweepStore:
        """Open ``path`` to resume ``sweep``, or create it.

        Raises
        ------
        StoreMismatchError
            The file exists and holds another sweep definition (other parameters,
            sampling, outputs or base case).
        """
        path = Path(path)
        if path.exists() and not overwrite:
            try:
                f = h5py.File(path, "r+")
            except OSError as exc:
                if "lock" in str(exc).lower():
                    raise StoreMismatchError(
                        f"{path}: is open for writing in another process (is a sweep "
                        "still running on it?); wait for it or choose another --out"
                    ) from None
                raise StoreMismatchError(
                    f"{path}: exists but cannot be opened as HDF5 ({exc}); remove it "
                    "or choose another --out"
                ) from None
            if f.attrs.get("format") != FORMAT:
                f.close()
                raise StoreMismatchError(
                    f"{path}: exists and is not a rexopt sweep file; choose another "
                    "--out"
                )
            if not f.attrs.get("initialized", False):
                # Killed while being created: nothing in it is worth keeping.
                f.close()
                path.unlink()
                return cls._create(path, sweep)
            stored = f.attrs.get("spec_hash")
            if stored != sweep.definition_hash():
                src = f.attrs.get("source", "?")
                f.close()
                raise StoreMismatchError(
                    f"{path}: holds results of a different sweep definition (from "
                    f"{src}); the parameters, sampling, outputs or base case changed. "
                    "Use another --out, or --overwrite to start again"
                )
            return cls(path, f)
        if path.exists():
            path.unlink()
        return cls._create(path, sweep)

    @classmethod
    def _create(cls, path: Path, sweep: Sweep) -> SweepStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        t = sweep.table
        n = t.n
        # Written under a temporary name and renamed: a half-made file never
        # carries the final name.
        with h5py.File(tmp, "w") as f:
            a = f.attrs
            a["format"] = FORMAT
            a["format_version"] = FORMAT_VERSION
            try:
                from rexopt import __version__
            except Exception:  # pragma: no cover
                __version__ = "?"
            a["rexopt_version"] = __version__
            a["name"] = sweep.name
            a["kind"] = sweep.kind
            a["source"] = str(sweep.source or "")
            a["base_path"] = str(sweep.base_path or "")
            a["spec_hash"] = sweep.definition_hash()
            a["definition_toml"] = sweep.text
            a["definition_json"] = json.dumps(
                sweep.spec.model_dump(mode="json"), sort_keys=True
            )
            a["base_case_json"] = json.dumps(sweep.base_case, sort_keys=True)
            a["parameters"] = json.dumps(
                [
                    {"name": nm, "path": p, "type": ty}
                    for nm, p, ty in zip(t.names, t.paths, t.types, strict=True)
                ]
            )
            a["outputs"] = json.dumps(sweep.outputs)
            a["status_codes"] = json.dumps({str(k): v for k, v in STATUS_NAMES.items()})
            a["created_unix"] = time.time()
            a["runs"] = "[]"
            gi = f.create_group("inputs")
            for name, ty, col in zip(t.names, t.types, t.columns, strict=True):
                if ty == "str":
                    enc = [str(v).encode() for v in col]
                    w = max(1, max(len(e) for e in enc))
                    ds = gi.create_dataset(name, data=np.array(enc, dtype=f"S{w}"))
                else:
                    ds = gi.create_dataset(name, data=np.asarray(col, dtype="f8"))
                ds.attrs["path"] = t.paths[t.names.index(name)]
                ds.attrs["type"] = ty
            go = f.create_group("outputs")
            for o in sweep.outputs:
                go.create_dataset(o, data=np.full(n, np.nan))
            f.create_dataset("status", data=np.zeros(n, dtype="i1"))
            f.create_dataset("message", data=np.zeros(n, dtype=f"S{MESSAGE_BYTES}"))
            f.create_dataset("worker", data=np.zeros(n, dtype=f"S{WORKER_BYTES}"))
            f.create_dataset("attempts", data=np.zeros(n, dtype="i2"))
            gt = f.create_group("timing")
            gt.create_dataset("started_unix", data=np.full(n, np.nan))
            gt.create_dataset("duration_s", data=np.full(n, np.nan))
            f.create_dataset("done", data=np.zeros(n, dtype=bool))
            a["initialized"] = True
        os.replace(tmp, path)
        return cls(path, h5py.File(path, "r+"))

    # ------------------------------------------------------------ state
    def pending(self, *, retry_failed: bool = False) -> np.ndarray:
        """Indices still to compute (and failed ones with ``retry_failed``)."""
        todo = ~self.done
        if retry_failed:
            todo |= self.status == FAILED
        return np.flatnonzero(todo)

    def inputs(self, idx: np.ndarray) -> list[tuple]:
        """Input rows of scenarios ``idx`` as stored (the file is the truth)."""
        params = self.__dict__.get("_params")
        if params is None:
            params = self._params = json.loads(self.f.attrs["parameters"])
        cols = []
        for p in params:
            col = self._cached_input(p["name"])
            cols.append(col[idx])
        return list(zip(*cols, strict=True))

    def _cached_input(self, name: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_inputs", {})
        if name not in cache:
            arr = self.f["inputs"][name][...]
            if arr.dtype.kind == "S":
                arr = np.array(_decode(arr), dtype=object)
            cache[name] = arr
        return cache[name]

    def counts(self) -> dict[str, int]:
        st = np.where(self.done, self.status, PENDING)
        return {name: int(np.sum(st == code)) for code, name in STATUS_NAMES.items()}

    # ------------------------------------------------------------ writing
    def _datasets(self) -> dict:
        ds = self.__dict__.get("_ds")
        if ds is None:
            f = self.f
            ds = {
                "outputs": [f["outputs"][o] for o in self.outputs],
                "status": f["status"],
                "message": f["message"],
                "worker": f["worker"],
                "attempts": f["attempts"],
                "started_unix": f["timing"]["started_unix"],
                "duration_s": f["timing"]["duration_s"],
                "done": f["done"],
            }
            self._ds = ds
        return ds

    def write(self, res: BatchResult, attempts: int = 1) -> None:
        """Write one batch: results, flush, done flags, flush."""
        self.write_many([(res, attempts)])

    def write_many(self, batch: list[tuple[BatchResult, int]]) -> None:
        """Write finished batches as one commit: results, flush, done flags, flush.

        The done flags go to disk only after the results they vouch for.
        """
        if not batch:
            return
        idx = np.concatenate([np.asarray(r.indices) for r, _ in batch])
        order = np.argsort(idx, kind="stable")
        idx = idx[order]
        outs = np.concatenate([r.outputs for r, _ in batch])[order]
        st = np.concatenate([r.status for r, _ in batch]).astype("i1")[order]
        msgs = [m for r, _ in batch for m in r.messages]
        msg = np.array(
            [_encode(msgs[i], MESSAGE_BYTES) for i in order], dtype=f"S{MESSAGE_BYTES}"
        )
        wrk = np.array(
            [_encode(r.worker, WORKER_BYTES) for r, _ in batch for _ in r.indices],
            dtype=f"S{WORKER_BYTES}",
        )[order]
        att = np.concatenate(
            [np.full(len(r.indices), a, dtype="i2") for r, a in batch]
        )[order]
        t0 = np.concatenate([r.started_unix for r, _ in batch])[order]
        dt = np.concatenate([r.duration_s for r, _ in batch])[order]
        ds = self._datasets()
        runs = _runs(idx)
        for lo, hi, sel in runs:
            for k, d in enumerate(ds["outputs"]):
                d[sel] = outs[lo:hi, k]
            ds["status"][sel] = st[lo:hi]
            ds["message"][sel] = msg[lo:hi]
            ds["worker"][sel] = wrk[lo:hi]
            ds["attempts"][sel] = att[lo:hi]
            ds["started_unix"][sel] = t0[lo:hi]
            ds["duration_s"][sel] = dt[lo:hi]
        self.f.flush()
        for lo, hi, sel in runs:
            ds["done"][sel] = np.ones(hi - lo, dtype=bool)
        self.f.flush()
        self.done[idx] = True
        self.status[idx] = st

    def undo(self, idx: np.ndarray) -> None:
        """Clear the done flags of ``idx`` (before recomputing them)."""
        if len(idx) == 0:
            return
        idx = np.sort(np.asarray(idx))
        ds = self._datasets()
        for lo, hi, sel in _runs(idx):
            ds["done"][sel] = np.zeros(hi - lo, dtype=bool)
        self.f.flush()
        self.done[idx] = False

    def record_run(self, info: dict) -> None:
        runs = json.loads(self.f.attrs.get("runs", "[]"))
        runs.append(info)
        self.f.attrs["runs"] = json.dumps(runs)
        self.f.flush()

    def close(self) -> None:
        try:
            self.f.close()
        except Exception:  # pragma: no cover - already closed
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _runs(idx: np.ndarray) -> list[tuple[int, int, slice]]:
    """Sorted indices -> contiguous runs (lo, hi, file slice) of positions."""
    if len(idx) == 0:
        return []
    cuts = np.flatnonzero(np.diff(idx) != 1) + 1
    bounds = np.concatenate([[0], cuts, [len(idx)]])
    return [
        (int(a), int(b), slice(int(idx[a]), int(idx[b - 1]) + 1))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


# ------------------------------------------------------------------ reading


def open_for_reading(path: str | Path) -> h5py.File:
    """Open read-only, also while a sweep is writing it.

    Without HDF5 file locking a reader in another process can look at a file that a
    running sweep holds open; inside the writer's own process HDF5 insists on the
    same locking setting, so fall back to the default there.
    """
    try:
        return h5py.File(path, "r", locking=False)
    except OSError:
        return h5py.File(path, "r")


def read_definition(path: str | Path) -> dict:
    """The sweep's stored definition: attrs decoded (TOML text, JSON parsed)."""
    with open_for_reading(path) as f:
        a = f.attrs
        if a.get("format") != FORMAT:
            raise ValueError(f"{path}: not a rexopt sweep file")
        return {
            "name": str(a["name"]),
            "kind": str(a["kind"]),
            "source": str(a["source"]),
            "spec_hash": str(a["spec_hash"]),
            "definition_toml": str(a["definition_toml"]),
            "spec": json.loads(a["definition_json"]),
            "base_case": json.loads(a["base_case_json"]),
            "parameters": json.loads(a["parameters"]),
            "outputs": json.loads(a["outputs"]),
            "runs": json.loads(a.get("runs", "[]")),
            "n": int(f["done"].shape[0]),
        }


def read_results(path: str | Path, *, done_only: bool = False):
    """The sweep file as a pandas DataFrame, one row per scenario.

    Columns: the parameters, the outputs, ``status`` (pending | ok | infeasible |
    failed), ``message``, ``worker``, ``attempts``, ``started_unix`` [s],
    ``duration_s`` [s] and ``done``; index ``scenario``.
    """
    import pandas as pd

    with open_for_reading(path) as f:
        if f.attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a rexopt sweep file")
        params = json.loads(f.attrs["parameters"])
        outputs = json.loads(f.attrs["outputs"])
        done = f["done"][...].astype(bool)
        cols: dict[str, object] = {}
        for p in params:
            arr = f["inputs"][p["name"]][...]
            if arr.dtype.kind == "S":
                arr = np.array(_decode(arr), dtype=object)
            elif p["type"] == "int":
                arr = arr.astype(np.int64)
            elif p["type"] == "bool":
                arr = arr.astype(bool)
            cols[p["name"]] = arr
        for o in outputs:
            cols[o] = f["outputs"][o][...]
        st = np.where(done, f["status"][...], PENDING)
        cols["status"] = pd.Categorical.from_codes(
            st.astype(int), categories=[STATUS_NAMES[k] for k in range(4)]
        )
        cols["message"] = _decode(f["message"][...])
        cols["worker"] = _decode(f["worker"][...])
        cols["attempts"] = f["attempts"][...].astype(int)
        cols["started_unix"] = f["timing"]["started_unix"][...]
        cols["duration_s"] = f["timing"]["duration_s"][...]
        cols["done"] = done
    df = pd.DataFrame(cols)
    df.index.name = "scenario"
    if done_only:
        df = df[df["done"]]
    return df
