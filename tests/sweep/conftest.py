"""Fixtures for the sweep tests: sweep files on disk and one real LocalCluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# Worker processes are spawned with this process's sys.path; make the helper
# module importable there as "sweep_models" whatever pytest's import mode.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def write_sweep(tmp_path):
    def _write(text: str, name: str = "sweep.toml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p

    return _write


@pytest.fixture(scope="module")
def dask_client():
    """A real LocalCluster: 2 worker processes, 1 thread each."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="2GB",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
