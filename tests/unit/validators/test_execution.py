"""Each candidate is judged alone: what one does never changes a neighbour's verdict."""

from __future__ import annotations

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
