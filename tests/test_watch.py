"""The clock of a long solve (rexopt.watch): a cascade's time limit stops it in
words, naming the phase; its progress is logged once it runs past QUIET_S.

The clock is replaced by one the test drives (``watch._now``), so nothing here
depends on how fast this machine is."""

from __future__ import annotations

import copy
import logging
import math

import pytest

from rexopt import watch
from rexopt.cascade import Cascade, CascadeError, CascadeTimeLimit

from .conftest import CASES, prnd_case
from .test_kernel_regressions import _cold_fails_at, load


class Clock:
    """A clock that stands still unless told: ``t`` [s]; ``jump(when)`` moves it
    to ``at`` the first time ``when(current watch)`` holds."""

    def __init__(self):
        self.t = 0.0
        self.when = None
        self.at = 0.0

    def __call__(self) -> float:
        w = watch._current.get()
        if self.when is not None and w is not None and self.when(w):
            self.t, self.when = self.at, None
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(watch, "_now", c)
    return c


@pytest.fixture(autouse=True)
def cascade_log_as_found():
    """The ``rexopt.cascade`` logger as a fresh process has it, and back after:
    a command run in this process (``CliRunner``, here or in test_cli) installs
    its progress handler there and stops propagation, so caplog would see
    nothing in whichever test runs after it in the same worker."""
    log = logging.getLogger("rexopt.cascade")
    saved = (list(log.handlers), log.propagate, log.level)
    log.handlers, log.propagate, log.level = [], True, logging.NOTSET
    yield
    log.handlers, log.propagate, log.level = list(saved[0]), saved[1], saved[2]


def test_quiet_before_quiet_s_then_each_phase_and_a_heartbeat(clock, caplog):
    """Nothing is logged while the solve is shorter than QUIET_S; past it, the
    phase it is in (once), every phase entered after, and the phase still
    running every HEARTBEAT_S, with its detail and the counts."""
    caplog.set_level(logging.INFO, logger="rexopt.cascade")
    with watch.watching("cascade 'x'") as w:
        watch.tick()
        watch.enter("organic-flow walk")
        clock.t = watch.QUIET_S - 0.1
        watch.tick()
        assert caplog.messages == []
        clock.t = watch.QUIET_S
        watch.tick()
        watch.tick()  # the same phase, before the heartbeat: not said again
        assert caplog.messages == [
            "cascade 'x': organic-flow walk, 2.0 s in, after 3 kernel solves and 0 "
            "arclength steps"
        ]
        watch.enter("arclength continuation")
        watch.note("path from the organic's base x 0.5")
        watch.tick("step")
        clock.t += watch.HEARTBEAT_S - 1.0
        watch.tick("step")
        assert len(caplog.messages) == 2
        clock.t += 1.0
        watch.tick("step")
        assert caplog.messages[1:] == [
            "cascade 'x': arclength continuation, 2.0 s in, after 4 kernel solves "
            "and 0 arclength steps",
            "cascade 'x': still in arclength continuation (path from the organic's "
            "base x 0.5), 32.0 s in, after 4 kernel solves and 3 arclength steps",
        ]
        assert w.history() == (
            "cold start at 0.0 s, organic-flow walk at 0.0 s, arclength "
            "continuation at 2.0 s"
        )
    watch.tick()  # outside a watch: nothing counts, nothing is raised
    assert w.kernel_calls == 4


def test_a_watch_stops_past_its_limit_and_nested_watches_keep_the_earlier_end(clock):
    with watch.watching("a", 10.0) as outer:
        clock.t = 10.0
        watch.tick()  # at the limit: not past it
        with watch.watching("b") as inner:  # no limit of its own: the outer goes on
            assert inner is outer
        with watch.watching("c", 60.0) as own:  # its own limit, cut to the outer's end
            assert own is not outer and own.limit_s == 0.0
            clock.t = 10.5
            with pytest.raises(watch.TimeLimitReached) as err:
                watch.tick("step")
            assert str(err.value) == (
                "cold start, 0.5 s in, after 0 kernel solves and 1 arclength steps"
            )
        with pytest.raises(watch.TimeLimitReached):
            watch.tick()
    assert watch._current.get() is None


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, True, "60"])
def test_a_time_limit_that_is_not_a_positive_number_is_refused(bad):
    with pytest.raises(ValueError) as err:
        Cascade(prnd_case()).simulate(time_limit_s=bad)
    assert str(err.value) == (
        f"time_limit_s = {bad!r}: allowed a number of seconds above 0, or None "
        f"(no limit)"
    )


