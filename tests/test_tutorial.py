"""Run docs/tutorial.md: every command and every code block, in order.

Conventions of the tutorial (kept simple so a reader sees plain Markdown):

- ```` ```console ```` blocks: each line starting with ``$ `` is a shell command, run
  in the tutorial's work folder (``work/``, beside a ``cases`` link to the bundled
  cases) with the ``rexopt`` of this Python; it must exit 0.
- ```` ```python ```` blocks: executed in one shared namespace, in order.
- ```` ```toml ```` blocks: parsed (they must be valid TOML); one preceded by
  ``<!-- file: NAME -->`` is also written to ``NAME`` in the work folder.
- ``<!-- slow -->`` before a block: run only by the slow test.
- The first command, ``mkdir -p work``, makes the work folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tutorial.md"

_FENCE = re.compile(
    r"(?P<marks>(?:<!--[^>]*-->\s*\n)*)```(?P<lang>\w+)[^\n]*\n(?P<body>.*?)\n```",
    re.S,
)


def blocks():
    """(lang, body, file name or None, slow) for every fenced block, in order."""
    out = []
    for m in _FENCE.finditer(DOC.read_text(encoding="utf-8")):
        marks = m.group("marks")
        f = re.search(r"<!--\s*file:\s*(\S+)\s*-->", marks)
        slow = "<!-- slow -->" in marks
        out.append((m.group("lang"), m.group("body"), f.group(1) if f else None, slow))
    return out


def run_tutorial(tmp_path: Path, include_slow: bool, monkeypatch) -> int:
    (tmp_path / "cases").symlink_to(ROOT / "cases")
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    work = tmp_path / "work"
    ns: dict = {"__name__": "__tutorial__"}
    ran = 0
    for lang, body, fname, slow in blocks():
        if slow and not include_slow:
            continue
        if lang == "toml":
            tomllib.loads(body)  # every TOML shown is valid
            if fname:
                (work / fname).write_text(body + "\n", encoding="utf-8")
            ran += 1
        elif lang == "console":
            for line in body.splitlines():
                if not line.startswith("$ "):
                    continue
                cmd = line[2:]
                cwd = tmp_path if cmd.startswith("mkdir -p work") else work
                out = subprocess.run(
                    cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True
                )
                assert out.returncode == 0, (
                    f"tutorial command failed: {cmd}\n{out.stdout[-3000:]}\n"
                    f"{out.stderr[-3000:]}"
                )
                ran += 1
        elif lang == "python":
            monkeypatch.chdir(work)
            code = compile(body, f"{DOC.name} python block", "exec")
            exec(code, ns)  # noqa: S102 - the tutorial's own code
            ran += 1
        # text blocks are output examples: not run
    return ran


def test_tutorial_blocks_are_found():
    kinds = [b[0] for b in blocks()]
    assert kinds.count("console") >= 6 and kinds.count("python") >= 5
    files = [b[2] for b in blocks() if b[2]]
    assert "my_lace.toml" in files and "my_window.toml" in files


@pytest.mark.integration
def test_tutorial_runs(tmp_path, monkeypatch):
    n = run_tutorial(tmp_path, include_slow=False, monkeypatch=monkeypatch)
    assert n >= 15
    work = tmp_path / "work"
    png = work / "my_lace_profile.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert (work / "my_lace_designed.toml").exists()
    assert (work / "my_window.csv").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_tutorial_runs_with_the_plant(tmp_path, monkeypatch):
    run_tutorial(tmp_path, include_slow=True, monkeypatch=monkeypatch)
    assert any((tmp_path / "work" / "my_plant").iterdir())
