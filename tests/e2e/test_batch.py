"""`vetted batch` and `vetted eval` as a user runs them: real subprocesses, real files."""

from __future__ import annotations

import json
import os
import resource
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
        json.dumps({"id": "last", "prompt": "def sub(a, b):\n    ", "language": "cobol"}),
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
    assert "language 'cobol' is not one of python, " in out[6]["error"]


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
    cut = tmp_path / "cut.jsonl.partial"  # the run under way appends here
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
    assert without_timings(records(tmp_path / "cut.jsonl")) == without_timings(
        records(tmp_path / "whole.jsonl"))
    assert not cut.exists()


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


def add_requests(count: int) -> list[str]:
    return [json.dumps({"id": f"r{i}", "prefix": f"def add_{i}(a, b):\n    ", "suffix": "\n"})
            for i in range(count)]


def batch(tmp_path: Path, replay: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return vetted("batch", "in.jsonl", "--model", f"replay:{replay}", "--quiet", *args,
                  cwd=tmp_path)


def test_a_request_out_of_range_is_its_own_error_record(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = [
        '{"id": "nan", "prompt": "x = ", "temperature": NaN}',  # Python's json reads NaN
        '{"id": "hot", "prompt": "x = ", "temperature": 1e9}',
        '{"id": "many", "prompt": "x = ", "n": 100000}',
        '{"id": "none", "prompt": "x = ", "max_new_tokens": 0}',
        '{"id": "yes", "prompt": "x = ", "n": true}',  # a bool is not an integer
        '{"id": true, "prompt": "x = "}',
        '{"id": "ok", "prompt": "x = ", "temperature": 0.5}',
    ]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = batch(tmp_path, replay, "-o", "out.jsonl")
    assert run.returncode == 0, run.stderr
    out = records(tmp_path / "out.jsonl")
    assert [("error" in r, r.get("id")) for r in out] == [
        (True, "nan"), (True, "hot"), (True, "many"), (True, "none"), (True, "yes"),
        (True, None), (False, "ok")]
    assert "temperature must be a number from 0 to 2, not nan" in out[0]["error"]
    assert "id must be a string or an integer" in out[5]["error"]


def test_error_records_are_retried_in_place(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = add_requests(3)
    broken = [lines[0], lines[1].replace('"suffix"', '"n": "four", "suffix"'), lines[2]]
    (tmp_path / "in.jsonl").write_text("\n".join(broken) + "\n", encoding="utf-8")
    assert batch(tmp_path, replay, "-o", "out.jsonl").returncode == 0
    assert ["error" in r for r in records(tmp_path / "out.jsonl")] == [False, True, False]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rerun = batch(tmp_path, replay, "-o", "out.jsonl")
    assert rerun.returncode == 0, rerun.stderr
    out = records(tmp_path / "out.jsonl")
    assert [(r["id"], "error" in r) for r in out] == [("r0", False), ("r1", False), ("r2", False)]


def test_the_output_may_not_be_the_input(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    data = "\n".join(add_requests(2)).encode("utf-8")  # no final newline
    (tmp_path / "in.jsonl").write_bytes(data)
    os.link(tmp_path / "in.jsonl", tmp_path / "linked.jsonl")
    for output in ("in.jsonl", "./in.jsonl", "linked.jsonl"):
        run = batch(tmp_path, replay, "-o", output)
        assert run.returncode == 2, run.stderr
        assert run.stderr.count("\n") == 1 and "is the input" in run.stderr, run.stderr
    assert (tmp_path / "in.jsonl").read_bytes() == data


def test_an_output_that_is_no_file_is_refused_not_read(tmp_path: Path) -> None:
    """Reading a pipe given as the output (``-o /dev/stdout | ...``) would wait forever."""
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    (tmp_path / "in.jsonl").write_text("\n".join(add_requests(1)) + "\n", encoding="utf-8")
    proc = subprocess.run(
        f"{sys.executable} -m lsp_server batch in.jsonl -o /dev/stdout --model replay:{replay} "
        "--quiet | cat", shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False)
    assert proc.stderr == ("vetted: /dev/stdout is not a regular file; give a file for the "
                           "results (it is replaced whole when a run ends)\n")
    run = batch(tmp_path, replay, "-o", str(tmp_path))
    assert run.returncode == 2 and "is not a regular file" in run.stderr, run.stderr


def test_what_a_user_wrote_in_the_output_is_kept(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = add_requests(3)
    (tmp_path / "in.jsonl").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    assert batch(tmp_path, replay, "-o", "out.jsonl").returncode == 0
    out = tmp_path / "out.jsonl"
    first, second = out.read_text(encoding="utf-8").splitlines()
    annotated = json.dumps({**json.loads(second), "note": "checked by hand"})
    out.write_text(f"{first}\n{annotated}", encoding="utf-8")  # saved without a final newline
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rerun = batch(tmp_path, replay, "-o", "out.jsonl")
    assert rerun.returncode == 0, rerun.stderr
    assert out.read_text(encoding="utf-8").splitlines()[:2] == [first, annotated]
    assert [r["id"] for r in records(out)] == ["r0", "r1", "r2"]


def test_a_damaged_output_line_stops_the_run_naming_it(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    (tmp_path / "in.jsonl").write_text("\n".join(add_requests(3)) + "\n", encoding="utf-8")
    assert batch(tmp_path, replay, "-o", "out.jsonl").returncode == 0
    out = tmp_path / "out.jsonl"
    rows = out.read_text(encoding="utf-8").splitlines()
    damaged = f"{rows[0]}\n{rows[1][:40]}\n{rows[2]}\n"
    out.write_text(damaged, encoding="utf-8")
    rerun = batch(tmp_path, replay, "-o", "out.jsonl")
    assert rerun.returncode == 2
    assert rerun.stderr.startswith("vetted: out.jsonl:2: not a JSON record"), rerun.stderr
    assert rerun.stderr.count("\n") == 1
    assert out.read_text(encoding="utf-8") == damaged


def test_a_bom_and_a_line_that_is_not_utf8_cost_only_that_line(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = [line.encode("utf-8") for line in add_requests(3)]
    lines[1] = lines[1].replace(b"add_1", b"add_\xff")
    (tmp_path / "in.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    run = batch(tmp_path, replay, "-o", "out.jsonl")
    assert run.returncode == 0, run.stderr
    out = records(tmp_path / "out.jsonl")
    assert [(r.get("id"), r.get("line"), "error" in r) for r in out] == [
        ("r0", None, False), (None, 2, True), ("r2", None, False)]
    assert out[1]["error"].startswith("not UTF-8")


def test_other_settings_are_refused_naming_the_difference(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    other = write_replay(tmp_path / "other.jsonl", [("return b + a", -0.1)])
    (tmp_path / "in.jsonl").write_text("\n".join(add_requests(2)) + "\n", encoding="utf-8")
    assert batch(tmp_path, replay, "-o", "out.jsonl").returncode == 0
    before = (tmp_path / "out.jsonl").read_bytes()
    run = batch(tmp_path, replay, "-o", "out.jsonl", "--n", "2")
    assert (run.returncode, run.stderr.count("\n")) == (2, 1), run.stderr
    assert "n 1 (this run: 2)" in run.stderr
    run = batch(tmp_path, other, "-o", "out.jsonl")
    assert run.returncode == 2 and f'model "replay:{replay}"' in run.stderr, run.stderr
    assert (tmp_path / "out.jsonl").read_bytes() == before


def _small_files() -> None:
    # Python ignores SIGXFSZ, so past this size a write fails with EFBIG, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))


def test_a_full_disk_is_one_line_and_a_rerun_goes_on(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    (tmp_path / "in.jsonl").write_text("\n".join(add_requests(40)) + "\n", encoding="utf-8")
    args = ["batch", "in.jsonl", "--model", f"replay:{replay}", "--quiet", "--no-validators"]
    whole = vetted(*args, "-o", "whole.jsonl", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert len((tmp_path / "whole.jsonl").read_bytes()) > 6000
    full = subprocess.run([sys.executable, "-m", "lsp_server", *args, "-o", "out.jsonl"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          check=False, preexec_fn=_small_files)
    assert full.returncode == 1, full.stderr
    assert full.stderr.startswith("vetted: cannot write the results (File too large)")
    assert full.stderr.count("\n") == 1, full.stderr
    resumed = vetted(*args, "-o", "out.jsonl", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert without_timings(records(tmp_path / "out.jsonl")) == without_timings(
        records(tmp_path / "whole.jsonl"))


def test_a_second_ctrl_c_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = [json.dumps({"id": f"s{i}", "prefix": "def add(a, b):\n    ", "suffix": "\n",
                         "tests": ["import time; time.sleep(2); assert add(1, 2) == 3"]})
             for i in range(6)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "lsp_server", "batch", "in.jsonl", "-o", "out.jsonl",
               "--model", f"replay:{replay}", "--quiet", "--workers", "2"]
    # A shell that starts the suite in the background ignores Ctrl-C for it, and children
    # inherit that: the batch below must start with Ctrl-C as a terminal gives it.
    inherited = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 120
    while not partial.exists() or not partial.read_text(encoding="utf-8").count("\n"):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    # Killed by the signal in the last steps of the exit: the shell shows 130 all the same.
    assert process.returncode in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
    resumed = vetted(*command[3:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert [r["id"] for r in records(tmp_path / "out.jsonl")] == [f"s{i}" for i in range(6)]


def test_a_second_run_on_the_same_output_is_refused_while_the_first_writes(
    tmp_path: Path,
) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("return a + b", -0.1)])
    lines = [json.dumps({"id": f"s{i}", "prefix": "def add(a, b):\n    ", "suffix": "\n",
                         "tests": ["import time; time.sleep(1); assert add(1, 2) == 3"]})
             for i in range(3)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "lsp_server", "batch", "in.jsonl", "-o", "out.jsonl",
               "--model", f"replay:{replay}", "--quiet", "--workers", "1"]
    first = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out.jsonl.partial").exists():
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = vetted(*command[3:], cwd=tmp_path)
    assert second.returncode == 2, second.stderr
    assert second.stderr == ("vetted: another run is writing out.jsonl (it holds out.jsonl.lock); "
                             "wait for it to end or write the results elsewhere\n")
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert [r["id"] for r in records(tmp_path / "out.jsonl")] == ["s0", "s1", "s2"]
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_eval_never_reports_another_runs_results(tmp_path: Path) -> None:
    times = write_replay(tmp_path / "times.jsonl", [("    return a * b\n", -0.1)])
    minus = write_replay(tmp_path / "minus.jsonl", [("    return a - b\n", -0.1)])
    scores = []
    for replay in (times, minus):
        run = vetted("eval", "humaneval", "--data", str(EVAL_DATA), "--model",
                     f"replay:{replay}", "--quiet", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        scores.append(json.loads(run.stdout))
    assert [s["pass@1"]["raw"] for s in scores] == [50.0, 0.0]  # mul passes, add fails
    assert scores[1]["settings"]["model"] == f"replay:{minus}"
    assert len(list((tmp_path / "eval-out").iterdir())) == 2
    refused = vetted("eval", "humaneval", "--data", str(EVAL_DATA), "--model",
                     f"replay:{times}", "--n", "2", "--out", "mine", "--quiet", cwd=tmp_path)
    assert refused.returncode == 0, refused.stderr
    refused = vetted("eval", "humaneval", "--data", str(EVAL_DATA), "--model",
                     f"replay:{times}", "--n", "1", "--out", "mine", "--quiet", cwd=tmp_path)
    assert refused.returncode == 2 and "n 2 (this run: 1)" in refused.stderr, refused.stderr


def test_eval_names_a_damaged_result_line(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "model.jsonl", [("    return a * b\n", -0.1)])
    args = ["eval", "humaneval", "--data", str(EVAL_DATA), "--model", f"replay:{replay}",
            "--out", "report", "--quiet"]
    assert vetted(*args, cwd=tmp_path).returncode == 0
    results = tmp_path / "report" / "results.jsonl"
    rows = results.read_text(encoding="utf-8").splitlines()
    results.write_text(f"{rows[0][:30]}\n{rows[1]}\n", encoding="utf-8")
    run = vetted(*args, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith(f"vetted: {Path('report') / 'results.jsonl'}:1: not a JSON")
    assert "Traceback" not in run.stderr
