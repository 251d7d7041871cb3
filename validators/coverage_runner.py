"""In-sandbox runner for generated unit tests: each test in a fresh child, twice, with coverage.

Run inside the sandbox as the program, beside ``testjob.json``, the module under test (at its
import path) and one file per test. For every run and every test it forks a child that
reseeds `random`, starts coverage.py (branch mode, measuring only the module under test),
imports the test file, calls the test function with an alarm, stops coverage and writes one
JSON line back to the parent: passed or not, the error, and the lines and arcs of the module
that ran. The parent prints those lines in order. Only the standard library and coverage.py
(and pytest, for the tests that use it) are imported, from the directories the job names.

Standalone on purpose: the host never imports it, and nothing here imports the host's code.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import signal
import sys
import traceback
from typing import Any


class _Timeout(BaseException):
    """The test ran past its time."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _measure(job: dict[str, Any], test: dict[str, Any], cov: Any) -> dict[str, Any]:
    """Run one test under coverage in this (child) process; return what happened."""
    random.seed(os.urandom(16))
    module_file = os.path.abspath(job["module_file"])
    result: dict[str, Any] = {"index": test["index"], "passed": False, "error": ""}
    cov.start()
    try:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(job["timeout"]))
        try:
            module = importlib.import_module(test["module"])
            getattr(module, test["name"])()
            result["passed"] = True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Timeout:
        result["error"] = f"timed out after {job['timeout']} s"
    except AssertionError as exc:
        result["error"] = "AssertionError: " + (str(exc) or _assert_line(exc))
    except BaseException as exc:  # noqa: BLE001 - anything a test does is its verdict
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        cov.stop()
    data = cov.get_data()
    result["lines"] = sorted(data.lines(module_file) or [])
    result["arcs"] = sorted(data.arcs(module_file) or [])
    return result


def _assert_line(exc: BaseException) -> str:
    """The source line of a bare failing assert."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (frames[-1].line or "assert failed") if frames else "assert failed"


def _run_child(job: dict[str, Any], test: dict[str, Any], cov: Any, write_fd: int) -> None:
    try:
        result = _measure(job, test, cov)
    except BaseException as exc:  # noqa: BLE001 - report, never crash the parent
        result = {"index": test["index"], "passed": False, "error": f"runner: {exc!r}"[:500]}
    with os.fdopen(write_fd, "w") as out:
        out.write(json.dumps(result))
    os._exit(0)


def run_one(job: dict[str, Any], test: dict[str, Any], cov: Any) -> dict[str, Any]:
    """Fork a child for one test and collect its report (a crash or kill is a failure)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _run_child(job, test, cov, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        text = reader.read()
    _, status = os.waitpid(pid, 0)
    if text:
        report: dict[str, Any] = json.loads(text)
        return report
    why = f"killed by signal {-os.waitstatus_to_exitcode(status)}" if os.WIFSIGNALED(status) else (
        f"exited with status {os.waitstatus_to_exitcode(status)}"
    )
    return {"index": test["index"], "passed": False, "error": f"the test process {why}"}


def main(argv: list[str]) -> int:
    """Read the job, run every test `runs` times, print one JSON line per test and run."""
    with open(argv[0] if argv else "testjob.json", encoding="utf-8") as handle:
        job = json.load(handle)
    for path in reversed(job.get("paths", [])):
        sys.path.insert(0, path)
    sys.path.insert(0, os.getcwd())
    sys.dont_write_bytecode = True
    # Imported and set up once here: every child inherits it through fork, not started.
    import coverage

    module_file = os.path.abspath(job["module_file"])
    cov = coverage.Coverage(branch=True, data_file=None, include=[module_file])
    for run in range(int(job["runs"])):
        for test in job["tests"]:
            report = run_one(job, test, cov)
            report["run"] = run
            print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
