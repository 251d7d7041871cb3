"""Each candidate is judged alone: what one does never changes a neighbour's verdict."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.hostile import HOSTILE, PROMPT, placements
from validators.execution import Job, execute
from validators.sandbox import Sandbox, SandboxLimits


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxLimits(wall_seconds=30.0)) as box:
        yield box


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("payload", sorted(HOSTILE))
def test_a_hostile_candidate_fails_alone_in_any_position(sandbox: Sandbox, payload: str) -> None:
    hostile = HOSTILE[payload]
    for where, bodies in placements(hostile):
        job = Job(tuple(PROMPT + body for body in bodies), checks=("assert double(2) == 4",),
                  probes=("double(3)",), program_timeout=2.0, call_timeout=1.0, budget=2.0)
        outcome = execute(sandbox, job)
        passed = [report.loaded and report.passed == 1 for report in outcome.reports]
        bad = bodies.index(hostile)
        assert passed == [i != bad for i in range(len(bodies))], (where, outcome.reports)
        assert [r.probes for i, r in enumerate(outcome.reports) if i != bad] == [("6",)] * 3


SLEEPY = "import time\ntime.sleep({seconds})\ndef double(x):\n    return 2 * x\n"


@pytest.mark.usefixtures("needs_sandbox")
def test_what_the_budget_cuts_is_not_run_never_failed() -> None:
    # One slot, three programs of 0.8 s each, a 2 s budget: the third cannot finish in time.
    job = Job(tuple(SLEEPY.format(seconds=0.8) for _ in range(3)),
              checks=("assert double(2) == 4",))
    with Sandbox(SandboxLimits(wall_seconds=30.0), slots=1) as sandbox:
        outcome = execute(sandbox, job, budget=2.0)
    reports = outcome.reports
    assert reports[0].ran and reports[0].passed == 1, reports
    assert all(r.passed == 1 or (not r.ran and "time budget (2 s) spent" in r.error)
               for r in reports), reports
    assert not reports[-1].ran, reports


@pytest.mark.usefixtures("needs_sandbox")
def test_a_program_that_needs_more_than_its_share_fails_on_its_own(sandbox: Sandbox) -> None:
    job = Job((SLEEPY.format(seconds=0.0), SLEEPY.format(seconds=5.0)),
              checks=("assert double(2) == 4",), program_timeout=10.0)
    outcome = execute(sandbox, job, budget=2.0)
    assert outcome.reports[0].passed == 1
    slow = outcome.reports[1]
    assert (slow.ran, slow.loaded, slow.error) == (True, False, "no report: killed by SIGKILL "
                                                                "after 1.5 s wall clock"), slow


@pytest.mark.usefixtures("needs_sandbox")
def test_cancel_kills_the_runs_at_once(sandbox: Sandbox) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    job = Job(tuple(SLEEPY.format(seconds=20.0) for _ in range(4)), program_timeout=30.0)
    outcome = execute(sandbox, job, cancel=cancel)
    assert time.monotonic() - started < 1.5
    assert [(r.ran, r.error) for r in outcome.reports] == [(False, "cancelled")] * 4
