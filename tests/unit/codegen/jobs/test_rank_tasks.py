"""`vetted rank` tasks: reading input lines and ranking recorded candidates."""

from __future__ import annotations

import pytest

from codegen.jobs.rank_tasks import RankOptions, generated_checks, parse_task, rank_task
from validators.sandbox import Sandbox

PROMPT = '''def double(x: int) -> int:
    """Twice x.

    >>> double(2)
    4
    """
'''


def test_only_the_documented_fields_are_read() -> None:
    task = parse_task(
        {"task_id": "t", "prompt": PROMPT, "entry_point": "double", "candidates": ["x"],
         "test": "def check(f): assert f(2) == 4", "canonical_solution": "return 2 * x"}
    )
    assert task.candidates == ("x",) and task.tests == ()
    assert not hasattr(task, "test")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"prompt": "", "entry_point": "f", "candidates": []}, "missing field 'task_id'"),
        ({"task_id": "t", "prompt": "", "entry_point": "f", "candidates": "x"},
         "candidates must be a list of strings"),
        ({"task_id": "t", "prompt": "", "entry_point": "f", "candidates": [],
          "candidates_are": "files"}, "candidates_are must be"),
        ({"task_id": 1, "prompt": "", "entry_point": "f", "candidates": []},
         "task_id must be a string"),
    ],
)
def test_malformed_records_say_what_is_wrong(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_task(record)


def test_generated_checks_keep_parsing_asserts_on_the_function() -> None:
    tests = ["assert double(2) == 4", "assert double(2) == 4", "assert other(1) == 1",
             "assert double(", "print(double(1))"]
    assert generated_checks(tests, "double") == ["assert double(2) == 4"]


@pytest.mark.usefixtures("needs_sandbox")
def test_rank_task_puts_the_example_passing_majority_first() -> None:
    task = parse_task(
        {
            "task_id": "t",
            "prompt": PROMPT,
            "entry_point": "double",
            "candidates": [
                "    return x + 2\n",  # passes the example by luck, alone in its behaviour
                "    return 2 * x\n",
                "    return x * 2\n",
                "    return x ** 2\n",  # passes the example too
                "    return x +\n",  # does not parse
            ],
        }
    )
    with Sandbox() as sandbox:
        ranked = rank_task(task, sandbox, RankOptions(probe_limit=20))
    assert ranked.top == [1, 2] and set(ranked.ranking[:2]) == {1, 2}
    assert ranked.ranking[-1] == 4
    assert ranked.verdicts[4]["syntax"]["ok"] is False
    assert ranked.verdicts[1]["tests"] == {"ok": True, "ran": True, "passed": 1, "total": 1}