def test_the_time_limit_stops_the_stage_count_walk_and_says_so(monkeypatch, clock):
    """Sm/Eu/Gd 38 + 28 + 3 with every cold solve of the whole case failing
    (as in test_kernel_regressions): the clock jumps past the limit once the
    stage-count walk gives the extraction stages back, and simulate ends with a
    CascadeTimeLimit naming that phase, where in it, and every phase run --
    not the acid budget's or a fallback's error."""
    case = load("smeugd_38_28_3.toml")
    _cold_fails_at(monkeypatch, 69)
    clock.when = lambda w: "given back" in w.detail
    clock.at = 100.0
    with pytest.raises(CascadeTimeLimit) as err:
        Cascade(case).simulate(branch_search=False, time_limit_s=60.0)
    e = err.value
    assert isinstance(e, CascadeError)
    assert e.phase == "stage-count walk" and e.elapsed_s == 100.0
    assert str(e).startswith(
        "no steady state found within the time limit of 60 s: stopped in the "
        "stage-count walk (the extraction section given back 4 of 38 stages), "
        "100.0 s in, after "
    ), str(e)
    assert (
        "phases run: cold start at 0.0 s, organic-flow walk at 0.0 s, feed walk at "
        "0.0 s, stage-count walk at 0.0 s.  This proves nothing about the steady "
        "state"
    ) in str(e)
    # without the limit the same solve ends by that walk (the limit changed nothing
    # before it was reached)
    clock.when = None
    r = Cascade(case).simulate(branch_search=False)
    assert r.convergence["start"].startswith("stage-count walk: ")


def test_the_time_limit_stops_an_organic_loop_at_its_pass(clock):
    """An organic loop (Pr/Nd, the stripped organic returning; one strip stage,
    so the organic returns loaded and the loop takes passes to close): stopped at
    its third pass, the error names the loop, the pass, and how far the best
    solved pass was from closing."""
    case = prnd_case()
    case["organic"]["recycle"] = True
    case["sections"]["strip"]["stages"] = 1
    free = Cascade(copy.deepcopy(case)).simulate(branch_search=False)
    assert free.convergence["organic_loop_passes"] >= 3
    clock.when = lambda w: w.detail.startswith("pass 3;")
    clock.at = 5.0
    with pytest.raises(CascadeTimeLimit) as err:
        Cascade(case).simulate(branch_search=False, time_limit_s=1.0)
    assert err.value.phase == "organic loop"
    assert str(err.value).startswith(
        "no steady state found within the time limit of 1 s: stopped in the "
        "organic loop (pass 3; the best solved pass off by "
    ), str(err.value)


def test_simulate_logs_the_phases_of_a_long_solve(clock, caplog):
    """A solve whose clock runs past QUIET_S logs its phase, then the branch
    search it enters; the answer is the same as unwatched."""
    caplog.set_level(logging.INFO, logger="rexopt.cascade")
    clock.when = lambda w: w.kernel_calls >= 1
    clock.at = watch.QUIET_S
    r = Cascade(prnd_case()).simulate()
    name = "cascade 'test Pr/Nd'"
    assert caplog.messages[0].startswith(f"{name}: cold start, 2.0 s in, after 1 ")
    assert caplog.messages[1].startswith(f"{name}: branch search, 2.0 s in, ")
    assert r.convergence["status"] == "converged"


def test_the_cli_prints_progress_on_stderr_and_the_result_on_stdout(monkeypatch, clock):
    """rexopt simulate: the progress messages go to standard error (so standard
    output keeps the result alone)."""
    from typer.testing import CliRunner

    from rexopt import cli

    clock.when = lambda w: w.kernel_calls >= 1
    clock.at = watch.QUIET_S
    out = CliRunner().invoke(cli.app, ["simulate", str(CASES / "prnd_p507.toml")])
    assert out.exit_code == 0, out.output
    assert (
        "... cascade 'Pr/Nd split, saponified P507 in HCl': cold start, 2.0 s in"
        in (out.stderr)
    )
    assert "strip_liquor" in out.stdout and "cascade '" not in out.stdout
