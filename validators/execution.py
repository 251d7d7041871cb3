"""Run candidate programs against checks and probes in the sandbox, each in a run of its own.

Every program gets a sandbox run of its own: its own process tree and pid namespace, its own
working folder and `/tmp`, its own limits, and (in a `Sandbox` slot) a uid no program running
at the same time shares. Inside, the in-sandbox runner (`validators/runner.py`) forks one
child to run it. What comes back is, per program, whether it loaded, the canonical value of
every probe (its behaviour, for execution agreement) and whether every check passed.

A program that stops its run (kills the runner, exhausts the run's processes or memory) gets
the failure itself; no other program's verdict depends on what it did. What a run of its own
costs per candidate is measured by `python -m bench.sandbox` (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from validators import runner
from validators.sandbox import Outcome as SandboxOutcome
from validators.sandbox import Program, RunResult, Sandbox

logger = logging.getLogger(__name__)

JOB_FILE = "job.json"
OWN_SHARE = 0.75
"""Most of a request's time budget one program's run may take alone."""
MAX_WALL_SECONDS = 900.0
"""Upper bound on one sandbox run, whatever the job's size."""


@cache
def runner_source() -> str:
    """The runner script, read once."""
    return Path(runner.__file__).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Job:
    """Programs to run, and what to run after each of them in its namespace."""

    programs: tuple[str, ...]
    probes: tuple[str, ...] = ()
    """Expressions whose values are a program's behaviour."""
    checks: tuple[str, ...] = ()
    """Statements (asserts) that pass when they run without raising."""
    program_timeout: float = 2.0
    """Seconds to load (execute) one program."""
    call_timeout: float = 1.0
    """Seconds for one probe or check."""
    budget: float = 5.0
    """Seconds for all checks and probes of one program; the rest are skipped."""
    probe_share: float = 0.5
    """At most this share of the budget goes to probes, which run after the checks."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Files beside every program (the workspace modules it imports), by import path."""
    package: str = ""
    """The package the programs belong to (`__package__`, for their relative imports)."""

    def as_json(self, programs: Sequence[str]) -> dict[str, Any]:
        """The runner's job format for a share of the programs."""
        return {
            "programs": list(programs),
            "probes": list(self.probes),
            "checks": list(self.checks),
            "program_timeout": self.program_timeout,
            "call_timeout": self.call_timeout,
            "budget": self.budget,
            "probe_share": self.probe_share,
            "package": self.package,
        }


@dataclass(frozen=True)
class Report:
    """What one program did."""

    loaded: bool
    """The program itself ran to its end without raising."""
    error: str = ""
    """Why it did not load (or why no report came back)."""
    probes: tuple[str, ...] = ()
    """Canonical value per probe; "!Name" for an exception, "!timeout", "!budget"."""
    checks: tuple[bool | None, ...] = ()
    """Per check: passed, failed (it raised or timed out), or None when it was skipped
    because the program's time budget was spent (no evidence either way)."""
    ran: bool = True
    """False when the program never ran to a report because the request was cancelled or
    its time budget was spent: no evidence either way (`error` says which)."""

    @property
    def passed(self) -> int:
        """How many checks passed."""
        return sum(1 for result in self.checks if result)


@dataclass(frozen=True)
class Outcome:
    """A job's result: one report per program, or why nothing could run."""

    reports: tuple[Report, ...] = ()
    unavailable: str = ""
    """Non-empty when the sandbox could not run anything: the reason, for the user."""


def execute(
    sandbox: Sandbox,
    job: Job,
    *,
    cancel: threading.Event | None = None,
    budget: float | None = None,
) -> Outcome:
    """Run every program of the job in a sandbox run of its own; reports keep program order.

    Setting `cancel`, or `budget` seconds passing, kills the runs still going: their
    programs are reported as not run (`Report.ran` False), never as failing. So that a
    program cannot hide behind the budget (a fork bomb that runs out the clock), each run
    alone gets at most `OWN_SHARE` of the budget: one that needs more fails on its own.
    """
    if not job.programs:
        return Outcome()
    reason = sandbox.probe()
    if reason is not None:
        return Outcome(unavailable=reason)
    own = None if budget is None else budget * OWN_SHARE
    runs = [_run_of(job, program, own) for program in job.programs]
    results = sandbox.run_many(runs, cancel=cancel, budget=budget)
    return Outcome(tuple(_report_of(result) for result in results))


def _report_of(result: RunResult) -> Report:
    """The runner's report of one run, or the run's own end when the runner gave none."""
    report = _parse(result.stdout)
    if report is not None:
        return report
    if result.outcome is SandboxOutcome.UNAVAILABLE:
        return Report(False, result.reason, ran=False)
    why = result.reason or "the runner stopped early"
    logger.info("sandbox run gave no report: %s", why)
    return Report(False, f"no report: {why}")


def _run_of(job: Job, program: str, own_seconds: float | None = None) -> Program:
    """The sandbox run of the runner over one of the job's programs."""
    wall = min(runner.program_seconds(job.as_json([])) + 5.0, MAX_WALL_SECONDS)
    return Program(
        runner_source(),
        files={**job.files, JOB_FILE: json.dumps(job.as_json([program]))},
        args=(JOB_FILE,),
        wall_seconds=wall if own_seconds is None else min(wall, own_seconds),
    )


def _parse(stdout: str) -> Report | None:
    """The runner's report line (the first line of its output), or None when malformed."""
    try:
        data = json.loads(stdout.split("\n", 1)[0])
        return Report(
            bool(data["loaded"]),
            str(data["error"]),
            tuple(str(p) for p in data["probes"]),
            tuple(None if c is None else bool(c) for c in data["checks"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
