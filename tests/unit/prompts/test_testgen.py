from __future__ import annotations

from codegen.runtime.backends import HFTokenizer
from prompts.testgen import (
    TestTask,
    asserted_calls,
    normalized,
    parse_tests,
    render_test_prompt,
    task_text,
    uncovered_summary,
)

ANSWER = '''Here are the tests:
```python
import pytest
from math import isclose

from pkg.ranges import clamp


def test_low():
    assert clamp(-1, 0, 3) == 0


@pytest.mark.parametrize("v", [1, 2])
def test_marked(v):
    assert clamp(v, 0, 3) == v


def test_fixture(tmp_path):
    assert tmp_path


def helper():
    return 1


def test_close():
    assert isclose(clamp(1, 0, 3), 1.0)
```
These cover the low branch.'''


def test_answer_becomes_one_runnable_test_per_function() -> None:
    tests = parse_tests(ANSWER)
    # Decorated tests and tests with fixtures need pytest's runner; helpers are no tests.
    assert [t.name for t in tests] == ["test_low", "test_close"]
    assert tests[0].imports == ("import pytest", "from math import isclose",
                                "from pkg.ranges import clamp")
    module = tests[1].module("from pkg.ranges import clamp")
    head = "from pkg.ranges import clamp\nimport pytest\nfrom math import isclose"
    assert module.startswith(head)
    assert module.rstrip().endswith("assert isclose(clamp(1, 0, 3), 1.0)")


def test_a_truncated_answer_keeps_the_tests_before_the_cut() -> None:
    answer = "```python\ndef test_a():\n    assert f(1) == 2\n\n\ndef test_b():\n    assert f(2"
    assert [t.name for t in parse_tests(answer)] == ["test_a"]


def test_an_answer_without_fences_is_read_as_code() -> None:
    assert [t.name for t in parse_tests("def test_x():\n    assert 1\n")] == ["test_x"]


def test_prose_only_gives_nothing() -> None:
    assert parse_tests("I cannot write tests for this function.") == []


def test_repeats_differ_only_in_name_docstring_or_formatting() -> None:
    a, b, c = parse_tests(
        "def test_a():\n    assert f(1)==2\n\n"
        "def test_b():\n    '''Doc.'''\n    assert f( 1 ) == 2\n\n"
        "def test_c():\n    assert f(2) == 2\n"
    )
    assert normalized(a) == normalized(b) != normalized(c)


def test_asserted_calls() -> None:
    source = "def test_x():\n    assert clamp(5, 0, 3) == 3\n    assert clamp(1,0,3) < 2\n"
    assert asserted_calls(source) == [("clamp(5, 0, 3)", "3")]


def test_task_names_what_is_still_uncovered() -> None:
    task = TestTask(
        "pkg.ranges", "clamp", "from pkg.ranges import clamp",
        "def clamp(v, lo, hi):\n    if v < lo:\n        return lo\n    return v\n",
        first_line=10, uncovered_lines=(12,), uncovered_branches=((11, 12),),
    )
    text = task_text(task)
    assert "line 12: `return lo`" in text
    assert "the branch from line 11 (`if v < lo:`) to line 12" in text
    summary = uncovered_summary([4, 5, 6, 9], [(3, 5), (8, -1)])
    assert summary == "lines 4–6, 9; branches 3→5, 8→exit"


def test_prompt_is_qwen_chat_with_one_worked_example(qwen_tokenizer: HFTokenizer) -> None:
    task = TestTask("m", "f", "from m import f", "def f():\n    return 1\n")
    prompt = render_test_prompt(qwen_tokenizer, task)
    im_start, im_end = 151644, 151645
    assert prompt.ids.count(im_start) == 5 and prompt.ids.count(im_end) == 4
    assert list(prompt.ids[-3:]) == [im_start, *qwen_tokenizer.encode("assistant\n")]
    assert set(prompt.section_tokens) == {"system", "example", "task", "control"}
