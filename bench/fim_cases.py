"""The cases of the fill-in-the-middle benchmark (`bench/fim.py`): which files, which holes.

HumanEval infilling (one line, several lines, a character span) and MBPP with one line of
each solution emptied and a test already written in the workspace; a seeded subset of any.
"""

from __future__ import annotations

import ast
import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from validators.syntax import ast_error

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
SUITES = {
    "single": Path("humaneval") / "HumanEval-SingleLineInfilling.jsonl.gz",
    "multi": Path("humaneval") / "HumanEval-MultiLineInfilling.jsonl.gz",
    "span": Path("humaneval") / "HumanEval-RandomSpanInfilling.jsonl.gz",
    "mbpp-tests": Path("mbpp") / "mbpp_sanitized_for_code_generation.jsonl",
}
"""HumanEval infilling files: the hole is one line, 1..n whole lines, or a character span;
and MBPP with one line of each solution emptied and its first assert written as a test in
the workspace (`mbpp_cases`)."""
MBPP_MODULE = "solution"
"""The document's module name in an MBPP case's workspace."""
SUBSET_SEED = 0

@dataclass(frozen=True)
class Case:
    """One infilling task: the hole is `canonical` between `prompt` and `suffix`."""

    index: int
    task_id: str
    prompt: str
    suffix: str
    canonical: str
    test: str
    entry_point: str
    workspace_tests: str = ""
    """A test file the case's workspace holds (``test_solution.py``), empty for none."""


def load_cases(data_dir: Path, suite: str = "single") -> list[Case]:
    """Read every record of a suite's infilling file."""
    path = data_dir / SUITES[suite]
    if not path.is_file():
        raise SystemExit(f"fim: data file not found: {path} (use --data DIR)")
    if suite == "mbpp-tests":
        return mbpp_cases(path)
    cases: list[Case] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            cases.append(
                Case(
                    index,
                    row["task_id"],
                    row["prompt"],
                    row["suffix"],
                    row["canonical_solution"],
                    row["test"],
                    row["entry_point"],
                )
            )
    return cases


def mbpp_cases(path: Path) -> list[Case]:
    """MBPP tasks as single-line holes with one test already written in the workspace.

    The document is the task's prompt and reference solution with one non-blank line of
    the solution emptied (``random.Random(index)`` picks it); the workspace's
    ``test_solution.py`` holds the task's first assert as a pytest test. Scoring runs every
    assert of the task (the first is the one a user wrote; the others are hidden). Tasks
    whose prompt and solution do not parse together are left out (243 of 427: CodeT's
    prompts indent the docstring by 4 spaces, many solutions by 2 or a tab).
    """
    cases: list[Case] = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            check = ast.parse(row["test"]).body[0]
            body = check.body if isinstance(check, ast.FunctionDef) else []
            asserts = [node for node in body if isinstance(node, ast.Assert)]
            lines = row["canonical_solution"].splitlines(keepends=True)
            holes = [i for i, text in enumerate(lines) if text.strip()]
            if not asserts or not holes or not parses(row["prompt"] + row["canonical_solution"]):
                continue
            hole = random.Random(index).choice(holes)
            name = row["entry_point"]
            written = (f"from {MBPP_MODULE} import {name}\n\n\ndef test_{name}():\n"
                       f"    {ast.unparse(asserts[0])}\n")
            cases.append(Case(
                index, row["task_id"] + f"/L{hole}", row["prompt"] + "".join(lines[:hole]),
                "".join(lines[hole + 1 :]), lines[hole], row["test"], name, written,
            ))
    return cases


def pick_subset(cases: Sequence[Case], count: int) -> list[Case]:
    """Deterministic subset: `random.Random(0).sample` of the indices, in file order."""
    count = min(count, len(cases))
    chosen = sorted(random.Random(SUBSET_SEED).sample(range(len(cases)), count))
    return [cases[i] for i in chosen]


def parses(program: str) -> bool:
    """Tell whether `ast.parse` accepts the program."""
    return ast_error(program) is None
