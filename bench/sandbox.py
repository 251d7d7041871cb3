"""What judging each candidate alone costs: one sandbox run per candidate vs. one shared run.

Cases: small typed functions with doctests, four candidates each (two right, two wrong)
plus the document with the hole filled (the baseline the validator runs too). For every
case, in turns:

* shared: every program of the case in ONE sandbox run, the in-sandbox runner forking
  them one after another (how `validators.execution` worked before issue 16: candidates
  shared a uid, a process budget, /tmp and a parent);
* alone: `validators.execution.execute`, a sandbox run of its own per program, over the
  sandbox's two slots (what the product does now);
* full chain: syntax, mypy (a warm daemon) and the embedded tests through
  `codegen.pipeline.validate`, as an editor request runs them, per candidate.

Both sandbox paths must give the same verdicts. Printed: p50 / p90 milliseconds per case
and per candidate, and the ratio alone / shared. Run it on an idle machine.

Usage: ``.venv/bin/python -m bench.sandbox [--rounds 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

from codegen.pipeline import validate
from codegen.types import Candidate, CompletionRequest
from prompts.context import function_context, render_checks
from validators import Validator, close_validators, create_validators
from validators.embedded import EmbeddedTestsValidator, hole_filled, probes_for
from validators.execution import JOB_FILE, Job, execute, runner_source
from validators.sandbox import Program, Sandbox

CASES = [
    ("def double(x: int) -> int:\n    \"\"\"Twice x.\n\n    >>> double(2)\n    4\n"
     "    >>> double(-3)\n    -6\n    \"\"\"\n    return ",
     ["2 * x", "x + x", "x * x", "x + 2"]),
    ("def clamp(value: int, low: int, high: int) -> int:\n    \"\"\"Clamp.\n\n"
     "    >>> clamp(5, 0, 3)\n    3\n    >>> clamp(-1, 0, 3)\n    0\n    \"\"\"\n    return ",
     ["max(low, min(value, high))", "min(high, max(value, low))", "max(low, value)",
      "min(value, high)"]),
    ("def words(text: str) -> list[str]:\n    \"\"\"Split.\n\n    >>> words('a b  c')\n"
     "    ['a', 'b', 'c']\n    \"\"\"\n    return ",
     ["text.split()", "[w for w in text.split(' ') if w]", "text.split(' ')", "list(text)"]),
    ("def total(prices: dict[str, float]) -> float:\n    \"\"\"Sum.\n\n"
     "    >>> total({'a': 1.5, 'b': 2.0})\n    3.5\n    \"\"\"\n    return ",
     ["sum(prices.values())", "float(sum(prices.values()))", "len(prices)",
      "max(prices.values())"]),
    ("def is_even(n: int) -> bool:\n    \"\"\"Even?\n\n    >>> is_even(4)\n    True\n"
     "    >>> is_even(7)\n    False\n    \"\"\"\n    return ",
     ["n % 2 == 0", "not n % 2", "n % 2 == 1", "bool(n % 2)"]),
]


def case_job(document: str, candidates: list[str]) -> Job:
    """The job the embedded validator builds for a case (candidates, baseline, checks)."""
    offset = len(document)
    context = function_context(document + "\n", offset, {}, path="case.py")
    assert context is not None
    checks = render_checks(context)
    baseline = hole_filled(document + "\n", offset, offset)
    programs = [document + text + "\n" for text in candidates] + [baseline or ""]
    validator = EmbeddedTestsValidator()
    return validator.job_for(programs, checks, probes_for(context, checks, 40), 20.0, {}, "")


def shared(sandbox: Sandbox, job: Job) -> list[bool]:
    """Every program in one sandbox run (the runner forks them in turn)."""
    result = sandbox.run_many([Program(runner_source(), files={
        JOB_FILE: json.dumps(job.as_json(job.programs))}, args=(JOB_FILE,))])[0]
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    return [bool(r["loaded"] and all(r["checks"])) for r in reports]


def alone(sandbox: Sandbox, job: Job) -> list[bool]:
    """A sandbox run of its own per program (the product)."""
    return [r.loaded and all(bool(c) for c in r.checks) for r in execute(sandbox, job).reports]


def chain(validators: tuple[Validator, ...], document: str, candidates: list[str],
          root: str) -> None:
    """Syntax, mypy and the embedded tests on a case's candidates, as a request runs them."""
    offset = len(document)
    request = CompletionRequest(text=document + "\n", offset=offset, path="case.py", root=root)
    pool = [Candidate(text, text, offset, -1.0) for text in candidates]
    validate(pool, request, validators)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    jobs = [case_job(document, candidates) for document, candidates in CASES]
    times: dict[str, list[float]] = {"shared": [], "alone": [], "chain": []}
    with tempfile.TemporaryDirectory() as root, Sandbox() as sandbox:
        validators = create_validators()
        try:
            for (document, candidates), job in zip(CASES, jobs, strict=True):
                chain(validators, document, candidates, root)  # warm mypy for the case
                if shared(sandbox, job) != alone(sandbox, job):
                    raise SystemExit(f"verdicts differ on {document.splitlines()[0]}")
            for _ in range(args.rounds):
                for (document, candidates), job in zip(CASES, jobs, strict=True):
                    for name in ("shared", "alone", "chain"):
                        started = time.perf_counter()
                        if name == "shared":
                            shared(sandbox, job)
                        elif name == "alone":
                            alone(sandbox, job)
                        else:
                            chain(validators, document, candidates, root)
                        times[name].append((time.perf_counter() - started) * 1000)
        finally:
            close_validators(validators)
    per = len(CASES[0][1])
    print(f"{len(CASES)} cases x {args.rounds} rounds, {per} candidates + baseline per case")
    print("| path | case p50 ms | case p90 ms | per candidate p50 ms |")
    print("|---|---:|---:|---:|")
    for name, label in (("shared", "one shared run (before)"), ("alone", "a run per program"),
                        ("chain", "syntax + mypy + tests (a run per program)")):
        values = times[name]
        print(f"| {label} | {statistics.median(values):.0f} | {percentile(values, 0.9):.0f} "
              f"| {statistics.median(values) / per:.0f} |")
    ratio = statistics.median(times["alone"]) / statistics.median(times["shared"])
    print(f"alone / shared p50: {ratio:.2f}x; load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
