"""`vetted batch` and `vetted eval` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_replay

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("needs_sandbox")]

EVAL_DATA = Path(__file__).parents[1] / "workspaces" / "evaldata"


def vetted(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def without_timings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "timings"} for row in rows]


def test_malformed_lines_become_error_records_and_every_id_comes_out_once(
    tmp_path: Path,
) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a - b", -0.5)])
    lines = [
        json.dumps({"id": "sub", "prompt": "def sub(a, b):\n    "}),
        "{not json",
        json.dumps({"id": 7, "prefix": "def sub(a, b):\n    ", "suffix": "\n",
                    "tests": ["assert sub(3, 1) == 2"]}),
        json.dumps({"prompt": "x = "}),  # no id
        json.dumps({"id": "sub", "prompt": "again"}),  # a repeated id
        json.dumps({"id": "big", "prompt": "x", "n": "four"}),
        "",
        json.dumps({"id": "last", "prompt": "def sub(a, b):\n    ", "language": "rust"}),
        json.dumps({"id": "007", "prompt": "def sub(a, b):\n    "}),  # a string id stays one
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = vetted("batch", "in.jsonl", "-o", "out.jsonl", "--model", f"replay:{replay}",
                 "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = records(tmp_path / "out.jsonl")
    # In input order, one record per line with content, errors naming their line.
    assert [(r.get("id"), r.get("line"), "error" in r) for r in out] == [
        ("sub", None, False), (None, 2, True), (7, None, False), (None, 4, True),
        ("sub", 5, True), ("big", 6, True), ("last", 8, True), ("007", None, False),
    ]
    assert out[0]["completions"][0]["text"] == "return a - b"
    assert out[0]["completions"][0]["verdicts"]["syntax"]["ok"] is True
    tests = out[2]["completions"][0]["verdicts"]["tests"]
    assert tests == {"ok": True, "ran": True, "reason": "", "detail": "", "passed": 1, "total": 1}
    assert "n must be an integer" in out[5]["error"]
    assert "not supported" in out[6]["error"]


def test_a_killed_run_resumed_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1), ("a+", -2.0)])
    lines = [
        json.dumps({"id": f"r{i}", "prefix": f"def add_{i}(a, b):\n    ", "suffix": "\n",
                    "tests": [f"assert add_{i}({i}, 1) == {i + 1}"]})
        for i in range(24)
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "lsp_server", "batch", "in.jsonl", "--model",
               f"replay:{replay}", "--quiet", "--workers", "2"]
    whole = vetted(*command[3:], "-o", "whole.jsonl", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr

    process = subprocess.Popen([*command, "-o", "cut.jsonl"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cut = tmp_path / "cut.jsonl"
    deadline = time.monotonic() + 120
    while not cut.exists() or cut.read_text(encoding="utf-8").count("\n") < 5:
        assert process.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = cut.read_text(encoding="utf-8").count("\n")
    assert 5 <= written < 24
    resumed = vetted(*command[3:], "-o", "cut.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert without_timings(records(cut)) == without_timings(records(tmp_path / "whole.jsonl"))


def test_eval_scores_a_model_whose_answers_are_known(tmp_path: Path) -> None:
    # Two answers for every task: `a * b` is right for mul and wrong for add, `a + b` the
    # other way round. The raw first answer passes one task of two; the vetted one runs the
    # docstring examples and shows the right answer first on both.
    replay = write_replay(tmp_path / "model.jsonl", [("    return a * b\n", -0.1),
                                                     ("    return a + b\n", -0.3)])
    run = vetted("eval", "humaneval", "--data", str(EVAL_DATA), "--model", f"replay:{replay}",
                 "--n", "2", "--out", "report", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert summary["tasks"] == 2 and summary["pass@1"]["raw"] == 50.0
    assert summary["pass@2"]["raw"] == 100.0
    per_task = {t["task_id"]: t for t in report["per_task"]}
    assert per_task["Tiny/0"]["raw"] == [False, True] and per_task["Tiny/1"]["raw"] == [True, False]
    requests = (tmp_path / "report" / "requests.jsonl").read_text(encoding="utf-8")
    assert "check(candidate)" not in requests  # the hidden tests never reach the pipeline
    assert summary["pass@1"]["vetted"] == 100.0
