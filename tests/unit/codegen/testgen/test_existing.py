"""Existing tests: the setup they take from their file, and what counts as a repeat of one."""

from __future__ import annotations

import pytest

from codegen.testgen.existing import existing_keys, file_setup
from prompts.context import TestCase as WrittenTest  # not collected: no Test* name
from prompts.testgen import repeat_key

TEST_FILE = '''"""Tests of pricing."""
from __future__ import annotations

import os
import sys

import pytest

from shop.pricing import discount

sys.path.insert(0, os.path.dirname(__file__))
LIMIT = 100
HALF = LIMIT // 2


def over(limit):
    return limit + 1


def test_quarter_off():
    assert discount(100.0, 25) == 75.0


class TestBounds:
    def test_rejects_over(self):
        with pytest.raises(ValueError):
            discount(1.0, over(LIMIT))


if __name__ == "__main__":
    pytest.main()
'''


def test_a_test_gets_the_imports_and_helpers_it_uses_in_file_order() -> None:
    test = ("def test_x():\n    with pytest.raises(ValueError):\n"
            "        discount(1.0, over(LIMIT))\n")
    future, setup = file_setup(TEST_FILE, test)
    assert future == "from __future__ import annotations\n"
    # `over` is kept for the test, `LIMIT` for `over`'s caller; `os`, `sys`, `HALF`, the
    # path tweak, the other tests and the main block are not.
    assert setup == ("import pytest\nfrom shop.pricing import discount\nLIMIT = 100\n"
                     "def over(limit):\n    return limit + 1\n")


def test_a_helper_brings_what_it_uses() -> None:
    text = "import math\n\ndef near(a, b):\n    return math.isclose(a, b)\n"
    assert file_setup(text, "def test_x():\n    assert near(1, 1)\n")[1] == (
        "import math\ndef near(a, b):\n    return math.isclose(a, b)\n")


def test_a_star_import_is_always_kept_and_a_broken_file_gives_nothing() -> None:
    assert file_setup("from shop.pricing import *\nimport os\n", "assert discount(1, 0) == 1")[1] \
        == "from shop.pricing import *\n"
    assert file_setup("def broken(:\n", "assert f()") == ("", "")


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        # another name and a docstring: the same test
        ("def test_a():\n    assert f(1) == 2\n",
         'def test_b() -> None:\n    """One is two."""\n    assert f(1)==2  # same\n', True),
        # a module-level assert and a test whose whole body is it
        ("assert f(1) == 2", "def test_a():\n    assert f(1) == 2\n", True),
        # a method (indented, with self) is another test than a function
        ("    def test_a(self):\n        assert f(1) == 2\n",
         "def test_a():\n    assert f(1) == 2\n", False),
        # a parametrized test is another test
        ("@pytest.mark.parametrize('x', [1])\ndef test_a(x):\n    assert f(x) == 2\n",
         "def test_a():\n    assert f(x) == 2\n", False),
        # another value
        ("def test_a():\n    assert f(1) == 2\n", "def test_a():\n    assert f(1) == 3\n", False),
    ],
)
def test_a_repeat_is_the_same_statements_under_any_name(one: str, other: str, same: bool) -> None:
    assert (repeat_key(one) == repeat_key(other)) is same


def test_the_file_s_tests_and_the_function_s_known_tests_are_existing() -> None:
    known = WrittenTest("assert discount(1.0, 0) == 1.0", "shop/pricing.py", 30)
    keys = existing_keys(TEST_FILE, [known])
    assert repeat_key("def test_again():\n    assert discount(100.0, 25) == 75.0\n") in keys
    assert repeat_key("def test_zero():\n    assert discount(1.0, 0) == 1.0\n") in keys
    assert repeat_key("def test_new():\n    assert discount(1.0, 10) == 0.9\n") not in keys
    assert len(keys) == 3  # the method of TestBounds too
