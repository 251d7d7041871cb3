"""The in-sandbox runner, run here directly on benign programs (the sandbox is tested apart)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from validators import runner

ADD = "def add(a, b):\n    return a + b\n"


def run(tmp_path: Path, job: dict[str, Any]) -> list[dict[str, Any]]:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", runner.__file__, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_probes_and_checks_per_program(tmp_path: Path) -> None:
    wrong = "def add(a, b):\n    return a - b\n"
    reports = run(
        tmp_path,
        {
            "programs": [ADD, wrong, "def add(:\n"],
            "probes": ["add(1, 2)", "add('a', 'b')"],
            "checks": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
        },
    )
    assert [r["index"] for r in reports] == [0, 1, 2]
    assert reports[0]["probes"] == ["3", "'ab'"] and reports[0]["checks"] == [True, True]
    assert reports[1]["probes"] == ["-1", "!TypeError"] and reports[1]["checks"] == [False, True]
    assert not reports[2]["loaded"] and reports[2]["error"].startswith("SyntaxError")


def test_a_slow_call_times_out_and_the_next_program_still_runs(tmp_path: Path) -> None:
    slow = "def add(a, b):\n    while True:\n        pass\n"
    job = {"programs": [slow, ADD], "probes": ["add(1, 2)"], "checks": [], "call_timeout": 0.3}
    reports = run(tmp_path, job)
    assert reports[0]["probes"] == ["!timeout"]
    assert reports[1]["probes"] == ["3"]


def test_candidate_output_and_exit_cannot_forge_the_report(tmp_path: Path) -> None:
    noisy = 'import sys, os\nprint(\'{"index": 9}\')\ndef add(a, b):\n    os._exit(0)\n'
    reports = run(tmp_path, {"programs": [noisy, ADD], "probes": ["add(1, 2)"]})
    assert not reports[0]["loaded"] and "died" in reports[0]["error"]
    assert reports[1]["probes"] == ["3"]


def test_state_does_not_leak_between_programs(tmp_path: Path) -> None:
    first = "import builtins\nbuiltins.len = lambda x: 0\n" + ADD
    reports = run(tmp_path, {"programs": [first, ADD], "probes": ["len([1, 2])"]})
    assert reports[0]["probes"] == ["0"] and reports[1]["probes"] == ["2"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"b", "a"}, "{'a', 'b'}"),  # sets in a stable order
        (0.1 + 0.2, "0.3"),  # float noise below 9 significant digits
        ({2: [1.0, {3}]}, "{2: [1.0, {3}]}"),
        (float("nan"), "nan"),
        (object(), "<object>"),  # no memory addresses
    ],
)
def test_canonical(value: object, text: str) -> None:
    assert runner.canonical(value) == text


def test_checks_run_before_probes_and_probes_get_a_share_of_the_budget(tmp_path: Path) -> None:
    # Invented inputs that take long must not use up the time the user's tests need.
    slow = ("import time\ndef add(a, b):\n    if a > 100:\n        time.sleep(0.4)\n"
            "    return a + b\n")
    job = {
        "programs": [slow],
        "probes": [f"add({n}, 1)" for n in range(101, 111)],
        "checks": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"],
        "call_timeout": 1.0, "budget": 2.0, "probe_share": 0.5,
    }
    [report] = run(tmp_path, job)
    assert report["checks"] == [True, True]
    assert report["probes"][0] == "102" and report["probes"][-1] == "!budget"
    assert report["probes"].count("!budget") >= 6  # about 1 s of 0.4 s probes ran


def test_a_check_that_does_not_finish_fails(tmp_path: Path) -> None:
    endless = "def add(a, b):\n    while True:\n        pass\n"
    job = {"programs": [endless], "checks": ["assert add(1, 2) == 3"], "call_timeout": 0.3}
    [report] = run(tmp_path, job)
    assert report["checks"] == [False]
